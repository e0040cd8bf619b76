//go:build linux

package nftrace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netx-project/netx/internal/nsenter"
)

// TablePrefix starts the name of every trace table: netx-trace-<pid>-<port>,
// with the pid of the process that made it (Cleanup's test of whether it
// is left over) and the netlink port id of the socket that owns it (unique
// in the namespace while that socket is open).
const TablePrefix = "netx-trace-"

const (
	// tracePriority puts the trace chains before raw (-300), so before
	// conntrack and every NAT and filter chain at the same hook.
	tracePriority = -400
	// readBuffer holds a burst of events while the reader catches up (in
	// the tests, 9000 events sent as fast as a loop can send packets fit,
	// 24000 did not); as root the socket gets it beyond net.core.rmem_max.
	readBuffer = 16 << 20
	// Stop waits until no event came for quiet, at most grace in all, so
	// the events of packets still on their way are kept.
	quiet = 50 * time.Millisecond
	grace = time.Second
	// tableOwner is NFT_TABLE_F_OWNER (kernel 5.12): the table belongs to
	// the netlink socket that made it and goes away when that closes.
	tableOwner = 0x2
	// ackTimeout bounds the wait for the kernel's answer to a transaction.
	ackTimeout = 5 * time.Second
)

// ErrEventsLost says the socket overflowed and the kernel dropped events:
// the events returned are incomplete.
var ErrEventsLost = errors.New("trace events lost: the socket buffer overflowed")

// Session is a trace in progress in one network namespace.
type Session struct {
	netns string
	table string
	nft   *netlink.Conn // made and owns the table
	ev    *netlink.Conn // subscribed to NFNLGRP_NFTRACE
	links *vnl.Handle   // resolves ifindexes in the namespace
	done  chan struct{} // closed when the reader returns

	mu     sync.Mutex
	events []Event
	lost   int
	rerr   error
	last   time.Time // arrival of the latest event

	stop    sync.Once
	out     []Event
	stopErr error
}

// Start begins tracing in the network namespace at netnsPath: it adds a
// table TablePrefix<pid>-<port> (family ip) whose base chains at prerouting
// and output, priority -400, set `meta nftrace set 1` for IPv4 packets
// matching any of tuples, and reads the namespace's trace events until
// Stop. The sockets are opened inside the namespace and used from here.
// Nothing is left in the namespace when Start fails.
func Start(netnsPath string, tuples []Tuple) (*Session, error) {
	rules, err := traceRules(tuples)
	if err != nil {
		return nil, err
	}
	s := &Session{netns: netnsPath, done: make(chan struct{})}
	if err := nsenter.Do(nsenter.Net(netnsPath), func() error {
		var err error
		if s.ev, err = netlink.Dial(unix.NETLINK_NETFILTER, nil); err != nil {
			return fmt.Errorf("open trace socket: %w", err)
		}
		if s.nft, err = netlink.Dial(unix.NETLINK_NETFILTER, nil); err != nil {
			return fmt.Errorf("open nftables socket: %w", err)
		}
		if s.links, err = vnl.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return fmt.Errorf("open route socket: %w", err)
		}
		return nil
	}); err != nil {
		s.close()
		return nil, fmt.Errorf("trace in %s: %w", netnsPath, err)
	}
	port, err := portID(s.nft)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("trace in %s: %w", netnsPath, err)
	}
	s.table = fmt.Sprintf("%s%d-%d", TablePrefix, os.Getpid(), port)

	// Best effort: without privilege the buffer stays at rmem_max, and an
	// overflow is still reported by Stop.
	_ = s.ev.SetReadBuffer(readBuffer)
	if err := s.ev.JoinGroup(groupTrace); err != nil {
		s.close()
		return nil, fmt.Errorf("subscribe to nftrace events in %s: %w", netnsPath, err)
	}
	// Reading starts before the table exists, so no event is missed.
	go s.read()
	if err := s.addTable(rules); err != nil {
		// The transaction is all or nothing, but an answer can be lost:
		// make sure (the owner flag would also remove it with the socket).
		_ = s.transact([]netlink.Message{s.delTable()})
		s.ev.Close()
		<-s.done
		s.close()
		return nil, fmt.Errorf("add trace table %s in %s: %w", s.table, netnsPath, err)
	}
	return s, nil
}

// Table is the name of the session's trace table.
func (s *Session) Table() string { return s.table }

// Stop waits briefly for the events of packets still in flight, deletes
// the table, drains and closes the sockets, and returns the events in
// arrival order without those of netx's own trace table. It is idempotent:
// later calls return what the first one did. If the kernel dropped events
// (the socket overflowed), the error wraps ErrEventsLost and the events
// that did arrive are returned with it.
func (s *Session) Stop() ([]Event, error) {
	s.stop.Do(func() { s.out, s.stopErr = s.stopOnce() })
	return s.out, s.stopErr
}

