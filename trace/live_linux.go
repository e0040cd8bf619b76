package trace

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/internal/capture"
	"github.com/netx-project/netx/internal/nftrace"
	"github.com/netx-project/netx/internal/nsenter"
	"golang.org/x/sys/unix"
)

// Live predicts the path, then sends one real probe from the source's
// namespace and watches it at every predicted hop (AF_PACKET captures
// opened inside each namespace) and in the kernel's netfilter trace. It
// reports, hop by hop, what was seen, the NAT actually applied, the
// endpoint actually chosen and the first divergence from the prediction.
// The trace rules it adds are removed before it returns, also when ctx is
// cancelled (Ctrl-C).
func (w *World) Live(ctx context.Context, req Request, o LiveOptions) (*Result, *LiveReport, error) {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	res, src, err := w.run(req)
	if err != nil {
		return nil, nil, err
	}
	// Every way a random choice can go, so the probe is watched wherever
	// the kernel sends it.
	preds := []*Result{res}
	for _, b := range res.Branches {
		if b.Chosen {
			continue
		}
		r := req
		r.Endpoint = b.Endpoint.Addr()
		if !r.Endpoint.IsValid() {
			continue
		}
		if p, _, err := w.run(r); err == nil {
			preds = append(preds, p)
		}
	}
	srcNetns, srcAddr := src.at.NS, netip.Addr{}
	probeFrom := ""
	if o.ClientNetns == "" {
		o.ClientNetns, o.ClientAddr = w.ExternalNetns, w.External
	}
	if src.internet {
		if o.ClientNetns == "" {
			return nil, nil, badf("--live from internet needs an outside client's namespace to send from (a lab's client); trace without --live, or from a pod or node")
		}
		if req.ClientIP.IsValid() && req.ClientIP != o.ClientAddr {
			return nil, nil, badf("--client-ip %s: the probe is sent from the outside client's namespace, whose address is %s; trace with --client-ip %s, or without --live", req.ClientIP, o.ClientAddr, o.ClientAddr)
		}
		probeFrom, srcAddr = o.ClientNetns, o.ClientAddr
	} else {
		probeFrom = srcNetns.Path
		srcAddr, _ = netip.ParseAddr(res.Packet.Src)
	}

	// The places to watch, each a namespace that must still be the one
	// the snapshot saw.
	var points []capture.Point
	index := map[string]int{}
	tuples := map[capture.Tuple]bool{}
	var nsToTrace []Where
	for _, p := range preds {
		for _, hops := range [][]Hop{p.Hops, replyHops(p)} {
			for _, h := range hops {
				for _, t := range h.taps {
					tuples[capTuple(t.pkt)] = true
					if t.pkt.AnySPort {
						tuples[wild(capTuple(t.pkt))] = true
					}
					key := t.at.NS.Path + "\x00" + t.dev
					if _, ok := index[key]; ok {
						continue
					}
					if err := stillSame(t.at.NS); err != nil {
						return nil, nil, err
					}
					index[key] = len(points)
					points = append(points, capture.Point{Netns: t.at.NS.Path, Device: t.dev, Label: t.label()})
				}
				if h.Kind == HopNetfilter {
					if at := h.at; at.NS != nil && !slices.ContainsFunc(nsToTrace, func(x Where) bool { return x.NS == at.NS }) {
						nsToTrace = append(nsToTrace, at)
					}
				}
			}
		}
	}
	for _, p := range preds {
		for _, h := range p.Hops {
			tuples[capTuple(packetOf(h.Packet))] = true
		}
	}
	keep := func(p capture.Packet) bool {
		r := p.Tuple.Reverse()
		return p.OK && (tuples[p.Tuple] || tuples[r] || tuples[wild(p.Tuple)] || tuples[wild(r)] || tuples[wildDst(r)])
	}

	// The kernel's trace in every namespace whose rules the path crosses.
	var ntTuples []nftrace.Tuple
	for t := range tuples {
		if t.Proto == "tcp" || t.Proto == "udp" || t.Proto == "sctp" {
			if t.SPort == 0 || t.DPort == 0 {
				continue // a wildcard, for the captures only
			}
		}
		ntTuples = append(ntTuples, nftrace.Tuple{Proto: t.Proto, Src: t.Src, Dst: t.Dst, SPort: t.SPort, DPort: t.DPort})
	}
	slices.SortFunc(ntTuples, func(a, b nftrace.Tuple) int { return strings.Compare(a.String(), b.String()) })
	type session struct {
		at Where
		s  *nftrace.Session
	}
	var sessions []session
	report := &LiveReport{}
	defer func() {
		for _, s := range sessions {
			s.s.Stop()
		}
	}()
	for _, at := range nsToTrace {
		nftrace.Cleanup(at.NS.Path)
		s, err := nftrace.Start(at.NS.Path, ntTuples)
		if err != nil {
			report.Warnings = append(report.Warnings, fmt.Sprintf("no kernel trace in %s: %v", at.Label(), err))
			continue
		}
		sessions = append(sessions, session{at, s})
	}

	set, err := capture.Start(points, keep)
	if err != nil {
		return nil, nil, err
	}
	pkt := packetOf(res.Packet)
	if src.internet {
		pkt.Src = srcAddr
	}
	report.Probe = fmt.Sprintf("%s from %s", pkt, probeFrom)
	report.Outcome = probe(ctx, probeFrom, pkt, o.Timeout)
	// Let the last packets (a reset, a reply) reach every point.
	select {
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
	}
	pkts := set.Stop()
	if err := set.Err(); err != nil {
		report.Warnings = append(report.Warnings, "capture: "+err.Error())
	}
	type traced struct {
		at     Where
		events []nftrace.Event
	}
	var traces []traced
	for _, s := range sessions {
		ev, err := s.s.Stop()
		if err != nil {
			report.Warnings = append(report.Warnings, fmt.Sprintf("kernel trace in %s: %v", s.at.Label(), err))
		}
		traces = append(traces, traced{s.at, ev})
	}
	sessions = nil
	if o.Pcap != nil {
		if err := capture.WritePcapNG(o.Pcap, points, pkts); err != nil {
			return nil, nil, fmt.Errorf("write pcap: %w", err)
		}
	}
	report.Captured = len(pkts)
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}

	// The prediction to hold the probe to: the one for the endpoint the
	// kernel chose (the branch whose taps saw the most).
	// anyDPort: a reply to a packet whose source port a source NAT may
	// have changed, matched without its destination port.
	seen := func(t tap, anyDPort bool) (bool, *capture.Packet) {
		i := index[t.at.NS.Path+"\x00"+t.dev]
		var other *capture.Packet
		want := capTuple(t.pkt)
		for k := range pkts {
			p := &pkts[k]
			if p.Point != i {
				continue
			}
			if (p.Tuple == want || t.pkt.AnySPort && wild(p.Tuple) == wild(want) || anyDPort && wildDst(p.Tuple) == wildDst(want)) && p.Outgoing == t.out {
				return true, p
			}
			if other == nil && p.Outgoing == t.out && p.Tuple.Proto == want.Proto && (p.Tuple.SPort == want.SPort || p.Tuple.DPort == want.DPort) {
				other = p
			}
		}
		return false, other
	}
	best, bestScore := res, -1
	for _, p := range preds {
		score := 0
		for _, h := range p.Hops {
			for _, t := range h.taps {
				if ok, _ := seen(t, false); ok {
					score++
				} else {
					score--
				}
			}
		}
		if score > bestScore {
			best, bestScore = p, score
		}
	}
	res = best
	for _, b := range res.Branches {
		if b.Chosen && len(res.Branches) > 1 {
			report.Endpoint = b.Endpoint
		}
	}
	// judge holds one direction's predicted hops to the captures.
	judge := func(hops []Hop, reply, anyDPort bool) {
		what, which, nat := "probe", "hop", ""
		if reply {
			what, which, nat = "reply", "reply hop", " (reply)"
		}
		for i, h := range hops {
			for _, t := range h.taps {
				ok, as := seen(t, anyDPort)
				lh := LiveHop{Hop: i + 1, Reply: reply, Node: t.at.Node.Name, Netns: t.at.Label(), Device: t.dev, Direction: map[bool]string{true: "out", false: "in"}[t.out], Expected: view(t.pkt), Seen: ok}
				if !ok && as != nil {
					v := view(fromCap(as.Tuple))
					lh.SeenAs = &v
				}
				report.Hops = append(report.Hops, lh)
				if !ok && report.Divergence == "" {
					switch {
					case as != nil:
						report.Divergence = fmt.Sprintf("%s %d (%s): the %s passed %s as %s, predicted %s", which, i+1, h.Kind, what, t.dev, fromCap(as.Tuple), t.pkt)
					default:
						report.Divergence = fmt.Sprintf("%s %d (%s): the %s was not seen %s %s in %s on %s (predicted %s)", which, i+1, h.Kind, what, lh.Direction, t.dev, t.at.Label(), t.at.Node.Name, t.pkt)
					}
				}
			}
			for _, n := range h.NAT {
				report.NAT = append(report.NAT, fmt.Sprintf("%s on %s%s: %s → %s", n.Kind, h.Node, nat, n.From, n.To))
			}
		}
	}
	judge(res.Hops, false, false)
	// The reply, where one was sent (see replySent), is held to its
	// predicted hops the same way, after the request's.
	if p := res.Packet.Proto; res.Reply != nil && (p == "tcp" || p == "icmp" || p == "udp") {
		if replySent(res, report.Outcome, func(t tap) bool { ok, _ := seen(t, sentAnySPort(res)); return ok }) {
			judge(res.Reply.Hops, true, sentAnySPort(res))
		} else {
			report.Warnings = append(report.Warnings, fmt.Sprintf("the datagram reached %s, but no answer came back and none was seen leaving: the reply's path is not proven (a UDP program need not answer a probe; netx datapath serve --udp answers every datagram)", res.Verdict.Detail))
		}
	}
	for _, t := range traces {
		report.Rules = append(report.Rules, liveRules(t.at, firstPacket(t.at, t.events, res), res)...)
	}
	for _, r := range report.Rules {
		if !r.Predicted && report.Divergence == "" && (strings.HasPrefix(r.Verdict, "drop") || strings.HasPrefix(r.Verdict, "reject")) {
			report.Divergence = fmt.Sprintf("the kernel's trace: %s %s %s rule %d (%s) dropped the probe on %s, which the prediction did not foresee", r.Table, r.Chain, r.Verdict, r.Num, r.Text, r.Node)
		}
	}
	want := expectedOutcome(res)
	if report.Divergence == "" && len(want) > 0 && !slices.Contains(want, report.Outcome) {
		report.Divergence = fmt.Sprintf("predicted %s (%s), but the probe's sender saw %s", res.Verdict.Kind, strings.Join(want, " or "), report.Outcome)
	}
	report.Agrees = report.Divergence == ""
	res.Live = report
	return res, report, nil
}

