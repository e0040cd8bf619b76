package testenv

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/netx-project/netx/internal/nlmsg"
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
	c := nlmsg.Conn{FD: fd, Buf: make([]byte, 4096)}
	for _, name := range names {
		// nfgenmsg (family AF_UNSPEC, version NFNETLINK_V0, res_id 0),
		// then the name.
		attrLen := unix.SizeofRtAttr + len(name) + 1
		body := make([]byte, 4+(attrLen+3)&^3)
		binary.NativeEndian.PutUint16(body[4:], uint16(attrLen))
		binary.NativeEndian.PutUint16(body[6:], attrName)
		copy(body[8:], name)
		err := c.Request(unix.NFNL_SUBSYS_ACCT<<8|msgAcctNew, unix.NLM_F_ACK|unix.NLM_F_CREATE, body, func(uint16, []byte) error { return nil })
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("nfacct %s: %w", name, err)
		}
	}
	return nil
}
