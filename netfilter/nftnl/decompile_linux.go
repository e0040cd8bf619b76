package nftnl

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/netx-project/netx/netfilter"
)

// Ruleset is the nftables ruleset of one network namespace as the
// kernel's nf_tables netlink interface returns it: every table with its
// chains, rules (expression lists, as github.com/google/nftables/expr
// types), sets and maps (anonymous ones too) with their elements, and
// stateful objects. inspect reads it; ToModel turns it into the model.
type Ruleset struct {
	Tables []*Table
	// Names are every table ("family name"), in the kernel's order, read
	// or not.
	Names []string
	// Skipped names the tables the reader was asked to leave unread: they
	// exist, but nothing of them is in Tables.
	Skipped []string
	// IfNames names interface indexes: meta iif/oif compare an index,
	// which nft prints as the interface's name. Optional.
	IfNames map[uint32]string
}

// Table is one nftables table: Name, Family and Flags (dormant, owner)
// as nftables.Table holds them, and what the table holds.
type Table struct {
	nftables.Table
	Comment    string
	Chains     []*Chain
	Sets       []*Set // named and anonymous, in the kernel's order
	Objects    []*Object
	Flowtables []*Flowtable
}

// Chain is a chain: Name, Type, Hooknum, Priority and Policy as
// nftables.Chain holds them (Hooknum nil for a regular chain), the rest
// of what the kernel reports, and its rules in order.
type Chain struct {
	nftables.Chain
	Devices []string // netdev (and inet ingress) base chains
	Comment string
	Flags   uint32 // NFT_CHAIN_BINDING marks an anonymous chain a rule holds
	Rules   []*nftables.Rule
	// Lazy: a chain whose rules were not read (a lazy read: see
	// readNFT). Its rules are read when needed (ReadChain).
	Lazy bool
	read bool // a lazy read has asked for its rules
}

// Set is a set or map. The embedded nftables.Set carries the name, the
// flags as booleans, the timeout, size and comment; the key and data
// types are kept as the kernel's type numbers (a concatenation packs its
// parts 6 bits each), which nftables.Set cannot hold for verdict maps.
type Set struct {
	nftables.Set
	Flags      uint32 // NFT_SET_* as the kernel reports them
	KeyTypeID  uint32
	KeyLen     uint32 // bytes, concatenated parts padded to 4
	DataTypeID uint32 // nftVerdictType for a verdict map
	DataLen    uint32
	FieldLen   []uint32 // lengths of a concatenation's parts, when reported
	Policy     uint32   // NFT_SET_POL_*: 0 performance, 1 memory
	GCInterval time.Duration
	Exprs      []expr.Any // stateful expressions each element carries (counter)
	Elements   []Element
	// Lazy: an anonymous set whose elements were not read. It is written
	// as a named set without elements, and rules refer to it by name.
	Lazy bool
}

// Element is one set or map element. Key, KeyEnd (a concatenated
// range's end), Val (map data), VerdictData (verdict map data) and
// IntervalEnd are the embedded nftables.SetElement's.
type Element struct {
	nftables.SetElement
	Catchall bool // the map's default element ("*")
}

// Object is a stateful object (NFT_OBJECT_*): a named counter, quota,
// limit, ct helper ... netx keeps it as nft would print it, unmodelled.
type Object struct {
	Type    uint32
	Name    string
	Comment string
	// Counter, Quota, Limit and CtHelper hold the state of those object
	// types.
	Counter  *expr.Counter
	Quota    *expr.Quota
	Limit    *expr.Limit
	CtHelper *expr.CtHelper
}

// Flowtable is a flowtable (fast path for established flows).
type Flowtable struct {
	Name     string
	Hook     uint32
	Priority int32
	Devices  []string
	Flags    uint32
}

// UnknownExpr is a rule expression the netlink reader could not decode
// completely: its kernel name and raw attributes. It keeps the rule it
// sits in from being misread; ToModel makes that rule unknown. (It
// embeds expr.Notrack only to satisfy expr.Any, whose methods are
// unexported; it is never marshalled.)
type UnknownExpr struct {
	expr.Notrack
	Name string
	Data []byte
}

// CtDirected is a ct load that names a direction for a key where the
// direction is optional (packets, bytes, avgpkt, zone): expr.Ct reads a
// missing direction as 0, which is also "original", so the reader marks
// the ones it saw.
type CtDirected struct {
	expr.Ct
}

