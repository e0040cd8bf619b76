package testenv

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// AddNFAcct creates nfacct accounting objects in the calling thread's
// network namespace, as kube-proxy does when it starts: its iptables
// rules count into them, and iptables-restore refuses a rule naming one
// that does not exist. (One nfnetlink NFNL_MSG_ACCT_NEW request each.)
func AddNFAcct(names ...string) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("nfnetlink socket: %w", err)
	}
	defer unix.Close(fd)
	const (
		msgAcctNew = 0 // NFNL_MSG_ACCT_NEW
		attrName   = 1 // NFACCT_NAME
	)
	for seq, name := range names {
		attrLen := unix.SizeofRtAttr + len(name) + 1
		msg := make([]byte, unix.SizeofNlMsghdr+4+(attrLen+3)&^3)
		ne := binary.NativeEndian
		ne.PutUint32(msg[0:], uint32(len(msg)))
		ne.PutUint16(msg[4:], unix.NFNL_SUBSYS_ACCT<<8|msgAcctNew)
		ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE)
		ne.PutUint32(msg[8:], uint32(seq+1))
		// nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0.
		a := msg[unix.SizeofNlMsghdr+4:]
		ne.PutUint16(a[0:], uint16(attrLen))
		ne.PutUint16(a[2:], attrName)
		copy(a[4:], name)
		if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("nfacct %s: %w", name, err)
		}
		buf := make([]byte, 4096)
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("nfacct %s: %w", name, err)
		}
		if n < unix.SizeofNlMsghdr+4 || ne.Uint16(buf[4:]) != unix.NLMSG_ERROR {
			return fmt.Errorf("nfacct %s: unexpected netlink answer", name)
		}
		if errno := int32(ne.Uint32(buf[unix.SizeofNlMsghdr:])); errno != 0 && syscall.Errno(-errno) != unix.EEXIST {
			return fmt.Errorf("nfacct %s: %w", name, syscall.Errno(-errno))
		}
	}
	return nil
}
