package kubeproxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/netx-project/netx/netfilter"
)

// nftBaseChain is one of kube-proxy's base chains; knftables writes
// priorities as numbers (dstnat -100, filter 0, srcnat 100). The pre-DNAT
// filter chains see the service IP before DNAT rewrites it.
type nftBaseChain struct {
	name string
	typ  netfilter.ChainType
	hook netfilter.Hook
	prio int
}

var nftBaseChains = []nftBaseChain{
	{nftFilterPreroutingPreDNAT, netfilter.ChainFilter, netfilter.HookPrerouting, netfilter.PriorityDstNAT - 10},
	{nftFilterOutputPreDNAT, netfilter.ChainFilter, netfilter.HookOutput, netfilter.PriorityDstNAT - 10},
	{nftFilterInput, netfilter.ChainFilter, netfilter.HookInput, netfilter.PriorityFilter},
	{nftFilterForward, netfilter.ChainFilter, netfilter.HookForward, netfilter.PriorityFilter},
	{nftFilterOutput, netfilter.ChainFilter, netfilter.HookOutput, netfilter.PriorityFilter},
	{nftNATPrerouting, netfilter.ChainNAT, netfilter.HookPrerouting, netfilter.PriorityDstNAT},
	{nftNATOutput, netfilter.ChainNAT, netfilter.HookOutput, netfilter.PriorityDstNAT},
	{nftNATPostrouting, netfilter.ChainNAT, netfilter.HookPostrouting, netfilter.PrioritySrcNAT},
}

// nftJumps is nftablesJumpChains. Reject is only valid in input, forward
// and output hooks on older kernels, hence the endpoint checks there.
var nftJumps = []struct{ dst, src, extra string }{
	{NFTNodePortEndpointsCheck, nftFilterInput, "ct state new"},
	{NFTServiceEndpointsCheck, nftFilterInput, "ct state new"},
	{NFTServiceEndpointsCheck, nftFilterForward, "ct state new"},
	{NFTServiceEndpointsCheck, nftFilterOutput, "ct state new"},
	{NFTFirewallCheck, nftFilterPreroutingPreDNAT, "ct state new"},
	{NFTFirewallCheck, nftFilterOutputPreDNAT, "ct state new"},
	{NFTServices, nftNATOutput, ""},
	{NFTServices, nftNATPrerouting, ""},
	{NFTMasquerading, nftNATPostrouting, ""},
	{NFTClusterIPsCheck, nftFilterForward, "ct state new"},
	{NFTClusterIPsCheck, nftFilterOutput, "ct state new"},
}

// NFTables writes kube-proxy v1.34's nftables mode (pkg/proxy/nftables,
// setupNFTables then syncProxyRules) into b: table ip kube-proxy with its
// base chains, helper chains, sets and maps, and each service port's
// chains, map elements and rules; with c.IPv6 also table ip6 kube-proxy,
// which holds no services (netx's are IPv4). Services come in the order
// given.
func NFTables(b *netfilter.NFTBuilder, c Config, services []ServicePort) error {
	for i := range services {
		if err := services[i].check(); err != nil {
			return err
		}
	}
	nftFamily(b, c, netfilter.FamilyIP, services)
	if c.IPv6 {
		nftFamily(b, c, netfilter.FamilyIP6, nil)
	}
	return nil
}