// ToModel translates a ruleset read over netlink into the model, with
// Source SourceNFTables.
//
// Every rule is decompiled from the kernel's register machine (payload,
// meta, ct, numgen, fib loads; bitwise, cmp, range and lookup tests;
// immediate verdicts and data; nat, masquerade, redirect, counter, log,
// reject, limit and other statements) into the text `nft list ruleset`
// (nft 1.0.6) prints for it, with nft's dependency elimination (tcp
// dport implies the meta l4proto tcp that precedes it), and that text
// goes through ParseNFT's rule parser, so one parser builds Matches and
// Targets whichever way the ruleset was read, and Rule.Text reads as nft
// would print it. Handles are kept. Sets and elements print as nft prints
// them, element order included. An expression netx cannot decompile
// becomes part of a MatchUnknown (or TargetUnknown) describing the raw
// expressions, never dropped.
func ToModel(nl *Ruleset) (*netfilter.Ruleset, error) {
	rs, err := toModel(nl)
	for _, t := range nl.Tables {
		mt := rs.Table(Family(t.Family), t.Name)
		for _, st := range t.Sets {
			if ms := (*netfilter.Set)(nil); st.Lazy && mt != nil {
				if ms = mt.Set(st.Name); ms != nil {
					ms.Lazy = true
				}
			}
		}
	}
	nl.MarkLazy(rs)
	return rs, err
}

// MarkLazy marks the chains of rs whose rules were not read (Chain.Lazy in
// nl, a lazy read) as Lazy in the model; text carries no such mark.
func (nl *Ruleset) MarkLazy(rs *netfilter.Ruleset) {
	for _, t := range nl.Tables {
		var mt *netfilter.Table
		for _, c := range t.Chains {
			if !c.Lazy {
				continue
			}
			if mt == nil {
				if mt = rs.Table(Family(t.Family), t.Name); mt == nil {
					break
				}
			}
			if mc := mt.Chain(c.Name); mc != nil {
				mc.Lazy = true
			}
		}
	}
}

func toModel(nl *Ruleset) (*netfilter.Ruleset, error) {
	rs, err := netfilter.ParseNFT(strings.NewReader(nl.Text()))
	if err == nil {
		return rs, nil
	}
	// Something in one table did not read back (nft would not have
	// printed it either): keep the other tables, and say which failed.
	rs = &netfilter.Ruleset{Source: netfilter.SourceNFTables, Tables: []*netfilter.Table{}}
	var errs []error
	for _, t := range nl.Tables {
		one, err := netfilter.ParseNFT(strings.NewReader((&Ruleset{Tables: []*Table{t}, IfNames: nl.IfNames}).Text()))
		if err != nil {
			errs = append(errs, fmt.Errorf("translate nftables table %s %s: %w", familyName(t.Family), t.Name, err))
			continue
		}
		rs.Tables = append(rs.Tables, one.Tables...)
	}
	return rs, errors.Join(errs...)
}

// Text returns nl as `nft -a list ruleset` would print it (rule
// handles as "# handle N"; sets, chains and tables without theirs).
func (nl *Ruleset) Text() string {
	var b strings.Builder
	size := 0
	for _, t := range nl.Tables {
		for _, c := range t.Chains {
			size += 64 + 160*len(c.Rules)
		}
		for _, st := range t.Sets {
			size += 64 * len(st.Elements)
		}
	}
	b.Grow(size)
	for _, t := range nl.Tables {
		w := &nftWriter{b: &b, t: t, ifnames: nl.IfNames, sets: make(map[string]*Set, len(t.Sets))}
		for _, s := range t.Sets {
			w.sets[s.Name] = s
		}
		w.table()
	}
	return b.String()
}

type nftWriter struct {
	b       *strings.Builder
	t       *Table
	sets    map[string]*Set
	ifnames map[uint32]string
	rule    nftRuleDecompiler
}

// familyName is the nft spelling of a table family.
func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return strconv.Itoa(int(f))
}

// Family is the model's Family of an nftables table family.
func Family(f nftables.TableFamily) netfilter.Family { return netfilter.Family(familyName(f)) }

