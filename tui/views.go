package tui

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/netx-project/netx/diagnose"
	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/netfilter"
	"github.com/netx-project/netx/printers"
	"github.com/netx-project/netx/trace"
)

// What a line is about.
type (
	podRef struct {
		node *trace.Node
		ns   *inspect.Netns
	}
	hostPodRef struct {
		node *trace.Node
		pod  *inspect.HostNetworkPod
	}
	// chainRef is a chain's header line in the rules view.
	chainRef struct{ key string }
	// ruleRef is a rule; jump is the header of the chain it jumps to.
	ruleRef struct {
		rule *netfilter.Rule
		jump string
	}
	hopRef struct{ hop int }
)

// lines splits printed text into items, plain text kept for the filter.
func lines(text string, ref func(plain string) any) []item {
	text = strings.TrimRight(text, "\n")
	var out []item
	for _, l := range strings.Split(text, "\n") {
		plain := l
		if strings.IndexByte(l, 0x1b) >= 0 {
			plain = ansi.Strip(l)
		}
		var r any
		if ref != nil {
			r = ref(plain)
		}
		it := item{text: l, ref: r}
		if plain != l {
			it.plain = plain
		}
		out = append(out, it)
	}
	return out
}

func (m *Model) snap() *inspect.Snapshot { return m.w.Nodes[m.node].Snap }

// rebuild starts the four views over the node in front again; each is
// built when first shown (a node with 10k services lists 80k rules), with
// the cursor on the line it was on when there is one.
func (m *Model) rebuild() {
	for i := range topNames {
		if i < len(m.tops) && m.tops[i] != nil && m.tops[i].list != nil {
			if sel := m.tops[i].list.selected(); sel != nil {
				m.keep[i] = sel.match()
			}
		}
	}
	m.tops = make([]*screen, len(topNames))
	// Detail screens show what was read before: they go.
	m.stack = nil
}

// view is the i-th view, built on first use.
func (m *Model) view(i int) *screen {
	if m.w == nil || i >= len(m.tops) {
		return nil
	}
	if s := m.tops[i]; s != nil {
		return s
	}
	n := m.w.Nodes[m.node]
	var items []item
	switch screenKind(i) {
	case nodeView:
		items = m.nodeItems(n)
	case podsView:
		items = m.podItems()
	case servicesView:
		items = m.serviceItems()
	case rulesView:
		items = m.ruleItems(n)
	}
	s := &screen{kind: screenKind(i), title: topNames[i], list: newList(items)}
	s.list.height = m.bodyHeight()
	if want := m.keep[i]; want != "" {
		for k := range s.list.items {
			if s.list.items[k].match() == want {
				s.list.goTo(k)
				break
			}
		}
	}
	s.list.scroll()
	m.tops[i] = s
	return s
}

func (m *Model) summary() string {
	pods, svcs := 0, len(m.w.Services)
	for _, n := range m.w.Nodes {
		for _, ns := range n.Snap.Namespaces {
			if ns.Pod != nil {
				pods++
			}
		}
		pods += len(n.Snap.HostNetworkPods)
	}
	return fmt.Sprintf("%d node(s), %d pods, %d services", len(m.w.Nodes), pods, svcs)
}

// nodeItems is inspect's node view, as netx inspect prints it: settings,
// findings, interfaces, bridges with the pod behind each port, overlays,
// routes, pods. A line naming a pod opens it.
func (m *Model) nodeItems(n *trace.Node) []item {
	var buf bytes.Buffer
	printers.Node(&buf, n.Snap)
	pods := map[string]any{}
	for _, ns := range n.Snap.Namespaces {
		if p := ns.PodName(); p != "" {
			pods[p] = podRef{n, ns}
		}
	}
	for i := range n.Snap.HostNetworkPods {
		p := &n.Snap.HostNetworkPods[i]
		pods[p.Key()] = hostPodRef{n, p}
	}
	items := lines(buf.String(), func(plain string) any {
		for _, f := range strings.Fields(plain) {
			if r, ok := pods[strings.TrimRight(f, ",:;)")]; ok {
				return r
			}
		}
		return nil
	})
	// The findings netx derives, at the end, each its own line.
	var finds []string
	for _, f := range diagnose.Sysctls(n.Snap.Node) {
		finds = append(finds, printers.Sysctl(f))
	}
	finds = append(finds, n.Snap.Node.Warnings...)
	if len(finds) > 0 {
		items = append(items, item{})
		items = append(items, item{text: "findings", head: true})
		for _, f := range finds {
			items = append(items, item{text: "  " + f, plain: "  " + f})
		}
	}
	return items
}

