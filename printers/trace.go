package printers

import (
	"fmt"
	"io"
	"strings"

	"github.com/netx-project/netx/trace"
)

// TraceOptions shape the text of a trace.
type TraceOptions struct {
	Color bool // ANSI colours (see ColorMode.Enabled)
	// Rules shows every rule a netfilter hop matched; otherwise the
	// deciding ones (NAT, drop, jumps into service chains) only.
	Rules bool
}

const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
	ansiYel   = "\x1b[33m"
	ansiCyan  = "\x1b[36m"
)

func (o TraceOptions) c(code, s string) string {
	if !o.Color {
		return s
	}
	return code + s + ansiReset
}

func verdictColor(kind string) string {
	switch kind {
	case trace.Delivered:
		return ansiGreen
	case trace.Left, trace.Unknown:
		return ansiYel
	}
	return ansiRed
}

// Trace prints a result for people: numbered hops, compact, then the
// verdict, the endpoint choices, the reply and what a live probe showed.
func Trace(w io.Writer, r *trace.Result, o TraceOptions) {
	fmt.Fprintf(w, "%s %s → %s  %s\n\n", o.c(ansiBold, "trace"), r.Src, r.Dst, r.Packet.Proto)
	Hops(w, r.Hops, o, 1)
	fmt.Fprintf(w, "\n%s %s — %s\n", o.c(ansiBold, "verdict:"), o.c(verdictColor(r.Verdict.Kind)+ansiBold, r.Verdict.Kind), r.Verdict.Detail)
	if r.Verdict.Rule != nil {
		fmt.Fprintf(w, "         rule: %s\n", r.Verdict.Rule.Text)
	}
	if len(r.Branches) > 0 {
		fmt.Fprintf(w, "%s ", o.c(ansiBold, "choices:"))
		var parts []string
		for _, b := range r.Branches {
			s := fmt.Sprintf("%s %.0f%%", b.Dest(), b.Probability*100)
			if b.Chosen {
				s = o.c(ansiBold, s+" (followed)")
			}
			parts = append(parts, s)
		}
		fmt.Fprintf(w, "%s  [%s, hop %d; --endpoint IP follows another]\n", strings.Join(parts, " · "), r.Branches[0].Node, r.Branches[0].Hop)
	}
	if a := r.Affinity; a != nil {
		fmt.Fprintf(w, "%s %s — %s\n", o.c(ansiBold, "affinity:"), o.c(ansiBold, a.State), a.Detail)
	}
	if r.Reply != nil {
		fmt.Fprintf(w, "%s   %s — %s\n", o.c(ansiBold, "reply:"), o.c(verdictColor(r.Reply.Verdict.Kind)+ansiBold, r.Reply.Verdict.Kind), r.Reply.Verdict.Detail)
		for _, h := range r.Reply.Hops {
			for _, n := range h.NAT {
				fmt.Fprintf(w, "         %s on %s: %s → %s\n", n.Kind, h.Node, n.From, n.To)
			}
		}
	}
	for _, x := range r.Findings {
		fmt.Fprintf(w, "%s %s\n", o.c(ansiYel+ansiBold, "finding:"), x)
	}
	for _, x := range r.Warnings {
		fmt.Fprintf(w, "%s %s\n", o.c(ansiYel, "warning:"), x)
	}
	if r.Live != nil {
		writeLive(w, r.Live, o)
	}
}

