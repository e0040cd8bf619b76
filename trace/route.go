package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/netx-project/netx/inspect"
)

// Route kinds a lookup ends in.
const (
	routeUnicast     = "unicast"
	routeLocal       = "local"
	routeBroadcast   = "broadcast"
	routeBlackhole   = "blackhole"
	routeUnreachable = "unreachable"
	routeProhibit    = "prohibit"
)

// fibResult is what the kernel's FIB lookup decides for one packet.
type fibResult struct {
	Type  string
	Dev   string
	Gw    netip.Addr // zero when the destination is on the link
	Src   netip.Addr // preferred source
	Table int
	Rule  *inspect.RouteRule // the policy rule that chose the table (nil: default rules)
	Route *inspect.Route     // nil for a local address found on a link
}

// NextHop is the address the packet is sent to on Dev: the gateway, or
// the destination itself.
func (r fibResult) NextHop(dst netip.Addr) netip.Addr {
	if r.Gw.IsValid() {
		return r.Gw
	}
	return dst
}

// Line is the route as `ip route` prints it, the evidence of a hop.
func (r fibResult) Line() string {
	if r.Route == nil {
		return "local (address of this namespace)"
	}
	return routeLine(*r.Route)
}

func routeLine(rt inspect.Route) string {
	var b strings.Builder
	if rt.Type != "" {
		b.WriteString(rt.Type + " ")
	}
	b.WriteString(rt.Dst)
	if rt.Gw != "" {
		b.WriteString(" via " + rt.Gw)
	}
	if rt.Dev != "" {
		b.WriteString(" dev " + rt.Dev)
	}
	if rt.Table != 0 && rt.Table != 254 {
		fmt.Fprintf(&b, " table %s", tableName(rt.Table))
	}
	if rt.Scope != "" && rt.Scope != "universe" {
		b.WriteString(" scope " + rt.Scope)
	}
	if rt.Src != "" {
		b.WriteString(" src " + rt.Src)
	}
	if rt.Onlink {
		b.WriteString(" onlink")
	}
	return b.String()
}

func tableName(t int) string {
	switch t {
	case 255:
		return "local"
	case 254:
		return "main"
	case 253:
		return "default"
	}
	return fmt.Sprint(t)
}

// defaultRules are the kernel's rules when a namespace has no others.
var defaultRules = []inspect.RouteRule{{Priority: 0, Table: 255}, {Priority: 32766, Table: 254}, {Priority: 32767, Table: 253}}

// lookup is the kernel's IPv4 FIB lookup in one namespace: policy rules in
// priority order, then the longest matching prefix of the chosen table.
// iif is the incoming interface ("" for locally generated packets).
func lookup(ns *inspect.Netns, src, dst netip.Addr, iif string, mark uint32) (fibResult, bool) {
	rules := ns.Rules
	if len(rules) == 0 {
		rules = defaultRules
	}
	rules = slices.Clone(rules)
	slices.SortStableFunc(rules, func(a, b inspect.RouteRule) int { return a.Priority - b.Priority })
	for i := range rules {
		rl := &rules[i]
		if !ruleMatches(rl, src, dst, iif, mark) {
			continue
		}
		if rl.Table == 255 {
			// The local table: a pod snapshot leaves its local routes out,
			// so local addresses are found on the links too.
			if r, ok := localRoute(ns, dst); ok {
				return r, true
			}
			continue
		}
		if r, ok := tableLookup(ns, rl.Table, dst); ok {
			if len(ns.Rules) > 0 {
				r.Rule = rl
			}
			if !r.Src.IsValid() {
				r.Src = preferredSrc(ns, r.Dev, r.NextHop(dst))
			}
			return r, true
		}
	}
	return fibResult{}, false
}