// podItems lists the pods of every node read.
func (m *Model) podItems() []item {
	var out []item
	for _, n := range m.w.Nodes {
		for _, ns := range n.Snap.Namespaces {
			if ns.Pod == nil {
				continue
			}
			l := fmt.Sprintf("%-44s %-16s %s", ns.PodName(), printers.PodIP(ns), n.Name)
			out = append(out, item{text: l, plain: l, ref: podRef{n, ns}})
		}
		for i := range n.Snap.HostNetworkPods {
			p := &n.Snap.HostNetworkPods[i]
			l := fmt.Sprintf("%-44s %-16s %s  hostNetwork", p.Key(), "(node)", n.Name)
			out = append(out, item{text: l, plain: l, ref: hostPodRef{n, p}})
		}
	}
	if len(out) == 0 {
		out = append(out, item{text: "  no pods", plain: "no pods"})
	}
	return out
}

// serviceItems lists the services kube-proxy's rules program.
func (m *Model) serviceItems() []item {
	var out []item
	for _, s := range m.w.Services {
		addr := "-"
		if s.ClusterIP.IsValid() {
			addr = fmt.Sprintf("%s:%d", s.ClusterIP, s.Port)
		}
		np := ""
		if s.NodePort != 0 {
			np = fmt.Sprintf("  nodePort %d", s.NodePort)
		}
		if s.NoEndpoints {
			np += "  no endpoints"
		}
		l := fmt.Sprintf("%-44s %-4s %-22s%s", s.Key()+portSuffix(s), s.Protocol, addr, np)
		out = append(out, item{text: l, plain: l, ref: s})
	}
	if len(out) == 0 {
		out = append(out, item{text: "  no services in kube-proxy's rules", plain: "no services"})
	}
	return out
}

func portSuffix(s *trace.Service) string {
	if s.PortName != "" {
		return ":" + s.PortName
	}
	return ""
}

// ruleItems lists the node's tables, chains and rules as read (each
// source: iptables-nft, iptables-legacy, nftables); a jump's line knows
// its target chain's header.
func (m *Model) ruleItems(n *trace.Node) []item {
	var out []item
	headers := map[string]int{}
	type pending struct {
		i   int
		key string
	}
	var jumps []pending
	for _, rs := range n.Snap.Node.Netfilter {
		for _, t := range rs.Tables {
			h := fmt.Sprintf("table %s %s (%s)", t.Family, t.Name, rs.Source)
			out = append(out, item{text: h, head: true})
			for _, c := range t.Chains {
				key := rs.Source + " " + string(t.Family) + " " + t.Name + " " + c.Name
				head := "  chain " + c.Name
				if c.Hook != "" {
					head += fmt.Sprintf(" (%s hook, priority %d, policy %s)", c.Hook, c.Priority, orDash(c.Policy))
				}
				headers[key] = len(out)
				out = append(out, item{text: head, head: true, ref: chainRef{key}})
				for _, r := range c.Rules {
					text := "    " + num3(r.Num) + "  " + r.Text
					ref := ruleRef{rule: r}
					if r.Target.Chain != "" {
						jumps = append(jumps, pending{len(out), rs.Source + " " + string(t.Family) + " " + t.Name + " " + r.Target.Chain})
					}
					// The chain's name in the plain text, so a filter keeps
					// an nft rule's context too.
					out = append(out, item{text: text, also: c.Name, ref: ref})
				}
			}
		}
	}
	for _, j := range jumps {
		if _, ok := headers[j.key]; ok {
			r := out[j.i].ref.(ruleRef)
			r.jump = j.key
			out[j.i].ref = r
		}
	}
	if len(out) == 0 {
		out = append(out, item{text: "  no netfilter rules read", plain: "no rules"})
	}
	return out
}

