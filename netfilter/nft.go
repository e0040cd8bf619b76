package netfilter

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseNFT parses what `nft list ruleset` prints (nft 1.0.6, with or
// without -a's "# handle N"), or an `nft -f` script in the same syntax
// (add/create/insert/delete/flush commands as kube-proxy writes them), into
// a Ruleset with Source SourceNFTables.
//
// Tables, base chains (type, hook, priority with nft's named priorities
// resolved for the family, policy), sets and maps with their elements,
// and rules become the shared model. A rule's matches are its conditions
// in order; its actions become Target (the last one) and Statements (the
// ones before it); counter and comment fill Counters and Comment. An
// expression or statement netx does not model becomes a MatchUnknown
// (Module: its first word, Args: the rest, as written) or a TargetUnknown
// (Name, Args) — never dropped. iptables-nft rules print as nft
// translations where nft can (meta random ... for statistic, fib daddr
// type for addrtype), else as "xt match NAME" / "xt target NAME", which
// are unknowns. A condition written after an action (log ... ip saddr x)
// is also kept as unknown: nftables evaluates in order, and the model
// applies every match before any action.
//
// Only what nft itself would refuse to load is an error: unbalanced
// braces or quotes, a rule outside a chain, an unknown hook or chain type,
// a jump or lookup naming a chain or set the table lacks. Errors are
// *ParseError with the 1-based line.
func ParseNFT(r io.Reader) (*Ruleset, error) {
	var sb strings.Builder
	switch v := r.(type) {
	case interface{ Len() int }:
		sb.Grow(v.Len())
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			sb.Grow(int(fi.Size()))
		}
	}
	if _, err := io.Copy(&sb, r); err != nil {
		return nil, fmt.Errorf("read nft ruleset: %w", err)
	}
	p := &nftParser{src: sb.String(), line: 1, rs: &Ruleset{Source: SourceNFTables, Tables: []*Table{}}}
	p.advance()
	if err := p.parse(); err != nil {
		return nil, err
	}
	if err := p.checkRefs(); err != nil {
		return nil, err
	}
	return p.rs, nil
}

// Token kinds of the nft lexer.
const (
	nftEOF byte = iota
	nftWord
	nftString // "..." with the quotes removed from s
	nftPunct  // { } ; ,
	nftNL
	nftComment // # ... to the end of the line
)

type nftTok struct {
	s        string
	kind     byte
	line     int
	off, end int // span in the source, quotes included
}

func (t nftTok) is(punct byte) bool { return t.kind == nftPunct && t.s[0] == punct }

// word reports whether t is the bare word w.
func (t nftTok) word(w string) bool { return t.kind == nftWord && t.s == w }

// nftRef is a jump, goto or @set a rule or map element names, checked
// once the whole input is read (list output refers forward).
type nftRef struct {
	table    *Table
	set      bool // a set or map name, else a chain name
	name     string
	owner    string // the chain or set holding the reference, to forget it when that goes
	ownerSet bool   // owner is a set (map elements' verdicts), else a chain
	line     int
}

type nftParser struct {
	// parser supplies the rule, match and port arenas the iptables
	// parser uses; nothing else of it is used here.
	parser

	src  string
	pos  int
	line int
	t    nftTok // current token
	err  *ParseError
	rs   *Ruleset

	buf   []nftTok // the statement being collected
	acts  []Target
	refs  []nftRef
	strs  []string // arena for element keys
	verds []Target // arena for element verdicts
}

func (p *nftParser) errorf(line int, format string, args ...any) *ParseError {
	return &ParseError{Line: line, Text: p.lineText(line), Err: fmt.Errorf(format, args...)}
}

// lineText returns line n of the source, for errors.
func (p *nftParser) lineText(n int) string {
	s := p.src
	for ; n > 1; n-- {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return ""
		}
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimRight(s, "\r")
}

// advance lexes the next token into p.t. A lexing error sets p.err and
// yields EOF, so every loop ends and parse reports it.
func (p *nftParser) advance() {
	s, i := p.src, p.pos
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
		i++
	}
	if i >= len(s) || p.err != nil {
		p.pos = len(s)
		p.t = nftTok{kind: nftEOF, line: p.line, off: len(s), end: len(s)}
		return
	}
	t := nftTok{line: p.line, off: i}
	switch c := s[i]; c {
	case '\n':
		t.kind, t.end = nftNL, i+1
		p.line++
	case '{', '}', ';', ',':
		t.kind, t.s, t.end = nftPunct, s[i:i+1], i+1
	case '#':
		j := strings.IndexByte(s[i:], '\n')
		if j < 0 {
			j = len(s) - i
		}
		t.kind, t.s, t.end = nftComment, strings.TrimRight(s[i:i+j], "\r"), i+j
	case '"':
		j := i + 1
		for j < len(s) && s[j] != '"' && s[j] != '\n' {
			j++
		}
		if j >= len(s) || s[j] != '"' {
			p.err = p.errorf(p.line, "unterminated quoted string")
			p.pos = len(s)
			p.t = nftTok{kind: nftEOF, line: p.line, off: len(s), end: len(s)}
			return
		}
		t.kind, t.s, t.end = nftString, s[i+1:j], j+1
	default:
		j := i
		for j < len(s) {
			c := s[j]
			if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '{' || c == '}' || c == ';' || c == ',' || c == '"' {
				break
			}
			j++
		}
		t.kind, t.s, t.end = nftWord, s[i:j], j
	}
	p.pos = t.end
	p.t = t
}

// name reads a table, chain or set name (a word or a quoted string).
func (p *nftParser) name(what string) (string, error) {
	t := p.t
	if (t.kind != nftWord && t.kind != nftString) || t.s == "" {
		return "", p.errorf(t.line, "expected %s name, got %s", what, describe(t))
	}
	p.advance()
	return t.s, nil
}

func describe(t nftTok) string {
	switch t.kind {
	case nftEOF:
		return "end of input"
	case nftNL:
		return "end of line"
	}
	return strconv.Quote(truncate(t.s))
}

// expect consumes the punctuation c.
func (p *nftParser) expect(c byte) error {
	if !p.t.is(c) {
		return p.errorf(p.t.line, "expected %q, got %s", c, describe(p.t))
	}
	p.advance()
	return nil
}

// collect gathers the tokens of one statement into p.buf: up to a newline
// or ";" outside braces, or a "}" closing the enclosing block (left
// unconsumed). Newlines inside braces (a set's elements) are skipped.
func (p *nftParser) collect() ([]nftTok, error) {
	p.buf = p.buf[:0]
	depth, open := 0, 0
	for {
		t := p.t
		switch t.kind {
		case nftEOF:
			if p.err != nil {
				return nil, p.err
			}
			if depth > 0 {
				return nil, p.errorf(open, "unclosed {")
			}
			return p.buf, nil
		case nftNL:
			if depth == 0 {
				p.advance()
				return p.buf, nil
			}
			p.advance()
			continue
		case nftPunct:
			switch t.s[0] {
			case ';':
				if depth == 0 {
					p.advance()
					return p.buf, nil
				}
			case '{':
				if depth == 0 {
					open = t.line
				}
				depth++
			case '}':
				if depth == 0 {
					return p.buf, nil
				}
				depth--
			}
		}
		p.buf = append(p.buf, t)
		p.advance()
	}
}

func (p *nftParser) parse() error {
	for {
		t := p.t
		switch {
		case p.err != nil:
			return p.err
		case t.kind == nftEOF:
			return nil
		case t.kind == nftNL || t.kind == nftComment || t.is(';'):
			p.advance()
		case t.kind == nftWord:
			if err := p.command(); err != nil {
				return err
			}
		default:
			return p.errorf(t.line, "unexpected %s", describe(t))
		}
	}
}

func nftFamily(s string) (Family, bool) {
	switch f := Family(s); f {
	case FamilyIP, FamilyIP6, FamilyInet, FamilyBridge, FamilyARP, FamilyNetdev:
		return f, true
	}
	return "", false
}

// tableRef reads "[family] name" and returns the table, creating it when
// create is set; a missing table is nil otherwise.
func (p *nftParser) tableRef(create bool) (*Table, error) {
	line := p.t.line
	fam := FamilyIP
	if f, ok := nftFamily(p.t.s); ok && p.t.kind == nftWord {
		// "ip" is a family unless it is the name itself ("add table ip").
		save := p.t
		savePos, saveLine := p.pos, p.line
		p.advance()
		if p.t.kind == nftWord || p.t.kind == nftString {
			fam = f
		} else {
			p.t, p.pos, p.line = save, savePos, saveLine
		}
	}
	name, err := p.name("table")
	if err != nil {
		return nil, err
	}
	t := p.rs.Table(fam, name)
	if t == nil && create {
		t = &Table{Family: fam, Name: name, Chains: []*Chain{}, index: map[string]*Chain{}, sets: map[string]*Set{}}
		p.rs.Tables = append(p.rs.Tables, t)
	}
	if t == nil && !create {
		return nil, p.errorf(line, "no table %s %s", fam, name)
	}
	return t, nil
}

