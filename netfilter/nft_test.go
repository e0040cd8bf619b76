package netfilter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// nftFixtures are the real nft dumps and the lab's nft -f golden.
var nftFixtures = []string{
	"../testdata/cluster/nftables/node1.nft",
	"../testdata/cluster/nftables/node2.nft",
	"../testdata/golden/lab/seeds-node1.nft",
}

func parseNFTFile(t testing.TB, path string) *Ruleset {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := ParseNFT(f)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return rs
}

func parseNFTString(t *testing.T, s string) *Ruleset {
	t.Helper()
	rs, err := ParseNFT(strings.NewReader(s))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	return rs
}

// chainsWithPrefix returns kube-proxy's per-service chains whose names
// start with prefix (service-HASH-ns/name/proto/port ...), which hold a
// "/" unlike its fixed chains (service-endpoints-check).
func chainsWithPrefix(tb *Table, prefix string) []*Chain {
	var out []*Chain
	for _, c := range tb.Chains {
		if strings.HasPrefix(c.Name, prefix) && strings.Contains(c.Name, "/") {
			out = append(out, c)
		}
	}
	return out
}

// unknowns lists the rules of tb that hold anything netx does not model.
func unknowns(tb *Table) []string {
	var out []string
	for _, c := range tb.Chains {
		for _, r := range c.Rules {
			if r.Unknown() {
				out = append(out, c.Name+": "+r.Text)
			}
		}
	}
	return out
}

