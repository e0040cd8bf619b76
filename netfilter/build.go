package netfilter

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// IPTablesBuilder builds iptables tables in memory, the way a rule writer
// (package kubeproxy: kube-proxy's layout, the CNI portmap plugin's,
// pod masquerading) composes a node's rules before loading them with one
// iptables-restore. Rules are given as iptables-restore reads them — the
// words after "-A CHAIN", in the writer's own order, as kube-proxy's
// syncProxyRules writes them — and parsed into the model at once by the
// same parser that reads iptables-save, so a rule the model cannot hold
// is an error here rather than on the node.
//
// Ruleset returns what iptables-save will list once the rules are loaded:
// tables with their built-in chains, user chains in iptables-save's order,
// matches in the order the kernel keeps them, probabilities as the kernel
// stores them, and each Rule's Text, Num and Comment filled in. So a
// written ruleset and the node's read back compare equal with Diff.
//
// The first error sticks: later calls do nothing and Ruleset returns it,
// so a writer makes its calls and checks once.
type IPTablesBuilder struct {
	p   parser
	err error
	// rules are parsed when Ruleset is called, once every chain is
	// declared, as iptables-restore reads its chain declarations first.
	rules map[*Table][]pendingRule
}

type pendingRule struct {
	chain  string
	at     Position
	unique bool
	flush  bool // empty the chain instead
	args   []string
}

// NewIPTablesBuilder starts an empty ruleset of family (FamilyIP for
// iptables, FamilyIP6 for ip6tables) whose Source is source.
func NewIPTablesBuilder(family Family, source string) *IPTablesBuilder {
	return &IPTablesBuilder{p: parser{family: family, rs: &Ruleset{Source: source, Tables: []*Table{}}}, rules: map[*Table][]pendingRule{}}
}

