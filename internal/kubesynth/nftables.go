package kubesynth

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Per-service chains of nftables mode. Each is a prefix and a base: the
// base is hash(readable, 8) + "-" + readable, cut to 240 characters with
// "..." (kube-proxy keeps 16 of nft's 256 for prefixes). A service port's
// readable part is "namespace/name/protocol/portname" (an unnamed port
// leaves the trailing slash); an endpoint's appends "__ip/port".
const (
	ServiceChainPrefix  = "service-"
	EndpointChainPrefix = "endpoint-"
	nftBaseMax          = 256 - 16
)

func nftBase(readable string) string {
	s := hash(readable, 8) + "-" + readable
	if len(s) > nftBaseMax {
		s = s[:nftBaseMax-3] + "..."
	}
	return s
}

func (s *Service) nftReadable() string {
	return s.Namespace + "/" + s.Name + "/" + s.Protocol + "/" + s.PortName
}

// ServiceChain is the service port's chain in nftables mode.
func (s *Service) ServiceChain() string {
	return ServiceChainPrefix + nftBase(s.nftReadable())
}

// EndpointChain is the nftables-mode chain of the service's endpoint i.
func (s *Service) EndpointChain(i int) string {
	ep := s.Endpoints[i]
	return EndpointChainPrefix + nftBase(s.nftReadable()+"__"+ep.Addr().String()+"/"+strconv.Itoa(int(ep.Port())))
}

// NFTables is kube-proxy's nftables mode on the node, its tables ip
// kube-proxy and ip6 kube-proxy (the services are IPv4: the ip6 table
// holds only the fixed chains), written as nft list ruleset prints them;
// nft -f loads it as is.
func (c *Cluster) NFTables() []byte {
	var b bytes.Buffer
	b.Grow(64*1024 + len(c.Services)*1024)
	b.WriteString("table ip kube-proxy {\n\tcomment \"rules for kube-proxy\"\n")
	set := func(kind, name, typ, comment string, elems []string, perLine int) {
		fmt.Fprintf(&b, "\t%s %s {\n\t\ttype %s\n\t\tcomment %q\n", kind, name, typ, comment)
		if len(elems) > 0 {
			b.WriteString("\t\telements = { ")
			for i, e := range elems {
				if i > 0 {
					b.WriteByte(',')
					if i%perLine == 0 {
						b.WriteString("\n\t\t\t     ")
					} else {
						b.WriteByte(' ')
					}
				}
				b.WriteString(e)
			}
			b.WriteString(" }\n")
		}
		b.WriteString("\t}\n\n")
	}
	ips := make([]string, len(c.Services))
	dispatch := make([]string, len(c.Services))
	for i := range c.Services {
		s := &c.Services[i]
		ips[i] = s.ClusterIP.String()
		dispatch[i] = fmt.Sprintf("%s . %s . %d : goto %s", s.ClusterIP, s.Protocol, s.Port, s.ServiceChain())
	}
	set("set", "cluster-ips", "ipv4_addr", "Active ClusterIPs", ips, 2)
	set("set", "nodeport-ips", "ipv4_addr", "IPs that accept NodePort traffic", []string{c.NodeIP.String()}, 1)
	set("map", "no-endpoint-services", "ipv4_addr . inet_proto . inet_service : verdict", "vmap to drop or reject packets to services with no endpoints", nil, 1)
	set("map", "no-endpoint-nodeports", "inet_proto . inet_service : verdict", "vmap to drop or reject packets to service nodeports with no endpoints", nil, 1)
	set("map", "firewall-ips", "ipv4_addr . inet_proto . inet_service : verdict", "destinations that are subject to LoadBalancerSourceRanges", nil, 1)
	set("map", "service-ips", "ipv4_addr . inet_proto . inet_service : verdict", "ClusterIP, ExternalIP and LoadBalancer IP traffic", dispatch, 1)
	set("map", "service-nodeports", "inet_proto . inet_service : verdict", "NodePort traffic", nil, 1)
	b.WriteString(strings.NewReplacer("@NODEPORT_DADDR@", "ip daddr @nodeport-ips",
		"@NODEPORT_SERVICES@", "ip daddr @nodeport-ips",
		"@FAMILY@", "ip",
		"@CLUSTER_IPS_CHECK@", "\t\tip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"\n\t\tip daddr "+c.ServiceCIDR.String()+" drop comment \"Drop traffic to unallocated ClusterIPs\"\n",
	).Replace(nftFixedChains))
	masq := " ip saddr != " + c.ClusterCIDR.String() + " jump mark-for-masquerade\n"
	for i := range c.Services {
		s := &c.Services[i]
		for e, ep := range s.Endpoints {
			fmt.Fprintf(&b, "\n\tchain %s {\n\t\tip saddr %s jump mark-for-masquerade\n\t\tmeta l4proto %s dnat to %s\n\t}\n",
				s.EndpointChain(e), ep.Addr(), s.Protocol, ep)
		}
		fmt.Fprintf(&b, "\n\tchain %s {\n\t\tip daddr %s%s\t\tnumgen random mod %d vmap { ", s.ServiceChain(), s.ClusterIP, masq, len(s.Endpoints))
		for e := range s.Endpoints {
			if e > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%d : goto %s", e, s.EndpointChain(e))
		}
		b.WriteString(" }\n\t}\n")
	}
	b.WriteString("}\n")
	b.WriteString(nftIP6Table())
	return b.Bytes()
}

