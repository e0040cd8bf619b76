package nftnl

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// This file decompiles a rule's expressions into nft's text. The kernel
// runs a rule as a small register machine: loads (payload, meta, ct,
// numgen, fib ...) put values into 32-bit registers, bitwise rewrites them,
// cmp, range and lookup test them (a failed test ends the rule), and
// statements act, reading addresses, ports and marks from registers. The
// decompiler replays that symbolically: a register holds the expression
// text that produced it ("ip daddr", "meta mark & 0x00004000"), and each
// test or statement becomes one statement of text, as nft's
// netlink_delinearize.c does.
//
// nft hides the dependencies it compiles in: "tcp dport 80" is
// "meta l4proto tcp" then the payload load, and prints as "tcp dport 80".
// Protocol matches (meta l4proto, meta nfproto, meta protocol, ip
// protocol, ether type, meta iiftype) are remembered per header layer; a
// later payload of the layer above drops the one remembered, as nft does.

// Register numbers: NFT_REG_1..4 address 16-byte registers, NFT_REG32_00..15
// 4-byte ones; both index the same 64 bytes.
const (
	nftRegVerdict = 0
	nftReg32Base  = 8
	nftRegSlots   = 16
)

func regSlot(r uint32) (int, bool) {
	switch {
	case r >= 1 && r <= 4:
		return int(r-1) * 4, true
	case r >= nftReg32Base && r < nftReg32Base+nftRegSlots:
		return int(r - nftReg32Base), true
	}
	return 0, false
}

type rvKind uint8

const (
	rvLoad    rvKind = iota // an expression nft prints: payload, meta, ct, map result ...
	rvImm                   // immediate data
	rvBitwise               // (src & mask) ^ xor
)

// rval is what a register holds.
type rval struct {
	kind rvKind
	text string
	typ  *nftType
	size int // bytes

	// payload loads
	base   int // payload base, -1 when not a payload
	proto  *pproto
	field  *pfield
	prefix int // bits of an address field a shorter load covers
	rawOff int // bytes into the header
	dep    depKind

	data      []byte // rvImm
	src       *rval  // rvBitwise
	mask, xor []byte

	ctAddr bool // ct saddr or daddr, which depends on ct l3proto

	// flip is the element size of a byteorder conversion applied to the
	// loaded value: constants compared with it are in the other order.
	flip int
}

// fix undoes a byteorder conversion on data compared with v, so it
// formats in v's own type.
func (v *rval) fix(data []byte) []byte {
	if v.flip == 0 {
		return data
	}
	out := append([]byte(nil), data...)
	for i := 0; i+v.flip <= len(out); i += v.flip {
		slices.Reverse(out[i : i+v.flip])
	}
	return out
}

// depKind is the protocol match a value can be, which nft treats as a
// dependency of the next layer's payloads.
type depKind uint8

const (
	depNone      depKind = iota
	depNFProto           // meta nfproto: network layer
	depProtocol          // meta protocol, ether type: network layer
	depL4Proto           // meta l4proto: transport layer
	depIPProto           // ip protocol, ip6 nexthdr: transport layer
	depIfaceType         // meta iiftype: link layer
	depCtL3              // ct l3proto: for ct saddr and daddr
)

func (k depKind) layer() int {
	switch k {
	case depNFProto, depProtocol:
		return baseNetwork
	case depL4Proto, depIPProto:
		return baseTransport
	case depIfaceType:
		return baseLink
	}
	return -1
}

type rstmt struct {
	text   string
	killed bool
}

// nftRuleDecompiler turns one rule into text; it is reused rule after rule.
type nftRuleDecompiler struct {
	w    *nftWriter
	r    *nftables.Rule
	fam  nftables.TableFamily
	regs [nftRegSlots]*rval // by a value's first slot
	occ  [nftRegSlots]int8  // slot -> first slot of its value, plus 1; 0 free
	out  []rstmt

	l2 bool    // the link layer is ethernet
	l3 *pproto // the network header, if known
	l4 int     // the transport protocol number, -1 if unknown

	deps    [3]int // per layer: the protocol match statement, plus 1
	depKind [3]depKind
	ctL3    *pproto // the conntrack address family, from ct l3proto
	ctDep   int     // the ct l3proto statement, plus 1
}

func (d *nftRuleDecompiler) reset(w *nftWriter, r *nftables.Rule) {
	*d = nftRuleDecompiler{w: w, r: r, fam: w.t.Family, out: d.out[:0], l4: -1}
	switch d.fam {
	case nftables.TableFamilyIPv4:
		d.l3 = protoIP
	case nftables.TableFamilyIPv6:
		d.l3 = protoIP6
	case nftables.TableFamilyBridge:
		d.l2 = true
	}
}

