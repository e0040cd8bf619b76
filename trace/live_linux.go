package trace

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/netx-project/netx/internal/capture"
	"github.com/netx-project/netx/internal/nftrace"
	"github.com/netx-project/netx/internal/nsenter"
	"golang.org/x/sys/unix"
)

// A LiveRun is a plan (or one node's part of it) carried out where its
// namespaces are: the kernel traces and the captures run from StartLive
// to Stop, with the probe sent between.
type LiveRun struct {
	plan     *LivePlan
	set      *capture.Set
	sessions []liveSession
	warnings []string
}

type liveSession struct {
	ns LiveNetns
	s  *nftrace.Session
}

// StartLive checks every namespace of the plan is still the one the
// snapshot saw, adds the trace rules (removing those a killed run left)
// and opens the captures. Nothing is left when it fails. seen, when not
// nil, is given each packet the captures keep as they keep it (without
// its bytes; Point is the plan's Index), from the captures' goroutines.
func StartLive(plan *LivePlan, seen func(capture.Packet)) (*LiveRun, error) {
	for _, p := range plan.Points {
		if err := stillSame(p.LiveNetns); err != nil {
			return nil, err
		}
	}
	for _, t := range plan.Traces {
		if err := stillSame(t); err != nil {
			return nil, err
		}
	}
	r := &LiveRun{plan: plan}
	for _, t := range plan.Traces {
		nftrace.Cleanup(t.Path)
		s, err := nftrace.Start(t.Path, plan.TraceTuples)
		if err != nil {
			r.warnings = append(r.warnings, fmt.Sprintf("no kernel trace in %s on %s: %v", t.Label, t.Node, err))
			continue
		}
		r.sessions = append(r.sessions, liveSession{t, s})
	}
	keep := keeps(plan.Keep)
	if seen != nil {
		flows := keep
		keep = func(p capture.Packet) bool {
			if !flows(p) {
				return false
			}
			p.Data, p.Point = nil, plan.Points[p.Point].Index
			seen(p)
			return true
		}
	}
	set, err := capture.Start(plan.capturePoints(), keep)
	if err != nil {
		for _, s := range r.sessions {
			s.s.Stop()
		}
		return nil, err
	}
	r.set = set
	return r, nil
}

// Probe sends the plan's probe, when this part has it, and says what the
// sender saw ("" without one).
func (r *LiveRun) Probe(ctx context.Context) string {
	p := r.plan.Probe
	if p == nil {
		return ""
	}
	return probe(ctx, p.Netns, fromCap(p.Packet), p.Timeout)
}

// Stop ends the captures and the kernel traces (the trace rules are
// removed) and returns what they saw, the packets numbered by the plan's
// point indexes. Call it once, however the run ends.
func (r *LiveRun) Stop() *LiveEvidence {
	ev := &LiveEvidence{Warnings: r.warnings}
	pkts := r.set.Stop()
	if err := r.set.Err(); err != nil {
		ev.Warnings = append(ev.Warnings, "capture: "+err.Error())
	}
	for i := range pkts {
		pkts[i].Point = r.plan.Points[pkts[i].Point].Index
	}
	ev.Packets = pkts
	for _, s := range r.sessions {
		events, err := s.s.Stop()
		if err != nil {
			ev.Warnings = append(ev.Warnings, fmt.Sprintf("kernel trace in %s on %s: %v", s.ns.Label, s.ns.Node, err))
		}
		t := LiveTraced{Node: s.ns.Node, Netns: s.ns.Path, Events: events, Positions: map[string]map[uint64]int{}}
		for _, e := range events {
			key := e.Family + " " + e.Table + " " + e.Chain
			if e.Type == nftrace.TypeRule && e.Handle != 0 && t.Positions[key] == nil {
				t.Positions[key] = rulePositions(s.ns.Path, e.Family, e.Table, e.Chain)
			}
		}
		ev.Traces = append(ev.Traces, t)
	}
	r.sessions = nil
	return ev
}

