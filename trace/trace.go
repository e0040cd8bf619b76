package trace

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/netx-project/netx/inspect"
)

// Request is what to trace.
type Request struct {
	// Src and Dst name the ends: a pod (pod-a, ns/pod-a, pod/pod-a), a
	// service (svc/svc-b, svc/ns/svc-b), IP[:PORT], node/NAME[:PORT],
	// internet (Src only), localhost:PORT (Dst only: inside the source
	// pod). A bare name is a pod, else a service.
	Src, Dst string
	// Port is the destination port when Dst does not give one (default:
	// the service's first port, or the pod's first listening port).
	Port uint16
	// Protocol is tcp (default), udp, icmp or sctp.
	Protocol string
	// Endpoint picks the service endpoint to follow (default: the most
	// likely, the first of equals).
	Endpoint netip.Addr
	// Node is the node an internet client's packet arrives at (default:
	// the node owning the destination address, else the first node).
	Node string
	// SPort is the source port (default 40000).
	SPort uint16
	// ClientIP is an internet client's address (default: the lab's
	// client, else 203.0.113.10): what loadBalancerSourceRanges and
	// other source matches see.
	ClientIP netip.Addr
}

// client is the internet client's address for req.
func (w *World) client(req Request) netip.Addr {
	if req.ClientIP.IsValid() {
		return req.ClientIP
	}
	return w.External
}

// BadRequestError is a reference that does not resolve: the CLI prints
// it as is, one line naming the object and the fix.
type BadRequestError struct{ msg string }

func (e *BadRequestError) Error() string { return e.msg }

func badf(format string, args ...any) error {
	return &BadRequestError{fmt.Sprintf(format, args...)}
}

// IsBadRequest says whether err is about the request rather than the
// state.
func IsBadRequest(err error) bool {
	var b *BadRequestError
	return errors.As(err, &b)
}

// source is a resolved source: where the packet starts.
type source struct {
	end      End
	at       Where
	internet bool
	// host is the hostNetwork pod sending, from its node's namespace.
	host *HostPod
}

// Trace follows a packet from Src to Dst, then the reply back.
func (w *World) Trace(req Request) (*Result, error) {
	res, _, err := w.run(req)
	return res, err
}

// run traces and also returns where the packet started.
func (w *World) run(req Request) (*Result, source, error) {
	if req.Protocol == "" {
		req.Protocol = "tcp"
	}
	switch req.Protocol {
	case "tcp", "udp", "icmp", "sctp":
	default:
		return nil, source{}, badf("protocol %q: use tcp, udp, icmp or sctp", req.Protocol)
	}
	if req.SPort == 0 {
		req.SPort = 40000
	}
	src, err := w.resolveSrc(req)
	if err != nil {
		return nil, source{}, err
	}
	dst, addr, port, err := w.resolveDst(req, src)
	if err != nil {
		return nil, source{}, err
	}
	pkt := Packet{Proto: req.Protocol, Dst: addr}
	if pkt.hasPorts() {
		pkt.SPort, pkt.DPort = req.SPort, port
	}
	res := &Result{Version: ResultVersion, Src: src.end, Dst: dst}
	k := &walker{w: w, endpoint: req.Endpoint}
	if dst.Kind == "pod" && dst.HostNetwork {
		k.hostDst = w.hostPod(dst.Name, dst.Node)
	}
	if src.internet {
		pkt.Src = w.client(req)
		at, dev, err := w.entry(req, addr)
		if err != nil {
			return nil, source{}, err
		}
		src.at = at
		res.Src.Node = at.Node.Name
		res.Packet = view(pkt)
		k.hop(at, HopArrive, dev, fmt.Sprintf("a client on the Internet (%s) reaches %s on %s", pkt.Src, at.Node.Name, dev), pkt).tap(at, dev, pkt, false)
		k.ingress(at, dev, pkt)
	} else {
		if r, ok := lookup(src.at.NS, netip.Addr{}, addr, "", 0); ok {
			pkt.Src = r.Src
		}
		if !pkt.Src.IsValid() {
			pkt.Src = preferredSrc(src.at.NS, "eth0", addr)
		}
		res.Packet = view(pkt)
		res.Src.Addr = pkt.Src.String()
		from := src.at.Label()
		if src.host != nil {
			from = src.host.Label()
		}
		k.hop(src.at, HopSend, "", "a socket in "+from+" sends "+pkt.String(), pkt)
		k.output(src.at, pkt)
	}
	if k.verdict == nil {
		k.verdict = &Verdict{Kind: Unknown, Detail: "the walk ended without a verdict"}
	}
	res.Verdict, res.Hops, res.Branches, res.Warnings = *k.verdict, k.hops, k.branches, dedupe(k.warnings)
	res.Affinity = k.affinity
	if err := checkEndpoint(req.Endpoint, res); err != nil {
		return nil, source{}, err
	}
	if k.verdict.Kind == Delivered {
		res.Reply = w.reply(k, src, pkt)
	}
	return res, src, nil
}

