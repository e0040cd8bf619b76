package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	nf "github.com/netx-project/netx/netfilter"
)

// Packet is the packet being traced: its 5-tuple and its mark.
type Packet struct {
	Proto string     `json:"proto"` // tcp, udp, icmp, sctp
	Src   netip.Addr `json:"src"`
	Dst   netip.Addr `json:"dst"`
	SPort uint16     `json:"sport,omitempty"`
	DPort uint16     `json:"dport,omitempty"`
	Mark  uint32     `json:"mark,omitempty"`
	// AnySPort is set once a source NAT may have picked another source
	// port (--random-fully, or a clash): the port shown is the one the
	// sender used, and a live probe is matched without it.
	AnySPort bool `json:"-"`
}

func (p Packet) String() string {
	if p.Proto == "icmp" {
		return fmt.Sprintf("%s → %s icmp", p.Src, p.Dst)
	}
	return fmt.Sprintf("%s:%d → %s:%d %s", p.Src, p.SPort, p.Dst, p.DPort, p.Proto)
}

func (p Packet) hasPorts() bool { return p.Proto == "tcp" || p.Proto == "udp" || p.Proto == "sctp" }

// RuleHit is one rule a packet matched (or one the evaluator could not
// decide): the evidence a hop carries.
type RuleHit struct {
	Source string `json:"source"` // iptables-nft, iptables-legacy, nftables
	Table  string `json:"table"`  // "ip nat"
	Chain  string `json:"chain"`
	Num    int    `json:"num"` // 0: the chain's policy
	Handle uint64 `json:"handle,omitempty"`
	Text   string `json:"text"`
	// Note says how the rule was decided when that needs saying: a
	// probability taken, a match netx does not model.
	Note string `json:"note,omitempty"`
}

// NATStep is an address rewrite netfilter applied.
type NATStep struct {
	Kind string `json:"kind"` // DNAT, SNAT, MASQUERADE, REDIRECT, un-DNAT, un-SNAT
	From string `json:"from"`
	To   string `json:"to"`
}

// conn is the conntrack state the evaluator sees for the traced packet.
type conn struct {
	reply     bool // the packet is a reply (ct state ESTABLISHED)
	untracked bool
	dnat      bool
	snat      bool
}

// hookCtx is what a hook's rules can see besides the packet.
type hookCtx struct {
	hook      nf.Hook
	in, out   string
	bridged   bool   // br_netfilter: the packet is being bridged
	physIn    string // bridge ports, when bridged
	physOut   string
	ct        *conn
	addrType  func(netip.Addr) string
	masqAddr  func() netip.Addr // MASQUERADE's source: the out device's address
	redirAddr func() netip.Addr
	// fetch reads a lazily read set's elements (Set.Lazy) from the live
	// node into the set and says why it could not ("" when read).
	fetch func(t *nf.Table, s *nf.Set) string
	// readChain reads a lazily read chain's rules (Chain.Lazy) from the
	// live node and says why it could not ("" when read).
	readChain func(rs *nf.Ruleset, t *nf.Table, c *nf.Chain) string
	// ipsets are the namespace's ipsets (-m set), nil when not read.
	ipsets []nf.IPSet
	// recent are the namespace's xt_recent lists (-m recent); recentRead
	// says they were read (a snapshot may predate them).
	recent     []nf.RecentTable
	recentRead bool
	// sticky collects, for the rule being matched, what it found in or
	// will write to the node's dynamic state (session affinity).
	sticky *[]stickyNote
}

// stickyNote is one meeting of the packet with state the node keeps per
// client (xt_recent lists, nftables dynamic sets): kube-proxy's session
// affinity, which pins a client to the endpoint it was sent to first.
type stickyNote struct {
	store  string // "recent list KUBE-SEP-…", "set affinity-…"
	client netip.Addr
	// kind: pinned (the client is in the store: the rule holds), miss
	// (checked, not there), record (the rule writes the client into the
	// store), unread (checked, but the state was not read).
	kind    string
	left    time.Duration // pinned: how long the entry holds on
	timeout time.Duration // how long an entry holds (the service's timeoutSeconds)
	rule    RuleHit
}

// note records a sticky meeting for the rule being matched.
func (ctx hookCtx) note(n stickyNote) {
	if ctx.sticky != nil {
		*ctx.sticky = append(*ctx.sticky, n)
	}
}

// ipset finds an ipset by name.
func (ctx hookCtx) ipset(name string) *nf.IPSet {
	for i := range ctx.ipsets {
		if ctx.ipsets[i].Name == name {
			return &ctx.ipsets[i]
		}
	}
	return nil
}