// num3 is n right-aligned in three columns, as %3d without fmt's cost
// (the rules view has a line per rule: 80k at 10k services).
func num3(n int) string {
	s := strconv.Itoa(n)
	if len(s) < 3 {
		s = strings.Repeat(" ", 3-len(s)) + s
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// opens says whether enter does something on a line about ref.
func opens(kind screenKind, ref any) bool {
	switch r := ref.(type) {
	case podRef, hostPodRef, *trace.Service, hopRef:
		return true
	case ruleRef:
		return r.jump != ""
	}
	return false
}

// traceable says whether t starts a trace from a line about ref.
func traceable(ref any) bool {
	switch ref.(type) {
	case podRef, hostPodRef, *trace.Service:
		return true
	}
	return false
}

// open is enter on the selected line.
func (m *Model) open(s *screen) tea.Cmd {
	it := s.list.selected()
	if it == nil {
		return nil
	}
	switch r := it.ref.(type) {
	case podRef:
		var buf bytes.Buffer
		printers.Netns(&buf, r.node.Snap, r.ns)
		m.push(&screen{kind: podView, title: "pod " + r.ns.PodName(), list: newList(lines(buf.String(), nil))})
	case hostPodRef:
		var buf bytes.Buffer
		printers.HostNetworkPod(&buf, r.node.Snap, r.pod)
		m.push(&screen{kind: podView, title: "pod " + r.pod.Key(), list: newList(lines(buf.String(), nil))})
	case *trace.Service:
		return m.serviceDetails(r)
	case ruleRef:
		if r.jump == "" {
			return nil
		}
		for i, x := range s.list.items {
			if c, ok := x.ref.(chainRef); ok && c.key == r.jump {
				if s.list.filter != "" {
					s.list.setFilter("")
				}
				s.jumps = append(s.jumps, s.list.cursor)
				s.list.goTo(i)
				break
			}
		}
	case hopRef:
		m.push(m.hopScreen(s, r.hop))
	}
	return nil
}

// serviceDetails traces the service from each node read (off the loop):
// the endpoints each node's rules choose among, with kube-proxy's
// probabilities.
func (m *Model) serviceDetails(svc *trace.Service) tea.Cmd {
	m.busy = "reading the endpoints of " + svc.Key()
	w := m.w
	return func() tea.Msg {
		var out []item
		add := func(s string) { out = append(out, item{text: s, plain: ansi.Strip(s)}) }
		add(fmt.Sprintf("service %s%s  %s", svc.Key(), portSuffix(svc), svc.Protocol))
		if svc.ClusterIP.IsValid() {
			add(fmt.Sprintf("  clusterIP %s:%d", svc.ClusterIP, svc.Port))
		}
		if svc.NodePort != 0 {
			add(fmt.Sprintf("  nodePort %d", svc.NodePort))
		}
		add("")
		out = append(out, item{text: "endpoints, as each node's kube-proxy rules choose", head: true})
		dst := fmt.Sprintf("svc/%s:%d", svc.Key(), svc.Port)
		for _, n := range w.Nodes {
			res, err := w.Trace(trace.Request{Src: "node/" + n.Name, Dst: dst, Protocol: svc.Protocol})
			if err != nil {
				add(fmt.Sprintf("  %s: %v", n.Name, err))
				continue
			}
			var choices []string
			for _, b := range res.Branches {
				if b.Node != n.Name {
					continue
				}
				what := b.Endpoint.String()
				if !b.Endpoint.IsValid() {
					what = b.Verdict
				}
				choices = append(choices, fmt.Sprintf("%s %.0f%%", what, b.Probability*100))
			}
			if len(choices) == 0 {
				choices = append(choices, verdictLine(res))
			}
			add(fmt.Sprintf("  %-10s %s", n.Name, strings.Join(choices, " · ")))
		}
		return serviceMsg{svc, out}
	}
}

// askTrace asks for the destination of a trace from the selected pod or
// service, completing the pods, services, nodes and internet.
func (m *Model) askTrace(s *screen) {
	it := s.list.selected()
	if it == nil || m.w == nil {
		return
	}
	switch r := it.ref.(type) {
	case podRef:
		m.traceFrom = r.ns.PodName()
	case hostPodRef:
		m.traceFrom = r.pod.Key()
	case *trace.Service:
		// From a pod of the node in front to the service.
		m.traceFrom = ""
		for _, ns := range m.snap().Namespaces {
			if ns.Pod != nil {
				m.traceFrom = ns.PodName()
				break
			}
		}
		if m.traceFrom == "" {
			m.traceFrom = "node/" + m.w.Nodes[m.node].Name
		}
		m.openInput("trace", "trace "+m.traceFrom+" → ", fmt.Sprintf("svc/%s:%d", r.Key(), r.Port), m.destinations())
		return
	default:
		m.setStatus(true, "t traces from a pod or a service: select one")
		return
	}
	m.openInput("trace", "trace "+m.traceFrom+" → ", "", m.destinations())
}

// destinations are what a trace's destination completes to.
func (m *Model) destinations() []string {
	var out []string
	for _, n := range m.w.Nodes {
		for _, ns := range n.Snap.Namespaces {
			if p := ns.PodName(); p != "" {
				out = append(out, p)
			}
		}
		for _, p := range n.Snap.HostNetworkPods {
			out = append(out, p.Key())
		}
	}
	for _, s := range m.w.Services {
		out = append(out, fmt.Sprintf("svc/%s:%d", s.Key(), s.Port))
	}
	for _, n := range m.w.Nodes {
		out = append(out, "node/"+n.Name+":")
		// From outside the cluster: to each NodePort on each node.
		for _, s := range m.w.Services {
			if s.NodePort != 0 {
				out = append(out, fmt.Sprintf("internet node/%s:%d", n.Name, s.NodePort))
			}
		}
	}
	out = append(out, "localhost:")
	slices.Sort(out)
	return slices.Compact(out)
}

// runTrace traces off the loop; live sends the probe too, its progress
// arriving as liveProgressMsgs until its result does.
func (m *Model) runTrace(req trace.Request, live bool) tea.Cmd {
	w, src, ctx := m.w, m.src, m.ctx
	if !live {
		m.busy = fmt.Sprintf("tracing %s → %s", req.Src, req.Dst)
		return func() tea.Msg {
			if src.Trace != nil {
				res, err := src.Trace(ctx, w, req)
				return tracedMsg{req, res, err, false}
			}
			res, err := w.Trace(req)
			return tracedMsg{req, res, err, false}
		}
	}
	m.busy = fmt.Sprintf("live probe %s → %s", req.Src, req.Dst)
	// The newest progress only: the screen shows the latest, and the
	// captures never wait for the UI.
	probing, probed := make(chan *trace.LiveReport, 1), make(chan struct{})
	m.probing, m.probed = probing, probed
	progress := func(r *trace.LiveReport) {
		for {
			select {
			case probing <- r:
				return
			default:
				select {
				case <-probing:
				default:
				}
			}
		}
	}
	m.work.Add(1)
	probe := func() tea.Msg {
		defer m.work.Done()
		res, err := src.Live(ctx, w, req, progress)
		return tracedMsg{req, res, err, true}
	}
	return tea.Batch(probe, m.nextProgress(req))
}

// nextProgress waits for the live probe's next progress; nothing once its
// result has come.
func (m *Model) nextProgress(req trace.Request) tea.Cmd {
	probing, probed := m.probing, m.probed
	if probing == nil {
		return nil
	}
	return func() tea.Msg {
		select {
		case r := <-probing:
			return liveProgressMsg{req, r}
		case <-probed:
			return nil
		}
	}
}

// showLive brings the live probe's lines to the top of the view the first
// time they are there: the hops are marked below the prediction.
func (m *Model) showLive(s *screen) {
	if s.liveShown {
		return
	}
	for i, it := range s.list.items {
		plain := it.plain
		if plain == "" {
			plain = it.text
		}
		if strings.HasPrefix(plain, "live: ") && s.list.goTo(i) {
			s.liveShown = true
			return
		}
	}
}

// refresh puts fresh's lines into s (a screen being updated in place),
// the cursor kept on its line number.
func (m *Model) refresh(s, fresh *screen) {
	cursor, filter := s.list.cursor, s.list.filter
	s.res, s.list.items = fresh.res, fresh.list.items
	s.list.setFilter(filter)
	s.list.cursor = min(cursor, max(0, len(s.list.shown)-1))
	s.list.scroll()
}

// live is L on a trace: the probe, where the source has a live node.
func (m *Model) live(s *screen) tea.Cmd {
	if s.kind != traceView {
		m.setStatus(true, "L sends a live probe for a trace: trace first (t on a pod or service)")
		return nil
	}
	if m.src.Live == nil {
		m.setStatus(true, "a live probe needs the live node (root on it, a lab, or a cluster); %s is a saved state", m.src.Name)
		return nil
	}
	if m.busy != "" {
		return nil
	}
	if s.res != nil && s.res.Live != nil {
		// A new probe starts from nothing seen.
		res := *s.res
		res.Live = nil
		m.refresh(s, m.traceScreen(s.req, &res))
	}
	s.liveShown = false
	return m.runTrace(s.req, true)
}

// traceScreen is a trace's result as netx trace prints it, each hop's
// lines opening its details.
func (m *Model) traceScreen(req trace.Request, res *trace.Result) *screen {
	var buf bytes.Buffer
	printers.Trace(&buf, res, printers.TraceOptions{Color: m.opt.Color})
	hop, inHops := -1, true
	items := lines(buf.String(), func(plain string) any {
		if strings.HasPrefix(plain, "verdict:") {
			inHops = false
		}
		if !inHops {
			return nil
		}
		var n int
		if len(plain) > 4 && plain[3] == ' ' {
			if _, err := fmt.Sscanf(strings.TrimSpace(plain[:3]), "%d", &n); err == nil && n >= 1 && n <= len(res.Hops) {
				hop = n - 1
			}
		}
		if hop >= 0 {
			return hopRef{hop}
		}
		return nil
	})
	return &screen{kind: traceView, title: fmt.Sprintf("trace %s → %s", req.Src, req.Dst), list: newList(items), req: req, res: res}
}

// hopScreen is one hop in full: where, what, the packet, every rule it
// matched, the NAT.
func (m *Model) hopScreen(s *screen, i int) *screen {
	h := s.res.Hops[i]
	var out []item
	add := func(f string, a ...any) {
		l := fmt.Sprintf(f, a...)
		out = append(out, item{text: l, plain: ansi.Strip(l)})
	}
	add("hop %d: %s on %s, %s", i+1, h.Kind, h.Node, h.Netns)
	add("  %s", h.Detail)
	add("  packet: %s:%d → %s:%d %s", h.Packet.Src, h.Packet.SPort, h.Packet.Dst, h.Packet.DPort, h.Packet.Proto)
	for _, n := range h.NAT {
		add("  %s: %s → %s", n.Kind, n.From, n.To)
	}
	for _, n := range printers.HopNotes(h, printers.TraceOptions{Color: m.opt.Color, Rules: true}) {
		add("  %s", n)
	}
	return &screen{kind: hopView, title: fmt.Sprintf("hop %d of %s", i+1, s.title), list: newList(out)}
}

// verdictLine is the verdict in one line, for the status line; a live
// probe's judgement first, where it is cut least.
func verdictLine(res *trace.Result) string {
	v := fmt.Sprintf("verdict: %s — %s", res.Verdict.Kind, res.Verdict.Detail)
	if res.Live != nil {
		if res.Live.Agrees {
			return "live: agrees; " + v
		}
		return "live: diverges — " + res.Live.Divergence + "; " + v
	}
	return v
}