func (p *nftParser) chainRef(t *Table, create bool) (*Chain, error) {
	line := p.t.line
	name, err := p.name("chain")
	if err != nil {
		return nil, err
	}
	c := t.index[name]
	if c == nil && create {
		c = &Chain{Name: name}
		t.Chains = append(t.Chains, c)
		t.index[name] = c
	}
	if c == nil {
		return nil, p.errorf(line, "no chain %s in table %s %s", name, t.Family, t.Name)
	}
	return c, nil
}

func (p *nftParser) setRef(t *Table, create bool, isMap bool) (*Set, error) {
	line := p.t.line
	name, err := p.name("set")
	if err != nil {
		return nil, err
	}
	s := t.Set(name)
	if s == nil && create {
		s = &Set{Name: name}
		if isMap {
			// A map's data type comes with its type line; until then the
			// placeholder keeps Map() true.
			s.DataType = "?"
		}
		t.addSet(s)
	}
	if s == nil {
		return nil, p.errorf(line, "no set %s in table %s %s", name, t.Family, t.Name)
	}
	return s, nil
}

// command parses one top-level command: a table block, or an nft -f
// command.
func (p *nftParser) command() error {
	t := p.t
	verb := t.s
	if verb == "table" {
		p.advance()
		return p.tableCmd()
	}
	p.advance()
	obj := p.t
	if obj.kind != nftWord {
		return p.errorf(t.line, "%s: expected an object, got %s", verb, describe(obj))
	}
	switch verb {
	case "add", "create", "insert", "delete", "destroy", "flush", "replace":
	default:
		return p.errorf(t.line, "unsupported command %q", truncate(verb))
	}
	p.advance()
	switch verb + " " + obj.s {
	case "add table", "create table":
		return p.tableCmd()
	case "delete table", "destroy table":
		tb, err := p.tableRef(true)
		if err != nil {
			return err
		}
		p.dropRefs(tb, "", false)
		for i, x := range p.rs.Tables {
			if x == tb {
				p.rs.Tables = append(p.rs.Tables[:i], p.rs.Tables[i+1:]...)
				break
			}
		}
		return p.endCommand()
	case "flush ruleset":
		p.rs.Tables = p.rs.Tables[:0]
		p.refs = p.refs[:0]
		return p.endCommand()
	case "flush table":
		tb, err := p.tableRef(false)
		if err != nil {
			return err
		}
		for _, c := range tb.Chains {
			c.Rules = nil
			p.dropRefs(tb, c.Name, false)
		}
		for _, s := range tb.Sets {
			s.Elements = nil
			p.dropRefs(tb, s.Name, true)
		}
		return p.endCommand()
	case "add chain", "create chain":
		tb, err := p.tableRef(false)
		if err != nil {
			return err
		}
		if err := p.chainDef(tb); err != nil {
			return err
		}
		return p.endCommand()
	case "delete chain", "destroy chain", "flush chain":
		tb, c, err := p.tableChain()
		if err != nil {
			return err
		}
		c.Rules = nil
		p.dropRefs(tb, c.Name, false)
		if verb != "flush" {
			tb.removeChain(c)
		}
		return p.endCommand()
	case "add rule", "insert rule":
		tb, c, err := p.tableChain()
		if err != nil {
			return err
		}
		if w := p.t.s; p.t.kind == nftWord && (w == "index" || w == "position" || w == "handle") {
			return p.errorf(p.t.line, "%s rule at a %s is not supported", verb, w)
		}
		line := p.t.line
		toks, err := p.collect()
		if err != nil {
			return err
		}
		if len(toks) == 0 {
			return p.errorf(line, "empty rule")
		}
		r := p.rule(tb, c, toks)
		if verb == "insert" {
			c.Rules = append(c.Rules, nil)
			copy(c.Rules[1:], c.Rules)
			c.Rules[0] = r
			for i, x := range c.Rules {
				x.Num = i + 1
			}
		} else {
			r.Num = len(c.Rules) + 1
			c.Rules = append(c.Rules, r)
		}
		return nil
	case "delete rule", "destroy rule":
		_, c, err := p.tableChain()
		if err != nil {
			return err
		}
		if !p.t.word("handle") {
			return p.errorf(p.t.line, "delete rule needs a handle")
		}
		p.advance()
		h, err := strconv.ParseUint(p.t.s, 10, 64)
		if err != nil {
			return p.errorf(p.t.line, "bad handle %s", describe(p.t))
		}
		p.advance()
		for i, x := range c.Rules {
			if x.Handle == h {
				c.Rules = append(c.Rules[:i], c.Rules[i+1:]...)
				for j := i; j < len(c.Rules); j++ {
					c.Rules[j].Num = j + 1
				}
				break
			}
		}
		return p.endCommand()
	case "add set", "create set", "add map", "create map":
		tb, err := p.tableRef(false)
		if err != nil {
			return err
		}
		if err := p.setDef(tb, obj.s == "map"); err != nil {
			return err
		}
		return p.endCommand()
	case "delete set", "destroy set", "delete map", "destroy map", "flush set", "flush map":
		tb, s, err := p.tableSet()
		if err != nil {
			return err
		}
		s.Elements = nil
		p.dropRefs(tb, s.Name, true)
		if verb != "flush" {
			tb.removeSet(s)
		}
		return p.endCommand()
	case "add element", "create element", "delete element", "destroy element":
		tb, s, err := p.tableSet()
		if err != nil {
			return err
		}
		line := p.t.line
		toks, err := p.collect()
		if err != nil {
			return err
		}
		els, n, ok := p.elements(toks, 0, tb, s.Name, true)
		if !ok || n != len(toks) {
			return p.errorf(line, "bad elements for set %s", s.Name)
		}
		if verb == "add" || verb == "create" {
			s.Elements = append(s.Elements, els...)
			return nil
		}
		for _, e := range els {
			for i, x := range s.Elements {
				if strings.Join(x.Key, " . ") == strings.Join(e.Key, " . ") {
					s.Elements = append(s.Elements[:i], s.Elements[i+1:]...)
					break
				}
			}
		}
		return nil
	}
	return p.errorf(t.line, "unsupported command %q", truncate(verb+" "+obj.s))
}

// endCommand requires the command to end here.
func (p *nftParser) endCommand() error {
	switch t := p.t; {
	case t.kind == nftEOF, t.kind == nftNL, t.kind == nftComment, t.is(';'):
		return p.err.orNil()
	}
	return p.errorf(p.t.line, "unexpected %s", describe(p.t))
}

// orNil keeps a nil *ParseError from becoming a non-nil error.
func (e *ParseError) orNil() error {
	if e == nil {
		return nil
	}
	return e
}

// dropRefs forgets the references held by the chain or set owner of tb
// (every one of tb's when owner is ""), whose rules or elements are gone.
func (p *nftParser) dropRefs(tb *Table, owner string, set bool) {
	out := p.refs[:0]
	for _, r := range p.refs {
		if r.table == tb && (owner == "" || (r.owner == owner && r.ownerSet == set)) {
			continue
		}
		out = append(out, r)
	}
	p.refs = out
}

// tableCmd parses "[family] name [{ body }]" after table / add table.
func (p *nftParser) tableCmd() error {
	tb, err := p.tableRef(true)
	if err != nil {
		return err
	}
	if !p.t.is('{') {
		return p.endCommand()
	}
	open := p.t.line
	p.advance()
	for {
		t := p.t
		switch {
		case p.err != nil:
			return p.err
		case t.kind == nftEOF:
			return p.errorf(open, "table %s %s: missing }", tb.Family, tb.Name)
		case t.kind == nftNL || t.kind == nftComment || t.is(';'):
			p.advance()
			continue
		case t.is('}'):
			p.advance()
			return p.endCommand()
		case t.kind != nftWord:
			return p.errorf(t.line, "unexpected %s in table %s", describe(t), tb.Name)
		}
		switch t.s {
		case "chain":
			p.advance()
			if err := p.chainDef(tb); err != nil {
				return err
			}
		case "set", "map":
			p.advance()
			if err := p.setDef(tb, t.s == "map"); err != nil {
				return err
			}
		default:
			toks, err := p.collect()
			if err != nil {
				return err
			}
			switch {
			case t.s == "comment" && len(toks) == 2 && toks[1].kind == nftString:
				tb.Comment = toks[1].s
			case t.s == "flags":
				tb.Flags = words(toks[1:])
			default:
				// A flowtable, named counter, quota ...: kept as written.
				// Its block's closing brace was collected with it.
				tb.Objects = append(tb.Objects, p.src[toks[0].off:toks[len(toks)-1].end])
			}
		}
	}
}

// words returns the words of toks, commas dropped.
func words(toks []nftTok) []string {
	var out []string
	for _, t := range toks {
		if t.kind == nftWord || t.kind == nftString {
			out = append(out, t.s)
		}
	}
	return out
}