// nfOutcome is one way a hook can end for the packet. A hook without
// random matches has one; kube-proxy's endpoint choice makes one per
// endpoint, each with its probability.
type nfOutcome struct {
	prob    float64
	pkt     Packet
	verdict string // ACCEPT, DROP, REJECT
	hits    []RuleHit
	nat     []NATStep
	unknown []string
	ct      conn
	// decider is the rule that ended the hook with DROP/REJECT, and
	// reason why, when the rules say it (kube-proxy's comments and maps).
	decider     *RuleHit
	reason      string
	noEndpoints bool // the reject is kube-proxy's for a service without endpoints
	sticky      []stickyNote
	// mapName and mapElem are the last verdict map element taken (a
	// goto into reject-chain is explained by it).
	mapName string
	mapElem *nf.Element
}

// chainRef is a base chain with where it comes from.
type chainRef struct {
	rs     *nf.Ruleset
	source string
	table  *nf.Table
	chain  *nf.Chain
}

// hooked lists every base chain of every ruleset at hook, in the order the
// kernel runs them (priority; ties in the order read).
func hooked(rulesets []*nf.Ruleset, hook nf.Hook) []chainRef {
	var out []chainRef
	for _, rs := range rulesets {
		for _, hc := range rs.Hooked(nf.FamilyIP, hook) {
			out = append(out, chainRef{rs, rs.Source, hc.Table, hc.Chain})
		}
	}
	slices.SortStableFunc(out, func(a, b chainRef) int { return a.chain.Priority - b.chain.Priority })
	return out
}

// maxBranches bounds the outcomes one hook may fork into.
const maxBranches = 4096

// evalHook runs the packet through every base chain at the hook. NAT
// chains are consulted only for a new connection's first packet, as the
// kernel does.
func evalHook(rulesets []*nf.Ruleset, ctx hookCtx, pkt Packet) []nfOutcome {
	outs := []nfOutcome{{prob: 1, pkt: pkt, verdict: "ACCEPT", ct: *ctx.ct}}
	for _, ref := range hooked(rulesets, ctx.hook) {
		if ref.chain.Type == nf.ChainNAT && (ctx.ct.reply || ctx.ct.untracked) {
			continue
		}
		var next []nfOutcome
		for _, o := range outs {
			if o.verdict != "ACCEPT" {
				next = append(next, o)
				continue
			}
			c := ctx
			ct := o.ct
			c.ct = &ct
			if ref.chain.Type == nf.ChainNAT && natDone(ctx.hook, &ct) {
				next = append(next, o)
				continue
			}
			next = append(next, runChain(ref, c, o)...)
		}
		outs = merge(next)
	}
	return outs
}

// natDone says whether the connection's NAT of this hook's kind (dst at
// prerouting/output, src at postrouting/input) is already set up.
func natDone(h nf.Hook, ct *conn) bool {
	if h == nf.HookPrerouting || h == nf.HookOutput {
		return ct.dnat
	}
	return ct.snat
}

// merge joins outcomes that ended the same way with the same packet.
func merge(outs []nfOutcome) []nfOutcome {
	if len(outs) < 2 {
		return outs
	}
	var res []nfOutcome
	for _, o := range outs {
		i := slices.IndexFunc(res, func(r nfOutcome) bool {
			return r.verdict == o.verdict && r.pkt == o.pkt && slices.Equal(r.nat, o.nat) && r.ct == o.ct
		})
		if i < 0 {
			res = append(res, o)
			continue
		}
		res[i].prob += o.prob
	}
	return res
}

// frame is a chain being walked and the next rule in it.
type frame struct {
	table *nf.Table
	chain *nf.Chain
	i     int
}

// run is one path through a base chain: the forks of random matches each
// get their own.
type run struct {
	stack []frame
	o     nfOutcome
}

func (r *run) clone() *run {
	c := &run{stack: slices.Clone(r.stack), o: r.o}
	c.o.hits = slices.Clone(r.o.hits)
	c.o.nat = slices.Clone(r.o.nat)
	c.o.unknown = slices.Clone(r.o.unknown)
	c.o.sticky = slices.Clone(r.o.sticky)
	return c
}

// maxDepth bounds jumps, as the kernel's stack does.
const maxDepth = 64

