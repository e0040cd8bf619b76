package inspect

import (
	"encoding/binary"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Listening sockets come from the kernel's sock_diag netlink interface, in
// the namespace: a dump filtered to listening TCP walks only the
// listening hash, where reading /proc/PID/net/tcp walks every socket of
// the machine (about 2.5 ms per file here, per namespace). The tables are
// the machine's, shared by every namespace, so each dump costs a walk of
// them per namespace (10–15 µs here): TCP of both families is one walk,
// through the older TCPDIAG_GETSOCK request, which dumps every family.

const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	tcpDiagGetSock   = 18 // TCPDIAG_GETSOCK
	tcpListen        = 10 // TCP_LISTEN
	tcpClose         = 7  // TCP_CLOSE: an unconnected (bound) UDP socket
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagReqV1Len = 60 // struct inet_diag_req
	inetDiagMsgLen   = 72 // struct inet_diag_msg
)

// diagSocket is one socket from a sock_diag dump.
type diagSocket struct {
	proto string
	addr  string
	port  int
	inode uint64
}

// tcpBothFamilies is the request for listening TCP of both families (a
// variable for the test of a kernel without it).
var tcpBothFamilies uint16 = tcpDiagGetSock

// diagQuery is one SOCK_DIAG_BY_FAMILY dump: a family and protocol, the
// socket states wanted, and the name netx shows for them.
type diagQuery struct {
	family, proto uint8
	states        uint32
	name          string
}

// sockDiagListeners dumps the listening TCP and bound UDP sockets, over
// IPv4 and IPv6, through a sock_diag socket opened in the namespace.
func sockDiagListeners(d *nlDumper) ([]diagSocket, error) {
	var out []diagSocket
	queries := []diagQuery{{unix.AF_INET, unix.IPPROTO_UDP, 1 << tcpClose, "udp"}, {unix.AF_INET6, unix.IPPROTO_UDP, 1 << tcpClose, "udp6"}}
	// TCP, both families: struct inet_diag_req (family, lengths, ext,
	// the socket id, then the states).
	tcp := make([]byte, inetDiagReqV1Len)
	tcp[0] = unix.AF_INET
	binary.NativeEndian.PutUint32(tcp[52:56], 1<<tcpListen)
	if socks, err := diagDump(d, tcpBothFamilies, tcp, "tcp"); err == nil {
		out = append(out, socks...)
	} else {
		// A kernel without the older request: a walk per family.
		queries = append([]diagQuery{{unix.AF_INET, unix.IPPROTO_TCP, 1 << tcpListen, "tcp"}, {unix.AF_INET6, unix.IPPROTO_TCP, 1 << tcpListen, "tcp6"}}, queries...)
	}
	for _, q := range queries {
		// struct inet_diag_req_v2: family, protocol, ext, pad, states, id.
		req := make([]byte, inetDiagReqLen)
		req[0], req[1] = q.family, q.proto
		binary.NativeEndian.PutUint32(req[4:8], q.states)
		socks, err := diagDump(d, sockDiagByFamily, req, q.name)
		if err != nil {
			return nil, fmt.Errorf("sock_diag %s: %w", q.name, err)
		}
		out = append(out, socks...)
	}
	return out, nil
}

// diagDump runs one sock_diag dump; name is the sockets' protocol as netx
// shows it ("tcp" becomes "tcp6" for an IPv6 socket).
func diagDump(d *nlDumper, typ uint16, req []byte, name string) ([]diagSocket, error) {
	return dumpRetry(func() ([]diagSocket, error) {
		var out []diagSocket
		err := d.dump(typ, req, func(_ uint16, m []byte) {
			if s, ok := parseDiagMsg(m, name); ok {
				out = append(out, s)
			}
		})
		return out, err
	})
}

// parseDiagMsg reads struct inet_diag_msg: family, state, timer, retrans,
// then the socket id (ports big-endian, 16-byte addresses), then expires,
// rqueue, wqueue, uid and the inode.
func parseDiagMsg(b []byte, name string) (diagSocket, bool) {
	if len(b) < inetDiagMsgLen {
		return diagSocket{}, false
	}
	family := b[0]
	if family == unix.AF_INET6 && name == "tcp" {
		name = "tcp6"
	}
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