// nftIdent writes a table, chain or set name as nft reads it back: bare
// when it is one word, else quoted.
func nftIdent(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r', '{', '}', ';', ',', '"', '#', '@', '$':
			return nftQuote(s)
		}
	}
	return s
}

// nftQuote writes s as a quoted string ParseNFT reads back: it has no
// escapes, so a double quote becomes a single one and a line break a
// space (nft itself would print neither in a way it can read back).
func nftQuote(s string) string {
	if strings.ContainsAny(s, "\"\n\r") {
		s = strings.NewReplacer(`"`, `'`, "\n", " ", "\r", " ").Replace(s)
	}
	return `"` + s + `"`
}

func (w *nftWriter) table() {
	t := w.t
	fmt.Fprintf(w.b, "table %s %s {\n", familyName(t.Family), nftIdent(t.Name))
	if t.Flags != 0 {
		var names []string
		for bit, name := range []string{"dormant", "owner", "persist"} {
			if t.Flags&(1<<bit) != 0 {
				names = append(names, name)
			}
		}
		if rest := t.Flags &^ 7; rest != 0 {
			names = append(names, fmt.Sprintf("0x%x", rest))
		}
		fmt.Fprintf(w.b, "\tflags %s\n", strings.Join(names, ","))
	}
	if t.Comment != "" {
		fmt.Fprintf(w.b, "\tcomment %s\n", nftQuote(t.Comment))
	}
	first := true
	sep := func() {
		if !first {
			w.b.WriteString("\n")
		}
		first = false
	}
	for _, o := range t.Objects {
		sep()
		w.object(o)
	}
	for _, s := range t.Sets {
		if (s.Anonymous || s.Flags&nftSetAnonymous != 0) && !s.Lazy {
			continue
		}
		sep()
		w.set(s)
	}
	for _, f := range t.Flowtables {
		sep()
		w.flowtable(f)
	}
	for _, c := range t.Chains {
		sep()
		w.chain(c)
	}
	w.b.WriteString("}\n")
}

// Set flags (NFT_SET_*).
const (
	nftSetAnonymous = 0x1
	nftSetConstant  = 0x2
	nftSetInterval  = 0x4
	nftSetMap       = 0x8
	nftSetTimeout   = 0x10
	nftSetEval      = 0x20
	nftSetObject    = 0x40
	nftSetConcat    = 0x80
)

func (w *nftWriter) object(o *Object) {
	b := w.b
	switch {
	case o.Type == 1 && o.Counter != nil:
		fmt.Fprintf(b, "\tcounter %s {\n", nftIdent(o.Name))
		if o.Comment != "" {
			fmt.Fprintf(b, "\t\tcomment %s\n", nftQuote(o.Comment))
		}
		fmt.Fprintf(b, "\t\tpackets %d bytes %d\n\t}\n", o.Counter.Packets, o.Counter.Bytes)
	case o.Type == 2 && o.Quota != nil:
		fmt.Fprintf(b, "\tquota %s {\n", nftIdent(o.Name))
		if o.Comment != "" {
			fmt.Fprintf(b, "\t\tcomment %s\n", nftQuote(o.Comment))
		}
		fmt.Fprintf(b, "\t\t%s\n\t}\n", strings.TrimPrefix(quotaText(o.Quota), "quota "))
	case o.Type == 4 && o.Limit != nil:
		fmt.Fprintf(b, "\tlimit %s {\n", nftIdent(o.Name))
		if o.Comment != "" {
			fmt.Fprintf(b, "\t\tcomment %s\n", nftQuote(o.Comment))
		}
		fmt.Fprintf(b, "\t\t%s\n\t}\n", strings.TrimPrefix(limitText(o.Limit), "limit "))
	case o.Type == 3 && o.CtHelper != nil:
		fmt.Fprintf(b, "\tct helper %s {\n", nftIdent(o.Name))
		if o.Comment != "" {
			fmt.Fprintf(b, "\t\tcomment %s\n", nftQuote(o.Comment))
		}
		l3 := map[uint16]string{1: "inet", 2: "ip", 10: "ip6"}[o.CtHelper.L3Proto]
		if l3 == "" {
			l3 = strconv.Itoa(int(o.CtHelper.L3Proto))
		}
		fmt.Fprintf(b, "\t\ttype %s protocol %s\n\t\tl3proto %s\n\t}\n", nftQuote(o.CtHelper.Name), typeInetProto.format([]byte{o.CtHelper.L4Proto}), l3)
	default:
		fmt.Fprintf(b, "\t%s %s {\n\t}\n", objectTypeName(o.Type), nftIdent(o.Name))
	}
}