// decompile writes the rule to b as nft prints it, without its handle.
func (d *nftRuleDecompiler) decompile(b *strings.Builder) {
	exprs := d.r.Exprs
	for i := 0; i < len(exprs); i++ {
		i += d.expr(exprs, i)
	}
	first := true
	for _, s := range d.out {
		if s.killed || s.text == "" {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(s.text)
	}
	if c, ok := userdata.GetString(d.r.UserData, userdata.Type(0)); ok && c != "" {
		if !first {
			b.WriteByte(' ')
		}
		b.WriteString("comment " + nftQuote(c))
	}
}

func (d *nftRuleDecompiler) emit(text string) int {
	d.out = append(d.out, rstmt{text: text})
	return len(d.out) - 1
}

// unknown emits what netx cannot decompile as a condition ParseNFT keeps
// as MatchUnknown: expr "description".
func (d *nftRuleDecompiler) unknown(desc string) {
	d.emit(`expr ` + nftQuote(desc))
}

// write stores v in the register r, replacing what it overlaps.
func (d *nftRuleDecompiler) write(r uint32, v *rval) {
	s, ok := regSlot(r)
	if !ok {
		return
	}
	n := max(1, (v.size+3)/4)
	for i := s; i < s+n && i < nftRegSlots; i++ {
		if o := d.occ[i]; o != 0 {
			d.clear(int(o - 1))
		}
	}
	d.regs[s] = v
	for i := s; i < s+n && i < nftRegSlots; i++ {
		d.occ[i] = int8(s + 1)
	}
}

func (d *nftRuleDecompiler) clear(start int) {
	v := d.regs[start]
	d.regs[start] = nil
	n := 1
	if v != nil {
		n = max(1, (v.size+3)/4)
	}
	for i := start; i < start+n && i < nftRegSlots; i++ {
		if d.occ[i] == int8(start+1) {
			d.occ[i] = 0
		}
	}
}

// forget drops every register, after an expression whose effect on them
// is unknown.
func (d *nftRuleDecompiler) forget() {
	d.regs = [nftRegSlots]*rval{}
	d.occ = [nftRegSlots]int8{}
}

// read returns the values that make up n bytes from register r: one value,
// or the parts of a concatenation (each padded to 4 bytes). An immediate
// may be read in part (a NAT port out of a longer register).
func (d *nftRuleDecompiler) read(r uint32, n int) ([]*rval, bool) {
	s, ok := regSlot(r)
	if !ok || n <= 0 {
		return nil, false
	}
	var parts []*rval
	for got := 0; got < n; {
		if s >= nftRegSlots {
			return nil, false
		}
		v := d.regs[s]
		if v == nil {
			return nil, false
		}
		parts = append(parts, v)
		padded := (v.size + 3) &^ 3
		if len(parts) == 1 && n <= v.size {
			return parts, true
		}
		got += padded
		s += padded / 4
		if padded == 0 {
			return nil, false
		}
	}
	return parts, true
}

// read1 reads one value of up to n bytes.
func (d *nftRuleDecompiler) read1(r uint32, n int) (*rval, bool) {
	parts, ok := d.read(r, n)
	if !ok || len(parts) != 1 {
		return nil, false
	}
	return parts[0], true
}

// expr decompiles exprs[i]; it returns how many following expressions it
// consumed too.
func (d *nftRuleDecompiler) expr(exprs []expr.Any, i int) int {
	switch e := exprs[i].(type) {
	case *expr.Payload:
		if e.OperationType == expr.PayloadWrite {
			d.payloadWrite(e)
			return 0
		}
		d.write(e.DestRegister, d.payload(e))
	case *expr.Meta:
		if e.SourceRegister {
			d.metaSet(e)
			return 0
		}
		d.write(e.Register, d.meta(e.Key))
	case *expr.Ct:
		if e.SourceRegister {
			d.ctSet(e)
			return 0
		}
		d.write(e.Register, d.ct(e, false))
	case *CtDirected:
		d.write(e.Register, d.ct(&e.Ct, true))
	case *expr.Numgen:
		text := "numgen inc"
		if e.Type == 1 {
			text = "numgen random"
		}
		text += " mod " + strconv.FormatUint(uint64(e.Modulus), 10)
		if e.Offset != 0 {
			text += " offset " + strconv.FormatUint(uint64(e.Offset), 10)
		}
		d.write(e.Register, &rval{kind: rvLoad, text: text, typ: typeHostInteger, size: 4, base: -1})
	case *expr.Fib:
		d.write(e.Register, d.fib(e))
	case *expr.Hash:
		d.hash(e)
	case *expr.Rt:
		d.write(e.Register, d.rt(e))
	case *expr.Socket:
		d.write(e.Register, d.socket(e))
	case *expr.Exthdr:
		d.exthdr(e)
	case *expr.Immediate:
		if e.Register == nftRegVerdict {
			d.unknown(describeExpr(e))
			return 0
		}
		d.write(e.Register, &rval{kind: rvImm, data: e.Data, size: len(e.Data), base: -1, typ: typeInteger})
	case *expr.Verdict:
		d.emit(verdictText(e))
	case *expr.Bitwise:
		d.bitwise(e)
	case *expr.Byteorder:
		src, ok := d.read1(e.SourceRegister, int(e.Len))
		if !ok || src.kind != rvLoad || e.Size == 0 || (src.flip != 0 && src.flip != int(e.Size)) {
			d.unknown(describeExpr(e))
			d.clear2(e.DestRegister)
			return 0
		}
		v := *src
		if v.flip != 0 {
			v.flip = 0
		} else {
			v.flip = int(e.Size)
		}
		d.write(e.DestRegister, &v)
	case *expr.Cmp:
		return d.cmp(exprs, i, e)
	case *expr.Range:
		d.rangeExpr(e)
	case *expr.Lookup:
		d.lookup(e)
	case *expr.Counter:
		d.emit(fmt.Sprintf("counter packets %d bytes %d", e.Packets, e.Bytes))
	case *expr.Log:
		d.emit(logText(e))
	case *expr.Limit:
		d.emit(limitText(e))
	case *expr.Quota:
		d.emit(quotaText(e))
	case *expr.Reject:
		d.reject(e)
	case *expr.NAT:
		d.nat(e)
	case *expr.Masq:
		t := "masquerade"
		if e.ToPorts {
			t += " to :" + d.ports(e.RegProtoMin, e.RegProtoMax)
		}
		d.emit(t + natFlags(e.Random, e.FullyRandom, e.Persistent))
	case *expr.Redir:
		t := "redirect"
		if e.RegisterProtoMin != 0 {
			t += " to :" + d.ports(e.RegisterProtoMin, e.RegisterProtoMax)
		}
		d.emit(t + natFlags(e.Flags&4 != 0, e.Flags&16 != 0, e.Flags&8 != 0))
	case *expr.Notrack:
		d.emit("notrack")
	case *expr.Objref:
		d.objref(e)
	case *expr.Dynset:
		d.dynset(e)
	case *expr.Queue:
		t := "queue"
		var fl []string
		if e.Flag&expr.QueueFlagBypass != 0 {
			fl = append(fl, "bypass")
		}
		if e.Flag&expr.QueueFlagFanout != 0 {
			fl = append(fl, "fanout")
		}
		if len(fl) > 0 {
			t += " flags " + strings.Join(fl, ",")
		}
		t += " to " + strconv.Itoa(int(e.Num))
		if e.Total > 1 {
			t += "-" + strconv.Itoa(int(e.Num)+int(e.Total)-1)
		}
		d.emit(t)
	case *expr.Connlimit:
		t := "ct count "
		if e.Flags&1 != 0 {
			t += "over "
		}
		d.emit(t + strconv.FormatUint(uint64(e.Count), 10))
	case *expr.Dup:
		d.dup(e)
	case *expr.TProxy:
		d.tproxy(e)
	case *expr.SynProxy:
		t := fmt.Sprintf("synproxy mss %d wscale %d", e.Mss, e.Wscale)
		if e.Timestamp {
			t += " timestamp"
		}
		if e.SackPerm {
			t += " sack-perm"
		}
		d.emit(t)
	case *expr.FlowOffload:
		d.emit("flow add @" + nftIdent(e.Name))
	case *expr.Match:
		d.emit(`xt match ` + nftQuote(e.Name))
	case *expr.Target:
		d.emit(`xt target ` + nftQuote(e.Name))
	case *UnknownExpr:
		d.unknown(describeExpr(e))
		d.forget()
	default:
		d.unknown(describeExpr(e))
		d.forget()
	}
	return 0
}

// describeExpr prints an expression for an unknown statement, close to
// nft --debug=netlink.
func describeExpr(e expr.Any) string {
	switch e := e.(type) {
	case *UnknownExpr:
		return fmt.Sprintf("%s %x", e.Name, e.Data)
	case *expr.Payload:
		op := "load"
		if e.OperationType == expr.PayloadWrite {
			op = "write"
		}
		return fmt.Sprintf("payload %s %db @ %s + %d reg %d/%d", op, e.Len, [...]string{"link header", "network header", "transport header", "inner header"}[min(int(e.Base), 3)], e.Offset, e.DestRegister, e.SourceRegister)
	case *expr.Cmp:
		return fmt.Sprintf("cmp op %d reg %d 0x%x", e.Op, e.Register, e.Data)
	case *expr.Immediate:
		return fmt.Sprintf("immediate reg %d 0x%x", e.Register, e.Data)
	case *expr.Lookup:
		return fmt.Sprintf("lookup reg %d set %s dreg %d invert %v", e.SourceRegister, e.SetName, e.DestRegister, e.Invert)
	}
	s := fmt.Sprintf("%T %+v", e, e)
	s = strings.TrimPrefix(s, "*expr.")
	s = strings.TrimPrefix(s, "*nftnl.")
	return s
}

// kill drops the dependency remembered for a payload of layer base, as
// nft does when it prints the payload: "tcp dport" stands for
// "meta l4proto tcp" too.
func (d *nftRuleDecompiler) kill(v *rval) {
	if v != nil && v.ctAddr && d.ctDep != 0 {
		d.out[d.ctDep-1].killed = true
		d.ctDep = 0
	}
	if v == nil || v.base < 0 || v.proto == nil || v.base > baseTransport {
		return
	}
	b := v.base
	if d.deps[b] == 0 {
		return
	}
	// In families that carry both IP versions, "ip protocol tcp" also says
	// IPv4: tcp dport does not imply it, so nft keeps it.
	if b == baseTransport && d.depKind[b] == depIPProto {
		switch d.fam {
		case nftables.TableFamilyINet, nftables.TableFamilyBridge, nftables.TableFamilyNetdev:
			return
		}
	}
	d.out[d.deps[b]-1].killed = true
	d.deps[b] = 0
}

func (d *nftRuleDecompiler) killAll(vs []*rval) {
	for _, v := range vs {
		d.kill(v)
		if v.kind == rvBitwise {
			d.kill(v.src)
		}
	}
}

// protocolMatch records an equality test of a protocol key: it sets the
// layer's context (so later payloads are named) and is remembered as the
// dependency nft may drop.
func (d *nftRuleDecompiler) protocolMatch(v *rval, data []byte, stmt int) {
	val := uintOf(data, v.typ != nil && v.typ.host)
	switch v.dep {
	case depCtL3:
		switch val {
		case 2:
			d.ctL3 = protoIP
		case 10:
			d.ctL3 = protoIP6
		}
		d.ctDep = stmt + 1
		return
	case depNFProto:
		switch val {
		case 2:
			d.l3 = protoIP
		case 10:
			d.l3 = protoIP6
		}
	case depProtocol:
		switch val {
		case 0x0800:
			d.l3 = protoIP
		case 0x86dd:
			d.l3 = protoIP6
		}
	case depL4Proto, depIPProto:
		// meta l4proto icmp says IPv4 as well: nft drops the
		// meta nfproto ipv4 it compiled in for it.
		if v.dep == depL4Proto && d.deps[baseNetwork] != 0 && d.depKind[baseNetwork] == depNFProto &&
			((val == 1 && d.l3 == protoIP) || (val == 58 && d.l3 == protoIP6)) {
			d.out[d.deps[baseNetwork]-1].killed = true
			d.deps[baseNetwork] = 0
		}
		d.l4 = int(val)
	case depIfaceType:
		d.l2 = val == 1
	}
	l := v.dep.layer()
	d.deps[l] = stmt + 1
	d.depKind[l] = v.dep
}

func (d *nftRuleDecompiler) payload(e *expr.Payload) *rval {
	off, n := int(e.Offset), int(e.Len)
	var p *pproto
	switch e.Base {
	case expr.PayloadBaseLLHeader:
		if d.l2 {
			p = protoEther
		}
	case expr.PayloadBaseNetworkHeader:
		p = d.l3
	case expr.PayloadBaseTransportHeader:
		if d.l4 >= 0 {
			p = l4Proto(d.l4)
		} else {
			p = protoTH
		}
	}
	v := &rval{kind: rvLoad, size: n, base: int(e.Base), rawOff: off}
	if p != nil {
		if fl := p.field(off*8, n*8); fl != nil {
			v.proto, v.field, v.typ = p, fl, fl.typ
			v.text = p.name + " " + fl.name
			switch {
			case p == protoIP && fl.name == "protocol", p == protoIP6 && fl.name == "nexthdr":
				v.dep = depIPProto
			case p == protoEther && fl.name == "type":
				v.dep = depProtocol
			}
			return v
		}
		if fl := p.prefixOf(off*8, n*8); fl != nil {
			v.proto, v.field, v.typ, v.prefix = p, fl, fl.typ, n*8
			v.text = p.name + " " + fl.name
			return v
		}
		v.proto = p // a part of a known header: printed raw, but bitfields resolve
	}
	v.text = rawPayload(int(e.Base), off*8, n*8)
	v.typ = typeXInteger
	return v
}

var typeXInteger = &nftType{id: nftTypeInteger, name: "integer", print: printHex}

func rawPayload(base, off, n int) string {
	b := "ll"
	switch base {
	case baseNetwork:
		b = "nh"
	case baseTransport:
		b = "th"
	case 3:
		b = "ih"
	}
	return fmt.Sprintf("@%s,%d,%d", b, off, n)
}

// metaKey describes a meta key: its nft name, type, and whether nft
// prints it without "meta " (iifname, oif ...).
type metaKey struct {
	name        string
	typ         *nftType
	unqualified bool
	dep         depKind
}

var metaKeys = map[expr.MetaKey]metaKey{
	expr.MetaKeyLEN:        {"length", typeHostInteger, false, 0},
	expr.MetaKeyPROTOCOL:   {"protocol", typeEtherType, false, depProtocol},
	expr.MetaKeyPRIORITY:   {"priority", typeClassID, false, 0},
	expr.MetaKeyMARK:       {"mark", typeMark, false, 0},
	expr.MetaKeyIIF:        {"iif", typeIfIndex, true, 0},
	expr.MetaKeyOIF:        {"oif", typeIfIndex, true, 0},
	expr.MetaKeyIIFNAME:    {"iifname", typeIfName, true, 0},
	expr.MetaKeyOIFNAME:    {"oifname", typeIfName, true, 0},
	expr.MetaKeyIIFTYPE:    {"iiftype", typeIfaceType, false, depIfaceType},
	expr.MetaKeyOIFTYPE:    {"oiftype", typeIfaceType, false, 0},
	expr.MetaKeySKUID:      {"skuid", typeUID, false, 0},
	expr.MetaKeySKGID:      {"skgid", typeGID, false, 0},
	expr.MetaKeyNFTRACE:    {"nftrace", typeHostInteger, false, 0},
	expr.MetaKeyRTCLASSID:  {"rtclassid", typeRealm, false, 0},
	expr.MetaKeySECMARK:    {"secmark", typeHostInteger, false, 0},
	expr.MetaKeyNFPROTO:    {"nfproto", typeNFProto, false, depNFProto},
	expr.MetaKeyL4PROTO:    {"l4proto", typeInetProto, false, depL4Proto},
	expr.MetaKeyBRIIIFNAME: {"ibrname", typeIfName, false, 0},
	expr.MetaKeyBRIOIFNAME: {"obrname", typeIfName, false, 0},
	expr.MetaKeyPKTTYPE:    {"pkttype", typePktType, false, 0},
	expr.MetaKeyCPU:        {"cpu", typeHostInteger, false, 0},
	expr.MetaKeyIIFGROUP:   {"iifgroup", typeDevGroup, true, 0},
	expr.MetaKeyOIFGROUP:   {"oifgroup", typeDevGroup, true, 0},
	expr.MetaKeyCGROUP:     {"cgroup", typeHostInteger, false, 0},
	expr.MetaKeyPRANDOM:    {"random", typeInteger, false, 0},
	25:                     {"ipsec", typeBoolean, false, 0},
	26:                     {"iifkind", typeIfName, false, 0},
	27:                     {"oifkind", typeIfName, false, 0},
	28:                     {"ibrpvid", typeHostInteger, false, 0},
	29:                     {"ibrvproto", typeEtherType, false, 0},
	30:                     {"time", typeHostInteger, false, 0},
	31:                     {"day", typeHostInteger, false, 0},
	32:                     {"hour", typeHostInteger, false, 0},
	33:                     {"sdif", typeIfIndex, false, 0},
	34:                     {"sdifname", typeIfName, false, 0},
	35:                     {"broute", typeHostInteger, false, 0},
}

func metaText(k expr.MetaKey) (metaKey, string) {
	mk, ok := metaKeys[k]
	if !ok {
		return metaKey{name: fmt.Sprintf("key%d", k), typ: typeHostInteger}, fmt.Sprintf("meta key%d", k)
	}
	if mk.unqualified {
		return mk, mk.name
	}
	return mk, "meta " + mk.name
}

func (d *nftRuleDecompiler) meta(k expr.MetaKey) *rval {
	mk, text := metaText(k)
	size := mk.typ.size
	if size == 0 {
		size = 4
	}
	if k == expr.MetaKeyNFTRACE || k == 25 {
		size = 1
	}
	return &rval{kind: rvLoad, text: text, typ: mk.typ, size: size, base: -1, dep: mk.dep}
}

// ctKey describes a ct key; dir says the key takes a direction.
type ctKey struct {
	name string
	typ  *nftType
	size int
	dir  bool
}

var ctKeys = map[expr.CtKey]ctKey{
	expr.CtKeySTATE:      {"state", typeCTState, 4, false},
	expr.CtKeyDIRECTION:  {"direction", typeCTDir, 1, false},
	expr.CtKeySTATUS:     {"status", typeCTStatus, 4, false},
	expr.CtKeyMARK:       {"mark", typeMark, 4, false},
	expr.CtKeySECMARK:    {"secmark", typeHostInteger, 4, false},
	expr.CtKeyEXPIRATION: {"expiration", typeTime, 4, false},
	expr.CtKeyHELPER:     {"helper", typeString, 16, false},
	expr.CtKeyL3PROTOCOL: {"l3proto", typeNFProto, 1, false},
	expr.CtKeySRC:        {"saddr", nil, 0, true},
	expr.CtKeyDST:        {"daddr", nil, 0, true},
	expr.CtKeyPROTOCOL:   {"protocol", typeInetProto, 1, false},
	expr.CtKeyPROTOSRC:   {"proto-src", typeService, 2, true},
	expr.CtKeyPROTODST:   {"proto-dst", typeService, 2, true},
	expr.CtKeyLABELS:     {"label", typeCTLabel, 16, false},
	expr.CtKeyPKTS:       {"packets", typeHostInteger, 8, false},
	expr.CtKeyBYTES:      {"bytes", typeHostInteger, 8, false},
	expr.CtKeyAVGPKT:     {"avgpkt", typeHostInteger, 8, false},
	expr.CtKeyZONE:       {"zone", typeHostInteger, 2, false},
	expr.CtKeyEVENTMASK:  {"event", typeCTEvent, 4, false},
	19:                   {"ip saddr", typeIPv4, 4, true},
	20:                   {"ip daddr", typeIPv4, 4, true},
	21:                   {"ip6 saddr", typeIPv6, 16, true},
	22:                   {"ip6 daddr", typeIPv6, 16, true},
	23:                   {"id", typeInteger, 4, false},
}

// ct loads a conntrack key; directed says the direction attribute was
// there for a key where it is optional.
func (d *nftRuleDecompiler) ct(e *expr.Ct, directed bool) *rval {
	ck, ok := ctKeys[e.Key]
	if !ok {
		return &rval{kind: rvLoad, text: fmt.Sprintf("ct key%d", e.Key), typ: typeHostInteger, size: 4, base: -1}
	}
	typ, size, name := ck.typ, ck.size, ck.name
	ctAddr := typ == nil
	if ctAddr { // saddr, daddr: the address family of ct l3proto, or the table's
		l3 := d.ctL3
		if l3 == nil {
			l3 = d.l3
		}
		typ, size, name = typeIPv4, 4, "ip "+ck.name
		if l3 == protoIP6 {
			typ, size, name = typeIPv6, 16, "ip6 "+ck.name
		}
	}
	text := "ct "
	if ck.dir || directed {
		if e.Direction == 1 {
			text += "reply "
		} else {
			text += "original "
		}
	}
	v := &rval{kind: rvLoad, text: text + name, typ: typ, size: size, base: -1, ctAddr: ctAddr}
	if e.Key == expr.CtKeyL3PROTOCOL {
		v.dep = depCtL3
	}
	return v
}

func (d *nftRuleDecompiler) fib(e *expr.Fib) *rval {
	var parts []string
	if e.FlagSADDR {
		parts = append(parts, "saddr")
	}
	if e.FlagDADDR {
		parts = append(parts, "daddr")
	}
	if e.FlagMARK {
		parts = append(parts, "mark")
	}
	if e.FlagIIF {
		parts = append(parts, "iif")
	}
	if e.FlagOIF {
		parts = append(parts, "oif")
	}
	v := &rval{kind: rvLoad, base: -1}
	switch {
	case e.ResultOIF:
		v.text, v.typ, v.size = "oif", typeIfIndex, 4
	case e.ResultOIFNAME:
		v.text, v.typ, v.size = "oifname", typeIfName, 16
	default:
		v.text, v.typ, v.size = "type", typeFIBAddr, 4
	}
	if e.FlagPRESENT {
		v.typ, v.size = typeBoolean, 1
	}
	v.text = "fib " + strings.Join(parts, " . ") + " " + v.text
	return v
}

func (d *nftRuleDecompiler) hash(e *expr.Hash) {
	var text string
	if e.Type == expr.HashTypeSym {
		text = "symhash"
	} else {
		parts, ok := d.read(e.SourceRegister, int(e.Length))
		if !ok {
			d.unknown(describeExpr(e))
			d.write(e.DestRegister, &rval{kind: rvLoad, text: "jhash", typ: typeHostInteger, size: 4, base: -1})
			return
		}
		d.killAll(parts)
		text = "jhash " + concatText(parts)
	}
	text += " mod " + strconv.FormatUint(uint64(e.Modulus), 10)
	if e.Seed != 0 {
		text += fmt.Sprintf(" seed 0x%x", e.Seed)
	}
	if e.Offset != 0 {
		text += " offset " + strconv.FormatUint(uint64(e.Offset), 10)
	}
	d.write(e.DestRegister, &rval{kind: rvLoad, text: text, typ: typeHostInteger, size: 4, base: -1})
}

func (d *nftRuleDecompiler) rt(e *expr.Rt) *rval {
	v := &rval{kind: rvLoad, base: -1}
	switch e.Key {
	case expr.RtClassid:
		v.text, v.typ, v.size = "rt classid", typeRealm, 4
	case expr.RtNexthop4:
		v.text, v.typ, v.size = "rt nexthop", typeIPv4, 4
		if d.fam == nftables.TableFamilyINet {
			v.text = "rt ip nexthop"
		}
	case expr.RtNexthop6:
		v.text, v.typ, v.size = "rt nexthop", typeIPv6, 16
		if d.fam == nftables.TableFamilyINet {
			v.text = "rt ip6 nexthop"
		}
	case expr.RtTCPMSS:
		v.text, v.typ, v.size = "rt mtu", typeHostInteger, 2
	case 4:
		v.text, v.typ, v.size = "rt ipsec", typeBoolean, 1
	default:
		v.text, v.typ, v.size = fmt.Sprintf("rt key%d", e.Key), typeHostInteger, 4
	}
	return v
}

func (d *nftRuleDecompiler) socket(e *expr.Socket) *rval {
	v := &rval{kind: rvLoad, base: -1}
	switch e.Key {
	case expr.SocketKeyTransparent:
		v.text, v.typ, v.size = "socket transparent", typeHostInteger, 1
	case expr.SocketKeyMark:
		v.text, v.typ, v.size = "socket mark", typeMark, 4
	case expr.SocketKeyWildcard:
		v.text, v.typ, v.size = "socket wildcard", typeHostInteger, 1
	case expr.SocketKeyCgroupv2:
		v.text, v.typ, v.size = fmt.Sprintf("socket cgroupv2 level %d", e.Level), typeHostInteger, 8
	default:
		v.text, v.typ, v.size = fmt.Sprintf("socket key%d", e.Key), typeHostInteger, 4
	}
	return v
}

// tcpOptions names TCP option kinds and the fields nft knows of them.
var tcpOptions = map[uint8]struct {
	name   string
	fields map[[2]uint32]string // offset, length -> field
}{
	0:  {"eol", nil},
	1:  {"nop", nil},
	2:  {"maxseg", map[[2]uint32]string{{1, 1}: "length", {2, 2}: "size"}},
	3:  {"window", map[[2]uint32]string{{1, 1}: "length", {2, 1}: "count"}},
	4:  {"sack-perm", map[[2]uint32]string{{1, 1}: "length"}},
	5:  {"sack", map[[2]uint32]string{{1, 1}: "length", {2, 4}: "left", {6, 4}: "right"}},
	8:  {"timestamp", map[[2]uint32]string{{1, 1}: "length", {2, 4}: "tsval", {6, 4}: "tsecr"}},
	30: {"mptcp", nil},
}

func (d *nftRuleDecompiler) exthdr(e *expr.Exthdr) {
	var text string
	typ, size := typeHostInteger, int(e.Len)
	present := e.Flags&1 != 0 // NFT_EXTHDR_F_PRESENT
	switch e.Op {
	case expr.ExthdrOpTcpopt:
		opt, ok := tcpOptions[e.Type]
		name := opt.name
		if !ok {
			name = strconv.Itoa(int(e.Type))
		}
		text = "tcp option " + name
		if !present {
			if fld, ok := opt.fields[[2]uint32{e.Offset, e.Len}]; ok {
				text += " " + fld
			} else {
				text = fmt.Sprintf("tcp option @%d,%d,%d", e.Type, e.Offset*8, e.Len*8)
			}
			typ = typeInteger
		}
	case expr.ExthdrOpIpv6:
		names := map[uint8]string{0: "hbh", 43: "rt", 44: "frag", 60: "dst", 135: "mh"}
		name, ok := names[e.Type]
		if !ok {
			name = strconv.Itoa(int(e.Type))
		}
		text = "exthdr " + name
		if !present {
			text = fmt.Sprintf("exthdr @%s,%d,%d", name, e.Offset*8, e.Len*8)
			typ = typeInteger
		}
	default:
		text = fmt.Sprintf("exthdr op%d @%d,%d,%d", e.Op, e.Type, e.Offset*8, e.Len*8)
		typ = typeInteger
	}
	if present {
		typ, size = typeBoolean, 1
	}
	if e.SourceRegister != 0 {
		v, ok := d.read1(e.SourceRegister, int(e.Len))
		if !ok {
			d.unknown(describeExpr(e))
			return
		}
		d.emit(text + " set " + d.valueText(v, typ))
		return
	}
	d.write(e.DestRegister, &rval{kind: rvLoad, text: text, typ: typ, size: size, base: -1})
}

func (d *nftRuleDecompiler) bitwise(e *expr.Bitwise) {
	src, ok := d.read1(e.SourceRegister, int(e.Len))
	if !ok || len(e.Mask) != int(e.Len) || len(e.Xor) != int(e.Len) {
		d.unknown(describeExpr(e))
		d.clear2(e.DestRegister)
		return
	}
	v := &rval{kind: rvBitwise, src: src, mask: e.Mask, xor: e.Xor, size: int(e.Len), typ: src.typ, base: -1}
	if src.kind == rvBitwise {
		// (x & m1 ^ x1) & m2 ^ x2 == x & (m1&m2) ^ (x1&m2 ^ x2)
		m := make([]byte, len(e.Mask))
		x := make([]byte, len(e.Mask))
		for i := range m {
			m[i] = src.mask[i] & e.Mask[i]
			x[i] = src.xor[i]&e.Mask[i] ^ e.Xor[i]
		}
		v.src, v.mask, v.xor = src.src, m, x
	}
	d.write(e.DestRegister, v)
}

func (d *nftRuleDecompiler) clear2(r uint32) {
	if s, ok := regSlot(r); ok && d.occ[s] != 0 {
		d.clear(int(d.occ[s] - 1))
	}
}

// cmpOp is nft's spelling of a comparison; eq prints nothing unless the
// type is a bitmask, where it would read as a flag test.
func cmpOp(op expr.CmpOp, explicitEq bool) string {
	switch op {
	case expr.CmpOpEq:
		if explicitEq {
			return "== "
		}
		return ""
	case expr.CmpOpNeq:
		return "!= "
	case expr.CmpOpLt:
		return "< "
	case expr.CmpOpLte:
		return "<= "
	case expr.CmpOpGt:
		return "> "
	case expr.CmpOpGte:
		return ">= "
	}
	return fmt.Sprintf("op%d ", op)
}

func (d *nftRuleDecompiler) cmp(exprs []expr.Any, i int, e *expr.Cmp) int {
	parts, ok := d.read(e.Register, len(e.Data))
	if !ok {
		d.unknown(describeExpr(e))
		return 0
	}
	// Two comparisons, >= lo and <= hi, are a range.
	if e.Op == expr.CmpOpGte && i+1 < len(exprs) {
		if hi, ok := exprs[i+1].(*expr.Cmp); ok && hi.Op == expr.CmpOpLte && hi.Register == e.Register && len(hi.Data) == len(e.Data) && len(parts) == 1 && parts[0].kind != rvBitwise {
			v := parts[0]
			d.killAll(parts)
			d.emit(v.text + " " + v.typ.format(v.fix(e.Data)) + "-" + v.typ.format(v.fix(hi.Data)))
			return 1
		}
	}
	d.killAll(parts)
	if len(parts) > 1 {
		d.emit(concatText(parts) + " " + cmpOp(e.Op, false) + concatValue(parts, e.Data))
		return 0
	}
	v := parts[0]
	if v.kind == rvBitwise {
		d.emit(d.bitwiseMatch(v, e.Op, e.Data))
		return 0
	}
	if v.kind == rvImm {
		d.unknown(describeExpr(e))
		return 0
	}
	if e.Op == expr.CmpOpEq && v.field == nil && v.proto != nil && v.proto != protoTH && v.flip == 0 {
		// A load spanning several fields, as nft merges adjacent
		// matches: "tcp sport 90 tcp dport 80" is one 4-byte compare.
		if texts, ok := expandPayload(v, e.Data); ok {
			for _, t := range texts {
				d.emit(t)
			}
			return 0
		}
	}
	text := v.text + " " + cmpOp(e.Op, v.typ != nil && v.typ.bitmask) + d.valueOf(v, e.Data)
	idx := d.emit(text)
	if e.Op == expr.CmpOpEq && v.dep != depNone && v.prefix == 0 {
		d.protocolMatch(v, e.Data, idx)
	}
	return 0
}

// valueOf formats data compared with v: a prefix for a partial address
// load, a wildcard for a partial interface name, else by v's type.
func (d *nftRuleDecompiler) valueOf(v *rval, data []byte) string {
	switch {
	case v.prefix > 0 && v.field != nil:
		full := make([]byte, v.field.bitLen/8)
		copy(full, data)
		return v.typ.format(full) + "/" + strconv.Itoa(v.prefix)
	case v.typ == typeIfName && len(data) < 16 && !containsZero(data):
		q := printQuoted(data, true)
		return q[:len(q)-1] + `*"`
	case v.typ == typeIfIndex && d.w.ifnames != nil:
		if name, ok := d.w.ifnames[uint32(uintOf(data, true))]; ok {
			return `"` + name + `"`
		}
	}
	if len(data) > v.size && v.size > 0 {
		data = data[:v.size]
	}
	return v.typ.format(v.fix(data))
}

// expandPayload splits a compare of a load spanning consecutive whole
// fields of its header into one compare per field.
func expandPayload(v *rval, data []byte) ([]string, bool) {
	off, end := v.rawOff*8, (v.rawOff+v.size)*8
	var out []string
	for off < end {
		var fl *pfield
		for i := range v.proto.fields {
			c := &v.proto.fields[i]
			if c.bitOff == off && c.bitLen%8 == 0 && off+c.bitLen <= end {
				fl = c
				break
			}
		}
		if fl == nil {
			return nil, false
		}
		lo := (off - v.rawOff*8) / 8
		out = append(out, v.proto.name+" "+fl.name+" "+fl.typ.format(data[lo:lo+fl.bitLen/8]))
		off += fl.bitLen
	}
	return out, len(out) > 1
}

func containsZero(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			return true
		}
	}
	return false
}