// runChain walks a base chain, rule by rule, following jumps, gotos and
// returns, and forking at random matches and numgen maps.
func runChain(ref chainRef, ctx hookCtx, start nfOutcome) []nfOutcome {
	tableName := string(ref.table.Family) + " " + ref.table.Name
	work := []*run{{stack: []frame{{ref.table, ref.chain, 0}}, o: start}}
	work[0].o.hits = slices.Clone(start.hits)
	var done []nfOutcome
	steps := 0
	hit := func(r *run, f *frame, rule *nf.Rule, note string) RuleHit {
		h := RuleHit{Source: ref.source, Table: tableName, Chain: f.chain.Name, Num: rule.Num, Handle: rule.Handle, Text: rule.Text, Note: note}
		r.o.hits = append(r.o.hits, h)
		return h
	}
	for len(work) > 0 {
		r := work[len(work)-1]
		work = work[:len(work)-1]
	walk:
		for {
			steps++
			if steps > 5_000_000 || len(done)+len(work) > maxBranches {
				r.o.unknown = append(r.o.unknown, "evaluation stopped: too many rules or branches")
				done = append(done, r.o)
				break
			}
			f := &r.stack[len(r.stack)-1]
			if f.i == 0 {
				// A chain left unread (a big node's) is read now that a
				// packet reaches it, and kept; readChain checks under
				// the node's lock, as walks may share a node. One that
				// cannot be read has no rules: the walk returns from it.
				why := ""
				if ctx.readChain != nil {
					why = ctx.readChain(ref.rs, f.table, f.chain)
				} else if f.chain.Lazy {
					why = fmt.Sprintf("chain %s was not read", f.chain.Name)
				}
				if why != "" {
					r.o.unknown = append(r.o.unknown, fmt.Sprintf("%s: %s", tableName, why))
				}
			}
			if f.i >= len(f.chain.Rules) {
				r.stack = r.stack[:len(r.stack)-1]
				if len(r.stack) == 0 {
					policy(r, ref, tableName)
					done = append(done, r.o)
					break
				}
				continue
			}
			rule := f.chain.Rules[f.i]
			f.i++
			ctx.ct = &r.o.ct
			var notes []stickyNote
			ctx.sticky = &notes
			p, unknown := matchRule(rule, ctx, &r.o.pkt, ref.table)
			// A check that missed holds on every path on; a pin or a
			// record, only on the path that takes the rule.
			var taken []stickyNote
			for _, n := range notes {
				n.rule = RuleHit{Source: ref.source, Table: tableName, Chain: f.chain.Name, Num: rule.Num, Handle: rule.Handle, Text: rule.Text}
				if n.kind == "miss" || n.kind == "unread" {
					r.o.sticky = append(r.o.sticky, n)
				} else {
					taken = append(taken, n)
				}
			}
			if unknown != "" {
				r.o.unknown = append(r.o.unknown, fmt.Sprintf("%s %s rule %d: %s", tableName, f.chain.Name, rule.Num, unknown))
				hit(r, f, rule, "not decided: "+unknown+"; taken as no match")
				continue
			}
			if p <= 0 {
				continue
			}
			note := ""
			if p < 1 {
				miss := r.clone()
				miss.o.prob *= 1 - p
				work = append(work, miss)
				r.o.prob *= p
				note = fmt.Sprintf("random match taken (probability %.4g)", p)
			}
			r.o.sticky = append(r.o.sticky, taken...)
			if note == "" && len(taken) > 0 {
				note = taken[0].describe()
			}
			hit(r, f, rule, note)
			for _, st := range rule.Statements {
				statement(r, st, ctx, ref.table, tableName, f.chain.Name, rule.Num)
			}
			t := rule.Target
			var viaMap *nf.Element // the map element whose verdict t is
			mapName := ""
			for {
				switch t.Kind {
				case nf.TargetNone, nf.TargetLog, nf.TargetCT, nf.TargetMark, nf.TargetConnMark, nf.TargetNotrack, nf.TargetUnknown, nf.TargetSetUpdate:
					statement(r, t, ctx, ref.table, tableName, f.chain.Name, rule.Num)
					continue walk
				case nf.TargetAccept:
					r.o.verdict = "ACCEPT"
					done = append(done, r.o)
					break walk
				case nf.TargetDrop, nf.TargetReject:
					r.o.verdict = string(t.Kind)
					d := r.o.hits[len(r.o.hits)-1]
					r.o.decider = &d
					if viaMap == nil && f.chain.Name == "reject-chain" {
						viaMap, mapName = r.o.mapElem, r.o.mapName
					}
					r.o.reason, r.o.noEndpoints = verdictReason(ref.table, f.chain, rule, t.Kind, mapName, viaMap)
					done = append(done, r.o)
					break walk
				case nf.TargetReturn:
					r.stack = r.stack[:len(r.stack)-1]
					if len(r.stack) == 0 {
						policy(r, ref, tableName)
						done = append(done, r.o)
						break walk
					}
					continue walk
				case nf.TargetJump, nf.TargetGoto:
					c := ref.table.Chain(t.Chain)
					if c == nil {
						r.o.unknown = append(r.o.unknown, fmt.Sprintf("%s %s rule %d: jump to missing chain %s", tableName, f.chain.Name, rule.Num, t.Chain))
						continue walk
					}
					if t.Kind == nf.TargetGoto {
						r.stack[len(r.stack)-1] = frame{ref.table, c, 0}
					} else {
						if len(r.stack) >= maxDepth {
							r.o.unknown = append(r.o.unknown, "jump depth exceeds 64 (a loop?)")
							r.o.verdict = "DROP"
							done = append(done, r.o)
							break walk
						}
						r.stack = append(r.stack, frame{ref.table, c, 0})
					}
					continue walk
				case nf.TargetDNAT, nf.TargetSNAT, nf.TargetMasquerade, nf.TargetRedirect:
					applyNAT(r, t, ctx)
					r.o.verdict = "ACCEPT"
					done = append(done, r.o)
					break walk
				case nf.TargetVerdictMap:
					els, probs, unk := vmapLookup(t.Lookup, ref.table, ctx, r.o.pkt)
					if unk != "" {
						r.o.unknown = append(r.o.unknown, fmt.Sprintf("%s %s rule %d: %s", tableName, f.chain.Name, rule.Num, unk))
						continue walk
					}
					if len(els) == 0 {
						r.o.hits = r.o.hits[:len(r.o.hits)-1] // no element: the rule did not decide anything
						continue walk
					}
					for i := 1; i < len(els); i++ {
						b := r.clone()
						b.o.prob *= probs[i]
						b.o.hits[len(b.o.hits)-1].Note = fmt.Sprintf("map element %s (probability %.4g)", strings.Join(els[i].Key, " . "), probs[i])
						bt := *els[i].Verdict
						applyVerdictInPlace(b, bt, ref)
						work = append(work, b)
					}
					if len(els) > 1 || probs[0] < 1 {
						r.o.prob *= probs[0]
						r.o.hits[len(r.o.hits)-1].Note = fmt.Sprintf("map element %s (probability %.4g)", strings.Join(els[0].Key, " . "), probs[0])
					} else {
						r.o.hits[len(r.o.hits)-1].Note = "map element " + strings.Join(els[0].Key, " . ")
						if els[0].Comment != "" {
							r.o.hits[len(r.o.hits)-1].Note += " (" + els[0].Comment + ")"
						}
					}
					viaMap, mapName = &els[0], t.Lookup.Set
					r.o.mapElem, r.o.mapName = viaMap, mapName
					t = *els[0].Verdict
					continue
				default:
					r.o.unknown = append(r.o.unknown, fmt.Sprintf("%s %s rule %d: target %s not modelled", tableName, f.chain.Name, rule.Num, t.Kind))
					continue walk
				}
			}
		}
	}
	return done
}

