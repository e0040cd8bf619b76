package datapath

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrNotPermitted is returned (wrapped) when the kernel refuses to make a
// namespace: the caller lacks CAP_SYS_ADMIN.
var ErrNotPermitted = errors.New("operation not permitted")

// CreateNetns makes (or reuses) a network namespace bind-mounted at path,
// sets sysctls inside it as it is born (key as under /proc/sys, e.g.
// net/ipv4/ip_forward), and sets its loopback up.
func CreateNetns(path string, sysctls [][2]string) error {
	if err := nsenter.CreateNamed(path, func() error { return nsenter.SetSysctls(sysctls) }); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("create namespace %s: %w", path, ErrNotPermitted)
		}
		return err
	}
	n, err := OpenNetns(path)
	if err != nil {
		return err
	}
	defer n.Close()
	return n.LoopbackUp()
}

// Netns is a network namespace opened for configuration: requests go
// through a netlink handle made inside it, so the caller's thread never
// switches namespaces.
type Netns struct {
	Path string
	h    *netlink.Handle
}

// OpenNetns opens the namespace at path (/run/netns/NAME, /proc/PID/ns/net).
func OpenNetns(path string) (*Netns, error) {
	h, err := nsenter.Netlink(path)
	if err != nil {
		return nil, err
	}
	return &Netns{Path: path, h: h}, nil
}

// Close releases the handle.
func (n *Netns) Close() { n.h.Close() }

// LoopbackUp sets lo up (index 1 in every namespace).
func (n *Netns) LoopbackUp() error {
	if err := n.h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}}); err != nil {
		return fmt.Errorf("set lo up in %s: %w", n.Path, err)
	}
	return nil
}

// LinkIndex returns the ifindex of link name.
func (n *Netns) LinkIndex(name string) (int, error) {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("find %s in %s: %w", name, n.Path, err)
	}
	return l.Attrs().Index, nil
}

// HasLink says whether link name exists.
func (n *Netns) HasLink(name string) bool {
	_, err := n.h.LinkByName(name)
	return err == nil
}

// Bridge is a Linux bridge: a node's cni0, or a lab's underlay switch.
type Bridge struct {
	Name string
	MTU  int              // 0: the kernel's default
	MAC  net.HardwareAddr // nil: a random one
	// Addr, when set, is the bridge's own address (the pods' gateway).
	Addr netip.Prefix
}

// EnsureBridge makes the bridge unless it exists, gives it its address and
// sets it up.
func (n *Netns) EnsureBridge(b Bridge) error {
	if !n.HasLink(b.Name) {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: b.Name, MTU: b.MTU, HardwareAddr: b.MAC}}
		if err := n.h.LinkAdd(br); err != nil {
			return fmt.Errorf("add bridge %s in %s: %w", b.Name, n.Path, err)
		}
	}
	if !b.Addr.IsValid() {
		return n.SetUp(b.Name)
	}
	return n.EnsureAddrUp(b.Name, b.Addr)
}

// SetUp sets link name up.
func (n *Netns) SetUp(name string) error {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", name, n.Path, err)
	}
	if err := n.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up in %s: %w", name, n.Path, err)
	}
	return nil
}

// EnsureAddrUp gives link name the address (if it lacks it) and sets it up.
func (n *Netns) EnsureAddrUp(name string, pfx netip.Prefix) error {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", name, n.Path, err)
	}
	if err := n.h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(pfx)}); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add %s to %s in %s: %w", pfx, name, n.Path, err)
	}
	if err := n.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up in %s: %w", name, n.Path, err)
	}
	return nil
}

// AddBridgePort makes a veth pair whose end port is a port of bridge here,
// up, and whose other end peer is born directly in the namespace at
// peerNS with peerMAC (cheaper than making it here and moving it). An
// existing port is kept as it is.
func (n *Netns) AddBridgePort(bridge, port, peerNS, peer string, peerMAC net.HardwareAddr) error {
	if n.HasLink(port) {
		return nil
	}
	br, err := n.LinkIndex(bridge)
	if err != nil {
		return err
	}
	fd, err := unix.Open(peerNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", peerNS, err)
	}
	defer unix.Close(fd)
	v := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: port, MasterIndex: br, Flags: net.FlagUp},
		PeerName:         peer,
		PeerHardwareAddr: peerMAC,
		PeerNamespace:    netlink.NsFd(fd),
	}
	if err := n.h.LinkAdd(v); err != nil {
		return fmt.Errorf("add veth %s (peer %s in %s) in %s: %w", port, peer, peerNS, n.Path, err)
	}
	return nil
}

