package netfilter

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// NFTWriteOptions say how WriteNFT writes a ruleset.
type NFTWriteOptions struct {
	// Replace makes each table replace a table of the same family and
	// name instead of adding to it: the script creates and deletes the
	// table before building it, so it loads whether or not the table
	// exists, and loading it again leaves the same table, not doubled
	// rules.
	Replace bool
}

// WriteNFT writes the ruleset as an nft -f script that creates every
// table in one transaction (nft -f loads a file as a single batch):
// per table, the table with its comment, flags and objects, then every
// chain (base chains with their type, hook, priority as a number,
// policy and devices), then the sets and maps with their elements, then
// the rules in order. Chains and sets are all declared before the first
// rule or map element names one, so rules may jump forward. Rules are
// written by AppendNFT, from the model, not copied from Rule.Text.
//
// A lazy set (its elements never read), a rule with no nft spelling or a
// name nft cannot parse is an error naming it, and then nothing is
// written: a script cut short is still one nft would load, without the
// tables after the cut.
func (r *Ruleset) WriteNFT(w io.Writer, o NFTWriteOptions) error {
	var b []byte
	for _, t := range r.Tables {
		var err error
		if b, err = appendNFTTable(b, t, o); err != nil {
			return err
		}
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write nft script: %w", err)
	}
	return nil
}

// appendNFTTable appends the commands that build t.
func appendNFTTable(b []byte, t *Table, o NFTWriteOptions) ([]byte, error) {
	if err := checkFamily(t.Family); err != nil {
		return b, fmt.Errorf("write table %s %s: %w", t.Family, t.Name, err)
	}
	if err := checkNFTName(t.Name); err != nil {
		return b, fmt.Errorf("write table %s %s: %w", t.Family, t.Name, err)
	}
	head := string(t.Family) + " " + t.Name
	if o.Replace {
		b = append(b, "add table "...)
		b = append(b, head...)
		b = append(b, "\ndelete table "...)
		b = append(b, head...)
		b = append(b, '\n')
	}
	b = append(b, "add table "...)
	b = append(b, head...)
	if t.Comment != "" || len(t.Flags) > 0 || len(t.Objects) > 0 {
		// Objects are kept as nft printed or read them, a block each
		// ("counter c { ... }"), which only a table block takes whole.
		b = append(b, " {"...)
		if t.Comment != "" {
			var err error
			if b, err = appendNFTString(append(b, "\n\tcomment "...), t.Comment); err != nil {
				return b, fmt.Errorf("write table %s: comment: %w", head, err)
			}
		}
		if len(t.Flags) > 0 {
			if err := checkFlags(t.Flags); err != nil {
				return b, fmt.Errorf("write table %s: %w", head, err)
			}
			b = append(b, "\n\tflags "...)
			b = append(b, strings.Join(t.Flags, ",")...)
		}
		for _, obj := range t.Objects {
			b = append(b, "\n\t"...)
			b = append(b, obj...)
		}
		b = append(b, "\n}"...)
	}
	b = append(b, '\n')

	for _, c := range t.Chains {
		var err error
		if b, err = appendNFTChain(b, head, c); err != nil {
			return b, fmt.Errorf("write chain %s of table %s: %w", c.Name, head, err)
		}
	}
	for _, s := range t.Sets {
		var err error
		if b, err = appendNFTSet(b, head, s); err != nil {
			return b, fmt.Errorf("write set %s of table %s: %w", s.Name, head, err)
		}
	}
	for _, c := range t.Chains {
		for i, rule := range c.Rules {
			b = append(b, "add rule "...)
			b = append(b, head...)
			b = append(b, ' ')
			b = append(b, c.Name...)
			b = append(b, ' ')
			var err error
			if b, err = rule.AppendNFT(b, t); err != nil {
				return b, fmt.Errorf("write rule %d of chain %s in table %s: %w", i+1, c.Name, head, err)
			}
			b = append(b, '\n')
		}
	}
	return b, nil
}

// checkFlags reports a table or set flag that is not one nft word.
func checkFlags(flags []string) error {
	for _, f := range flags {
		if !nftName(f) {
			return fmt.Errorf("flag %q has no nft spelling", f)
		}
	}
	return nil
}

func checkFamily(f Family) error {
	if _, ok := nftFamily(string(f)); !ok {
		return fmt.Errorf("unknown family %q", f)
	}
	return nil
}

// checkNFTName reports a table, chain or set name nft -f cannot read
// back: its parser takes only bare names (a quoted one is a syntax
// error), starting with a letter, "_" or "." and going on with letters,
// digits and / - _ . : (kube-proxy's service-HASH-ns/name/tcp/port). A
// name that is also an nft keyword (accept, counter, ip) fails the same
// way; nft says so when it loads the script, so it is not checked here.
func checkNFTName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '.':
		case i > 0 && (c >= '0' && c <= '9' || c == '/' || c == '-' || c == ':'):
		default:
			return fmt.Errorf("name %q has no nft spelling", name)
		}
	}
	return nil
}

