package kubeproxy

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
)

// hashAndTruncate is kube-proxy's chain-name hash: the first n characters
// of the standard base32 of the SHA-256 of s. iptables mode takes 16
// characters and nothing else (KUBE-SVC-<16>, iptables names are at most
// 28 long); nftables mode takes 8 and appends the readable name.
func hash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:n]
}

// iptables mode's fixed chains (pkg/proxy/iptables/proxier.go).
const (
	KubeServices         = "KUBE-SERVICES"          // nat: dispatch by service IP; filter: REJECT/DROP without endpoints
	KubeExternalServices = "KUBE-EXTERNAL-SERVICES" // filter: REJECT/DROP for NodePorts and external IPs without endpoints
	KubeNodePorts        = "KUBE-NODEPORTS"         // nat: NodePort dispatch; filter: health check node ports
	KubePostrouting      = "KUBE-POSTROUTING"       // nat: masquerade what KUBE-MARK-MASQ marked
	KubeMarkMasq         = "KUBE-MARK-MASQ"         // nat: sets the masquerade mark
	KubeForward          = "KUBE-FORWARD"           // filter: accept marked and established forwarded traffic
	KubeProxyFirewall    = "KUBE-PROXY-FIREWALL"    // filter: loadBalancerSourceRanges drops
	KubeProxyCanary      = "KUBE-PROXY-CANARY"      // always empty; kube-proxy resyncs when it disappears
	// Kubelet's (pkg/kubelet/kubelet_network_linux.go); kube-proxy writes
	// KUBE-FIREWALL's rule too.
	KubeFirewall      = "KUBE-FIREWALL"
	KubeKubeletCanary = "KUBE-KUBELET-CANARY"
	KubeIPTablesHint  = "KUBE-IPTABLES-HINT" // mangle: tells kube-proxy which iptables backend kubelet uses
)

// Prefixes of iptables mode's per-service and per-endpoint chains.
const (
	KubeSVCPrefix = "KUBE-SVC-" // Cluster traffic policy: picks an endpoint
	KubeEXTPrefix = "KUBE-EXT-" // NodePort and external traffic, then KUBE-SVC
	KubeSEPPrefix = "KUBE-SEP-" // one endpoint: hairpin mark, then DNAT
)

// servicePortHash is iptables mode's hash of a service port: its
// ServicePortName and the lower-case protocol, with no separator.
func servicePortHash(spn, proto string) string { return hash(spn+proto, 16) }

// KubeSVCChain names a service port's KUBE-SVC chain; spn is its
// ServicePortName (ServicePort.Name).
func KubeSVCChain(spn, proto string) string { return KubeSVCPrefix + servicePortHash(spn, proto) }

// KubeEXTChain names a service port's KUBE-EXT chain.
func KubeEXTChain(spn, proto string) string { return KubeEXTPrefix + servicePortHash(spn, proto) }

// KubeSEPChain names an endpoint's KUBE-SEP chain: the endpoint's
// "ip:port" is hashed in after the service port.
func KubeSEPChain(spn, proto string, ep netip.AddrPort) string {
	return KubeSEPPrefix + hash(spn+proto+ep.String(), 16)
}

// kube-proxy's nftables table and its fixed chains, sets and maps
// (pkg/proxy/nftables/proxier.go).
const (
	NFTTable = "kube-proxy"

	nftFilterPreroutingPreDNAT = "filter-prerouting-pre-dnat"
	nftFilterOutputPreDNAT     = "filter-output-pre-dnat"
	nftFilterInput             = "filter-input"
	nftFilterForward           = "filter-forward"
	nftFilterOutput            = "filter-output"
	nftNATPrerouting           = "nat-prerouting"
	nftNATOutput               = "nat-output"
	nftNATPostrouting          = "nat-postrouting"

	NFTServices               = "services"
	NFTServiceIPs             = "service-ips"
	NFTServiceNodePorts       = "service-nodeports"
	NFTClusterIPs             = "cluster-ips"
	NFTNodePortIPs            = "nodeport-ips"
	NFTServiceEndpointsCheck  = "service-endpoints-check"
	NFTNodePortEndpointsCheck = "nodeport-endpoints-check"
	NFTNoEndpointServices     = "no-endpoint-services"
	NFTNoEndpointNodePorts    = "no-endpoint-nodeports"
	NFTRejectChain            = "reject-chain"
	NFTClusterIPsCheck        = "cluster-ips-check"
	NFTFirewallIPs            = "firewall-ips"
	NFTFirewallCheck          = "firewall-check"
	NFTMarkMasq               = "mark-for-masquerade"
	NFTMasquerading           = "masquerading"
)

