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

// FindPod finds a pod by "name" or "namespace/name": its network
// namespace, and for a hostNetwork pod, which shares the node's, the pod.
func (s *Snapshot) FindPod(ref string) (*Netns, *HostNetworkPod, error) {
	ns, name := "", ref
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		ns, name = ref[:i], ref[i+1:]
	}
	type match struct {
		n    *Netns
		host *HostNetworkPod
	}
	var found []match
	var known []string
	for _, n := range s.Namespaces {
		if n.Pod == nil || n.Pod.Name == "" {
			continue
		}
		known = append(known, n.Pod.Namespace+"/"+n.Pod.Name)
		if n.Pod.Name == name && (ns == "" || n.Pod.Namespace == ns) {
			found = append(found, match{n: n})
		}
	}
	for i := range s.HostNetworkPods {
		p := &s.HostNetworkPods[i]
		known = append(known, p.Key()+" (hostNetwork)")
		if p.Name == name && (ns == "" || p.Namespace == ns) {
			found = append(found, match{s.Node, p})
		}
	}
	switch len(found) {
	case 1:
		return found[0].n, found[0].host, nil
	case 0:
		if len(known) == 0 {
			return nil, nil, fmt.Errorf("pod %q not found: no named pods on this node (pods are named by the container runtime or a netx lab; see `netx inspect` for every namespace)", ref)
		}
		return nil, nil, fmt.Errorf("pod %q not found on this node; pods here: %s", ref, strings.Join(known, ", "))
	}
	return nil, nil, fmt.Errorf("pod name %q is in several namespaces; write NAMESPACE/%s", name, name)
}

// Key is "namespace/name".
func (p *HostNetworkPod) Key() string { return p.Namespace + "/" + p.Name }

// HostNetworkPodOf finds the hostNetwork pod a process of the node's
// namespace belongs to, and its container (nil for the pause).
func (s *Snapshot) HostNetworkPodOf(pid int) (*HostNetworkPod, *Container) {
	if pid == 0 {
		return nil, nil
	}
	for i := range s.HostNetworkPods {
		p := &s.HostNetworkPods[i]
		for j := range p.Containers {
			if slices.Contains(p.Containers[j].PIDs, pid) {
				return p, &p.Containers[j]
			}
		}
		if p.PausePID == pid {
			return p, nil
		}
	}
	return nil, nil
}

// HostNetworkPodListeners are the node's listening sockets the pod's own
// processes own.
func (s *Snapshot) HostNetworkPodListeners(p *HostNetworkPod) []Listener {
	var out []Listener
	for _, l := range s.Node.Listeners {
		if owner, _ := s.HostNetworkPodOf(l.PID); owner != nil && owner.Key() == p.Key() {
			out = append(out, l)
		}
	}
	return out
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

// HostAddr4 is a node's own IPv4 address, which its hostNetwork pods
// have too: the address of the device its default route leaves by, else
// Addr4.
func (n *Netns) HostAddr4() string {
	for _, r := range n.Routes {
		if r.Dst != "default" || r.Dev == "" || (r.Table != 254 && r.Table != 0) {
			continue
		}
		if r.Src != "" && !strings.Contains(r.Src, ":") {
			return r.Src
		}
		for _, l := range n.Links {
			if l.Name == r.Dev {
				if ip := l.Addr4(); ip != "" {
					return ip
				}
			}
		}
	}
	return n.Addr4()
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
