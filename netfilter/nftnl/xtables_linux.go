package nftnl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// iptables-nft's tables, read back. iptables-nft writes each rule as
// nf_tables expressions: the IPv4 header's fields (-s, -d, -i, -o, -p)
// and some matches (tcp and udp ports, mark) as native payload, meta and
// cmp expressions, every other match and target as an xtables compat
// expression carrying the extension's info struct, a jump or a verdict as
// an immediate. IPTablesRule turns one back into the words iptables-save
// prints after "-A CHAIN", in its order — the header fields first, then
// the matches as the rule holds them, then the target — so that
// netfilter.ParseIPTablesSave reads it as it reads iptables-save.

// ErrNotIPTables says a rule holds something iptables-nft does not write,
// or an extension netx does not decode: such a rule is read from
// iptables-save instead.
var ErrNotIPTables = errors.New("not an iptables-nft rule netx decodes")

// IPTablesRule renders r, a rule of an iptables-nft IPv4 table, as the
// words iptables-save prints after "-A CHAIN" (with a leading space when
// there are any). An expression or extension it does not decode is an
// error wrapping ErrNotIPTables that names it.
func IPTablesRule(r *nftables.Rule) (string, error) {
	d := &xtDecoder{}
	for i, e := range r.Exprs {
		if err := d.expr(i, r.Exprs, e); err != nil {
			return "", err
		}
	}
	if d.pending != nil {
		return "", fmt.Errorf("%w: a load (%T) that nothing compares", ErrNotIPTables, d.pending)
	}
	// iptables versions that keep -m comment in the rule's user data
	// print it after the other matches.
	if c, ok := userdata.GetString(r.UserData, userdata.Type(0)); ok && c != "" {
		d.matches = append(d.matches, " -m comment --comment "+saveString(c))
	}
	return d.String(), nil
}

// xtDecoder collects a rule's parts while walking its expressions.
type xtDecoder struct {
	src, dst, in, out, proto string // header fields, with "! " when inverted
	matches                  []string
	target                   string
	// pending is the load (payload or meta) the next cmp compares, with
	// the bitwise mask applied to it if any.
	pending expr.Any
	mask    []byte
	// ports is the index in matches of the native tcp/udp match, -1 none.
	ports      int
	sport      string
	dport      string
	flags      string // tcp flags, native
	portsProto string
	skip       int // expressions already consumed (a range's second cmp)
}

func (d *xtDecoder) String() string {
	var b strings.Builder
	for _, f := range []struct{ flag, v string }{{"-s", d.src}, {"-d", d.dst}, {"-i", d.in}, {"-o", d.out}, {"-p", d.proto}} {
		if f.v == "" {
			continue
		}
		if v, ok := strings.CutPrefix(f.v, "! "); ok {
			fmt.Fprintf(&b, " ! %s %s", f.flag, v)
		} else {
			fmt.Fprintf(&b, " %s %s", f.flag, f.v)
		}
	}
	for _, m := range d.matches {
		b.WriteString(m)
	}
	b.WriteString(d.target)
	return b.String()
}

func notDecoded(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotIPTables, fmt.Sprintf(format, args...))
}

