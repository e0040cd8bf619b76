package trace

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/netx-project/netx/netfilter"
)

// servicesFromRules reads the services kube-proxy programs on a node from
// the rules themselves, in either mode: iptables' KUBE-SERVICES and
// KUBE-NODEPORTS comments ("ns/name:port cluster IP"), nftables'
// service-ips and service-nodeports maps, whose chain names carry
// "ns/name/proto/port". A node needs no API server to be traced.
//
// A chain a lazy read left unread (KUBE-NODEPORTS, which only
// KUBE-SERVICES jumps to) is read here: a service's node port is in no
// other place.
func servicesFromRules(n *Node) []*Service {
	var out []*Service
	for _, rs := range n.Snap.Node.Netfilter {
		for _, t := range rs.Tables {
			chain := func(name string) *netfilter.Chain {
				c, why := n.chain(n.Snap.Node, rs, t, name)
				if why != "" {
					n.Snap.Node.Warnings = append(n.Snap.Node.Warnings, "services: "+why)
					return nil
				}
				return c
			}
			switch {
			case t.Name == "nat" && t.Family == netfilter.FamilyIP:
				out = append(out, iptablesServices(chain)...)
			case t.Name == "filter" && t.Family == netfilter.FamilyIP:
				out = append(out, iptablesRejected(chain)...)
			case t.Name == "kube-proxy" && t.Family == netfilter.FamilyIP:
				out = append(out, nftServices(t)...)
			}
		}
	}
	return mergeServices(nil, out)
}

// splitServiceComment splits "ns/name:port" (the port part optional).
func splitServiceComment(c string) (ns, name, port string, ok bool) {
	ns, rest, ok := strings.Cut(c, "/")
	if !ok || ns == "" || strings.ContainsAny(ns, " ") {
		return "", "", "", false
	}
	name, port, _ = strings.Cut(rest, ":")
	if name == "" || strings.ContainsAny(name, " ") {
		return "", "", "", false
	}
	return ns, name, port, true
}

// ruleFacts pulls the destination, protocol and port out of a rule.
func ruleFacts(r *netfilter.Rule) (dst netip.Addr, proto string, port uint16) {
	for _, m := range r.Matches {
		switch m.Kind {
		case netfilter.MatchDestination:
			if !m.Negate && m.Prefix.IsSingleIP() {
				dst = m.Prefix.Addr()
			}
		case netfilter.MatchProtocol:
			if !m.Negate {
				proto = m.Value
			}
		case netfilter.MatchDstPort:
			if !m.Negate && len(m.Ports) == 1 && m.Ports[0].First == m.Ports[0].Last {
				port = m.Ports[0].First
			}
		}
	}
	return dst, proto, port
}

func iptablesServices(chain func(string) *netfilter.Chain) []*Service {
	var out []*Service
	if c := chain("KUBE-SERVICES"); c != nil {
		for _, r := range c.Rules {
			text, ok := strings.CutSuffix(r.Comment, " cluster IP")
			if !ok || r.Target.Kind != netfilter.TargetJump {
				continue
			}
			ns, name, port, ok := splitServiceComment(text)
			dst, proto, p := ruleFacts(r)
			if !ok || !dst.IsValid() {
				continue
			}
			out = append(out, &Service{Namespace: ns, Name: name, PortName: port, Protocol: proto, ClusterIP: dst, Port: p})
		}
	}
	if c := chain("KUBE-NODEPORTS"); c != nil {
		for _, r := range c.Rules {
			ns, name, port, ok := splitServiceComment(r.Comment)
			_, proto, p := ruleFacts(r)
			if !ok || p == 0 || !strings.HasPrefix(r.Target.Chain, "KUBE-EXT-") {
				continue
			}
			out = append(out, &Service{Namespace: ns, Name: name, PortName: port, Protocol: proto, NodePort: p})
		}
	}
	return out
}

