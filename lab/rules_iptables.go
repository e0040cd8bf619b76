package lab

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file writes the iptables side of a lab node the way a real
// kubeadm + flannel node gets it: kube-proxy v1.34 in iptables mode, the
// CNI portmap plugin for hostPorts, and flannel-style masquerading of pod
// traffic leaving the cluster. Names, comments, argument order and hashes
// follow the upstream sources (kubernetes pkg/proxy/iptables/proxier.go,
// containernetworking/plugins plugins/meta/portmap), so iptables-save in a
// lab node reads like iptables-save on a real one.
//
// kube-proxy itself runs iptables-restore --noflush and installs its jumps
// from the built-in chains with "iptables -I 1". netx owns the node's nat
// and filter tables outright, so it writes one full restore instead and
// places every jump where that install sequence would have left it.

// Chain is an iptables chain name.
type Chain string

// Built-in chains.
const (
	ChainPrerouting  Chain = "PREROUTING"
	ChainInput       Chain = "INPUT"
	ChainForward     Chain = "FORWARD"
	ChainOutput      Chain = "OUTPUT"
	ChainPostrouting Chain = "POSTROUTING"
)

// kube-proxy's fixed chains (pkg/proxy/iptables/proxier.go).
const (
	KubeServices         Chain = "KUBE-SERVICES"          // nat: dispatch by service IP; filter: REJECT when no endpoints
	KubeExternalServices Chain = "KUBE-EXTERNAL-SERVICES" // filter: REJECT for NodePorts/external IPs without endpoints
	KubeNodePorts        Chain = "KUBE-NODEPORTS"         // nat: NodePort dispatch; filter: health check node ports
	KubePostrouting      Chain = "KUBE-POSTROUTING"       // nat: masquerade what KUBE-MARK-MASQ marked
	KubeMarkMasq         Chain = "KUBE-MARK-MASQ"         // nat: sets the masquerade mark
	KubeForward          Chain = "KUBE-FORWARD"           // filter: accept marked and established forwarded traffic
	KubeProxyFirewall    Chain = "KUBE-PROXY-FIREWALL"    // filter: loadBalancerSourceRanges drops
	KubeFirewall         Chain = "KUBE-FIREWALL"          // filter: kubelet's anti-martian rule, duplicated by kube-proxy
	KubeProxyCanary      Chain = "KUBE-PROXY-CANARY"      // always empty; kube-proxy resyncs when it disappears
)

// Prefixes of kube-proxy's per-service chains. The suffix of SVC, EXT (and
// SVL, FW) chains is the same 16-character hash of a service port, see
// kubeServicePortHash; SEP chains hash the endpoint in as well.
const (
	KubeSVCPrefix = "KUBE-SVC-" // Cluster traffic policy: picks an endpoint
	KubeEXTPrefix = "KUBE-EXT-" // NodePort/external traffic, then KUBE-SVC
	KubeSEPPrefix = "KUBE-SEP-" // one endpoint: hairpin mark, then DNAT
)

// The CNI portmap plugin's chains (plugins/meta/portmap/portmap_iptables.go).
// Per-pod chains are CNIDNPrefix + hex(sha512(network name + container ID)),
// cut to iptables' 28 characters.
const (
	CNIHostportDNAT    Chain = "CNI-HOSTPORT-DNAT"
	CNIHostportSetMark Chain = "CNI-HOSTPORT-SETMARK"
	CNIHostportMasq    Chain = "CNI-HOSTPORT-MASQ"
	CNIDNPrefix              = "CNI-DN-"
)

// NetxPostrouting masquerades pod traffic leaving the cluster CIDR, the job
// flannel's FLANNEL-POSTRTG (or the bridge plugin's ipMasq) does on a real
// node. It has its own name so nobody mistakes it for flannel's exact rules.
const NetxPostrouting Chain = "NETX-POSTROUTING"