func (d *xtDecoder) expr(i int, all []expr.Any, e expr.Any) error {
	if d.skip > 0 {
		d.skip--
		return nil
	}
	switch e := e.(type) {
	case *expr.Counter:
		return nil
	case *expr.Payload, *expr.Meta:
		if d.pending != nil {
			return notDecoded("two loads in a row")
		}
		d.pending, d.mask = e, nil
		return nil
	case *expr.Bitwise:
		if d.pending == nil || len(e.Xor) != len(e.Mask) || !allZero(e.Xor) {
			return notDecoded("a bitwise that is not a mask")
		}
		d.mask = e.Mask
		return nil
	case *expr.Cmp:
		return d.cmp(i, all, e)
	case *expr.Range:
		return d.rangeCmp(e)
	case *expr.Verdict:
		return d.verdict(e)
	case *expr.Match:
		m, err := xtMatch(e, d.proto)
		if err != nil {
			return err
		}
		d.matches = append(d.matches, m)
		return nil
	case *expr.Target:
		t, err := xtTarget(e)
		if err != nil {
			return err
		}
		d.target = t
		return nil
	}
	return notDecoded("expression %T", e)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// cmp completes the pending load: a header field, a port, or a mark.
func (d *xtDecoder) cmp(i int, all []expr.Any, c *expr.Cmp) error {
	load := d.pending
	d.pending = nil
	not := ""
	switch c.Op {
	case expr.CmpOpEq:
	case expr.CmpOpNeq:
		not = "! "
	case expr.CmpOpGte:
		// A port range: gte then lte on the same load.
		if i+1 < len(all) {
			if hi, ok := all[i+1].(*expr.Cmp); ok && hi.Op == expr.CmpOpLte {
				if p, ok := load.(*expr.Payload); ok && p.Base == expr.PayloadBaseTransportHeader && p.Len == 2 && len(c.Data) == 2 && len(hi.Data) == 2 {
					d.skip = 1
					return d.port(p, fmt.Sprintf("%d:%d", binary.BigEndian.Uint16(c.Data), binary.BigEndian.Uint16(hi.Data)))
				}
			}
		}
		return notDecoded("a >= comparison that is not a port range")
	default:
		return notDecoded("comparison %d", c.Op)
	}
	switch l := load.(type) {
	case *expr.Meta:
		switch l.Key {
		case expr.MetaKeyL4PROTO:
			if len(c.Data) != 1 {
				return notDecoded("meta l4proto of %d bytes", len(c.Data))
			}
			d.proto = not + protoName(c.Data[0])
			return nil
		case expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME:
			name := ifName(c.Data)
			if l.Key == expr.MetaKeyIIFNAME {
				d.in = not + name
			} else {
				d.out = not + name
			}
			return nil
		case expr.MetaKeyMARK:
			if len(c.Data) != 4 {
				return notDecoded("meta mark of %d bytes", len(c.Data))
			}
			mask := uint32(0xffffffff)
			if d.mask != nil {
				mask = binary.NativeEndian.Uint32(d.mask)
			}
			inv := ""
			if not != "" {
				inv = " !"
			}
			d.matches = append(d.matches, " -m mark"+inv+" --mark "+markText(binary.NativeEndian.Uint32(c.Data), mask))
			return nil
		}
		return notDecoded("meta key %d", l.Key)
	case *expr.Payload:
		switch l.Base {
		case expr.PayloadBaseNetworkHeader:
			switch {
			case l.Offset == 9 && l.Len == 1 && len(c.Data) == 1:
				d.proto = not + protoName(c.Data[0])
				return nil
			case (l.Offset == 12 || l.Offset == 16) && l.Len >= 1 && l.Len <= 4 && int(l.Len) == len(c.Data):
				var a [4]byte
				copy(a[:], c.Data)
				bits := int(l.Len) * 8
				if d.mask != nil {
					bits = 0
					for _, m := range d.mask {
						bits += popcount8(m)
					}
				}
				v := not + netip.PrefixFrom(netip.AddrFrom4(a), bits).String()
				if l.Offset == 12 {
					d.src = v
				} else {
					d.dst = v
				}
				return nil
			}
		case expr.PayloadBaseTransportHeader:
			if l.Len == 2 && len(c.Data) == 2 && (l.Offset == 0 || l.Offset == 2) {
				inv := ""
				if not != "" {
					inv = "! "
				}
				return d.port(l, inv+fmt.Sprint(binary.BigEndian.Uint16(c.Data)))
			}
			if l.Offset == 13 && l.Len == 1 && len(c.Data) == 1 {
				// tcp flags: (flags & mask) == cmp.
				mask := byte(0xff)
				if d.mask != nil {
					mask = d.mask[0]
				}
				d.flags = inv(not != "") + " --tcp-flags " + tcpFlags(mask) + " " + tcpFlags(c.Data[0])
				return d.port(l, "")
			}
		}
		return notDecoded("payload base %d offset %d length %d", l.Base, l.Offset, l.Len)
	}
	return notDecoded("a comparison with nothing loaded")
}

func popcount8(b byte) int { return bits.OnesCount8(b) }

// rangeCmp is a port range as one range expression.
func (d *xtDecoder) rangeCmp(r *expr.Range) error {
	p, ok := d.pending.(*expr.Payload)
	d.pending = nil
	if !ok || p.Base != expr.PayloadBaseTransportHeader || p.Len != 2 || len(r.FromData) != 2 || len(r.ToData) != 2 || (r.Op != expr.CmpOpEq && r.Op != expr.CmpOpNeq) {
		return notDecoded("a range that is not a port range")
	}
	v := fmt.Sprintf("%d:%d", binary.BigEndian.Uint16(r.FromData), binary.BigEndian.Uint16(r.ToData))
	if r.Op == expr.CmpOpNeq {
		v = "! " + v
	}
	return d.port(p, v)
}

// port records a native tcp/udp port: iptables prints the ports of one
// rule as one "-m tcp" (or udp) match where the first of them stands.
func (d *xtDecoder) port(p *expr.Payload, v string) error {
	proto := strings.TrimPrefix(d.proto, "! ")
	if proto != "tcp" && proto != "udp" && proto != "sctp" && proto != "udplite" || strings.HasPrefix(d.proto, "! ") {
		return notDecoded("a port without -p tcp or udp before it")
	}
	opt := " --dport "
	if p.Offset == 0 {
		opt = " --sport "
	}
	if neg, ok := strings.CutPrefix(v, "! "); ok {
		opt, v = " !"+opt, neg
	}
	if d.portsProto == "" {
		d.portsProto = proto
		d.matches = append(d.matches, "")
		d.ports = len(d.matches) - 1
	}
	switch p.Offset {
	case 0:
		d.sport = opt + v
	case 2:
		d.dport = opt + v
	}
	d.matches[d.ports] = " -m " + d.portsProto + d.sport + d.dport + d.flags
	return nil
}

func (d *xtDecoder) verdict(v *expr.Verdict) error {
	switch v.Kind {
	case expr.VerdictAccept:
		d.target = " -j ACCEPT"
	case expr.VerdictDrop:
		d.target = " -j DROP"
	case expr.VerdictReturn:
		d.target = " -j RETURN"
	case expr.VerdictJump:
		d.target = " -j " + v.Chain
	case expr.VerdictGoto:
		d.target = " -g " + v.Chain
	default:
		return notDecoded("verdict %d", v.Kind)
	}
	return nil
}

// protoName is how iptables names a protocol number (its built-in
// table; others by number).
func protoName(p byte) string {
	switch p {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_ICMP:
		return "icmp"
	case unix.IPPROTO_SCTP:
		return "sctp"
	case unix.IPPROTO_UDPLITE:
		return "udplite"
	case unix.IPPROTO_ESP:
		return "esp"
	case unix.IPPROTO_AH:
		return "ah"
	case unix.IPPROTO_ICMPV6:
		return "ipv6-icmp"
	}
	return fmt.Sprint(p)
}

// ifName is an interface name as iptables-nft compares it: up to its
// NUL for an exact name, or a prefix (no NUL) for "name+".
func ifName(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b) + "+"
}

