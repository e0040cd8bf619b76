package lab

import (
	"fmt"
	"strconv"
	"strings"
)

// This file writes kube-proxy v1.34's nftables mode (pkg/proxy/nftables/
// proxier.go, via sigs.k8s.io/knftables) for a lab node. Dispatch goes
// through verdict maps keyed by address . protocol . port; per-service and
// per-endpoint chains carry a readable name behind a short hash.

// KubeProxyTable is kube-proxy's table; its IPv4 proxier uses family ip.
const KubeProxyTable = "kube-proxy"

// kube-proxy's nftables chains, sets and maps (constants in proxier.go).
const (
	nftFilterPreroutingPreDNAT = "filter-prerouting-pre-dnat"
	nftFilterOutputPreDNAT     = "filter-output-pre-dnat"
	nftFilterInput             = "filter-input"
	nftFilterForward           = "filter-forward"
	nftFilterOutput            = "filter-output"
	nftNATPrerouting           = "nat-prerouting"
	nftNATOutput               = "nat-output"
	nftNATPostrouting          = "nat-postrouting"

	nftServices               = "services"
	nftServiceIPs             = "service-ips"
	nftServiceNodePorts       = "service-nodeports"
	nftClusterIPs             = "cluster-ips"
	nftServiceEndpointsCheck  = "service-endpoints-check"
	nftNodePortEndpointsCheck = "nodeport-endpoints-check"
	nftNoEndpointServices     = "no-endpoint-services"
	nftNoEndpointNodePorts    = "no-endpoint-nodeports"
	nftRejectChain            = "reject-chain"
	nftClusterIPsCheck        = "cluster-ips-check"
	nftFirewallIPs            = "firewall-ips"
	nftFirewallCheck          = "firewall-check"
	nftMarkMasq               = "mark-for-masquerade"
	nftMasquerading           = "masquerading"
)

// Prefixes of per-service and per-endpoint chains. The rest of the name is
// nftServiceBase or nftEndpointBase: a hash of the readable part, then the
// readable part itself.
const (
	NFTServicePrefix  = "service-"
	NFTExternalPrefix = "external-"
	NFTEndpointPrefix = "endpoint-"
)

// nftChainBaseMax is knftables.NameLengthMax (256) minus the 16 characters
// kube-proxy reserves for a prefix.
const nftChainBaseMax = 256 - 16

// nftHashAndTruncate is kube-proxy's hashAndTruncate: 8 characters of
// base32(sha256(name)), a dash, then name, cut with "..." if too long.
func nftHashAndTruncate(name string) string {
	name = kubeHash(name, 8) + "-" + name
	if len(name) > nftChainBaseMax {
		name = name[:nftChainBaseMax-3] + "..."
	}
	return name
}

// nftServiceBase is "HASH-namespace/name/proto/portname"; the port name is
// used as is, so an unnamed port leaves a trailing slash.
func nftServiceBase(ns, name, proto, portName string) string {
	return nftHashAndTruncate(ns + "/" + name + "/" + proto + "/" + portName)
}

// nftEndpointBase is "HASH-namespace/name/proto/portname__ip/port".
func nftEndpointBase(ns, name, proto, portName, ip string, port int) string {
	return nftHashAndTruncate(ns + "/" + name + "/" + proto + "/" + portName + "__" + ip + "/" + strconv.Itoa(port))
}

// nftScript accumulates "nft -f" commands against the kube-proxy table.
type nftScript struct {
	b strings.Builder
}

func (s *nftScript) cmd(format string, args ...any) {
	s.b.WriteString(fmt.Sprintf(format, args...) + "\n")
}

func (s *nftScript) chain(name string) {
	s.cmd("add chain ip %s %s", KubeProxyTable, name)
}

func (s *nftScript) rule(chain, rule string) {
	s.cmd("add rule ip %s %s %s", KubeProxyTable, chain, rule)
}

func (s *nftScript) element(set, elem string) {
	s.cmd("add element ip %s %s { %s }", KubeProxyTable, set, elem)
}