// replySent says whether the delivered request was answered, so that
// the reply's predicted hops can be held to the captures. The kernel
// answers for TCP (the SYN-ACK) and ICMP (the echo reply). A UDP answer is
// the program's choice: it was sent when the probe's sender got it, when
// the answer was seen at any of its predicted hops (it was then lost on
// the way, which the hops show), or when the program answers every
// datagram (netx's own server) so that its silence is the path's fault.
// seenAt says whether a reply tap saw the answer.
func replySent(r *Result, outcome string, seenAt func(tap) bool) bool {
	if r.Packet.Proto != "udp" || outcome == "answered" || answersEveryDatagram(r) {
		return true
	}
	for _, h := range r.Reply.Hops {
		if slices.ContainsFunc(h.taps, seenAt) {
			return true
		}
	}
	return false
}

// answersEveryDatagram says whether the socket a UDP request is delivered
// to is netx's built-in server (netx datapath serve --udp, named netx or
// kubectl-netx), which answers every datagram; any other program may
// stay silent (a DNS server, say, ignores a datagram that is no query).
func answersEveryDatagram(r *Result) bool {
	if r.Packet.Proto != "udp" || r.Verdict.Kind != Delivered || len(r.Hops) == 0 {
		return false
	}
	h := r.Hops[len(r.Hops)-1]
	if h.Kind != HopDeliver || h.at.NS == nil {
		return false
	}
	l, ok := listener(h.at.NS, packetOf(h.Packet))
	return ok && (l.Comm == "netx" || l.Comm == "kubectl-netx")
}

