package inspect

import (
	"encoding/binary"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Listening sockets come from the kernel's sock_diag netlink interface, in
// the namespace: a dump filtered to listening TCP walks only the
// listening hash, where reading /proc/PID/net/tcp walks every socket of
// the machine (about 2.5 ms per file here, per namespace).

const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	tcpListen        = 10 // TCP_LISTEN
	tcpClose         = 7  // TCP_CLOSE: an unconnected (bound) UDP socket
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
)

// diagSocket is one socket from a sock_diag dump.
type diagSocket struct {
	proto string
	addr  string
	port  int
	inode uint64
}

// sockDiagListeners dumps the listening TCP and bound UDP sockets, over
// IPv4 and IPv6, through a sock_diag socket opened in the namespace.
func sockDiagListeners(fd int) ([]diagSocket, error) {
	var out []diagSocket
	buf := make([]byte, 64*1024) // one buffer for the four dumps
	for _, q := range []struct {
		family uint8
		proto  uint8
		states uint32
		name   string
	}{
		{unix.AF_INET, unix.IPPROTO_TCP, 1 << tcpListen, "tcp"},
		{unix.AF_INET6, unix.IPPROTO_TCP, 1 << tcpListen, "tcp6"},
		{unix.AF_INET, unix.IPPROTO_UDP, 1 << tcpClose, "udp"},
		{unix.AF_INET6, unix.IPPROTO_UDP, 1 << tcpClose, "udp6"},
	} {
		socks, err := diagDump(fd, buf, q.family, q.proto, q.states, q.name)
		if err != nil {
			return nil, fmt.Errorf("sock_diag %s: %w", q.name, err)
		}
		out = append(out, socks...)
	}
	return out, nil
}

func diagDump(fd int, buf []byte, family, proto uint8, states uint32, name string) ([]diagSocket, error) {
	req := make([]byte, unix.NLMSG_HDRLEN+inetDiagReqLen)
	binary.NativeEndian.PutUint32(req[0:4], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:6], sockDiagByFamily)
	binary.NativeEndian.PutUint16(req[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:12], 1) // seq
	body := req[unix.NLMSG_HDRLEN:]
	body[0], body[1] = family, proto
	binary.NativeEndian.PutUint32(body[4:8], states)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out []diagSocket
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m.Data[:4])); e != 0 {
						return nil, unix.Errno(-e)
					}
				}
				return out, nil
			}
			if s, ok := parseDiagMsg(m.Data, name); ok {
				out = append(out, s)
			}
		}
	}
}

// parseDiagMsg reads struct inet_diag_msg: family, state, timer, retrans,
// then the socket id (ports big-endian, 16-byte addresses), then expires,
// rqueue, wqueue, uid and the inode.
func parseDiagMsg(b []byte, name string) (diagSocket, bool) {
	if len(b) < inetDiagMsgLen {
		return diagSocket{}, false
	}
	family := b[0]
	id := b[4:52]
	port := int(binary.BigEndian.Uint16(id[0:2]))
	var ip net.IP
	if family == unix.AF_INET {
		ip = net.IP(append([]byte(nil), id[4:8]...))
	} else {
		ip = net.IP(append([]byte(nil), id[4:20]...))
	}
	inode := binary.NativeEndian.Uint32(b[68:72])
	return diagSocket{proto: name, addr: ip.String(), port: port, inode: uint64(inode)}, true
}