func writeLive(w io.Writer, l *trace.LiveReport, o TraceOptions) {
	outcome := l.Outcome
	if l.InFlight {
		outcome = "sent, watching…"
	}
	fmt.Fprintf(w, "\n%s probe %s: %s\n", o.c(ansiBold, "live:"), l.Probe, outcome)
	for _, h := range l.Hops {
		mark := o.c(ansiGreen, "seen")
		switch {
		case h.Seen:
		case l.InFlight:
			mark = o.c(ansiDim, "…")
		default:
			mark = o.c(ansiRed, "NOT seen")
			if h.SeenAs != nil {
				mark = o.c(ansiRed, fmt.Sprintf("seen as %s:%d → %s:%d", h.SeenAs.Src, h.SeenAs.SPort, h.SeenAs.Dst, h.SeenAs.DPort))
			}
		}
		which := "hop  "
		if h.Reply {
			which = "reply"
		}
		fmt.Fprintf(w, "  %s %2d  %-6s %-28s %-14s %-3s  %s\n", which, h.Hop, h.Node, h.Netns, h.Device, h.Direction, mark)
	}
	if l.Endpoint.IsValid() {
		fmt.Fprintf(w, "  endpoint the kernel chose: %s\n", l.Endpoint)
	}
	for _, n := range l.NAT {
		fmt.Fprintf(w, "  NAT: %s\n", n)
	}
	if len(l.Rules) > 0 {
		fmt.Fprintf(w, "  kernel trace (nftrace): the probe hit %d rules; the deciding ones:\n", len(l.Rules))
		for _, r := range l.Rules {
			if !o.Rules && r.Predicted && (r.Num == 0 || !decisive(trace.RuleHit{Num: r.Num, Text: r.Text})) && !strings.Contains(r.Verdict, "drop") {
				continue // the generic jumps every packet takes: noise unless asked (--rules)
			}
			pred := ""
			if !r.Predicted {
				pred = o.c(ansiYel, "  (not predicted)")
			}
			text := r.Text
			if text == "" {
				text = fmt.Sprintf("handle %d", r.Handle)
			}
			fmt.Fprintf(w, "    %s %s %s #%d → %s: %s%s\n", r.Node, r.Table, r.Chain, r.Num, r.Verdict, text, pred)
		}
	}
	for _, x := range l.Warnings {
		fmt.Fprintf(w, "  %s %s\n", o.c(ansiYel, "warning:"), x)
	}
	switch {
	case l.InFlight:
		fmt.Fprintf(w, "%s %d packets captured so far\n", o.c(ansiBold, "watching:"), l.Captured)
	case l.Agrees:
		fmt.Fprintf(w, "%s the probe took the predicted path (%d packets captured)\n", o.c(ansiGreen+ansiBold, "agrees:"), l.Captured)
	default:
		fmt.Fprintf(w, "%s %s\n", o.c(ansiRed+ansiBold, "diverges:"), l.Divergence)
	}
}

// Hops prints hops as a table numbered from first: node, namespace, kind
// and detail in columns as wide as the widest (a namespace at most 36),
// each hop's notes (HopNotes) indented under its detail.
func Hops(w io.Writer, hops []trace.Hop, o TraceOptions, first int) {
	wNode, wNS, wKind := 4, 5, 9
	for _, h := range hops {
		wNode, wNS = max(wNode, len(h.Node)), max(wNS, len(h.Netns))
	}
	wNS = min(wNS, 36)
	for i, h := range hops {
		ns := h.Netns
		if len(ns) > wNS {
			ns = ns[:wNS-1] + "…"
		}
		kind := fmt.Sprintf("%-*s", wKind, h.Kind)
		switch h.Kind {
		case trace.HopNetfilter, trace.HopConntrack:
			kind = o.c(ansiCyan, kind)
		case trace.HopDrop:
			kind = o.c(ansiRed, kind)
		}
		fmt.Fprintf(w, "%3d  %-*s  %-*s  %s  %s\n", first+i, wNode, h.Node, wNS, ns, kind, h.Detail)
		pad := strings.Repeat(" ", 3+2+wNode+2+wNS+2+wKind+2)
		for _, n := range HopNotes(h, o) {
			fmt.Fprintf(w, "%s%s\n", pad, n)
		}
	}
}

// HopNotes are the lines shown under a hop: its evidence, the rules it
// matched (the deciding ones only, unless o.Rules) and its warnings.
func HopNotes(h trace.Hop, o TraceOptions) []string {
	var out []string
	for _, e := range h.Evidence {
		out = append(out, o.c(ansiDim, e))
	}
	for _, rh := range h.Rules {
		if !o.Rules && !decisive(rh) {
			continue
		}
		out = append(out, o.c(ansiDim, Rule(rh)))
	}
	for _, x := range h.Warnings {
		out = append(out, o.c(ansiYel, "!")+" "+x)
	}
	return out
}

// Rule is a matched rule: where it is (table, chain, position), its text
// and how it was decided when that needs saying.
func Rule(rh trace.RuleHit) string {
	s := fmt.Sprintf("%s %s #%d: %s", rh.Table, rh.Chain, rh.Num, rh.Text)
	if rh.Note != "" {
		s += "  (" + rh.Note + ")"
	}
	return s
}

