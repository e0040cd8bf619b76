package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/netx-project/netx/inspect"
	nf "github.com/netx-project/netx/netfilter"
)

// maxHops bounds a path (routing loops end as Loop).
const maxHops = 64

// ctEntry is a connection netfilter NATed on the way out: in which
// namespace, the packet as it first arrived there and as it left. The
// reply is un-NATed where it passes that namespace's netfilter again.
type ctEntry struct {
	at        Where
	orig, nat Packet
}

// walker follows one packet (the original, or the reply).
type walker struct {
	w        *World
	endpoint netip.Addr
	// hostDst is the hostNetwork pod the trace is to, if it is one.
	hostDst  *HostPod
	reply    bool
	hops     []Hop
	branches []Branch
	warnings []string
	verdict  *Verdict
	affinity *Affinity
	final    Where
	pkt      Packet // the packet at the end

	conns []*ctEntry
	// The conntrack view of the namespace the packet is in.
	ctAt  *inspect.Netns
	ct    conn
	entry *ctEntry
	// unDNAT is a reply's source to restore as it leaves the namespace.
	unDNAT *Packet
}

// leave applies what conntrack does to a reply on its way out of a
// namespace: the source that a destination NAT had replaced.
func (k *walker) leave(pkt Packet) Packet {
	if k.unDNAT != nil {
		pkt.Src, pkt.SPort = k.unDNAT.Src, k.unDNAT.SPort
		k.unDNAT = nil
	}
	return pkt
}

func (k *walker) hop(at Where, kind, dev, detail string, pkt Packet) *Hop {
	k.hops = append(k.hops, Hop{Node: at.Node.Name, Netns: at.Label(), Kind: kind, Device: dev, Detail: detail, Packet: view(pkt), at: at})
	return &k.hops[len(k.hops)-1]
}

func (k *walker) stop(at Where, kind, detail string) {
	k.verdict = &Verdict{Kind: kind, Detail: detail, Node: at.Node.Name, Netns: at.Label()}
	k.final = at
}

func (k *walker) done() bool { return k.verdict != nil }

// enter sets up conntrack when the packet enters a namespace; a reply
// finds the entry its connection left there and is un-NATed.
func (k *walker) enter(at Where, dev string, pkt Packet) Packet {
	if k.ctAt == at.NS {
		return pkt
	}
	k.ctAt, k.ct, k.entry, k.unDNAT = at.NS, conn{reply: k.reply}, nil, nil
	if len(at.NS.Netfilter) == 0 && !at.IsNode() {
		return pkt // a pod: no rules of its own to run
	}
	if !k.reply {
		return pkt
	}
	for _, e := range k.conns {
		if e.at.NS != at.NS || e.at.Node != at.Node {
			continue
		}
		if pkt.Src == e.nat.Dst && pkt.Dst == e.nat.Src && (!pkt.hasPorts() || pkt.SPort == e.nat.DPort && pkt.DPort == e.nat.SPort) {
			// The kernel undoes a source NAT (the reply's destination) at
			// once, before routing, and a destination NAT (the reply's
			// source) on the way out, after routing and rp_filter.
			before := pkt
			pkt.Dst, pkt.DPort = e.orig.Src, e.orig.SPort
			after := pkt
			after.Src, after.SPort = e.orig.Dst, e.orig.DPort
			if after.Src != before.Src || after.SPort != before.SPort {
				k.unDNAT = &after
			}
			h := k.hop(at, HopConntrack, dev, "the reply matches the connection's conntrack entry: NAT undone", after)
			if before.Src != after.Src || before.SPort != after.SPort {
				h.NAT = append(h.NAT, NATStep{Kind: "un-DNAT", From: endpointString(before, false), To: endpointString(after, false)})
			}
			if before.Dst != after.Dst || before.DPort != after.DPort {
				h.NAT = append(h.NAT, NATStep{Kind: "un-SNAT", From: endpointString(before, true), To: endpointString(after, true)})
			}
			h.Evidence = append(h.Evidence, fmt.Sprintf("conntrack: orig %s, reply %s", e.orig, Packet{Proto: e.nat.Proto, Src: e.nat.Dst, Dst: e.nat.Src, SPort: e.nat.DPort, DPort: e.nat.SPort}))
			break
		}
	}
	return pkt
}