func markText(mark, mask uint32) string {
	if mask == 0xffffffff {
		return fmt.Sprintf("0x%x", mark)
	}
	return fmt.Sprintf("0x%x/0x%x", mark, mask)
}

// saveString prints a string argument as iptables-save does
// (xtables_save_string): bare when it is only letters, digits, - and _,
// else double-quoted with ", \ and ' escaped.
func saveString(s string) string {
	bare := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			bare = false
			break
		}
	}
	if bare {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		if c == '"' || c == '\\' || c == '\'' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteByte('"')
	return b.String()
}

// cString is a fixed-size C string field.
func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

func unknownBytes(i xt.InfoAny) []byte {
	if u, ok := i.(*xt.Unknown); ok {
		return *u
	}
	return nil
}

// xtMatch renders an xtables match as iptables-save prints it (" -m NAME
// options"). proto is the rule's -p, for the tcp and udp matches.
func xtMatch(m *expr.Match, proto string) (string, error) {
	b := unknownBytes(m.Info)
	switch m.Name {
	case "comment":
		if c, ok := m.Info.(*xt.Comment); ok {
			return " -m comment --comment " + saveString(string(*c)), nil
		}
	case "conntrack":
		return conntrackMatch(m)
	case "tcp":
		if t, ok := m.Info.(*xt.Tcp); ok {
			s := " -m tcp" + portsText(t.SrcPorts, t.InvFlags&xt.TcpInvSrcPorts != 0, " --sport") + portsText(t.DstPorts, t.InvFlags&xt.TcpInvDestPorts != 0, " --dport")
			if t.Option != 0 || t.InvFlags&xt.TcpInvOption != 0 {
				s += inv(t.InvFlags&xt.TcpInvOption != 0) + fmt.Sprintf(" --tcp-option %d", t.Option)
			}
			if t.FlagsMask != 0 || t.InvFlags&xt.TcpInvFlags != 0 {
				s += inv(t.InvFlags&xt.TcpInvFlags != 0) + " --tcp-flags " + tcpFlags(t.FlagsMask) + " " + tcpFlags(t.FlagsCmp)
			}
			return s, nil
		}
	case "udp":
		if u, ok := m.Info.(*xt.Udp); ok {
			return " -m udp" + portsText(u.SrcPorts, u.InvFlags&xt.UdpInvSrcPorts != 0, " --sport") + portsText(u.DstPorts, u.InvFlags&xt.UdpInvDestPorts != 0, " --dport"), nil
		}
	case "addrtype":
		if a, ok := m.Info.(*xt.AddrTypeV1); ok && m.Rev == 1 {
			s := " -m addrtype"
			if a.Flags&1 != 0 {
				s += " !"
			}
			if a.Source != 0 {
				s += " --src-type " + addrTypes(a.Source)
			}
			if a.Flags&2 != 0 {
				s += " !"
			}
			if a.Dest != 0 {
				s += " --dst-type " + addrTypes(a.Dest)
			}
			if a.Flags&4 != 0 {
				s += " --limit-iface-in"
			}
			if a.Flags&8 != 0 {
				s += " --limit-iface-out"
			}
			return s, nil
		}
	case "statistic":
		// struct xt_statistic_info: u16 mode, u16 flags, u32 probability
		// (random) or u32 every, packet, count (nth); a kernel pointer.
		if len(b) >= 16 && m.Rev == 0 {
			mode, flags := binary.NativeEndian.Uint16(b), binary.NativeEndian.Uint16(b[2:])
			invert := inv(flags&1 != 0)
			switch mode {
			case 0:
				return fmt.Sprintf(" -m statistic --mode random%s --probability %.11f", invert, float64(binary.NativeEndian.Uint32(b[4:]))/0x80000000), nil
			case 1:
				s := fmt.Sprintf(" -m statistic --mode nth%s --every %d", invert, binary.NativeEndian.Uint32(b[4:])+1)
				if p := binary.NativeEndian.Uint32(b[8:]); p != 0 {
					s += fmt.Sprintf(" --packet %d", p)
				}
				return s, nil
			}
		}
	case "mark":
		// struct xt_mark_mtinfo1: u32 mark, mask; u8 invert.
		if len(b) >= 9 && m.Rev == 1 {
			return " -m mark" + inv(b[8] != 0) + " --mark " + markText(binary.NativeEndian.Uint32(b), binary.NativeEndian.Uint32(b[4:])), nil
		}
	case "recent":
		return recentMatch(m, b)
	case "nfacct":
		// struct xt_nfacct_match_info: char name[32]; a kernel pointer.
		if len(b) >= 32 {
			return " -m nfacct --nfacct-name  " + saveString(cString(b[:32])), nil
		}
	case "multiport":
		return multiportMatch(m, b)
	case "physdev":
		// struct xt_physdev_info: char physindev[16], in_mask[16],
		// physoutdev[16], out_mask[16]; u8 invert, bitmask.
		if len(b) >= 66 && m.Rev == 0 {
			invert, mask := b[64], b[65]
			s := " -m physdev"
			for _, o := range []struct {
				bit  byte
				text string
			}{{8, " --physdev-is-in"}, {1, " --physdev-in " + cString(b[0:16])}, {16, " --physdev-is-out"}, {2, " --physdev-out " + cString(b[32:48])}, {4, " --physdev-is-bridged"}} {
				if mask&o.bit != 0 {
					s += inv(invert&o.bit != 0) + o.text
				}
			}
			return s, nil
		}
	case "set":
		// The info names the set by its kernel index, which only an
		// ipset socket turns back into a name: iptables-save reads it.
		return "", notDecoded("xt match set (the set is named by its kernel index)")
	case "state":
		if len(b) >= 4 {
			return " -m state --state " + ctStates(binary.NativeEndian.Uint32(b)), nil
		}
	}
	return "", notDecoded("xt match %q revision %d", m.Name, m.Rev)
}