// chainDef reads "NAME [{ body }]", making the chain if it is new.
func (p *nftParser) chainDef(tb *Table) error {
	c, err := p.chainRef(tb, true)
	if err != nil || !p.t.is('{') {
		return err
	}
	p.advance()
	return p.chainBody(tb, c)
}

// setDef reads "NAME { body }" of a set or map, making it if it is new.
func (p *nftParser) setDef(tb *Table, isMap bool) error {
	s, err := p.setRef(tb, true, isMap)
	if err != nil {
		return err
	}
	if err := p.expect('{'); err != nil {
		return err
	}
	return p.setBody(tb, s)
}

// tableChain reads "[family] table chain" of a command naming an
// existing chain.
func (p *nftParser) tableChain() (*Table, *Chain, error) {
	tb, err := p.tableRef(false)
	if err != nil {
		return nil, nil, err
	}
	c, err := p.chainRef(tb, false)
	return tb, c, err
}

// tableSet is tableChain for an existing set or map.
func (p *nftParser) tableSet() (*Table, *Set, error) {
	tb, err := p.tableRef(false)
	if err != nil {
		return nil, nil, err
	}
	s, err := p.setRef(tb, false, false)
	return tb, s, err
}

// chainBody parses a chain's block after "{", through its "}".
func (p *nftParser) chainBody(tb *Table, c *Chain) error {
	return p.block("chain "+c.Name, func(toks []nftTok) error {
		first := toks[0]
		switch {
		case first.word("type"):
			return p.chainType(tb, c, toks)
		case first.word("policy"):
			if len(toks) != 2 || (toks[1].s != "accept" && toks[1].s != "drop") {
				return p.errorf(first.line, "bad chain policy")
			}
			c.Policy = strings.ToUpper(toks[1].s)
		case first.word("comment") && len(toks) == 2 && toks[1].kind == nftString:
			c.Comment = toks[1].s
		case first.word("devices") || first.word("device"):
			c.Devices = append(c.Devices, words(toks[1:])...)
			c.Devices = c.Devices[:len(c.Devices)-countEq(toks)]
		default:
			r := p.rule(tb, c, toks)
			r.Num = len(c.Rules) + 1
			c.Rules = append(c.Rules, r)
		}
		return nil
	})
}

// block walks the statements of a { } block whose opening brace was just
// read: blank lines, comments and ';' are skipped, each statement's tokens
// go to stmt, and the closing brace ends it. what names the block in the
// error for a missing brace, reported at the line the block opened.
func (p *nftParser) block(what string, stmt func(toks []nftTok) error) error {
	open := p.t.line
	for {
		t := p.t
		switch {
		case p.err != nil:
			return p.err
		case t.kind == nftEOF:
			return p.errorf(open, "%s: missing }", what)
		case t.kind == nftNL || t.kind == nftComment || t.is(';'):
			p.advance()
			continue
		case t.is('}'):
			p.advance()
			return nil
		}
		toks, err := p.collect()
		if err != nil {
			return err
		}
		if len(toks) == 0 {
			continue
		}
		if err := stmt(toks); err != nil {
			return err
		}
	}
}

// countEq counts "=" words, which words() keeps but a device list has
// only as syntax (devices = { a, b }).
func countEq(toks []nftTok) int {
	n := 0
	for _, t := range toks {
		if t.word("=") {
			n++
		}
	}
	return n
}

// chainType parses "type T hook H [device D] priority P".
func (p *nftParser) chainType(tb *Table, c *Chain, toks []nftTok) error {
	line := toks[0].line
	if len(toks) < 6 || !toks[2].word("hook") {
		return p.errorf(line, "bad chain type line")
	}
	switch typ := ChainType(toks[1].s); typ {
	case ChainFilter, ChainNAT, ChainRoute:
		c.Type = typ
	default:
		return p.errorf(line, "unknown chain type %s", describe(toks[1]))
	}
	switch h := Hook(toks[3].s); h {
	case HookPrerouting, HookInput, HookForward, HookOutput, HookPostrouting, HookIngress, HookEgress:
		c.Hook = h
	default:
		return p.errorf(line, "unknown hook %s", describe(toks[3]))
	}
	i := 4
	for i < len(toks) && !toks[i].word("priority") {
		if t := toks[i]; (t.kind == nftWord || t.kind == nftString) && !t.word("device") && !t.word("devices") && !t.word("=") {
			c.Devices = append(c.Devices, t.s)
		}
		i++
	}
	if i+1 >= len(toks) {
		return p.errorf(line, "chain %s has no priority", c.Name)
	}
	var expr strings.Builder
	for _, t := range toks[i+1:] {
		expr.WriteString(t.s)
	}
	prio, ok := nftPriority(tb.Family, expr.String())
	if !ok {
		return p.errorf(line, "bad priority %q", truncate(expr.String()))
	}
	c.Priority = prio
	if c.Policy == "" {
		c.Policy = "ACCEPT" // nft's default, which list always prints anyway
	}
	return nil
}

// nftPriority evaluates a chain priority as nft does: a number, or a
// named priority of the family with an optional +N / -N.
func nftPriority(fam Family, s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	i := 0
	for i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
		i++
	}
	name, rest := s[:i], s[i:]
	var base int
	if fam == FamilyBridge {
		// nft's bridge_std_prios (NF_BR_PRI_*).
		switch name {
		case "dstnat":
			base = -300
		case "filter":
			base = -200
		case "out":
			base = 100
		case "srcnat":
			base = 300
		default:
			return 0, false
		}
	} else {
		switch name {
		case "raw":
			base = PriorityRaw
		case "mangle":
			base = PriorityMangle
		case "dstnat":
			base = PriorityDstNAT
		case "filter":
			base = PriorityFilter
		case "security":
			base = PrioritySecurity
		case "srcnat":
			base = PrioritySrcNAT
		default:
			return 0, false
		}
	}
	if rest == "" {
		return base, true
	}
	if rest[0] != '+' && rest[0] != '-' {
		return 0, false
	}
	n, err := strconv.Atoi(rest[1:])
	if err != nil || n < 0 || rest[1] == '+' || rest[1] == '-' {
		return 0, false
	}
	if rest[0] == '-' {
		n = -n
	}
	return base + n, true
}

// setBody parses a set's or map's block after "{", through its "}".
func (p *nftParser) setBody(tb *Table, s *Set) error {
	open := p.t.line
	err := p.block("set "+s.Name, func(toks []nftTok) error {
		first := toks[0]
		switch {
		case first.word("type") || first.word("typeof"):
			return p.setType(s, toks)
		case first.word("flags"):
			s.Flags = words(toks[1:])
		case first.word("comment") && len(toks) == 2 && toks[1].kind == nftString:
			s.Comment = toks[1].s
		case first.word("timeout") && len(toks) == 2:
			d, ok := ParseNFTDuration(toks[1].s)
			if !ok {
				return p.errorf(first.line, "bad timeout %q of set %s", toks[1].s, s.Name)
			}
			s.Timeout = d
		case first.word("elements"):
			if len(toks) < 3 || !toks[1].word("=") {
				return p.errorf(first.line, "bad elements of set %s", s.Name)
			}
			els, n, ok := p.elements(toks, 2, tb, s.Name, true)
			if !ok || n != len(toks) {
				return p.errorf(first.line, "bad elements of set %s", s.Name)
			}
			s.Elements = append(s.Elements, els...)
		default:
			s.Args = append(s.Args, p.src[first.off:toks[len(toks)-1].end])
		}
		return nil
	})
	if err == nil && s.DataType == "?" {
		err = p.errorf(open, "map %s has no data type", s.Name)
	}
	return err
}

// concat reads a concatenation "a . b . c" of words from toks[i:] into
// p.strs and returns its parts and the next index. colonEnds says a ":"
// cannot be a part (it separates a map element's key from its data).
func (p *nftParser) concat(toks []nftTok, i int, colonEnds bool) ([]string, int, bool) {
	start := len(p.strs)
	for {
		if i >= len(toks) || (toks[i].kind != nftWord && toks[i].kind != nftString) || toks[i].word(".") || (colonEnds && toks[i].word(":")) {
			return nil, i, false
		}
		p.strs = append(p.strs, toks[i].s)
		i++
		if i < len(toks) && toks[i].word(".") {
			i++
			continue
		}
		return p.strs[start:len(p.strs):len(p.strs)], i, true
	}
}

// setType parses "type a . b [: c]" or "typeof expr . expr [: expr]".
func (p *nftParser) setType(s *Set, toks []nftTok) error {
	typeof := toks[0].s == "typeof"
	var key []string
	var data []string
	cur := &key
	part := -1 // start of the current part in toks
	flush := func(end int) bool {
		if part < 0 || part >= end {
			return false
		}
		if typeof {
			*cur = append(*cur, typeofType(p.src[toks[part].off:toks[end-1].end]))
		} else {
			*cur = append(*cur, p.src[toks[part].off:toks[end-1].end])
		}
		part = -1
		return true
	}
	for i := 1; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.word("."):
			if !flush(i) {
				return p.errorf(t.line, "bad type of set %s", s.Name)
			}
		case t.word(":"):
			if !flush(i) || cur == &data {
				return p.errorf(t.line, "bad type of set %s", s.Name)
			}
			cur = &data
		default:
			if part < 0 {
				part = i
			}
		}
	}
	if !flush(len(toks)) {
		return p.errorf(toks[0].line, "bad type of set %s", s.Name)
	}
	if s.Map() && len(data) == 0 {
		return p.errorf(toks[0].line, "map %s has no data type", s.Name)
	}
	if !s.Map() && len(data) > 0 {
		return p.errorf(toks[0].line, "set %s has a data type: declare it as a map", s.Name)
	}
	s.KeyType = key
	s.DataType = strings.Join(data, " . ")
	return nil
}