// TestParseNFTCluster checks the real kube-proxy v1.34 nftables dumps.
func TestParseNFTCluster(t *testing.T) {
	for _, tc := range []struct {
		path      string
		endpoints map[string]string // endpoint chain prefix -> DNAT target
		svcB      string            // svc-b's ClusterIP
		svcBEps   []string          // svc-b's endpoint chains, in numgen order
		nodePort  string            // nodeport-ips element
		ipTables  string            // the iptables-save of the same node
	}{
		{
			path: "../testdata/cluster/nftables/node2.nft",
			endpoints: map[string]string{
				"endpoint-KZG4W5D5-": "192.168.77.10:6443",
				"endpoint-7RETLOUD-": "10.244.2.3:8080",
				"endpoint-BPNYOJ7X-": "10.244.2.2:80",
				"endpoint-B257NW4B-": "10.244.1.3:8080",
			},
			svcB:     "10.96.102.201",
			svcBEps:  []string{"endpoint-B257NW4B-default/svc-b/tcp/http__10.244.1.3/8080", "endpoint-7RETLOUD-default/svc-b/tcp/http__10.244.2.3/8080"},
			nodePort: "192.168.77.12",
			ipTables: "../testdata/cluster/nftables/node2.iptables-save",
		},
		{
			path:     "../testdata/cluster/nftables/node1.nft",
			svcB:     "10.96.102.201",
			svcBEps:  []string{"endpoint-B257NW4B-default/svc-b/tcp/http__10.244.1.3/8080", "endpoint-7RETLOUD-default/svc-b/tcp/http__10.244.2.3/8080"},
			nodePort: "192.168.77.11",
			ipTables: "../testdata/cluster/nftables/node1.iptables-save",
		},
	} {
		t.Run(tc.path[strings.LastIndexByte(tc.path, '/')+1:], func(t *testing.T) {
			rs := parseNFTFile(t, tc.path)
			if rs.Source != SourceNFTables {
				t.Errorf("source %q", rs.Source)
			}
			var names []string
			for _, tb := range rs.Tables {
				names = append(names, string(tb.Family)+" "+tb.Name)
			}
			if got, want := strings.Join(names, ","), "ip filter,ip nat,ip mangle,ip6 mangle,ip6 nat,ip6 filter,ip kube-proxy,ip6 kube-proxy"; got != want {
				t.Fatalf("tables %s, want %s", got, want)
			}
			kp := rs.Table(FamilyIP, "kube-proxy")
			if kp.Comment != "rules for kube-proxy" {
				t.Errorf("table comment %q", kp.Comment)
			}
			for _, fam := range []Family{FamilyIP, FamilyIP6} {
				if u := unknowns(rs.Table(fam, "kube-proxy")); len(u) > 0 {
					t.Errorf("%s kube-proxy has unknowns:\n%s", fam, strings.Join(u, "\n"))
				}
			}
			if n := len(chainsWithPrefix(kp, "service-")); n != 3 {
				t.Errorf("%d service- chains, want 3", n)
			}
			if n := len(chainsWithPrefix(kp, "endpoint-")); n != 4 {
				t.Errorf("%d endpoint- chains, want 4", n)
			}
			if n := len(chainsWithPrefix(kp, "external-")); n != 1 {
				t.Errorf("%d external- chains, want 1", n)
			}

			// Base chains: hook, type and priority, named or numeric.
			for _, want := range []struct {
				chain string
				typ   ChainType
				hook  Hook
				prio  int
			}{
				{"filter-prerouting-pre-dnat", ChainFilter, HookPrerouting, -110}, // dstnat - 10
				{"filter-output-pre-dnat", ChainFilter, HookOutput, -110},
				{"filter-input", ChainFilter, HookInput, 0},
				{"nat-prerouting", ChainNAT, HookPrerouting, -100},
				{"nat-output", ChainNAT, HookOutput, -100},
				{"nat-postrouting", ChainNAT, HookPostrouting, 100},
			} {
				c := kp.Chain(want.chain)
				if c == nil || c.Type != want.typ || c.Hook != want.hook || c.Priority != want.prio || c.Policy != "ACCEPT" {
					t.Errorf("chain %s: %+v, want %s hook %s priority %d", want.chain, c, want.typ, want.hook, want.prio)
				}
			}
			if c := kp.Chain("services"); c.Base() {
				t.Error("services is a regular chain")
			}
			if c := kp.Chain("reject-chain"); c.Comment != "helper for @no-endpoint-services / @no-endpoint-nodeports" {
				t.Errorf("reject-chain comment %q", c.Comment)
			}
			// The kernel's order at prerouting: kube-proxy's filter before
			// either nat chain.
			var order []string
			for _, h := range rs.Hooked(FamilyIP, HookPrerouting) {
				order = append(order, h.Table.Name+"/"+h.Chain.Name)
			}
			if got := strings.Join(order, " "); got != "kube-proxy/filter-prerouting-pre-dnat nat/PREROUTING kube-proxy/nat-prerouting" {
				t.Errorf("prerouting order %s", got)
			}

			// Sets and maps.
			si := kp.Set("service-ips")
			if si == nil || !si.Map() || si.DataType != "verdict" || strings.Join(si.KeyType, ".") != "ipv4_addr.inet_proto.inet_service" {
				t.Fatalf("service-ips: %+v", si)
			}
			if len(si.Elements) != 3 {
				t.Errorf("service-ips has %d elements", len(si.Elements))
			}
			var svcB string
			for _, e := range si.Elements {
				if strings.Join(e.Key, " ") == tc.svcB+" tcp 80" {
					if e.Verdict == nil || e.Verdict.Kind != TargetGoto {
						t.Fatalf("svc-b element %+v", e)
					}
					svcB = e.Verdict.Chain
				}
			}
			if svcB != "service-QWOTMZ2Y-default/svc-b/tcp/http" || kp.Chain(svcB) == nil {
				t.Fatalf("svc-b's service-ips element goes to %q", svcB)
			}
			if ci := kp.Set("cluster-ips"); ci.Map() || len(ci.Elements) != 3 || ci.Comment != "Active ClusterIPs" {
				t.Errorf("cluster-ips: %+v", ci)
			}
			if np := kp.Set("nodeport-ips"); len(np.Elements) != 1 || np.Elements[0].Key[0] != tc.nodePort {
				t.Errorf("nodeport-ips: %+v", np)
			}
			if e := kp.Set("service-nodeports").Elements; len(e) != 1 || strings.Join(e[0].Key, " ") != "tcp 30080" || e[0].Verdict.Chain != "external-OI4BASKU-default/mc3/tcp/" {
				t.Errorf("service-nodeports: %+v", e)
			}

			// services: the concatenated verdict map.
			svcs := kp.Chain("services").Rules
			if len(svcs) != 2 {
				t.Fatalf("services: %d rules", len(svcs))
			}
			vm := svcs[0].Target
			if vm.Kind != TargetVerdictMap || vm.Lookup.Set != "service-ips" || !reflect.DeepEqual(vm.Lookup.Keys, []Selector{{Field: FieldDAddr}, {Field: FieldL4Proto}, {Field: FieldDPort}}) || len(svcs[0].Matches) != 0 {
				t.Errorf("services rule 1: %+v", svcs[0])
			}
			if r := svcs[1]; r.Matches[0].Kind != MatchLookup || r.Matches[0].Lookup.Set != "nodeport-ips" || r.Target.Lookup.Set != "service-nodeports" || len(r.Target.Lookup.Keys) != 2 {
				t.Errorf("services rule 2: %+v", r)
			}

			// svc-b: masquerade mark for off-cluster sources, then numgen.
			sr := kp.Chain(svcB).Rules
			if len(sr) != 2 {
				t.Fatalf("%s: %d rules", svcB, len(sr))
			}
			want := []Match{
				{Kind: MatchDestination, Prefix: netip.MustParsePrefix(tc.svcB + "/32")},
				{Kind: MatchSource, Negate: true, Prefix: netip.MustParsePrefix("10.244.0.0/16")},
			}
			if !reflect.DeepEqual(sr[0].Matches, want) || !reflect.DeepEqual(sr[0].Target, Target{Kind: TargetJump, Chain: "mark-for-masquerade"}) {
				t.Errorf("svc-b rule 1: %+v", sr[0])
			}
			ng := sr[1].Target
			if ng.Kind != TargetVerdictMap || len(ng.Lookup.Keys) != 1 || ng.Lookup.Keys[0] != (Selector{Field: FieldNumgen, Mod: 2}) || len(ng.Lookup.Elements) != 2 {
				t.Fatalf("svc-b numgen: %+v", ng)
			}
			for i, e := range ng.Lookup.Elements {
				if e.Key[0] != fmt.Sprint(i) || e.Verdict.Kind != TargetGoto || e.Verdict.Chain != tc.svcBEps[i] || kp.Chain(e.Verdict.Chain) == nil {
					t.Errorf("numgen branch %d: %+v %+v", i, e, e.Verdict)
				}
			}

			// Endpoints: hairpin mark, then DNAT to the endpoint.
			for prefix, to := range tc.endpoints {
				eps := chainsWithPrefix(kp, prefix)
				if len(eps) != 1 || len(eps[0].Rules) != 2 {
					t.Fatalf("endpoint %s: %+v", prefix, eps)
				}
				r := eps[0].Rules[1]
				if r.Target.Kind != TargetDNAT || r.Target.ToDestination != to || r.Target.To.Addr.String()+":"+fmt.Sprint(r.Target.To.Port) != to ||
					len(r.Matches) != 1 || !reflect.DeepEqual(r.Matches[0], Match{Kind: MatchProtocol, Value: "tcp"}) {
					t.Errorf("endpoint %s: %+v", prefix, r)
				}
				src := to[:strings.IndexByte(to, ':')]
				if m := eps[0].Rules[0].Matches; len(m) != 1 || m[0].Prefix != netip.MustParsePrefix(src+"/32") {
					t.Errorf("endpoint %s hairpin: %+v", prefix, m)
				}
			}

			// Masquerading and the mark it tests.
			mq := kp.Chain("masquerading").Rules
			if len(mq) != 3 ||
				!reflect.DeepEqual(mq[0].Matches[0], Match{Kind: MatchMark, Mark: 0, Mask: 0x4000}) || mq[0].Target.Kind != TargetReturn ||
				!reflect.DeepEqual(mq[1].Target, Target{Kind: TargetMark, SetMark: 0x4000, Mask: 0}) ||
				!reflect.DeepEqual(mq[2].Target, Target{Kind: TargetMasquerade, RandomFully: true}) {
				t.Errorf("masquerading: %+v %+v %+v", mq[0], mq[1], mq[2])
			}
			if r := kp.Chain("mark-for-masquerade").Rules[0]; !reflect.DeepEqual(r.Target, Target{Kind: TargetMark, SetMark: 0x4000, Mask: 0x4000}) {
				t.Errorf("mark-for-masquerade: %+v", r.Target)
			}
			cc := kp.Chain("cluster-ips-check").Rules
			if cc[0].Target.Kind != TargetReject || cc[0].Comment != "Reject traffic to invalid ports of ClusterIPs" || cc[0].Matches[0].Lookup.Set != "cluster-ips" ||
				cc[1].Target.Kind != TargetDrop || cc[1].Matches[0].Prefix != netip.MustParsePrefix("10.96.0.0/16") {
				t.Errorf("cluster-ips-check: %+v %+v", cc[0], cc[1])
			}
			fi := kp.Chain("filter-input").Rules
			if len(fi) != 2 || !reflect.DeepEqual(fi[0].Matches, []Match{{Kind: MatchCTState, Values: []string{"NEW"}}}) || fi[0].Target.Chain != "nodeport-endpoints-check" {
				t.Errorf("filter-input: %+v", fi)
			}
			if r := rs.Table(FamilyIP6, "kube-proxy").Chain("services").Rules[1]; r.Matches[0].Kind != MatchAddrType || !r.Matches[0].AddrType.Dst ||
				!reflect.DeepEqual(r.Matches[1], Match{Kind: MatchDestination, Negate: true, Prefix: netip.MustParsePrefix("::1/128")}) {
				t.Errorf("ip6 services rule 2: %+v", r.Matches)
			}

			// iptables-nft's tables, as nft shows them, agree with
			// iptables-save of the same node rule for rule.
			ipt := parseFile(t, tc.ipTables)
			for _, it := range ipt.Tables {
				nt := rs.Table(FamilyIP, it.Name)
				if nt == nil {
					t.Errorf("no nft table ip %s", it.Name)
					continue
				}
				if u := unknowns(nt); len(u) > 0 {
					t.Errorf("ip %s has unknowns:\n%s", it.Name, strings.Join(u, "\n"))
				}
				for _, ic := range it.Chains {
					nc := nt.Chain(ic.Name)
					if nc == nil && ic.Base() && len(ic.Rules) == 0 {
						continue // iptables-save prints built-in chains iptables-nft never created
					}
					if nc == nil || len(nc.Rules) != len(ic.Rules) || nc.Hook != ic.Hook || nc.Priority != ic.Priority || (nc.Base() && nc.Policy != ic.Policy) {
						t.Errorf("%s/%s: nft %+v, iptables %+v", it.Name, ic.Name, nc, ic)
						continue
					}
					for i, ir := range ic.Rules {
						nr := nc.Rules[i]
						if nr.Target.Kind != ir.Target.Kind || nr.Target.Chain != ir.Target.Chain || nr.Target.SetMark != ir.Target.SetMark ||
							nr.Target.Mask != ir.Target.Mask || nr.Target.To != ir.Target.To || nr.Target.RandomFully != ir.Target.RandomFully {
							t.Errorf("%s/%s rule %d target: nft %+v, iptables %+v", it.Name, ic.Name, i+1, nr.Target, ir.Target)
						}
						if got, want := prefixes(nr), prefixes(ir); got != want {
							t.Errorf("%s/%s rule %d addresses: nft %s, iptables %s", it.Name, ic.Name, i+1, got, want)
						}
					}
				}
			}
		})
	}
}