// NFTablesScript returns an nft -f script that (re)creates kube-proxy's
// "ip kube-proxy" table as kube-proxy v1.34 in nftables mode writes it,
// with --cluster-cidr=lab.ClusterCIDR, default nodePortAddresses, and the
// service CIDR as the only ServiceCIDR. It starts by creating and deleting
// the table, so running it again replaces the table instead of failing or
// adding duplicates. It is loaded only when lab.Proxy is nftables.
func NFTablesScript(lab *Lab, node *LabNode) string {
	s := &nftScript{}
	s.cmd("# netx lab %s, node %s: kube-proxy nftables mode", lab.Name, node.Name)
	s.cmd("add table ip %s", KubeProxyTable)
	s.cmd("delete table ip %s", KubeProxyTable)
	// From here on, kube-proxy's setupNFTables in its own order. Its flush
	// commands are left out: the table was just created empty.
	s.cmd("add table ip %s { comment %s ; }", KubeProxyTable, quoted("rules for kube-proxy"))

	// knftables writes priorities as numbers: dstnat is -100, filter 0,
	// srcnat 100. The pre-DNAT filter chains see the service IP before
	// DNAT rewrites it.
	for _, bc := range []struct{ name, typ, hook, prio string }{
		{nftFilterPreroutingPreDNAT, "filter", "prerouting", "-110"},
		{nftFilterOutputPreDNAT, "filter", "output", "-110"},
		{nftFilterInput, "filter", "input", "0"},
		{nftFilterForward, "filter", "forward", "0"},
		{nftFilterOutput, "filter", "output", "0"},
		{nftNATPrerouting, "nat", "prerouting", "-100"},
		{nftNATOutput, "nat", "output", "-100"},
		{nftNATPostrouting, "nat", "postrouting", "100"},
	} {
		s.cmd("add chain ip %s %s { type %s hook %s priority %s ; }", KubeProxyTable, bc.name, bc.typ, bc.hook, bc.prio)
	}

	created := map[string]bool{}
	ensure := func(chain string) {
		if !created[chain] {
			created[chain] = true
			s.chain(chain)
		}
	}
	// nftablesJumpChains. Reject is only valid in input/forward/output
	// hooks on older kernels, hence the endpoint checks hang off those.
	for _, j := range []struct{ dst, src, extra string }{
		{nftNodePortEndpointsCheck, nftFilterInput, "ct state new"},
		{nftServiceEndpointsCheck, nftFilterInput, "ct state new"},
		{nftServiceEndpointsCheck, nftFilterForward, "ct state new"},
		{nftServiceEndpointsCheck, nftFilterOutput, "ct state new"},
		{nftFirewallCheck, nftFilterPreroutingPreDNAT, "ct state new"},
		{nftFirewallCheck, nftFilterOutputPreDNAT, "ct state new"},
		{nftServices, nftNATOutput, ""},
		{nftServices, nftNATPrerouting, ""},
		{nftMasquerading, nftNATPostrouting, ""},
		{nftClusterIPsCheck, nftFilterForward, "ct state new"},
		{nftClusterIPsCheck, nftFilterOutput, "ct state new"},
	} {
		ensure(j.dst)
		s.rule(j.src, strings.TrimSpace(j.extra+" jump "+j.dst))
	}
	for _, c := range []string{nftServices, nftClusterIPsCheck, nftMasquerading, nftMarkMasq} {
		ensure(c)
	}

	s.rule(nftMarkMasq, "mark set mark or "+kubeMasqMark)
	s.rule(nftMasquerading, "mark and "+kubeMasqMark+" == 0 return")
	s.rule(nftMasquerading, "mark set mark xor "+kubeMasqMark)
	s.rule(nftMasquerading, "masquerade fully-random")

	s.cmd("add set ip %s %s { type ipv4_addr ; comment %s ; }", KubeProxyTable, nftClusterIPs, quoted("Active ClusterIPs"))
	s.rule(nftClusterIPsCheck, "ip daddr @"+nftClusterIPs+" reject comment "+quoted("Reject traffic to invalid ports of ClusterIPs"))
	s.rule(nftClusterIPsCheck, "ip daddr { "+lab.ServiceCIDR.String()+" } drop comment "+quoted("Drop traffic to unallocated ClusterIPs"))
	// nodeport-ips exists only with --nodeport-addresses; by default
	// kube-proxy adds and deletes it in the same transaction.

	s.cmd("add map ip %s %s { type ipv4_addr . inet_proto . inet_service : verdict ; comment %s ; }", KubeProxyTable,
		nftNoEndpointServices, quoted("vmap to drop or reject packets to services with no endpoints"))
	s.cmd("add map ip %s %s { type inet_proto . inet_service : verdict ; comment %s ; }", KubeProxyTable,
		nftNoEndpointNodePorts, quoted("vmap to drop or reject packets to service nodeports with no endpoints"))
	s.cmd("add chain ip %s %s { comment %s ; }", KubeProxyTable, nftRejectChain, quoted("helper for @no-endpoint-services / @no-endpoint-nodeports"))
	s.rule(nftRejectChain, "reject")
	s.rule(nftServiceEndpointsCheck, "ip daddr . meta l4proto . th dport vmap @"+nftNoEndpointServices)
	s.rule(nftNodePortEndpointsCheck, "ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @"+nftNoEndpointNodePorts)

	s.cmd("add map ip %s %s { type ipv4_addr . inet_proto . inet_service : verdict ; comment %s ; }", KubeProxyTable,
		nftFirewallIPs, quoted("destinations that are subject to LoadBalancerSourceRanges"))
	ensure(nftFirewallCheck)
	s.rule(nftFirewallCheck, "ip daddr . meta l4proto . th dport vmap @"+nftFirewallIPs)

	s.cmd("add map ip %s %s { type ipv4_addr . inet_proto . inet_service : verdict ; comment %s ; }", KubeProxyTable,
		nftServiceIPs, quoted("ClusterIP, ExternalIP and LoadBalancer IP traffic"))
	s.cmd("add map ip %s %s { type inet_proto . inet_service : verdict ; comment %s ; }", KubeProxyTable,
		nftServiceNodePorts, quoted("NodePort traffic"))
	s.rule(nftServices, "ip daddr . meta l4proto . th dport vmap @"+nftServiceIPs)
	s.rule(nftServices, "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @"+nftServiceNodePorts)

	for _, svc := range servicesInOrder(lab.Services) {
		for _, port := range svc.Ports {
			nftServicePort(s, lab, svc, port)
		}
	}
	return s.b.String()
}