// netfilter runs one hook's rules of the namespace the packet is in and
// records the hop. It returns the packet as it leaves the hook; stop is
// set when the hook dropped or rejected it.
func (k *walker) netfilter(at Where, hook nf.Hook, in, out string, nh netip.Addr, pkt Packet, bridged bool, physIn, physOut string) (Packet, bool) {
	rs := at.NS.Netfilter
	if len(rs) == 0 {
		return pkt, false
	}
	if !k.reply && k.entry == nil {
		k.entry = &ctEntry{at: at, orig: pkt}
	}
	ctx := hookCtx{
		hook: hook, in: in, out: out, bridged: bridged, physIn: physIn, physOut: physOut, ct: &k.ct, ipsets: at.NS.IPSets,
		recent: at.NS.Recent, recentRead: at.NS.Recent != nil,
		addrType: func(a netip.Addr) string { return addrType(at.NS, a) },
		masqAddr: func() netip.Addr { return preferredSrc(at.NS, out, nh) },
		redirAddr: func() netip.Addr {
			if in == "" {
				return netip.MustParseAddr("127.0.0.1")
			}
			a, _ := linkAddr(at.NS, in)
			return a
		},
	}
	if k.w.Fetch != nil && at.Node != nil {
		ctx.fetch = func(t *nf.Table, s *nf.Set) string { return at.Node.fetchSet(k.w.Fetch, t, s) }
	}
	if at.Node != nil {
		ctx.readChain = func(rs *nf.Ruleset, t *nf.Table, c *nf.Chain) string { return at.Node.read(at.NS, rs, t, c) }
	}
	outs := evalHook(rs, ctx, pkt)
	if len(outs) == 0 {
		return pkt, false
	}
	chosen := 0
	for i, o := range outs {
		if k.endpoint.IsValid() && o.pkt.Dst == k.endpoint {
			chosen = i
			break
		}
		if o.prob > outs[chosen].prob+1e-9 {
			chosen = i
		}
	}
	o := outs[chosen]
	if len(o.hits) == 0 && len(o.nat) == 0 && len(o.unknown) == 0 && o.verdict == "ACCEPT" && len(outs) == 1 {
		k.ct = o.ct
		return o.pkt, false
	}
	dev := in
	if out != "" {
		dev = out
	}
	where := string(hook)
	if bridged {
		where += " (bridged, br_netfilter)"
	}
	h := k.hop(at, HopNetfilter, dev, where, o.pkt)
	h.Rules = o.hits
	h.NAT = o.nat
	h.Warnings = o.unknown
	k.warnings = append(k.warnings, o.unknown...)
	var parts []string
	for _, n := range o.nat {
		parts = append(parts, fmt.Sprintf("%s %s → %s", n.Kind, n.From, n.To))
	}
	if len(parts) > 0 {
		h.Detail += ": " + strings.Join(parts, ", ")
	} else if o.verdict == "ACCEPT" {
		h.Detail += fmt.Sprintf(": accepted (%d %s matched)", len(o.hits), plural(len(o.hits), "rule", "rules"))
	}
	if len(outs) > 1 {
		if k.endpoint.IsValid() && o.pkt.Dst != k.endpoint {
			k.warnings = append(k.warnings, fmt.Sprintf("--endpoint %s is not one of the choices at %s %s", k.endpoint, at.Label(), hook))
		}
		for i, b := range outs {
			br := Branch{Node: at.Node.Name, Hop: len(k.hops), Probability: b.prob, Chosen: i == chosen}
			switch {
			case b.verdict != "ACCEPT":
				br.Verdict = strings.ToLower(b.verdict)
			case b.pkt.hasPorts():
				br.Endpoint = netip.AddrPortFrom(b.pkt.Dst, b.pkt.DPort)
			default:
				br.Endpoint = netip.AddrPortFrom(b.pkt.Dst, 0)
			}
			for j := len(b.hits) - 1; j >= 0; j-- {
				if b.hits[j].Num > 0 {
					br.Chain = b.hits[j].Chain
					break
				}
			}
			k.branches = append(k.branches, br)
		}
		slices.SortStableFunc(k.branches[len(k.branches)-len(outs):], func(a, b Branch) int { return strings.Compare(a.Dest(), b.Dest()) })
		h.Detail += fmt.Sprintf(" (one of %d choices, probability %.3g)", len(outs), o.prob)
	}
	k.ct = o.ct
	if !k.reply && len(o.nat) > 0 {
		k.entry.nat = o.pkt
		if !slices.Contains(k.conns, k.entry) {
			k.conns = append(k.conns, k.entry)
		}
	}
	if a := affinityOf(o.sticky, o.pkt); a != nil && !k.reply && k.affinity == nil {
		k.affinity = a
		h.Evidence = append(h.Evidence, "session affinity: "+a.Detail)
	}
	if o.verdict == "DROP" || o.verdict == "REJECT" {
		// The kind is the rule's verdict; the reason, what the rules say
		// of it. A drop is a timeout to the client, a reject a refusal.
		kind, detail := Dropped, "dropped by "+ruleRef(o.decider)
		if o.verdict == "REJECT" {
			kind, detail = Rejected, "rejected by "+ruleRef(o.decider)
		}
		if o.reason != "" {
			detail += ": " + o.reason
		}
		if o.noEndpoints {
			kind = NoEndpoints
			detail = o.reason + ": kube-proxy rejects it (" + ruleRef(o.decider) + ")"
		}
		if kind == Dropped {
			detail += " — the client times out"
		} else {
			detail += " — the client sees the connection refused"
		}
		k.stop(at, kind, detail)
		k.verdict.Rule = o.decider
		return o.pkt, true
	}
	return o.pkt, false
}