func ruleMatches(rl *inspect.RouteRule, src, dst netip.Addr, iif string, mark uint32) bool {
	if rl.Src != "" {
		if p, err := netip.ParsePrefix(rl.Src); err != nil || !p.Contains(src) {
			return false
		}
	}
	if rl.Dst != "" {
		if p, err := netip.ParsePrefix(rl.Dst); err != nil || !p.Contains(dst) {
			return false
		}
	}
	if rl.IIF != "" && rl.IIF != iif && !(rl.IIF == "lo" && iif == "") {
		return false
	}
	if rl.Mark != 0 || rl.Mask != 0 {
		mask := rl.Mask
		if mask == 0 {
			mask = 0xffffffff
		}
		if mark&mask != rl.Mark {
			return false
		}
	}
	return true
}

func localRoute(ns *inspect.Netns, dst netip.Addr) (fibResult, bool) {
	for i := range ns.Routes {
		rt := &ns.Routes[i]
		if rt.Table != 255 || (rt.Type != "local" && rt.Type != "broadcast") {
			continue
		}
		if p, err := parseDst(rt.Dst); err == nil && p.Contains(dst) && (rt.Type == "local" || p.Addr() == dst) {
			typ := routeLocal
			if rt.Type == "broadcast" {
				typ = routeBroadcast
			}
			return fibResult{Type: typ, Dev: rt.Dev, Table: 255, Route: rt, Src: dst}, true
		}
	}
	if isLocal(ns, dst) {
		dev := "lo"
		for _, l := range ns.Links {
			for _, a := range l.Addrs {
				if p, err := netip.ParsePrefix(a); err == nil && p.Addr() == dst {
					dev = l.Name
				}
			}
		}
		return fibResult{Type: routeLocal, Dev: dev, Table: 255, Src: dst}, true
	}
	return fibResult{}, false
}

func parseDst(s string) (netip.Prefix, error) {
	if s == "default" {
		return netip.MustParsePrefix("0.0.0.0/0"), nil
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.ParsePrefix(s)
}

func tableLookup(ns *inspect.Netns, table int, dst netip.Addr) (fibResult, bool) {
	best, bestBits := -1, -1
	for i, rt := range ns.Routes {
		if rt.Table != table {
			continue
		}
		p, err := parseDst(rt.Dst)
		if err != nil || !p.Addr().Is4() || !p.Contains(dst) {
			continue
		}
		if p.Bits() > bestBits {
			best, bestBits = i, p.Bits()
		}
	}
	if best < 0 {
		return fibResult{}, false
	}
	rt := &ns.Routes[best]
	r := fibResult{Type: routeUnicast, Dev: rt.Dev, Table: table, Route: rt}
	switch rt.Type {
	case "blackhole":
		r.Type = routeBlackhole
	case "unreachable":
		r.Type = routeUnreachable
	case "prohibit":
		r.Type = routeProhibit
	case "local":
		r.Type = routeLocal
	case "broadcast":
		r.Type = routeBroadcast
	}
	if rt.Gw != "" {
		r.Gw, _ = netip.ParseAddr(rt.Gw)
	}
	if rt.Src != "" {
		r.Src, _ = netip.ParseAddr(rt.Src)
	}
	return r, true
}

// preferredSrc is the source address the kernel picks for a packet leaving
// by dev toward nh: an address of dev in nh's subnet, else dev's first,
// else any of the namespace's.
func preferredSrc(ns *inspect.Netns, dev string, nh netip.Addr) netip.Addr {
	var first netip.Addr
	for _, l := range ns.Links {
		if l.Name != dev {
			continue
		}
		for _, a := range l.Addrs {
			p, err := netip.ParsePrefix(a)
			if err != nil || !p.Addr().Is4() {
				continue
			}
			if p.Contains(nh) {
				return p.Addr()
			}
			if !first.IsValid() {
				first = p.Addr()
			}
		}
	}
	if first.IsValid() {
		return first
	}
	for _, p := range nsAddrs(ns) {
		if p.Addr().Is4() && !p.Addr().IsLoopback() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}