// prefixes summarises a rule's address matches.
func prefixes(r *Rule) string {
	var b strings.Builder
	for _, m := range r.Matches {
		if m.Kind == MatchSource || m.Kind == MatchDestination {
			fmt.Fprintf(&b, "%s %v %s;", m.Kind, m.Negate, m.Prefix)
		}
	}
	return b.String()
}

// TestParseNFTScript checks the lab's nft -f golden: add/delete table,
// chains with hooks, rules, sets, maps and elements added one by one.
func TestParseNFTScript(t *testing.T) {
	rs := parseNFTFile(t, "../testdata/golden/lab/seeds-node1.nft")
	if len(rs.Tables) != 1 {
		t.Fatalf("%d tables", len(rs.Tables))
	}
	kp := rs.Table(FamilyIP, "kube-proxy")
	if kp.Comment != "rules for kube-proxy" {
		t.Errorf("comment %q", kp.Comment)
	}
	if u := unknowns(kp); len(u) > 0 {
		t.Errorf("unknowns:\n%s", strings.Join(u, "\n"))
	}
	if len(chainsWithPrefix(kp, "service-")) != 2 || len(chainsWithPrefix(kp, "endpoint-")) != 3 || len(kp.Chains) != 22 {
		t.Errorf("chains: %d", len(kp.Chains))
	}
	if c := kp.Chain("filter-prerouting-pre-dnat"); c.Priority != -110 || c.Hook != HookPrerouting || c.Policy != "ACCEPT" {
		t.Errorf("pre-dnat: %+v", c)
	}
	if e := kp.Set("cluster-ips").Elements; len(e) != 2 || e[0].Key[0] != "10.96.0.11" || e[1].Key[0] != "10.96.0.10" {
		t.Errorf("cluster-ips: %+v", e)
	}
	if e := kp.Set("service-ips").Elements; len(e) != 2 || e[1].Verdict.Chain != "service-QWOTMZ2Y-default/svc-b/tcp/http" {
		t.Errorf("service-ips: %+v", e)
	}
	sb := kp.Chain("service-QWOTMZ2Y-default/svc-b/tcp/http").Rules
	if len(sb) != 2 || sb[1].Target.Lookup == nil || len(sb[1].Target.Lookup.Elements) != 2 ||
		sb[1].Target.Lookup.Elements[1].Verdict.Chain != "endpoint-7PSPJOUQ-default/svc-b/tcp/http__10.244.2.2/8080" {
		t.Fatalf("svc-b: %+v", sb)
	}
	if r := kp.Chain("masquerading").Rules[0]; !reflect.DeepEqual(r.Matches[0], Match{Kind: MatchMark, Mask: 0x4000}) {
		t.Errorf("mark and 0x004000 == 0: %+v", r.Matches)
	}
	if r := kp.Chain("mark-for-masquerade").Rules[0]; !reflect.DeepEqual(r.Target, Target{Kind: TargetMark, SetMark: 0x4000, Mask: 0x4000}) {
		t.Errorf("mark set mark or 0x004000: %+v", r.Target)
	}
	// A one-element anonymous set is the plain match.
	if r := kp.Chain("cluster-ips-check").Rules[1]; !reflect.DeepEqual(r.Matches, []Match{{Kind: MatchDestination, Prefix: netip.MustParsePrefix("10.96.0.0/16")}}) {
		t.Errorf("ip daddr { 10.96.0.0/16 }: %+v", r.Matches)
	}
	if r := kp.Chain("endpoint-B257NW4B-default/svc-b/tcp/http__10.244.1.3/8080").Rules[1]; r.Target.ToDestination != "10.244.1.3:8080" || r.Text != "meta l4proto tcp dnat to 10.244.1.3:8080" {
		t.Errorf("dnat rule: %+v", r)
	}
}

// nftRule parses one rule in a table holding chains c and d and sets s
// and m, and returns it.
func nftOneRule(t *testing.T, family, rule string) *Rule {
	t.Helper()
	rs := parseNFTString(t, "table "+family+" x {\n\tset s { type ipv4_addr; }\n\tmap m { type inet_service : verdict; }\n\tchain c {\n\t}\n\tchain d {\n\t}\n\tchain r {\n\t\t"+rule+"\n\t}\n}\n")
	rules := rs.Tables[0].Chain("r").Rules
	if len(rules) != 1 {
		t.Fatalf("%q: %d rules", rule, len(rules))
	}
	if rules[0].Num != 1 {
		t.Errorf("num %d", rules[0].Num)
	}
	return rules[0]
}