// typeofType names the data type of a typeof expression, as type would
// spell it; an expression netx does not know stays as written.
func typeofType(expr string) string {
	switch expr {
	case "ip saddr", "ip daddr":
		return "ipv4_addr"
	case "ip6 saddr", "ip6 daddr":
		return "ipv6_addr"
	case "meta l4proto", "ip protocol", "ip6 nexthdr":
		return "inet_proto"
	case "th dport", "th sport", "tcp dport", "tcp sport", "udp dport", "udp sport", "sctp dport", "sctp sport":
		return "inet_service"
	case "iifname", "oifname", "meta iifname", "meta oifname":
		return "ifname"
	case "meta mark", "mark", "ct mark":
		return "mark"
	}
	return expr
}

// elements parses "{ e, e ... }" at toks[i]: each element's key parts
// separated by ".", then for a map ": data" or ": verdict"; element
// options (timeout, expires, comment, counter) are skipped. It returns
// the index after the closing brace. Verdicts naming chains are recorded
// as references of owner, a set when set is true, else a chain.
func (p *nftParser) elements(toks []nftTok, i int, tb *Table, owner string, set bool) ([]Element, int, bool) {
	if i >= len(toks) || !toks[i].is('{') {
		return nil, i, false
	}
	i++
	var els []Element
	for {
		if i >= len(toks) {
			return nil, i, false
		}
		if toks[i].is('}') {
			return els, i + 1, true
		}
		if toks[i].is(',') {
			i++
			continue
		}
		var e Element
		if cap(p.strs)-len(p.strs) < 16 {
			p.strs = make([]string, 0, 4096)
		}
		var ok bool
		if e.Key, i, ok = p.concat(toks, i, true); !ok {
			return nil, i, false
		}
		// nft prints an element's options after its key and before its
		// data: 10.96.0.99 . tcp . 80 comment "ns/svc:port" : goto chain.
		if i, ok = elementOptions(toks, i, &e); !ok {
			return nil, i, false
		}
		if i < len(toks) && toks[i].word(":") {
			i++
			if i >= len(toks) {
				return nil, i, false
			}
			if v, n, ok := p.verdict(toks, i); ok {
				if len(p.verds) == 0 {
					p.verds = make([]Target, 256)
				}
				p.verds[0] = v
				e.Verdict = &p.verds[0]
				p.verds = p.verds[1:]
				if v.Chain != "" {
					p.refs = append(p.refs, nftRef{table: tb, name: v.Chain, owner: owner, ownerSet: set, line: toks[i].line})
				}
				i = n
			} else if e.Data, i, ok = p.concat(toks, i, false); !ok {
				return nil, i, false
			}
		}
		// Element options, up to the next element.
		if i, ok = elementOptions(toks, i, &e); !ok || i < len(toks) && !toks[i].is(',') && !toks[i].is('}') {
			return nil, i, false
		}
		els = append(els, e)
	}
}

// elementOptions reads a set element's options into e: its timeout, the
// time it has left (expires) and its comment. Counters are stepped over.
func elementOptions(toks []nftTok, i int, e *Element) (int, bool) {
	for i < len(toks) {
		switch {
		case toks[i].word("timeout"), toks[i].word("expires"):
			if i+1 >= len(toks) {
				return i, false
			}
			d, ok := ParseNFTDuration(toks[i+1].s)
			if !ok {
				return i, false
			}
			if toks[i].s == "timeout" {
				e.Timeout = d
			} else {
				e.Expires = d
			}
			i += 2
		case toks[i].word("comment"):
			if i+1 >= len(toks) || toks[i+1].kind != nftString {
				return i, false
			}
			e.Comment = toks[i+1].s
			i += 2
		case toks[i].word("packets"), toks[i].word("bytes"):
			if i+1 >= len(toks) {
				return i, false
			}
			i += 2
		case toks[i].word("counter"):
			i++
		default:
			return i, true
		}
	}
	return i, true
}

// ParseNFTDuration reads a time as nft prints one: 3h, 2h58m59s988ms,
// 1d, 10800s.
func ParseNFTDuration(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	var d time.Duration
	for s != "" {
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == 0 {
			return 0, false
		}
		n, err := strconv.ParseUint(s[:j], 10, 32)
		if err != nil {
			return 0, false
		}
		s = s[j:]
		k := 0
		for k < len(s) && (s[k] < '0' || s[k] > '9') {
			k++
		}
		var unit time.Duration
		switch s[:k] {
		case "d":
			unit = 24 * time.Hour
		case "h":
			unit = time.Hour
		case "m":
			unit = time.Minute
		case "s":
			unit = time.Second
		case "ms":
			unit = time.Millisecond
		default:
			return 0, false
		}
		d += time.Duration(n) * unit
		s = s[k:]
	}
	return d, true
}

// FormatNFTDuration writes d as nft prints times: 1d2h3m4s5ms.
func FormatNFTDuration(d time.Duration) string {
	ms := d.Milliseconds()
	if ms <= 0 {
		return "0s"
	}
	var b []byte
	for _, u := range []struct {
		n    int64
		unit string
	}{{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}} {
		if ms >= u.n {
			b = strconv.AppendInt(b, ms/u.n, 10)
			b = append(b, u.unit...)
			ms %= u.n
		}
	}
	return string(b)
}

// verdict parses accept, drop, return, continue, jump C or goto C.
func (p *nftParser) verdict(toks []nftTok, i int) (Target, int, bool) {
	t := toks[i]
	if t.kind != nftWord {
		return Target{}, i, false
	}
	switch t.s {
	case "accept":
		return Target{Kind: TargetAccept}, i + 1, true
	case "drop":
		return Target{Kind: TargetDrop}, i + 1, true
	case "return":
		return Target{Kind: TargetReturn}, i + 1, true
	case "continue":
		return Target{}, i + 1, true
	case "jump", "goto":
		if i+1 >= len(toks) || (toks[i+1].kind != nftWord && toks[i+1].kind != nftString) || toks[i+1].s == "" {
			return Target{}, i, false
		}
		k := TargetJump
		if t.s == "goto" {
			k = TargetGoto
		}
		return Target{Kind: k, Chain: toks[i+1].s}, i + 2, true
	}
	return Target{}, i, false
}

// checkRefs reports a jump, goto or lookup naming a chain or set its
// table does not hold.
func (p *nftParser) checkRefs() error {
	for _, r := range p.refs {
		if r.set {
			if r.table.Set(r.name) == nil {
				return p.errorf(r.line, "no set %s in table %s %s", r.name, r.table.Family, r.table.Name)
			}
			continue
		}
		if r.table.index[r.name] == nil {
			return p.errorf(r.line, "no chain %s in table %s %s", r.name, r.table.Family, r.table.Name)
		}
	}
	return nil
}

// rule builds the Rule of chain c from its tokens.
func (p *nftParser) rule(tb *Table, c *Chain, toks []nftTok) *Rule {
	r := p.newRule()
	var trailing string
	if last := toks[len(toks)-1]; last.kind == nftComment {
		toks = toks[:len(toks)-1]
		if h, ok := strings.CutPrefix(last.s, "# handle "); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(h), 10, 64); err == nil {
				r.Handle = n
			} else {
				trailing = last.s
			}
		} else {
			trailing = last.s
		}
	}
	if len(toks) > 0 {
		r.Text = p.src[toks[0].off:toks[len(toks)-1].end]
	} else {
		r.Text = trailing
	}
	p.ms = p.ms[:0]
	p.acts = p.acts[:0]
	rc := nftRule{p: p, tb: tb, owner: c.Name, toks: toks, r: r}
	for i := 0; i < len(toks); {
		nm, na := len(p.ms), len(p.acts)
		n, ok := rc.expr(i)
		if ok && n > i && na > 0 && len(p.ms) > nm {
			// A condition after an action: see ParseNFT.
			p.ms = p.ms[:nm]
			ok = false
		}
		if !ok || n <= i {
			p.ms, p.acts = p.ms[:nm], p.acts[:na]
			n = rc.unknown(i)
		}
		i = n
	}
	if trailing != "" {
		p.ms = append(p.ms, Match{Kind: MatchUnknown, Module: "#", Args: []string{trailing}})
	}
	r.Matches = p.keepMatches(p.ms)
	if n := len(p.acts); n > 0 {
		r.Target = p.acts[n-1]
		if n > 1 {
			r.Statements = append([]Target(nil), p.acts[:n-1]...)
		}
	}
	for k := range len(p.acts) {
		if name := p.acts[k].Chain; name != "" {
			p.refs = append(p.refs, nftRef{table: tb, name: name, owner: c.Name, line: toks[0].line})
		}
	}
	return r
}