// applyVerdictInPlace sets up a forked run to carry out a map element's
// verdict: the run then resumes in the loop with the new top frame, or is
// already finished.
func applyVerdictInPlace(b *run, t nf.Target, ref chainRef) {
	switch t.Kind {
	case nf.TargetJump, nf.TargetGoto:
		c := ref.table.Chain(t.Chain)
		if c == nil {
			return
		}
		if t.Kind == nf.TargetGoto {
			b.stack[len(b.stack)-1] = frame{ref.table, c, 0}
		} else {
			b.stack = append(b.stack, frame{ref.table, c, 0})
		}
	case nf.TargetAccept, nf.TargetDrop, nf.TargetReject:
		// Carried out by a one-rule chain: keep it simple and exact.
		b.stack = append(b.stack, frame{ref.table, &nf.Chain{Name: "(map verdict)", Rules: []*nf.Rule{{Num: 1, Text: strings.ToLower(string(t.Kind)), Target: t}}}, 0})
	case nf.TargetReturn:
		b.stack = b.stack[:len(b.stack)-1]
		if len(b.stack) == 0 {
			b.stack = append(b.stack, frame{ref.table, &nf.Chain{Name: "(return)"}, 0})
		}
	}
}

// policy ends a base chain by its policy.
func policy(r *run, ref chainRef, tableName string) {
	if ref.chain.Policy == "DROP" {
		h := RuleHit{Source: ref.source, Table: tableName, Chain: ref.chain.Name, Text: "policy drop"}
		r.o.hits = append(r.o.hits, h)
		r.o.verdict = "DROP"
		r.o.decider = &h
		r.o.reason = "the chain's policy is drop"
		return
	}
	r.o.verdict = "ACCEPT"
}