func TestNFTRules(t *testing.T) {
	pfx := netip.MustParsePrefix
	ports := func(a, b uint16) []PortRange { return []PortRange{{a, b}} }
	for _, tc := range []struct {
		rule    string
		matches []Match
		stmts   []Target
		target  Target
		check   func(*Rule) bool
	}{
		{rule: "ip saddr 10.0.0.0/8 ip daddr != 1.2.3.4 accept",
			matches: []Match{{Kind: MatchSource, Prefix: pfx("10.0.0.0/8")}, {Kind: MatchDestination, Negate: true, Prefix: pfx("1.2.3.4/32")}},
			target:  Target{Kind: TargetAccept}},
		{rule: "iifname \"veth*\" oifname != \"eth0\" drop",
			matches: []Match{{Kind: MatchInInterface, Value: "veth+"}, {Kind: MatchOutInterface, Negate: true, Value: "eth0"}},
			target:  Target{Kind: TargetDrop}},
		{rule: "udp sport != 53 th dport 1000-2000 return",
			matches: []Match{{Kind: MatchProtocol, Module: "udp", Value: "udp"}, {Kind: MatchSrcPort, Negate: true, Module: "udp", Ports: ports(53, 53)}, {Kind: MatchDstPort, Ports: ports(1000, 2000)}},
			target:  Target{Kind: TargetReturn}},
		{rule: "meta l4proto tcp tcp dport { 80, 443-445 } reject with tcp reset",
			matches: []Match{{Kind: MatchProtocol, Value: "tcp"}, {Kind: MatchDstPort, Module: "tcp", Ports: []PortRange{{80, 80}, {443, 445}}}},
			target:  Target{Kind: TargetReject, RejectWith: "tcp reset"}},
		{rule: "ct state established,related counter packets 12 bytes 3456 accept # handle 7",
			matches: []Match{{Kind: MatchCTState, Values: []string{"ESTABLISHED", "RELATED"}}},
			target:  Target{Kind: TargetAccept},
			check: func(r *Rule) bool {
				return r.Handle == 7 && r.Counters == Counters{12, 3456} && !strings.Contains(r.Text, "handle")
			}},
		{rule: "ct status dnat ct direction reply drop",
			matches: []Match{{Kind: MatchCTStatus, Values: []string{"DNAT"}}, {Kind: MatchCTDirection, Value: "REPLY"}},
			target:  Target{Kind: TargetDrop}},
		{rule: "meta mark & 0x00004000 != 0x00004000 return",
			matches: []Match{{Kind: MatchMark, Negate: true, Mark: 0x4000, Mask: 0x4000}},
			target:  Target{Kind: TargetReturn}},
		{rule: "mark 0x10 meta mark set 0x20 counter accept",
			matches: []Match{{Kind: MatchMark, Mark: 0x10, Mask: 0xffffffff}},
			stmts:   []Target{{Kind: TargetMark, SetMark: 0x20, Mask: 0xffffffff}},
			target:  Target{Kind: TargetAccept}},
		{rule: "meta mark set meta mark & 0xffff00ff | 0x00000100 log prefix \"x \" level info",
			stmts:  []Target{{Kind: TargetMark, SetMark: 0x100, Mask: 0xff00}},
			target: Target{Kind: TargetLog, LogPrefix: "x ", Args: []string{"level", "info"}}},
		{rule: "ct mark set 0x1 notrack",
			stmts:  []Target{{Kind: TargetConnMark, SetMark: 1, Mask: 0xffffffff}},
			target: Target{Kind: TargetNotrack}},
		{rule: "fib daddr . iif type != { local, broadcast } jump c",
			matches: []Match{{Kind: MatchAddrType, Negate: true, AddrType: &AddrType{Dst: true, LimitIfaceIn: true, Types: []string{"LOCAL", "BROADCAST"}}}},
			target:  Target{Kind: TargetJump, Chain: "c"}},
		{rule: "meta random & 2147483647 < 1073741824 goto d",
			matches: []Match{{Kind: MatchStatistic, Statistic: &Statistic{Mode: "random", Probability: 0.5}}},
			target:  Target{Kind: TargetGoto, Chain: "d"}},
		{rule: "tcp flags syn / syn,ack limit rate over 5/second burst 3 packets drop",
			matches: []Match{{Kind: MatchTCPFlags, Module: "tcp", TCPFlags: &TCPFlags{Comp: []string{"SYN"}, Mask: []string{"SYN", "ACK"}}}, {Kind: MatchLimit, Negate: true, Limit: &Limit{Rate: "5/second", Burst: 3}}},
			target:  Target{Kind: TargetDrop}},
		{rule: "icmp type echo-request accept",
			matches: []Match{{Kind: MatchICMPType, Module: "icmp", Value: "echo-request"}},
			target:  Target{Kind: TargetAccept}},
		{rule: "ip daddr != @s ip saddr { 10.0.0.1, 10.0.1.0/24 } accept",
			matches: []Match{
				{Kind: MatchLookup, Negate: true, Lookup: &Lookup{Keys: []Selector{{Field: FieldDAddr}}, Set: "s"}},
				{Kind: MatchLookup, Lookup: &Lookup{Keys: []Selector{{Field: FieldSAddr}}, Elements: []Element{{Key: []string{"10.0.0.1"}}, {Key: []string{"10.0.1.0/24"}}}}},
			},
			target: Target{Kind: TargetAccept}},
		{rule: "ip daddr 10.0.0.1-10.0.0.9 drop",
			matches: []Match{{Kind: MatchLookup, Lookup: &Lookup{Keys: []Selector{{Field: FieldDAddr}}, Elements: []Element{{Key: []string{"10.0.0.1-10.0.0.9"}}}}}},
			target:  Target{Kind: TargetDrop}},
		{rule: "tcp dport vmap @m",
			matches: []Match{{Kind: MatchProtocol, Module: "tcp", Value: "tcp"}},
			target:  Target{Kind: TargetVerdictMap, Lookup: &Lookup{Keys: []Selector{{Field: FieldDPort}}, Set: "m"}}},
		{rule: "ip saddr . th dport vmap { 10.0.0.1 . 53 : accept, 10.0.0.2 . 53 : jump c }",
			target: Target{Kind: TargetVerdictMap, Lookup: &Lookup{Keys: []Selector{{Field: FieldSAddr}, {Field: FieldDPort}}, Elements: []Element{
				{Key: []string{"10.0.0.1", "53"}, Verdict: &Target{Kind: TargetAccept}},
				{Key: []string{"10.0.0.2", "53"}, Verdict: &Target{Kind: TargetJump, Chain: "c"}},
			}}}},
		{rule: "numgen inc mod 2 vmap { 0 : goto c, 1 : goto d }",
			target: Target{Kind: TargetVerdictMap, Lookup: &Lookup{Keys: []Selector{{Field: FieldNumgenInc, Mod: 2}}, Elements: []Element{
				{Key: []string{"0"}, Verdict: &Target{Kind: TargetGoto, Chain: "c"}},
				{Key: []string{"1"}, Verdict: &Target{Kind: TargetGoto, Chain: "d"}},
			}}}},
		{rule: "meta l4proto udp dnat to 10.244.1.3:53 random,persistent",
			matches: []Match{{Kind: MatchProtocol, Value: "udp"}},
			target:  Target{Kind: TargetDNAT, ToDestination: "10.244.1.3:53", To: NATRange{Addr: netip.MustParseAddr("10.244.1.3"), Port: 53}, Random: true, Persistent: true}},
		{rule: "snat to 192.168.0.1-192.168.0.9",
			target: Target{Kind: TargetSNAT, ToSource: "192.168.0.1-192.168.0.9", To: NATRange{Addr: netip.MustParseAddr("192.168.0.1"), AddrMax: netip.MustParseAddr("192.168.0.9")}}},
		{rule: "dnat to ip daddr map { 10.0.0.1 : 10.0.0.2 }",
			target: Target{Kind: TargetDNAT, Args: []string{"ip", "daddr", "map", "{", "10.0.0.1", ":", "10.0.0.2", "}"}}},
		{rule: "meta l4proto tcp masquerade to :1024-2000 fully-random",
			matches: []Match{{Kind: MatchProtocol, Value: "tcp"}},
			target:  Target{Kind: TargetMasquerade, To: NATRange{Port: 1024, PortMax: 2000}, RandomFully: true}},
		{rule: "tcp dport 80 redirect to :8080",
			matches: []Match{{Kind: MatchProtocol, Module: "tcp", Value: "tcp"}, {Kind: MatchDstPort, Module: "tcp", Ports: ports(80, 80)}},
			target:  Target{Kind: TargetRedirect, To: NATRange{Port: 8080}}},
		{rule: "drop comment \"no \\\\ escapes here\"", target: Target{Kind: TargetDrop},
			check: func(r *Rule) bool { return r.Comment == `no \\ escapes here` }},
		{rule: "counter packets 1 bytes 2", check: func(r *Rule) bool { return r.Counters == Counters{1, 2} && r.Counter && r.Target.Kind == TargetNone }},
		// A counter at zero is still a counter; no counter is none.
		{rule: "udp dport 53 counter accept",
			matches: []Match{{Kind: MatchProtocol, Module: "udp", Value: "udp"}, {Kind: MatchDstPort, Module: "udp", Ports: ports(53, 53)}},
			target:  Target{Kind: TargetAccept},
			check:   func(r *Rule) bool { return r.Counter && r.Counters == Counters{} }},
		{rule: "udp dport 53 accept", matches: []Match{{Kind: MatchProtocol, Module: "udp", Value: "udp"}, {Kind: MatchDstPort, Module: "udp", Ports: ports(53, 53)}},
			target: Target{Kind: TargetAccept},
			check:  func(r *Rule) bool { return !r.Counter }},
		// The network header's protocol field and an interface index are
		// other kernel expressions than meta l4proto and a name.
		{rule: "ip protocol tcp tcp dport 22 accept",
			matches: []Match{{Kind: MatchProtocol, Module: "ip", Value: "tcp"}, {Kind: MatchDstPort, Module: "tcp", Ports: ports(22, 22)}},
			target:  Target{Kind: TargetAccept}},
		{rule: "ip6 nexthdr != udp meta l4proto tcp accept",
			matches: []Match{{Kind: MatchProtocol, Negate: true, Module: "ip6", Value: "udp"}, {Kind: MatchProtocol, Value: "tcp"}},
			target:  Target{Kind: TargetAccept}},
		{rule: "iif \"lo\" meta oif != \"eth0\" iifname \"lo\" accept",
			matches: []Match{{Kind: MatchInInterface, Module: "iif", Value: "lo"}, {Kind: MatchOutInterface, Negate: true, Module: "oif", Value: "eth0"}, {Kind: MatchInInterface, Value: "lo"}},
			target:  Target{Kind: TargetAccept}},
		// nft's listing of a test that none of the flags is set.
		{rule: "ct state ! established,new ct status ! snat,dnat accept",
			matches: []Match{{Kind: MatchCTState, Negate: true, Values: []string{"ESTABLISHED", "NEW"}}, {Kind: MatchCTStatus, Negate: true, Values: []string{"SNAT", "DNAT"}}},
			target:  Target{Kind: TargetAccept}},
		// A log flag of two words is one option, not a condition after
		// the log statement.
		{rule: "log flags tcp sequence,options flags ip options accept",
			stmts:  []Target{{Kind: TargetLog, Args: []string{"flags", "tcp sequence,options", "flags", "ip options"}}},
			target: Target{Kind: TargetAccept}},
		// A fib lookup other than an address type is one unknown through
		// its value, not an interface match.
		{rule: "fib saddr . iif oif missing fib saddr . mark oifname \"lo\" fib daddr oif != { \"a\", \"b\" } drop",
			matches: []Match{
				{Kind: MatchUnknown, Module: "fib", Args: []string{"saddr", ".", "iif", "oif", "missing"}},
				{Kind: MatchUnknown, Module: "fib", Args: []string{"saddr", ".", "mark", "oifname", `"lo"`}},
				{Kind: MatchUnknown, Module: "fib", Args: []string{"daddr", "oif", "!=", "{", `"a"`, ",", `"b"`, "}"}},
			},
			target: Target{Kind: TargetDrop}},

		// What netx does not model is kept, as written.
		{rule: "tcp flags syn / syn,ack xt match u32 counter packets 0 bytes 0 accept",
			matches: []Match{{Kind: MatchTCPFlags, Module: "tcp", TCPFlags: &TCPFlags{Comp: []string{"SYN"}, Mask: []string{"SYN", "ACK"}}}, {Kind: MatchUnknown, Module: "xt", Args: []string{"match", "u32"}}},
			target:  Target{Kind: TargetAccept}},
		{rule: "xt match physdev counter packets 0 bytes 0 xt target TPROXY",
			matches: []Match{{Kind: MatchUnknown, Module: "xt", Args: []string{"match", "physdev"}}},
			target:  Target{Kind: TargetUnknown, Name: "xt", Args: []string{"target", "TPROXY"}}},
		{rule: "ip ttl 1 meta pkttype host ip saddr 1.1.1.1 accept",
			matches: []Match{{Kind: MatchUnknown, Module: "ip", Args: []string{"ttl", "1"}}, {Kind: MatchUnknown, Module: "meta", Args: []string{"pkttype", "host"}}, {Kind: MatchSource, Prefix: pfx("1.1.1.1/32")}},
			target:  Target{Kind: TargetAccept}},
		{rule: "meta mark set ct mark accept",
			stmts:  []Target{{Kind: TargetUnknown, Name: "meta", Args: []string{"mark", "set", "ct", "mark"}}},
			target: Target{Kind: TargetAccept}},
		{rule: "ip saddr 1.2.3.4 ip daddr set 5.6.7.8 accept",
			matches: []Match{{Kind: MatchSource, Prefix: pfx("1.2.3.4/32")}},
			stmts:   []Target{{Kind: TargetUnknown, Name: "ip", Args: []string{"daddr", "set", "5.6.7.8"}}},
			target:  Target{Kind: TargetAccept}},
		{rule: "log ip saddr 1.2.3.4 drop", // a condition after an action
			matches: []Match{{Kind: MatchUnknown, Module: "ip", Args: []string{"saddr", "1.2.3.4"}}},
			stmts:   []Target{{Kind: TargetLog}},
			target:  Target{Kind: TargetDrop}},
		{rule: "numgen random mod 2 offset 1 vmap { 1 : goto c, 2 : goto d }",
			target: Target{Kind: TargetUnknown, Name: "numgen", Args: []string{"random", "mod", "2", "offset", "1", "vmap", "{", "1", ":", "goto", "c,", "2", ":", "goto", "d", "}"}},
			check:  func(r *Rule) bool { return r.Unknown() }},
		{rule: "accept # a comment nft would not print",
			matches: []Match{{Kind: MatchUnknown, Module: "#", Args: []string{"# a comment nft would not print"}}},
			target:  Target{Kind: TargetAccept}},
	} {
		r := nftOneRule(t, "inet", tc.rule)
		// The raw Args keep each token as written, so "c," splits only in
		// the expectation above where the comma is its own token.
		if tc.target.Kind == TargetUnknown && tc.target.Name == "numgen" {
			tc.target.Args = []string{"random", "mod", "2", "offset", "1", "vmap", "{", "1", ":", "goto", "c", ",", "2", ":", "goto", "d", "}"}
		}
		if !reflect.DeepEqual(r.Matches, tc.matches) && (len(r.Matches) > 0 || len(tc.matches) > 0) {
			t.Errorf("%s:\n matches %s\n    want %s", tc.rule, dump(r.Matches), dump(tc.matches))
		}
		if !reflect.DeepEqual(r.Statements, tc.stmts) {
			t.Errorf("%s:\n statements %s\n       want %s", tc.rule, dump(r.Statements), dump(tc.stmts))
		}
		if !reflect.DeepEqual(r.Target, tc.target) {
			t.Errorf("%s:\n target %s\n   want %s", tc.rule, dump(r.Target), dump(tc.target))
		}
		if tc.check != nil && !tc.check(r) {
			t.Errorf("%s: %s", tc.rule, dump(r))
		}
		if want, _, _ := strings.Cut(tc.rule, " # handle"); r.Text != want && !strings.HasPrefix(tc.rule, "accept #") {
			t.Errorf("text %q, want %q", r.Text, want)
		}
	}
}

