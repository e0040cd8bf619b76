package datapath

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// PodLinker adds pods' veth pairs to one bridge of a node, one netlink
// request each: it keeps a route-netlink socket living in the node's
// namespace for the requests the netlink library cannot make in one round
// trip, and the bridge's ifindex looked up once.
type PodLinker struct {
	node   *Netns
	socks  map[int]*nl.SocketHandle
	bridge int
}

// PodLinker opens a linker for pods on bridge.
func (n *Netns) PodLinker(bridge string) (*PodLinker, error) {
	br, err := n.LinkIndex(bridge)
	if err != nil {
		return nil, err
	}
	var s *nl.NetlinkSocket
	err = nsenter.Do(nsenter.Net(n.Path), func() error {
		var err error
		s, err = nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink socket in %s: %w", n.Path, err)
	}
	return &PodLinker{node: n, socks: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}, bridge: br}, nil
}

// Close closes the socket.
func (l *PodLinker) Close() {
	for _, s := range l.socks {
		s.Close()
	}
}

// PodVeth is a pod's veth pair: the node end, a port of the linker's
// bridge, and the pod's interface, born inside the pod's namespace.
type PodVeth struct {
	HostName string // node end
	// Index is the node end's ifindex, chosen by the caller so no lookup
	// is needed afterwards; 0 lets the kernel pick (and AddVeth falls back
	// to that when the index is taken).
	Index   int
	MTU     int
	PodNS   string // the pod's network namespace (/proc/PID/ns/net, /run/netns/...)
	PodName string // the pod's interface: eth0
	PodMAC  net.HardwareAddr
	// Hairpin lets a pod reach itself through its own service: the bridge
	// sends a frame back out of the port it came in on.
	Hairpin bool
}

// AddVeth creates the pair in one RTM_NEWLINK — `ip link add HOST index N
// mtu M master BR up type veth peer name eth0 address MAC netns POD` —
// and returns the node end's ifindex.
func (l *PodLinker) AddVeth(v PodVeth) (int, error) {
	fd, err := unix.Open(v.PodNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", v.PodNS, err)
	}
	defer unix.Close(fd)
	idx := v.Index
	err = l.newVeth(v, idx, fd)
	if idx != 0 && (errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST)) {
		// The index is taken (a link made by hand?): let the kernel pick.
		idx = 0
		err = l.newVeth(v, idx, fd)
	}
	if err != nil {
		return 0, err
	}
	if idx == 0 {
		if idx, err = l.node.LinkIndex(v.HostName); err != nil {
			return 0, err
		}
	}
	if v.Hairpin {
		if err := l.node.h.LinkSetHairpin(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Index: idx, Name: v.HostName}}, true); err != nil {
			return 0, fmt.Errorf("hairpin on %s in %s: %w", v.HostName, l.node.Path, err)
		}
	}
	return idx, nil
}

func (l *PodLinker) newVeth(v PodVeth, index, podFD int) error {
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: unix.SizeofNlMsghdr, Type: unix.RTM_NEWLINK,
			Flags: unix.NLM_F_REQUEST | unix.NLM_F_CREATE | unix.NLM_F_EXCL | unix.NLM_F_ACK},
		Sockets: l.socks,
	}
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	msg.Flags, msg.Change = unix.IFF_UP, unix.IFF_UP
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(v.HostName)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(v.MTU))))
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(l.bridge))))
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("veth"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	peer := data.AddRtAttr(nl.VETH_INFO_PEER, nil)
	// The peer cannot be brought up here: the kernel configures it before
	// the pair is linked, and veth_open fails with ENOTCONN.
	nl.NewIfInfomsgChild(peer, unix.AF_UNSPEC)
	peer.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(v.PodName))
	peer.AddRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(v.MTU)))
	peer.AddRtAttr(unix.IFLA_ADDRESS, []byte(v.PodMAC))
	peer.AddRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(podFD)))
	req.AddData(info)
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("add veth %s (peer %s in %s) in %s: %w", v.HostName, v.PodName, v.PodNS, l.node.Path, err)
	}
	return nil
}

// PodInterface is the pod's side of its network: its interface's address
// and its default route.
type PodInterface struct {
	Name    string       // eth0
	Addr    netip.Prefix // the pod's IP with its node's pod network's length
	Gateway netip.Addr   // the node bridge's address
}

// ConfigurePod sets up the pod's side in the namespace at podNS, with
// sysctls set first: lo up, the interface's address, the interface up and
// the default route via the gateway.
func ConfigurePod(podNS string, sysctls [][2]string, i PodInterface) error {
	h, err := nsenter.NetlinkAfter(podNS, sysctls)
	if err != nil {
		return err
	}
	p := &Netns{Path: podNS, h: h}
	defer p.Close()
	if err := p.LoopbackUp(); err != nil {
		return err
	}
	if err := p.EnsureAddrUp(i.Name, i.Addr); err != nil {
		return err
	}
	return p.ReplaceRoute(DefaultRoute(i.Name, i.Gateway))
}