func (s *Session) stopOnce() ([]Event, error) {
	start := time.Now()
	for {
		s.mu.Lock()
		last := s.last
		s.mu.Unlock()
		now := time.Now()
		if now.Sub(start) >= grace || (now.Sub(last) >= quiet && now.Sub(start) >= quiet) {
			break
		}
		time.Sleep(quiet / 5)
	}
	var errs []error
	if err := s.transact([]netlink.Message{s.delTable()}); err != nil && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("delete trace table %s in %s: %w", s.table, s.netns, err))
	}
	// What is queued in the socket is read at once; the deadline ends
	// the reader when the queue is empty.
	s.ev.SetReadDeadline(time.Now().Add(quiet))
	<-s.done
	s.close()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rerr != nil {
		errs = append(errs, fmt.Errorf("read trace events in %s: %w", s.netns, s.rerr))
	}
	if s.lost > 0 {
		errs = append(errs, fmt.Errorf("%w (%d overflows in %s)", ErrEventsLost, s.lost, s.netns))
	}
	out := make([]Event, 0, len(s.events))
	for _, e := range s.events {
		if !(e.Family == "ip" && e.Table == s.table) {
			out = append(out, e)
		}
	}
	fillForward(out)
	return out, errors.Join(errs...)
}

// close releases the sockets; the kernel deletes an owned table with
// the socket that made it.
func (s *Session) close() {
	if s.links != nil {
		s.links.Close()
	}
	if s.nft != nil {
		s.nft.Close()
	}
	if s.ev != nil {
		s.ev.Close()
	}
}

// read collects events until the socket is closed or its deadline passes.
func (s *Session) read() {
	defer close(s.done)
	names := map[uint32]string{}
	name := func(i uint32) string {
		if i == 0 {
			return ""
		}
		n, ok := names[i]
		if !ok {
			if l, err := s.links.LinkByIndex(int(i)); err == nil {
				n = l.Attrs().Name
			}
			names[i] = n
		}
		return n
	}
	for {
		msgs, err := s.ev.Receive()
		if err != nil {
			switch {
			case errors.Is(err, unix.ENOBUFS):
				s.mu.Lock()
				s.lost++
				s.mu.Unlock()
				continue
			case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, os.ErrClosed), errors.Is(err, unix.EBADF):
			default:
				s.mu.Lock()
				s.rerr = err
				s.mu.Unlock()
			}
			return
		}
		for _, m := range msgs {
			if m.Header.Type != traceType {
				continue
			}
			ev, err := decodeTrace(m.Data)
			if err != nil {
				continue // a message this decoder cannot read says nothing it can report
			}
			ev.IIF, ev.OIF = name(ev.IIFIndex), name(ev.OIFIndex)
			s.mu.Lock()
			s.events = append(s.events, ev)
			s.last = time.Now()
			s.mu.Unlock()
		}
	}
}

// Cleanup removes the trace tables (TablePrefix<pid>-<n>, any family) left
// in the namespace at netnsPath by processes that no longer run. Tables
// with the owner flag are the kernel's to remove and are left alone. The
// pid is looked up in this process's pid namespace.
func Cleanup(netnsPath string) error {
	var c *netlink.Conn
	if err := nsenter.Do(nsenter.Net(netnsPath), func() error {
		var err error
		c, err = netlink.Dial(unix.NETLINK_NETFILTER, nil)
		return err
	}); err != nil {
		return fmt.Errorf("open nftables socket in %s: %w", netnsPath, err)
	}
	defer c.Close()
	tables, err := listTables(c)
	if err != nil {
		return fmt.Errorf("list nftables tables in %s: %w", netnsPath, err)
	}
	var dels []netlink.Message
	var names []string
	for _, t := range tables {
		pid, ok := tablePID(t.name)
		if !ok || t.flags&tableOwner != 0 || alive(pid) {
			continue
		}
		dels = append(dels, nfMsg(unix.NFT_MSG_DELTABLE, 0, t.family, tableAttrs(t.name, 0)))
		names = append(names, familyName(t.family)+" "+t.name)
	}
	if len(dels) == 0 {
		return nil
	}
	if err := transact(c, dels); err != nil {
		return fmt.Errorf("delete leftover trace tables %s in %s: %w", strings.Join(names, ", "), netnsPath, err)
	}
	return nil
}

// tablePID reads the pid out of a trace table's name.
func tablePID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, TablePrefix)
	if !ok {
		return 0, false
	}
	p, n, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	if err != nil || pid <= 0 {
		return 0, false
	}
	if _, err := strconv.ParseUint(n, 10, 32); err != nil {
		return 0, false
	}
	return pid, true
}

// alive says whether a process with this pid exists (or might: a pid that
// cannot be signalled belongs to someone).
func alive(pid int) bool {
	return !errors.Is(unix.Kill(pid, 0), unix.ESRCH)
}