// multiportMatch renders -m multiport: struct xt_multiport (revision 0:
// u8 flags, u8 count, u16 ports[15]) or xt_multiport_v1 (then u8
// pflags[15], a port that starts a range, and u8 invert).
func multiportMatch(m *expr.Match, b []byte) (string, error) {
	if len(b) < 32 || m.Rev > 1 || (m.Rev == 1 && len(b) < 48) || b[1] > 15 {
		return "", notDecoded("xt match multiport revision %d of %d bytes", m.Rev, len(b))
	}
	s := " -m multiport"
	if m.Rev == 1 && b[47] != 0 {
		s += " !"
	}
	switch b[0] {
	case 0:
		s += " --sports "
	case 1:
		s += " --dports "
	case 2:
		s += " --ports "
	default:
		return "", notDecoded("xt match multiport direction %d", b[0])
	}
	port := func(i int) uint16 { return binary.NativeEndian.Uint16(b[2+2*i:]) }
	for i, n := 0, int(b[1]); i < n; i++ {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(port(i))
		if m.Rev == 1 && b[32+i] != 0 && i+1 < n {
			i++
			s += fmt.Sprintf(":%d", port(i))
		}
	}
	return s, nil
}

func inv(b bool) string {
	if b {
		return " !"
	}
	return ""
}