// checkEndpoint refuses an --endpoint the packet could not go to: none
// of the choices a service offered, nor where a DNAT sent it.
func checkEndpoint(ep netip.Addr, res *Result) error {
	if !ep.IsValid() {
		return nil
	}
	var seen []string
	for _, b := range res.Branches {
		seen = append(seen, b.Dest())
	}
	for _, h := range res.Hops {
		for _, n := range h.NAT {
			if n.Kind == "DNAT" {
				seen = append(seen, n.To)
			}
		}
	}
	seen = dedupe(seen)
	if len(seen) == 0 && res.Verdict.Kind != Delivered && res.Verdict.Kind != Refused {
		return nil // the walk stopped before any choice: the verdict says why
	}
	for _, s := range seen {
		if a, err := netip.ParseAddrPort(s); err == nil && a.Addr() == ep || s == ep.String() {
			return nil
		}
	}
	if len(seen) == 0 {
		return badf("--endpoint %s: the path to %s has no service endpoint to choose (no DNAT on the way); drop --endpoint", ep, res.Dst)
	}
	return badf("--endpoint %s is not among the endpoints the rules offer here (%s); pick one of them", ep, strings.Join(seen, ", "))
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// reply walks the reply from where the packet was delivered back to the
// source, un-NATing it where its connection was NATed, and checks it comes
// back as the reply the source expects.
func (w *World) reply(fwd *walker, src source, sent Packet) *Reply {
	got := fwd.pkt
	if !got.Src.IsValid() {
		got = sentAt(fwd)
	}
	rp := Packet{Proto: got.Proto, Src: got.Dst, Dst: got.Src, SPort: got.DPort, DPort: got.SPort}
	k := &walker{w: w, reply: true, conns: fwd.conns}
	k.hop(fwd.final, HopSend, "", "the reply leaves "+fwd.final.Label()+": "+rp.String(), rp)
	k.output(fwd.final, rp)
	out := &Reply{Hops: k.hops}
	if k.verdict != nil {
		out.Verdict = *k.verdict
		out.Packet = view(k.pkt)
		return out
	}
	end := k.pkt
	out.Packet = view(end)
	want := Packet{Proto: sent.Proto, Src: sent.Dst, Dst: sent.Src, SPort: sent.DPort, DPort: sent.SPort}
	ok := end.Src == want.Src && end.Dst == want.Dst && (!want.hasPorts() || end.SPort == want.SPort && end.DPort == want.DPort)
	reachedSource := src.internet || k.final.NS == src.at.NS
	switch {
	case ok && reachedSource:
		out.Verdict = Verdict{Kind: Delivered, Detail: fmt.Sprintf("the reply reaches the source as %s", end), Node: k.final.Node.Name, Netns: k.final.Label()}
	case !reachedSource:
		out.Verdict = Verdict{Kind: Asymmetric, Detail: fmt.Sprintf("the reply ends in %s, not at the source", k.final.Label()), Node: k.final.Node.Name, Netns: k.final.Label()}
	default:
		out.Verdict = Verdict{Kind: Asymmetric, Node: k.final.Node.Name, Netns: k.final.Label(),
			Detail: fmt.Sprintf("the reply arrives as %s but the source sent %s: it is not the connection's reply and the source drops it (the reply bypassed the conntrack entry that NATed the request — on a bridge, is net.bridge.bridge-nf-call-iptables 1?)", end, sent)}
	}
	return out
}

func sentAt(k *walker) Packet {
	if len(k.hops) == 0 {
		return Packet{}
	}
	pv := k.hops[len(k.hops)-1].Packet
	p := Packet{Proto: pv.Proto, SPort: pv.SPort, DPort: pv.DPort}
	p.Src, _ = netip.ParseAddr(pv.Src)
	p.Dst, _ = netip.ParseAddr(pv.Dst)
	return p
}

// entry is where an Internet client's packet for addr arrives: the node
// owning addr (on the link holding it), or --node's uplink.
func (w *World) entry(req Request, addr netip.Addr) (Where, string, error) {
	if req.Node != "" {
		n := w.node(req.Node)
		if n == nil {
			return Where{}, "", badf("node %q is not traced; nodes: %s", req.Node, w.nodeNames())
		}
		return Where{n, n.Snap.Node}, uplink(n.Snap.Node, addr), nil
	}
	if at, ok := w.owner(addr); ok && at.IsNode() {
		dev := ""
		for _, l := range at.NS.Links {
			for _, a := range l.Addrs {
				if p, err := netip.ParsePrefix(a); err == nil && p.Addr() == addr {
					dev = l.Name
				}
			}
		}
		if dev == "lo" || dev == "" {
			dev = uplink(at.NS, addr)
		}
		return at, dev, nil
	}
	n := w.Nodes[0]
	return Where{n, n.Snap.Node}, uplink(n.Snap.Node, addr), nil
}

// uplink is the device a node's default route leaves by: where traffic
// from outside arrives.
func uplink(ns *inspect.Netns, _ netip.Addr) string {
	if r, ok := lookup(ns, netip.Addr{}, netip.MustParseAddr("203.0.113.10"), "", 0); ok && r.Dev != "" {
		return r.Dev
	}
	for _, l := range ns.Links {
		if l.Name != "lo" && len(l.Addrs) > 0 {
			return l.Name
		}
	}
	return "eth0"
}

// splitPort splits "ref:PORT"; ref keeps any colon that is not a port.
func splitPort(ref string) (string, uint16, error) {
	i := strings.LastIndexByte(ref, ':')
	if i < 0 {
		return ref, 0, nil
	}
	p, err := strconv.ParseUint(ref[i+1:], 10, 16)
	if err != nil || p == 0 {
		return "", 0, badf("%q: the port after ':' must be a number from 1 to 65535", ref)
	}
	return ref[:i], uint16(p), nil
}

func (w *World) resolveSrc(req Request) (source, error) {
	ref := req.Src
	if ref == "" {
		return source{}, badf("no source: give SRC as a pod, node/NAME, an IP or internet")
	}
	switch {
	case ref == "internet":
		return source{end: End{Ref: ref, Kind: "internet", Addr: w.client(req).String()}, internet: true}, nil
	case req.ClientIP.IsValid():
		return source{}, badf("--client-ip %s: only an internet source has a client address to set; drop --client-ip or trace from internet", req.ClientIP)
	case strings.HasPrefix(ref, "localhost"):
		return source{}, badf("source %q: localhost is only a destination (localhost:PORT inside the source pod)", ref)
	case strings.HasPrefix(ref, "svc/"):
		return source{}, badf("source %q: a service cannot send; trace from a pod, a node or internet to it", ref)
	case strings.HasPrefix(ref, "node/"):
		n := w.node(strings.TrimPrefix(ref, "node/"))
		if n == nil {
			return source{}, badf("node %q is not traced; nodes: %s", strings.TrimPrefix(ref, "node/"), w.nodeNames())
		}
		return source{end: End{Ref: ref, Kind: "node", Name: n.Name, Node: n.Name}, at: Where{n, n.Snap.Node}}, nil
	}
	if a, err := netip.ParseAddr(ref); err == nil {
		at, ok := w.owner(a)
		if !ok {
			return source{}, badf("source %s is not an address of any traced pod or node; give a pod name, or internet for an outside client", a)
		}
		return source{end: End{Ref: ref, Kind: "ip", Name: at.Label(), Node: at.Node.Name, Addr: a.String()}, at: at}, nil
	}
	at, key, found, err := w.findPod(ref)
	if err != nil {
		return source{}, badf("%v", err)
	}
	if !found {
		return source{}, badf("source pod %q not found on the traced nodes (%s); pods: %s", ref, w.nodeNames(), w.podNames())
	}
	src := source{end: End{Ref: ref, Kind: "pod", Name: key, Node: at.Node.Name}, at: at}
	if at.IsNode() {
		src.host = w.hostPod(key, at.Node.Name)
		src.end.HostNetwork = true
	}
	return src, nil
}

// podNames lists the pods a trace can name, hostNetwork ones marked, or
// says what was found instead.
func (w *World) podNames() string {
	var names []string
	for _, p := range w.pods() {
		names = append(names, p.NS.PodName())
	}
	for _, hp := range w.HostPods {
		names = append(names, hp.Key()+" (hostNetwork)")
	}
	if len(names) == 0 {
		return "none found (pods are named by the container runtime or a netx lab: give --cri-endpoint, or see `netx inspect`)"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func (w *World) resolveDst(req Request, src source) (End, netip.Addr, uint16, error) {
	ref := req.Dst
	if ref == "" {
		return End{}, netip.Addr{}, 0, badf("no destination: give DST as a pod, svc/NAME, node/NAME:PORT, IP[:PORT] or localhost:PORT")
	}
	needPort := req.Protocol != "icmp"
	withPort := func(e End, a netip.Addr, p uint16, what string) (End, netip.Addr, uint16, error) {
		if p == 0 {
			p = req.Port
		}
		if p == 0 && needPort {
			return End{}, netip.Addr{}, 0, badf("destination %q has no port: add --port N or write %s:PORT", ref, what)
		}
		if !needPort {
			p = 0
		}
		e.Addr, e.Port = a.String(), p
		return e, a, p, nil
	}
	if rest, ok := strings.CutPrefix(ref, "localhost"); ok && (rest == "" || rest[0] == ':') {
		if src.internet {
			return End{}, netip.Addr{}, 0, badf("localhost is inside the source pod; an internet source has none")
		}
		_, p, err := splitPort(ref)
		if err != nil {
			return End{}, netip.Addr{}, 0, err
		}
		return withPort(End{Ref: ref, Kind: "localhost", Name: src.at.Label(), Node: src.at.Node.Name}, netip.MustParseAddr("127.0.0.1"), p, "localhost")
	}
	name, port, err := splitPort(ref)
	if err != nil {
		return End{}, netip.Addr{}, 0, err
	}
	if port == 0 {
		port = req.Port
	}
	if a, err := netip.ParseAddr(name); err == nil {
		e := End{Ref: ref, Kind: "ip"}
		if at, ok := w.owner(a); ok {
			e.Name, e.Node = at.Label(), at.Node.Name
		} else if s := w.serviceByIP(a); s != nil {
			e.Kind, e.Name = "service", s.Key()
		}
		return withPort(e, a, port, name)
	}
	if n, ok := strings.CutPrefix(name, "node/"); ok {
		node := w.node(n)
		if node == nil {
			return End{}, netip.Addr{}, 0, badf("node %q is not traced; nodes: %s", n, w.nodeNames())
		}
		a := nodeIP(node)
		if !a.IsValid() {
			return End{}, netip.Addr{}, 0, badf("node %s has no address outside its pod networks", n)
		}
		return withPort(End{Ref: ref, Kind: "node", Name: n, Node: n}, a, port, "node/"+n)
	}
	if s, ok := strings.CutPrefix(name, "svc/"); ok {
		return w.serviceDst(ref, s, port, req)
	}
	at, key, found, perr := w.findPod(name)
	svcs, serr := w.findService(strings.TrimPrefix(name, "pod/"), port)
	if perr != nil {
		return End{}, netip.Addr{}, 0, badf("%v", perr)
	}
	if found && len(svcs) > 0 && !strings.HasPrefix(name, "pod/") {
		return End{}, netip.Addr{}, 0, badf("%q is both a pod and a service: write pod/%s or svc/%s", name, name, name)
	}
	if !found {
		if serr == nil && len(svcs) > 0 && !strings.HasPrefix(name, "pod/") {
			return w.serviceDst(ref, name, port, req)
		}
		return End{}, netip.Addr{}, 0, badf("destination %q is neither a pod nor a service on the traced nodes; pods: %s", name, w.podNames())
	}
	e := End{Ref: ref, Kind: "pod", Name: key, Node: at.Node.Name}
	if at.IsNode() {
		return w.hostPodDst(req, e, w.hostPod(key, at.Node.Name), port, withPort)
	}
	a := podIP(at.NS)
	if !a.IsValid() {
		return End{}, netip.Addr{}, 0, badf("pod %s has no IPv4 address", name)
	}
	if port == 0 && needPort {
		for _, l := range at.NS.Listeners {
			if strings.HasPrefix(l.Proto, req.Protocol) && l.Addr != "127.0.0.1" && l.Addr != "::1" {
				port = uint16(l.Port)
				break
			}
		}
	}
	return withPort(e, a, port, name)
}

// hostPodDst resolves a hostNetwork pod as a destination: its node's
// address, and by default a port of its own — one its processes listen
// on, else one its containers declare — never another process's of the
// node.
func (w *World) hostPodDst(req Request, e End, hp *HostPod, port uint16, withPort func(End, netip.Addr, uint16, string) (End, netip.Addr, uint16, error)) (End, netip.Addr, uint16, error) {
	e.HostNetwork = true
	n := w.node(e.Node)
	a := nodeIP(n)
	if !a.IsValid() {
		return End{}, netip.Addr{}, 0, badf("pod %s is hostNetwork and its node %s has no address outside its pod networks", e.Name, e.Node)
	}
	if port == 0 && req.Protocol != "icmp" && hp != nil && hp.Pod != nil {
		for _, l := range n.Snap.Node.Listeners {
			if _, own := hp.owns(l.PID); own && strings.HasPrefix(l.Proto, req.Protocol) && l.Addr != "127.0.0.1" && l.Addr != "::1" {
				port = uint16(l.Port)
				break
			}
		}
		for _, c := range hp.Pod.Containers {
			for _, p := range c.Ports {
				if port == 0 && p.Protocol == req.Protocol {
					port = uint16(p.Port)
				}
			}
		}
		if port == 0 {
			return End{}, netip.Addr{}, 0, badf("destination pod %s is hostNetwork and has no %s port of its own (its containers declare none and none of its processes listens); add --port N or write %s:PORT", e.Name, req.Protocol, e.Ref)
		}
	}
	return withPort(e, a, port, e.Ref)
}

func (w *World) serviceDst(ref, name string, port uint16, req Request) (End, netip.Addr, uint16, error) {
	svcs, err := w.findService(name, port)
	if err != nil {
		return End{}, netip.Addr{}, 0, badf("%v", err)
	}
	if len(svcs) == 0 {
		var known []string
		for _, s := range w.Services {
			if !slices.Contains(known, s.Key()) {
				known = append(known, s.Key())
			}
		}
		return End{}, netip.Addr{}, 0, badf("service %q not found in the nodes' kube-proxy rules; services: %s", name, strings.Join(known, ", "))
	}
	var pick *Service
	for _, s := range svcs {
		if s.ClusterIP.IsValid() && (port == 0 || s.Port == port) && (req.Protocol == "icmp" || s.Protocol == "" || s.Protocol == req.Protocol) {
			pick = s
			break
		}
	}
	if pick == nil {
		var ports []string
		for _, s := range svcs {
			if s.ClusterIP.IsValid() {
				ports = append(ports, fmt.Sprintf("%d/%s", s.Port, s.Protocol))
			}
		}
		return End{}, netip.Addr{}, 0, badf("service %s has no %s port %d; its ports: %s", svcs[0].Key(), req.Protocol, port, strings.Join(ports, ", "))
	}
	p := pick.Port
	if req.Protocol == "icmp" {
		p = 0
	}
	return End{Ref: ref, Kind: "service", Name: pick.Key(), Addr: pick.ClusterIP.String(), Port: p}, pick.ClusterIP, p, nil
}

func (w *World) serviceByIP(a netip.Addr) *Service {
	for _, s := range w.Services {
		if s.ClusterIP == a {
			return s
		}
	}
	return nil
}

// podIP is a pod's eth0 IPv4 address (else its first non-loopback one).
func podIP(ns *inspect.Netns) netip.Addr {
	if a, _ := linkAddr(ns, "eth0"); a.IsValid() {
		return a
	}
	for _, p := range nsAddrs(ns) {
		if p.Addr().Is4() && !p.Addr().IsLoopback() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// nodeIP is a node's primary address: the source of its default route.
func nodeIP(n *Node) netip.Addr {
	if r, ok := lookup(n.Snap.Node, netip.Addr{}, netip.MustParseAddr("203.0.113.10"), "", 0); ok && r.Src.IsValid() {
		return r.Src
	}
	for _, p := range n.local {
		if p.Addr().Is4() && !p.Addr().IsLoopback() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}
