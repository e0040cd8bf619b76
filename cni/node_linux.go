package cni

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/netx-project/netx/datapath"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SyncRoutes keeps, in the namespace at netnsPath (the node's), one route
// per peer — its pod network via its address (host-gw: the nodes share a
// link) — and removes the routes of this protocol no peer has any more. It
// says what it changed, as ip commands.
func SyncRoutes(netnsPath string, peers []Peer) ([]string, error) {
	h, err := nsenter.Netlink(netnsPath)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	have, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("routes in %s: %w", netnsPath, err)
	}
	var did []string
	var errs []error
	want := map[netip.Prefix]netip.Addr{}
	for _, p := range peers {
		if p.PodCIDR.IsValid() && p.PodCIDR.Addr().Is4() && p.IP.Is4() {
			want[p.PodCIDR.Masked()] = p.IP
		}
	}
	for _, r := range have {
		if r.Dst == nil {
			continue
		}
		dst, _ := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		pfx := netip.PrefixFrom(dst.Unmap(), ones)
		gw, _ := netip.AddrFromSlice(r.Gw)
		if want[pfx] == gw.Unmap() {
			delete(want, pfx) // already right
			continue
		}
		if _, keep := want[pfx]; keep {
			continue // replaced below
		}
		if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("ip route del %s: %w", pfx, err))
			continue
		}
		did = append(did, fmt.Sprintf("ip route del %s proto %d", pfx, RouteProtocol))
	}
	dsts := make([]netip.Prefix, 0, len(want))
	for d := range want {
		dsts = append(dsts, d)
	}
	slices.SortFunc(dsts, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	for _, d := range dsts {
		gw := want[d]
		r := &netlink.Route{
			Dst:      &net.IPNet{IP: net.IP(d.Addr().AsSlice()), Mask: net.CIDRMask(d.Bits(), 32)},
			Gw:       net.IP(gw.AsSlice()),
			Protocol: RouteProtocol,
		}
		if err := h.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("ip route replace %s via %s: %w (is %s on a link of this node?)", d, gw, err, gw))
			continue
		}
		did = append(did, fmt.Sprintf("ip route replace %s via %s proto %d", d, gw, RouteProtocol))
	}
	return did, errors.Join(errs...)
}