// iptablesBuiltinOrder is the order iptables-save lists each table's
// built-in chains in.
var iptablesBuiltinOrder = map[string][]string{
	"filter":   {"INPUT", "FORWARD", "OUTPUT"},
	"nat":      {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	"mangle":   {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"},
	"raw":      {"PREROUTING", "OUTPUT"},
	"security": {"INPUT", "FORWARD", "OUTPUT"},
}

// iptablesSaveOrder is the order iptables-save lists tables in.
var iptablesSaveOrder = []string{"mangle", "security", "raw", "filter", "nat"}

// table finds or makes table name with its built-in chains (policy
// ACCEPT), in the order tables are first named.
func (b *IPTablesBuilder) table(name string) *Table {
	if t := b.p.rs.Table(b.p.family, name); t != nil {
		return t
	}
	order, ok := iptablesBuiltinOrder[name]
	if !ok {
		b.fail(fmt.Errorf("no iptables table %q", name))
		return nil
	}
	t := &Table{Family: b.p.family, Name: name, index: make(map[string]*Chain), sets: map[string]*Set{}}
	b.p.rs.Tables = append(b.p.rs.Tables, t)
	for _, c := range order {
		hook, typ, prio, _ := builtin(name, c)
		ch := &Chain{Name: c, Hook: hook, Type: typ, Priority: prio, Policy: "ACCEPT"}
		t.Chains = append(t.Chains, ch)
		t.index[c] = ch
	}
	return t
}

func (b *IPTablesBuilder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Table makes table name (filter, nat, mangle, raw, security) with its
// built-in chains, if it does not exist yet. Naming a table is enough for
// iptables-restore to create it; a writer that only touches chains in it
// need not call this.
func (b *IPTablesBuilder) Table(name string) {
	if b.err == nil {
		b.table(name)
	}
}

// Chain declares user chain name in table (":NAME - [0:0]"); declaring it
// again does nothing.
func (b *IPTablesBuilder) Chain(table, name string) {
	if b.err != nil {
		return
	}
	t := b.table(table)
	if t == nil || t.index[name] != nil {
		return
	}
	if name == "" || name[0] == '-' || name[0] == '!' || len(name) > 28 || strings.ContainsAny(name, " \t\"") {
		b.fail(fmt.Errorf("table %s: bad chain name %q", table, name))
		return
	}
	c := &Chain{Name: name}
	t.Chains = append(t.Chains, c)
	t.index[name] = c
}

// Append adds a rule at the end of chain, as an "-A CHAIN" line of
// iptables-restore input does: args are the words after "-A CHAIN".
func (b *IPTablesBuilder) Append(table, chain string, args ...string) {
	b.add(table, chain, Last, false, args)
}

// Flush empties chain at this point of the writing: what a chain line
// (":CHAIN - [0:0]") of `iptables-restore --noflush` input does, so a
// component that restores its chains replaces what another wrote there.
func (b *IPTablesBuilder) Flush(table, chain string) {
	if b.err != nil {
		return
	}
	if t := b.table(table); t != nil {
		b.rules[t] = append(b.rules[t], pendingRule{chain: chain, flush: true})
	}
}

// Position says where Ensure puts a rule.
type Position int

const (
	Last  Position = iota // iptables -A
	First                 // iptables -I CHAIN 1
)

// Ensure adds a rule at position unless chain already holds the same rule:
// what `iptables -C` then `-I CHAIN 1` or `-A` does, which is how
// kube-proxy, kubelet and the CNI plugins hook their chains into the
// built-in ones (EnsureRule). A rule another component wrote first stays
// where it was.
func (b *IPTablesBuilder) Ensure(table, chain string, at Position, args ...string) {
	b.add(table, chain, at, true, args)
}

func (b *IPTablesBuilder) add(table, chain string, at Position, unique bool, args []string) {
	if b.err != nil {
		return
	}
	if t := b.table(table); t != nil {
		b.rules[t] = append(b.rules[t], pendingRule{chain: chain, at: at, unique: unique, args: slices.Clone(args)})
	}
}

// Ruleset returns the ruleset built, as iptables-save will list it once
// loaded, or the first error. Rules may jump to any chain declared by
// then. Call it once, after the last rule.
func (b *IPTablesBuilder) Ruleset() (*Ruleset, error) {
	if b.err != nil {
		return nil, b.err
	}
	// iptables-save (nf_tables backend) lists tables in this order, not
	// in the order they were made.
	slices.SortStableFunc(b.p.rs.Tables, func(x, y *Table) int {
		return slices.Index(iptablesSaveOrder, x.Name) - slices.Index(iptablesSaveOrder, y.Name)
	})
	for _, t := range b.p.rs.Tables {
		b.p.table = t
		for _, pr := range b.rules[t] {
			if err := b.place(t, pr); err != nil {
				return nil, fmt.Errorf("table %s chain %s: %w", t.Name, pr.chain, err)
			}
		}
		nb := len(iptablesBuiltinOrder[t.Name])
		// iptables-save lists user chains by name.
		slices.SortFunc(t.Chains[nb:], func(x, y *Chain) int { return strings.Compare(x.Name, y.Name) })
	}
	b.p.table = nil
	b.err = errors.New("Ruleset was called already")
	return b.p.rs, nil
}

// place parses one rule and puts it in its chain.
func (b *IPTablesBuilder) place(t *Table, pr pendingRule) error {
	c := t.index[pr.chain]
	if c == nil {
		return fmt.Errorf("chain %s is not declared", pr.chain)
	}
	if pr.flush {
		c.Rules = nil
		return nil
	}
	r := &Rule{}
	if err := b.p.rule(pr.args, r); err != nil {
		return fmt.Errorf("rule %q: %w", strings.Join(pr.args, " "), err)
	}
	if r.Target.Kind == TargetGoto && t.index[r.Target.Chain] == nil {
		return fmt.Errorf("rule %q goes to chain %s, which is not declared", strings.Join(pr.args, " "), r.Target.Chain)
	}
	canonicalIPTables(r, b.p.family)
	line, err := ruleLine(pr.chain, r)
	if err != nil {
		return err
	}
	r.Text = line
	if pr.unique && slices.ContainsFunc(c.Rules, func(x *Rule) bool { return x.Text == r.Text }) {
		return nil
	}
	if pr.at == First {
		c.Rules = slices.Insert(c.Rules, 0, r)
	} else {
		c.Rules = append(c.Rules, r)
	}
	for i, x := range c.Rules {
		x.Num = i + 1
	}
	return nil
}

// ipOrder ranks the matches iptables keeps in the rule's fixed IP header
// part, in the order iptables-save prints them (-s -d -i -o -p -f) before
// every -m module, whatever order they were written in.
func ipOrder(m *Match) int {
	if m.Module != "" {
		return 6
	}
	switch m.Kind {
	case MatchSource:
		return 0
	case MatchDestination:
		return 1
	case MatchInInterface:
		return 2
	case MatchOutInterface:
		return 3
	case MatchProtocol:
		return 4
	case MatchFragment:
		return 5
	}
	return 6
}

// canonicalIPTables turns a rule as written into the rule as the kernel
// keeps it (and iptables-save lists it): header matches first; a
// statistic probability as the 31-bit fraction xt_statistic stores
// (lround(p * 2^31)), printed with 11 decimals (1/3 reads back as
// 0.33333333349); REJECT with the default it stores.
func canonicalIPTables(r *Rule, family Family) {
	slices.SortStableFunc(r.Matches, func(a, b Match) int { return ipOrder(&a) - ipOrder(&b) })
	for i := range r.Matches {
		if st := r.Matches[i].Statistic; st != nil && st.Mode == "random" {
			q := math.Round(st.Probability*(1<<31)) / (1 << 31)
			st.Probability, _ = strconv.ParseFloat(strconv.FormatFloat(q, 'f', 11, 64), 64)
		}
	}
	if r.Target.Kind == TargetReject && r.Target.RejectWith == "" {
		r.Target.RejectWith = "icmp-port-unreachable"
		if family == FamilyIP6 {
			r.Target.RejectWith = "icmp6-port-unreachable"
		}
	}
}

// ruleLine is the rule's line as iptables-save prints it: "-A CHAIN ...".
func ruleLine(chain string, r *Rule) (string, error) {
	words, err := r.AppendIPTablesArgs(nil)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	bw := bufio.NewWriter(&sb)
	bw.WriteString("-A ")
	bw.WriteString(chain)
	writeWords(bw, words)
	if err := bw.Flush(); err != nil {
		return "", err
	}
	return sb.String(), nil
}

// NFTBuilder builds nftables tables in memory for one nft transaction, the
// way kube-proxy's nftables mode composes a knftables transaction: tables,
// chains, sets and maps, elements and rules, each rule given as the nft
// rule text the writer writes ("ip daddr . meta l4proto . th dport vmap
// @service-ips"). Ruleset parses them with ParseNFT's own parser and
// returns them as `nft list ruleset` will list them once loaded: rule
// texts in nft's canonical spelling, so a written ruleset and the node's
// read back compare equal with Diff.
//
// Objects are made in the order added, as one transaction makes them
// (nft lists chains and sets in that order). Names are not quoted: use
// nft identifiers (kube-proxy's are).
type NFTBuilder struct {
	script strings.Builder
}

// NewNFTBuilder starts an empty nftables ruleset.
func NewNFTBuilder() *NFTBuilder { return &NFTBuilder{} }

func (b *NFTBuilder) cmd(format string, args ...any) {
	fmt.Fprintf(&b.script, format, args...)
	b.script.WriteByte('\n')
}

// Table adds table family name, with a comment unless it is "".
func (b *NFTBuilder) Table(family Family, name, comment string) {
	if comment == "" {
		b.cmd("add table %s %s", family, name)
		return
	}
	b.cmd("add table %s %s { comment %s ; }", family, name, nftQuoted(comment))
}

// Chain adds chain c to table family name: a base chain when c.Hook is
// set (with c.Type, c.Priority and c.Policy, default accept), else a
// regular one; with c.Comment unless empty. Rules are added with Rule.
func (b *NFTBuilder) Chain(family Family, table string, c Chain) {
	var parts []string
	if c.Hook != "" {
		pol := strings.ToLower(c.Policy)
		if pol == "" {
			pol = "accept"
		}
		parts = append(parts, fmt.Sprintf("type %s hook %s priority %d ; policy %s ;", c.Type, c.Hook, c.Priority, pol))
	}
	if c.Comment != "" {
		parts = append(parts, "comment "+nftQuoted(c.Comment)+" ;")
	}
	if len(parts) == 0 {
		b.cmd("add chain %s %s %s", family, table, c.Name)
		return
	}
	b.cmd("add chain %s %s %s { %s }", family, table, c.Name, strings.Join(parts, " "))
}

// Set adds set (or map, when s.DataType is set) s to table family name:
// its key type (s.KeyType, concatenated), data type, flags and comment.
// Elements are added with Element.
func (b *NFTBuilder) Set(family Family, table string, s Set) {
	kind := "set"
	typ := strings.Join(s.KeyType, " . ")
	if s.DataType != "" {
		kind = "map"
		typ += " : " + s.DataType
	}
	parts := []string{"type " + typ + " ;"}
	if len(s.Flags) > 0 {
		parts = append(parts, "flags "+strings.Join(s.Flags, ",")+" ;")
	}
	if s.Timeout > 0 {
		parts = append(parts, "timeout "+FormatNFTDuration(s.Timeout)+" ;")
	}
	if s.Comment != "" {
		parts = append(parts, "comment "+nftQuoted(s.Comment)+" ;")
	}
	for _, a := range s.Args {
		parts = append(parts, a+" ;")
	}
	b.cmd("add %s %s %s %s { %s }", kind, family, table, s.Name, strings.Join(parts, " "))
}

// Element adds an element to set or map set: key holds one value per
// concatenated key type ("10.96.0.10", "tcp", "80"); value is a map's
// data or verdict ("goto service-..."), "" for a plain set; comment is
// kept unless "".
func (b *NFTBuilder) Element(family Family, table, set string, key []string, value, comment string) {
	e := strings.Join(key, " . ")
	if comment != "" {
		e += " comment " + nftQuoted(comment)
	}
	if value != "" {
		e += " : " + value
	}
	b.cmd("add element %s %s %s { %s }", family, table, set, e)
}

// Rule appends a rule, given as nft rule text, to chain in table family
// name.
func (b *NFTBuilder) Rule(family Family, table, chain, rule string) {
	b.cmd("add rule %s %s %s %s", family, table, chain, rule)
}

// Ruleset parses what was added and returns it as nft will list it: the
// model is written with WriteNFT, whose rule texts are nft's own
// spelling, and read again, so every Rule.Text is the canonical one
// ("meta mark set meta mark | 0x00004000" for the writer's "mark set mark
// or 0x004000").
func (b *NFTBuilder) Ruleset() (*Ruleset, error) {
	rs, err := ParseNFT(strings.NewReader(b.script.String()))
	if err != nil {
		return nil, fmt.Errorf("build nftables ruleset: %w", err)
	}
	var canonical strings.Builder
	if err := rs.WriteNFT(&canonical, NFTWriteOptions{}); err != nil {
		return nil, fmt.Errorf("build nftables ruleset: %w", err)
	}
	if rs, err = ParseNFT(strings.NewReader(canonical.String())); err != nil {
		return nil, fmt.Errorf("build nftables ruleset: read back what was written: %w", err)
	}
	return rs, nil
}

// nftQuoted is s as an nft double-quoted string.
func nftQuoted(s string) string { return `"` + s + `"` }
