package diagnose

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/netfilter"
)

// Pin is a client kube-proxy's session affinity (sessionAffinity
// ClientIP) holds on to: the node sends its new connections to Endpoint
// for Left more.
type Pin struct {
	Client   netip.Addr     `json:"client"`
	Endpoint netip.AddrPort `json:"endpoint"`
	Service  string         `json:"service,omitempty"` // ns/name:port, when the rules say it
	// Left is how long the pin holds when the node was read (0: not
	// known, or no timeout).
	Left  time.Duration `json:"left,omitempty"`
	Store string        `json:"store"` // "recent list KUBE-SEP-…", "set affinity-…"
}

// Pins lists the clients a node pins, in both kube-proxy modes: the
// xt_recent lists its KUBE-SEP chains record into (their timeout is the
// --rcheck --seconds of the service chain), and the elements of its
// nftables affinity sets (with the time they have left).
func Pins(node *inspect.Netns) []Pin {
	var pins []Pin
	for _, rs := range node.Netfilter {
		for _, t := range rs.Tables {
			if rs.Source == netfilter.SourceNFTables {
				pins = append(pins, nftPins(t)...)
			} else if t.Name == "nat" {
				pins = append(pins, recentPins(t, node.Recent)...)
			}
		}
	}
	slices.SortStableFunc(pins, func(a, b Pin) int {
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		return a.Client.Compare(b.Client)
	})
	return pins
}

func recentPins(nat *netfilter.Table, lists []netfilter.RecentTable) []Pin {
	// The seconds each list is checked with, from the service chains.
	seconds := map[string]uint32{}
	for _, c := range nat.Chains {
		for _, r := range c.Rules {
			for _, m := range r.Matches {
				if m.Kind == netfilter.MatchRecent && m.Recent.Mode == "rcheck" {
					seconds[m.Recent.Name] = m.Recent.Seconds
				}
			}
		}
	}
	var pins []Pin
	for _, c := range nat.Chains {
		for _, r := range c.Rules {
			i := slices.IndexFunc(r.Matches, func(m netfilter.Match) bool {
				return m.Kind == netfilter.MatchRecent && m.Recent.Mode == "set"
			})
			if i < 0 || r.Target.Kind != netfilter.TargetDNAT || !r.Target.To.Addr.IsValid() {
				continue
			}
			name := r.Matches[i].Recent.Name
			list := netfilter.RecentTableNamed(lists, name)
			if list == nil {
				continue
			}
			ep := netip.AddrPortFrom(r.Target.To.Addr, r.Target.To.Port)
			for _, e := range list.Entries {
				p := Pin{Client: e.Addr, Endpoint: ep, Service: r.Comment, Store: "recent list " + name}
				if s := time.Duration(seconds[name]) * time.Second; s > 0 {
					if e.LastSeen > s {
						continue // aged out: --rcheck --seconds no longer holds it
					}
					p.Left = s - e.LastSeen
				}
				pins = append(pins, p)
			}
		}
	}
	return pins
}

func nftPins(t *netfilter.Table) []Pin {
	var pins []Pin
	for _, s := range t.Sets {
		rest, ok := strings.CutPrefix(s.Name, "affinity-")
		if !ok || len(s.Elements) == 0 {
			continue
		}
		// affinity-HASH-ns/name/proto/port__ip/port
		_, base, _ := strings.Cut(rest, "-")
		svc, ep, ok := strings.Cut(base, "__")
		if !ok {
			continue
		}
		addr, port, _ := strings.Cut(ep, "/")
		ap, err := netip.ParseAddrPort(addr + ":" + port)
		if err != nil {
			continue
		}
		if parts := strings.Split(svc, "/"); len(parts) == 4 {
			svc = parts[0] + "/" + parts[1]
			if parts[3] != "" {
				svc += ":" + parts[3]
			}
		}
		for _, e := range s.Elements {
			a, err := netip.ParseAddr(e.Key[0])
			if err != nil {
				continue
			}
			pins = append(pins, Pin{Client: a, Endpoint: ap, Service: svc, Left: e.Expires, Store: "set " + s.Name})
		}
	}
	return pins
}