const (
	// kubeMasqMark is 1<<14 (kube-proxy's default --iptables-masquerade-bit),
	// written with Go's %#08x as kube-proxy writes it; iptables-save shows 0x4000.
	kubeMasqMark = "0x004000"
	// cniMasqMark is 1<<13, the portmap plugin's default markMasqBit, as %#x.
	cniMasqMark = "0x2000"
	// cniNetworkName is the CNI network name flannel's kube-flannel.yml
	// conflist declares; portmap puts it in comments and chain hashes.
	cniNetworkName = "cbr0"
	// iptablesChainMax is the longest chain name iptables accepts.
	iptablesChainMax = 28
	// multiportMax is how many ports one -m multiport rule may list.
	multiportMax = 15
)

// kubeServicePortName is kube-proxy's ServicePortName.String():
// "namespace/name", plus ":portname" only when the port is named
// (pkg/proxy/types.go fmtPortName). An unnamed port gives no colon.
func kubeServicePortName(s *LabService, p LabServicePort) string {
	if p.Name == "" {
		return s.Namespace + "/" + s.Name
	}
	return s.Namespace + "/" + s.Name + ":" + p.Name
}

// kubeHash is the base32 (standard alphabet) of sha256(s), cut to n
// characters: how kube-proxy turns names into chain-name suffixes.
func kubeHash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:n]
}

// kubeServicePortHash is kube-proxy's portProtoHash: servicePortName and the
// lowercase protocol concatenated with no separator.
func kubeServicePortHash(servicePortName, proto string) string {
	return kubeHash(servicePortName+proto, 16)
}

// KubeSVCChain names a service port's KUBE-SVC chain.
func KubeSVCChain(servicePortName, proto string) Chain {
	return Chain(KubeSVCPrefix + kubeServicePortHash(servicePortName, proto))
}

// KubeEXTChain names a service port's KUBE-EXT chain.
func KubeEXTChain(servicePortName, proto string) Chain {
	return Chain(KubeEXTPrefix + kubeServicePortHash(servicePortName, proto))
}

// KubeSEPChain names an endpoint's KUBE-SEP chain; endpoint is "ip:port"
// (net.JoinHostPort), appended to the service port name and protocol.
func KubeSEPChain(servicePortName, proto, endpoint string) Chain {
	return Chain(KubeSEPPrefix + kubeHash(servicePortName+proto+endpoint, 16))
}

// CNIDNChain names the portmap plugin's per-container chain.
func CNIDNChain(network, containerID string) Chain {
	sum := sha512.Sum512([]byte(network + containerID))
	return Chain((CNIDNPrefix + hex.EncodeToString(sum[:]))[:iptablesChainMax])
}

// podContainerID is the container ID netx hands the CNI plugins for a pod:
// 64 hex characters like a real sandbox ID, but derived from the lab name
// and pod key so chain names and comments are the same on every run.
func podContainerID(lab, podKey string) string {
	sum := sha256.Sum256([]byte("netx sandbox " + lab + "/" + podKey))
	return hex.EncodeToString(sum[:])
}

// kubeProbability is how kube-proxy writes --probability (computeProbability).
// The kernel stores a 31-bit fraction, so iptables-save prints it back with
// 11 decimals (0.5000000000 -> 0.50000000000, 1/3 -> 0.33333333349).
func kubeProbability(n int) string {
	return fmt.Sprintf("%0.10f", 1.0/float64(n))
}

// endpointsInKubeOrder returns the endpoints sorted by their "ip:port"
// string, the order kube-proxy's endpoints map keeps them in.
func endpointsInKubeOrder(eps []LabEndpoint) []LabEndpoint {
	out := slices.Clone(eps)
	slices.SortStableFunc(out, func(a, b LabEndpoint) int {
		return strings.Compare(a.IP.String(), b.IP.String())
	})
	return out
}

