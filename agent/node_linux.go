package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Node is what the agent found out about the node it runs on.
type Node struct {
	// KubeletPID is the kubelet in the agent's network namespace (the
	// node's: hostNetwork), seen through hostPID.
	KubeletPID int
	// Root is the node's root directory: /proc/KubeletPID/root.
	Root string
	// CRIEndpoint is the container runtime socket the kubelet uses, as a
	// path the agent can open (under Root).
	CRIEndpoint string
	// Kubelets counts the kubelets in this PID namespace: more than one
	// is several nodes on one machine (kind, netx's e2e cluster), whose
	// namespaces the agent must tell apart.
	Kubelets int
}

// Locate finds the node the agent runs on, from /proc: the kubelet whose
// network namespace is the agent's own. It needs hostNetwork (the node's
// namespace is the agent's), hostPID (the kubelet is visible) and
// CAP_SYS_PTRACE (its namespaces and root can be read).
func Locate() (*Node, error) {
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	n := &Node{}
	unreadable := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != "kubelet" {
			continue
		}
		n.Kubelets++
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			unreadable++
			continue
		}
		if ns == self && n.KubeletPID == 0 {
			n.KubeletPID = pid
		}
	}
	switch {
	case n.KubeletPID == 0 && unreadable > 0:
		return nil, fmt.Errorf("agent: the kubelet's namespaces cannot be read: the agent needs CAP_SYS_PTRACE")
	case n.KubeletPID == 0 && n.Kubelets > 0:
		return nil, fmt.Errorf("agent: no kubelet in this network namespace: the agent pod needs hostNetwork")
	case n.KubeletPID == 0:
		return nil, fmt.Errorf("agent: no kubelet process visible: the agent pod needs hostPID")
	}
	n.Root = fmt.Sprintf("/proc/%d/root", n.KubeletPID)
	ep, err := n.runtimeEndpoint()
	if err != nil {
		return nil, err
	}
	n.CRIEndpoint = ep
	return n, nil
}

// runtimeEndpoint is the CRI socket the kubelet talks to: its
// --container-runtime-endpoint flag, else containerRuntimeEndpoint in its
// --config file, else the runtimes' defaults that exist on the node.
func (n *Node) runtimeEndpoint() (string, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", n.KubeletPID))
	if err != nil {
		return "", fmt.Errorf("agent: the kubelet's command line: %w", err)
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	ep, config := flagValue(args, "container-runtime-endpoint"), flagValue(args, "config")
	if ep == "" && config != "" {
		if !filepath.IsAbs(config) {
			config = filepath.Join(fmt.Sprintf("/proc/%d/cwd", n.KubeletPID), config)
		} else {
			config = filepath.Join(n.Root, config)
		}
		if b, err := os.ReadFile(config); err == nil {
			var kc struct {
				ContainerRuntimeEndpoint string `json:"containerRuntimeEndpoint"`
			}
			if yaml.Unmarshal(b, &kc) == nil {
				ep = kc.ContainerRuntimeEndpoint
			}
		}
	}
	candidates := []string{strings.TrimPrefix(ep, "unix://")}
	if ep == "" {
		candidates = []string{"/run/containerd/containerd.sock", "/run/crio/crio.sock", "/var/run/crio/crio.sock"}
	}
	for _, c := range candidates {
		p := filepath.Join(n.Root, c)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("agent: the kubelet's container runtime socket (%s) is not on the node", strings.Join(candidates, ", "))
}

// flagValue is --name=VALUE or --name VALUE in a command line.
func flagValue(args []string, name string) string {
	for i, a := range args {
		for _, p := range []string{"--" + name, "-" + name} {
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v
			}
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
		}
	}
	return ""
}
