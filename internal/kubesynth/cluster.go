package kubesynth

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
)

// Cluster is what kube-proxy programs one node from: the cluster's
// networks, the node's address and the services with their endpoints.
type Cluster struct {
	// ClusterCIDR is the pod network: traffic to a ClusterIP from outside
	// it is marked for masquerade.
	ClusterCIDR netip.Prefix
	// ServiceCIDR holds the ClusterIPs; nftables mode drops traffic to
	// the unallocated ones.
	ServiceCIDR netip.Prefix
	// NodeIP accepts NodePort traffic (nftables mode's nodeport-ips).
	NodeIP   netip.Addr
	Services []Service
}

// Service is one port of a ClusterIP service (kube-proxy's
// ServicePortName) and its ready endpoints, in the order kube-proxy
// spreads connections over them.
type Service struct {
	Namespace string
	Name      string
	PortName  string // "" for a service's single unnamed port
	Protocol  string // tcp, udp or sctp, lower case as both modes write it
	ClusterIP netip.Addr
	Port      uint16
	Endpoints []netip.AddrPort
}

// String is kube-proxy's ServicePortName as iptables mode writes it in
// comments and hashes it: "namespace/name:port", or "namespace/name" for
// an unnamed port.
func (s *Service) String() string {
	if s.PortName == "" {
		return s.Namespace + "/" + s.Name
	}
	return s.Namespace + "/" + s.Name + ":" + s.PortName
}

// MaxServices is how many services Synthetic can address: two endpoints
// each must fit in the /16 pod network.
const MaxServices = 32000

// Synthetic is a cluster of services ClusterIP services with two endpoints
// each, addressed as the lab and testdata/cluster are (pods in
// 10.244.0.0/16, services in 10.96.0.0/16): service i is
// ns<i%50>/svc-<i>:http, port 80 over tcp, its endpoints listen on 8080.
// It panics beyond MaxServices.
func Synthetic(services int) *Cluster {
	if services < 0 || services > MaxServices {
		panic(fmt.Sprintf("kubesynth: %d services, want 0-%d", services, MaxServices))
	}
	c := &Cluster{
		ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
		ServiceCIDR: netip.MustParsePrefix("10.96.0.0/16"),
		NodeIP:      netip.MustParseAddr("192.168.77.11"),
		Services:    make([]Service, services),
	}
	// ClusterIPs from 10.96.0.10 (the first ones are the kubernetes and
	// DNS services' on a real cluster); pod addresses from 10.244.1.2.
	svcBase := uint32(10<<24 | 96<<16 | 10)
	podBase := uint32(10<<24 | 244<<16 | 1<<8 | 2)
	for i := range c.Services {
		eps := make([]netip.AddrPort, 2)
		for e := range eps {
			eps[e] = netip.AddrPortFrom(addr4(podBase+uint32(2*i+e)), 8080)
		}
		c.Services[i] = Service{
			Namespace: fmt.Sprintf("ns%d", i%50),
			Name:      fmt.Sprintf("svc-%d", i),
			PortName:  "http",
			Protocol:  "tcp",
			ClusterIP: addr4(svcBase + uint32(i)),
			Port:      80,
			Endpoints: eps,
		}
	}
	return c
}

func addr4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// hash is kube-proxy's chain-name hash: base32 of the SHA-256 of s, cut
// to n characters (16 in iptables mode, 8 in nftables mode).
func hash(s string, n int) string {
	h := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(h[:])[:n]
}
