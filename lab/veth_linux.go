package lab

import (
	"fmt"
	"net"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// rtnl is a route-netlink socket living in one namespace, for the few
// requests the netlink library cannot make in one round trip.
type rtnl struct {
	socks map[int]*nl.SocketHandle
}

func openRTNL(ns string) (*rtnl, error) {
	var s *nl.NetlinkSocket
	err := nsenter.Do(nsenter.Net(ns), func() error {
		var err error
		s, err = nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink socket in %s: %w", ns, err)
	}
	return &rtnl{socks: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}}, nil
}

func (r *rtnl) Close() {
	for _, s := range r.socks {
		s.Close()
	}
}

// podVeth describes a pod's veth pair: the node end (a bridge port) and
// eth0, born inside the pod's namespace.
type podVeth struct {
	Name    string // node end
	Index   int    // node end's ifindex, chosen so no lookup is needed
	MTU     int
	Master  int // bridge ifindex
	PeerNS  int // fd of the pod's network namespace
	PeerMAC net.HardwareAddr
}

// addPodVeth creates the pair in one RTM_NEWLINK: the node end up and
// enslaved to the bridge, eth0 created directly in the pod namespace with
// its MAC — `ip link add NAME index N mtu M master BR up type veth peer
// name eth0 address MAC netns POD`.
func (r *rtnl) addPodVeth(v podVeth) error {
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: unix.SizeofNlMsghdr, Type: unix.RTM_NEWLINK,
			Flags: unix.NLM_F_REQUEST | unix.NLM_F_CREATE | unix.NLM_F_EXCL | unix.NLM_F_ACK},
		Sockets: r.socks,
	}
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(v.Index)
	msg.Flags, msg.Change = unix.IFF_UP, unix.IFF_UP
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(v.Name)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(v.MTU))))
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(v.Master))))
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("veth"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	peer := data.AddRtAttr(nl.VETH_INFO_PEER, nil)
	// The peer cannot be brought up here: the kernel configures it before
	// the pair is linked, and veth_open fails with ENOTCONN.
	nl.NewIfInfomsgChild(peer, unix.AF_UNSPEC)
	peer.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(PodIfName))
	peer.AddRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(v.MTU)))
	peer.AddRtAttr(unix.IFLA_ADDRESS, []byte(v.PeerMAC))
	peer.AddRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(v.PeerNS)))
	req.AddData(info)
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("add veth %s (peer %s): %w", v.Name, PodIfName, err)
	}
	return nil
}
