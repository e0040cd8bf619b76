package diagnose

import (
	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/netfilter"
)

// cniHostportDNAT is the CNI portmap plugin's nat chain for hostPorts: a
// jump per pod to a CNI-DN-<hash of the network name and container ID>
// chain, whose DNAT rules name the host port and the pod's address.
const cniHostportDNAT = "CNI-HOSTPORT-DNAT"

// HostPort is one hostPort DNAT of the portmap plugin.
type HostPort struct {
	// Proto is the rule's protocol, "" for every protocol.
	Proto string `json:"proto,omitempty"`
	// Ports are the host ports it matches, none for every port.
	Ports []netfilter.PortRange `json:"ports,omitempty"`
	// To is where it sends them, the pod's IP:PORT.
	To string `json:"to"`
	// Pod is the pod holding that address, "" when none on the node does.
	Pod string `json:"pod,omitempty"`
	// Source is the ruleset the rule is in (iptables-nft,
	// iptables-legacy...) and Chain its CNI-DN- chain.
	Source string `json:"source"`
	Chain  string `json:"chain"`
}

// HostPorts lists the portmap plugin's hostPort DNATs with their pod, in
// rule order.
func HostPorts(s *inspect.Snapshot) []HostPort {
	podByIP := map[string]string{}
	for _, n := range s.Namespaces {
		if n.Pod != nil {
			if ip := n.Addr4(); ip != "" {
				podByIP[ip] = n.PodName()
			}
		}
	}
	var out []HostPort
	for _, rs := range s.Node.Netfilter {
		nat := rs.Table(netfilter.FamilyIP, "nat")
		if nat == nil || nat.Chain(cniHostportDNAT) == nil {
			continue
		}
		for _, r := range nat.Chain(cniHostportDNAT).Rules {
			dn := nat.Chain(r.Target.Chain)
			if r.Target.Kind != netfilter.TargetJump || dn == nil {
				continue
			}
			for _, d := range dn.Rules {
				if d.Target.Kind != netfilter.TargetDNAT {
					continue
				}
				hp := HostPort{To: d.Target.ToDestination, Pod: podByIP[d.Target.To.Addr.String()], Source: rs.Source, Chain: dn.Name}
				for _, m := range d.Matches {
					switch m.Kind {
					case netfilter.MatchProtocol:
						hp.Proto = m.Value
					case netfilter.MatchDstPort:
						hp.Ports = m.Ports
					}
				}
				out = append(out, hp)
			}
		}
	}
	return out
}