// sentAnySPort says whether a source NAT on the request's path may have
// picked another source port (the reply's destination port, until
// conntrack undoes it).
func sentAnySPort(r *Result) bool {
	for _, h := range r.Hops {
		for _, t := range h.taps {
			if t.pkt.AnySPort {
				return true
			}
		}
	}
	return false
}

func replyHops(r *Result) []Hop {
	if r.Reply == nil {
		return nil
	}
	return r.Reply.Hops
}

// stillSame checks a namespace of the snapshot is still there, the same
// one (device and inode): a probe must not be watched in a stranger.
func stillSame(ns *inspect.Netns) error {
	id, err := nsenter.IDOf(ns.Path)
	if err != nil || id.Dev != ns.Dev || id.Ino != ns.Inode {
		return fmt.Errorf("namespace %s is gone or replaced since the snapshot: --live needs the live node (not a snapshot from elsewhere)", ns.Path)
	}
	return nil
}

// wild is a tuple without its source port; wildDst without its
// destination port (a reply to a source-NATed packet).
func wild(t capture.Tuple) capture.Tuple    { t.SPort = 0; return t }
func wildDst(t capture.Tuple) capture.Tuple { t.DPort = 0; return t }

func capTuple(p Packet) capture.Tuple {
	return capture.Tuple{Proto: p.Proto, Src: p.Src, Dst: p.Dst, SPort: p.SPort, DPort: p.DPort}
}