// stillSame checks a namespace of the snapshot is still there, the same
// one (device and inode): a probe must not be watched in a stranger.
func stillSame(ns LiveNetns) error {
	id, err := nsenter.IDOf(ns.Path)
	if err != nil || ns.Inode != 0 && (id.Dev != ns.Dev || id.Ino != ns.Inode) {
		return fmt.Errorf("namespace %s is gone or replaced since the snapshot: --live needs the live node (not a snapshot from elsewhere)", ns.Path)
	}
	return nil
}

// probe sends the packet from inside the namespace at path: a TCP connect
// from its exact source address and port, a UDP datagram from them (then
// waiting for the answer), or an ICMP echo request, and says what the
// sender saw: connected, answered (UDP), echo-reply, refused (a reset, or
// ICMP port unreachable), unreachable (ICMP host or network unreachable),
// timeout.
func probe(ctx context.Context, path string, p Packet, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch p.Proto {
	case "tcp", "udp":
		var conn net.Conn
		var derr error
		err := nsenter.Do(nsenter.Net(path), func() error {
			d := net.Dialer{LocalAddr: addrFor(p.Proto, netip.AddrPortFrom(p.Src, p.SPort)), Control: reuseAddr}
			conn, derr = d.DialContext(ctx, p.Proto+"4", netip.AddrPortFrom(p.Dst, p.DPort).String())
			return nil
		})
		if err != nil {
			return "not sent: " + err.Error()
		}
		if derr != nil {
			return failure(derr)
		}
		defer conn.Close()
		if p.Proto == "udp" {
			return answer(ctx, conn)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, not a TIME_WAIT left behind
		}
		return "connected"
	case "icmp":
		var c net.PacketConn
		err := nsenter.Do(nsenter.Net(path), func() error {
			var err error
			c, err = net.ListenPacket("ip4:icmp", p.Src.String())
			return err
		})
		if err != nil {
			return "not sent: " + err.Error()
		}
		defer c.Close()
		id := uint16(unix.Getpid())
		msg := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'n', 'e', 't', 'x'}
		binary.BigEndian.PutUint16(msg[2:], checksum(msg))
		if _, err := c.WriteTo(msg, &net.IPAddr{IP: p.Dst.AsSlice()}); err != nil {
			return "not sent: " + err.Error()
		}
		deadline, _ := ctx.Deadline()
		c.SetReadDeadline(deadline)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return "timeout"
			}
			if ip, ok := from.(*net.IPAddr); ok && ip.IP.Equal(p.Dst.AsSlice()) && n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id {
				return "echo-reply"
			}
		}
	}
	return "not sent: protocol " + p.Proto + " cannot be probed"
}

// failure names what a socket error tells the sender.
func failure(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) || isTimeout(err):
		return "timeout"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	}
	return "error: " + err.Error()
}

// answer sends the UDP probe on its connected socket and waits, until
// ctx's deadline, for the datagram that answers it. The socket being
// connected, the kernel reports an ICMP error for the flow on the read:
// port unreachable as ECONNREFUSED, host or network unreachable as such.
func answer(ctx context.Context, conn net.Conn) string {
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) }) // Ctrl-C
	defer stop()
	if _, err := conn.Write([]byte("netx trace probe\n")); err != nil {
		return failure(err)
	}
	buf := make([]byte, 2048)
	if _, err := conn.Read(buf); err != nil {
		return failure(err)
	}
	return "answered"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func addrFor(proto string, ap netip.AddrPort) net.Addr {
	if proto == "udp" {
		return net.UDPAddrFromAddrPort(ap)
	}
	return net.TCPAddrFromAddrPort(ap)
}

func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) })
	return serr
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// rulePositions maps rule handles to 1-based positions in a chain.
func rulePositions(netnsPath, family, table, chain string) map[uint64]int {
	out := map[uint64]int{}
	fd, err := unix.Open(netnsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return out
	}
	defer unix.Close(fd)
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return out
	}
	defer c.CloseLasting()
	fam := map[string]nftables.TableFamily{"ip": nftables.TableFamilyIPv4, "ip6": nftables.TableFamilyIPv6, "inet": nftables.TableFamilyINet, "bridge": nftables.TableFamilyBridge}[family]
	rules, err := c.GetRules(&nftables.Table{Name: table, Family: fam}, &nftables.Chain{Name: chain})
	if err != nil {
		return out
	}
	for i, r := range rules {
		out[r.Handle] = i + 1
	}
	return out
}