func ruleRef(h *RuleHit) string {
	if h == nil {
		return "a rule"
	}
	if h.Num == 0 {
		return fmt.Sprintf("the policy of %s chain %s", h.Table, h.Chain)
	}
	return fmt.Sprintf("%s chain %s rule %d", h.Table, h.Chain, h.Num)
}

// addrType is the kernel's address type of a, seen from a namespace.
func addrType(ns *inspect.Netns, a netip.Addr) string {
	switch {
	case isLocal(ns, a):
		return "LOCAL"
	case a == netip.MustParseAddr("255.255.255.255"):
		return "BROADCAST"
	case a.IsMulticast():
		return "MULTICAST"
	}
	for _, p := range nsAddrs(ns) {
		if p.Addr().Is4() && p.Bits() < 31 && broadcastOf(p) == a {
			return "BROADCAST"
		}
	}
	if r, ok := lookup(ns, netip.Addr{}, a, "", 0); ok {
		switch r.Type {
		case routeBlackhole:
			return "BLACKHOLE"
		case routeUnreachable:
			return "UNREACHABLE"
		case routeProhibit:
			return "PROHIBIT"
		}
	}
	return "UNICAST"
}

func broadcastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// output follows a packet a socket in at sends.
func (k *walker) output(at Where, pkt Packet) {
	pkt = k.enter(at, "", pkt)
	r, ok := lookup(at.NS, pkt.Src, pkt.Dst, "", pkt.Mark)
	if !ok {
		k.stop(at, NoRoute, fmt.Sprintf("no route to %s in %s", pkt.Dst, at.Label()))
		return
	}
	if !pkt.Src.IsValid() {
		pkt.Src = r.Src
	}
	k.routeHop(at, r, pkt)
	if bad := badRoute(r); bad != "" {
		k.stop(at, NoRoute, bad)
		return
	}
	nh := r.NextHop(pkt.Dst)
	var stop bool
	before := pkt
	if pkt, stop = k.netfilter(at, nf.HookOutput, "", r.Dev, nh, pkt, false, "", ""); stop {
		return
	}
	if pkt.Dst != before.Dst || pkt.Mark != before.Mark {
		// The kernel routes again after OUTPUT changed the destination
		// or the mark.
		if r, ok = lookup(at.NS, pkt.Src, pkt.Dst, "", pkt.Mark); !ok {
			k.stop(at, NoRoute, fmt.Sprintf("no route to %s (after NAT) in %s", pkt.Dst, at.Label()))
			return
		}
		k.routeHop(at, r, pkt)
		if bad := badRoute(r); bad != "" {
			k.stop(at, NoRoute, bad)
			return
		}
		nh = r.NextHop(pkt.Dst)
	}
	if r.Type == routeLocal || r.Type == routeBroadcast {
		if pkt, stop = k.netfilter(at, nf.HookPostrouting, "", "lo", nh, pkt, false, "", ""); stop {
			return
		}
		if pkt, stop = k.netfilter(at, nf.HookInput, "lo", "", nh, pkt, false, "", ""); stop {
			return
		}
		k.deliver(at, "lo", k.leave(pkt))
		return
	}
	if pkt, stop = k.netfilter(at, nf.HookPostrouting, "", r.Dev, nh, pkt, false, "", ""); stop {
		return
	}
	k.egress(at, r.Dev, nh, k.leave(pkt))
}