func portsText(p [2]uint16, invert bool, opt string) string {
	if p[0] == 0 && p[1] == 0xffff {
		return ""
	}
	if p[0] == p[1] {
		return inv(invert) + fmt.Sprintf("%s %d", opt, p[0])
	}
	return inv(invert) + fmt.Sprintf("%s %d:%d", opt, p[0], p[1])
}

func tcpFlags(f uint8) string {
	names := []struct {
		name string
		bit  uint8
	}{{"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04}, {"PSH", 0x08}, {"ACK", 0x10}, {"URG", 0x20}}
	if f&0x3f == 0 {
		return "NONE"
	}
	var out []string
	for _, n := range names {
		if f&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, ",")
}

func addrTypes(t uint16) string {
	names := []string{"UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"}
	var out []string
	for i, n := range names {
		if t&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// ctStates prints a conntrack state mask in iptables' order.
func ctStates(mask uint32) string {
	order := []struct {
		name string
		bit  uint32
	}{{"INVALID", 1 << 0}, {"NEW", 1 << 3}, {"RELATED", 1 << 2}, {"ESTABLISHED", 1 << 1}, {"UNTRACKED", 1 << 8}, {"SNAT", 1 << 6}, {"DNAT", 1 << 7}}
	var out []string
	for _, s := range order {
		if mask&s.bit != 0 {
			out = append(out, s.name)
		}
	}
	return strings.Join(out, ",")
}

// conntrackMatch renders -m conntrack with --ctstate and --ctstatus (or
// -m state, its alias); other conntrack options are not decoded.
func conntrackMatch(m *expr.Match) (string, error) {
	var base xt.ConntrackMtinfoBase
	var state, status uint16
	switch c := m.Info.(type) {
	case *xt.ConntrackMtinfo1:
		base, state, status = c.ConntrackMtinfoBase, uint16(c.StateMask), uint16(c.StatusMask)
	case *xt.ConntrackMtinfo2:
		base, state, status = c.ConntrackMtinfoBase, c.StateMask, c.StatusMask
	case *xt.ConntrackMtinfo3:
		base, state, status = c.ConntrackMtinfoBase, c.StateMask, c.StatusMask
	default:
		return "", notDecoded("xt match conntrack revision %d", m.Rev)
	}
	const (
		ctState  = 1 << 0
		ctStatus = 1 << 6
		ctAlias  = 1 << 13
	)
	if base.MatchFlags&^(ctState|ctStatus|ctAlias) != 0 {
		return "", notDecoded("xt match conntrack with options other than --ctstate and --ctstatus")
	}
	if base.MatchFlags&ctAlias != 0 {
		return " -m state" + inv(base.InvertFlags&ctState != 0) + " --state " + ctStates(uint32(state)), nil
	}
	s := " -m conntrack"
	if base.MatchFlags&ctState != 0 {
		s += inv(base.InvertFlags&ctState != 0) + " --ctstate " + ctStates(uint32(state))
	}
	if base.MatchFlags&ctStatus != 0 {
		var out []string
		for _, st := range []struct {
			name string
			bit  uint16
		}{{"EXPECTED", 1}, {"SEEN_REPLY", 2}, {"ASSURED", 4}, {"CONFIRMED", 8}} {
			if status&st.bit != 0 {
				out = append(out, st.name)
			}
		}
		if len(out) == 0 {
			out = []string{"NONE"}
		}
		s += inv(base.InvertFlags&ctStatus != 0) + " --ctstatus " + strings.Join(out, ",")
	}
	return s, nil
}

// recentMatch renders -m recent (struct xt_recent_mtinfo, and _v1 with
// its mask).
func recentMatch(m *expr.Match, b []byte) (string, error) {
	// u32 seconds, u32 hit_count, u8 check_set, u8 invert, char
	// name[200], u8 side; v1: then union nf_inet_addr mask (4-aligned).
	if len(b) < 211 || m.Rev > 1 || (m.Rev == 1 && len(b) < 228) {
		return "", notDecoded("xt match recent revision %d of %d bytes", m.Rev, len(b))
	}
	seconds, hits, check, invert := binary.NativeEndian.Uint32(b), binary.NativeEndian.Uint32(b[4:]), b[8], b[9]
	var s strings.Builder
	s.WriteString(" -m recent")
	s.WriteString(inv(invert != 0))
	for _, c := range []struct {
		bit  byte
		name string
	}{{2, " --set"}, {1, " --rcheck"}, {4, " --update"}, {8, " --remove"}} {
		if check&c.bit != 0 {
			s.WriteString(c.name)
		}
	}
	if seconds != 0 {
		fmt.Fprintf(&s, " --seconds %d", seconds)
	}
	if check&32 != 0 {
		s.WriteString(" --reap")
	}
	if hits != 0 {
		fmt.Fprintf(&s, " --hitcount %d", hits)
	}
	if check&16 != 0 {
		s.WriteString(" --rttl")
	}
	s.WriteString(" --name " + cString(b[10:210]))
	if m.Rev == 1 {
		s.WriteString(" --mask " + netip.AddrFrom4([4]byte(b[212:216])).String())
	}
	switch b[210] {
	case 0:
		s.WriteString(" --rsource")
	case 1:
		s.WriteString(" --rdest")
	}
	return s.String(), nil
}

// xtTarget renders an xtables target (" -j NAME options").
func xtTarget(t *expr.Target) (string, error) {
	b := unknownBytes(t.Info)
	switch t.Name {
	case "DNAT", "SNAT":
		opt := " --to-destination "
		if t.Name == "SNAT" {
			opt = " --to-source "
		}
		var r xt.NatRange
		switch n := t.Info.(type) {
		case *xt.NatRange2:
			r = n.NatRange
		case *xt.NatRange:
			r = *n
		case *xt.NatIPv4MultiRangeCompat:
			if len(*n) != 1 {
				return "", notDecoded("xt target %s with %d ranges", t.Name, len(*n))
			}
			c := (*n)[0]
			r = xt.NatRange{Flags: c.Flags, MinIP: c.MinIP, MaxIP: c.MaxIP, MinPort: c.MinPort, MaxPort: c.MaxPort}
		default:
			return "", notDecoded("xt target %s revision %d", t.Name, t.Rev)
		}
		s := " -j " + t.Name + opt + natRange(r)
		if r.Flags&uint(xt.NatRangeProtoRandom) != 0 {
			s += " --random"
		}
		if r.Flags&uint(xt.NatRangeProtoRandomFully) != 0 {
			s += " --random-fully"
		}
		if r.Flags&uint(xt.NatRangePersistent) != 0 {
			s += " --persistent"
		}
		return s, nil
	case "MASQUERADE", "REDIRECT":
		n, ok := t.Info.(*xt.NatIPv4MultiRangeCompat)
		if !ok || len(*n) != 1 {
			break
		}
		r := (*n)[0]
		s := " -j " + t.Name
		if r.Flags&uint(xt.NatRangeProtoSpecified) != 0 {
			s += fmt.Sprintf(" --to-ports %d", r.MinPort)
			if r.MaxPort != r.MinPort {
				s += fmt.Sprintf("-%d", r.MaxPort)
			}
		}
		if r.Flags&uint(xt.NatRangeProtoRandom) != 0 {
			s += " --random"
		}
		if r.Flags&uint(xt.NatRangeProtoRandomFully) != 0 {
			s += " --random-fully"
		}
		return s, nil
	case "MARK":
		// struct xt_mark_tginfo2: u32 mark, mask.
		if len(b) >= 8 && t.Rev == 2 {
			return fmt.Sprintf(" -j MARK --set-xmark 0x%x/0x%x", binary.NativeEndian.Uint32(b), binary.NativeEndian.Uint32(b[4:])), nil
		}
	case "REJECT":
		// struct ipt_reject_info: enum ipt_reject_with.
		names := []string{"icmp-net-unreachable", "icmp-host-unreachable", "icmp-proto-unreachable", "icmp-port-unreachable", "icmp-echo-reply", "icmp-net-prohibited", "icmp-host-prohibited", "tcp-reset", "icmp-admin-prohibited"}
		if len(b) >= 4 && int(binary.NativeEndian.Uint32(b)) < len(names) {
			return " -j REJECT --reject-with " + names[binary.NativeEndian.Uint32(b)], nil
		}
	case "RETURN", "ACCEPT", "DROP":
		return " -j " + t.Name, nil
	}
	return "", notDecoded("xt target %q revision %d", t.Name, t.Rev)
}

// natRange prints a NAT range as iptables does: IP[-IP][:port[-port]].
func natRange(r xt.NatRange) string {
	var s string
	if r.Flags&uint(xt.NatRangeMapIPs) != 0 {
		lo, _ := netip.AddrFromSlice(r.MinIP)
		hi, _ := netip.AddrFromSlice(r.MaxIP)
		lo, hi = lo.Unmap(), hi.Unmap()
		s = lo.String()
		if hi != lo {
			s += "-" + hi.String()
		}
	}
	if r.Flags&uint(xt.NatRangeProtoSpecified) != 0 {
		s += fmt.Sprintf(":%d", r.MinPort)
		if r.MaxPort != r.MinPort {
			s += fmt.Sprintf("-%d", r.MaxPort)
		}
	}
	return s
}

// xtablesNames are the tables iptables-nft makes in the ip family.
var xtablesNames = map[string]bool{"filter": true, "nat": true, "mangle": true, "raw": true, "security": true}

// builtinOrder is iptables-save's order of the built-in chains.
var builtinOrder = map[string]int{"PREROUTING": 0, "INPUT": 1, "FORWARD": 2, "OUTPUT": 3, "POSTROUTING": 4}

// IPTablesProblem is a rule of an iptables-nft table that IPTablesRule
// could not render: the table is read from iptables-save instead.
type IPTablesProblem struct {
	Table, Chain string
	Rule         int // 1-based, as iptables -L --line-numbers counts
	Why          string
}

// Error makes a problem an error (ReadChain returns one).
func (p *IPTablesProblem) Error() string { return p.String() }

func (p IPTablesProblem) String() string {
	return fmt.Sprintf("rule %d of chain %s in table %s: %s", p.Rule, p.Chain, p.Table, strings.TrimPrefix(p.Why, ErrNotIPTables.Error()+": "))
}

// iptablesTable says whether t looks like iptables-nft's: an ip table of
// an xtables name whose base chains carry the built-in chains' names.
func iptablesTable(t *Table) bool {
	if t.Family != nftables.TableFamilyIPv4 || !xtablesNames[t.Name] {
		return false
	}
	for _, c := range t.Chains {
		if c.Hooknum != nil {
			if _, ok := builtinOrder[c.Name]; !ok {
				return false
			}
		}
	}
	return true
}

// IPTablesSave writes the tables of nl that iptables-nft made as
// `iptables-save` prints them (chain counters as [0:0]): per table its
// built-in chains in hook order with their policies, its own chains by
// name, then every chain's rules in that order. A table with a rule
// IPTablesRule cannot render is not written: it is returned in problems
// (each rule that failed), for the caller to read from iptables-save. It
// returns the tables written ("ip NAME").
func (nl *Ruleset) IPTablesSave(w io.Writer) (written []string, problems []IPTablesProblem, err error) {
	for _, t := range nl.Tables {
		if !iptablesTable(t) {
			continue
		}
		chains := slices.Clone(t.Chains)
		slices.SortStableFunc(chains, func(a, b *Chain) int {
			ba, aok := builtinOrder[a.Name]
			bb, bok := builtinOrder[b.Name]
			switch {
			case a.Hooknum != nil && aok && b.Hooknum != nil && bok:
				return ba - bb
			case a.Hooknum != nil:
				return -1
			case b.Hooknum != nil:
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
		var body strings.Builder
		fmt.Fprintf(&body, "*%s\n", t.Name)
		for _, c := range chains {
			policy := "-"
			if c.Hooknum != nil {
				policy = "ACCEPT"
				if c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
					policy = "DROP"
				}
			}
			fmt.Fprintf(&body, ":%s %s [0:0]\n", c.Name, policy)
		}
		var bad []IPTablesProblem
		for _, c := range chains {
			for i, r := range c.Rules {
				args, err := IPTablesRule(r)
				if err != nil {
					bad = append(bad, IPTablesProblem{Table: t.Name, Chain: c.Name, Rule: i + 1, Why: err.Error()})
					continue
				}
				body.WriteString("-A ")
				body.WriteString(c.Name)
				body.WriteString(args)
				body.WriteByte('\n')
			}
		}
		body.WriteString("COMMIT\n")
		if len(bad) > 0 {
			problems = append(problems, bad...)
			continue
		}
		if _, err := io.WriteString(w, body.String()); err != nil {
			return written, problems, err
		}
		written = append(written, "ip "+t.Name)
	}
	return written, problems, nil
}