// objectTypeName is nft's word for an object type (NFT_OBJECT_*).
func objectTypeName(t uint32) string {
	switch t {
	case 1:
		return "counter"
	case 2:
		return "quota"
	case 3:
		return "ct helper"
	case 4:
		return "limit"
	case 5:
		return "connlimit"
	case 6:
		return "tunnel"
	case 7:
		return "ct timeout"
	case 8:
		return "secmark"
	case 9:
		return "ct expectation"
	case 10:
		return "synproxy"
	}
	return "object" + strconv.FormatUint(uint64(t), 10)
}

func (w *nftWriter) flowtable(f *Flowtable) {
	fmt.Fprintf(w.b, "\tflowtable %s {\n\t\thook %s priority %d\n", nftIdent(f.Name), hookName(nftables.TableFamilyNetdev, f.Hook), f.Priority)
	if len(f.Devices) > 0 {
		devs := make([]string, len(f.Devices))
		for i, d := range f.Devices {
			devs[i] = nftIdent(d)
		}
		fmt.Fprintf(w.b, "\t\tdevices = { %s }\n", strings.Join(devs, ", "))
	}
	w.b.WriteString("\t}\n")
}

// hookName is the nft name of hook number h in family f.
func hookName(f nftables.TableFamily, h uint32) string {
	switch f {
	case nftables.TableFamilyNetdev:
		switch h {
		case 0:
			return "ingress"
		case 1:
			return "egress"
		}
	case nftables.TableFamilyARP:
		switch h {
		case 0:
			return "input"
		case 1:
			return "output"
		case 2:
			return "forward"
		}
	default:
		switch h {
		case 0:
			return "prerouting"
		case 1:
			return "input"
		case 2:
			return "forward"
		case 3:
			return "output"
		case 4:
			return "postrouting"
		case 5:
			return "ingress"
		}
	}
	return "hook" + strconv.FormatUint(uint64(h), 10)
}

func (w *nftWriter) chain(c *Chain) {
	b := w.b
	fmt.Fprintf(b, "\tchain %s {\n", nftIdent(c.Name))
	if c.Comment != "" {
		fmt.Fprintf(b, "\t\tcomment %s\n", nftQuote(c.Comment))
	}
	if c.Hooknum != nil {
		typ := string(c.Type)
		if typ == "" {
			typ = "filter"
		}
		fmt.Fprintf(b, "\t\ttype %s hook %s", typ, hookName(w.t.Family, uint32(*c.Hooknum)))
		switch len(c.Devices) {
		case 0:
		case 1:
			fmt.Fprintf(b, " device %s", nftQuote(c.Devices[0]))
		default:
			devs := make([]string, len(c.Devices))
			for i, d := range c.Devices {
				devs[i] = nftQuote(d)
			}
			fmt.Fprintf(b, " devices = { %s }", strings.Join(devs, ", "))
		}
		prio := 0
		if c.Priority != nil {
			prio = int(int32(*c.Priority))
		}
		fmt.Fprintf(b, " priority %d;", prio)
		if c.Policy != nil {
			if *c.Policy == nftables.ChainPolicyDrop {
				b.WriteString(" policy drop;")
			} else {
				b.WriteString(" policy accept;")
			}
		}
		b.WriteString("\n")
	}
	for _, r := range c.Rules {
		b.WriteString("\t\t")
		w.rule.reset(w, r)
		w.rule.decompile(b)
		b.WriteString(" # handle ")
		b.WriteString(strconv.FormatUint(r.Handle, 10))
		b.WriteByte('\n')
	}
	b.WriteString("\t}\n")
}