// decisive says whether a matched rule is worth showing by default: one
// that rewrites, drops, chooses or enters a service's chains — not the
// generic jumps every packet takes.
func decisive(h trace.RuleHit) bool {
	if h.Note != "" {
		return true
	}
	t := h.Text
	for _, k := range []string{"DNAT", "SNAT", "MASQUERADE", "masquerade", "dnat", "snat", "DROP", "drop", "REJECT", "reject",
		"KUBE-SVC-", "KUBE-SEP-", "KUBE-EXT-", "service-", "endpoint-", "external-", "--mark", "mark set", "CNI-", "statistic", "vmap"} {
		if strings.Contains(t, k) {
			return true
		}
	}
	return h.Num == 0
}

// TraceMermaid prints the path as a Mermaid flowchart, one subgraph per
// node.
func TraceMermaid(w io.Writer, r *trace.Result) {
	fmt.Fprintln(w, "flowchart TD")
	writeGraph(w, r, func(id, label string) string { return fmt.Sprintf("%s[\"%s\"]", id, mermaidEscape(label)) },
		func(name string, ids []string) {
			fmt.Fprintf(w, "  subgraph %s[\"%s\"]\n", graphID("n_"+name), mermaidEscape(name))
			for _, id := range ids {
				fmt.Fprintf(w, "    %s\n", id)
			}
			fmt.Fprintln(w, "  end")
		},
		func(a, b string) { fmt.Fprintf(w, "  %s --> %s\n", a, b) })
}

// TraceDot prints the path as a Graphviz digraph, one cluster per node.
func TraceDot(w io.Writer, r *trace.Result) {
	fmt.Fprintln(w, "digraph trace {")
	fmt.Fprintln(w, "  rankdir=TB; node [shape=box, fontname=\"monospace\", fontsize=10];")
	writeGraph(w, r, func(id, label string) string { return fmt.Sprintf("%s [label=\"%s\"]", id, dotEscape(label)) },
		func(name string, ids []string) {
			fmt.Fprintf(w, "  subgraph cluster_%s {\n    label=\"%s\";\n", graphID(name), dotEscape(name))
			for _, id := range ids {
				fmt.Fprintf(w, "    %s;\n", id)
			}
			fmt.Fprintln(w, "  }")
		},
		func(a, b string) { fmt.Fprintf(w, "  %s -> %s;\n", a, b) })
	fmt.Fprintln(w, "}")
}

func writeGraph(w io.Writer, r *trace.Result, node func(id, label string) string, group func(name string, ids []string), edge func(a, b string)) {
	var order []string
	members := map[string][]string{}
	var ids []string
	for i, h := range r.Hops {
		id := fmt.Sprintf("h%d", i+1)
		label := fmt.Sprintf("%d %s %s\n%s", i+1, h.Kind, h.Device, h.Detail)
		if _, ok := members[h.Node]; !ok {
			order = append(order, h.Node)
		}
		members[h.Node] = append(members[h.Node], node(id, strings.TrimSpace(label)))
		ids = append(ids, id)
	}
	for _, n := range order {
		group(n, members[n])
	}
	for i := 1; i < len(ids); i++ {
		edge(ids[i-1], ids[i])
	}
	v := node("verdict", r.Verdict.Kind+"\n"+r.Verdict.Detail)
	fmt.Fprintf(w, "  %s\n", v)
	if len(ids) > 0 {
		edge(ids[len(ids)-1], "verdict")
	}
}

func graphID(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func mermaidEscape(s string) string {
	s = strings.ReplaceAll(s, `"`, "#quot;")
	return strings.ReplaceAll(s, "\n", "<br/>")
}

func dotEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return strings.ReplaceAll(s, "\n", `\n`)
}

// CapturesWritten says where `trace --live --pcap FILE` wrote the captures
// and how to read them.
func CapturesWritten(w io.Writer, file string) {
	fmt.Fprintf(w, "captures written to %s (one interface per hop; tshark -r %s)\n", file, file)
}

// CleanedUp says how many agent pods cleanup deleted, and where.
func CleanedUp(w io.Writer, n int, namespace string) {
	where := "in every namespace"
	if namespace != "" {
		where = fmt.Sprintf("in namespace %q", namespace)
	}
	switch n {
	case 0:
		fmt.Fprintf(w, "no agent pods to delete %s\n", where)
	default:
		fmt.Fprintf(w, "deleted %d agent pod(s) %s\n", n, where)
	}
}
