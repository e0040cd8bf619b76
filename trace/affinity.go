package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	nf "github.com/netx-project/netx/netfilter"
)

// Session affinity (sessionAffinity: ClientIP) is state the node keeps
// per client: kube-proxy's iptables mode remembers a client in an
// xt_recent list per endpoint (-m recent --set in the endpoint's chain,
// --rcheck --seconds T in the service's), its nftables mode in a dynamic
// set per endpoint (update @affinity-… { ip saddr }, ip saddr
// @affinity-… goto endpoint-…). A client found there goes to the same
// endpoint again; one not found takes the random pick, and the endpoint
// chain it lands in pins it.

// Affinity is what the trace found of session affinity on its path.
type Affinity struct {
	Client string `json:"client"`
	// State is pinned (the node holds the client: it goes where it went
	// before), first-connection (it holds nothing for it: the random
	// pick, then pinned), or unread (the node's state was not read — a
	// snapshot without it: the path a first connection takes).
	State string `json:"state"`
	// Endpoint is where the client is (or will be) pinned.
	Endpoint string `json:"endpoint,omitempty"`
	// Store is the list or set that holds it: "recent list KUBE-SEP-…",
	// "set affinity-…".
	Store string `json:"store"`
	// LeftSeconds is how long the pin holds on (pinned); TimeoutSeconds,
	// how long a new one lasts (the service's timeoutSeconds).
	LeftSeconds    int64 `json:"leftSeconds,omitempty"`
	TimeoutSeconds int64 `json:"timeoutSeconds,omitempty"`
	// Rule is the rule that found the client (pinned) or that pins it.
	Rule   *RuleHit `json:"rule,omitempty"`
	Detail string   `json:"detail"`
}

// recentMatch decides -m recent for the packet from the namespace's
// xt_recent lists: --set always holds (it records the client); a check
// holds when the list has the client, recently enough. When the lists
// were not read, a check is taken as a first connection's: no entry.
func recentMatch(rc *nf.Recent, ctx hookCtx, pkt Packet) (float64, string) {
	addr := pkt.Src
	if rc.Dest {
		addr = pkt.Dst
	}
	store := "recent list " + rc.Name
	timeout := time.Duration(rc.Seconds) * time.Second
	switch rc.Mode {
	case "set":
		ctx.note(stickyNote{store: store, client: addr, kind: "record"})
		return 1, ""
	case "rcheck", "update", "remove":
	default:
		return 0, "-m recent without --set, --rcheck, --update or --remove"
	}
	if !ctx.recentRead {
		ctx.note(stickyNote{store: store, client: addr, kind: "unread", timeout: timeout})
		return 0, ""
	}
	// The TTL of a packet netx did not see is unknown: --rttl is not held
	// against it.
	ok, e := rc.Check(nf.RecentTableNamed(ctx.recent, rc.Name), addr, 0)
	if !ok {
		ctx.note(stickyNote{store: store, client: addr, kind: "miss", timeout: timeout})
		return 0, ""
	}
	n := stickyNote{store: store, client: addr, kind: "pinned", timeout: timeout}
	if e != nil && rc.Seconds > 0 {
		n.left = timeout - e.LastSeen
	}
	ctx.note(n)
	return 1, ""
}

// dynamicSet is the named set a lookup reads when the packet path itself
// fills it (flags dynamic or timeout, keyed by the source address alone):
// nftables' session affinity sets.
func dynamicSet(l *nf.Lookup, table *nf.Table) *nf.Set {
	if l.Set == "" || len(l.Keys) != 1 || l.Keys[0].Field != nf.FieldSAddr {
		return nil
	}
	s := table.Set(l.Set)
	if s == nil || !(s.Timeout > 0 || slices.Contains(s.Flags, "dynamic") || slices.Contains(s.Flags, "timeout")) {
		return nil
	}
	return s
}

// describe is a rule hit's note for a pin found or recorded.
func (n stickyNote) describe() string {
	switch n.kind {
	case "pinned":
		s := fmt.Sprintf("%s holds %s", n.store, n.client)
		if n.left > 0 {
			s += ", " + roundDuration(n.left) + " more"
		}
		return s
	case "record":
		return fmt.Sprintf("records %s in %s", n.client, n.store)
	}
	return ""
}