// appendNFTString appends s in double quotes. nft strings have no
// escapes: a quote or a line break cannot be written.
func appendNFTString(b []byte, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\"\n\r") {
		return b, fmt.Errorf("string %q cannot be quoted for nft", s)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

// appendNFTChain appends the add chain command of c.
func appendNFTChain(b []byte, head string, c *Chain) ([]byte, error) {
	if err := checkNFTName(c.Name); err != nil {
		return b, err
	}
	b = append(b, "add chain "...)
	b = append(b, head...)
	b = append(b, ' ')
	b = append(b, c.Name...)
	if !c.Base() && (c.Policy != "" || len(c.Devices) > 0 || c.Type != "") {
		return b, errors.New("type, policy or devices without a hook")
	}
	if !c.Base() && c.Comment == "" {
		return append(b, '\n'), nil
	}
	b = append(b, " {"...)
	if c.Base() {
		if c.Type == "" {
			return b, fmt.Errorf("base chain on hook %s has no type", c.Hook)
		}
		b = append(b, " type "...)
		b = append(b, c.Type...)
		b = append(b, " hook "...)
		b = append(b, c.Hook...)
		switch len(c.Devices) {
		case 0:
		case 1:
			var err error
			if b, err = appendNFTString(append(b, " device "...), c.Devices[0]); err != nil {
				return b, err
			}
		default:
			b = append(b, " devices = {"...)
			for i, d := range c.Devices {
				if i > 0 {
					b = append(b, ',')
				}
				var err error
				if b, err = appendNFTString(append(b, ' '), d); err != nil {
					return b, err
				}
			}
			b = append(b, " }"...)
		}
		b = append(b, " priority "...)
		b = strconv.AppendInt(b, int64(c.Priority), 10)
		b = append(b, " ;"...)
		switch c.Policy {
		case "":
		case "ACCEPT", "DROP":
			b = append(b, " policy "...)
			b = append(b, strings.ToLower(c.Policy)...)
			b = append(b, " ;"...)
		default:
			return b, fmt.Errorf("policy %s has no nft spelling", c.Policy)
		}
	}
	if c.Comment != "" {
		var err error
		if b, err = appendNFTString(append(b, " comment "...), c.Comment); err != nil {
			return b, err
		}
		b = append(b, " ;"...)
	}
	return append(b, " }\n"...), nil
}

// typeofExpr names an expression of data type t, for a typeof
// declaration whose other parts ParseNFT kept as written; an expression
// is returned as it is.
func typeofExpr(t string) string {
	switch t {
	case "ipv4_addr":
		return "ip daddr"
	case "ipv6_addr":
		return "ip6 daddr"
	case "inet_proto":
		return "meta l4proto"
	case "inet_service":
		return "th dport"
	case "ifname":
		return "meta iifname"
	case "mark":
		return "meta mark"
	}
	return t
}

// appendNFTSet appends the add set (or add map) command of s, with its
// elements.
func appendNFTSet(b []byte, head string, s *Set) ([]byte, error) {
	if s.Lazy {
		return b, errors.New("lazy set: its elements were never read")
	}
	if err := checkNFTName(s.Name); err != nil {
		return b, err
	}
	if len(s.KeyType) == 0 {
		return b, errors.New("no key type")
	}
	if s.Map() {
		b = append(b, "add map "...)
	} else {
		b = append(b, "add set "...)
	}
	b = append(b, head...)
	b = append(b, ' ')
	b = append(b, s.Name...)
	// ParseNFT keeps a typeof expression it knows as its data type, one
	// it does not as written (a word with a blank): the latter needs
	// typeof, and then the whole declaration does.
	var data []string
	if s.Map() && s.DataType != "verdict" {
		data = strings.Split(s.DataType, " . ")
	}
	typeof := false
	for _, p := range append(append([]string(nil), s.KeyType...), data...) {
		if typeofType(p) != p {
			// ParseNFT names this expression by its type: a "type"
			// spelled so is none nft knows.
			return b, fmt.Errorf("type %q is an expression: typeof %s is type %s", p, p, typeofType(p))
		}
		typeof = typeof || strings.Contains(p, " ")
	}
	kw, spell := " { type ", func(p string) string { return p }
	if typeof {
		kw, spell = " { typeof ", typeofExpr
	}
	b = append(b, kw...)
	for i, k := range s.KeyType {
		if i > 0 {
			b = append(b, " . "...)
		}
		b = append(b, spell(k)...)
	}
	if s.Map() {
		b = append(b, " :"...)
		if s.DataType == "verdict" {
			b = append(b, " verdict"...)
		}
		for i, d := range data {
			if i > 0 {
				b = append(b, " ."...)
			}
			b = append(b, ' ')
			b = append(b, spell(d)...)
		}
	}
	b = append(b, " ;"...)
	if len(s.Flags) > 0 {
		if err := checkFlags(s.Flags); err != nil {
			return b, err
		}
		b = append(b, " flags "...)
		b = append(b, strings.Join(s.Flags, ",")...)
		b = append(b, " ;"...)
	}
	if s.Timeout > 0 {
		b = append(b, " timeout "...)
		b = append(b, FormatNFTDuration(s.Timeout)...)
		b = append(b, " ;"...)
	}
	if s.Comment != "" {
		var err error
		if b, err = appendNFTString(append(b, " comment "...), s.Comment); err != nil {
			return b, err
		}
		b = append(b, " ;"...)
	}
	for _, a := range s.Args {
		b = append(b, ' ')
		b = append(b, a...)
		b = append(b, " ;"...)
	}
	for _, e := range s.Elements {
		if s.Map() && e.Verdict == nil && len(e.Data) == 0 || !s.Map() && (e.Verdict != nil || len(e.Data) > 0) ||
			s.DataType == "verdict" && e.Verdict == nil {
			return b, fmt.Errorf("element %s: a set's elements are keys, a map's keys and data, a verdict map's keys and verdicts", strings.Join(e.Key, " . "))
		}
	}
	if len(s.Elements) > 0 {
		quoteKey := make([]bool, len(s.KeyType))
		for i, k := range s.KeyType {
			quoteKey[i] = k == "ifname"
		}
		b = append(b, " elements = "...)
		var err error
		if b, err = appendNFTElements(b, s.Elements, quoteKey, s.DataType == "ifname"); err != nil {
			return b, err
		}
		b = append(b, " ;"...)
	}
	return append(b, " }\n"...), nil
}

// appendNFTElements appends "{ e, e ... }": each element's key parts
// joined by " . ", then ": data" or ": verdict". quoteKey says which key
// parts are strings (interface names); quoteData, whether the data is.
func appendNFTElements(b []byte, els []Element, quoteKey []bool, quoteData bool) ([]byte, error) {
	b = append(b, "{ "...)
	for i, e := range els {
		if i > 0 {
			b = append(b, ", "...)
		}
		if len(e.Key) != len(quoteKey) {
			return b, fmt.Errorf("element %s has %d key parts, want %d", strings.Join(e.Key, " . "), len(e.Key), len(quoteKey))
		}
		var err error
		for k, part := range e.Key {
			if k > 0 {
				b = append(b, " . "...)
			}
			if b, err = appendNFTValue(b, part, quoteKey[k] && part != "*"); err != nil {
				return b, err
			}
		}
		if e.Timeout > 0 {
			b = append(b, " timeout "...)
			b = append(b, FormatNFTDuration(e.Timeout)...)
		}
		if e.Expires > 0 {
			b = append(b, " expires "...)
			b = append(b, FormatNFTDuration(e.Expires)...)
		}
		if e.Comment != "" {
			if b, err = appendNFTString(append(b, " comment "...), e.Comment); err != nil {
				return b, err
			}
		}
		switch {
		case e.Verdict != nil:
			b = append(b, " : "...)
			if b, err = appendNFTVerdict(b, e.Verdict); err != nil {
				return b, fmt.Errorf("element %s: %w", strings.Join(e.Key, " . "), err)
			}
		case len(e.Data) > 0:
			b = append(b, " : "...)
			for k, part := range e.Data {
				if k > 0 {
					b = append(b, " . "...)
				}
				if b, err = appendNFTValue(b, part, quoteData); err != nil {
					return b, err
				}
			}
		}
	}
	return append(b, " }"...), nil
}

// appendNFTValue appends one element value, quoted when it is a string
// type's; a bare one must be a single word.
func appendNFTValue(b []byte, v string, quote bool) ([]byte, error) {
	if quote {
		return appendNFTString(b, v)
	}
	if v == "" || strings.ContainsAny(v, " \t\n\r\"{},;#") {
		return b, fmt.Errorf("value %q has no nft spelling", v)
	}
	return append(b, v...), nil
}

// appendNFTVerdict appends a map element's verdict.
func appendNFTVerdict(b []byte, v *Target) ([]byte, error) {
	switch v.Kind {
	case TargetNone:
		return append(b, "continue"...), nil
	case TargetAccept, TargetDrop, TargetReturn:
		return append(b, strings.ToLower(string(v.Kind))...), nil
	case TargetJump, TargetGoto:
		if err := checkNFTName(v.Chain); err != nil {
			return b, err
		}
		b = append(b, strings.ToLower(string(v.Kind))...)
		b = append(b, ' ')
		return append(b, v.Chain...), nil
	}
	return b, fmt.Errorf("verdict %s has no nft spelling", v.Kind)
}

// AppendNFT appends the rule as nft writes it, from Matches, Counter,
// Statements, Target and Comment (never from Text): for a rule ParseNFT
// read from `nft list ruleset` (nft 1.0.6), Text exactly, and ParseNFT
// of what it writes gives back the same rule. t is the table holding the
// rule: its family, and the key types of the sets the rule looks up,
// decide what the model leaves implicit (ip or ip6 saddr in a lookup key,
// dnat ip or ip6 in an inet table).
//
// The model is spelled as it stands, so a rule whose model nft would
// print differently reads back differently: "meta l4proto tcp th dport
// 80" is written so, though nft lists it as "tcp dport 80". Matches are
// written in order, then the counter, the statements, the target and the
// comment, which is where nft lists them. A protocol match whose Module
// is its Value (tcp, udp, sctp: the dependency ParseNFT adds for tcp
// dport) is not written, as nft does not list it; it makes a later
// lookup's port key tcp dport rather than th dport.
//
// MatchUnknown and TargetUnknown from ParseNFT are written from their
// kept words (Module or Name, then Args), which are nft's tokens as
// written: joined by blanks, a comma glued to the word before it and,
// outside braces, to the word after it, as nft prints flag lists
// (established,new) and set elements ({ a, b }).
//
// Constructs with no nft spelling are an error naming them: iptables-only
// matches and options (statistic nth, ipset, physdev, mac-source, -f,
// multiport --ports, nfacct, -m comment, a bare -m module, conntrack
// states SNAT and DNAT, tcp flags ALL and NONE, limit units nft lacks),
// the CT target, CONNMARK, LOG and NAT options kept as iptables words,
// REJECT types nft does not name, unknowns holding iptables words or xt
// compat expressions (nft cannot read "xt match" back), a trailing "#"
// comment, and strings holding a double quote.
func (r *Rule) AppendNFT(dst []byte, t *Table) ([]byte, error) {
	if t == nil {
		return dst, errors.New("no table: the family decides the rule's spelling")
	}
	w := nftRuleWriter{b: dst, t: t, start: len(dst)}
	for i := range r.Matches {
		if err := w.match(r, i); err != nil {
			return dst, err
		}
	}
	if r.Counter || r.Counters != (Counters{}) {
		w.word("counter packets ")
		w.b = strconv.AppendUint(w.b, r.Counters.Packets, 10)
		w.b = append(w.b, " bytes "...)
		w.b = strconv.AppendUint(w.b, r.Counters.Bytes, 10)
	}
	for i := range r.Statements {
		if err := w.target(&r.Statements[i]); err != nil {
			return dst, fmt.Errorf("statement %d: %w", i+1, err)
		}
	}
	if err := w.target(&r.Target); err != nil {
		return dst, err
	}
	if len(w.b) == w.start {
		// A rule of nothing, which the model has for nft's "continue"
		// (the verdict of a rule without one).
		w.word("continue")
	}
	if r.Comment != "" {
		w.word("comment ")
		var err error
		if w.b, err = appendNFTString(w.b, r.Comment); err != nil {
			return dst, err
		}
	}
	return w.b, nil
}

// nftRuleWriter builds one rule's text.
type nftRuleWriter struct {
	b     []byte
	t     *Table
	start int
	// l4 is the protocol of the last dependency match skipped (tcp for
	// tcp dport), which spells the port keys of later lookups.
	l4 string
}

// word appends s after a blank, unless it is the rule's first.
func (w *nftRuleWriter) word(s string) {
	if len(w.b) > w.start {
		w.b = append(w.b, ' ')
	}
	w.b = append(w.b, s...)
}

// op appends the comparison of a negated match; nft prints none for
// equality.
func (w *nftRuleWriter) op(neg bool) {
	if neg {
		w.b = append(w.b, " !="...)
	}
}

func hex32(b []byte, v uint32) []byte {
	b = append(b, "0x"...)
	s := strconv.FormatUint(uint64(v), 16)
	for range 8 - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// implied reports whether m is the protocol match ParseNFT adds for a
// field that implies it (tcp for tcp dport), which nft does not list.
func implied(m *Match) bool {
	if m.Kind != MatchProtocol || m.Negate || m.Module != m.Value {
		return false
	}
	switch m.Value {
	case "tcp", "udp", "sctp":
		return true
	}
	return false
}

// needsL4 reports whether a match after r.Matches[i], or an action,
// spells the protocol implied by r.Matches[i].
func needsL4(r *Rule, i int) bool {
	p := r.Matches[i].Value
	portKey := func(l *Lookup) bool {
		if l == nil {
			return false
		}
		for _, k := range l.Keys {
			if k.Field == FieldSPort || k.Field == FieldDPort {
				return true
			}
		}
		return false
	}
	for j := i + 1; j < len(r.Matches); j++ {
		m := &r.Matches[j]
		switch m.Kind {
		case MatchSrcPort, MatchDstPort:
			if m.Module == p {
				return true
			}
		case MatchTCPFlags:
			if p == "tcp" {
				return true
			}
		case MatchLookup:
			if portKey(m.Lookup) {
				return true
			}
		}
	}
	for j := range r.Statements {
		if portKey(r.Statements[j].Lookup) {
			return true
		}
	}
	return r.Target.Kind == TargetVerdictMap && portKey(r.Target.Lookup)
}

// match appends r.Matches[i].
func (w *nftRuleWriter) match(r *Rule, i int) error {
	m := &r.Matches[i]
	var err error
	switch m.Kind {
	case MatchProtocol:
		if implied(m) && needsL4(r, i) {
			w.l4 = m.Value
			return nil
		}
		switch m.Module {
		case "ip":
			w.word("ip protocol")
		case "ip6":
			w.word("ip6 nexthdr")
		default:
			w.word("meta l4proto")
		}
		if m.Value == "" || m.Value == "all" || !nftName(m.Value) {
			return fmt.Errorf("protocol %q has no nft spelling", m.Value)
		}
		w.op(m.Negate)
		w.word(m.Value)
	case MatchSource, MatchDestination:
		if !m.Prefix.IsValid() {
			return fmt.Errorf("%s match without an address", m.Kind)
		}
		f := "ip"
		if !m.Prefix.Addr().Is4() {
			f = "ip6"
		}
		w.word(f)
		if m.Kind == MatchSource {
			w.b = append(w.b, " saddr"...)
		} else {
			w.b = append(w.b, " daddr"...)
		}
		w.op(m.Negate)
		w.b = append(w.b, ' ')
		if m.Prefix.IsSingleIP() {
			w.b = m.Prefix.Addr().AppendTo(w.b)
		} else {
			w.b = m.Prefix.AppendTo(w.b)
		}
	case MatchInInterface, MatchOutInterface:
		name := m.Value
		switch {
		case m.Module == "iif" || m.Module == "oif":
			w.word(m.Module)
		case m.Module != "":
			return fmt.Errorf("%s from module %s has no nft spelling", m.Kind, m.Module)
		case m.Kind == MatchInInterface:
			w.word("iifname")
		default:
			w.word("oifname")
		}
		// iptables' trailing + is nft's trailing *.
		if p, ok := strings.CutSuffix(name, "+"); ok {
			name = p + "*"
		}
		if name == "" || strings.ContainsAny(name[:len(name)-1], "*\\") {
			return fmt.Errorf("interface %q has no nft spelling", m.Value)
		}
		w.op(m.Negate)
		w.b = append(w.b, ' ')
		w.b, err = appendNFTString(w.b, name)
	case MatchSrcPort, MatchDstPort:
		switch m.Module {
		case "":
			w.word("th")
		case "tcp", "udp", "sctp":
			w.word(m.Module)
		default:
			return fmt.Errorf("%s of module %s has no nft spelling", m.Kind, m.Module)
		}
		if m.Kind == MatchSrcPort {
			w.b = append(w.b, " sport"...)
		} else {
			w.b = append(w.b, " dport"...)
		}
		if len(m.Ports) == 0 {
			return fmt.Errorf("%s match without ports", m.Kind)
		}
		w.op(m.Negate)
		w.b = append(w.b, ' ')
		if len(m.Ports) > 1 {
			w.b = append(w.b, "{ "...)
		}
		for k, p := range m.Ports {
			if k > 0 {
				w.b = append(w.b, ", "...)
			}
			w.b = strconv.AppendUint(w.b, uint64(p.First), 10)
			if p.Last != p.First {
				w.b = append(w.b, '-')
				w.b = strconv.AppendUint(w.b, uint64(p.Last), 10)
			}
		}
		if len(m.Ports) > 1 {
			w.b = append(w.b, " }"...)
		}
	case MatchCTState, MatchCTStatus:
		err = w.ctFlags(m)
	case MatchCTDirection:
		if m.Value != "ORIGINAL" && m.Value != "REPLY" {
			return fmt.Errorf("ct direction %q has no nft spelling", m.Value)
		}
		w.word("ct direction")
		w.op(m.Negate)
		w.word(strings.ToLower(m.Value))
	case MatchMark, MatchConnMark:
		if m.Kind == MatchMark {
			w.word("meta mark")
		} else {
			w.word("ct mark")
		}
		if m.Mark&^m.Mask != 0 {
			return fmt.Errorf("mark 0x%x has bits outside its mask 0x%x", m.Mark, m.Mask)
		}
		if m.Mask != math.MaxUint32 {
			w.b = hex32(append(w.b, " & "...), m.Mask)
			if !m.Negate {
				w.b = append(w.b, " =="...)
			}
		}
		w.op(m.Negate)
		w.b = hex32(append(w.b, ' '), m.Mark)
	case MatchAddrType:
		err = w.fib(m)
	case MatchStatistic:
		// iptables-nft's translation of -m statistic --mode random,
		// which ParseNFT reads back.
		st := m.Statistic
		if st == nil || st.Mode != "random" || m.Negate || st.Probability < 0 || st.Probability > 1 {
			return errors.New("statistic match has no nft spelling but a plain random one")
		}
		w.word("meta random & 2147483647 < ")
		w.b = strconv.AppendUint(w.b, uint64(math.Round(st.Probability*(1<<31))), 10)
	case MatchICMPType:
		switch m.Module {
		case "icmp":
			w.word("icmp type")
		case "icmp6":
			w.word("icmpv6 type")
		default:
			return fmt.Errorf("icmp type of module %q has no nft spelling", m.Module)
		}
		if !nftName(m.Value) {
			return fmt.Errorf("icmp type %q has no nft spelling", m.Value)
		}
		w.op(m.Negate)
		w.word(m.Value)
	case MatchTCPFlags:
		err = w.tcpFlags(m)
	case MatchLimit:
		err = w.limit(m)
	case MatchNFProto:
		if m.Value != "ipv4" && m.Value != "ipv6" {
			return fmt.Errorf("nfproto %q has no nft spelling", m.Value)
		}
		w.word("meta nfproto")
		w.op(m.Negate)
		w.word(m.Value)
	case MatchLookup:
		if m.Lookup == nil {
			return errors.New("lookup match without a lookup")
		}
		if err = w.lookupKeys(m.Lookup); err != nil {
			return err
		}
		w.op(m.Negate)
		err = w.lookupSet(m.Lookup, false)
	case MatchUnknown:
		err = w.kept(m.Module, m.Args)
	default:
		return fmt.Errorf("%s match has no nft spelling", m.Kind)
	}
	return err
}

// ctFlags appends ct state or ct status: any of Values; negated, none.
func (w *nftRuleWriter) ctFlags(m *Match) error {
	var names map[string]bool
	if m.Kind == MatchCTState {
		w.word("ct state")
		names = map[string]bool{"NEW": true, "ESTABLISHED": true, "RELATED": true, "INVALID": true, "UNTRACKED": true}
	} else {
		w.word("ct status")
		names = map[string]bool{"EXPECTED": true, "SEEN_REPLY": true, "ASSURED": true, "CONFIRMED": true, "SNAT": true, "DNAT": true, "DYING": true}
	}
	if len(m.Values) == 0 {
		return fmt.Errorf("%s match without values", m.Kind)
	}
	// nft lists a negated single flag as "!= new" and none of several as
	// "! established,new"; "!= established,new" would test that not all
	// of them are set.
	if m.Negate && len(m.Values) > 1 {
		w.b = append(w.b, " !"...)
	} else {
		w.op(m.Negate)
	}
	w.b = append(w.b, ' ')
	for i, v := range m.Values {
		if !names[v] {
			return fmt.Errorf("%s %s has no nft spelling", m.Kind, v)
		}
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, strings.ReplaceAll(strings.ToLower(v), "_", "-")...)
	}
	return nil
}

// fib appends an addrtype match: fib saddr|daddr [. iif|. oif] type T.
func (w *nftRuleWriter) fib(m *Match) error {
	at := m.AddrType
	if at == nil || len(at.Types) == 0 {
		return errors.New("addrtype match without types")
	}
	if at.LimitIfaceIn && at.LimitIfaceOut {
		return errors.New("addrtype limited to both interfaces has no nft spelling")
	}
	if at.Dst {
		w.word("fib daddr")
	} else {
		w.word("fib saddr")
	}
	switch {
	case at.LimitIfaceIn:
		w.b = append(w.b, " . iif"...)
	case at.LimitIfaceOut:
		w.b = append(w.b, " . oif"...)
	}
	w.b = append(w.b, " type"...)
	w.op(m.Negate)
	w.b = append(w.b, ' ')
	if len(at.Types) > 1 {
		w.b = append(w.b, "{ "...)
	}
	for i, ty := range at.Types {
		if !nftName(ty) {
			return fmt.Errorf("address type %q has no nft spelling", ty)
		}
		if i > 0 {
			w.b = append(w.b, ", "...)
		}
		w.b = append(w.b, strings.ToLower(ty)...)
	}
	if len(at.Types) > 1 {
		w.b = append(w.b, " }"...)
	}
	return nil
}

// tcpFlags appends "tcp flags [!=] set / mask".
func (w *nftRuleWriter) tcpFlags(m *Match) error {
	f := m.TCPFlags
	if f == nil || len(f.Comp) == 0 || len(f.Mask) == 0 {
		return errors.New("tcp flags match has no nft spelling without flags on both sides")
	}
	w.word("tcp flags")
	w.op(m.Negate)
	w.b = append(w.b, ' ')
	list := func(fl []string) error {
		for i, x := range fl {
			switch x {
			case "FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECN", "CWR":
			default:
				return fmt.Errorf("tcp flag %s has no nft spelling", x)
			}
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = append(w.b, strings.ToLower(x)...)
		}
		return nil
	}
	if err := list(f.Comp); err != nil {
		return err
	}
	w.b = append(w.b, " / "...)
	return list(f.Mask)
}

// limit appends "limit rate [over] N/unit [burst N packets]".
func (w *nftRuleWriter) limit(m *Match) error {
	l := m.Limit
	if l == nil {
		return errors.New("limit match without a rate")
	}
	num, unit, _ := strings.Cut(l.Rate, "/")
	if _, err := strconv.ParseUint(num, 10, 32); err != nil {
		return fmt.Errorf("limit rate %q has no nft spelling", l.Rate)
	}
	switch unit {
	case "second", "minute", "hour", "day", "week":
	default:
		return fmt.Errorf("limit rate %q has no nft spelling", l.Rate)
	}
	w.word("limit rate ")
	if m.Negate {
		w.b = append(w.b, "over "...)
	}
	w.b = append(w.b, l.Rate...)
	if l.Burst != 0 {
		w.b = append(w.b, " burst "...)
		w.b = strconv.AppendUint(w.b, uint64(l.Burst), 10)
		w.b = append(w.b, " packets"...)
	}
	return nil
}

// lookupKeys appends a lookup's key, "sel . sel ...".
func (w *nftRuleWriter) lookupKeys(l *Lookup) error {
	if len(l.Keys) == 0 {
		return errors.New("lookup without keys")
	}
	for i, k := range l.Keys {
		if i == 0 {
			w.word("")
		} else {
			w.b = append(w.b, " . "...)
		}
		switch k.Field {
		case FieldSAddr, FieldDAddr:
			f, err := w.addrFamily(l, i)
			if err != nil {
				return err
			}
			w.b = append(w.b, f...)
			w.b = append(w.b, ' ')
			w.b = append(w.b, k.Field...)
		case FieldSPort, FieldDPort:
			if w.l4 != "" {
				w.b = append(w.b, w.l4...)
			} else {
				w.b = append(w.b, "th"...)
			}
			w.b = append(w.b, ' ')
			w.b = append(w.b, k.Field...)
		case FieldL4Proto:
			w.b = append(w.b, "meta l4proto"...)
		case FieldIIFName, FieldOIFName:
			w.b = append(w.b, k.Field...)
		case FieldMark:
			w.b = append(w.b, "meta mark"...)
		case FieldCTState:
			w.b = append(w.b, "ct state"...)
		case FieldNumgen, FieldNumgenInc:
			if k.Mod == 0 {
				return errors.New("numgen with modulus 0")
			}
			if k.Field == FieldNumgen {
				w.b = append(w.b, "numgen random mod "...)
			} else {
				w.b = append(w.b, "numgen inc mod "...)
			}
			w.b = strconv.AppendUint(w.b, uint64(k.Mod), 10)
		default:
			return fmt.Errorf("lookup key %q has no nft spelling", k.Field)
		}
	}
	return nil
}

// addrFamily says whether key i of l, an address, is ip or ip6: the
// table's family, else the key type of the set looked up, else the
// anonymous set's first element.
func (w *nftRuleWriter) addrFamily(l *Lookup, i int) (string, error) {
	switch w.t.Family {
	case FamilyIP:
		return "ip", nil
	case FamilyIP6:
		return "ip6", nil
	}
	if l.Set != "" {
		if s := w.t.Set(l.Set); s != nil && i < len(s.KeyType) {
			switch s.KeyType[i] {
			case "ipv4_addr":
				return "ip", nil
			case "ipv6_addr":
				return "ip6", nil
			}
		}
	}
	for _, e := range l.Elements {
		if i >= len(e.Key) {
			break
		}
		v := e.Key[i]
		if j := strings.IndexAny(v, "/-"); j >= 0 {
			v = v[:j]
		}
		if a, err := netip.ParseAddr(v); err == nil {
			if a.Is4() {
				return "ip", nil
			}
			return "ip6", nil
		}
	}
	return "", fmt.Errorf("address key %d of a lookup in a %s table: cannot tell ip from ip6", i+1, w.t.Family)
}

// lookupSet appends what a lookup looks up: @name, or its anonymous
// elements; vmap says the elements carry verdicts.
func (w *nftRuleWriter) lookupSet(l *Lookup, vmap bool) error {
	if l.Set != "" {
		if err := checkNFTName(l.Set); err != nil {
			return err
		}
		w.b = append(w.b, " @"...)
		w.b = append(w.b, l.Set...)
		return nil
	}
	if len(l.Elements) == 0 {
		return errors.New("lookup of neither a set nor elements")
	}
	quote := make([]bool, len(l.Keys))
	for i, k := range l.Keys {
		quote[i] = k.Field == FieldIIFName || k.Field == FieldOIFName
	}
	for _, e := range l.Elements {
		if (e.Verdict != nil) != vmap || len(e.Data) > 0 {
			return fmt.Errorf("element %s: a set lookup holds keys, a vmap keys and verdicts", strings.Join(e.Key, " . "))
		}
	}
	w.b = append(w.b, ' ')
	if e := l.Elements[0]; len(l.Elements) == 1 && len(e.Key) == 1 && !vmap && (l.Keys[0].Field == FieldSAddr || l.Keys[0].Field == FieldDAddr) && strings.Contains(e.Key[0], "-") {
		// nft lists an address range by itself, not as a set of one;
		// ParseNFT reads either into this lookup.
		var err error
		w.b, err = appendNFTValue(w.b, e.Key[0], false)
		return err
	}
	var err error
	w.b, err = appendNFTElements(w.b, l.Elements, quote, false)
	return err
}

// kept appends an unknown expression or statement from its first word
// and the tokens after it, as ParseNFT kept them. An iptables unknown
// (an extension's upper-case name, its --options) or an xt compat
// expression cannot be written: nft reads neither.
func (w *nftRuleWriter) kept(first string, args []string) error {
	if first == "" || first == "#" || first == "xt" || strings.ToLower(first) != first {
		return fmt.Errorf("unknown %q has no nft spelling", strings.Join(append([]string{first}, args...), " "))
	}
	for _, a := range args {
		if strings.HasPrefix(a, "--") {
			return fmt.Errorf("unknown %q holds iptables options", strings.Join(append([]string{first}, args...), " "))
		}
	}
	w.word(first)
	w.tokens(args, first)
	return nil
}

// tokens appends nft tokens after prev as nft prints them: a blank
// before each, but none before a comma and, outside braces, none after
// one (flag lists: established,new; sets: { a, b }).
func (w *nftRuleWriter) tokens(toks []string, prev string) {
	depth := 0
	for _, a := range toks {
		switch {
		case a == ",":
		case prev == "," && depth == 0:
		default:
			w.b = append(w.b, ' ')
		}
		w.b = append(w.b, a...)
		switch a {
		case "{":
			depth++
		case "}":
			depth--
		}
		prev = a
	}
}

// target appends an action: a statement or the verdict.
func (w *nftRuleWriter) target(t *Target) error {
	switch t.Kind {
	case TargetNone:
		if len(t.Args) > 0 {
			return errors.New("options without a target")
		}
		return nil
	case TargetUnknown:
		return w.kept(t.Name, t.Args)
	case TargetSetUpdate:
		if t.Lookup == nil || t.Lookup.Set == "" || len(t.Lookup.Elements) > 0 {
			return errors.New("set statement without a named set")
		}
		switch t.Name {
		case "update", "add", "delete":
		default:
			return fmt.Errorf("set statement %q: use update, add or delete", t.Name)
		}
		if err := checkNFTName(t.Lookup.Set); err != nil {
			return err
		}
		w.word(t.Name)
		w.b = append(w.b, " @"...)
		w.b = append(w.b, t.Lookup.Set...)
		w.b = append(w.b, " {"...)
		if err := w.lookupKeys(t.Lookup); err != nil {
			return err
		}
		w.b = append(w.b, " }"...)
		return nil
	case TargetVerdictMap:
		if t.Lookup == nil {
			return errors.New("verdict map without a lookup")
		}
		if err := w.lookupKeys(t.Lookup); err != nil {
			return err
		}
		w.b = append(w.b, " vmap"...)
		return w.lookupSet(t.Lookup, true)
	}
	for _, a := range t.Args {
		if strings.HasPrefix(a, "--") {
			return fmt.Errorf("%s option %s has no nft spelling", t.Kind, a)
		}
	}
	switch t.Kind {
	case TargetAccept, TargetDrop, TargetReturn, TargetNotrack:
		if len(t.Args) > 0 {
			return fmt.Errorf("%s with options %q", t.Kind, t.Args)
		}
		w.word(strings.ToLower(string(t.Kind)))
	case TargetJump, TargetGoto:
		if err := checkNFTName(t.Chain); err != nil {
			return err
		}
		w.word(strings.ToLower(string(t.Kind)))
		w.word(t.Chain)
	case TargetDNAT, TargetSNAT:
		return w.nat(t)
	case TargetMasquerade, TargetRedirect:
		if len(t.Args) > 0 {
			return fmt.Errorf("%s with options %q", t.Kind, t.Args)
		}
		w.word(strings.ToLower(string(t.Kind)))
		if t.To.Port != 0 {
			w.b = append(w.b, " to :"...)
			w.b = strconv.AppendUint(w.b, uint64(t.To.Port), 10)
			if t.To.PortMax != 0 {
				w.b = append(w.b, '-')
				w.b = strconv.AppendUint(w.b, uint64(t.To.PortMax), 10)
			}
		}
		w.natFlags(t)
	case TargetMark, TargetConnMark:
		if len(t.Args) > 0 {
			return fmt.Errorf("%s with options %q", t.Kind, t.Args)
		}
		w.markSet(t)
	case TargetReject:
		switch rw := t.RejectWith; {
		case rw == "":
			w.word("reject")
		case rw == "tcp reset" || strings.HasPrefix(rw, "icmp ") || strings.HasPrefix(rw, "icmpv6 ") || strings.HasPrefix(rw, "icmpx "):
			if _, code, _ := strings.Cut(rw, " "); !nftName(code) {
				return fmt.Errorf("reject with %q has no nft spelling", rw)
			}
			w.word("reject with ")
			w.b = append(w.b, rw...)
		default:
			return fmt.Errorf("reject with %q has no nft spelling", rw)
		}
	case TargetLog:
		w.word("log")
		if t.LogPrefix != "" {
			w.b = append(w.b, " prefix "...)
			var err error
			if w.b, err = appendNFTString(w.b, t.LogPrefix); err != nil {
				return err
			}
		}
		for _, a := range t.Args {
			w.word(a)
		}
	default:
		return fmt.Errorf("target %s has no nft spelling", t.Kind)
	}
	return nil
}

// nat appends dnat or snat: to an address range and ports, or to the
// mapping ParseNFT kept in Args.
func (w *nftRuleWriter) nat(t *Target) error {
	w.word(strings.ToLower(string(t.Kind)))
	to := t.ToDestination
	if t.Kind == TargetSNAT {
		to = t.ToSource
	}
	if to == "" && len(t.Args) == 0 {
		to = formatNATRange(t.To)
	}
	if to == "" && len(t.Args) == 0 {
		return fmt.Errorf("%s to nowhere", t.Kind)
	}
	if strings.ContainsAny(to, " \t\"{};#") {
		return fmt.Errorf("%s to %q has no nft spelling", t.Kind, to)
	}
	switch w.t.Family {
	case FamilyIP, FamilyIP6:
	default:
		// Other families name the address family: dnat ip to ...
		f, err := natFamily(t, to)
		if err != nil {
			return err
		}
		w.word(f)
	}
	w.b = append(w.b, " to"...)
	if to != "" {
		w.word(to)
	} else {
		// A mapping ParseNFT kept as written: to ip daddr map { ... }.
		w.tokens(t.Args, "to")
	}
	w.natFlags(t)
	return nil
}

// natFamily says whether a NAT target in an inet table is dnat ip or
// dnat ip6: its address, else the first address its mapping names, else
// the mapping's key (ip daddr map ...).
func natFamily(t *Target, to string) (string, error) {
	if t.To.Addr.IsValid() {
		if t.To.Addr.Is4() {
			return "ip", nil
		}
		return "ip6", nil
	}
	words := t.Args
	if to != "" {
		words = []string{to}
	}
	for _, a := range words {
		a = strings.TrimPrefix(a, "[")
		if j := strings.IndexAny(a, "]-/"); j >= 0 {
			a = a[:j]
		}
		if addr, err := netip.ParseAddr(a); err == nil {
			if addr.Is4() {
				return "ip", nil
			}
			return "ip6", nil
		}
		if p, err := netip.ParseAddrPort(a); err == nil && p.Addr().Is4() {
			return "ip", nil
		}
	}
	if len(t.Args) > 0 && (t.Args[0] == "ip" || t.Args[0] == "ip6") {
		return t.Args[0], nil
	}
	return "", fmt.Errorf("%s in an inet table: cannot tell ip from ip6", t.Kind)
}

// formatNATRange spells a NAT range as nft does: addr[-addr][:port[-port]],
// an IPv6 address in brackets when a port follows.
func formatNATRange(r NATRange) string {
	var b strings.Builder
	bracket := r.Addr.Is6() && r.Port != 0
	if r.Addr.IsValid() {
		if bracket {
			b.WriteByte('[')
		}
		b.WriteString(r.Addr.String())
		if r.AddrMax.IsValid() {
			b.WriteByte('-')
			b.WriteString(r.AddrMax.String())
		}
		if bracket {
			b.WriteByte(']')
		}
	}
	if r.Port != 0 {
		fmt.Fprintf(&b, ":%d", r.Port)
		if r.PortMax != 0 {
			fmt.Fprintf(&b, "-%d", r.PortMax)
		}
	}
	return b.String()
}

// natFlags appends NAT flags in nft's order.
func (w *nftRuleWriter) natFlags(t *Target) {
	sep := byte(' ')
	for _, f := range []struct {
		on   bool
		name string
	}{{t.Random, "random"}, {t.RandomFully, "fully-random"}, {t.Persistent, "persistent"}} {
		if f.on {
			w.b = append(w.b, sep)
			w.b = append(w.b, f.name...)
			sep = ','
		}
	}
}

// markSet appends meta mark set (ct mark set for CONNMARK). The model's
// mark = (mark &^ Mask) ^ SetMark is the kernel's bitwise (mark & m) ^ x;
// nft lists it split into the bits kept (& m | o), flipped (^) and set
// (|): ((mark & (m|o)) ^ (x&m)) | o, with o = x &^ m, each part left out
// when it does nothing, and a constant when no bit is kept.
func (w *nftRuleWriter) markSet(t *Target) {
	field := "meta mark"
	if t.Kind == TargetConnMark {
		field = "ct mark"
	}
	w.word(field)
	w.b = append(w.b, " set "...)
	m, x := ^t.Mask, t.SetMark
	if m == 0 {
		w.b = hex32(w.b, x)
		return
	}
	w.b = append(w.b, field...)
	o := x &^ m
	if m|o != math.MaxUint32 {
		w.b = hex32(append(w.b, " & "...), m|o)
	}
	if x&m != 0 {
		w.b = hex32(append(w.b, " ^ "...), x&m)
	}
	if o != 0 {
		w.b = hex32(append(w.b, " | "...), o)
	}
}
