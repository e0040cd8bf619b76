package netfilter

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// IPSet is one of a namespace's ipsets, the sets iptables' -m set
// (--match-set NAME src,dst) looks packets up in: Calico's and many hosts'
// allow and deny lists live there, not in the rules.
type IPSet struct {
	Name string `json:"name"`
	// Type is the set's type: hash:ip, hash:net, hash:ip,port,
	// hash:net,iface, bitmap:port, list:set ...
	Type string `json:"type"`
	// Family is inet or inet6 (empty for bitmaps and lists).
	Family string `json:"family,omitempty"`
	// Netmask is a hash:ip set's netmask (the packet's address is masked
	// to it before the lookup); 0 when not set.
	Netmask int `json:"netmask,omitempty"`
	// MarkMask is a hash:ip,mark set's markmask; 0 when not set.
	MarkMask uint32 `json:"markmask,omitempty"`
	// Members are the entries as ipset save writes them, with the options
	// that change what they match ("10.0.0.0/8 nomatch",
	// "10.0.0.0/8,eth wildcard", "10.1.2.3,tcp:80", a set's name in a
	// list).
	Members []string `json:"members"`
}

// ParseIPSetSave parses `ipset save` output: create lines and add lines.
func ParseIPSetSave(r io.Reader) ([]IPSet, error) {
	var out []IPSet
	index := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "create", "-N":
			if len(f) < 3 {
				return nil, fmt.Errorf("ipset save line %d: create needs a name and a type: %q", line, sc.Text())
			}
			s := IPSet{Name: f[1], Type: f[2], Members: []string{}}
			for i := 3; i+1 < len(f); i++ {
				switch f[i] {
				case "family":
					s.Family = f[i+1]
				case "netmask":
					n, err := strconv.Atoi(f[i+1])
					if err != nil || n < 1 || n > 128 {
						return nil, fmt.Errorf("ipset save line %d: bad netmask %q", line, f[i+1])
					}
					s.Netmask = n
				case "markmask":
					n, err := strconv.ParseUint(f[i+1], 0, 32)
					if err != nil {
						return nil, fmt.Errorf("ipset save line %d: bad markmask %q", line, f[i+1])
					}
					s.MarkMask = uint32(n)
				}
			}
			if _, dup := index[s.Name]; dup {
				return nil, fmt.Errorf("ipset save line %d: set %s created twice", line, s.Name)
			}
			index[s.Name] = len(out)
			out = append(out, s)
		case "add", "-A":
			if len(f) < 3 {
				return nil, fmt.Errorf("ipset save line %d: add needs a set and an entry: %q", line, sc.Text())
			}
			i, ok := index[f[1]]
			if !ok {
				return nil, fmt.Errorf("ipset save line %d: add to set %s, which is not created", line, f[1])
			}
			m := f[2]
			opts := f[3:]
			if i := slices.Index(opts, "comment"); i >= 0 {
				opts = opts[:i] // a comment is last, and free text
			}
			for _, o := range []string{"nomatch", "wildcard"} {
				if slices.Contains(opts, o) {
					m += " " + o
				}
			}
			out[i].Members = append(out[i].Members, m)
		default:
			return nil, fmt.Errorf("ipset save line %d: unknown command %q", line, f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ipset save: %w", err)
	}
	return out, nil
}

// IPSetPacket is what a set lookup reads of a packet.
type IPSetPacket struct {
	Proto             string // tcp, udp, sctp, icmp
	Src, Dst          netip.Addr
	SPort, DPort      uint16
	InIface, OutIface string
	Mark              uint32
}

// IPSetMatch answers -m set --match-set s flags for p: whether the packet
// is a member, or why that cannot be told (a dimension netx does not
// model, a member it cannot read). sets finds a list:set's members.
func IPSetMatch(s *IPSet, flags []string, p IPSetPacket, sets func(name string) *IPSet) (bool, string) {
	return ipsetMatch(s, flags, p, sets, 0)
}