// nftRule parses the expressions of one rule.
type nftRule struct {
	p     *nftParser
	tb    *Table
	owner string
	toks  []nftTok
	r     *Rule
}

func (rc *nftRule) tok(i int) nftTok {
	if i < len(rc.toks) {
		return rc.toks[i]
	}
	return nftTok{}
}

func (rc *nftRule) match(m Match) { rc.p.ms = append(rc.p.ms, m) }
func (rc *nftRule) act(t Target)  { rc.p.acts = append(rc.p.acts, t) }

// nftStarter reports whether w begins an expression or statement, which
// ends an unknown one before it.
func nftStarter(w string) bool {
	switch w {
	case "ip", "ip6", "meta", "mark", "th", "tcp", "udp", "sctp", "iifname", "oifname", "iif", "oif",
		"fib", "ct", "counter", "comment", "accept", "drop", "return", "continue", "jump", "goto",
		"reject", "dnat", "snat", "masquerade", "redirect", "notrack", "log", "numgen", "limit",
		"icmp", "icmpv6", "xt", "queue", "dup", "fwd", "tproxy", "synproxy", "quota", "update", "add",
		"ether", "vlan", "arp", "jhash", "symhash":
		return true
	}
	return false
}

// nftJoiner reports whether w binds the next word into its expression.
func nftJoiner(w string) bool {
	switch w {
	case ".", "set", "to", "map", "vmap", "==", "!=", "&", "|", "^", "and", "or", "xor",
		"<", ">", "<=", ">=", "type", "mod", "eq", "ne", "lt", "gt", "le", "ge", "/", "with", "name", ":":
		return true
	}
	return false
}

// nftPrefixWord reports whether w is the first word of a two-word field
// (meta mark, ct state, ip saddr), so the word after it is no new start.
func nftPrefixWord(w string) bool {
	switch w {
	case "meta", "ct", "ip", "ip6", "th", "tcp", "udp", "sctp", "fib", "icmp", "icmpv6", "numgen", "ether", "vlan", "arp":
		return true
	}
	return false
}

// unknown keeps the expression or statement at toks[i] as written and
// returns where the next one starts.
func (rc *nftRule) unknown(i int) int {
	toks := rc.toks
	j, depth := i, 0
	stmt := false
	for j < len(toks) {
		t := toks[j]
		if j > i && depth == 0 && t.kind == nftWord && nftStarter(t.s) && !nftJoiner(toks[j-1].s) && !nftPrefixWord(toks[j-1].s) {
			break
		}
		switch {
		case t.is('{'):
			depth++
		case t.is('}'):
			depth--
		case depth == 0 && (t.word("set") || t.word("vmap") || t.word("map")):
			stmt = true
		}
		j++
	}
	first := toks[i]
	raw := make([]string, 0, j-i-1)
	for _, t := range toks[i+1 : j] {
		raw = append(raw, rc.p.src[t.off:t.end])
	}
	switch first.s {
	case "xt":
		stmt = len(raw) > 0 && raw[0] == "target"
	case "counter", "log", "queue", "dup", "fwd", "tproxy", "synproxy", "quota", "update", "add", "delete",
		"jump", "goto", "reject", "dnat", "snat", "masquerade", "redirect", "notrack", "accept", "drop", "return":
		stmt = true
	}
	name := rc.p.src[first.off:first.end]
	if stmt {
		rc.act(Target{Kind: TargetUnknown, Name: name, Args: raw})
	} else {
		rc.match(Match{Kind: MatchUnknown, Module: name, Args: raw})
	}
	return j
}

// expr parses the expression or statement at toks[i]. It returns the
// index after it and false when netx does not model it (what it appended
// is then discarded).
func (rc *nftRule) expr(i int) (int, bool) {
	t := rc.toks[i]
	if t.kind != nftWord {
		return i, false
	}
	switch t.s {
	case "counter":
		if rc.tok(i+1).word("packets") && rc.tok(i+3).word("bytes") {
			pk, err1 := strconv.ParseUint(rc.tok(i+2).s, 10, 64)
			by, err2 := strconv.ParseUint(rc.tok(i+4).s, 10, 64)
			if err1 != nil || err2 != nil {
				return i, false
			}
			rc.r.Counters = Counters{Packets: pk, Bytes: by}
			rc.r.Counter = true
			return i + 5, true
		}
		if rc.tok(i + 1).word("name") {
			return i, false
		}
		rc.r.Counter = true
		return i + 1, true
	case "comment":
		if c := rc.tok(i + 1); c.kind == nftString {
			rc.r.Comment = c.s
			return i + 2, true
		}
		return i, false
	case "accept", "drop", "return", "continue", "jump", "goto":
		v, n, ok := rc.p.verdict(rc.toks, i)
		if ok && v.Kind != TargetNone {
			rc.act(v)
		}
		return n, ok
	case "reject":
		return rc.reject(i)
	case "dnat", "snat":
		return rc.nat(i)
	case "masquerade", "redirect":
		return rc.masquerade(i)
	case "notrack":
		rc.act(Target{Kind: TargetNotrack})
		return i + 1, true
	case "update", "add", "delete":
		return rc.setStatement(i)
	case "log":
		return rc.log(i)
	case "limit":
		return rc.limit(i)
	case "fib":
		return rc.fib(i)
	case "icmp", "icmpv6":
		if !rc.tok(i + 1).word("type") {
			return i, false
		}
		neg, n := rc.op(i + 2)
		v := rc.tok(n)
		if v.kind != nftWord || nftStarter(v.s) || v.s == "" {
			return i, false
		}
		mod := "icmp"
		if t.s == "icmpv6" {
			mod = "icmp6"
		}
		rc.match(Match{Kind: MatchICMPType, Negate: neg, Module: mod, Value: v.s})
		return n + 1, true
	case "tcp":
		if rc.tok(i + 1).word("flags") {
			return rc.tcpFlags(i)
		}
	case "meta":
		switch rc.tok(i + 1).s {
		case "random":
			return rc.random(i)
		case "nfproto":
			neg, n := rc.op(i + 2)
			v := rc.tok(n)
			if v.s != "ipv4" && v.s != "ipv6" {
				return i, false
			}
			rc.match(Match{Kind: MatchNFProto, Negate: neg, Value: v.s})
			return n + 1, true
		}
	case "ct":
		switch rc.tok(i + 1).s {
		case "state", "status", "direction":
			return rc.ctValues(i)
		case "mark":
			return rc.markExpr(i, 2, MatchConnMark)
		}
		return i, false
	}
	return rc.selectorExpr(i)
}

// op reads an optional comparison at toks[i]: == or != (and eq, ne).
func (rc *nftRule) op(i int) (neg bool, next int) {
	switch rc.tok(i).s {
	case "==", "eq":
		return false, i + 1
	case "!=", "ne":
		return true, i + 1
	}
	return false, i
}

// nftSel is a packet field a rule reads.
type nftSel struct {
	field Field
	proto string // tcp, udp, sctp: the protocol `tcp dport` implies
	mod   uint32
	kind  MatchKind // the typed match a single value gives, "" if none
	ip6   bool
	// spell is the Module of the typed match when the field has two
	// spellings that differ in the kernel: ip protocol / ip6 nexthdr
	// (read from the network header) against meta l4proto, iif / oif
	// (an interface index) against iifname / oifname. "" is the latter.
	spell string
}

