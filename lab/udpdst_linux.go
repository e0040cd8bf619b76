package lab

import (
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// recvDst asks the kernel to tell, with each datagram read from c, the
// address it was sent to: IP_PKTINFO for IPv4 (also on a dual-stack
// socket), IPV6_RECVPKTINFO on an IPv6 socket.
func recvDst(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		if d, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); serr == nil && err == nil && d == unix.AF_INET6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// datagramDst reads the destination address from a datagram's control
// messages (see recvDst).
func datagramDst(oob []byte) (netip.Addr, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo: ifindex, spec_dst, addr (the header's
			// destination).
			return netip.AddrFrom4([4]byte(m.Data[8:12])), true
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo: addr, ifindex.
			return netip.AddrFrom16([16]byte(m.Data[0:16])).Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// answerFrom is the control message that sends an answer from src (the
// address its datagram was sent to), whatever the route would pick.
func answerFrom(src netip.Addr) []byte {
	if src.Is4() || src.Is4In6() {
		return unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: src.Unmap().As4()})
	}
	return unix.PktInfo6(&unix.Inet6Pktinfo{Addr: src.As16()})
}