// statement carries out a non-terminal action.
func statement(r *run, t nf.Target, ctx hookCtx, tb *nf.Table, table, chain string, num int) {
	switch t.Kind {
	case nf.TargetMark:
		r.o.pkt.Mark = (r.o.pkt.Mark &^ t.Mask) ^ t.SetMark
	case nf.TargetNotrack:
		r.o.ct.untracked = true
	case nf.TargetCT:
		if slices.Contains(t.Args, "--notrack") {
			r.o.ct.untracked = true
		}
	case nf.TargetSetUpdate:
		// update @set { ip saddr }: the key is written into the set
		// (a dynamic one), and the walk goes on.
		if t.Name == "delete" || t.Lookup == nil || len(t.Lookup.Keys) != 1 || t.Lookup.Keys[0].Field != nf.FieldSAddr {
			return
		}
		n := stickyNote{store: "set " + t.Lookup.Set, client: r.o.pkt.Src, kind: "record"}
		if s := tb.Set(t.Lookup.Set); s != nil {
			n.timeout = s.Timeout
		}
		if len(r.o.hits) > 0 {
			n.rule = r.o.hits[len(r.o.hits)-1]
			if r.o.hits[len(r.o.hits)-1].Note == "" {
				r.o.hits[len(r.o.hits)-1].Note = n.describe()
			}
		}
		r.o.sticky = append(r.o.sticky, n)
	case nf.TargetUnknown:
		r.o.unknown = append(r.o.unknown, fmt.Sprintf("%s %s rule %d: target %s not modelled; taken as continue", table, chain, num, t.Name))
	case nf.TargetDNAT, nf.TargetSNAT, nf.TargetMasquerade, nf.TargetRedirect:
		applyNAT(r, t, ctx)
	}
}

// applyNAT rewrites the packet as the NAT target says and records it.
func applyNAT(r *run, t nf.Target, ctx hookCtx) {
	before := r.o.pkt
	p := &r.o.pkt
	kind := string(t.Kind)
	switch t.Kind {
	case nf.TargetDNAT:
		if t.To.Addr.IsValid() {
			p.Dst = t.To.Addr
		}
		if t.To.Port != 0 {
			p.DPort = t.To.Port
		}
		r.o.ct.dnat = true
	case nf.TargetRedirect:
		if a := ctx.redirAddr(); a.IsValid() {
			p.Dst = a
		}
		if t.To.Port != 0 {
			p.DPort = t.To.Port
		}
		r.o.ct.dnat = true
	case nf.TargetSNAT:
		if t.To.Addr.IsValid() {
			p.Src = t.To.Addr
		}
		if t.To.Port != 0 {
			p.SPort = t.To.Port
		}
		r.o.ct.snat = true
		p.AnySPort = true
	case nf.TargetMasquerade:
		if a := ctx.masqAddr(); a.IsValid() {
			p.Src = a
		}
		if t.To.Port != 0 {
			p.SPort = t.To.Port
		}
		r.o.ct.snat = true
		p.AnySPort = true
	}
	r.o.nat = append(r.o.nat, NATStep{Kind: kind, From: endpointString(before, t.Kind != nf.TargetSNAT && t.Kind != nf.TargetMasquerade), To: endpointString(*p, t.Kind != nf.TargetSNAT && t.Kind != nf.TargetMasquerade)})
}

func endpointString(p Packet, dst bool) string {
	a, port := p.Src, p.SPort
	if dst {
		a, port = p.Dst, p.DPort
	}
	if !p.hasPorts() {
		return a.String()
	}
	return netip.AddrPortFrom(a, port).String()
}