func dump(v any) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%+v", v)
	s := b.String()
	// Pointers print as addresses; follow the usual ones.
	switch x := v.(type) {
	case []Match:
		s = ""
		for _, m := range x {
			s += fmt.Sprintf("%+v", m)
			if m.Lookup != nil {
				s += fmt.Sprintf("lookup=%+v", *m.Lookup)
			}
			if m.AddrType != nil {
				s += fmt.Sprintf("addrtype=%+v", *m.AddrType)
			}
		}
	case Target:
		if x.Lookup != nil {
			s += fmt.Sprintf(" lookup=%+v", *x.Lookup)
		}
	}
	return s
}

// TestNFTChains checks named and numeric priorities per family, policies,
// devices, table flags and objects.
func TestNFTChains(t *testing.T) {
	rs := parseNFTString(t, `table inet f { # handle 1
	flags dormant
	counter cnt { # handle 5
		packets 0 bytes 0
	}

	set s5 { # handle 7
		typeof ip daddr . tcp dport
		size 100
		flags interval,timeout
		elements = { 1.2.3.4 . 80 timeout 10m expires 9m59s996ms comment "e",
			     1.2.3.5 . 81 }
	}

	chain a { # handle 1
		type filter hook input priority filter + 5; policy drop;
	}
	chain b {
		type route hook output priority mangle - 1; policy accept;
	}
	chain c {
		type nat hook postrouting priority srcnat; policy accept;
	}
	chain d {
		type filter hook prerouting priority raw; policy accept;
	}
}
table bridge br {
	chain f {
		type filter hook forward priority filter; policy accept;
	}
	chain p {
		type filter hook prerouting priority dstnat; policy accept;
	}
}
table netdev nd {
	chain i {
		type filter hook ingress device "lo" priority -500; policy accept;
	}
}
`)
	f := rs.Table(FamilyInet, "f")
	for name, want := range map[string]Chain{
		"a": {Type: ChainFilter, Hook: HookInput, Priority: 5, Policy: "DROP"},
		"b": {Type: ChainRoute, Hook: HookOutput, Priority: -151, Policy: "ACCEPT"},
		"c": {Type: ChainNAT, Hook: HookPostrouting, Priority: 100, Policy: "ACCEPT"},
		"d": {Type: ChainFilter, Hook: HookPrerouting, Priority: -300, Policy: "ACCEPT"},
	} {
		c := f.Chain(name)
		if c.Type != want.Type || c.Hook != want.Hook || c.Priority != want.Priority || c.Policy != want.Policy {
			t.Errorf("chain %s: %+v", name, c)
		}
	}
	if br := rs.Table(FamilyBridge, "br"); br.Chain("f").Priority != -200 || br.Chain("p").Priority != -300 {
		t.Errorf("bridge priorities %d %d", br.Chain("f").Priority, br.Chain("p").Priority)
	}
	if c := rs.Table(FamilyNetdev, "nd").Chain("i"); c.Hook != HookIngress || c.Priority != -500 || !reflect.DeepEqual(c.Devices, []string{"lo"}) {
		t.Errorf("netdev chain %+v", c)
	}
	if !reflect.DeepEqual(f.Flags, []string{"dormant"}) || len(f.Objects) != 1 || !strings.HasPrefix(f.Objects[0], "counter cnt {") {
		t.Errorf("flags %q objects %q", f.Flags, f.Objects)
	}
	s := f.Set("s5")
	if !reflect.DeepEqual(s.KeyType, []string{"ipv4_addr", "inet_service"}) || !reflect.DeepEqual(s.Flags, []string{"interval", "timeout"}) ||
		!reflect.DeepEqual(s.Args, []string{"size 100"}) || len(s.Elements) != 2 || strings.Join(s.Elements[1].Key, " ") != "1.2.3.5 81" {
		t.Errorf("set %+v", s)
	}
	// Hooked orders inet chains among ip ones by priority.
	var names []string
	for _, h := range rs.Hooked(FamilyIP, HookPrerouting) {
		names = append(names, h.Chain.Name)
	}
	if strings.Join(names, ",") != "d" {
		t.Errorf("hooked %v", names)
	}
}

