package cni

import (
	"fmt"
	"io"
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