// matchRule decides a rule's matches: the probability that all hold (0 or
// 1, or in between for random matches), or why it cannot say.
func matchRule(rule *nf.Rule, ctx hookCtx, pkt *Packet, table *nf.Table) (float64, string) {
	prob := 1.0
	for i := range rule.Matches {
		m := &rule.Matches[i]
		p, unknown := matchOne(m, ctx, pkt, table)
		if unknown != "" {
			return 0, unknown
		}
		if m.Negate && m.Kind != nf.MatchLookup {
			p = 1 - p
		}
		if p <= 0 {
			return 0, ""
		}
		prob *= p
	}
	return prob, ""
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// matchOne decides one condition (before negation, except lookups, which
// negate themselves).
func matchOne(m *nf.Match, ctx hookCtx, pkt *Packet, table *nf.Table) (float64, string) {
	switch m.Kind {
	case nf.MatchComment, nf.MatchModule, nf.MatchNFAcct:
		return 1, ""
	case nf.MatchSource:
		return b2f(m.Prefix.Contains(pkt.Src)), ""
	case nf.MatchDestination:
		return b2f(m.Prefix.Contains(pkt.Dst)), ""
	case nf.MatchProtocol:
		return b2f(protoIs(m.Value, pkt.Proto)), ""
	case nf.MatchInInterface:
		return b2f(ctx.in != "" && nf.InterfaceMatches(m.Value, ctx.in)), ""
	case nf.MatchOutInterface:
		return b2f(ctx.out != "" && nf.InterfaceMatches(m.Value, ctx.out)), ""
	case nf.MatchFragment:
		return 0, ""
	case nf.MatchSrcPort, nf.MatchDstPort, nf.MatchPort:
		if !pkt.hasPorts() {
			return 0, ""
		}
		for _, r := range m.Ports {
			if (m.Kind != nf.MatchDstPort && r.Contains(pkt.SPort)) || (m.Kind != nf.MatchSrcPort && r.Contains(pkt.DPort)) {
				return 1, ""
			}
		}
		return 0, ""
	case nf.MatchAddrType:
		a := pkt.Src
		if m.AddrType.Dst {
			a = pkt.Dst
		}
		return b2f(slices.Contains(m.AddrType.Types, ctx.addrType(a))), ""
	case nf.MatchMark:
		return b2f(pkt.Mark&m.Mask == m.Mark), ""
	case nf.MatchConnMark:
		return b2f(0&m.Mask == m.Mark), "" // a new connection's mark is 0
	case nf.MatchCTState:
		return b2f(slices.ContainsFunc(m.Values, func(v string) bool { return ctHas(ctx.ct, strings.ToUpper(v)) })), ""
	case nf.MatchCTStatus:
		return b2f(slices.ContainsFunc(m.Values, func(v string) bool { return ctStatus(ctx.ct, strings.ToUpper(v)) })), ""
	case nf.MatchCTDirection:
		return b2f(strings.EqualFold(m.Value, "REPLY") == ctx.ct.reply), ""
	case nf.MatchStatistic:
		switch m.Statistic.Mode {
		case "random":
			return m.Statistic.Probability, ""
		case "nth":
			if m.Statistic.Every > 0 {
				return 1 / float64(m.Statistic.Every), ""
			}
		}
		return 0, "statistic mode " + m.Statistic.Mode + " not modelled"
	case nf.MatchPhysDevIn:
		return b2f(ctx.bridged && nf.InterfaceMatches(m.Value, ctx.physIn)), ""
	case nf.MatchPhysDevOut:
		return b2f(ctx.bridged && ctx.physOut != "" && nf.InterfaceMatches(m.Value, ctx.physOut)), ""
	case nf.MatchPhysDevIsIn:
		return b2f(ctx.bridged && ctx.physIn != ""), ""
	case nf.MatchPhysDevIsOut:
		return b2f(ctx.bridged && ctx.physOut != ""), ""
	case nf.MatchPhysDevIsBr:
		return b2f(ctx.bridged), ""
	case nf.MatchICMPType:
		if pkt.Proto != "icmp" {
			return 0, ""
		}
		v := strings.ToLower(m.Value)
		want := "echo-request"
		if ctx.ct.reply {
			want = "echo-reply"
		}
		code := "8"
		if ctx.ct.reply {
			code = "0"
		}
		return b2f(v == "any" || v == want || v == code || strings.HasPrefix(v, code+"/")), ""
	case nf.MatchTCPFlags:
		if pkt.Proto != "tcp" {
			return 0, ""
		}
		set := []string{"SYN"}
		if ctx.ct.reply {
			set = []string{"SYN", "ACK"}
		}
		return b2f(tcpFlags(m.TCPFlags, set)), ""
	case nf.MatchLimit:
		return 1, "" // a first packet is under any limit
	case nf.MatchNFProto:
		return b2f(strings.EqualFold(m.Value, "ipv4")), ""
	case nf.MatchLookup:
		return lookupMatch(m, table, ctx, *pkt)
	case nf.MatchIPSet:
		set := ctx.ipset(m.Value)
		if set == nil {
			return 0, "ipset " + m.Value + " (not in the snapshot: its members are unknown)"
		}
		hit, why := nf.IPSetMatch(set, m.Values, nf.IPSetPacket{Proto: pkt.Proto, Src: pkt.Src, Dst: pkt.Dst, SPort: pkt.SPort, DPort: pkt.DPort, InIface: ctx.in, OutIface: ctx.out, Mark: pkt.Mark}, ctx.ipset)
		if why != "" {
			return 0, why
		}
		return b2f(hit), ""
	case nf.MatchMACSource:
		return 0, "mac-source " + m.Value
	case nf.MatchRecent:
		return recentMatch(m.Recent, ctx, *pkt)
	}
	desc := string(m.Kind)
	if m.Module != "" {
		desc = "-m " + m.Module
	}
	if len(m.Args) > 0 {
		desc += " " + strings.Join(m.Args, " ")
	}
	return 0, desc + " is not modelled"
}

func protoIs(want, have string) bool {
	want = strings.ToLower(want)
	if want == "all" || want == "0" {
		return true
	}
	if want == have {
		return true
	}
	return protoNumber(want) != 0 && protoNumber(want) == protoNumber(have)
}

func protoNumber(s string) int {
	switch s {
	case "icmp":
		return 1
	case "tcp":
		return 6
	case "udp":
		return 17
	case "sctp":
		return 132
	}
	n, _ := strconv.Atoi(s)
	return n
}

func ctHas(ct *conn, v string) bool {
	switch v {
	case "NEW":
		return !ct.reply && !ct.untracked
	case "ESTABLISHED":
		return ct.reply && !ct.untracked
	case "UNTRACKED":
		return ct.untracked
	case "DNAT":
		return ct.dnat
	case "SNAT":
		return ct.snat
	}
	return false // RELATED, INVALID
}

func ctStatus(ct *conn, v string) bool {
	switch v {
	case "DNAT":
		return ct.dnat
	case "SNAT":
		return ct.snat
	case "SEEN_REPLY", "CONFIRMED", "ASSURED":
		return ct.reply
	}
	return false
}

func tcpFlags(f *nf.TCPFlags, set []string) bool {
	expand := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range l {
			x = strings.ToUpper(x)
			if x == "ALL" {
				for _, y := range []string{"SYN", "ACK", "FIN", "RST", "URG", "PSH"} {
					m[y] = true
				}
			} else if x != "NONE" {
				m[x] = true
			}
		}
		return m
	}
	mask, comp, have := expand(f.Mask), expand(f.Comp), expand(set)
	for fl := range mask {
		if have[fl] != comp[fl] {
			return false
		}
	}
	return true
}