func (k *walker) routeHop(at Where, r fibResult, pkt Packet) {
	detail := "to " + pkt.Dst.String() + ": "
	switch r.Type {
	case routeLocal:
		detail += "local"
	case routeUnicast:
		if r.Gw.IsValid() {
			detail += fmt.Sprintf("via %s dev %s", r.Gw, r.Dev)
		} else {
			detail += "dev " + r.Dev
		}
	default:
		detail += r.Type
	}
	h := k.hop(at, HopRoute, r.Dev, detail, pkt)
	h.Evidence = append(h.Evidence, "route: "+r.Line())
	if r.Rule != nil {
		h.Evidence = append(h.Evidence, fmt.Sprintf("rule: %d: lookup %s", r.Rule.Priority, tableName(r.Rule.Table)))
	}
}

func badRoute(r fibResult) string {
	switch r.Type {
	case routeBlackhole, routeUnreachable, routeProhibit:
		return fmt.Sprintf("%s route: %s", r.Type, r.Line())
	}
	return ""
}

// ingress follows a packet arriving on dev in at.
func (k *walker) ingress(at Where, dev string, pkt Packet) {
	if len(k.hops) > maxHops {
		k.stop(at, Loop, fmt.Sprintf("more than %d hops: a routing loop?", maxHops))
		return
	}
	pkt = k.enter(at, dev, pkt)
	var stop bool
	if pkt, stop = k.netfilter(at, nf.HookPrerouting, dev, "", netip.Addr{}, pkt, false, "", ""); stop {
		return
	}
	r, ok := lookup(at.NS, pkt.Src, pkt.Dst, dev, pkt.Mark)
	if !ok {
		k.stop(at, NoRoute, fmt.Sprintf("no route to %s in %s", pkt.Dst, at.Label()))
		return
	}
	k.routeHop(at, r, pkt)
	if bad := badRoute(r); bad != "" {
		k.stop(at, NoRoute, bad)
		return
	}
	if drop := rpFilter(at.NS, dev, pkt); drop != "" {
		k.stop(at, RPFilter, drop)
		return
	}
	if r.Type == routeLocal || r.Type == routeBroadcast {
		if pkt, stop = k.netfilter(at, nf.HookInput, dev, "", netip.Addr{}, pkt, false, "", ""); stop {
			return
		}
		k.deliver(at, dev, k.leave(pkt))
		return
	}
	if at.IsNode() && at.NS.Sysctls["net.ipv4.ip_forward"] == "0" {
		k.stop(at, ForwardingDisabled, fmt.Sprintf("%s would forward %s from %s to %s, but net.ipv4.ip_forward is 0", at.Label(), pkt.Dst, dev, r.Dev))
		return
	}
	if !at.IsNode() {
		k.stop(at, Dropped, fmt.Sprintf("%s received a packet for %s, which is not its own: a pod does not forward", at.Label(), pkt.Dst))
		return
	}
	nh := r.NextHop(pkt.Dst)
	if pkt, stop = k.netfilter(at, nf.HookForward, dev, r.Dev, nh, pkt, false, "", ""); stop {
		return
	}
	if pkt, stop = k.netfilter(at, nf.HookPostrouting, dev, r.Dev, nh, pkt, false, "", ""); stop {
		return
	}
	k.egress(at, r.Dev, nh, k.leave(pkt))
}

// rpFilter applies reverse path filtering: in strict mode (1) the route
// back to the source must leave by the interface the packet came in on; in
// loose mode (2) some route back must exist.
func rpFilter(ns *inspect.Netns, dev string, pkt Packet) string {
	mode := max(sysctlInt(ns, "net.ipv4.conf.all.rp_filter"), sysctlInt(ns, "net.ipv4.conf."+dev+".rp_filter"))
	if mode == 0 || dev == "lo" || !pkt.Src.IsValid() {
		return ""
	}
	back, ok := lookup(ns, pkt.Dst, pkt.Src, "", pkt.Mark)
	if !ok || back.Type != routeUnicast && back.Type != routeLocal {
		return fmt.Sprintf("rp_filter=%d: no route back to %s", mode, pkt.Src)
	}
	if mode == 1 && back.Dev != dev {
		return fmt.Sprintf("rp_filter=1 (strict): the packet from %s came in on %s, but the route back leaves by %s (%s)", pkt.Src, dev, back.Dev, back.Line())
	}
	return ""
}

func sysctlInt(ns *inspect.Netns, key string) int {
	switch ns.Sysctls[key] {
	case "1":
		return 1
	case "2":
		return 2
	}
	return 0
}