// nftFixedChains are kube-proxy's chains that do not depend on the
// services, for either family (the @...@ words differ).
const nftFixedChains = `	chain filter-prerouting-pre-dnat {
		type filter hook prerouting priority dstnat - 10; policy accept;
		ct state new jump firewall-check
	}

	chain filter-output-pre-dnat {
		type filter hook output priority -110; policy accept;
		ct state new jump firewall-check
	}

	chain filter-input {
		type filter hook input priority filter; policy accept;
		ct state new jump nodeport-endpoints-check
		ct state new jump service-endpoints-check
	}

	chain filter-forward {
		type filter hook forward priority filter; policy accept;
		ct state new jump service-endpoints-check
		ct state new jump cluster-ips-check
	}

	chain filter-output {
		type filter hook output priority filter; policy accept;
		ct state new jump service-endpoints-check
		ct state new jump cluster-ips-check
	}

	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
	}

	chain nat-output {
		type nat hook output priority -100; policy accept;
		jump services
	}

	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		jump masquerading
	}

	chain nodeport-endpoints-check {
		@NODEPORT_DADDR@ meta l4proto . th dport vmap @no-endpoint-nodeports
	}

	chain service-endpoints-check {
		@FAMILY@ daddr . meta l4proto . th dport vmap @no-endpoint-services
	}

	chain firewall-check {
		@FAMILY@ daddr . meta l4proto . th dport vmap @firewall-ips
	}

	chain services {
		@FAMILY@ daddr . meta l4proto . th dport vmap @service-ips
		@NODEPORT_SERVICES@ meta l4proto . th dport vmap @service-nodeports
	}

	chain masquerading {
		meta mark & 0x00004000 == 0x00000000 return
		meta mark set meta mark ^ 0x00004000
		masquerade fully-random
	}

	chain cluster-ips-check {
@CLUSTER_IPS_CHECK@	}

	chain mark-for-masquerade {
		meta mark set meta mark | 0x00004000
	}

	chain reject-chain {
		comment "helper for @no-endpoint-services / @no-endpoint-nodeports"
		reject
	}
`

// nftIP6Table is the ip6 table of a node whose services are all IPv4.
// There are no node IPs of the family: NodePorts are the local
// addresses but ::1.
func nftIP6Table() string {
	return `table ip6 kube-proxy {
	comment "rules for kube-proxy"
	set cluster-ips {
		type ipv6_addr
		comment "Active ClusterIPs"
	}

	map no-endpoint-services {
		type ipv6_addr . inet_proto . inet_service : verdict
		comment "vmap to drop or reject packets to services with no endpoints"
	}

	map no-endpoint-nodeports {
		type inet_proto . inet_service : verdict
		comment "vmap to drop or reject packets to service nodeports with no endpoints"
	}

	map firewall-ips {
		type ipv6_addr . inet_proto . inet_service : verdict
		comment "destinations that are subject to LoadBalancerSourceRanges"
	}

	map service-ips {
		type ipv6_addr . inet_proto . inet_service : verdict
		comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"
	}

	map service-nodeports {
		type inet_proto . inet_service : verdict
		comment "NodePort traffic"
	}

` + strings.NewReplacer("@NODEPORT_DADDR@", "ip6 daddr != ::1",
		"@NODEPORT_SERVICES@", "fib daddr type local ip6 daddr != ::1",
		"@FAMILY@", "ip6",
		"@CLUSTER_IPS_CHECK@", "\t\tip6 daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"\n",
	).Replace(nftFixedChains) + "}\n"
}