// iptablesRejected finds kube-proxy's "has no endpoints" REJECT rules.
func iptablesRejected(chain func(string) *netfilter.Chain) []*Service {
	var out []*Service
	for _, cn := range []string{"KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES"} {
		c := chain(cn)
		if c == nil {
			continue
		}
		for _, r := range c.Rules {
			text, ok := strings.CutSuffix(r.Comment, " has no endpoints")
			if !ok {
				continue
			}
			ns, name, port, ok := splitServiceComment(text)
			if !ok {
				continue
			}
			dst, proto, p := ruleFacts(r)
			s := &Service{Namespace: ns, Name: name, PortName: port, Protocol: proto, NoEndpoints: true}
			if cn == "KUBE-SERVICES" && dst.IsValid() {
				s.ClusterIP, s.Port = dst, p
			} else if cn == "KUBE-EXTERNAL-SERVICES" && !dst.IsValid() {
				s.NodePort = p
			} else {
				continue
			}
			out = append(out, s)
		}
	}
	return out
}

// nftServices reads kube-proxy's nftables maps: service-ips elements are
// "IP . proto . port : goto service-HASH-ns/name/proto/portname",
// service-nodeports "proto . port : goto external-HASH-ns/name/proto/port".
// A cluster IP under internalTrafficPolicy Local goes to "local-…"
// instead. A service this node sends nowhere (no endpoints, or none local
// under a Local policy) is only in no-endpoint-services, whose elements
// are named by their comment, "ns/name:port".
func nftServices(t *netfilter.Table) []*Service {
	var out []*Service
	clusterIPs := t.Set("cluster-ips")
	for _, set := range t.Sets {
		for _, e := range set.Elements {
			if e.Verdict == nil {
				continue
			}
			switch set.Name {
			case "no-endpoint-services":
				// Only a cluster IP's element names the service's
				// address; an external IP's is not the cluster IP.
				if len(e.Key) != 3 || e.Comment == "" || !setHas(clusterIPs, e.Key[0]) {
					continue
				}
				ip, err := netip.ParseAddr(e.Key[0])
				port, perr := strconv.ParseUint(e.Key[2], 10, 16)
				s := commentService(e.Comment, e.Key[1])
				if s == nil || err != nil || perr != nil {
					continue
				}
				s.ClusterIP, s.Port = ip, uint16(port)
				out = append(out, s)
			case "service-ips":
				if len(e.Key) != 3 {
					continue
				}
				s := nftChainService(e.Verdict.Chain, "service-")
				if s == nil {
					s = nftChainService(e.Verdict.Chain, "local-")
				}
				ip, err := netip.ParseAddr(e.Key[0])
				port, perr := strconv.ParseUint(e.Key[2], 10, 16)
				if s == nil || err != nil || perr != nil {
					continue
				}
				s.ClusterIP, s.Port = ip, uint16(port)
				out = append(out, s)
			case "service-nodeports":
				if len(e.Key) != 2 {
					continue
				}
				s := nftChainService(e.Verdict.Chain, "external-")
				port, err := strconv.ParseUint(e.Key[1], 10, 16)
				if s == nil || err != nil {
					continue
				}
				s.NodePort = uint16(port)
				out = append(out, s)
			}
		}
	}
	return out
}

// commentService parses kube-proxy's service port name, "ns/name:port"
// or "ns/name" (an unnamed port).
func commentService(c, proto string) *Service {
	ns, rest, ok := strings.Cut(c, "/")
	if !ok || ns == "" || rest == "" {
		return nil
	}
	name, port, _ := strings.Cut(rest, ":")
	return &Service{Namespace: ns, Name: name, Protocol: proto, PortName: port}
}

// nftChainService parses "service-HASH-ns/name/proto/portname".
func nftChainService(chain, prefix string) *Service {
	rest, ok := strings.CutPrefix(chain, prefix)
	if !ok {
		return nil
	}
	_, rest, ok = strings.Cut(rest, "-") // the hash
	if !ok {
		return nil
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 {
		return nil
	}
	return &Service{Namespace: parts[0], Name: parts[1], Protocol: parts[2], PortName: parts[3]}
}