// deliver hands the packet to whatever listens in at.
func (k *walker) deliver(at Where, dev string, pkt Packet) {
	k.pkt = pkt
	if k.reply {
		k.final = at
		if dev == "lo" && len(k.hops) > 0 {
			// Over loopback the answer is seen on lo, like the request.
			k.hops[len(k.hops)-1].tap(at, "lo", pkt, false)
		}
		return
	}
	if pkt.Proto == "icmp" {
		k.hop(at, HopDeliver, dev, "the kernel answers the echo request", pkt)
		k.stop(at, Delivered, fmt.Sprintf("echo request reaches %s", at.Label()))
		return
	}
	l, ok := listener(at.NS, pkt)
	if !ok {
		how := "TCP reset: connection refused"
		if pkt.Proto == "udp" {
			how = "ICMP port unreachable"
		}
		k.hop(at, HopDeliver, dev, fmt.Sprintf("nothing listens on %s port %d", pkt.Proto, pkt.DPort), pkt)
		k.stop(at, Refused, fmt.Sprintf("%s reached, but nothing listens on %s/%d there (%s)", at.Label(), pkt.Dst, pkt.DPort, how))
		return
	}
	proc := l.Comm
	if l.PID != 0 {
		proc = fmt.Sprintf("%s (pid %d)", l.Comm, l.PID)
	}
	pod, container := "", l.Container
	if at.NS.Pod != nil && at.NS.Pod.Name != "" {
		pod = at.NS.Pod.Namespace + "/" + at.NS.Pod.Name
	}
	// The node's namespace is also its hostNetwork pods': the socket is
	// one's when its process is (or, no process known, its port is one a
	// container declares).
	var host *HostPod
	if at.IsNode() {
		var c string
		var ok bool
		if host, c, ok = k.w.hostPodOf(at.Node.Name, l, pkt.Proto); ok {
			pod, container = host.Key(), c
		}
	}
	who := proc
	switch {
	case host != nil && l.PID == 0:
		who = fmt.Sprintf("a socket of port %d/%s, which container %s declares", l.Port, pkt.Proto, container)
	case container != "":
		who = "container " + container + ", " + proc
	}
	if who == "" {
		who = "a socket"
	}
	h := k.hop(at, HopDeliver, dev, fmt.Sprintf("%s listens on %s", who, hostPort(l.Addr, l.Port)), pkt)
	if dev == "lo" {
		h.tap(at, "lo", pkt, false)
	}
	h.Evidence = append(h.Evidence, fmt.Sprintf("listening socket: %s %s", l.Proto, hostPort(l.Addr, l.Port)))
	if d := k.hostDst; d != nil && host != d && l.PID != 0 && d.Node == at.Node.Name && d.knowsProcesses() {
		// The node's ports are one space: the port asked for is another
		// process's.
		k.warnings = append(k.warnings, fmt.Sprintf("port %d/%s on %s is %s's, not pod %s's: a hostNetwork pod shares its node's ports", l.Port, pkt.Proto, at.Node.Name, proc, d.Key()))
	}
	if host == nil {
		k.stop(at, Delivered, fmt.Sprintf("%s:%d in %s (%s)", pkt.Dst, pkt.DPort, at.Label(), who))
		k.verdict.Pod, k.verdict.Container = pod, container
		return
	}
	h.Evidence = append(h.Evidence, fmt.Sprintf("pod %s is hostNetwork: its sockets are the node's", host.Key()))
	owner := "hostNetwork"
	if container != "" {
		owner = "container " + container + ", hostNetwork"
	}
	if proc == "" || l.PID == 0 {
		proc = fmt.Sprintf("a socket of port %d/%s, which container %s declares", l.Port, pkt.Proto, container)
	}
	k.stop(at, Delivered, fmt.Sprintf("%s:%d in pod %s (%s) on %s: %s", pkt.Dst, pkt.DPort, host.Key(), owner, at.Node.Name, proc))
	k.verdict.Pod, k.verdict.Container, k.verdict.HostNetwork = pod, container, true
}

func hostPort(addr string, port int) string {
	if a, err := netip.ParseAddr(addr); err == nil {
		return netip.AddrPortFrom(a, uint16(port)).String()
	}
	return fmt.Sprintf("%s:%d", addr, port)
}

