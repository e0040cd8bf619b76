package diagnose

import "github.com/netx-project/netx/inspect"

// Sysctl is a node setting with a value that breaks pod networking.
type Sysctl struct {
	Key   string `json:"key"` // net.ipv4.ip_forward
	Value string `json:"value"`
	// Why says what goes wrong.
	Why string `json:"why"`
}

// Sysctls are the node's settings known to break pod networking. Settings
// the snapshot does not hold are not findings: a node read without them
// says nothing either way.
func Sysctls(node *inspect.Netns) []Sysctl {
	var out []Sysctl
	for _, p := range []struct{ key, bad, why string }{
		{"net.ipv4.ip_forward", "0", "the node will not route pod traffic"},
		{"net.bridge.bridge-nf-call-iptables", "0", "service NAT will not see traffic between pods on one bridge"},
	} {
		if v, ok := node.Sysctls[p.key]; ok && v == p.bad {
			out = append(out, Sysctl{Key: p.key, Value: v, Why: p.why})
		}
	}
	return out
}