// selector parses one field at toks[i].
func (rc *nftRule) selector(i int) (nftSel, int, bool) {
	a, b := rc.tok(i), rc.tok(i+1)
	if a.kind != nftWord {
		return nftSel{}, i, false
	}
	switch a.s {
	case "ip", "ip6":
		switch b.s {
		case "saddr":
			return nftSel{field: FieldSAddr, kind: MatchSource, ip6: a.s == "ip6"}, i + 2, true
		case "daddr":
			return nftSel{field: FieldDAddr, kind: MatchDestination, ip6: a.s == "ip6"}, i + 2, true
		case "protocol", "nexthdr":
			if (b.s == "protocol") == (a.s == "ip") {
				return nftSel{field: FieldL4Proto, kind: MatchProtocol, spell: a.s}, i + 2, true
			}
		}
	case "th", "tcp", "udp", "sctp":
		proto := a.s
		if proto == "th" {
			proto = ""
		}
		switch b.s {
		case "dport":
			return nftSel{field: FieldDPort, proto: proto, kind: MatchDstPort}, i + 2, true
		case "sport":
			return nftSel{field: FieldSPort, proto: proto, kind: MatchSrcPort}, i + 2, true
		}
	case "iifname":
		return nftSel{field: FieldIIFName, kind: MatchInInterface}, i + 1, true
	case "iif":
		return nftSel{field: FieldIIFName, kind: MatchInInterface, spell: "iif"}, i + 1, true
	case "oifname":
		return nftSel{field: FieldOIFName, kind: MatchOutInterface}, i + 1, true
	case "oif":
		return nftSel{field: FieldOIFName, kind: MatchOutInterface, spell: "oif"}, i + 1, true
	case "mark":
		return nftSel{field: FieldMark, kind: MatchMark}, i + 1, true
	case "meta":
		switch b.s {
		case "l4proto":
			return nftSel{field: FieldL4Proto, kind: MatchProtocol}, i + 2, true
		case "iifname":
			return nftSel{field: FieldIIFName, kind: MatchInInterface}, i + 2, true
		case "iif":
			return nftSel{field: FieldIIFName, kind: MatchInInterface, spell: "iif"}, i + 2, true
		case "oifname":
			return nftSel{field: FieldOIFName, kind: MatchOutInterface}, i + 2, true
		case "oif":
			return nftSel{field: FieldOIFName, kind: MatchOutInterface, spell: "oif"}, i + 2, true
		case "mark":
			return nftSel{field: FieldMark, kind: MatchMark}, i + 2, true
		}
	case "ct":
		if b.s == "state" {
			return nftSel{field: FieldCTState, kind: MatchCTState}, i + 2, true
		}
	case "numgen":
		// numgen random|inc mod N; an offset shifts the values, which
		// the model's Selector cannot say.
		if (b.s != "random" && b.s != "inc") || !rc.tok(i+2).word("mod") || rc.tok(i+4).word("offset") {
			return nftSel{}, i, false
		}
		n, err := strconv.ParseUint(rc.tok(i+3).s, 10, 32)
		if err != nil || n == 0 {
			return nftSel{}, i, false
		}
		f := FieldNumgen
		if b.s == "inc" {
			f = FieldNumgenInc
		}
		return nftSel{field: f, mod: uint32(n)}, i + 4, true
	}
	return nftSel{}, i, false
}

// selectorExpr parses "sel [. sel ...]" followed by a comparison, a
// lookup (@set, { ... }), a verdict map, or (for a mark) "set".
func (rc *nftRule) selectorExpr(i int) (int, bool) {
	var sels [4]nftSel
	ns := 0
	j := i
	for {
		s, n, ok := rc.selector(j)
		if !ok || ns == len(sels) {
			return i, false
		}
		sels[ns] = s
		ns++
		j = n
		if rc.tok(j).word(".") {
			j++
			continue
		}
		break
	}
	keys := func() []Selector {
		out := make([]Selector, ns)
		for k := range ns {
			out[k] = Selector{Field: sels[k].field, Mod: sels[k].mod}
		}
		return out
	}
	// The protocol `tcp dport` implies: nft hides the dependency it
	// puts in the kernel rule; an evaluator needs it.
	implied := func() {
	next:
		for k := range ns {
			p := sels[k].proto
			if p == "" {
				continue
			}
			for _, m := range rc.p.ms {
				if m.Kind == MatchProtocol && !m.Negate && m.Value == p {
					continue next // written out already (meta l4proto tcp tcp dport 80)
				}
			}
			rc.match(Match{Kind: MatchProtocol, Module: p, Value: p})
		}
	}
	s := sels[0]
	next := rc.tok(j)
	switch {
	case next.word("vmap"):
		if s.field == FieldCTState && ns == 1 {
			return i, false
		}
		l := &Lookup{Keys: keys()}
		at := rc.tok(j + 1)
		switch {
		case at.kind == nftWord && strings.HasPrefix(at.s, "@") && len(at.s) > 1:
			l.Set = at.s[1:]
			rc.p.refs = append(rc.p.refs, nftRef{table: rc.tb, set: true, name: l.Set, owner: rc.owner, line: at.line})
			j += 2
		case at.is('{'):
			els, n, ok := rc.p.elements(rc.toks, j+1, rc.tb, rc.owner, false)
			if !ok {
				return i, false
			}
			for _, e := range els {
				if e.Verdict == nil || len(e.Key) != ns {
					return i, false
				}
			}
			l.Elements = els
			j = n
		default:
			return i, false
		}
		implied()
		rc.act(Target{Kind: TargetVerdictMap, Lookup: l})
		return j, true
	case next.word("set"):
		if ns != 1 || s.field != FieldMark {
			return i, false
		}
		return rc.markExpr(i, j-i, MatchMark)
	case ns == 1 && s.field == FieldMark:
		return rc.markExpr(i, j-i, MatchMark)
	}
	neg, j := rc.op(j)
	v := rc.tok(j)
	switch {
	case v.kind == nftWord && strings.HasPrefix(v.s, "@") && len(v.s) > 1:
		implied()
		name := v.s[1:]
		rc.p.refs = append(rc.p.refs, nftRef{table: rc.tb, set: true, name: name, owner: rc.owner, line: v.line})
		rc.match(Match{Kind: MatchLookup, Negate: neg, Lookup: &Lookup{Keys: keys(), Set: name}})
		return j + 1, true
	case v.is('{'):
		els, n, ok := rc.p.elements(rc.toks, j, rc.tb, rc.owner, false)
		if !ok || len(els) == 0 {
			return i, false
		}
		for _, e := range els {
			if len(e.Key) != ns || e.Verdict != nil || e.Data != nil {
				return i, false
			}
		}
		if ns == 1 {
			if m, ok := rc.single(s, neg, els); ok {
				implied()
				rc.match(m)
				return n, true
			}
			if s.kind == MatchCTState {
				return i, false
			}
		}
		implied()
		rc.match(Match{Kind: MatchLookup, Negate: neg, Lookup: &Lookup{Keys: keys(), Elements: els}})
		return n, true
	}
	if ns != 1 || s.field == FieldNumgen || s.field == FieldNumgenInc {
		return i, false
	}
	// One value, or for ct state a comma list.
	if v.kind != nftWord && v.kind != nftString {
		return i, false
	}
	vals := []Element{{Key: []string{v.s}}}
	j++
	for s.kind == MatchCTState && rc.tok(j).is(',') && rc.tok(j+1).kind == nftWord {
		vals = append(vals, Element{Key: []string{rc.tok(j + 1).s}})
		j += 2
	}
	m, ok := rc.single(s, neg, vals)
	if !ok {
		// An address range is a one-element lookup.
		if (s.kind == MatchSource || s.kind == MatchDestination) && v.kind == nftWord && strings.Count(v.s, "-") == 1 {
			lo, hi, _ := strings.Cut(v.s, "-")
			if validAddrs(lo, hi) {
				implied()
				rc.match(Match{Kind: MatchLookup, Negate: neg, Lookup: &Lookup{Keys: keys(), Elements: vals}})
				return j, true
			}
		}
		return i, false
	}
	implied()
	rc.match(m)
	return j, true
}

// single builds the typed match of one field against values (any of),
// when the model has one.
func (rc *nftRule) single(s nftSel, neg bool, vals []Element) (Match, bool) {
	m := Match{Kind: s.kind, Negate: neg}
	switch s.kind {
	case MatchSource, MatchDestination:
		if len(vals) != 1 {
			return m, false
		}
		pfx, err := parsePrefix(vals[0].Key[0])
		if err != nil || pfx.Addr().Is6() != s.ip6 || strings.Contains(vals[0].Key[0], "/") && strings.Count(vals[0].Key[0], ".") != 3 && !s.ip6 {
			return m, false
		}
		m.Prefix = pfx
	case MatchProtocol:
		if len(vals) != 1 || !nftName(vals[0].Key[0]) {
			return m, false
		}
		m.Value = strings.ToLower(vals[0].Key[0])
		m.Module = s.spell
	case MatchSrcPort, MatchDstPort:
		m.Module = s.proto
		ports := rc.p.newPorts(len(vals))
		for k, e := range vals {
			lo, hi, err := parsePorts(e.Key[0], '-')
			if err != nil {
				return m, false
			}
			ports[k] = PortRange{First: lo, Last: hi}
		}
		m.Ports = ports
	case MatchInInterface, MatchOutInterface:
		if len(vals) != 1 {
			return m, false
		}
		name := vals[0].Key[0]
		if strings.HasSuffix(name, `\*`) {
			return m, false // a literal star, which InterfaceMatches cannot say
		}
		if p, ok := strings.CutSuffix(name, "*"); ok {
			name = p + "+"
		}
		if name == "" {
			return m, false
		}
		m.Value = name
		m.Module = s.spell
	case MatchCTState:
		m.Values = make([]string, len(vals))
		for k, e := range vals {
			switch e.Key[0] {
			case "new", "established", "related", "invalid", "untracked":
				m.Values[k] = strings.ToUpper(e.Key[0])
			default:
				return m, false
			}
		}
	default:
		return m, false
	}
	return m, true
}

// nftName reports whether s is a protocol name or number as nft prints it.
func nftName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func validAddrs(lo, hi string) bool {
	a, err1 := parsePrefix(lo)
	b, err2 := parsePrefix(hi)
	return err1 == nil && err2 == nil && a.IsSingleIP() && b.IsSingleIP() && a.Addr().Is4() == b.Addr().Is4()
}