// TestNFTCommands checks the nft -f commands beyond add: insert, delete,
// flush.
func TestNFTCommands(t *testing.T) {
	rs := parseNFTString(t, `
add table ip t
add chain ip t c { type filter hook input priority 0 ; policy drop ; }
add chain ip t x
add rule ip t c jump x
insert rule ip t c ip saddr 1.1.1.1 accept
add set ip t s { type ipv4_addr ; flags interval ; }
add element ip t s { 10.0.0.0/8, 1.1.1.1 }
delete element ip t s { 1.1.1.1 }
add set ip t old { type ipv4_addr ; }
delete set ip t old
add map ip t old { type ipv4_addr : verdict ; }
add table ip gone
add chain ip gone y
add rule ip gone y accept
delete table ip gone
add table inet u ; add chain inet u z ; add rule inet u z drop
flush table inet u
`)
	c := rs.Table(FamilyIP, "t").Chain("c")
	if c.Policy != "DROP" || len(c.Rules) != 2 || c.Rules[0].Target.Kind != TargetAccept || c.Rules[0].Num != 1 || c.Rules[1].Num != 2 || c.Rules[1].Target.Chain != "x" {
		t.Errorf("chain c: %+v", c.Rules)
	}
	if e := rs.Table(FamilyIP, "t").Set("s").Elements; len(e) != 1 || e[0].Key[0] != "10.0.0.0/8" {
		t.Errorf("elements %+v", e)
	}
	// A set deleted and made again as a map is the map, found by name
	// through the index and by a scan after a JSON round trip alike.
	if m := rs.Table(FamilyIP, "t").Set("old"); m == nil || !m.Map() || len(rs.Table(FamilyIP, "t").Sets) != 2 {
		t.Errorf("set deleted and made again as a map: %+v", m)
	}
	data, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	var back Ruleset
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if m := back.Table(FamilyIP, "t").Set("old"); m == nil || !m.Map() {
		t.Errorf("after JSON, without Reindex: %+v", m)
	}
	if rs.Table(FamilyIP, "gone") != nil {
		t.Error("deleted table still there")
	}
	if u := rs.Table(FamilyInet, "u"); u == nil || len(u.Chain("z").Rules) != 0 {
		t.Errorf("flushed table: %+v", u)
	}
	rs = parseNFTString(t, "table ip t { chain c { jump x; } chain x { } }\nflush ruleset\n")
	if len(rs.Tables) != 0 {
		t.Errorf("flush ruleset left %d tables", len(rs.Tables))
	}
}

func TestParseNFTErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		line int
		msg  string
	}{
		{"table ip t {\n\tchain c {\n\t\taccept\n\t}\n", 1, "missing }"},
		{"table ip t {\n\tchain c {\n\t\taccept\n", 2, "missing }"},
		{"table ip t {\n\tchain c {\n\t\tjump nowhere\n\t}\n}\n", 3, "no chain nowhere"},
		{"table ip t {\n\tchain c {\n\t\tip daddr @nope accept\n\t}\n}\n", 3, "no set nope"},
		{"table ip t {\n\tmap m {\n\t\ttype ipv4_addr : verdict\n\t\telements = { 1.1.1.1 : goto gone }\n\t}\n}\n", 4, "no chain gone"},
		{"table ip t {\n\tchain c {\n\t\ttype filter hook sideways priority 0; policy accept;\n\t}\n}\n", 3, "unknown hook"},
		{"table ip t {\n\tchain c {\n\t\ttype nat hook input priority dstnat -; policy accept;\n\t}\n}\n", 3, "bad priority"},
		{"table ip t {\n\tchain c {\n\t\ttype nat hook input priority sideways; policy accept;\n\t}\n}\n", 3, "bad priority"},
		{"table ip t {\n\tchain c {\n\t\tpolicy maybe;\n\t}\n}\n", 3, "bad chain policy"},
		{"table ip t {\n\tchain c {\n\t\tip saddr { 1.1.1.1 accept\n\t}\n}\n", 1, "table ip t: missing }"},
		{"table ip t {\n\tchain c {\n\t\tip saddr { 1.1.1.1 accept\n", 3, "unclosed {"},
		{"table ip t {\n\tset s {\n\t\ttype ipv4_addr : verdict\n\t}\n}\n", 3, "declare it as a map"},
		{"table ip t {\n\tset s {\n\t\ttype ipv4_addr\n\t\telements = { 1.1.1.1 . }\n\t}\n}\n", 4, "bad elements"},
		{"table ip t {\n\tmap m {\n\t\ttype ipv4_addr\n\t}\n}\n", 3, "no data type"},
		{"table ip t {\n\tchain c {\n\t\tcomment \"unterminated\n\t}\n}\n", 3, "unterminated"},
		{"table ip t {\n}\nbogus command\n", 3, "unsupported command"},
		{"table ip t {\n} extra\n", 2, "unexpected"},
		{"add rule ip t c accept\n", 1, "no table ip t"},
		{"add table ip t\nadd rule ip t c accept\n", 2, "no chain c"},
		{"}\n", 1, "unexpected"},
	} {
		_, err := ParseNFT(strings.NewReader(tc.in))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: error %v, want a ParseError", tc.in, err)
			continue
		}
		if pe.Line != tc.line || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", tc.line)) {
			t.Errorf("%q: %v (line %d), want line %d: ...%s", tc.in, err, pe.Line, tc.line, tc.msg)
		}
	}
}