func nftFamily(b *netfilter.NFTBuilder, c Config, fam netfilter.Family, services []ServicePort) {
	ipX, addrType, noLocalhost := "ip", "ipv4_addr", "ip daddr != 127.0.0.0/8"
	if fam == netfilter.FamilyIP6 {
		ipX, addrType, noLocalhost = "ip6", "ipv6_addr", "ip6 daddr != ::1"
	}
	var nodeIPs []netip.Addr
	for _, a := range c.NodePortAddresses {
		if (fam == netfilter.FamilyIP) == a.Is4() && !a.IsLoopback() {
			nodeIPs = append(nodeIPs, a)
		}
	}
	// No node address of the family: NodePorts answer on every local
	// address (nodePortAddresses.MatchAll).
	matchAll := len(nodeIPs) == 0

	t := NFTTable
	b.Table(fam, t, "rules for kube-proxy")
	for _, bc := range nftBaseChains {
		b.Chain(fam, t, netfilter.Chain{Name: bc.name, Type: bc.typ, Hook: bc.hook, Priority: bc.prio})
	}
	created := map[string]bool{}
	ensure := func(chain string) {
		if !created[chain] {
			created[chain] = true
			b.Chain(fam, t, netfilter.Chain{Name: chain})
		}
	}
	for _, j := range nftJumps {
		ensure(j.dst)
		b.Rule(fam, t, j.src, strings.TrimSpace(j.extra+" jump "+j.dst))
	}
	for _, ch := range []string{NFTServices, NFTClusterIPsCheck, NFTMasquerading, NFTMarkMasq} {
		ensure(ch)
	}
	b.Rule(fam, t, NFTMarkMasq, "mark set mark or "+kubeMasqMark)
	b.Rule(fam, t, NFTMasquerading, "mark and "+kubeMasqMark+" == 0 return")
	b.Rule(fam, t, NFTMasquerading, "mark set mark xor "+kubeMasqMark)
	b.Rule(fam, t, NFTMasquerading, "masquerade fully-random")

	b.Set(fam, t, netfilter.Set{Name: NFTClusterIPs, KeyType: []string{addrType}, Comment: "Active ClusterIPs"})
	b.Rule(fam, t, NFTClusterIPsCheck, ipX+" daddr @"+NFTClusterIPs+" reject comment "+quote("Reject traffic to invalid ports of ClusterIPs"))
	if fam == netfilter.FamilyIP && c.ServiceCIDR.IsValid() {
		b.Rule(fam, t, NFTClusterIPsCheck, ipX+" daddr { "+c.ServiceCIDR.Masked().String()+" } drop comment "+quote("Drop traffic to unallocated ClusterIPs"))
	}
	// kube-proxy adds nodeport-ips and deletes it again in the same
	// transaction when NodePorts answer everywhere.
	if !matchAll {
		b.Set(fam, t, netfilter.Set{Name: NFTNodePortIPs, KeyType: []string{addrType}, Comment: "IPs that accept NodePort traffic"})
		for _, ip := range nodeIPs {
			b.Element(fam, t, NFTNodePortIPs, []string{ip.String()}, "", "")
		}
	}
	b.Set(fam, t, netfilter.Set{Name: NFTNoEndpointServices, KeyType: []string{addrType, "inet_proto", "inet_service"}, DataType: "verdict",
		Comment: "vmap to drop or reject packets to services with no endpoints"})
	b.Set(fam, t, netfilter.Set{Name: NFTNoEndpointNodePorts, KeyType: []string{"inet_proto", "inet_service"}, DataType: "verdict",
		Comment: "vmap to drop or reject packets to service nodeports with no endpoints"})
	b.Chain(fam, t, netfilter.Chain{Name: NFTRejectChain, Comment: "helper for @no-endpoint-services / @no-endpoint-nodeports"})
	b.Rule(fam, t, NFTRejectChain, "reject")
	b.Rule(fam, t, NFTServiceEndpointsCheck, ipX+" daddr . meta l4proto . th dport vmap @"+NFTNoEndpointServices)
	if matchAll {
		b.Rule(fam, t, NFTNodePortEndpointsCheck, noLocalhost+" meta l4proto . th dport vmap @"+NFTNoEndpointNodePorts)
	} else {
		b.Rule(fam, t, NFTNodePortEndpointsCheck, ipX+" daddr @"+NFTNodePortIPs+" meta l4proto . th dport vmap @"+NFTNoEndpointNodePorts)
	}
	b.Set(fam, t, netfilter.Set{Name: NFTFirewallIPs, KeyType: []string{addrType, "inet_proto", "inet_service"}, DataType: "verdict",
		Comment: "destinations that are subject to LoadBalancerSourceRanges"})
	ensure(NFTFirewallCheck)
	b.Rule(fam, t, NFTFirewallCheck, ipX+" daddr . meta l4proto . th dport vmap @"+NFTFirewallIPs)
	b.Set(fam, t, netfilter.Set{Name: NFTServiceIPs, KeyType: []string{addrType, "inet_proto", "inet_service"}, DataType: "verdict",
		Comment: "ClusterIP, ExternalIP and LoadBalancer IP traffic"})
	b.Set(fam, t, netfilter.Set{Name: NFTServiceNodePorts, KeyType: []string{"inet_proto", "inet_service"}, DataType: "verdict",
		Comment: "NodePort traffic"})
	b.Rule(fam, t, NFTServices, ipX+" daddr . meta l4proto . th dport vmap @"+NFTServiceIPs)
	if matchAll {
		b.Rule(fam, t, NFTServices, "fib daddr type local "+noLocalhost+" meta l4proto . th dport vmap @"+NFTServiceNodePorts)
	} else {
		b.Rule(fam, t, NFTServices, ipX+" daddr @"+NFTNodePortIPs+" meta l4proto . th dport vmap @"+NFTServiceNodePorts)
	}

	// A set holds an element once: kube-proxy ensures each cluster IP
	// once, whatever number of ports its service has.
	clusterIPs := map[netip.Addr]bool{}
	for i := range services {
		nftServicePort(b, c, fam, &services[i], clusterIPs)
	}
}