// ctValues parses ct state / status / direction comparisons.
func (rc *nftRule) ctValues(i int) (int, bool) {
	what := rc.tok(i + 1).s
	neg, j := rc.op(i + 2)
	if rc.tok(j).word("!") && what != "direction" {
		// nft lists a test that none of the flags is set (ct state &
		// (new|established) == 0) as "ct state ! established,new".
		neg, j = true, j+1
	}
	var vals []string
	if rc.tok(j).is('{') {
		els, n, ok := rc.p.elements(rc.toks, j, rc.tb, rc.owner, false)
		if !ok || len(els) == 0 {
			return i, false
		}
		for _, e := range els {
			if len(e.Key) != 1 || e.Verdict != nil || e.Data != nil {
				return i, false
			}
			vals = append(vals, e.Key[0])
		}
		j = n
	} else {
		for {
			v := rc.tok(j)
			if v.kind != nftWord || v.s == "" {
				return i, false
			}
			vals = append(vals, v.s)
			j++
			if !rc.tok(j).is(',') {
				break
			}
			j++
		}
	}
	m := Match{Negate: neg}
	switch what {
	case "state":
		m.Kind = MatchCTState
	case "status":
		m.Kind = MatchCTStatus
	case "direction":
		if len(vals) != 1 {
			return i, false
		}
		m.Kind = MatchCTDirection
	}
	for k, v := range vals {
		ok := false
		switch what {
		case "state":
			ok = v == "new" || v == "established" || v == "related" || v == "invalid" || v == "untracked"
		case "status":
			ok = v == "expected" || v == "seen-reply" || v == "assured" || v == "confirmed" || v == "snat" || v == "dnat" || v == "dying"
		case "direction":
			ok = v == "original" || v == "reply"
		}
		if !ok {
			return i, false
		}
		vals[k] = strings.ReplaceAll(strings.ToUpper(v), "-", "_")
	}
	if m.Kind == MatchCTDirection {
		m.Value = vals[0]
	} else {
		m.Values = vals
	}
	rc.match(m)
	return j, true
}

// markExpr parses a mark match or a mark set statement; the field's
// words (meta mark, mark, ct mark) take w tokens at toks[i].
func (rc *nftRule) markExpr(i, w int, kind MatchKind) (int, bool) {
	j := i + w
	if rc.tok(j).word("set") {
		return rc.markSet(i, w, kind)
	}
	mask := uint32(math.MaxUint32)
	if op := rc.tok(j).s; op == "&" || op == "and" {
		v, ok := nftNumber(rc.tok(j + 1))
		if !ok {
			return i, false
		}
		mask = v
		j += 2
	}
	neg, j := rc.op(j)
	if rc.tok(j).is('{') || strings.HasPrefix(rc.tok(j).s, "@") {
		if mask != math.MaxUint32 || kind != MatchMark {
			return i, false
		}
		return rc.lookupAt(i, j, neg, []Selector{{Field: FieldMark}})
	}
	v, ok := nftNumber(rc.tok(j))
	if !ok {
		return i, false
	}
	if v&mask != v {
		// Never true (or, negated, always): keep it as written.
		return i, false
	}
	rc.match(Match{Kind: kind, Negate: neg, Mark: v, Mask: mask})
	return j + 1, true
}

// lookupAt parses a set lookup "@name" or "{ ... }" at toks[j] of the
// expression starting at i.
func (rc *nftRule) lookupAt(i, j int, neg bool, keys []Selector) (int, bool) {
	v := rc.tok(j)
	if strings.HasPrefix(v.s, "@") && v.kind == nftWord && len(v.s) > 1 {
		rc.p.refs = append(rc.p.refs, nftRef{table: rc.tb, set: true, name: v.s[1:], owner: rc.owner, line: v.line})
		rc.match(Match{Kind: MatchLookup, Negate: neg, Lookup: &Lookup{Keys: keys, Set: v.s[1:]}})
		return j + 1, true
	}
	els, n, ok := rc.p.elements(rc.toks, j, rc.tb, rc.owner, false)
	if !ok || len(els) == 0 {
		return i, false
	}
	for _, e := range els {
		if len(e.Key) != len(keys) || e.Verdict != nil || e.Data != nil {
			return i, false
		}
	}
	rc.match(Match{Kind: MatchLookup, Negate: neg, Lookup: &Lookup{Keys: keys, Elements: els}})
	return n, true
}

// setStatement parses "update @set { sel [. sel ...] }" (add, delete):
// the packet's key written into a dynamic set. Options inside the braces
// (a timeout, a counter) are not modelled: the statement is then kept
// as unknown.
func (rc *nftRule) setStatement(i int) (int, bool) {
	v := rc.tok(i + 1)
	if v.kind != nftWord || !strings.HasPrefix(v.s, "@") || len(v.s) < 2 || !rc.tok(i+2).is('{') {
		return i, false
	}
	j := i + 3
	var keys []Selector
	for {
		s, n, ok := rc.selector(j)
		// A port of a named protocol (tcp dport) or a spelling the
		// model's Selector does not keep stays unknown, word for word.
		if !ok || s.field == FieldNumgen || s.field == FieldNumgenInc || s.field == FieldCTState || s.proto != "" || s.spell != "" || len(keys) == 4 {
			return i, false
		}
		keys = append(keys, Selector{Field: s.field})
		j = n
		if !rc.tok(j).word(".") {
			break
		}
		j++
	}
	if !rc.tok(j).is('}') {
		return i, false
	}
	rc.p.refs = append(rc.p.refs, nftRef{table: rc.tb, set: true, name: v.s[1:], owner: rc.owner, line: v.line})
	rc.act(Target{Kind: TargetSetUpdate, Name: rc.tok(i).s, Lookup: &Lookup{Keys: keys, Set: v.s[1:]}})
	return j + 1, true
}

// nftNumber parses a decimal or 0x hex 32-bit value.
func nftNumber(t nftTok) (uint32, bool) {
	if t.kind != nftWord {
		return 0, false
	}
	v, err := strconv.ParseUint(t.s, 0, 32)
	return uint32(v), err == nil
}

// markSet parses "meta mark set EXPR" (or mark set, ct mark set) where
// EXPR is the mark itself or a constant, then any of | & ^ (or, and, xor)
// with constants, into the xmark form: mark = (mark &^ Mask) ^ SetMark.
func (rc *nftRule) markSet(i, w int, kind MatchKind) (int, bool) {
	j := i + w + 1
	keep, xor := uint32(math.MaxUint32), uint32(0) // mark = (mark & keep) ^ xor
	switch a, b := rc.tok(j), rc.tok(j+1); {
	case kind == MatchMark && a.word("meta") && b.word("mark"):
		j += 2
	case kind == MatchMark && a.word("mark"):
		j++
	case kind == MatchConnMark && a.word("ct") && b.word("mark"):
		j += 2
	default:
		v, ok := nftNumber(a)
		if !ok {
			return i, false
		}
		keep, xor = 0, v
		j++
	}
	for {
		op := rc.tok(j).s
		if op != "|" && op != "or" && op != "&" && op != "and" && op != "^" && op != "xor" {
			break
		}
		v, ok := nftNumber(rc.tok(j + 1))
		if !ok {
			return i, false
		}
		switch op {
		case "|", "or":
			keep, xor = keep&^v, xor|v
		case "&", "and":
			keep, xor = keep&v, xor&v
		default:
			xor ^= v
		}
		j += 2
	}
	k := TargetMark
	if kind == MatchConnMark {
		k = TargetConnMark
	}
	rc.act(Target{Kind: k, SetMark: xor, Mask: ^keep})
	return j, true
}

// random parses iptables-nft's statistic translation,
// "meta random & 2147483647 < N": a hit with probability N/2^31.
func (rc *nftRule) random(i int) (int, bool) {
	if !rc.tok(i+2).word("&") || !rc.tok(i+3).word("2147483647") || !rc.tok(i+4).word("<") {
		return i, false
	}
	n, err := strconv.ParseUint(rc.tok(i+5).s, 0, 32)
	if err != nil || n > 1<<31 {
		return i, false
	}
	rc.match(Match{Kind: MatchStatistic, Statistic: &Statistic{Mode: "random", Probability: float64(n) / (1 << 31)}})
	return i + 6, true
}