func FuzzParseNFT(f *testing.F) {
	for _, path := range nftFixtures {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		// Each rule alone too: small inputs mutate faster.
		for l := range strings.SplitSeq(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "chain ") && !strings.HasPrefix(l, "type ") && l != "}" {
				f.Add([]byte("table ip t {\n\tchain c {\n\t\t" + l + "\n\t}\n}\n"))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseNFT(bytes.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Line > bytes.Count(data, []byte("\n"))+1 {
				t.Fatalf("error without a good line: %v", err)
			}
			return
		}
		for _, tb := range rs.Tables {
			if _, ok := nftFamily(string(tb.Family)); !ok || tb.Name == "" {
				t.Fatalf("table %+v", tb)
			}
			for _, c := range tb.Chains {
				if tb.Chain(c.Name) != c {
					t.Fatalf("chain %q not indexed", c.Name)
				}
				for i, r := range c.Rules {
					if r.Num != i+1 {
						t.Fatalf("rule %d: %+v", i, r)
					}
					for _, m := range r.Matches {
						if m.Kind == "" || (m.Kind == MatchLookup) != (m.Lookup != nil) || (m.Kind == MatchAddrType) != (m.AddrType != nil) ||
							(m.Kind == MatchStatistic) != (m.Statistic != nil) || (m.Kind == MatchUnknown && m.Module == "") {
							t.Fatalf("match %+v in %q", m, r.Text)
						}
					}
					for _, a := range append(r.Statements, r.Target) {
						if k := a.Kind; (k == TargetJump || k == TargetGoto) && tb.Chain(a.Chain) == nil {
							t.Fatalf("target %+v to a missing chain", a)
						}
						if (a.Kind == TargetVerdictMap) != (a.Lookup != nil) {
							t.Fatalf("target %+v", a)
						}
					}
				}
			}
		}
	})
}

// TestNFTElementComment: nft prints an element's comment between its key
// and its verdict, as kube-proxy's no-endpoint-services elements have.
func TestNFTElementComment(t *testing.T) {
	rs, err := ParseNFT(strings.NewReader(`table ip kube-proxy {
	map no-endpoint-services {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.96.0.99 . tcp . 80 comment "default/svc-none:http" : goto reject-chain,
			     10.96.0.98 . tcp . 81 counter packets 0 bytes 0 comment "x" : goto reject-chain }
	}
	chain reject-chain {
		reject
	}
}
`))
	if err != nil {
		t.Fatal(err)
	}
	els := rs.Table(FamilyIP, "kube-proxy").Set("no-endpoint-services").Elements
	if len(els) != 2 || strings.Join(els[0].Key, " ") != "10.96.0.99 tcp 80" || els[0].Verdict == nil || els[0].Verdict.Chain != "reject-chain" || els[1].Verdict == nil {
		t.Fatalf("elements: %+v", els)
	}
}

// kube-proxy's nftables session affinity: a dynamic set with a timeout,
// the element a connection left in it with the time it has left, the
// update statement, and the comments that name a service port.
func TestNFTAffinityAndElementOptions(t *testing.T) {
	text := `table ip kube-proxy {
	set affinity-Q4HFUKKS-default/svc-aff/tcp/http__10.244.1.5/8080 {
		type ipv4_addr
		size 65535
		flags dynamic,timeout
		timeout 3h
		elements = { 10.244.2.2 expires 2h58m59s988ms, 10.244.2.3 timeout 1d expires 23h1ms }
	}

	map no-endpoint-services {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.96.0.99 . tcp . 80 comment "default/svc-local:http" : drop }
	}

	chain service-X {
		ip saddr @affinity-Q4HFUKKS-default/svc-aff/tcp/http__10.244.1.5/8080 goto endpoint-X
	}

	chain endpoint-X {
		update @affinity-Q4HFUKKS-default/svc-aff/tcp/http__10.244.1.5/8080 { ip saddr }
		meta l4proto tcp dnat to 10.244.1.5:8080
	}
}
`
	rs, err := ParseNFT(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	tb := rs.Table(FamilyIP, "kube-proxy")
	set := tb.Set("affinity-Q4HFUKKS-default/svc-aff/tcp/http__10.244.1.5/8080")
	if set.Timeout != 3*time.Hour || slices.Contains(set.Args, "timeout 3h") {
		t.Errorf("set timeout %v, args %q: want 3h in Timeout only", set.Timeout, set.Args)
	}
	want := []Element{
		{Key: []string{"10.244.2.2"}, Expires: 2*time.Hour + 58*time.Minute + 59*time.Second + 988*time.Millisecond},
		{Key: []string{"10.244.2.3"}, Timeout: 24 * time.Hour, Expires: 23*time.Hour + time.Millisecond},
	}
	if !reflect.DeepEqual(set.Elements, want) {
		t.Errorf("elements %+v, want %+v", set.Elements, want)
	}
	if e := tb.Set("no-endpoint-services").Elements[0]; e.Comment != "default/svc-local:http" || e.Verdict.Kind != TargetDrop {
		t.Errorf("no-endpoint-services element %+v: want its comment and drop", e)
	}
	up := tb.Chain("endpoint-X").Rules[0]
	if up.Target.Kind != TargetSetUpdate || up.Target.Name != "update" || up.Target.Lookup.Set != set.Name ||
		len(up.Target.Lookup.Keys) != 1 || up.Target.Lookup.Keys[0].Field != FieldSAddr {
		t.Errorf("update statement read as %+v", up.Target)
	}
	// Written and read again, nothing is lost.
	var b strings.Builder
	if err := rs.WriteNFT(&b, NFTWriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"timeout 3h ;", "10.244.2.2 expires 2h58m59s988ms", "10.244.2.3 timeout 1d expires 23h1ms", `comment "default/svc-local:http" : drop`, "update @affinity-Q4HFUKKS-default/svc-aff/tcp/http__10.244.1.5/8080 { ip saddr }"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("written script lacks %q:\n%s", w, b.String())
		}
	}
	again, err := ParseNFT(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(rs, again, DiffOptions{}); len(d) > 0 {
		t.Errorf("written and read again: %v", d)
	}
	if !reflect.DeepEqual(again.Table(FamilyIP, "kube-proxy").Set(set.Name).Elements, want) {
		t.Errorf("elements after a round trip: %+v", again.Table(FamilyIP, "kube-proxy").Set(set.Name).Elements)
	}
}

func TestNFTDuration(t *testing.T) {
	for s, d := range map[string]time.Duration{"3h": 3 * time.Hour, "10800s": 3 * time.Hour, "1d2h3m4s5ms": 26*time.Hour + 3*time.Minute + 4*time.Second + 5*time.Millisecond, "988ms": 988 * time.Millisecond} {
		got, ok := ParseNFTDuration(s)
		if !ok || got != d {
			t.Errorf("ParseNFTDuration(%q) = %v %v, want %v", s, got, ok, d)
		}
	}
	for _, bad := range []string{"", "h", "3", "3x", "1h-2m"} {
		if _, ok := ParseNFTDuration(bad); ok {
			t.Errorf("ParseNFTDuration(%q) accepted", bad)
		}
	}
	if got := FormatNFTDuration(3 * time.Hour); got != "3h" {
		t.Errorf("FormatNFTDuration(3h) = %q", got)
	}
	if got := FormatNFTDuration(26*time.Hour + 5*time.Millisecond); got != "1d2h5ms" {
		t.Errorf("FormatNFTDuration = %q", got)
	}
}
