package trace

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/netx-project/netx/internal/capture"
	"github.com/netx-project/netx/internal/nftrace"
)

// LiveOptions shape a live probe.
type LiveOptions struct {
	// Timeout bounds the wait for the probe's answer (default 2s).
	Timeout time.Duration
	// Pcap receives every capture as pcapng, an interface per capture
	// point, when set.
	Pcap io.Writer
	// ClientNetns is the namespace an "internet" probe is sent from (a
	// lab's outside client); without it an internet source cannot be
	// probed.
	ClientNetns string
	// ClientAddr is that client's address.
	ClientAddr netip.Addr
	// Progress, when set, receives the hops seen so far each time a
	// capture point keeps one of the probe's packets, while the probe is
	// out (the report's InFlight is set). Calls come one at a time, from
	// the captures' goroutines (or a cluster's streams): keep it short.
	Progress func(*LiveReport)
}

// LiveReport is what a real probe showed, against the prediction.
type LiveReport struct {
	// Probe is the packet sent, from where.
	Probe string `json:"probe"`
	// Outcome is what the sender saw: connected, refused, unreachable or
	// timeout (TCP); answered (a datagram came back), refused (ICMP port
	// unreachable), unreachable or timeout (UDP); echo-reply or timeout
	// (ICMP).
	Outcome string `json:"outcome"`
	// Agrees says the probe went where the prediction said, hop by hop,
	// and ended as predicted.
	Agrees bool `json:"agrees"`
	// Divergence is the first place reality differs from the prediction.
	Divergence string `json:"divergence,omitempty"`
	// Endpoint is the service endpoint the kernel chose, when there was a
	// choice; the prediction compared is the one for that endpoint.
	Endpoint netip.AddrPort `json:"endpoint,omitzero"`
	// NAT is every rewrite the captures show, in path order.
	NAT  []string  `json:"nat,omitempty"`
	Hops []LiveHop `json:"hops"`
	// Rules are the netfilter rules the kernel's trace (nftrace) reports
	// the probe hit, per namespace.
	Rules []LiveRule `json:"rules,omitempty"`
	// Captured counts the probe's packets seen at all points.
	Captured int `json:"captured"`
	// InFlight marks a report made while the probe is still out (see
	// LiveOptions.Progress): a hop not seen yet may still be.
	InFlight bool     `json:"inFlight,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// LiveHop is one predicted hop checked against the captures.
type LiveHop struct {
	Hop int `json:"hop"` // 1-based, into the result's hops (the reply's, with Reply)
	// Reply marks a hop of the reply (a SYN-ACK, an echo reply, a UDP
	// answer) on its way back.
	Reply     bool        `json:"reply,omitempty"`
	Node      string      `json:"node"`
	Netns     string      `json:"netns"`
	Device    string      `json:"device"`
	Direction string      `json:"direction"` // in or out of the device
	Expected  PacketView  `json:"expected"`
	Seen      bool        `json:"seen"`
	SeenAs    *PacketView `json:"seenAs,omitempty"` // the probe, rewritten otherwise than predicted
}

// LiveRule is a rule the kernel traced the probe through.
type LiveRule struct {
	Node    string `json:"node"`
	Netns   string `json:"netns"`
	Table   string `json:"table"`
	Chain   string `json:"chain"`
	Num     int    `json:"num,omitempty"` // position in the chain, 0 for a policy
	Handle  uint64 `json:"handle,omitempty"`
	Text    string `json:"text,omitempty"`
	Verdict string `json:"verdict"`
	// Predicted says the prediction has this rule among the hop's hits.
	Predicted bool `json:"predicted"`
}

func (t tap) label() string {
	return fmt.Sprintf("%s %s %s", t.at.Node.Name, t.at.Label(), t.dev)
}

// A LivePlan is the work a live probe needs done on the nodes, in a form
// that travels (as JSON) to the node agents of a cluster: where to
// capture, which packets to keep, the namespaces whose netfilter the
// kernel traces, and the probe to send. Every place names its node;
// ForNode cuts out one node's part. StartLive carries a plan (or a part)
// out where its namespaces are.
type LivePlan struct {
	Points []LivePoint `json:"points"`
	// Keep are the flows the captures keep, in either direction; a zero
	// port is a wildcard (a source NAT may have picked the port).
	Keep []capture.Tuple `json:"keep"`
	// Traces are the namespaces whose rules the path crosses, traced by
	// the kernel (nftrace) for TraceTuples.
	Traces      []LiveNetns     `json:"traces,omitempty"`
	TraceTuples []nftrace.Tuple `json:"traceTuples,omitempty"`
	// Probe is the packet to send; absent from parts of other nodes.
	Probe *LiveProbe `json:"probe,omitempty"`
	// Watch asks a node agent to send each packet its captures keep as
	// they keep it (LiveSeen lines), for LiveOptions.Progress.
	Watch bool `json:"watch,omitempty"`
}

// The words of a live run between the client and a node agent, a line
// each over the exec stream. The client sends its part of the plan (one
// line of JSON); the agent answers LiveReady once its traces and captures
// run. LiveSend (to the probe's node) is answered by LiveOutcome and the
// outcome; LiveStop by the evidence (one line of JSON). A part that
// asks to Watch also gets, between ready and the evidence, a LiveSeen line
// for each packet kept (LiveSeen, a space, the packet as JSON). The client
// closing the stream stops the part, its rules removed.
const (
	LiveReady   = "ready"
	LiveSend    = "probe"
	LiveOutcome = "outcome"
	LiveStop    = "stop"
	LiveSeen    = "seen"
)

// LiveNetns is a namespace of the snapshot: its path on its node, and its
// device and inode, so that the probe is never watched in a stranger that
// took the path since.
type LiveNetns struct {
	Node  string `json:"node"`
	Path  string `json:"path"`
	Label string `json:"label"`
	Dev   uint64 `json:"dev,omitempty"`
	Inode uint64 `json:"inode,omitempty"`
}

// LivePoint is a capture point: a device in a namespace.
type LivePoint struct {
	LiveNetns
	Device string `json:"device"`
	// Index is the point's place in the whole plan; captured packets
	// carry it, whichever node captured them.
	Index int `json:"index"`
}

// LiveProbe is the packet sent from a namespace (the source's, or an
// outside client's).
type LiveProbe struct {
	Node  string `json:"node"`
	Netns string `json:"netns"`
	// From names the sender for people: "pod default/pod-a on node1".
	From    string        `json:"from"`
	Packet  capture.Tuple `json:"packet"`
	Timeout time.Duration `json:"timeout"`
}

// LiveEvidence is what the kernel showed: the probe's outcome, the
// captured packets (Point is the plan's Index) and the kernel's trace per
// namespace. Evidence from several nodes merges into one.
type LiveEvidence struct {
	Outcome  string           `json:"outcome,omitempty"`
	Packets  []capture.Packet `json:"packets,omitempty"`
	Traces   []LiveTraced     `json:"traces,omitempty"`
	Warnings []string         `json:"warnings,omitempty"`
}

// LiveTraced is one namespace's trace events, with the positions of the
// rules they name (iptables-save prints no handles, so a handle becomes a
// rule number where the rules are: on the node).
type LiveTraced struct {
	// Node and Netns name the namespace (its path is its node's).
	Node   string          `json:"node,omitempty"`
	Netns  string          `json:"netns"`
	Events []nftrace.Event `json:"events"`
	// Positions maps "family table chain" to each rule handle's 1-based
	// position in that chain.
	Positions map[string]map[uint64]int `json:"positions,omitempty"`
}

// Nodes lists the nodes the plan works on, in the order they appear.
func (p *LivePlan) Nodes() []string {
	var out []string
	add := func(n string) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if p.Probe != nil {
		add(p.Probe.Node)
	}
	for _, pt := range p.Points {
		add(pt.Node)
	}
	for _, t := range p.Traces {
		add(t.Node)
	}
	return out
}

// ForNode is node's part of the plan: its points, its traced namespaces,
// and the probe when it is sent there.
func (p *LivePlan) ForNode(node string) *LivePlan {
	out := &LivePlan{Keep: p.Keep, TraceTuples: p.TraceTuples, Watch: p.Watch}
	for _, pt := range p.Points {
		if pt.Node == node {
			out.Points = append(out.Points, pt)
		}
	}
	for _, t := range p.Traces {
		if t.Node == node {
			out.Traces = append(out.Traces, t)
		}
	}
	if p.Probe != nil && p.Probe.Node == node {
		out.Probe = p.Probe
	}
	return out
}

// Merge adds another node's evidence to e.
func (e *LiveEvidence) Merge(o *LiveEvidence) {
	if o.Outcome != "" {
		e.Outcome = o.Outcome
	}
	e.Packets = append(e.Packets, o.Packets...)
	slices.SortStableFunc(e.Packets, func(a, b capture.Packet) int { return a.Time.Compare(b.Time) })
	e.Traces = append(e.Traces, o.Traces...)
	e.Warnings = append(e.Warnings, o.Warnings...)
}

// A LiveProbe run: the prediction and its plan. Judge holds the
// evidence the plan gathered to the prediction.
type Live struct {
	Plan *LivePlan

	o     LiveOptions
	res   *Result
	preds []*Result
	// index finds a point by node, namespace path and device.
	index map[string]int
	// traced finds a traced namespace's place by node and path.
	traced map[string]Where
	// mu guards sofar, the packets kept while the probe is out (Watch).
	mu    sync.Mutex
	sofar []capture.Packet
}

// Live predicts the path, then sends one real probe from the source's
// namespace and watches it at every predicted hop (AF_PACKET captures
// opened inside each namespace) and in the kernel's netfilter trace. It
// reports, hop by hop, what was seen, the NAT actually applied, the
// endpoint actually chosen and the first divergence from the prediction.
// The trace rules it adds are removed before it returns, also when ctx is
// cancelled (Ctrl-C). Every namespace must be on this machine (a node, a
// lab); in a cluster, PrepareLive's plan is carried out by the node
// agents instead.
func (w *World) Live(ctx context.Context, req Request, o LiveOptions) (*Result, *LiveReport, error) {
	l, err := w.PrepareLive(req, o)
	if err != nil {
		return nil, nil, err
	}
	run, err := StartLive(l.Plan, l.Watch())
	if err != nil {
		return nil, nil, err
	}
	outcome := run.Probe(ctx)
	Settle(ctx)
	ev := run.Stop()
	ev.Outcome = outcome
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	return l.Judge(ev)
}

// Settle lets the probe's last packets (a reset, a reply) reach every
// capture point before the captures stop.
func Settle(ctx context.Context) {
	select {
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
	}
}

// nsKey names a namespace of the plan: its path is its node's (two nodes
// with PID namespaces of their own both have a /proc/1234/ns/net), so the
// node is part of the name.
func nsKey(node, path string) string { return node + "\x00" + path }

// tapKey names a capture point: a device in a namespace of a node.
func tapKey(t tap) string { return nsKey(t.at.Node.Name, t.at.NS.Path) + "\x00" + t.dev }

func netnsOf(at Where) LiveNetns {
	return LiveNetns{Node: at.Node.Name, Path: at.NS.Path, Label: at.Label(), Dev: at.NS.Dev, Inode: at.NS.Inode}
}

// PrepareLive predicts the path (and every other way a random choice can
// go, so that the probe is watched wherever the kernel sends it) and
// plans the probe: the capture points of every predicted hop, the
// packets to keep, the namespaces to trace, the packet to send.
func (w *World) PrepareLive(req Request, o LiveOptions) (*Live, error) {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	res, src, err := w.run(req)
	if err != nil {
		return nil, err
	}
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
	if o.ClientNetns == "" {
		o.ClientNetns, o.ClientAddr = w.ExternalNetns, w.External
	}
	pkt := capTuple(packetOf(res.Packet))
	probe := &LiveProbe{Timeout: o.Timeout}
	if src.internet {
		if o.ClientNetns == "" {
			return nil, badf("--live from internet needs an outside client's namespace to send from (a lab's client); trace without --live, or from a pod or node")
		}
		if req.ClientIP.IsValid() && req.ClientIP != o.ClientAddr {
			return nil, badf("--client-ip %s: the probe is sent from the outside client's namespace, whose address is %s; trace with --client-ip %s, or without --live", req.ClientIP, o.ClientAddr, o.ClientAddr)
		}
		pkt.Src = o.ClientAddr
		probe.Netns, probe.From = o.ClientNetns, "the outside client ("+o.ClientNetns+")"
		// The outside client is where the lab keeps it: with the first
		// node's namespaces.
		probe.Node = w.Nodes[0].Name
	} else {
		probe.Netns, probe.Node = src.at.NS.Path, src.at.Node.Name
		probe.From = src.at.Label() + " on " + src.at.Node.Name
	}
	probe.Packet = pkt

	l := &Live{Plan: &LivePlan{Probe: probe, Watch: o.Progress != nil}, o: o, res: res, preds: preds, index: map[string]int{}, traced: map[string]Where{}}
	tuples := map[capture.Tuple]bool{}
	for _, p := range preds {
		for _, hops := range [][]Hop{p.Hops, replyHops(p)} {
			for _, h := range hops {
				for _, t := range h.taps {
					tuples[capTuple(t.pkt)] = true
					if t.pkt.AnySPort {
						tuples[wild(capTuple(t.pkt))] = true
					}
					key := tapKey(t)
					if _, ok := l.index[key]; ok {
						continue
					}
					l.index[key] = len(l.Plan.Points)
					ns := netnsOf(t.at)
					ns.Label = t.label()
					l.Plan.Points = append(l.Plan.Points, LivePoint{LiveNetns: ns, Device: t.dev, Index: len(l.Plan.Points)})
				}
				if h.Kind == HopNetfilter && h.at.NS != nil {
					if k := nsKey(h.at.Node.Name, h.at.NS.Path); l.traced[k].NS == nil {
						l.traced[k] = h.at
						l.Plan.Traces = append(l.Plan.Traces, netnsOf(h.at))
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
	for t := range tuples {
		l.Plan.Keep = append(l.Plan.Keep, t)
		if t.Proto == "tcp" || t.Proto == "udp" || t.Proto == "sctp" {
			if t.SPort == 0 || t.DPort == 0 {
				continue // a wildcard, for the captures only
			}
		}
		l.Plan.TraceTuples = append(l.Plan.TraceTuples, nftrace.Tuple{Proto: t.Proto, Src: t.Src, Dst: t.Dst, SPort: t.SPort, DPort: t.DPort})
	}
	slices.SortFunc(l.Plan.Keep, func(a, b capture.Tuple) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(l.Plan.TraceTuples, func(a, b nftrace.Tuple) int { return strings.Compare(a.String(), b.String()) })
	return l, nil
}

// keeps is the captures' filter for a plan's flows.
func keeps(flows []capture.Tuple) func(capture.Packet) bool {
	tuples := map[capture.Tuple]bool{}
	for _, t := range flows {
		tuples[t] = true
	}
	return func(p capture.Packet) bool {
		r := p.Tuple.Reverse()
		return p.OK && (tuples[p.Tuple] || tuples[r] || tuples[wild(p.Tuple)] || tuples[wild(r)] || tuples[wildDst(r)])
	}
}

// capturePoints are the plan's points as the captures (and pcapng) name
// them.
func (p *LivePlan) capturePoints() []capture.Point {
	out := make([]capture.Point, len(p.Points))
	for i, pt := range p.Points {
		out[i] = capture.Point{Netns: pt.Path, Device: pt.Device, Label: pt.Label}
	}
	return out
}

// Describe names the probe for people: the packet and where it is sent
// from.
func (p *LiveProbe) Describe() string {
	return fmt.Sprintf("%s from %s", fromCap(p.Packet), p.From)
}

// Judge holds the evidence to the prediction: the prediction for the
// endpoint the kernel chose (the branch whose capture points saw the
// most), each predicted hop seen or not (and how, when rewritten
// otherwise), the reply's hops where a reply was sent, the rules the
// kernel traced, and the first divergence.
func (l *Live) Judge(ev *LiveEvidence) (*Result, *LiveReport, error) {
	if l.o.Pcap != nil {
		if err := capture.WritePcapNG(l.o.Pcap, l.Plan.capturePoints(), ev.Packets); err != nil {
			return nil, nil, fmt.Errorf("write pcap: %w", err)
		}
	}
	res, report := l.hold(ev, false)
	res.Live = report
	return res, report, nil
}

// Watch is what StartLive (or a cluster's streams) hands every kept
// packet to, whichever node kept it, so that LiveOptions.Progress hears
// of each hop as it is seen; nil without Progress. It is safe for
// concurrent use.
func (l *Live) Watch() func(capture.Packet) {
	if l.o.Progress == nil {
		return nil
	}
	return l.see
}

func (l *Live) see(p capture.Packet) {
	p.Data = nil
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sofar = append(l.sofar, p)
	_, report := l.hold(&LiveEvidence{Packets: slices.Clone(l.sofar)}, true)
	l.o.Progress(report)
}

// hold holds the evidence to the prediction (see Judge); inFlight holds
// what the captures kept so far while the probe is still out: only the
// hops, nothing about an outcome not known yet.
func (l *Live) hold(ev *LiveEvidence, inFlight bool) (*Result, *LiveReport) {
	res, pkts := l.res, ev.Packets
	report := &LiveReport{Probe: l.Plan.Probe.Describe(), Outcome: ev.Outcome, Warnings: slices.Clone(ev.Warnings), InFlight: inFlight}
	report.Captured = len(pkts)
	// The prediction to hold the probe to: the one for the endpoint the
	// kernel chose (the branch whose taps saw the most).
	// anyDPort: a reply to a packet whose source port a source NAT may
	// have changed, matched without its destination port.
	seen := func(t tap, anyDPort bool) (bool, *capture.Packet) {
		i := l.index[tapKey(t)]
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
	for _, p := range l.preds {
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
	if inFlight {
		// The reply's hops are shown as they are seen; whether one is
		// owed is known with the outcome.
		if res.Reply != nil && replySent(res, "", func(t tap) bool { ok, _ := seen(t, sentAnySPort(res)); return ok }) {
			judge(res.Reply.Hops, true, sentAnySPort(res))
		}
		report.Divergence = ""
		return res, report
	}
	// The reply, where one was sent (see replySent), is held to its
	// predicted hops the same way, after the request's.
	if p := res.Packet.Proto; res.Reply != nil && (p == "tcp" || p == "icmp" || p == "udp") {
		if replySent(res, report.Outcome, func(t tap) bool { ok, _ := seen(t, sentAnySPort(res)); return ok }) {
			judge(res.Reply.Hops, true, sentAnySPort(res))
		} else {
			report.Warnings = append(report.Warnings, fmt.Sprintf("the datagram reached %s, but no answer came back and none was seen leaving: the reply's path is not proven (a UDP program need not answer a probe; netx datapath serve --udp answers every datagram)", res.Verdict.Detail))
		}
	}
	for _, t := range ev.Traces {
		if at, ok := l.traced[nsKey(t.Node, t.Netns)]; ok {
			report.Rules = append(report.Rules, liveRules(at, firstPacket(at, t.Events, res), res, t.Positions)...)
		}
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
	return res, report
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

// liveRules turns one namespace's kernel trace into rules of the model:
// the event's table, chain and handle, the rule's position (positions,
// from the chain's rules listed over netlink on the node, as iptables-save
// prints no handles)
// and text, and whether the prediction has it.
func liveRules(at Where, events []nftrace.Event, res *Result, positions map[string]map[uint64]int) []LiveRule {
	var out []LiveRule
	for _, e := range events {
		if e.Type != nftrace.TypeRule && e.Type != nftrace.TypePolicy || e.Type == nftrace.TypeRule && e.Handle == 0 {
			continue // a chain's end falling through to its caller
		}
		lr := LiveRule{Node: at.Node.Name, Netns: at.Label(), Table: e.Family + " " + e.Table, Chain: e.Chain, Handle: e.Handle, Verdict: e.Verdict}
		if e.Type == nftrace.TypePolicy {
			lr.Text = "policy " + e.Verdict
		} else {
			key := e.Family + " " + e.Table + " " + e.Chain
			lr.Num = positions[key][e.Handle]
			lr.Text = ruleText(at, e.Family, e.Table, e.Chain, lr.Num, e.Handle)
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

// ruleText finds the rule's text in the snapshot's model.
func ruleText(at Where, family, table, chain string, num int, handle uint64) string {
	for _, rs := range at.NS.Netfilter {
		for _, t := range rs.Tables {
			if string(t.Family) != family || t.Name != table {
				continue
			}
			c := t.Chain(chain)
			if c == nil {
				continue
			}
			if at.Node != nil {
				// A chain the walk did not reach, left unread: read now.
				at.Node.read(at.NS, rs, t, c)
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