// Prefixes of nftables mode's per-service and per-endpoint chains; the rest
// of the name is a base (nftServiceBase, nftEndpointBase).
const (
	NFTServicePrefix  = "service-"
	NFTExternalPrefix = "external-"
	NFTEndpointPrefix = "endpoint-"
	NFTAffinityPrefix = "affinity-"
)

// nftBaseMax is knftables.NameLengthMax (256) less the 16 characters
// kube-proxy keeps for a prefix.
const nftBaseMax = 256 - 16

// nftBase is nftables mode's hashAndTruncate: 8 hash characters, a dash,
// then the readable name, cut with "..." when too long.
func nftBase(readable string) string {
	s := hash(readable, 8) + "-" + readable
	if len(s) > nftBaseMax {
		s = s[:nftBaseMax-3] + "..."
	}
	return s
}

// nftServiceBase is "HASH-namespace/name/proto/portname": an unnamed port
// leaves the trailing slash.
func nftServiceBase(p *ServicePort) string {
	return nftBase(p.Namespace + "/" + p.Service + "/" + p.Protocol + "/" + p.PortName)
}

// NFTServiceChain names a service port's chain in nftables mode.
func NFTServiceChain(p *ServicePort) string { return NFTServicePrefix + nftServiceBase(p) }

// NFTExternalChain names a service port's external-traffic chain.
func NFTExternalChain(p *ServicePort) string { return NFTExternalPrefix + nftServiceBase(p) }

// NFTEndpointChain names an endpoint's chain: "...__ip/port" appended to
// the service port's readable name.
func NFTEndpointChain(p *ServicePort, ep netip.AddrPort) string {
	return NFTEndpointPrefix + nftBase(p.Namespace+"/"+p.Service+"/"+p.Protocol+"/"+p.PortName+"__"+ep.Addr().String()+"/"+strconv.Itoa(int(ep.Port())))
}

// NFTAffinitySet is the dynamic set in which nftables mode remembers the
// clients pinned to endpoint ep (sessionAffinity ClientIP): the endpoint
// chain's name with "affinity-" for "endpoint-".
func NFTAffinitySet(p *ServicePort, ep netip.AddrPort) string {
	return NFTAffinityPrefix + strings.TrimPrefix(NFTEndpointChain(p, ep), NFTEndpointPrefix)
}

// The CNI portmap plugin's chains (plugins/meta/portmap/portmap_iptables.go).
const (
	CNIHostportDNAT    = "CNI-HOSTPORT-DNAT"
	CNIHostportSetMark = "CNI-HOSTPORT-SETMARK"
	CNIHostportMasq    = "CNI-HOSTPORT-MASQ"
	CNIDNPrefix        = "CNI-DN-"
)

// iptablesChainMax is the longest chain name iptables accepts.
const iptablesChainMax = 28

// CNIDNChain names the portmap plugin's per-container chain: CNI-DN- and
// the hex of sha512(network name + container ID), cut to 28 characters.
func CNIDNChain(network, containerID string) string {
	sum := sha512.Sum512([]byte(network + containerID))
	return (CNIDNPrefix + hex.EncodeToString(sum[:]))[:iptablesChainMax]
}
