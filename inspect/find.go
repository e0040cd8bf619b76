package inspect

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// All is the node followed by every other namespace.
func (s *Snapshot) All() []*Netns {
	return append([]*Netns{s.Node}, s.Namespaces...)
}

// FindPod finds a pod by "name" or "namespace/name".
func (s *Snapshot) FindPod(ref string) (*Netns, error) {
	ns, name := "", ref
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		ns, name = ref[:i], ref[i+1:]
	}
	var match []*Netns
	var known []string
	for _, n := range s.Namespaces {
		if n.Pod == nil || n.Pod.Name == "" {
			continue
		}
		known = append(known, n.Pod.Namespace+"/"+n.Pod.Name)
		if n.Pod.Name == name && (ns == "" || n.Pod.Namespace == ns) {
			match = append(match, n)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		if len(known) == 0 {
			return nil, fmt.Errorf("pod %q not found: no named pods on this node (pods are named by the container runtime or a netx lab; see `netx inspect` for every namespace)", ref)
		}
		return nil, fmt.Errorf("pod %q not found on this node; pods here: %s", ref, strings.Join(known, ", "))
	}
	return nil, fmt.Errorf("pod name %q is in several namespaces; write NAMESPACE/%s", name, name)
}

// FindNetns resolves a namespace reference: /proc/PID/ns/net,
// /run/netns/NAME, pid:N, name:N or inode:N.
func (s *Snapshot) FindNetns(ref string) (*Netns, error) {
	kind, val, ok := strings.Cut(ref, ":")
	if !ok || strings.HasPrefix(ref, "/") {
		kind, val = "path", ref
	}
	for _, n := range s.All() {
		switch kind {
		case "path":
			if n.Path == val || (strings.HasPrefix(val, "/run/netns/") && slices.Contains(n.Names, strings.TrimPrefix(val, "/run/netns/"))) {
				return n, nil
			}
			if pid, ok := procPathPID(val); ok && hasPID(n, pid) {
				return n, nil
			}
		case "pid":
			if pid, err := strconv.Atoi(val); err == nil && hasPID(n, pid) {
				return n, nil
			}
		case "name":
			if slices.Contains(n.Names, val) {
				return n, nil
			}
		case "inode":
			if ino, err := strconv.ParseUint(val, 10, 64); err == nil && n.Inode == ino {
				return n, nil
			}
		default:
			return nil, fmt.Errorf("namespace reference %q: use /proc/PID/ns/net, /run/netns/NAME, pid:N, name:N or inode:N", ref)
		}
	}
	return nil, fmt.Errorf("no network namespace matches %q on this node (see `netx inspect` for the list)", ref)
}

func procPathPID(p string) (int, bool) {
	rest, ok := strings.CutPrefix(p, "/proc/")
	if !ok {
		return 0, false
	}
	pidStr, tail, _ := strings.Cut(rest, "/")
	if tail != "ns/net" {
		return 0, false
	}
	pid, err := strconv.Atoi(pidStr)
	return pid, err == nil
}

func hasPID(n *Netns, pid int) bool {
	for _, p := range n.Processes {
		if p.PID == pid {
			return true
		}
	}
	return false
}

// PodName is "namespace/name", or the UID, or "".
func (n *Netns) PodName() string {
	switch {
	case n.Pod == nil:
		return ""
	case n.Pod.Name != "":
		return n.Pod.Namespace + "/" + n.Pod.Name
	}
	return "pod " + n.Pod.UID
}

// Addr4 is the namespace's IPv4 address, a pod's address: the first of
// its interfaces other than lo, without the length; "" when it has none.
func (n *Netns) Addr4() string {
	for _, l := range n.Links {
		if l.Name != "lo" {
			if ip := l.Addr4(); ip != "" {
				return ip
			}
		}
	}
	return ""
}

// Addr4 is the first IPv4 address of an interface, without the length.
func (l Link) Addr4() string {
	for _, a := range l.Addrs {
		if ip, _, ok := strings.Cut(a, "/"); ok && !strings.Contains(ip, ":") {
			return ip
		}
	}
	return ""
}