func ipsetMatch(s *IPSet, flags []string, p IPSetPacket, sets func(string) *IPSet, depth int) (bool, string) {
	kind, dims, ok := strings.Cut(s.Type, ":")
	if !ok {
		return false, fmt.Sprintf("ipset %s: type %q is not modelled", s.Name, s.Type)
	}
	if kind == "list" {
		if depth > 0 {
			return false, fmt.Sprintf("ipset %s: a list inside a list", s.Name)
		}
		for _, name := range s.Members {
			m := sets(name)
			if m == nil {
				return false, fmt.Sprintf("ipset %s: member set %s is not in the snapshot", s.Name, name)
			}
			if hit, why := ipsetMatch(m, flags, p, sets, depth+1); why != "" || hit {
				return hit, why
			}
		}
		return false, ""
	}
	want := strings.Split(dims, ",")
	if s.Family == "inet6" || len(flags) < len(want) {
		// The kernel answers no: the set is of the other family, or the
		// rule gives fewer directions than the set has dimensions.
		return false, ""
	}
	if s.Netmask != 0 {
		p.Src = netip.PrefixFrom(p.Src, s.Netmask).Masked().Addr()
		p.Dst = netip.PrefixFrom(p.Dst, s.Netmask).Masked().Addr()
	}
	if s.MarkMask != 0 {
		p.Mark &= s.MarkMask
	}
	// The most specific matching entry decides, prefix lengths compared
	// dimension by dimension as the kernel tries them (a nomatch entry
	// excludes what a wider one holds).
	best, bestSpec := false, []int(nil)
	for _, m := range s.Members {
		f := strings.Fields(m)
		if len(f) == 0 {
			continue
		}
		opts := f[1:]
		parts := strings.Split(f[0], ",")
		if len(parts) != len(want) {
			return false, fmt.Sprintf("ipset %s: entry %q does not fit type %s", s.Name, m, s.Type)
		}
		hit, spec := true, make([]int, 0, len(want))
		for i, d := range want {
			h, n, why := ipsetDim(kind, d, parts[i], flags[i] == "src", slices.Contains(opts, "wildcard"), p)
			if why != "" {
				return false, fmt.Sprintf("ipset %s: %s", s.Name, why)
			}
			if !h {
				hit = false
				break
			}
			spec = append(spec, n)
		}
		if hit && (bestSpec == nil || slices.Compare(spec, bestSpec) > 0) {
			best, bestSpec = !slices.Contains(opts, "nomatch"), spec
		}
	}
	return best, ""
}

// ipsetDim matches one dimension of an entry against the packet, and
// says how specific the entry is there (a prefix's length).
func ipsetDim(kind, dim, v string, src, wildcard bool, p IPSetPacket) (hit bool, spec int, why string) {
	addr, port := p.Dst, p.DPort
	if src {
		addr, port = p.Src, p.SPort
	}
	switch dim {
	case "ip", "net":
		if lo, hi, ok := strings.Cut(v, "-"); ok {
			a, err1 := netip.ParseAddr(lo)
			b, err2 := netip.ParseAddr(hi)
			if err1 != nil || err2 != nil {
				return false, 0, fmt.Sprintf("address range %q is not understood", v)
			}
			return a.Compare(addr) <= 0 && addr.Compare(b) <= 0, 32, ""
		}
		if !strings.Contains(v, "/") {
			v += "/32"
		}
		pf, err := netip.ParsePrefix(v)
		if err != nil {
			return false, 0, fmt.Sprintf("address %q is not understood", v)
		}
		return pf.Contains(addr), pf.Bits(), ""
	case "port":
		proto, ports, ok := strings.Cut(v, ":")
		switch {
		case !ok && kind == "bitmap":
			// A bitmap of ports holds numbers: any TCP or UDP port.
			proto, ports = p.Proto, v
			if proto != "tcp" && proto != "udp" {
				return false, 0, ""
			}
		case !ok:
			proto, ports = "tcp", v // a hash entry without a protocol is TCP
		}
		if proto != p.Proto {
			return false, 0, ""
		}
		if proto == "icmp" {
			return false, 0, "icmp entries are not modelled"
		}
		lo, hi, rng := strings.Cut(ports, "-")
		if !rng {
			hi = lo
		}
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := strconv.ParseUint(hi, 10, 16)
		if err1 != nil || err2 != nil {
			return false, 0, fmt.Sprintf("port %q is not understood (service names are not resolved)", v)
		}
		return uint64(port) >= a && uint64(port) <= b, 0, ""
	case "iface":
		iface := p.OutIface
		if src {
			iface = p.InIface
		}
		if strings.HasPrefix(v, "physdev:") {
			// A bridge port entry: iptables' set match never looks
			// bridge ports up, so it cannot match.
			return false, 0, ""
		}
		if wildcard {
			return strings.HasPrefix(iface, v), 0, ""
		}
		return iface == v, 0, ""
	case "mark":
		m, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			return false, 0, fmt.Sprintf("mark %q is not understood", v)
		}
		return uint32(m) == p.Mark, 0, ""
	}
	return false, 0, fmt.Sprintf("the %s dimension is not modelled", dim)
}