type tableInfo struct {
	family uint8
	name   string
	flags  uint32
}

func listTables(c *netlink.Conn) ([]tableInfo, error) {
	replies, err := c.Execute(nfMsg(unix.NFT_MSG_GETTABLE, netlink.Request|netlink.Dump, unix.NFPROTO_UNSPEC, nil))
	if err != nil {
		return nil, err
	}
	var out []tableInfo
	for _, r := range replies {
		if len(r.Data) < 4 {
			continue
		}
		t := tableInfo{family: r.Data[0]}
		ad, err := netlink.NewAttributeDecoder(r.Data[4:])
		if err != nil {
			return nil, err
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			switch ad.Type() {
			case unix.NFTA_TABLE_NAME:
				t.name = ad.String()
			case unix.NFTA_TABLE_FLAGS:
				t.flags = ad.Uint32()
			}
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// addTable creates the table, its two chains and their rules in one
// transaction, owned by the session's socket. A kernel that predates the
// owner flag (5.12) gets the same table without it; Stop and Cleanup
// remove it then.
func (s *Session) addTable(rules [][]expr.Any) error {
	priority := int32(tracePriority)
	build := func(flags uint32) ([]netlink.Message, error) {
		msgs := []netlink.Message{nfMsg(unix.NFT_MSG_NEWTABLE, netlink.Create|netlink.Excl, unix.NFPROTO_IPV4, tableAttrs(s.table, flags))}
		for _, ch := range []struct {
			name string
			hook uint32
		}{{"prerouting", unix.NF_INET_PRE_ROUTING}, {"output", unix.NF_INET_LOCAL_OUT}} {
			msgs = append(msgs, nfMsg(unix.NFT_MSG_NEWCHAIN, netlink.Create|netlink.Excl, unix.NFPROTO_IPV4, []netlink.Attribute{
				{Type: unix.NFTA_CHAIN_TABLE, Data: cstr(s.table)},
				{Type: unix.NFTA_CHAIN_NAME, Data: cstr(ch.name)},
				{Type: unix.NLA_F_NESTED | unix.NFTA_CHAIN_HOOK, Data: mustAttrs([]netlink.Attribute{
					{Type: unix.NFTA_HOOK_HOOKNUM, Data: be32(ch.hook)},
					{Type: unix.NFTA_HOOK_PRIORITY, Data: be32(uint32(priority))},
				})},
				{Type: unix.NFTA_CHAIN_POLICY, Data: be32(1)}, // NF_ACCEPT
				{Type: unix.NFTA_CHAIN_TYPE, Data: cstr("filter")},
			}))
			for _, r := range rules {
				var list []netlink.Attribute
				for _, e := range r {
					b, err := expr.Marshal(unix.NFPROTO_IPV4, e)
					if err != nil {
						return nil, err
					}
					list = append(list, netlink.Attribute{Type: unix.NLA_F_NESTED | unix.NFTA_LIST_ELEM, Data: b})
				}
				msgs = append(msgs, nfMsg(unix.NFT_MSG_NEWRULE, netlink.Create|netlink.Append, unix.NFPROTO_IPV4, []netlink.Attribute{
					{Type: unix.NFTA_RULE_TABLE, Data: cstr(s.table)},
					{Type: unix.NFTA_RULE_CHAIN, Data: cstr(ch.name)},
					{Type: unix.NLA_F_NESTED | unix.NFTA_RULE_EXPRESSIONS, Data: mustAttrs(list)},
				}))
			}
		}
		return msgs, nil
	}
	msgs, err := build(tableOwner)
	if err != nil {
		return err
	}
	err = s.transact(msgs)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
		msgs, _ = build(0)
		err = s.transact(msgs)
	}
	return err
}

func (s *Session) delTable() netlink.Message {
	return nfMsg(unix.NFT_MSG_DELTABLE, 0, unix.NFPROTO_IPV4, tableAttrs(s.table, 0))
}

func (s *Session) transact(msgs []netlink.Message) error { return transact(s.nft, msgs) }

// traceRules turns tuples into rule bodies: the tuple's matches, then
// `meta nftrace set 1`.
func traceRules(tuples []Tuple) ([][]expr.Any, error) {
	if len(tuples) == 0 {
		return nil, errors.New("trace: no packet tuple to trace")
	}
	var rules [][]expr.Any
	for _, t := range tuples {
		var r []expr.Any
		match := func(base expr.PayloadBase, off uint32, data []byte) {
			r = append(r,
				&expr.Payload{DestRegister: 1, Base: base, Offset: off, Len: uint32(len(data))},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data})
		}
		var proto byte
		switch t.Proto {
		case "tcp":
			proto = unix.IPPROTO_TCP
		case "udp":
			proto = unix.IPPROTO_UDP
		case "sctp":
			proto = unix.IPPROTO_SCTP
		case "icmp":
			proto = unix.IPPROTO_ICMP
		case "":
		default:
			return nil, fmt.Errorf("trace %s: protocol %q is not tcp, udp, sctp or icmp", t, t.Proto)
		}
		if (t.SPort != 0 || t.DPort != 0) && (proto == 0 || proto == unix.IPPROTO_ICMP) {
			return nil, fmt.Errorf("trace %s: ports need tcp, udp or sctp", t)
		}
		if proto != 0 {
			match(expr.PayloadBaseNetworkHeader, 9, []byte{proto}) // ip protocol
		}
		if t.Src.IsValid() {
			if !t.Src.Unmap().Is4() {
				return nil, fmt.Errorf("trace %s: only IPv4 is traced", t)
			}
			a := t.Src.Unmap().As4()
			match(expr.PayloadBaseNetworkHeader, 12, a[:]) // ip saddr
		}
		if t.Dst.IsValid() {
			if !t.Dst.Unmap().Is4() {
				return nil, fmt.Errorf("trace %s: only IPv4 is traced", t)
			}
			a := t.Dst.Unmap().As4()
			match(expr.PayloadBaseNetworkHeader, 16, a[:]) // ip daddr
		}
		if t.SPort != 0 {
			match(expr.PayloadBaseTransportHeader, 0, binary.BigEndian.AppendUint16(nil, t.SPort))
		}
		if t.DPort != 0 {
			match(expr.PayloadBaseTransportHeader, 2, binary.BigEndian.AppendUint16(nil, t.DPort))
		}
		r = append(r,
			&expr.Immediate{Register: 1, Data: []byte{1}},
			&expr.Meta{Key: expr.MetaKeyNFTRACE, SourceRegister: true, Register: 1})
		rules = append(rules, r)
	}
	return rules, nil
}

// transact sends msgs as one nf_tables transaction (applied entirely or
// not at all) and waits for the kernel's answer to each.
func transact(c *netlink.Conn, msgs []netlink.Message) error {
	batch := []netlink.Message{batchMsg(unix.NFNL_MSG_BATCH_BEGIN)}
	for _, m := range msgs {
		m.Header.Flags |= netlink.Request | netlink.Acknowledge
		batch = append(batch, m)
	}
	batch = append(batch, batchMsg(unix.NFNL_MSG_BATCH_END))
	if _, err := c.SendMessages(batch); err != nil {
		return err
	}
	defer c.SetReadDeadline(time.Time{})
	c.SetReadDeadline(time.Now().Add(ackTimeout))
	var errs []error
	for got := 0; got < len(msgs); {
		replies, err := c.Receive()
		switch {
		case err == nil:
			got += len(replies)
		case errors.Is(err, os.ErrDeadlineExceeded):
			if len(errs) == 0 {
				errs = append(errs, fmt.Errorf("no answer from the kernel in %s", ackTimeout))
			}
			return errors.Join(errs...)
		default:
			// After an error the kernel may answer fewer messages (one
			// for the whole batch when it refuses it): wait briefly.
			errs = append(errs, err)
			got++
			c.SetReadDeadline(time.Now().Add(quiet))
		}
	}
	return errors.Join(errs...)
}

func batchMsg(typ uint16) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: netlink.Request},
		Data:   []byte{unix.NFPROTO_UNSPEC, unix.NFNETLINK_V0, 0, subsysNFTables}, // res_id: the subsystem, big-endian
	}
}