// listener finds the socket that would take the packet.
func listener(ns *inspect.Netns, pkt Packet) (inspect.Listener, bool) {
	for _, l := range ns.Listeners {
		if !strings.HasPrefix(l.Proto, pkt.Proto) || l.Port != int(pkt.DPort) {
			continue
		}
		switch l.Addr {
		case "0.0.0.0", "::", "*", pkt.Dst.String(), "::ffff:" + pkt.Dst.String():
			return l, true
		}
	}
	return inspect.Listener{}, false
}

// egress sends the packet out of dev toward next hop nh.
func (k *walker) egress(at Where, dev string, nh netip.Addr, pkt Packet) {
	l := link(at.NS, dev)
	if l == nil {
		k.stop(at, NoRoute, fmt.Sprintf("the route's device %s is not in %s", dev, at.Label()))
		return
	}
	if !l.Up {
		k.stop(at, Dropped, fmt.Sprintf("%s is down in %s", dev, at.Label()))
		return
	}
	switch {
	case l.Kind == "bridge":
		k.bridgeOut(at, l, nh, pkt)
	case l.Kind == "vxlan" && l.VXLAN != nil:
		k.encap(at, l, nh, pkt)
	case l.Kind == "veth" && l.Peer != nil && k.attached(at, l.Peer.Inode):
		peerNS := at.Node.byInode[l.Peer.Inode]
		peer := Where{at.Node, peerNS}
		h := k.hop(at, HopVeth, dev, fmt.Sprintf("%s → %s in %s", dev, l.Peer.Name, peer.Label()), pkt)
		h.tap(at, dev, pkt, true)
		h.tap(peer, l.Peer.Name, pkt, false)
		h.Evidence = append(h.Evidence, fmt.Sprintf("veth peer: ifindex %d in netns inode %d", l.Peer.Index, l.Peer.Inode))
		if pl := link(peerNS, l.Peer.Name); pl != nil && pl.Master != "" {
			k.bridgeIn(peer, pl, nh, pkt)
			return
		}
		k.ingress(peer, l.Peer.Name, pkt)
	default:
		k.wire(at, l, nh, pkt)
	}
}

// attached says whether the namespace at the other end of a veth from at
// is part of at's node: the node itself (from a pod) or one of its pods
// (from the node). Anything else — another node, a router, a lab's fabric
// — is the underlay.
func (k *walker) attached(at Where, peerInode uint64) bool {
	peerNS := at.Node.byInode[peerInode]
	if peerNS == nil {
		return false
	}
	if !at.IsNode() {
		return peerNS == at.Node.Snap.Node
	}
	return k.w.nodeOf(peerNS) == at.Node
}

// portFor finds the bridge port behind which nh lives.
func (k *walker) portFor(at Where, bridge string, nh netip.Addr) (*inspect.Link, Where, bool) {
	for i := range at.NS.Links {
		p := &at.NS.Links[i]
		if p.Master != bridge || p.Peer == nil {
			continue
		}
		peerNS := at.Node.byInode[p.Peer.Inode]
		if peerNS == nil {
			continue
		}
		if a, _ := linkAddr(peerNS, p.Peer.Name); a == nh || slices.ContainsFunc(nsAddrs(peerNS), func(x netip.Prefix) bool { return x.Addr() == nh }) {
			return p, Where{at.Node, peerNS}, true
		}
	}
	return nil, Where{}, false
}

// bridgeOut: the node sends a packet out of a bridge device; the bridge
// switches it to the port behind which the next hop lives.
func (k *walker) bridgeOut(at Where, br *inspect.Link, nh netip.Addr, pkt Packet) {
	port, peer, ok := k.portFor(at, br.Name, nh)
	if !ok {
		k.stop(at, NoNeighbor, fmt.Sprintf("nothing on bridge %s answers for %s (no port's namespace holds it)", br.Name, nh))
		return
	}
	h := k.hop(at, HopBridge, br.Name, fmt.Sprintf("bridge %s → port %s → %s", br.Name, port.Name, peer.Label()), pkt)
	h.tap(at, port.Name, pkt, true)
	h.tap(peer, port.Peer.Name, pkt, false)
	h.Evidence = append(h.Evidence, fmt.Sprintf("%s is a port of %s; its peer %s holds %s", port.Name, br.Name, port.Peer.Name, nh))
	k.ingress(peer, port.Peer.Name, pkt)
}