// RemoveHostState removes what the plugin and the agent made in the
// node's namespace at netnsPath: the routes to the other nodes (host-gw,
// or the vxlan tunnel with its entries), the
// plugin's nat chains (hostPorts, masquerading; with the iptables under
// the node's root directory root, "" for this process's) and the bridge
// (its pods' veths go with their pods).
func RemoveHostState(netnsPath, root, bridge string) error {
	if _, err := SyncRoutes(netnsPath, nil); err != nil {
		return err
	}
	if err := RemoveRules(netnsPath, root); err != nil {
		return err
	}
	h, err := nsenter.Netlink(netnsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := removeVXLAN(h); err != nil {
		return err
	}
	l, err := h.LinkByName(bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	if l.Type() != "bridge" {
		return fmt.Errorf("%s in %s is a %s, not the bridge netx made: left alone", bridge, netnsPath, l.Type())
	}
	return h.LinkDel(l)
}

// Underlay finds the link that holds ip in the namespace at netnsPath:
// its name and MTU.
func Underlay(netnsPath string, ip netip.Addr) (string, int, error) {
	h, err := nsenter.Netlink(netnsPath)
	if err != nil {
		return "", 0, err
	}
	defer h.Close()
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return "", 0, err
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip {
			l, err := h.LinkByIndex(a.LinkIndex)
			if err != nil {
				return "", 0, err
			}
			return l.Attrs().Name, l.Attrs().MTU, nil
		}
	}
	return "", 0, fmt.Errorf("no link holds %s in %s", ip, netnsPath)
}

// SyncVXLAN keeps the vxlan overlay in the node's namespace at netnsPath:
// the tunnel device on the link holding self.IP (its address the node's
// pod network address as a /32), and for every peer a permanent
// neighbour entry, an FDB entry to its address and a route to its pod
// network via its tunnel address, onlink; entries of peers no longer
// there are removed, and host-gw routes of an earlier setup too. It says
// what it changed.
func SyncVXLAN(netnsPath string, self Peer, peers []Peer) ([]string, error) {
	did, err := SyncRoutes(netnsPath, nil)
	if err != nil {
		return did, err
	}
	dev, mtu, err := Underlay(netnsPath, self.IP)
	if err != nil {
		return did, err
	}
	n, err := datapath.OpenNetns(netnsPath)
	if err != nil {
		return did, err
	}
	defer n.Close()
	made := !n.HasLink(VXLANName)
	if err := n.EnsureVXLAN(datapath.VXLAN{Name: VXLANName, VNI: VXLANVNI, Port: VXLANPort, MTU: mtu - VXLANOverhead,
		MAC: VTEPMAC(self.IP), Local: self.IP, Dev: dev, Addr: netip.PrefixFrom(self.PodCIDR.Masked().Addr(), 32)}); err != nil {
		return did, err
	}
	if made {
		did = append(did, fmt.Sprintf("ip link add %s type vxlan id %d dstport %d local %s dev %s", VXLANName, VXLANVNI, VXLANPort, self.IP, dev))
	}
	want := map[netip.Prefix]bool{}
	var errs []error
	for _, p := range peers {
		if !p.PodCIDR.IsValid() || !p.PodCIDR.Addr().Is4() || !p.IP.Is4() {
			continue
		}
		cidr := p.PodCIDR.Masked()
		want[cidr] = true
		if err := n.AddVXLANPeer(VXLANName, datapath.VXLANPeer{MAC: VTEPMAC(p.IP), Addr: cidr.Addr(), Remote: p.IP, PodCIDR: cidr}); err != nil {
			errs = append(errs, err)
			continue
		}
	}
	// What peers that left had: their routes, neighbour and FDB entries.
	h, err := nsenter.Netlink(netnsPath)
	if err != nil {
		return did, err
	}
	defer h.Close()
	l, err := h.LinkByName(VXLANName)
	if err != nil {
		return did, err
	}
	routes, _ := h.RouteList(l, netlink.FAMILY_V4)
	for _, r := range routes {
		if r.Dst == nil || r.Gw == nil {
			continue
		}
		dst, _ := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		pfx := netip.PrefixFrom(dst.Unmap(), ones)
		if want[pfx] {
			continue
		}
		gw, _ := netip.AddrFromSlice(r.Gw)
		if err := h.RouteDel(&r); err == nil {
			did = append(did, fmt.Sprintf("ip route del %s dev %s", pfx, VXLANName))
		}
		h.NeighDel(&netlink.Neigh{LinkIndex: l.Attrs().Index, Family: netlink.FAMILY_V4, IP: net.IP(gw.Unmap().AsSlice())})
	}
	fdb, _ := h.NeighList(l.Attrs().Index, unix.AF_BRIDGE)
	for _, f := range fdb {
		remote, _ := netip.AddrFromSlice(f.IP)
		keep := slices.ContainsFunc(peers, func(p Peer) bool { return p.IP == remote.Unmap() })
		if keep || f.HardwareAddr == nil || f.State&netlink.NUD_PERMANENT == 0 {
			continue
		}
		if err := h.NeighDel(&f); err == nil {
			did = append(did, fmt.Sprintf("bridge fdb del %s dev %s dst %s", f.HardwareAddr, VXLANName, remote.Unmap()))
		}
	}
	return did, errors.Join(errs...)
}

// removeVXLAN deletes the tunnel device (its routes and entries go with
// it); none is no error.
func removeVXLAN(h *netlink.Handle) error {
	l, err := h.LinkByName(VXLANName)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	if l.Type() != "vxlan" {
		return fmt.Errorf("%s is a %s, not the tunnel netx made: left alone", VXLANName, l.Type())
	}
	return h.LinkDel(l)
}
