package kubeproxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ServicePort is one port of a Service as kube-proxy programs it (its
// ServicePortName) with the endpoints it sends connections to.
type ServicePort struct {
	Namespace string
	Service   string
	PortName  string // "" for a service's single unnamed port
	Protocol  string // tcp, udp or sctp, lower case as both modes write it
	ClusterIP netip.Addr
	Port      uint16
	NodePort  uint16 // 0: not a NodePort (or LoadBalancer) port
	// Endpoints are the ready endpoints; kube-proxy orders them by their
	// "ip:port" text, and so does every writer here.
	Endpoints []netip.AddrPort
	// AffinitySeconds is sessionAffinity ClientIP's timeoutSeconds
	// (sessionAffinityConfig; Kubernetes defaults it to 10800): a client
	// goes to the endpoint it went to first for that long. 0: none.
	AffinitySeconds uint32
}

// Name is kube-proxy's ServicePortName as both modes write it in
// comments, and iptables mode hashes it: "namespace/name:port", or
// "namespace/name" for an unnamed port.
func (p *ServicePort) Name() string {
	if p.PortName == "" {
		return p.Namespace + "/" + p.Service
	}
	return p.Namespace + "/" + p.Service + ":" + p.PortName
}

// endpoints returns the endpoints in kube-proxy's order: by their
// "ip:port" text.
func (p *ServicePort) endpoints() []netip.AddrPort {
	eps := slices.Clone(p.Endpoints)
	slices.SortStableFunc(eps, func(a, b netip.AddrPort) int { return strings.Compare(a.String(), b.String()) })
	return eps
}

func (p *ServicePort) check() error {
	switch {
	case p.Namespace == "" || p.Service == "":
		return fmt.Errorf("service port %q: namespace and name are needed", p.Name())
	case p.Protocol != "tcp" && p.Protocol != "udp" && p.Protocol != "sctp":
		return fmt.Errorf("service port %s: protocol %q: use tcp, udp or sctp (lower case)", p.Name(), p.Protocol)
	case !p.ClusterIP.Is4():
		return fmt.Errorf("service port %s: cluster IP %s: netx writes IPv4 services only", p.Name(), p.ClusterIP)
	case p.Port == 0:
		return fmt.Errorf("service port %s: no port", p.Name())
	}
	for _, ep := range p.Endpoints {
		if !ep.Addr().Is4() || ep.Port() == 0 {
			return fmt.Errorf("service port %s: endpoint %s: an IPv4 address and a port are needed", p.Name(), ep)
		}
	}
	return nil
}

// Config is kube-proxy's configuration on the node and what it finds
// there, as far as the rules depend on it.
type Config struct {
	// ClusterCIDR is --cluster-cidr (detect-local-mode ClusterCIDR):
	// traffic to a cluster IP from outside it is marked for masquerade.
	ClusterCIDR netip.Prefix
	// ServiceCIDR is the cluster's service range; nftables mode drops
	// traffic to its unallocated addresses.
	ServiceCIDR netip.Prefix
	// NodePortAddresses are --nodeport-addresses' node IPs: NodePorts
	// answer on these only (nftables mode's nodeport-ips set). Empty is
	// the iptables default, every local address.
	NodePortAddresses []netip.Addr
	// LocalhostNodePorts is --iptables-localhost-nodeports (the default
	// on): NodePorts answer on 127.0.0.1, which brings KUBE-FIREWALL's
	// anti-martian rule.
	LocalhostNodePorts bool
	// NFAcct says kube-proxy could create its nfacct counters: its rules
	// then count into them (and the localhost NodePort rule exists only
	// then). Whoever loads such rules creates the counters first
	// (NFAcctCounters): iptables-restore refuses a rule naming a missing
	// one.
	NFAcct bool
	// Kubelet adds the chains kubelet creates before kube-proxy starts
	// (KUBE-FIREWALL with its jumps, the canaries, mangle's
	// KUBE-IPTABLES-HINT), as on a real node; the lab has no kubelet.
	Kubelet bool
	// IPv6 adds kube-proxy's IPv6 side in nftables mode (table ip6
	// kube-proxy, with no services: netx's services are IPv4), as a
	// dual-stack kube-proxy writes on every node.
	IPv6 bool
}

// kube-proxy's masquerade mark: 1<<14 (--iptables-masquerade-bit 14),
// written with Go's %#08x as kube-proxy writes it.
const kubeMasqMark = "0x004000"

// The nfacct counters kube-proxy creates when it starts.
const (
	NFAcctInvalidDropped     = "ct_state_invalid_dropped_pkts"
	NFAcctLocalhostNodePorts = "localhost_nps_accepted_pkts"
)

// NFAcctCounters are the counters rules written with Config.NFAcct name.
func NFAcctCounters() []string { return []string{NFAcctInvalidDropped, NFAcctLocalhostNodePorts} }

// largeClusterEndpoints is where kube-proxy's iptables mode switches to
// large-cluster mode: above it, per-endpoint rules carry no comment
// (they would make a big node's rules 40% larger).
const largeClusterEndpoints = 1000
