package kubeproxy

import (
	"fmt"
	"net/netip"
)

// MaxSynthetic is how many services Synthetic can address: two endpoints
// each must fit in the /16 pod network.
const MaxSynthetic = 32000

// SyntheticConfig is a node of the project's e2e cluster (pods in
// 10.244.0.0/16, services in 10.96.0.0/16, node IP 192.168.77.11) as its
// real kube-proxy is configured: NodePorts on the node's primary IP,
// localhost NodePorts and nfacct counters on, kubelet's chains present,
// both families in nftables mode. Benchmarks build big nodes from it.
func SyntheticConfig() Config {
	return Config{
		ClusterCIDR:        netip.MustParsePrefix("10.244.0.0/16"),
		ServiceCIDR:        netip.MustParsePrefix("10.96.0.0/16"),
		NodePortAddresses:  []netip.Addr{netip.MustParseAddr("192.168.77.11")},
		LocalhostNodePorts: true,
		NFAcct:             true,
		Kubelet:            true,
		IPv6:               true,
	}
}

// Synthetic is n ClusterIP services with two endpoints each, addressed as
// the e2e cluster is: service i is ns<i%50>/svc-<i>, port http 80/tcp,
// cluster IP from 10.96.0.10 up, its endpoints listen on 8080 at
// addresses from 10.244.1.2 up. It is the node benchmarks measure. It
// panics beyond MaxSynthetic.
func Synthetic(n int) []ServicePort {
	if n < 0 || n > MaxSynthetic {
		panic(fmt.Sprintf("kubeproxy: %d synthetic services, want 0-%d", n, MaxSynthetic))
	}
	out := make([]ServicePort, n)
	// ClusterIPs from 10.96.0.10 (the first ones are the kubernetes and
	// DNS services' on a real cluster); pod addresses from 10.244.1.2.
	svcBase := uint32(10<<24 | 96<<16 | 10)
	podBase := uint32(10<<24 | 244<<16 | 1<<8 | 2)
	for i := range out {
		out[i] = ServicePort{
			Namespace: fmt.Sprintf("ns%d", i%50),
			Service:   fmt.Sprintf("svc-%d", i),
			PortName:  "http",
			Protocol:  "tcp",
			ClusterIP: addr4(svcBase + uint32(i)),
			Port:      80,
			Endpoints: []netip.AddrPort{
				netip.AddrPortFrom(addr4(podBase+uint32(2*i)), 8080),
				netip.AddrPortFrom(addr4(podBase+uint32(2*i+1)), 8080),
			},
		}
	}
	return out
}

func addr4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