// keyValue is a packet field as a lookup compares it.
func keyValue(s nf.Selector, ctx hookCtx, pkt Packet) (string, bool) {
	switch s.Field {
	case nf.FieldSAddr:
		return pkt.Src.String(), true
	case nf.FieldDAddr:
		return pkt.Dst.String(), true
	case nf.FieldL4Proto:
		return pkt.Proto, true
	case nf.FieldSPort:
		return strconv.Itoa(int(pkt.SPort)), pkt.hasPorts()
	case nf.FieldDPort:
		return strconv.Itoa(int(pkt.DPort)), pkt.hasPorts()
	case nf.FieldIIFName:
		return ctx.in, true
	case nf.FieldOIFName:
		return ctx.out, true
	case nf.FieldMark:
		return strconv.FormatUint(uint64(pkt.Mark), 10), true
	}
	return "", false
}

// elemMatches compares one key part of a set element with a value.
func elemMatches(f nf.Field, elem, val string) bool {
	switch f {
	case nf.FieldSAddr, nf.FieldDAddr:
		a, err := netip.ParseAddr(val)
		if err != nil {
			return false
		}
		if lo, hi, ok := strings.Cut(elem, "-"); ok {
			l, e1 := netip.ParseAddr(strings.TrimSpace(lo))
			h, e2 := netip.ParseAddr(strings.TrimSpace(hi))
			return e1 == nil && e2 == nil && l.Compare(a) <= 0 && a.Compare(h) <= 0
		}
		if strings.Contains(elem, "/") {
			p, err := netip.ParsePrefix(elem)
			return err == nil && p.Contains(a)
		}
		e, err := netip.ParseAddr(elem)
		return err == nil && e == a
	case nf.FieldL4Proto:
		return protoIs(elem, val)
	case nf.FieldSPort, nf.FieldDPort, nf.FieldMark, nf.FieldNumgen, nf.FieldNumgenInc:
		v, err := strconv.ParseUint(val, 0, 32)
		if err != nil {
			return false
		}
		if lo, hi, ok := strings.Cut(elem, "-"); ok {
			l, e1 := strconv.ParseUint(strings.TrimSpace(lo), 0, 32)
			h, e2 := strconv.ParseUint(strings.TrimSpace(hi), 0, 32)
			return e1 == nil && e2 == nil && l <= v && v <= h
		}
		e, err := strconv.ParseUint(elem, 0, 32)
		return err == nil && e == v
	case nf.FieldIIFName, nf.FieldOIFName:
		elem = strings.Trim(elem, `"`)
		if p, ok := strings.CutSuffix(elem, "*"); ok {
			return strings.HasPrefix(val, p)
		}
		return elem == val
	}
	return false
}