func fromCap(t capture.Tuple) Packet {
	return Packet{Proto: t.Proto, Src: t.Src, Dst: t.Dst, SPort: t.SPort, DPort: t.DPort}
}

func packetOf(v PacketView) Packet {
	p := Packet{Proto: v.Proto, SPort: v.SPort, DPort: v.DPort, Mark: v.Mark}
	p.Src, _ = netip.ParseAddr(v.Src)
	p.Dst, _ = netip.ParseAddr(v.Dst)
	return p
}

// expectedOutcome is what the sender may see for a verdict (none: no
// expectation).
//
// For UDP, a delivered request whose reply comes back expects "answered"
// when the program is netx's own server (it answers every datagram), and
// "answered" or "timeout" for any other program: a socket listens, but
// whether the program answers this probe is its business, not the path's
// (see replySent for how a silent program is told from a lost answer).
// A reply predicted not to come back (dropped, asymmetric) expects
// "timeout", as for TCP.
func expectedOutcome(r *Result) []string {
	if r.Verdict.Kind == Delivered && r.Reply != nil && (r.Packet.Proto == "tcp" || r.Packet.Proto == "udp" || r.Packet.Proto == "icmp") {
		switch r.Reply.Verdict.Kind {
		case Delivered:
		case Unknown, Left:
			return nil // the reply's fate is not predicted
		default:
			// The request arrives but its answer does not come back as
			// the answer (dropped, or asymmetric: the source discards it).
			return []string{"timeout"}
		}
	}
	switch r.Packet.Proto {
	case "tcp", "udp":
		switch r.Verdict.Kind {
		case Delivered:
			switch {
			case r.Packet.Proto == "tcp":
				return []string{"connected"}
			case answersEveryDatagram(r):
				return []string{"answered"}
			}
			return []string{"answered", "timeout"}
		case Refused:
			if r.Packet.Proto == "udp" {
				return []string{"refused"} // the ICMP port unreachable
			}
			return []string{"refused", "unreachable"}
		case Rejected, NoEndpoints:
			return []string{"refused", "unreachable"}
		case Dropped, RPFilter, ForwardingDisabled:
			return []string{"timeout"}
		case NoRoute, NoNeighbor:
			// A router without a route answers ICMP unreachable; the
			// sender's own namespace fails the connect at once.
			return []string{"timeout", "unreachable"}
		}
	case "icmp":
		if r.Verdict.Kind == Delivered {
			return []string{"echo-reply"}
		}
		return []string{"timeout"}
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

// liveRules turns one namespace's kernel trace into rules of the model:
// the event's table, chain and handle, the rule's position (from the
// chain's rules listed over netlink, as iptables-save prints no handles)
// and text, and whether the prediction has it.
func liveRules(at Where, events []nftrace.Event, res *Result) []LiveRule {
	var out []LiveRule
	positions := map[string]map[uint64]int{}
	for _, e := range events {
		if e.Type != nftrace.TypeRule && e.Type != nftrace.TypePolicy || e.Type == nftrace.TypeRule && e.Handle == 0 {
			continue // a chain's end falling through to its caller
		}
		lr := LiveRule{Node: at.Node.Name, Netns: at.Label(), Table: e.Family + " " + e.Table, Chain: e.Chain, Handle: e.Handle, Verdict: e.Verdict}
		if e.Type == nftrace.TypePolicy {
			lr.Text = "policy " + e.Verdict
		} else {
			key := e.Family + " " + e.Table + " " + e.Chain
			if positions[key] == nil {
				positions[key] = rulePositions(at.NS.Path, e.Family, e.Table, e.Chain)
			}
			lr.Num = positions[key][e.Handle]
			lr.Text = ruleText(at.NS, e.Family, e.Table, e.Chain, lr.Num, e.Handle)
		}
		for _, h := range res.Hops {
			if h.at.NS != at.NS {
				continue
			}
			for _, rh := range h.Rules {
				if rh.Table == lr.Table && rh.Chain == lr.Chain && (rh.Num == lr.Num || rh.Handle != 0 && rh.Handle == lr.Handle) {
					lr.Predicted = true
				}
			}
		}
		if e.Type == nftrace.TypePolicy {
			lr.Predicted = true // policies are where an accepted packet ends up; not rule hits
		}
		out = append(out, lr)
	}
	return out
}

// firstPacket keeps the kernel's trace of the probe's first packet in a
// namespace (a TCP SYN, the datagram, the echo request). Later packets of
// the connection (ACKs, the reply) are conntrack's business.
func firstPacket(at Where, events []nftrace.Event, res *Result) []nftrace.Event {
	want := map[nftrace.Tuple]bool{}
	for _, h := range res.Hops {
		if h.at.NS == at.NS {
			p := packetOf(h.Packet)
			want[nftrace.Tuple{Proto: p.Proto, Src: p.Src, Dst: p.Dst, SPort: p.SPort, DPort: p.DPort}] = true
		}
	}
	// The kernel sends one run of events per base chain a packet passes,
	// sharing a trace id, and may reuse the id for later packets of the
	// flow: the first run of each base chain with a predicted tuple is the
	// first packet's.
	type key struct {
		table, chain string
		pkt          nftrace.Tuple
	}
	taken := map[key]bool{}
	var out []nftrace.Event
	for i := 0; i < len(events); {
		j := i + 1
		for j < len(events) && events[j].ID == events[i].ID && !isBaseStart(events, j) {
			j++
		}
		k := key{events[i].Table, events[i].Chain, events[i].Packet}
		if want[events[i].Packet] && !taken[k] {
			taken[k] = true
			out = append(out, events[i:j]...)
		}
		i = j
	}
	return out
}

// isBaseStart says whether event j begins a new visit of a base chain:
// the previous event ended a chain visit (a policy, an accept or drop).
func isBaseStart(events []nftrace.Event, j int) bool {
	prev := events[j-1]
	return prev.Type == nftrace.TypePolicy || prev.Verdict == "accept" || prev.Verdict == "drop" || strings.HasPrefix(prev.Verdict, "reject")
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

// ruleText finds the rule's text in the snapshot's model.
func ruleText(ns *inspect.Netns, family, table, chain string, num int, handle uint64) string {
	for _, rs := range ns.Netfilter {
		for _, t := range rs.Tables {
			if string(t.Family) != family || t.Name != table {
				continue
			}
			c := t.Chain(chain)
			if c == nil {
				continue
			}
			for _, r := range c.Rules {
				if (r.Handle != 0 && r.Handle == handle) || (r.Handle == 0 && r.Num == num) {
					return r.Text
				}
			}
		}
	}
	return ""
}
