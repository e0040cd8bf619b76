package datapath

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VXLAN is a VXLAN tunnel endpoint in flannel's layout: no learning, so
// every peer is written in by hand (VXLANPeer).
type VXLAN struct {
	Name  string // flannel.1
	VNI   int
	Port  int // UDP destination port: 8472 (flannel), 4789 (IANA)
	MTU   int
	MAC   net.HardwareAddr
	Local netip.Addr // the node's underlay address, the tunnel's source
	Dev   string     // the underlay interface
	// Addr is the tunnel's own address (flannel: the node's pod network
	// address as a /32).
	Addr netip.Prefix
}

// EnsureVXLAN makes the tunnel device unless it exists, gives it its
// address and sets it up.
func (n *Netns) EnsureVXLAN(v VXLAN) error {
	if !n.HasLink(v.Name) {
		dev, err := n.LinkIndex(v.Dev)
		if err != nil {
			return err
		}
		l := &netlink.Vxlan{
			LinkAttrs:    netlink.LinkAttrs{Name: v.Name, MTU: v.MTU, HardwareAddr: v.MAC},
			VxlanId:      v.VNI,
			VtepDevIndex: dev,
			SrcAddr:      net.IP(v.Local.AsSlice()),
			Port:         v.Port,
			Learning:     false,
		}
		if err := n.h.LinkAdd(l); err != nil {
			return fmt.Errorf("add %s in %s: %w", v.Name, n.Path, err)
		}
	}
	return n.EnsureAddrUp(v.Name, v.Addr)
}

// VXLANPeer is another node as a VXLAN tunnel reaches it.
type VXLANPeer struct {
	MAC     net.HardwareAddr // its tunnel device's address
	Addr    netip.Addr       // its tunnel device's own address (flannel: its pod network address)
	Remote  netip.Addr       // its underlay address: where encapsulated packets go
	PodCIDR netip.Prefix     // what lives behind it
}

// AddVXLANPeer writes what flannel writes for a peer on tunnel dev: a
// permanent neighbour entry (its tunnel address → its MAC), an FDB entry
// (its MAC → its underlay address) and a route to its pods via its tunnel
// address, onlink. Existing entries are replaced.
func (n *Netns) AddVXLANPeer(dev string, p VXLANPeer) error {
	idx, err := n.LinkIndex(dev)
	if err != nil {
		return err
	}
	if err := n.h.NeighSet(&netlink.Neigh{LinkIndex: idx, State: netlink.NUD_PERMANENT,
		Type: unix.RTN_UNICAST, IP: net.IP(p.Addr.AsSlice()), HardwareAddr: p.MAC}); err != nil {
		return fmt.Errorf("neighbour %s on %s in %s: %w", p.Addr, dev, n.Path, err)
	}
	if err := n.h.NeighSet(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE,
		State: netlink.NUD_PERMANENT, Flags: netlink.NTF_SELF, IP: net.IP(p.Remote.AsSlice()), HardwareAddr: p.MAC}); err != nil {
		return fmt.Errorf("fdb %s dst %s on %s in %s: %w", p.MAC, p.Remote, dev, n.Path, err)
	}
	return n.ReplaceRoute(Route{Dst: p.PodCIDR, Gw: p.Addr, Dev: dev, Onlink: true})
}