// affinityOf sums up the affinity a path met: pinned when a check found
// the client, else first-connection (or unread) when a record pins it.
func affinityOf(notes []stickyNote, pkt Packet) *Affinity {
	var pinned, record, check *stickyNote
	for i := range notes {
		n := &notes[i]
		switch n.kind {
		case "pinned":
			if pinned == nil {
				pinned = n
			}
		case "record":
			record = n
		case "miss", "unread":
			if check == nil || n.kind == "unread" {
				check = n
			}
		}
	}
	if pinned == nil && record == nil {
		return nil
	}
	a := &Affinity{}
	ep := netip.AddrPortFrom(pkt.Dst, pkt.DPort).String()
	if !pkt.hasPorts() {
		ep = pkt.Dst.String()
	}
	a.Endpoint = ep
	kube := false
	if pinned != nil {
		a.Client, a.Store, a.State = pinned.client.String(), pinned.store, "pinned"
		a.LeftSeconds, a.TimeoutSeconds = int64(pinned.left/time.Second), int64(pinned.timeout/time.Second)
		r := pinned.rule
		a.Rule = &r
		kube = kubeAffinityStore(pinned.store)
		a.Detail = fmt.Sprintf("%s is pinned to %s", a.Client, ep)
		if pinned.left > 0 {
			a.Detail += " for " + roundDuration(pinned.left) + " more"
		}
	} else {
		a.Client, a.Store, a.State = record.client.String(), record.store, "first-connection"
		timeout := record.timeout
		if check != nil {
			if check.timeout > 0 {
				timeout = check.timeout
			}
			if check.kind == "unread" {
				a.State = "unread"
			}
		}
		a.TimeoutSeconds = int64(timeout / time.Second)
		r := record.rule
		a.Rule = &r
		kube = kubeAffinityStore(record.store)
		if a.State == "unread" {
			a.Detail = fmt.Sprintf("the node's affinity state was not read (a snapshot without it): this is a first connection's path; %s then pins %s to %s", ruleRef(&r), a.Client, ep)
		} else {
			a.Detail = fmt.Sprintf("no endpoint holds %s yet: a first connection, sent by the random pick; %s pins it to %s", a.Client, ruleRef(&r), ep)
		}
		if timeout > 0 {
			a.Detail += " for " + roundDuration(timeout)
		}
	}
	a.Detail += " (" + a.Store
	if kube {
		a.Detail += ": sessionAffinity ClientIP"
	}
	a.Detail += ")"
	return a
}

func kubeAffinityStore(store string) bool {
	return strings.HasPrefix(store, "recent list KUBE-SEP-") || strings.HasPrefix(store, "set affinity-")
}

// roundDuration writes d as people read it: 2h59m, 45s.
func roundDuration(d time.Duration) string {
	switch {
	case d >= time.Hour:
		d = d.Truncate(time.Minute)
	case d >= time.Minute:
		d = d.Truncate(time.Second)
	default:
		d = d.Round(time.Second)
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}

// verdictReason says why a drop or reject happened when the rules say
// it: kube-proxy's comments (iptables) and the map elements and chains
// it names (nftables). The verdict's kind is the rule's own; this only
// explains it. noEndpoints marks kube-proxy's reject of a service with no
// endpoints at all.
func verdictReason(table *nf.Table, chain *nf.Chain, rule *nf.Rule, kind nf.TargetKind, mapName string, elem *nf.Element) (reason string, noEndpoints bool) {
	drop := kind == nf.TargetDrop
	if c := rule.Comment; c != "" {
		switch {
		case strings.HasSuffix(c, " has no local endpoints"):
			svc := strings.TrimSuffix(c, " has no local endpoints")
			policy := "externalTrafficPolicy"
			if chain.Name == "KUBE-SERVICES" {
				policy = "internalTrafficPolicy"
			}
			return fmt.Sprintf("%s has no endpoint on this node and its %s is Local", svc, policy), false
		case strings.HasSuffix(c, " has no endpoints"):
			return strings.TrimSuffix(c, " has no endpoints") + " has no endpoints", !drop
		case strings.Contains(c, " traffic not accepted by KUBE-FW-"):
			svc, _, _ := strings.Cut(c, " traffic not accepted by")
			return fmt.Sprintf("the source is not in %s's loadBalancerSourceRanges", svc), false
		}
	}
	if elem != nil && (mapName == "no-endpoint-services" || mapName == "no-endpoint-nodeports") {
		svc := elem.Comment
		if svc == "" {
			svc = "the service"
		}
		if !drop {
			return svc + " has no endpoints", true
		}
		policy := "externalTrafficPolicy"
		if mapName == "no-endpoint-services" && len(elem.Key) > 0 && setHas(table.Set("cluster-ips"), elem.Key[0]) {
			policy = "internalTrafficPolicy"
		}
		return fmt.Sprintf("%s has no endpoint on this node and its %s is Local", svc, policy), false
	}
	if chain.Name == "reject-chain" && !drop {
		return "the service has no endpoints", true
	}
	if name, ok := strings.CutPrefix(chain.Name, "firewall-"); ok && drop {
		// firewall-HASH-ns/name/proto/port
		if _, svc, ok := strings.Cut(name, "-"); ok {
			if p := strings.Split(svc, "/"); len(p) == 4 {
				svc = p[0] + "/" + p[1]
				if p[3] != "" {
					svc += ":" + p[3]
				}
			}
			return fmt.Sprintf("the source is not in %s's loadBalancerSourceRanges", svc), false
		}
	}
	// Otherwise the rule's own words, when it has a comment.
	return rule.Comment, false
}

func setHas(s *nf.Set, key string) bool {
	if s == nil {
		return false
	}
	return slices.ContainsFunc(s.Elements, func(e nf.Element) bool { return len(e.Key) == 1 && e.Key[0] == key })
}
