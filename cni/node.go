package cni

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
)

// RouteProtocol marks the routes the agent keeps to the other nodes' pod
// networks (ip route shows "proto 110"), so that it finds and removes
// its own and never another's.
const RouteProtocol = 110

// Peer is another node, as the agent learns it from the API: its pod
// network and the address it is reached at.
type Peer struct {
	Name    string
	PodCIDR netip.Prefix
	IP      netip.Addr
}

// WritePodCIDR records the node's pod network for the plugin (read when
// the network configuration names none).
func WritePodCIDR(dataDir string, cidr netip.Prefix) error {
	return writeAtomic(filepath.Join(dataDir, PodCIDRFile), 0o644, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, cidr.Masked())
		return err
	})
}

// VXLAN overlay: a tunnel device per node, as flannel's vxlan backend
// builds it (datapath's blocks, the lab's vxlan overlay), with the
// tunnel's MAC derived from the node's address so that every agent knows
// every peer's without writing to the API.
const (
	VXLANName = "netx-vxlan"
	VXLANVNI  = 1
	VXLANPort = 4789
	// VXLANOverhead is what the encapsulation takes from the underlay's
	// MTU (outer IPv4, UDP and VXLAN headers and the inner Ethernet).
	VXLANOverhead = 50
)

// VTEPMAC is the tunnel device's MAC of the node at ip: locally
// administered, 0e:6e then the address.
func VTEPMAC(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x0e, 0x6e, b[0], b[1], b[2], b[3]}
}