func (w *nftWriter) set(s *Set) {
	b := w.b
	kind := "set"
	if s.Flags&(nftSetMap|nftSetObject) != 0 || s.IsMap {
		kind = "map"
	}
	fmt.Fprintf(b, "\t%s %s {\n", kind, nftIdent(s.Name))
	key := typeNames(splitConcatType(s.KeyTypeID))
	fmt.Fprintf(b, "\t\ttype %s", key)
	if kind == "map" {
		switch {
		case s.DataTypeID == nftVerdictType:
			b.WriteString(" : verdict")
		case s.Flags&nftSetObject != 0:
			b.WriteString(" : object")
		default:
			b.WriteString(" : " + typeNames(splitConcatType(s.DataTypeID)))
		}
	}
	b.WriteString("\n")
	if s.Flags&nftSetConstant == 0 {
		if s.Policy == 1 {
			b.WriteString("\t\tpolicy memory\n")
		}
		if s.Size > 0 {
			fmt.Fprintf(b, "\t\tsize %d\n", s.Size)
		}
	}
	// nft leaves the flags line out when it would only say "timeout" and
	// the set has a default timeout; when printed, it says timeout anyway.
	shown := s.Flags & (nftSetConstant | nftSetEval | nftSetInterval | nftSetTimeout)
	if s.Timeout > 0 {
		shown &^= nftSetTimeout
	}
	var flags []string
	for _, f := range []struct {
		bit  uint32
		name string
	}{{nftSetConstant, "constant"}, {nftSetEval, "dynamic"}, {nftSetInterval, "interval"}, {nftSetTimeout, "timeout"}} {
		if s.Flags&f.bit != 0 {
			flags = append(flags, f.name)
		}
	}
	if shown != 0 {
		fmt.Fprintf(b, "\t\tflags %s\n", strings.Join(flags, ","))
	}
	if s.Timeout > 0 {
		fmt.Fprintf(b, "\t\ttimeout %s\n", nftDuration(uint64(s.Timeout/time.Millisecond)))
	}
	if s.GCInterval > 0 {
		fmt.Fprintf(b, "\t\tgc-interval %s\n", nftDuration(uint64(s.GCInterval/time.Millisecond)))
	}
	if s.AutoMerge {
		b.WriteString("\t\tauto-merge\n")
	}
	for _, e := range s.Exprs {
		if _, ok := e.(*expr.Counter); ok {
			b.WriteString("\t\tcounter\n")
		}
	}
	if s.Comment != "" {
		fmt.Fprintf(b, "\t\tcomment %s\n", nftQuote(s.Comment))
	}
	if len(s.Elements) > 0 {
		b.WriteString("\t\telements = ")
		b.WriteString(w.elements(s))
		b.WriteString("\n")
	}
	b.WriteString("\t}\n")
}

// typeNames spells a (concatenated) key type as nft's type line does.
func typeNames(parts []*nftType) string {
	names := make([]string, len(parts))
	for i, p := range parts {
		if p == nil {
			names[i] = "invalid"
			continue
		}
		names[i] = p.name
	}
	return strings.Join(names, " . ")
}

// setElement is one element ready to print: its key (and for an interval
// its end) split into the concatenation's parts, and its data.
type setElement struct {
	sortKey []byte
	text    string
}

// elements prints a set's elements as nft does, "{ a, b }", in nft 1.0.6's
// order: interval sets by start, other sets by value (a concatenation
// compared as one number read in host byte order, as nft's mergesort
// does), the catch-all element last.
func (w *nftWriter) elements(s *Set) string {
	keyTypes := splitConcatType(s.KeyTypeID)
	lens := fieldLens(keyTypes, s.FieldLen, int(s.KeyLen))
	concat := len(keyTypes) > 1
	var els []setElement
	var catchall []setElement
	interval := s.Flags&nftSetInterval != 0
	if interval && !concat {
		els = w.intervalElements(s, keyTypes)
	} else {
		for _, e := range s.Elements {
			if e.Catchall {
				catchall = append(catchall, setElement{text: "*" + w.elementData(s, e)})
				continue
			}
			if e.IntervalEnd && !concat {
				continue
			}
			key := keyText(keyTypes, lens, e.Key, e.KeyEnd, concat)
			els = append(els, setElement{sortKey: sortKey(keyTypes, lens, e.Key, concat), text: key + w.elementOpts(e) + w.elementData(s, e)})
		}
		if !interval {
			slices.SortStableFunc(els, func(a, b setElement) int { return cmpBytes(a.sortKey, b.sortKey) })
		}
	}
	els = append(els, catchall...)
	if len(els) == 0 {
		return "{ }"
	}
	parts := make([]string, len(els))
	for i, e := range els {
		parts[i] = e.text
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

func cmpBytes(a, b []byte) int {
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return cmp.Compare(a[i], b[i])
		}
	}
	return 0
}