// Route is a unicast route in the main table.
type Route struct {
	Dst netip.Prefix // 0.0.0.0/0 for the default route
	Gw  netip.Addr   // unset for a directly connected destination
	Dev string
	// Onlink: the gateway is reachable on Dev though no address of Dev
	// covers it (flannel's VXLAN routes via the peer's VTEP address).
	Onlink bool
}

// ReplaceRoute adds the route or replaces the one to the same destination.
func (n *Netns) ReplaceRoute(r Route) error {
	idx, err := n.LinkIndex(r.Dev)
	if err != nil {
		return err
	}
	nr := &netlink.Route{LinkIndex: idx, Dst: ipNet(r.Dst)}
	if r.Gw.IsValid() {
		nr.Gw = net.IP(r.Gw.AsSlice())
	}
	if r.Onlink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	if err := n.h.RouteReplace(nr); err != nil {
		return fmt.Errorf("route %s via %s dev %s in %s: %w", r.Dst, r.Gw, r.Dev, n.Path, err)
	}
	return nil
}

// DefaultRoute is the route every pod and node has: 0.0.0.0/0 via gw.
func DefaultRoute(dev string, gw netip.Addr) Route {
	return Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gw: gw, Dev: dev}
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// DeleteLink deletes link name (a veth takes its peer with it); a link
// that is not there is no error.
func (n *Netns) DeleteLink(name string) error {
	l, err := n.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("find %s in %s: %w", name, n.Path, err)
	}
	if err := n.h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s in %s: %w", name, n.Path, err)
	}
	return nil
}

// LinkState is what CHECK-style callers compare: a link's addresses
// (IPv4), whether it is up, and its master's name ("" for none).
type LinkState struct {
	Addrs  []netip.Prefix
	Up     bool
	Master string
	MTU    int
	MAC    net.HardwareAddr
}

// Link reads link name's state.
func (n *Netns) Link(name string) (LinkState, error) {
	l, err := n.h.LinkByName(name)
	if err != nil {
		return LinkState{}, fmt.Errorf("find %s in %s: %w", name, n.Path, err)
	}
	st := LinkState{Up: l.Attrs().Flags&net.FlagUp != 0, MTU: l.Attrs().MTU, MAC: l.Attrs().HardwareAddr}
	if m := l.Attrs().MasterIndex; m != 0 {
		if ml, err := n.h.LinkByIndex(m); err == nil {
			st.Master = ml.Attrs().Name
		}
	}
	addrs, err := n.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return LinkState{}, fmt.Errorf("addresses of %s in %s: %w", name, n.Path, err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			ones, _ := a.Mask.Size()
			st.Addrs = append(st.Addrs, netip.PrefixFrom(ip.Unmap(), ones))
		}
	}
	return st, nil
}

// HasRoute says whether the main table holds r (destination, gateway and
// device as given).
func (n *Netns) HasRoute(r Route) (bool, error) {
	idx, err := n.LinkIndex(r.Dev)
	if err != nil {
		return false, err
	}
	routes, err := n.h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false, fmt.Errorf("routes in %s: %w", n.Path, err)
	}
	for _, rt := range routes {
		dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if rt.Dst != nil {
			ip, _ := netip.AddrFromSlice(rt.Dst.IP)
			ones, _ := rt.Dst.Mask.Size()
			dst = netip.PrefixFrom(ip.Unmap(), ones)
		}
		gw, _ := netip.AddrFromSlice(rt.Gw)
		if rt.LinkIndex == idx && dst == r.Dst && gw.Unmap() == r.Gw {
			return true, nil
		}
	}
	return false, nil
}