// fib parses "fib saddr|daddr [. iif|. oif] type [!=] T|{ T, ... }".
// Other fib lookups (. mark, two interfaces, the oif or oifname result)
// become one unknown match through their value: split at the result
// word, "oif missing" would read as an interface match.
func (rc *nftRule) fib(i int) (int, bool) {
	at := &AddrType{}
	switch rc.tok(i + 1).s {
	case "daddr":
		at.Dst = true
	case "saddr":
	default:
		return i, false
	}
	j := i + 2
	modelled := true
	for rc.tok(j).word(".") {
		switch rc.tok(j + 1).s {
		case "iif":
			modelled = modelled && !at.LimitIfaceIn && !at.LimitIfaceOut
			at.LimitIfaceIn = true
		case "oif":
			modelled = modelled && !at.LimitIfaceIn && !at.LimitIfaceOut
			at.LimitIfaceOut = true
		case "mark", "saddr", "daddr":
			modelled = false
		default:
			return i, false
		}
		j += 2
	}
	switch rc.tok(j).s {
	case "type":
	case "oif", "oifname":
		modelled = false
	default:
		return i, false
	}
	if !modelled {
		return rc.fibUnknown(i, j+1)
	}
	neg, j := rc.op(j + 1)
	if rc.tok(j).is('{') {
		els, n, ok := rc.p.elements(rc.toks, j, rc.tb, rc.owner, false)
		if !ok || len(els) == 0 {
			return i, false
		}
		for _, e := range els {
			if len(e.Key) != 1 || e.Verdict != nil || e.Data != nil || !nftName(e.Key[0]) {
				return i, false
			}
			at.Types = append(at.Types, strings.ToUpper(e.Key[0]))
		}
		j = n
	} else {
		v := rc.tok(j)
		if v.kind != nftWord || !nftName(v.s) {
			return i, false
		}
		at.Types = []string{strings.ToUpper(v.s)}
		j++
	}
	rc.match(Match{Kind: MatchAddrType, Negate: neg, AddrType: at})
	return j, true
}

// fibUnknown keeps the fib expression at toks[i] as an unknown match,
// its result word ending at j: an optional comparison, then a value or
// a { ... } set.
func (rc *nftRule) fibUnknown(i, j int) (int, bool) {
	_, j = rc.op(j)
	switch v := rc.tok(j); {
	case v.is('{'):
		depth := 0
		for ; j < len(rc.toks); j++ {
			if rc.toks[j].is('{') {
				depth++
			} else if rc.toks[j].is('}') {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if depth != 0 {
			return i, false
		}
	case v.kind != nftWord && v.kind != nftString:
		return i, false
	}
	j++
	raw := make([]string, 0, j-i-1)
	for _, t := range rc.toks[i+1 : j] {
		raw = append(raw, rc.p.src[t.off:t.end])
	}
	rc.match(Match{Kind: MatchUnknown, Module: "fib", Args: raw})
	return j, true
}

// tcpFlags parses "tcp flags [!=] a,b / c,d": of the flags c,d exactly
// a,b are set.
func (rc *nftRule) tcpFlags(i int) (int, bool) {
	neg, j := rc.op(i + 2)
	list := func() []string {
		var out []string
		for {
			v := rc.tok(j)
			if v.kind != nftWord || !nftName(v.s) {
				return nil
			}
			out = append(out, strings.ToUpper(v.s))
			j++
			if !rc.tok(j).is(',') {
				return out
			}
			j++
		}
	}
	comp := list()
	if comp == nil || !rc.tok(j).word("/") {
		return i, false
	}
	j++
	mask := list()
	if mask == nil {
		return i, false
	}
	rc.match(Match{Kind: MatchTCPFlags, Negate: neg, Module: "tcp", TCPFlags: &TCPFlags{Mask: mask, Comp: comp}})
	return j, true
}

// limit parses "limit rate [over] N/unit [burst N packets]".
func (rc *nftRule) limit(i int) (int, bool) {
	if !rc.tok(i + 1).word("rate") {
		return i, false
	}
	j := i + 2
	neg := false
	if rc.tok(j).word("over") {
		neg = true
		j++
	}
	rate := rc.tok(j).s
	num, unit, ok := strings.Cut(rate, "/")
	if _, err := strconv.ParseUint(num, 10, 32); err != nil || !ok {
		return i, false
	}
	switch unit {
	case "second", "minute", "hour", "day", "week":
	default:
		return i, false
	}
	l := &Limit{Rate: rate}
	j++
	if rc.tok(j).word("burst") {
		b, err := strconv.ParseUint(rc.tok(j+1).s, 10, 32)
		if err != nil || !rc.tok(j+2).word("packets") {
			return i, false
		}
		l.Burst = uint32(b)
		j += 3
	}
	rc.match(Match{Kind: MatchLimit, Negate: neg, Limit: l})
	return j, true
}

// reject parses "reject [with icmp|icmpv6|icmpx [type] CODE | with tcp reset]".
func (rc *nftRule) reject(i int) (int, bool) {
	t := Target{Kind: TargetReject}
	j := i + 1
	if rc.tok(j).word("with") {
		proto := rc.tok(j + 1).s
		j += 2
		switch proto {
		case "tcp":
			if !rc.tok(j).word("reset") {
				return i, false
			}
			t.RejectWith = "tcp reset"
			j++
		case "icmp", "icmpv6", "icmpx":
			if rc.tok(j).word("type") {
				j++
			}
			code := rc.tok(j)
			if code.kind != nftWord || !nftName(code.s) {
				return i, false
			}
			t.RejectWith = proto + " " + code.s
			j++
		default:
			return i, false
		}
	}
	rc.act(t)
	return j, true
}

// natFlags parses NAT flags (random, fully-random, persistent, comma
// separated) at toks[j].
func (rc *nftRule) natFlags(t *Target, j int) int {
	for {
		switch rc.tok(j).s {
		case "random":
			t.Random = true
		case "fully-random":
			t.RandomFully = true
		case "persistent":
			t.Persistent = true
		default:
			return j
		}
		j++
		if !rc.tok(j).is(',') {
			return j
		}
		j++
	}
}

// nat parses "dnat|snat [ip|ip6] to ADDR[:PORT] [flags]". A mapping
// (to ip daddr map @m, numgen ...) is kept in Args for the evaluator to
// report.
func (rc *nftRule) nat(i int) (int, bool) {
	t := Target{Kind: TargetDNAT}
	if rc.tok(i).s == "snat" {
		t.Kind = TargetSNAT
	}
	j := i + 1
	if w := rc.tok(j).s; w == "ip" || w == "ip6" {
		j++
	}
	if !rc.tok(j).word("to") {
		return i, false
	}
	j++
	v := rc.tok(j)
	if v.kind != nftWord {
		return i, false
	}
	if r, err := parseNATRange(v.s); err == nil && !nftJoiner(rc.tok(j+1).s) {
		t.To = r
		if t.Kind == TargetDNAT {
			t.ToDestination = v.s
		} else {
			t.ToSource = v.s
		}
		j++
	} else {
		k := j
		for k < len(rc.toks) && !(k > j && nftStarter(rc.toks[k].s) && !nftJoiner(rc.toks[k-1].s)) {
			if w := rc.toks[k].s; w == "random" || w == "fully-random" || w == "persistent" {
				break
			}
			t.Args = append(t.Args, rc.p.src[rc.toks[k].off:rc.toks[k].end])
			k++
		}
		j = k
	}
	j = rc.natFlags(&t, j)
	rc.act(t)
	return j, true
}

// masquerade parses "masquerade|redirect [to [:]PORT[-PORT]] [flags]".
func (rc *nftRule) masquerade(i int) (int, bool) {
	t := Target{Kind: TargetMasquerade}
	if rc.tok(i).s == "redirect" {
		t.Kind = TargetRedirect
	}
	j := i + 1
	if rc.tok(j).word("to") {
		lo, hi, err := parsePorts(strings.TrimPrefix(rc.tok(j+1).s, ":"), '-')
		if err != nil {
			return i, false
		}
		t.To.Port = lo
		if hi != lo {
			t.To.PortMax = hi
		}
		j += 2
	}
	j = rc.natFlags(&t, j)
	rc.act(t)
	return j, true
}

// log parses "log [prefix S] [level L] [group N] ...": the prefix is
// modelled, other options are kept in Args.
func (rc *nftRule) log(i int) (int, bool) {
	t := Target{Kind: TargetLog}
	j := i + 1
	for {
		switch rc.tok(j).s {
		case "prefix":
			if rc.tok(j+1).kind != nftString {
				return i, false
			}
			t.LogPrefix = rc.tok(j + 1).s
			j += 2
			continue
		case "level", "group", "snaplen", "queue-threshold", "flags":
			if rc.tok(j+1).kind != nftWord {
				return i, false
			}
			t.Args = append(t.Args, rc.tok(j).s, rc.tok(j+1).s)
			j += 2
			if v := t.Args[len(t.Args)-1]; t.Args[len(t.Args)-2] == "flags" && (v == "tcp" || v == "ip") {
				// The value is two words: flags tcp sequence,options,
				// flags ip options.
				if w := rc.tok(j); w.kind != nftWord || nftStarter(w.s) {
					return i, false
				}
				t.Args[len(t.Args)-1] += " " + rc.tok(j).s
				j++
			}
			for rc.tok(j).is(',') && rc.tok(j+1).kind == nftWord {
				t.Args[len(t.Args)-1] += "," + rc.tok(j+1).s
				j += 2
			}
			continue
		}
		break
	}
	rc.act(t)
	return j, true
}