// fieldLens returns the byte length of each part of a key: the lengths
// the kernel reports for a concatenation, else the types' sizes, else
// (one part) the whole key.
func fieldLens(types []*nftType, reported []uint32, keyLen int) []int {
	lens := make([]int, len(types))
	if len(reported) == len(types) {
		for i, l := range reported {
			lens[i] = int(l)
		}
		return lens
	}
	if len(types) == 1 {
		lens[0] = keyLen
		return lens
	}
	for i, t := range types {
		if t != nil {
			lens[i] = t.size
		}
	}
	return lens
}

// splitKey cuts a concatenated key into its parts, each padded to 4
// bytes in the key. A key too short yields nil.
func splitKey(lens []int, key []byte, concat bool) [][]byte {
	if !concat {
		return [][]byte{key}
	}
	parts := make([][]byte, len(lens))
	off := 0
	for i, l := range lens {
		if off+l > len(key) || l == 0 {
			return nil
		}
		parts[i] = key[off : off+l]
		off += (l + 3) &^ 3
	}
	return parts
}

// sortKey is the byte string whose order is nft 1.0.6's element order.
func sortKey(types []*nftType, lens []int, key []byte, concat bool) []byte {
	parts := splitKey(lens, key, concat)
	if parts == nil {
		return key
	}
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	host := concat
	if !concat && types[0] != nil {
		host = types[0].host
	}
	if host && hostLE {
		slices.Reverse(out)
	}
	return out
}

// keyText prints an element key; with end set (a concatenated range), each
// part whose end differs prints as a range or prefix.
func keyText(types []*nftType, lens []int, key, end []byte, concat bool) string {
	parts := splitKey(lens, key, concat)
	if parts == nil {
		return printHex(key, false)
	}
	var ends [][]byte
	if len(end) > 0 {
		ends = splitKey(lens, end, concat)
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		var t *nftType
		if i < len(types) {
			t = types[i]
		}
		if ends != nil && !slices.Equal(p, ends[i]) {
			out[i] = rangeText(t, p, ends[i])
			continue
		}
		out[i] = t.format(p)
	}
	return strings.Join(out, " . ")
}

// rangeText prints the inclusive range lo-hi, as a prefix when the type
// prints prefixes and the range is one.
func rangeText(t *nftType, lo, hi []byte) string {
	if t != nil && t.prefix {
		if n, ok := prefixLen(lo, hi); ok {
			return t.format(lo) + "/" + strconv.Itoa(n)
		}
	}
	return t.format(lo) + "-" + t.format(hi)
}

// prefixLen reports whether lo-hi is exactly a prefix, and its length.
func prefixLen(lo, hi []byte) (int, bool) {
	if len(lo) != len(hi) {
		return 0, false
	}
	n := 0
	i := 0
	for ; i < len(lo) && lo[i] == hi[i]; i++ {
		n += 8
	}
	if i == len(lo) {
		return n, true
	}
	diff := lo[i] ^ hi[i]
	// The differing bits must be a run of low bits, 0 in lo, 1 in hi.
	host := 0
	for diff&1 == 1 {
		diff >>= 1
		host++
	}
	if diff != 0 || lo[i]&(1<<host-1) != 0 || hi[i]&(1<<host-1) != 1<<host-1 {
		return 0, false
	}
	n += 8 - host
	for i++; i < len(lo); i++ {
		if lo[i] != 0 || hi[i] != 0xff {
			return 0, false
		}
	}
	return n, true
}