// nftServicePort writes one service port with the Cluster traffic
// policies, in the order syncProxyRules makes it: chains, map elements,
// then rules.
func nftServicePort(b *netfilter.NFTBuilder, c Config, fam netfilter.Family, p *ServicePort, clusterIPs map[netip.Addr]bool) {
	t := NFTTable
	proto := p.Protocol
	clusterIP := p.ClusterIP.String()
	eps := p.endpoints()
	svcChain := NFTServiceChain(p)
	extChain := NFTExternalChain(p)
	epChains := make([]string, len(eps))
	for i, ep := range eps {
		epChains[i] = NFTEndpointChain(p, ep)
		b.Chain(fam, t, netfilter.Chain{Name: epChains[i]})
	}
	hasEndpoints := len(eps) > 0
	external := hasEndpoints && p.NodePort != 0
	if hasEndpoints {
		b.Chain(fam, t, netfilter.Chain{Name: svcChain})
	}
	if external {
		b.Chain(fam, t, netfilter.Chain{Name: extChain})
	}

	if !clusterIPs[p.ClusterIP] {
		clusterIPs[p.ClusterIP] = true
		b.Element(fam, t, NFTClusterIPs, []string{clusterIP}, "", "")
	}
	key := []string{clusterIP, proto, strconv.Itoa(int(p.Port))}
	if hasEndpoints {
		b.Element(fam, t, NFTServiceIPs, key, "goto "+svcChain, "")
	} else {
		b.Element(fam, t, NFTNoEndpointServices, key, "goto "+NFTRejectChain, p.Name())
	}
	if p.NodePort != 0 {
		npKey := []string{proto, strconv.Itoa(int(p.NodePort))}
		if hasEndpoints {
			b.Element(fam, t, NFTServiceNodePorts, npKey, "goto "+extChain, "")
		} else {
			b.Element(fam, t, NFTNoEndpointNodePorts, npKey, "goto "+NFTRejectChain, p.Name())
		}
	}
	if !hasEndpoints {
		return
	}
	if p.AffinitySeconds > 0 {
		for _, ep := range eps {
			b.Set(fam, t, netfilter.Set{Name: NFTAffinitySet(p, ep), KeyType: []string{"ipv4_addr"}, Flags: []string{"dynamic", "timeout"},
				// nft gives a dynamic set the size 65535 the kernel
				// then lists.
				Timeout: time.Duration(p.AffinitySeconds) * time.Second, Args: []string{"size 65535"}})
		}
	}

	// Off-cluster sources reaching a cluster IP may bounce to another node.
	b.Rule(fam, t, svcChain, "ip daddr "+clusterIP+" ip saddr != "+c.ClusterCIDR.Masked().String()+" jump "+NFTMarkMasq)
	if external {
		b.Rule(fam, t, extChain, "jump "+NFTMarkMasq)
		b.Rule(fam, t, extChain, "goto "+svcChain)
	}
	if p.AffinitySeconds > 0 {
		for i, ep := range eps {
			b.Rule(fam, t, svcChain, "ip saddr @"+NFTAffinitySet(p, ep)+" goto "+epChains[i])
		}
	}
	// One numgen pick over all endpoints replaces iptables' chain of
	// probabilities.
	picks := make([]string, len(eps))
	for i := range eps {
		picks[i] = strconv.Itoa(i) + " : goto " + epChains[i]
	}
	b.Rule(fam, t, svcChain, fmt.Sprintf("numgen random mod %d vmap { %s }", len(eps), strings.Join(picks, " , ")))
	for i, ep := range eps {
		b.Rule(fam, t, epChains[i], "ip saddr "+ep.Addr().String()+" jump "+NFTMarkMasq)
		if p.AffinitySeconds > 0 {
			b.Rule(fam, t, epChains[i], "update @"+NFTAffinitySet(p, ep)+" { ip saddr }")
		}
		b.Rule(fam, t, epChains[i], "meta l4proto "+proto+" dnat to "+ep.String())
	}
}

// quote is s as an nft double-quoted string.
func quote(s string) string { return `"` + s + `"` }