// nftServicePort writes one service port with Cluster traffic policies, in
// the order syncProxyRules emits it: chains, map elements, then rules.
func nftServicePort(s *nftScript, lab *Lab, svc *LabService, port LabServicePort) {
	name := kubeServicePortName(svc, port)
	proto := strings.ToLower(port.Protocol)
	clusterIP := svc.ClusterIP.String()
	eps := endpointsInKubeOrder(port.Endpoints)
	base := nftServiceBase(svc.Namespace, svc.Name, proto, port.Name)
	svcChain := NFTServicePrefix + base
	extChain := NFTExternalPrefix + base
	epChains := make([]string, len(eps))
	for i, ep := range eps {
		epChains[i] = NFTEndpointPrefix + nftEndpointBase(svc.Namespace, svc.Name, proto, port.Name, ep.IP.Addr().String(), int(ep.IP.Port()))
		s.chain(epChains[i])
	}
	hasEndpoints := len(eps) > 0
	external := hasEndpoints && port.NodePort != 0
	if hasEndpoints {
		s.chain(svcChain)
	}
	if external {
		s.chain(extChain)
	}

	s.element(nftClusterIPs, clusterIP)
	key := clusterIP + " . " + proto + " . " + strconv.Itoa(port.Port)
	if hasEndpoints {
		s.element(nftServiceIPs, key+" : goto "+svcChain)
	} else {
		s.element(nftNoEndpointServices, key+" comment "+quoted(name)+" : goto "+nftRejectChain)
	}
	if port.NodePort != 0 {
		npKey := proto + " . " + strconv.Itoa(port.NodePort)
		if hasEndpoints {
			s.element(nftServiceNodePorts, npKey+" : goto "+extChain)
		} else {
			s.element(nftNoEndpointNodePorts, npKey+" comment "+quoted(name)+" : goto "+nftRejectChain)
		}
	}
	if !hasEndpoints {
		return
	}

	// Off-cluster sources reaching a cluster IP may bounce to another node.
	s.rule(svcChain, "ip daddr "+clusterIP+" ip saddr != "+lab.ClusterCIDR.String()+" jump "+nftMarkMasq)
	if external {
		s.rule(extChain, "jump "+nftMarkMasq)
		s.rule(extChain, "goto "+svcChain)
	}
	// One numgen pick over all endpoints replaces iptables' chain of
	// probabilities.
	picks := make([]string, len(eps))
	for i := range eps {
		picks[i] = strconv.Itoa(i) + " : goto " + epChains[i]
	}
	s.rule(svcChain, fmt.Sprintf("numgen random mod %d vmap { %s }", len(eps), strings.Join(picks, " , ")))
	for i, ep := range eps {
		s.rule(epChains[i], "ip saddr "+ep.IP.Addr().String()+" jump "+nftMarkMasq)
		s.rule(epChains[i], "meta l4proto "+proto+" dnat to "+ep.IP.String())
	}
}