// lookupElements returns a lookup's elements: an anonymous set's, or the
// named set's in the table.
func lookupElements(l *nf.Lookup, table *nf.Table, ctx hookCtx) ([]nf.Element, string) {
	if l.Set == "" {
		return l.Elements, ""
	}
	s := table.Set(l.Set)
	if s == nil {
		return nil, "set @" + l.Set + " is not in the table"
	}
	// A set left unread (kube-proxy's per-service maps, on a live node)
	// is read now that a packet reaches it, and kept; fetch checks under
	// the node's lock, as walks may share a node.
	if ctx.fetch != nil {
		if why := ctx.fetch(table, s); why != "" {
			return nil, "set @" + l.Set + ": " + why
		}
	} else if s.Lazy {
		return nil, "set @" + l.Set + " was not read"
	}
	return s.Elements, ""
}

func lookupMatch(m *nf.Match, table *nf.Table, ctx hookCtx, pkt Packet) (float64, string) {
	l := m.Lookup
	els, unk := lookupElements(l, table, ctx)
	if unk != "" {
		return 0, unk
	}
	if len(l.Keys) == 1 && l.Keys[0].Field == nf.FieldCTState {
		for _, e := range els {
			if len(e.Key) == 1 && ctHas(ctx.ct, strings.ToUpper(e.Key[0])) {
				return b2f(!m.Negate), ""
			}
		}
		return b2f(m.Negate), ""
	}
	vals := make([]string, len(l.Keys))
	for i, k := range l.Keys {
		v, ok := keyValue(k, ctx, pkt)
		if !ok {
			return 0, "" // no such field in this packet (a port of icmp): no match
		}
		vals[i] = v
	}
	dyn := dynamicSet(l, table)
	for i, e := range els {
		if elementHas(l.Keys, e, vals) {
			if dyn != nil {
				ctx.note(stickyNote{store: "set " + dyn.Name, client: pkt.Src, kind: "pinned", left: els[i].Expires, timeout: dyn.Timeout})
			}
			return b2f(!m.Negate), ""
		}
	}
	if dyn != nil {
		ctx.note(stickyNote{store: "set " + dyn.Name, client: pkt.Src, kind: "miss", timeout: dyn.Timeout})
	}
	return b2f(m.Negate), ""
}

func elementHas(keys []nf.Selector, e nf.Element, vals []string) bool {
	if len(e.Key) != len(keys) {
		return false
	}
	for i, k := range keys {
		if !elemMatches(k.Field, e.Key[i], vals[i]) {
			return false
		}
	}
	return true
}

// vmapLookup finds the verdict map elements a packet selects: one, or for a
// numgen key every element, each with its probability.
func vmapLookup(l *nf.Lookup, table *nf.Table, ctx hookCtx, pkt Packet) ([]nf.Element, []float64, string) {
	els, unk := lookupElements(l, table, ctx)
	if unk != "" {
		return nil, nil, unk
	}
	if len(l.Keys) == 1 && (l.Keys[0].Field == nf.FieldNumgen || l.Keys[0].Field == nf.FieldNumgenInc) {
		mod := l.Keys[0].Mod
		if mod == 0 {
			return nil, nil, "numgen without a modulus"
		}
		var out []nf.Element
		var probs []float64
		for v := range mod {
			for _, e := range els {
				if e.Verdict != nil && elementHas(l.Keys, e, []string{strconv.Itoa(int(v))}) {
					out = append(out, e)
					probs = append(probs, 1/float64(mod))
					break
				}
			}
		}
		return out, probs, ""
	}
	vals := make([]string, len(l.Keys))
	for i, k := range l.Keys {
		v, ok := keyValue(k, ctx, pkt)
		if !ok {
			if k.Field == nf.FieldSPort || k.Field == nf.FieldDPort {
				return nil, nil, ""
			}
			return nil, nil, "map key " + string(k.Field) + " not modelled"
		}
		vals[i] = v
	}
	for _, e := range els {
		if e.Verdict != nil && elementHas(l.Keys, e, vals) {
			return []nf.Element{e}, []float64{1}, ""
		}
	}
	return nil, nil, ""
}