// bridgeIn: a frame arrives on a bridge port. If the next hop is the
// node's own address it goes up to the node; if it is behind another port
// it is switched there, through br_netfilter when enabled.
func (k *walker) bridgeIn(at Where, port *inspect.Link, nh netip.Addr, pkt Packet) {
	bridge := port.Master
	if isLocal(at.NS, nh) {
		h := k.hop(at, HopBridge, bridge, fmt.Sprintf("port %s → bridge %s (to the node: %s is its address)", port.Name, bridge, nh), pkt)
		if at.NS.Sysctls["net.bridge.bridge-nf-call-iptables"] != "1" {
			// With br_netfilter the bridge's PREROUTING has already NATed
			// the packet when the bridge device sees it; the port's
			// capture (the veth hop) shows it as it came.
			h.tap(at, bridge, pkt, false)
		}
		h.Evidence = append(h.Evidence, port.Name+" master "+bridge)
		k.ingress(at, bridge, pkt)
		return
	}
	out, peer, ok := k.portFor(at, bridge, nh)
	if !ok {
		k.stop(at, NoNeighbor, fmt.Sprintf("nothing on bridge %s answers for %s", bridge, nh))
		return
	}
	h := k.hop(at, HopBridge, bridge, fmt.Sprintf("port %s → bridge %s → port %s (switched, same node)", port.Name, bridge, out.Name), pkt)
	h.Evidence = append(h.Evidence, fmt.Sprintf("%s and %s are ports of %s", port.Name, out.Name, bridge))
	// The frame leaves the out port as br_netfilter left it (NATed, or a
	// reply un-NATed), if it did not drop it: the port's tap comes last.
	hi := len(k.hops) - 1
	if at.NS.Sysctls["net.bridge.bridge-nf-call-iptables"] == "1" {
		pkt = k.enter(at, bridge, pkt)
		var stop bool
		if pkt, stop = k.netfilter(at, nf.HookPrerouting, bridge, "", netip.Addr{}, pkt, true, port.Name, ""); stop {
			return
		}
		if pkt.Dst != nh && !k.reply {
			// br_netfilter DNAT to somewhere else: the kernel routes it.
			k.ingressRouted(at, bridge, pkt)
			return
		}
		if pkt, stop = k.netfilter(at, nf.HookForward, bridge, bridge, nh, pkt, true, port.Name, out.Name); stop {
			return
		}
		if pkt, stop = k.netfilter(at, nf.HookPostrouting, bridge, bridge, nh, pkt, true, port.Name, out.Name); stop {
			return
		}
	} else if at.IsNode() {
		h.Evidence = append(h.Evidence, "net.bridge.bridge-nf-call-iptables is not 1: netfilter does not see bridged packets")
	}
	pkt = k.leave(pkt)
	k.hops[hi].tap(at, out.Name, pkt, true)
	k.ingress(peer, out.Peer.Name, pkt)
}

// ingressRouted continues a bridged packet that br_netfilter DNATed: the
// node routes it from the bridge.
func (k *walker) ingressRouted(at Where, dev string, pkt Packet) {
	r, ok := lookup(at.NS, pkt.Src, pkt.Dst, dev, pkt.Mark)
	if !ok {
		k.stop(at, NoRoute, fmt.Sprintf("no route to %s in %s", pkt.Dst, at.Label()))
		return
	}
	k.routeHop(at, r, pkt)
	if r.Type == routeLocal {
		k.deliver(at, dev, k.leave(pkt))
		return
	}
	nh := r.NextHop(pkt.Dst)
	var stop bool
	if pkt, stop = k.netfilter(at, nf.HookForward, dev, r.Dev, nh, pkt, false, "", ""); stop {
		return
	}
	if pkt, stop = k.netfilter(at, nf.HookPostrouting, dev, r.Dev, nh, pkt, false, "", ""); stop {
		return
	}
	k.egress(at, r.Dev, nh, k.leave(pkt))
}

