package kubeproxy

import (
	"fmt"
	"strconv"

	"github.com/netx-project/netx/netfilter"
)

// Kubelet writes the chains kubelet creates on a node before kube-proxy
// starts (pkg/kubelet/kubelet_network_linux.go): mangle's
// KUBE-IPTABLES-HINT, KUBE-FIREWALL with its anti-martian rule and the
// jumps to it from INPUT and OUTPUT, and the KUBE-KUBELET-CANARY chains
// its monitor watches. Call it first: kube-proxy's jumps land above
// kubelet's.
func Kubelet(b *netfilter.IPTablesBuilder) {
	b.Chain("mangle", KubeIPTablesHint)
	b.Chain("filter", KubeFirewall)
	b.Ensure("filter", "OUTPUT", netfilter.First, "-j", KubeFirewall)
	b.Ensure("filter", "INPUT", netfilter.First, "-j", KubeFirewall)
	b.Ensure("filter", KubeFirewall, netfilter.Last, "-m", "comment", "--comment", "block incoming localnet connections",
		"--dst", "127.0.0.0/8", "!", "--src", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP")
	for _, t := range []string{"mangle", "nat", "filter"} {
		b.Chain(t, KubeKubeletCanary)
	}
}

// iptablesJump is one entry of kube-proxy's iptablesJumpChains (then
// iptablesKubeletJumpChains): extra match args come before the comment.
type iptablesJump struct {
	table, src, dst string
	comment         string
	extra           []string
}

var ctNew = []string{"-m", "conntrack", "--ctstate", "NEW"}

var iptablesJumps = []iptablesJump{
	{"filter", "INPUT", KubeExternalServices, "kubernetes externally-visible service portals", ctNew},
	{"filter", "FORWARD", KubeExternalServices, "kubernetes externally-visible service portals", ctNew},
	{"filter", "INPUT", KubeNodePorts, "kubernetes health check service ports", nil},
	{"filter", "FORWARD", KubeServices, "kubernetes service portals", ctNew},
	{"filter", "OUTPUT", KubeServices, "kubernetes service portals", ctNew},
	{"filter", "FORWARD", KubeForward, "kubernetes forwarding rules", nil},
	{"filter", "INPUT", KubeProxyFirewall, "kubernetes load balancer firewall", ctNew},
	{"filter", "OUTPUT", KubeProxyFirewall, "kubernetes load balancer firewall", ctNew},
	{"filter", "FORWARD", KubeProxyFirewall, "kubernetes load balancer firewall", ctNew},
	{"nat", "OUTPUT", KubeServices, "kubernetes service portals", nil},
	{"nat", "PREROUTING", KubeServices, "kubernetes service portals", nil},
	{"nat", "POSTROUTING", KubePostrouting, "kubernetes postrouting rules", nil},
	// kubelet's, which kube-proxy ensures too
	{"filter", "INPUT", KubeFirewall, "", nil},
	{"filter", "OUTPUT", KubeFirewall, "", nil},
}

// IPTables writes kube-proxy v1.34's iptables mode (pkg/proxy/iptables,
// syncProxyRules after a full sync) for services, into b: its canary
// chains, its jumps from the built-in chains (each ensured at position 1,
// so a jump another component made first stays where it is), and one
// restore of its filter and nat chains. Services come in the order given
// (kube-proxy walks a map: its order is random; callers pick one).
func IPTables(b *netfilter.IPTablesBuilder, c Config, services []ServicePort) error {
	for i := range services {
		if err := services[i].check(); err != nil {
			return err
		}
	}
	// The monitor makes its canaries when kube-proxy starts.
	for _, t := range []string{"mangle", "nat", "filter"} {
		b.Chain(t, KubeProxyCanary)
	}
	for _, j := range iptablesJumps {
		b.Chain(j.table, j.dst)
		args := append([]string(nil), j.extra...)
		if j.comment != "" {
			args = append(args, "-m", "comment", "--comment", j.comment)
		}
		b.Ensure(j.table, j.src, netfilter.First, append(args, "-j", j.dst)...)
	}

	// From here on, one iptables-restore --noflush: each chain it names is
	// flushed and written anew.
	restore := func(table, chain string) {
		b.Chain(table, chain)
		b.Flush(table, chain)
	}
	for _, ch := range []string{KubeServices, KubeExternalServices, KubeForward, KubeNodePorts, KubeProxyFirewall} {
		restore("filter", ch)
	}
	for _, ch := range []string{KubeServices, KubeNodePorts, KubePostrouting, KubeMarkMasq} {
		restore("nat", ch)
	}
	mark := kubeMasqMark + "/" + kubeMasqMark
	b.Append("nat", KubePostrouting, "-m", "mark", "!", "--mark", mark, "-j", "RETURN")
	b.Append("nat", KubePostrouting, "-j", "MARK", "--xor-mark", kubeMasqMark)
	b.Append("nat", KubePostrouting, "-m", "comment", "--comment", "kubernetes service traffic requiring SNAT", "-j", "MASQUERADE", "--random-fully")
	b.Append("nat", KubeMarkMasq, "-j", "MARK", "--or-mark", kubeMasqMark)
	if c.LocalhostNodePorts {
		// kubelet writes the same rule; this restore replaces it.
		restore("filter", KubeFirewall)
		b.Append("filter", KubeFirewall, "-m", "comment", "--comment", "block incoming localnet connections",
			"-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP")
	}

	total := 0
	for i := range services {
		total += len(services[i].Endpoints)
	}
	large := total > largeClusterEndpoints
	for i := range services {
		iptablesServicePort(b, c, &services[i], large, restore)
	}

	nodePorts := []string{"-m", "comment", "--comment", "kubernetes service nodeports; NOTE: this must be the last rule in this chain"}
	if len(c.NodePortAddresses) == 0 {
		args := append(nodePorts, "-m", "addrtype", "--dst-type", "LOCAL")
		if !c.LocalhostNodePorts {
			args = append(args, "!", "-d", "127.0.0.0/8")
		}
		b.Append("nat", KubeServices, append(args, "-j", KubeNodePorts)...)
	} else {
		for _, ip := range c.NodePortAddresses {
			if ip.IsLoopback() && !c.LocalhostNodePorts {
				continue
			}
			b.Append("nat", KubeServices, append(nodePorts, "-d", ip.String(), "-j", KubeNodePorts)...)
		}
	}

	// nf_conntrack_tcp_be_liberal is off: invalid packets are dropped.
	invalid := []string{"-m", "conntrack", "--ctstate", "INVALID"}
	if c.NFAcct {
		invalid = append(invalid, "-m", "nfacct", "--nfacct-name", NFAcctInvalidDropped)
	}
	b.Append("filter", KubeForward, append(invalid, "-j", "DROP")...)
	b.Append("filter", KubeForward, "-m", "comment", "--comment", "kubernetes forwarding rules", "-m", "mark", "--mark", mark, "-j", "ACCEPT")
	b.Append("filter", KubeForward, "-m", "comment", "--comment", "kubernetes forwarding conntrack rule", "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
	return nil
}

// iptablesServicePort writes one service port with the Cluster traffic
// policies, rule for rule as syncProxyRules does.
func iptablesServicePort(b *netfilter.IPTablesBuilder, c Config, p *ServicePort, large bool, restore func(table, chain string)) {
	name := p.Name()
	proto := p.Protocol
	clusterIP := p.ClusterIP.String()
	port := strconv.Itoa(int(p.Port))
	nodePort := strconv.Itoa(int(p.NodePort))
	eps := p.endpoints()
	svcChain := KubeSVCChain(name, proto)
	extChain := KubeEXTChain(name, proto)
	clusterMatch := []string{"-m", "comment", "--comment", name + " cluster IP", "-m", proto, "-p", proto, "-d", clusterIP, "--dport", port}

	if len(eps) == 0 {
		// No endpoints anywhere: nothing in nat, REJECT in filter.
		noEP := name + " has no endpoints"
		b.Append("filter", KubeServices, "-m", "comment", "--comment", noEP, "-m", proto, "-p", proto, "-d", clusterIP, "--dport", port, "-j", "REJECT")
		if p.NodePort != 0 {
			b.Append("filter", KubeExternalServices, "-m", "comment", "--comment", noEP, "-m", "addrtype", "--dst-type", "LOCAL",
				"-m", proto, "-p", proto, "--dport", nodePort, "-j", "REJECT")
		}
		return
	}

	b.Append("nat", KubeServices, append(clusterMatch, "-j", svcChain)...)
	if p.NodePort != 0 {
		if c.LocalhostNodePorts && c.NFAcct {
			b.Append("nat", KubeNodePorts, "-m", "comment", "--comment", name, "-m", proto, "-p", proto, "-d", "127.0.0.0/8",
				"--dport", nodePort, "-m", "nfacct", "--nfacct-name", NFAcctLocalhostNodePorts, "-j", extChain)
		}
		b.Append("nat", KubeNodePorts, "-m", "comment", "--comment", name, "-m", proto, "-p", proto, "--dport", nodePort, "-j", extChain)
	}
	// Off-cluster sources reaching a cluster IP may bounce to another
	// node, so they are masqueraded (detect-local-mode ClusterCIDR).
	restore("nat", svcChain)
	b.Append("nat", svcChain, append(clusterMatch, "!", "-s", c.ClusterCIDR.String(), "-j", KubeMarkMasq)...)
	if p.NodePort != 0 {
		// externalTrafficPolicy Cluster: external traffic may cross nodes.
		restore("nat", extChain)
		b.Append("nat", extChain, "-m", "comment", "--comment", "masquerade traffic for "+name+" external destinations", "-j", KubeMarkMasq)
		b.Append("nat", extChain, "-j", svcChain)
	}
	comment := func(text string) []string {
		if large {
			return nil
		}
		return []string{"-m", "comment", "--comment", text}
	}
	if p.AffinitySeconds > 0 {
		// Session affinity first: a client an endpoint's list holds goes
		// there again.
		for _, ep := range eps {
			sep := KubeSEPChain(name, proto, ep)
			args := append(comment(name+" -> "+ep.String()), "-m", "recent", "--name", sep, "--rcheck", "--seconds", strconv.Itoa(int(p.AffinitySeconds)), "--reap", "-j", sep)
			b.Append("nat", svcChain, args...)
		}
	}
	for i, ep := range eps {
		args := comment(name + " -> " + ep.String())
		if i < len(eps)-1 {
			// 1/n, then 1/(n-1) of the rest, ...: every endpoint gets 1/n.
			args = append(args, "-m", "statistic", "--mode", "random", "--probability", fmt.Sprintf("%0.10f", 1.0/float64(len(eps)-i)))
		}
		b.Append("nat", svcChain, append(args, "-j", KubeSEPChain(name, proto, ep))...)
	}
	for _, ep := range eps {
		sep := KubeSEPChain(name, proto, ep)
		restore("nat", sep)
		// Hairpin: a pod reaching itself through the service is
		// masqueraded, or it would answer itself directly.
		b.Append("nat", sep, append(comment(name), "-s", ep.Addr().String(), "-j", KubeMarkMasq)...)
		args := comment(name)
		if p.AffinitySeconds > 0 {
			args = append(args, "-m", "recent", "--name", sep, "--set")
		}
		b.Append("nat", sep, append(args, "-m", proto, "-p", proto, "-j", "DNAT", "--to-destination", ep.String())...)
	}
}