// concatText joins the parts of a concatenation as nft writes them.
func concatText(parts []*rval) string {
	texts := make([]string, len(parts))
	for i, p := range parts {
		texts[i] = p.text
	}
	return strings.Join(texts, " . ")
}

// concatValue formats data holding one value per part, each padded to 4
// bytes.
func concatValue(parts []*rval, data []byte) string {
	texts := make([]string, len(parts))
	off := 0
	for i, p := range parts {
		end := off + p.size
		if end > len(data) {
			return printHex(data, false)
		}
		texts[i] = p.typ.format(data[off:end])
		off += (p.size + 3) &^ 3
	}
	return strings.Join(texts, " . ")
}

// bitwiseMatch prints a comparison of (x & mask) ^ xor, as nft does: a
// prefix of an address, a bit field of a header, a flag test, or
// "x & mask == value".
func (d *nftRuleDecompiler) bitwiseMatch(v *rval, op expr.CmpOp, data []byte) string {
	src := v.src
	zeroXor := isZero(v.xor)
	if zeroXor && (op == expr.CmpOpEq || op == expr.CmpOpNeq) {
		// A prefix of an address field.
		if src.field != nil && src.field.typ.prefix {
			// The load starts at the field, whole or only its first bytes.
			if n, ok := leadingOnes(v.mask); ok {
				full := make([]byte, src.field.bitLen/8)
				copy(full, data)
				neg := ""
				if op == expr.CmpOpNeq {
					neg = "!= "
				}
				return src.text + " " + neg + src.field.typ.format(full) + "/" + strconv.Itoa(n)
			}
		}
		// A bit field narrower than the bytes loaded (ip dscp).
		if src.proto != nil && src.kind == rvLoad {
			if lo, n, ok := bitRun(v.mask); ok {
				bitOff := src.rawOff*8 + len(v.mask)*8 - lo - n
				if fl := src.proto.field(bitOff, n); fl != nil {
					val := uintOf(data, false) >> lo
					neg := ""
					if op == expr.CmpOpNeq {
						neg = "!= "
					}
					d.kill(src)
					return src.proto.name + " " + fl.name + " " + neg + fl.typ.format(putUint(val, 1, false))
				}
			}
		}
		// A flag test on a bitmask type.
		if src.typ != nil && src.typ.bitmask {
			m := uintOf(v.mask, src.typ.host)
			val := uintOf(data, src.typ.host)
			switch {
			case val == 0 && op == expr.CmpOpNeq:
				return src.text + " " + src.typ.flags(m)
			case val == 0:
				return src.text + " ! " + src.typ.flags(m)
			case val == m:
				return src.text + " & " + src.typ.flags(m) + " " + cmpOp(op, true) + src.typ.flags(val)
			default:
				return src.text + " " + cmpOp(op, false) + src.typ.flags(val) + " / " + src.typ.flags(m)
			}
		}
	}
	t := src.typ
	text := src.text + " & " + t.format(v.mask)
	if !zeroXor {
		text += " ^ " + t.format(v.xor)
	}
	return text + " " + cmpOp(op, true) + t.format(data)
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// leadingOnes reports whether mask (network order) is a run of ones from
// its first bit, and its length.
func leadingOnes(mask []byte) (int, bool) {
	n := 0
	i := 0
	for ; i < len(mask) && mask[i] == 0xff; i++ {
		n += 8
	}
	if i < len(mask) {
		l := bits.LeadingZeros8(^mask[i])
		if mask[i] != byte(0xff<<(8-l)) {
			return 0, false
		}
		n += l
		for i++; i < len(mask); i++ {
			if mask[i] != 0 {
				return 0, false
			}
		}
	}
	return n, true
}

// bitRun reports whether mask (network order, up to 8 bytes) is one run of
// ones: lo is its lowest bit, n its length.
func bitRun(mask []byte) (lo, n int, ok bool) {
	if len(mask) > 8 {
		return 0, 0, false
	}
	m := uintOf(mask, false)
	if m == 0 {
		return 0, 0, false
	}
	lo = bits.TrailingZeros64(m)
	m >>= lo
	n = bits.TrailingZeros64(^m)
	return lo, n, m>>n == 0
}

func (d *nftRuleDecompiler) rangeExpr(e *expr.Range) {
	v, ok := d.read1(e.Register, len(e.FromData))
	if !ok || v.kind != rvLoad {
		d.unknown(describeExpr(e))
		return
	}
	d.kill(v)
	neg := ""
	if e.Op == expr.CmpOpNeq {
		neg = "!= "
	}
	d.emit(v.text + " " + neg + v.typ.format(v.fix(e.FromData)) + "-" + v.typ.format(v.fix(e.ToData)))
}

// setRef prints a lookup's set: @name, or an anonymous set's elements.
func (d *nftRuleDecompiler) setRef(s *Set) string {
	if (s.Anonymous || s.Flags&nftSetAnonymous != 0) && !s.Lazy {
		return d.w.elements(s)
	}
	return "@" + nftIdent(s.Name)
}

func (d *nftRuleDecompiler) lookup(e *expr.Lookup) {
	s := d.w.sets[e.SetName]
	if s == nil {
		d.unknown(describeExpr(e))
		d.clear2(e.DestRegister)
		return
	}
	parts, ok := d.read(e.SourceRegister, int(s.KeyLen))
	if !ok {
		d.unknown(describeExpr(e))
		d.clear2(e.DestRegister)
		return
	}
	d.killAll(parts)
	key := concatText(parts)
	ref := d.setRef(s)
	switch {
	case e.IsDestRegSet && e.DestRegister == nftRegVerdict:
		d.emit(key + " vmap " + ref)
	case e.IsDestRegSet:
		types := splitConcatType(s.DataTypeID)
		typ := typeInteger
		if len(types) == 1 && types[0] != nil {
			typ = types[0]
		}
		d.write(e.DestRegister, &rval{kind: rvLoad, text: key + " map " + ref, typ: typ, size: int(s.DataLen), base: -1})
	default:
		neg := ""
		if e.Invert {
			neg = "!= "
		}
		d.emit(key + " " + neg + ref)
	}
}

// valueText prints a register value used by a statement: an immediate in
// the given type, or the expression that computed it.
func (d *nftRuleDecompiler) valueText(v *rval, typ *nftType) string {
	switch v.kind {
	case rvImm:
		if typ == typeIfIndex && d.w.ifnames != nil {
			if name, ok := d.w.ifnames[uint32(uintOf(v.data, true))]; ok {
				return `"` + name + `"`
			}
		}
		return typ.format(v.data)
	case rvBitwise:
		return bitwiseValue(v)
	}
	return v.text
}

// bitwiseValue prints (x & mask) ^ xor as a value, as nft does for
// "meta mark set meta mark | 0x4000": with no bit both kept and set it is
// x & (mask|xor) | xor, else x & mask ^ xor; parts that do nothing are
// left out.
func bitwiseValue(v *rval) string {
	t := v.src.typ
	text := v.src.text
	n := len(v.mask)
	and := make([]byte, n)
	overlap := false
	allOnes := true
	for i := range n {
		if v.mask[i]&v.xor[i] != 0 {
			overlap = true
		}
	}
	if !overlap {
		for i := range n {
			and[i] = v.mask[i] | v.xor[i]
		}
	} else {
		copy(and, v.mask)
	}
	for _, c := range and {
		if c != 0xff {
			allOnes = false
		}
	}
	if !allOnes {
		text += " & " + t.format(and)
	}
	if !isZero(v.xor) {
		if overlap {
			text += " ^ " + t.format(v.xor)
		} else {
			text += " | " + t.format(v.xor)
		}
	}
	return text
}

func (d *nftRuleDecompiler) metaSet(e *expr.Meta) {
	mk, text := metaText(e.Key)
	size := mk.typ.size
	if size == 0 || e.Key == expr.MetaKeyNFTRACE {
		size = 1
	}
	v, ok := d.read1(e.Register, size)
	if !ok {
		d.unknown(describeExpr(e))
		return
	}
	if v.kind == rvBitwise {
		d.kill(v.src)
	} else {
		d.kill(v)
	}
	d.emit(text + " set " + d.valueText(v, mk.typ))
}

func (d *nftRuleDecompiler) ctSet(e *expr.Ct) {
	ck, ok := ctKeys[e.Key]
	if !ok || ck.typ == nil {
		d.unknown(describeExpr(e))
		return
	}
	v, ok := d.read1(e.Register, ck.size)
	if !ok {
		d.unknown(describeExpr(e))
		return
	}
	text := "ct " + ck.name
	if e.Key == expr.CtKeyEVENTMASK {
		text = "ct event"
	}
	d.emit(text + " set " + d.valueText(v, ck.typ))
}

func (d *nftRuleDecompiler) payloadWrite(e *expr.Payload) {
	w := d.payload(&expr.Payload{Base: e.Base, Offset: e.Offset, Len: e.Len})
	v, ok := d.read1(e.SourceRegister, int(e.Len))
	if !ok || w.field == nil || w.prefix > 0 {
		d.unknown(describeExpr(e))
		return
	}
	d.kill(w)
	d.emit(w.text + " set " + d.valueText(v, w.typ))
}

// ports prints a NAT port or port range held in registers lo and hi.
func (d *nftRuleDecompiler) ports(lo, hi uint32) string {
	a, ok := d.read1(lo, 2)
	if !ok {
		return "?"
	}
	text := d.valueText(a, typeService)
	if hi != 0 && hi != lo {
		if b, ok := d.read1(hi, 2); ok {
			if bt := d.valueText(b, typeService); bt != text {
				text += "-" + bt
			}
		}
	}
	return text
}

func natFlags(random, fully, persistent bool) string {
	var fl []string
	if random {
		fl = append(fl, "random")
	}
	if fully {
		fl = append(fl, "fully-random")
	}
	if persistent {
		fl = append(fl, "persistent")
	}
	if len(fl) == 0 {
		return ""
	}
	return " " + strings.Join(fl, ",")
}

func (d *nftRuleDecompiler) nat(e *expr.NAT) {
	t := "snat"
	if e.Type == expr.NATTypeDestNAT {
		t = "dnat"
	}
	addrType, alen, famName := typeIPv4, 4, "ip"
	if e.Family == 10 {
		addrType, alen, famName = typeIPv6, 16, "ip6"
	}
	switch d.fam {
	case nftables.TableFamilyINet, nftables.TableFamilyBridge, nftables.TableFamilyNetdev:
		if e.RegAddrMin != 0 {
			t += " " + famName
		}
	}
	if e.Prefix {
		t += " prefix"
	}
	t += " to "
	addr := ""
	if e.RegAddrMin != 0 {
		a, ok := d.read1(e.RegAddrMin, alen)
		if !ok {
			d.unknown(describeExpr(e))
			return
		}
		addr = d.valueText(a, addrType)
		if e.RegAddrMax != 0 && e.RegAddrMax != e.RegAddrMin {
			if b, ok := d.read1(e.RegAddrMax, alen); ok {
				if bt := d.valueText(b, addrType); bt != addr {
					addr += "-" + bt
				}
			}
		}
	}
	if e.RegProtoMin != 0 {
		if alen == 16 && addr != "" {
			addr = "[" + addr + "]"
		}
		addr += ":" + d.ports(e.RegProtoMin, e.RegProtoMax)
	}
	d.emit(t + addr + natFlags(e.Random, e.FullyRandom, e.Persistent))
}

func (d *nftRuleDecompiler) reject(e *expr.Reject) {
	switch e.Type {
	case 1: // NFT_REJECT_TCP_RST
		d.emit("reject with tcp reset")
	case 2: // NFT_REJECT_ICMPX_UNREACH
		if e.Code == 1 {
			d.emit("reject")
			return
		}
		d.emit("reject with icmpx " + typeICMPXCode.format([]byte{e.Code}))
	default: // NFT_REJECT_ICMP_UNREACH: icmp or icmpv6 by family
		v6 := d.fam == nftables.TableFamilyIPv6 || (d.fam != nftables.TableFamilyIPv4 && d.l3 == protoIP6)
		if d.fam != nftables.TableFamilyIPv4 && d.fam != nftables.TableFamilyIPv6 && d.deps[baseNetwork] != 0 {
			// nft compiled the address family in as a dependency; the
			// icmp or icmpv6 of the reject says it again.
			d.out[d.deps[baseNetwork]-1].killed = true
			d.deps[baseNetwork] = 0
		}
		switch {
		case v6 && e.Code == 4 && d.fam == nftables.TableFamilyIPv6:
			d.emit("reject")
		case v6:
			d.emit("reject with icmpv6 " + typeICMPv6Code.format([]byte{e.Code}))
		case e.Code == 3 && d.fam == nftables.TableFamilyIPv4:
			d.emit("reject")
		default:
			d.emit("reject with icmp " + typeICMPCode.format([]byte{e.Code}))
		}
	}
}

func logText(e *expr.Log) string {
	t := "log"
	has := func(attr uint32) bool { return e.Key&(1<<attr) != 0 }
	if has(2) { // NFTA_LOG_PREFIX
		t += " prefix " + nftQuote(string(e.Data))
	}
	if has(1) { // NFTA_LOG_GROUP
		t += " group " + strconv.Itoa(int(e.Group))
	}
	if has(3) && e.Snaplen > 0 {
		t += " snaplen " + strconv.FormatUint(uint64(e.Snaplen), 10)
	}
	if has(4) && e.QThreshold > 0 {
		t += " queue-threshold " + strconv.Itoa(int(e.QThreshold))
	}
	if has(5) && e.Level != expr.LogLevelWarning {
		levels := []string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug", "audit"}
		if int(e.Level) < len(levels) {
			t += " level " + levels[e.Level]
		} else {
			t += " level " + strconv.Itoa(int(e.Level))
		}
	}
	if has(6) && e.Flags != 0 {
		fl := e.Flags
		if fl&expr.LogFlagsMask == expr.LogFlagsMask {
			t += " flags all"
		} else {
			switch {
			case fl&expr.LogFlagsTCPSeq != 0 && fl&expr.LogFlagsTCPOpt != 0:
				t += " flags tcp sequence,options"
			case fl&expr.LogFlagsTCPSeq != 0:
				t += " flags tcp sequence"
			case fl&expr.LogFlagsTCPOpt != 0:
				t += " flags tcp options"
			}
			if fl&expr.LogFlagsIPOpt != 0 {
				t += " flags ip options"
			}
			if fl&expr.LogFlagsUID != 0 {
				t += " flags skuid"
			}
			if fl&expr.LogFlagsMACDecode != 0 {
				t += " flags ether"
			}
		}
	}
	return t
}

// byteUnits prints a byte count as nft does: in the largest unit that
// divides it, up to mbytes.
func byteUnits(n uint64) string {
	unit := "bytes"
	for _, u := range []string{"kbytes", "mbytes"} {
		if n == 0 || n%1024 != 0 {
			break
		}
		n /= 1024
		unit = u
	}
	return strconv.FormatUint(n, 10) + " " + unit
}

func limitText(e *expr.Limit) string {
	t := "limit rate "
	if e.Over {
		t += "over "
	}
	units := map[expr.LimitTime]string{expr.LimitTimeSecond: "second", expr.LimitTimeMinute: "minute",
		expr.LimitTimeHour: "hour", expr.LimitTimeDay: "day", expr.LimitTimeWeek: "week"}
	unit, ok := units[e.Unit]
	if !ok {
		unit = strconv.FormatUint(uint64(e.Unit), 10) + "s"
	}
	if e.Type == expr.LimitTypePktBytes {
		t += byteUnits(e.Rate) + "/" + unit
		if e.Burst != 0 {
			t += " burst " + byteUnits(uint64(e.Burst))
		}
		return t
	}
	t += strconv.FormatUint(e.Rate, 10) + "/" + unit
	if e.Burst != 0 && e.Burst != 5 {
		t += " burst " + strconv.FormatUint(uint64(e.Burst), 10) + " packets"
	}
	return t
}

func quotaText(e *expr.Quota) string {
	t := "quota "
	if e.Over {
		t += "over "
	}
	t += byteUnits(e.Bytes)
	if e.Consumed > 0 {
		t += " used " + byteUnits(e.Consumed)
	}
	return t
}

func (d *nftRuleDecompiler) objref(e *expr.Objref) {
	name := nftQuote(e.Name)
	switch e.Type {
	case 1:
		d.emit("counter name " + name)
	case 2:
		d.emit("quota name " + name)
	case 3:
		d.emit("ct helper set " + name)
	case 4:
		d.emit("limit name " + name)
	case 7:
		d.emit("ct timeout set " + name)
	case 8:
		d.emit("meta secmark set " + name)
	case 9:
		d.emit("ct expectation set " + name)
	case 10:
		d.emit("synproxy name " + name)
	default:
		d.emit(fmt.Sprintf("%s name %s", objectTypeName(uint32(e.Type)), name))
	}
}

func (d *nftRuleDecompiler) dynset(e *expr.Dynset) {
	s := d.w.sets[e.SetName]
	if s == nil || e.Invert {
		d.unknown(describeExpr(e))
		return
	}
	parts, ok := d.read(e.SrcRegKey, int(s.KeyLen))
	if !ok {
		d.unknown(describeExpr(e))
		return
	}
	d.killAll(parts)
	ops := []string{"add", "update", "delete"}
	op := "dynset"
	if int(e.Operation) < len(ops) {
		op = ops[e.Operation]
	}
	t := op + " @" + nftIdent(s.Name) + " { " + concatText(parts)
	if e.Timeout > 0 {
		t += " timeout " + nftDuration(uint64(e.Timeout.Milliseconds()))
	}
	for _, x := range e.Exprs {
		switch x := x.(type) {
		case *expr.Counter:
			t += fmt.Sprintf(" counter packets %d bytes %d", x.Packets, x.Bytes)
		case *expr.Limit:
			t += " " + limitText(x)
		default:
			t += " " + describeExpr(x)
		}
	}
	if e.SrcRegData != 0 {
		types := splitConcatType(s.DataTypeID)
		v, ok := d.read1(e.SrcRegData, int(s.DataLen))
		if !ok || len(types) != 1 {
			d.unknown(describeExpr(e))
			return
		}
		t += " : " + d.valueText(v, types[0])
	}
	d.emit(t + " }")
}

func (d *nftRuleDecompiler) dup(e *expr.Dup) {
	t := "dup to "
	if a, ok := d.read1(e.RegAddr, 4); ok {
		typ := typeIPv4
		if a.size == 16 || d.l3 == protoIP6 {
			typ = typeIPv6
		}
		t += d.valueText(a, typ)
	}
	if e.IsRegDevSet {
		if dev, ok := d.read1(e.RegDev, 4); ok {
			t += " device " + d.valueText(dev, typeIfIndex)
		}
	}
	d.emit(t)
}

func (d *nftRuleDecompiler) tproxy(e *expr.TProxy) {
	t := "tproxy"
	switch e.Family {
	case 2:
		if d.fam == nftables.TableFamilyINet {
			t += " ip"
		}
	case 10:
		if d.fam == nftables.TableFamilyINet {
			t += " ip6"
		}
	}
	t += " to "
	if e.RegAddr != 0 {
		typ, n := typeIPv4, 4
		if e.Family == 10 || d.fam == nftables.TableFamilyIPv6 {
			typ, n = typeIPv6, 16
		}
		if a, ok := d.read1(e.RegAddr, n); ok {
			t += d.valueText(a, typ)
		}
	}
	if e.RegPort != 0 {
		if p, ok := d.read1(e.RegPort, 2); ok {
			t += ":" + d.valueText(p, typeService)
		}
	}
	d.emit(t)
}
