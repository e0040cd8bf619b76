package cni

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

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
// node's namespace at netnsPath: the routes to the other nodes, the
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