// wire sends the packet across the underlay: to the node owning the next
// hop, or out of the traced world.
func (k *walker) wire(at Where, l *inspect.Link, nh netip.Addr, pkt Packet) {
	to, ok := k.w.owner(nh)
	if !ok || !to.IsNode() || to.Node == at.Node {
		if k.reply {
			k.final = at
			k.pkt = pkt
			k.hop(at, HopWire, l.Name, fmt.Sprintf("leaves %s by %s toward %s", at.Node.Name, l.Name, nh), pkt).tap(at, l.Name, pkt, true)
			return
		}
		k.hop(at, HopWire, l.Name, fmt.Sprintf("leaves %s by %s toward %s", at.Node.Name, l.Name, nh), pkt).tap(at, l.Name, pkt, true)
		k.stop(at, Left, fmt.Sprintf("sent to %s by %s: outside the traced nodes (the Internet, a router, or a node without a snapshot)", nh, l.Name))
		k.verdict.Toward = nh.String()
		return
	}
	dev := ""
	for _, tl := range to.NS.Links {
		for _, a := range tl.Addrs {
			if p, err := netip.ParsePrefix(a); err == nil && p.Addr() == nh {
				dev = tl.Name
			}
		}
	}
	h := k.hop(at, HopWire, l.Name, fmt.Sprintf("%s %s → underlay → %s %s (%s)", at.Node.Name, l.Name, to.Node.Name, dev, nh), pkt)
	h.tap(at, l.Name, pkt, true)
	h.tap(to, dev, pkt, false)
	h.Evidence = append(h.Evidence, fmt.Sprintf("%s holds %s", to.Node.Name, nh))
	k.ingress(to, dev, pkt)
}

// encap sends the packet into a VXLAN device: the next hop's neighbour
// entry gives the remote VTEP's MAC, the FDB its underlay address; the
// outer UDP packet crosses the underlay and the remote node decapsulates.
func (k *walker) encap(at Where, l *inspect.Link, nh netip.Addr, pkt Packet) {
	mac, vtep := at.NS.VTEP(l.Name, nh)
	if mac == "" {
		k.stop(at, NoNeighbor, fmt.Sprintf("no neighbour entry for %s on %s (flannel writes one per remote node)", nh, l.Name))
		return
	}
	if !vtep.IsValid() {
		k.stop(at, NoNeighbor, fmt.Sprintf("no FDB entry on %s for %s (the MAC of %s): the remote VTEP is unknown", l.Name, mac, nh))
		return
	}
	port := uint16(l.VXLAN.Port)
	if port == 0 {
		port = 8472
	}
	local, _ := netip.ParseAddr(l.VXLAN.Local)
	outer := Packet{Proto: "udp", Src: local, Dst: vtep, SPort: port, DPort: port}
	r, ok := lookup(at.NS, local, vtep, "", 0)
	if !ok || r.Type != routeUnicast {
		k.stop(at, NoRoute, fmt.Sprintf("no underlay route to VTEP %s", vtep))
		return
	}
	if !outer.Src.IsValid() {
		outer.Src = r.Src
	}
	h := k.hop(at, HopEncap, l.Name, fmt.Sprintf("VXLAN VNI %d: %s → VTEP %s (outer %s)", l.VXLAN.VNI, mac, vtep, outer), pkt)
	h.tap(at, l.Name, pkt, true)
	h.Evidence = append(h.Evidence, fmt.Sprintf("neighbour %s lladdr %s dev %s", nh, mac, l.Name), fmt.Sprintf("fdb %s dst %s dev %s", mac, vtep, l.Name), "underlay route: "+r.Line())
	to, ok := k.w.owner(vtep)
	if !ok || !to.IsNode() {
		k.hop(at, HopWire, r.Dev, fmt.Sprintf("leaves %s by %s toward VTEP %s", at.Node.Name, r.Dev, vtep), outer)
		k.stop(at, Left, fmt.Sprintf("VTEP %s is not a traced node", vtep))
		k.verdict.Toward = vtep.String()
		return
	}
	// The underlay carries the outer packet; a capture there decodes the
	// inner one, which is what is matched.
	wh := k.hop(at, HopWire, r.Dev, fmt.Sprintf("%s %s → underlay → %s (VTEP %s)", at.Node.Name, r.Dev, to.Node.Name, vtep), outer)
	wh.tap(at, r.Dev, pkt, true)
	var dst *inspect.Link
	for i := range to.NS.Links {
		tl := &to.NS.Links[i]
		if tl.VXLAN != nil && tl.VXLAN.VNI == l.VXLAN.VNI && (tl.VXLAN.Port == l.VXLAN.Port || tl.VXLAN.Port == 0 || l.VXLAN.Port == 0) {
			dst = tl
		}
	}
	if dst == nil {
		k.stop(to, Dropped, fmt.Sprintf("%s has no VXLAN device with VNI %d on port %d: the encapsulated packet is dropped", to.Node.Name, l.VXLAN.VNI, port))
		return
	}
	k.hop(to, HopDecap, dst.Name, fmt.Sprintf("VXLAN VNI %d decapsulated on %s", l.VXLAN.VNI, dst.Name), pkt).tap(to, dst.Name, pkt, false)
	k.ingress(to, dst.Name, pkt)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