// intervalElements turns a (non-concatenated) interval set's elements,
// stored as boundaries (a start, then an end flagged IntervalEnd holding
// the first value after the range), into printed ranges sorted by start.
// The kernel orders keys as byte strings, so nft stores host-order values
// of interval sets byte-swapped; they are swapped back to print.
func (w *nftWriter) intervalElements(s *Set, types []*nftType) []setElement {
	t := types[0]
	type bound struct {
		key []byte
		e   Element
	}
	var bounds []bound
	for _, e := range s.Elements {
		if !e.Catchall {
			bounds = append(bounds, bound{e.Key, e})
		}
	}
	slices.SortStableFunc(bounds, func(a, b bound) int {
		if c := cmpBytes(a.key, b.key); c != 0 {
			return c
		}
		// A range's end and the next one's start can share a value:
		// the end closes first.
		switch {
		case a.e.IntervalEnd && !b.e.IntervalEnd:
			return -1
		case !a.e.IntervalEnd && b.e.IntervalEnd:
			return 1
		}
		return 0
	})
	var out []setElement
	for i := 0; i < len(bounds); i++ {
		start := bounds[i]
		if start.e.IntervalEnd {
			continue
		}
		var hi []byte
		switch {
		case len(start.e.KeyEnd) > 0:
			hi = start.e.KeyEnd
		case i+1 < len(bounds) && bounds[i+1].e.IntervalEnd:
			hi = decrement(bounds[i+1].key)
			i++
		default:
			hi = maxValue(len(start.key))
		}
		out = append(out, setElement{sortKey: start.key, text: intervalText(t, start.key, hi) + w.elementOpts(start.e) + w.elementData(s, start.e)})
	}
	return out
}

// intervalText prints the interval lo-hi (keys in byte-string order) of
// type t: one value, a prefix, an interface name wildcard, or a range.
func intervalText(t *nftType, lo, hi []byte) string {
	if t == typeIfName || t == typeString {
		if slices.Equal(lo, hi) {
			return t.format(lo)
		}
		if n := bytes.IndexByte(lo, 0); n >= 0 && isZero(lo[n:]) && slices.Equal(hi[:n], lo[:n]) && allOnes(hi[n:]) {
			q := printQuoted(lo[:n], true)
			return q[:len(q)-1] + `*"`
		}
		return t.format(lo) + "-" + t.format(hi)
	}
	if t != nil && t.host && hostLE {
		lo, hi = slices.Clone(lo), slices.Clone(hi)
		slices.Reverse(lo)
		slices.Reverse(hi)
	}
	if slices.Equal(lo, hi) {
		return t.format(lo)
	}
	return rangeText(t, lo, hi)
}

func allOnes(b []byte) bool {
	for _, c := range b {
		if c != 0xff {
			return false
		}
	}
	return true
}

func maxValue(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 0xff
	}
	return b
}

// decrement returns v-1, v read as a big-endian number.
func decrement(v []byte) []byte {
	b := append([]byte(nil), v...)
	for i := len(b) - 1; i >= 0; i-- {
		b[i]--
		if b[i] != 0xff {
			break
		}
	}
	return b
}

// elementOpts prints an element's timeout, expiry, comment and counter.
func (w *nftWriter) elementOpts(e Element) string {
	var sb strings.Builder
	if e.Timeout > 0 {
		sb.WriteString(" timeout " + nftDuration(uint64(e.Timeout/time.Millisecond)))
	}
	if e.Expires > 0 {
		sb.WriteString(" expires " + nftDuration(uint64(e.Expires/time.Millisecond)))
	}
	if e.Counter != nil {
		fmt.Fprintf(&sb, " counter packets %d bytes %d", e.Counter.Packets, e.Counter.Bytes)
	}
	if e.Comment != "" {
		sb.WriteString(" comment " + nftQuote(e.Comment))
	}
	return sb.String()
}

// elementData prints a map element's data, " : data".
func (w *nftWriter) elementData(s *Set, e Element) string {
	switch {
	case e.VerdictData != nil:
		return " : " + verdictText(e.VerdictData)
	case s.Flags&nftSetMap == 0 && !s.IsMap:
		return ""
	case s.DataTypeID == nftVerdictType:
		return " : ?"
	}
	types := splitConcatType(s.DataTypeID)
	lens := fieldLens(types, nil, int(s.DataLen))
	return " : " + keyText(types, lens, e.Val, nil, len(types) > 1)
}

// verdictText prints a verdict: accept, drop, jump CHAIN ...
func verdictText(v *expr.Verdict) string {
	switch v.Kind {
	case expr.VerdictAccept:
		return "accept"
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictReturn:
		return "return"
	case expr.VerdictContinue:
		return "continue"
	case expr.VerdictBreak:
		return "break"
	case expr.VerdictJump:
		return "jump " + nftIdent(v.Chain)
	case expr.VerdictGoto:
		return "goto " + nftIdent(v.Chain)
	case expr.VerdictQueue:
		return "queue"
	case expr.VerdictStolen:
		return "stolen"
	}
	return fmt.Sprintf("verdict %d", int32(v.Kind))
}