// nfMsg is an nf_tables message: type, nfgenmsg header, attributes.
func nfMsg(typ uint16, flags netlink.HeaderFlags, family uint8, attrs []netlink.Attribute) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(subsysNFTables<<8 | typ), Flags: flags},
		Data:   append([]byte{family, unix.NFNETLINK_V0, 0, 0}, mustAttrs(attrs)...),
	}
}

func tableAttrs(name string, flags uint32) []netlink.Attribute {
	return []netlink.Attribute{
		{Type: unix.NFTA_TABLE_NAME, Data: cstr(name)},
		{Type: unix.NFTA_TABLE_FLAGS, Data: be32(flags)},
	}
}

// mustAttrs marshals attributes built here, whose only possible error
// (an attribute over 64 KiB) cannot happen.
func mustAttrs(attrs []netlink.Attribute) []byte {
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		panic(err)
	}
	return b
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// portID is the netlink port id the kernel gave the socket.
func portID(c *netlink.Conn) (uint32, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var sa unix.Sockaddr
	var serr error
	if err := rc.Control(func(fd uintptr) { sa, serr = unix.Getsockname(int(fd)) }); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, fmt.Errorf("getsockname: %w", serr)
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		return 0, fmt.Errorf("getsockname: not a netlink address: %T", sa)
	}
	return nl.Pid, nil
}