// servicesInOrder sorts services by namespace/name. kube-proxy walks a Go
// map, so its order is random; netx picks one stable order for goldens.
func servicesInOrder(svcs []*LabService) []*LabService {
	out := slices.Clone(svcs)
	slices.SortStableFunc(out, func(a, b *LabService) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// quoted wraps a comment in double quotes, escaping quotes inside, the way
// both kube-proxy and iptables-save write comments containing spaces.
func quoted(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// restoreTable collects one table of an iptables-restore input: chain
// declarations first, then rules, as iptables-restore wants them.
type restoreTable struct {
	name   string
	chains []string
	rules  []string
}

func (t *restoreTable) chain(c Chain) { t.chains = append(t.chains, ":"+string(c)+" - [0:0]") }

func (t *restoreTable) rule(c Chain, args ...string) {
	t.rules = append(t.rules, "-A "+string(c)+" "+strings.Join(args, " "))
}

// jumpOrder replays how components hook into a built-in chain: kube-proxy
// and portmap's MASQ entry insert at position 1, other entries append. The
// end result is the order a real node shows after that install sequence.
type jumpOrder struct {
	rules []string
}

func (j *jumpOrder) prepend(rule string) { j.rules = append([]string{rule}, j.rules...) }
func (j *jumpOrder) append(rule string)  { j.rules = append(j.rules, rule) }

// builtin holds the built-in chains of one table with their policy.
type builtin struct {
	chain Chain
	jumps jumpOrder
}

func (t *restoreTable) write(b *strings.Builder, builtins []*builtin) {
	b.WriteString("*" + t.name + "\n")
	for _, bc := range builtins {
		b.WriteString(":" + string(bc.chain) + " ACCEPT [0:0]\n")
	}
	for _, c := range t.chains {
		b.WriteString(c + "\n")
	}
	for _, bc := range builtins {
		for _, r := range bc.jumps.rules {
			b.WriteString("-A " + string(bc.chain) + " " + r + "\n")
		}
	}
	for _, r := range t.rules {
		b.WriteString(r + "\n")
	}
	b.WriteString("COMMIT\n")
}

// IPTablesRestore returns the complete iptables-restore input (to be loaded
// without --noflush) for one node: its filter and nat tables as a
// kubeadm + flannel node running kube-proxy v1.34 would have them. In
// nftables proxy mode kube-proxy's part is left out (NFTablesScript writes
// it); hostPorts and pod masquerading stay in iptables as on a real node.
func IPTablesRestore(lab *Lab, node *LabNode) string {
	filter := &restoreTable{name: "filter"}
	nat := &restoreTable{name: "nat"}
	fIn, fFwd, fOut := &builtin{chain: ChainInput}, &builtin{chain: ChainForward}, &builtin{chain: ChainOutput}
	nPre, nIn, nOut, nPost := &builtin{chain: ChainPrerouting}, &builtin{chain: ChainInput}, &builtin{chain: ChainOutput}, &builtin{chain: ChainPostrouting}

	// flanneld starts before kube-proxy and pods; its masquerade jump is
	// appended, so everything inserted later lands above it.
	nat.chain(NetxPostrouting)
	nPost.jumps.append("-m comment --comment " + quoted("netx lab: masquerade pod traffic leaving the cluster") + " -j " + string(NetxPostrouting))
	cidr := lab.ClusterCIDR.String()
	nat.rule(NetxPostrouting, "-s", cidr, "-d", cidr, "-j", "RETURN")
	nat.rule(NetxPostrouting, "-s", cidr, "!", "-d", "224.0.0.0/4", "-j", "MASQUERADE", "--random-fully")

	if lab.Proxy == ProxyIPTables {
		kubeProxyJumps(fIn, fFwd, fOut, nPre, nOut, nPost)
		kubeProxyIPTables(lab, filter, nat)
	}
	portmap(lab, node, nat, nPre, nOut, nPost)

	var b strings.Builder
	fmt.Fprintf(&b, "# netx lab %s, node %s: filter and nat tables (kube-proxy %s mode, CNI portmap, pod masquerade)\n", lab.Name, node.Name, lab.Proxy)
	filter.write(&b, []*builtin{fIn, fFwd, fOut})
	nat.write(&b, []*builtin{nPre, nIn, nOut, nPost})
	return b.String()
}

// kubeJump is one entry of kube-proxy's iptablesJumpChains (followed by
// iptablesKubeletJumpChains): extra match args come before the comment.
type kubeJump struct {
	src     *builtin
	dst     Chain
	comment string
	extra   string
}

func kubeProxyJumps(fIn, fFwd, fOut, nPre, nOut, nPost *builtin) {
	const ctNew = "-m conntrack --ctstate NEW"
	jumps := []kubeJump{
		{fIn, KubeExternalServices, "kubernetes externally-visible service portals", ctNew},
		{fFwd, KubeExternalServices, "kubernetes externally-visible service portals", ctNew},
		{fIn, KubeNodePorts, "kubernetes health check service ports", ""},
		{fFwd, KubeServices, "kubernetes service portals", ctNew},
		{fOut, KubeServices, "kubernetes service portals", ctNew},
		{fFwd, KubeForward, "kubernetes forwarding rules", ""},
		{fIn, KubeProxyFirewall, "kubernetes load balancer firewall", ctNew},
		{fOut, KubeProxyFirewall, "kubernetes load balancer firewall", ctNew},
		{fFwd, KubeProxyFirewall, "kubernetes load balancer firewall", ctNew},
		{nOut, KubeServices, "kubernetes service portals", ""},
		{nPre, KubeServices, "kubernetes service portals", ""},
		{nPost, KubePostrouting, "kubernetes postrouting rules", ""},
		{fIn, KubeFirewall, "", ""},
		{fOut, KubeFirewall, "", ""},
	}
	for _, j := range jumps {
		var args []string
		if j.extra != "" {
			args = append(args, j.extra)
		}
		if j.comment != "" {
			args = append(args, "-m comment --comment "+quoted(j.comment))
		}
		args = append(args, "-j "+string(j.dst))
		// EnsureRule(Prepend): each jump goes to position 1.
		j.src.jumps.prepend(strings.Join(args, " "))
	}
}

// kubeProxyIPTables writes what kube-proxy's syncProxyRules restores, run
// with --cluster-cidr=lab.ClusterCIDR (detect-local-mode ClusterCIDR),
// default nodePortAddresses and localhostNodePorts, and
// nf_conntrack_tcp_be_liberal off. nfacct matches are left out, as
// kube-proxy does when it cannot create its nfacct counters (they live per
// namespace and netx does not create them).
func kubeProxyIPTables(lab *Lab, filter, nat *restoreTable) {
	for _, c := range []Chain{KubeServices, KubeExternalServices, KubeForward, KubeNodePorts, KubeProxyFirewall} {
		filter.chain(c)
	}
	for _, c := range []Chain{KubeServices, KubeNodePorts, KubePostrouting, KubeMarkMasq} {
		nat.chain(c)
	}
	nat.rule(KubePostrouting, "-m", "mark", "!", "--mark", kubeMasqMark+"/"+kubeMasqMark, "-j", "RETURN")
	nat.rule(KubePostrouting, "-j", "MARK", "--xor-mark", kubeMasqMark)
	nat.rule(KubePostrouting, "-m", "comment", "--comment", quoted("kubernetes service traffic requiring SNAT"), "-j", "MASQUERADE", "--random-fully")
	nat.rule(KubeMarkMasq, "-j", "MARK", "--or-mark", kubeMasqMark)

	// localhostNodePorts (the default for IPv4) brings the anti-martian rule.
	filter.chain(KubeFirewall)
	filter.rule(KubeFirewall, "-m", "comment", "--comment", quoted("block incoming localnet connections"),
		"-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP")

	for _, svc := range servicesInOrder(lab.Services) {
		for _, port := range svc.Ports {
			kubeServicePortIPTables(lab, svc, port, filter, nat)
		}
	}

	nat.rule(KubeServices, "-m", "comment", "--comment", quoted("kubernetes service nodeports; NOTE: this must be the last rule in this chain"),
		"-m", "addrtype", "--dst-type", "LOCAL", "-j", string(KubeNodePorts))

	filter.rule(KubeForward, "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
	filter.rule(KubeForward, "-m", "comment", "--comment", quoted("kubernetes forwarding rules"),
		"-m", "mark", "--mark", kubeMasqMark+"/"+kubeMasqMark, "-j", "ACCEPT")
	filter.rule(KubeForward, "-m", "comment", "--comment", quoted("kubernetes forwarding conntrack rule"),
		"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")

	// ipt.Monitor creates the canary; it is never written by the restore.
	filter.chain(KubeProxyCanary)
	nat.chain(KubeProxyCanary)
}

// kubeServicePortIPTables writes one service port with Cluster traffic
// policies, in kube-proxy's order: dispatch rules, then the SVC/EXT/SEP
// chains.
func kubeServicePortIPTables(lab *Lab, svc *LabService, port LabServicePort, filter, nat *restoreTable) {
	name := kubeServicePortName(svc, port)
	proto := strings.ToLower(port.Protocol)
	clusterIP := svc.ClusterIP.String()
	svcPort := strconv.Itoa(port.Port)
	eps := endpointsInKubeOrder(port.Endpoints)
	svcChain := KubeSVCChain(name, proto)
	extChain := KubeEXTChain(name, proto)

	if len(eps) == 0 {
		// No endpoints anywhere: nothing in nat, REJECT in filter.
		noEP := quoted(name + " has no endpoints")
		filter.rule(KubeServices, "-m", "comment", "--comment", noEP, "-m", proto, "-p", proto,
			"-d", clusterIP, "--dport", svcPort, "-j", "REJECT")
		if port.NodePort != 0 {
			filter.rule(KubeExternalServices, "-m", "comment", "--comment", noEP, "-m", "addrtype", "--dst-type", "LOCAL",
				"-m", proto, "-p", proto, "--dport", strconv.Itoa(port.NodePort), "-j", "REJECT")
		}
		return
	}

	if port.NodePort != 0 {
		nat.chain(extChain)
	}
	nat.chain(svcChain)
	seps := make([]Chain, len(eps))
	for i, ep := range eps {
		seps[i] = KubeSEPChain(name, proto, ep.IP.String())
		nat.chain(seps[i])
	}

	clusterMatch := []string{"-m", "comment", "--comment", quoted(name + " cluster IP"), "-m", proto, "-p", proto, "-d", clusterIP, "--dport", svcPort}
	nat.rule(KubeServices, append(slices.Clone(clusterMatch), "-j", string(svcChain))...)
	if port.NodePort != 0 {
		nat.rule(KubeNodePorts, "-m", "comment", "--comment", name, "-m", proto, "-p", proto,
			"--dport", strconv.Itoa(port.NodePort), "-j", string(extChain))
	}
	// Off-cluster sources reaching a cluster IP may bounce to another node,
	// so they are masqueraded.
	nat.rule(svcChain, append(slices.Clone(clusterMatch), "!", "-s", lab.ClusterCIDR.String(), "-j", string(KubeMarkMasq))...)
	if port.NodePort != 0 {
		// externalTrafficPolicy Cluster: external traffic may cross nodes.
		nat.rule(extChain, "-m", "comment", "--comment", quoted("masquerade traffic for "+name+" external destinations"), "-j", string(KubeMarkMasq))
		nat.rule(extChain, "-j", string(svcChain))
	}
	for i, ep := range eps {
		args := []string{"-m", "comment", "--comment", quoted(name + " -> " + ep.IP.String())}
		if i < len(eps)-1 {
			// 1/n, then 1/(n-1) of the rest, ...: every endpoint gets 1/n.
			args = append(args, "-m", "statistic", "--mode", "random", "--probability", kubeProbability(len(eps)-i))
		}
		nat.rule(svcChain, append(args, "-j", string(seps[i]))...)
	}
	for i, ep := range eps {
		// Hairpin: a pod reaching itself through the service must be
		// masqueraded or it would answer itself directly.
		nat.rule(seps[i], "-m", "comment", "--comment", name, "-s", ep.IP.Addr().String(), "-j", string(KubeMarkMasq))
		nat.rule(seps[i], "-m", "comment", "--comment", name, "-m", proto, "-p", proto, "-j", "DNAT", "--to-destination", ep.IP.String())
	}
}

// hostPortMapping is one entry of the runtime's portMappings capability
// argument, as containerd passes it to portmap (protocol lowercased).
type hostPortMapping struct {
	hostPort      int
	containerPort int
	proto         string
}

// portmap writes the CNI portmap plugin's chains for this node's pods that
// declare hostPorts. Like the plugin (which returns early without port
// mappings), it writes nothing on a node without any.
func portmap(lab *Lab, node *LabNode, nat *restoreTable, nPre, nOut, nPost *builtin) {
	type podMaps struct {
		pod  *LabPod
		maps []hostPortMapping
	}
	var pods []podMaps
	for _, p := range lab.Pods {
		if p.Node != node.Name || p.HostNetwork || !p.IP.IsValid() {
			continue
		}
		var maps []hostPortMapping
		for _, c := range p.Containers {
			for _, cp := range c.Ports {
				if cp.HostPort != 0 {
					maps = append(maps, hostPortMapping{cp.HostPort, cp.ContainerPort, strings.ToLower(cp.Protocol)})
				}
			}
		}
		if len(maps) > 0 {
			pods = append(pods, podMaps{p, maps})
		}
	}
	if len(pods) == 0 {
		return
	}

	setMark := cniMasqMark + "/" + cniMasqMark
	nat.chain(CNIHostportSetMark)
	nat.rule(CNIHostportSetMark, "-m", "comment", "--comment", quoted("CNI portfwd masquerade mark"), "-j", "MARK", "--set-xmark", setMark)
	nat.chain(CNIHostportMasq)
	nat.rule(CNIHostportMasq, "-m", "mark", "--mark", setMark, "-j", "MASQUERADE")
	// Prepended so the bridge/ptp masquerade rules cannot stomp on it.
	nPost.jumps.prepend("-m comment --comment " + quoted("CNI portfwd requiring masquerade") + " -j " + string(CNIHostportMasq))
	nat.chain(CNIHostportDNAT)
	nPre.jumps.append("-m addrtype --dst-type LOCAL -j " + string(CNIHostportDNAT))
	nOut.jumps.append("-m addrtype --dst-type LOCAL -j " + string(CNIHostportDNAT))

	// IPAM hands the pod its address with the node's prefix length; the
	// plugin matches hairpin traffic from that whole subnet.
	podNet := node.PodCIDR.Masked().String()
	for _, pm := range pods {
		id := podContainerID(lab.Name, pm.pod.Key())
		dn := CNIDNChain(cniNetworkName, id)
		nat.chain(dn)
		for _, m := range pm.maps {
			base := []string{"-p", m.proto, "--dport", strconv.Itoa(m.hostPort)}
			nat.rule(dn, append(slices.Clone(base), "-s", podNet, "-j", string(CNIHostportSetMark))...)
			nat.rule(dn, append(slices.Clone(base), "-s", "127.0.0.1", "-j", string(CNIHostportSetMark))...)
			nat.rule(dn, append(slices.Clone(base), "-j", "DNAT", "--to-destination", pm.pod.IP.String()+":"+strconv.Itoa(m.containerPort))...)
		}
		comment := fmt.Sprintf("dnat name: %q id: %q", cniNetworkName, id)
		byProto := map[string][]string{}
		for _, m := range pm.maps {
			byProto[m.proto] = append(byProto[m.proto], strconv.Itoa(m.hostPort))
		}
		protos := make([]string, 0, len(byProto))
		for p := range byProto {
			protos = append(protos, p)
		}
		slices.Sort(protos)
		for _, proto := range protos {
			for ports := range slices.Chunk(byProto[proto], multiportMax) {
				nat.rule(CNIHostportDNAT, "-m", "comment", "--comment", quoted(comment), "-m", "multiport",
					"-p", proto, "--destination-ports", strings.Join(ports, ","), "-j", string(dn))
			}
		}
	}
}
