package netfilter

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fixtures are the real dumps and lab goldens every test runs over.
var fixtures = []struct {
	path     string
	source   string // what the header says ("" for restore input without one)
	saved    bool   // iptables-save output (canonical spelling), not hand-ordered restore input
	tables   []string
	chains   int // ":" lines
	rules    int // "-A" lines
	svc      int // KUBE-SVC-* chains in nat
	sep      int // KUBE-SEP-* chains in nat
	portmaps int // CNI-DN-* chains in nat
}{
	{"../testdata/cluster/iptables/node1.iptables-save", SourceIPTablesNFT, true, []string{"mangle", "filter", "nat"}, 38, 48, 3, 4, 0},
	{"../testdata/cluster/iptables/node2.iptables-save", SourceIPTablesNFT, true, []string{"mangle", "filter", "nat"}, 42, 57, 3, 4, 1},
	{"../testdata/cluster/nftables/node1.iptables-save", SourceIPTablesNFT, true, []string{"mangle", "filter", "nat"}, 18, 6, 0, 0, 0},
	{"../testdata/cluster/nftables/node2.iptables-save", SourceIPTablesNFT, true, []string{"mangle", "filter", "nat"}, 22, 15, 0, 0, 1},
	// What the lab loads (package kubeproxy's rules, as iptables-save lists them).
	{"../testdata/golden/lab/seeds-node1.iptables", "", true, []string{"mangle", "filter", "nat"}, 32, 42, 2, 3, 0},
	{"../testdata/golden/lab/seeds-node2.iptables", "", true, []string{"mangle", "filter", "nat"}, 36, 51, 2, 3, 1},
	{"../testdata/golden/lab/seeds-nftables-node2.iptables", "", true, []string{"filter", "nat"}, 12, 12, 0, 0, 1},
	// iptables-restore input in the spelling and order kube-proxy and the
	// portmap plugin write it (the words package kubeproxy hands the parser).
	{"testdata/restore/seeds-node1.iptables", "", false, []string{"filter", "nat"}, 26, 42, 2, 3, 0},
	{"testdata/restore/seeds-node2.iptables", "", false, []string{"filter", "nat"}, 30, 51, 2, 3, 1},
	{"testdata/restore/seeds-nftables-node2.iptables", "", false, []string{"filter", "nat"}, 12, 12, 0, 0, 1},
}

func parseFile(t testing.TB, path string) *Ruleset {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := ParseIPTablesSave(f, "")
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return rs
}

func parseString(t *testing.T, s string) *Ruleset {
	t.Helper()
	rs, err := ParseIPTablesSave(strings.NewReader(s), SourceIPTablesLegacy)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	return rs
}

func chainOf(t *testing.T, rs *Ruleset, table, chain string) *Chain {
	t.Helper()
	tb := rs.Table(FamilyIP, table)
	if tb == nil {
		t.Fatalf("no table %s", table)
	}
	c := tb.Chain(chain)
	if c == nil {
		t.Fatalf("no chain %s in table %s", chain, table)
	}
	return c
}

// ruleWith returns the only rule of table/chain whose text contains all of
// substrs.
func ruleWith(t *testing.T, rs *Ruleset, table, chain string, substrs ...string) *Rule {
	t.Helper()
	var found []*Rule
rules:
	for _, r := range chainOf(t, rs, table, chain).Rules {
		for _, s := range substrs {
			if !strings.Contains(r.Text, s) {
				continue rules
			}
		}
		found = append(found, r)
	}
	if len(found) != 1 {
		t.Fatalf("%d rules in %s/%s contain %q, want 1", len(found), table, chain, substrs)
	}
	return found[0]
}

func matchOf(t *testing.T, r *Rule, kind MatchKind) *Match {
	t.Helper()
	var found *Match
	for i := range r.Matches {
		if r.Matches[i].Kind == kind {
			if found != nil {
				t.Fatalf("two %s matches in %q", kind, r.Text)
			}
			found = &r.Matches[i]
		}
	}
	if found == nil {
		t.Fatalf("no %s match in %q: %+v", kind, r.Text, r.Matches)
	}
	return found
}

func countLines(data []byte, prefix string) int {
	n := 0
	for l := range strings.SplitSeq(string(data), "\n") {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func TestParseFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(filepath.Base(filepath.Dir(fx.path))+"/"+filepath.Base(fx.path), func(t *testing.T) {
			data, err := os.ReadFile(fx.path)
			if err != nil {
				t.Fatal(err)
			}
			// The fixture table's counts are checked against the file, so
			// a changed fixture shows up here rather than as a puzzle.
			if got := countLines(data, ":"); got != fx.chains {
				t.Fatalf("fixture has %d chain lines, table says %d", got, fx.chains)
			}
			if got := countLines(data, "-A "); got != fx.rules {
				t.Fatalf("fixture has %d rules, table says %d", got, fx.rules)
			}
			rs := parseFile(t, fx.path)
			if rs.Source != fx.source {
				t.Errorf("source %q, want %q", rs.Source, fx.source)
			}
			var tables []string
			chains, rules := 0, 0
			prefixes := map[string]int{}
			for _, tb := range rs.Tables {
				tables = append(tables, tb.Name)
				if tb.Family != FamilyIP {
					t.Errorf("table %s family %q", tb.Name, tb.Family)
				}
				chains += len(tb.Chains)
				for _, c := range tb.Chains {
					if tb.Name == "nat" {
						for _, p := range []string{"KUBE-SVC-", "KUBE-SEP-", "CNI-DN-"} {
							if strings.HasPrefix(c.Name, p) {
								prefixes[p]++
							}
						}
					}
					_, _, _, isBuiltin := builtin(tb.Name, c.Name)
					if c.Base() != isBuiltin || (c.Policy != "") != isBuiltin {
						t.Errorf("%s/%s: hook %q policy %q, built-in %v", tb.Name, c.Name, c.Hook, c.Policy, isBuiltin)
					}
					for i, r := range c.Rules {
						rules++
						if r.Num != i+1 {
							t.Errorf("%s/%s rule %d has Num %d", tb.Name, c.Name, i+1, r.Num)
						}
						if r.Unknown() {
							t.Errorf("unknown match or target in %q: %+v %+v", r.Text, r.Matches, r.Target)
						}
						if r.Target.Kind == TargetNone {
							t.Errorf("no target in %q", r.Text)
						}
						if k := r.Target.Kind; (k == TargetJump || k == TargetGoto) && tb.Chain(r.Target.Chain) == nil {
							t.Errorf("%q jumps to a missing chain", r.Text)
						}
						if strings.Contains(r.Text, "--comment") && r.Comment == "" {
							t.Errorf("comment lost in %q", r.Text)
						}
					}
				}
			}
			if !slices.Equal(tables, fx.tables) {
				t.Errorf("tables %v, want %v", tables, fx.tables)
			}
			if chains != fx.chains || rules != fx.rules {
				t.Errorf("%d chains and %d rules, want %d and %d", chains, rules, fx.chains, fx.rules)
			}
			if prefixes["KUBE-SVC-"] != fx.svc || prefixes["KUBE-SEP-"] != fx.sep || prefixes["CNI-DN-"] != fx.portmaps {
				t.Errorf("nat chains by prefix %v, want %d KUBE-SVC-, %d KUBE-SEP-, %d CNI-DN-", prefixes, fx.svc, fx.sep, fx.portmaps)
			}
		})
	}
}

// TestKubeProxyDump checks concrete facts of a real kube-proxy v1.34 +
// CNI bridge/portmap node.
func TestKubeProxyDump(t *testing.T) {
	rs := parseFile(t, "../testdata/cluster/iptables/node2.iptables-save")

	// The svc-b ClusterIP dispatch rule.
	r := ruleWith(t, rs, "nat", "KUBE-SERVICES", `"default/svc-b:http cluster IP"`)
	if got, want := matchOf(t, r, MatchDestination).Prefix, netip.MustParsePrefix("10.96.57.38/32"); got != want {
		t.Errorf("destination %v, want %v", got, want)
	}
	if got := matchOf(t, r, MatchProtocol).Value; got != "tcp" {
		t.Errorf("protocol %q", got)
	}
	if dp := matchOf(t, r, MatchDstPort); dp.Module != "tcp" || !slices.Equal(dp.Ports, []PortRange{{80, 80}}) || dp.Negate {
		t.Errorf("dport %+v", dp)
	}
	if !reflect.DeepEqual(r.Target, Target{Kind: TargetJump, Chain: "KUBE-SVC-G4RDBLL5YDRMFUB4"}) {
		t.Errorf("target %+v", r.Target)
	}
	if r.Comment != "default/svc-b:http cluster IP" {
		t.Errorf("comment %q", r.Comment)
	}

	// Endpoint choice: the first of two endpoints at probability 0.5, the
	// last with no statistic match at all.
	svc := chainOf(t, rs, "nat", "KUBE-SVC-G4RDBLL5YDRMFUB4")
	if len(svc.Rules) != 3 {
		t.Fatalf("%d rules in svc-b's chain", len(svc.Rules))
	}
	masq := svc.Rules[0]
	if src := matchOf(t, masq, MatchSource); !src.Negate || src.Prefix != netip.MustParsePrefix("10.244.0.0/16") {
		t.Errorf("masquerade rule source %+v", src)
	}
	st := matchOf(t, svc.Rules[1], MatchStatistic).Statistic
	if *st != (Statistic{Mode: "random", Probability: 0.5}) {
		t.Errorf("statistic %+v", st)
	}
	if svc.Rules[1].Target.Chain != "KUBE-SEP-XQ3462354VOJJLAM" || svc.Rules[2].Target.Chain != "KUBE-SEP-UKZURM3SDRIVEGY2" {
		t.Errorf("endpoint jumps %+v %+v", svc.Rules[1].Target, svc.Rules[2].Target)
	}
	for _, m := range svc.Rules[2].Matches {
		if m.Kind == MatchStatistic {
			t.Errorf("last endpoint has a statistic match")
		}
	}

	// DNAT to the endpoint.
	dnat := ruleWith(t, rs, "nat", "KUBE-SEP-XQ3462354VOJJLAM", "DNAT")
	want := Target{Kind: TargetDNAT, ToDestination: "10.244.1.3:8080", To: NATRange{Addr: netip.MustParseAddr("10.244.1.3"), Port: 8080}}
	if !reflect.DeepEqual(dnat.Target, want) {
		t.Errorf("DNAT target %+v, want %+v", dnat.Target, want)
	}
	// "-p tcp -m tcp -j DNAT": the option-less tcp block stays as a module.
	if m := dnat.Matches[len(dnat.Matches)-1]; m.Kind != MatchModule || m.Module != "tcp" {
		t.Errorf("last match %+v, want the bare -m tcp", m)
	}

	// Masquerading and the masquerade mark.
	post := chainOf(t, rs, "nat", "KUBE-POSTROUTING").Rules
	if m := matchOf(t, post[0], MatchMark); !m.Negate || m.Mark != 0x4000 || m.Mask != 0x4000 || post[0].Target.Kind != TargetReturn {
		t.Errorf("KUBE-POSTROUTING 1: %+v %+v", m, post[0].Target)
	}
	if tg := post[1].Target; tg.Kind != TargetMark || tg.SetMark != 0x4000 || tg.Mask != 0 {
		t.Errorf("KUBE-POSTROUTING 2: %+v", tg)
	}
	if tg := post[2].Target; tg.Kind != TargetMasquerade || !tg.RandomFully || tg.Random {
		t.Errorf("KUBE-POSTROUTING 3: %+v", tg)
	}
	if tg := ruleWith(t, rs, "nat", "KUBE-MARK-MASQ").Target; tg.Kind != TargetMark || tg.SetMark != 0x4000 || tg.Mask != 0x4000 {
		t.Errorf("KUBE-MARK-MASQ: %+v", tg)
	}
	fwd := ruleWith(t, rs, "filter", "KUBE-FORWARD", "--mark")
	if m := matchOf(t, fwd, MatchMark); m.Negate || m.Mark != 0x4000 || m.Mask != 0x4000 || fwd.Target.Kind != TargetAccept {
		t.Errorf("KUBE-FORWARD mark rule %+v %+v", m, fwd.Target)
	}

	// addrtype and conntrack.
	np := ruleWith(t, rs, "nat", "KUBE-SERVICES", "--dst-type LOCAL")
	if at := matchOf(t, np, MatchAddrType); at.Negate || !reflect.DeepEqual(*at.AddrType, AddrType{Dst: true, Types: []string{"LOCAL"}}) {
		t.Errorf("addrtype %+v", at.AddrType)
	}
	if np.Target.Chain != "KUBE-NODEPORTS" || np.Num != len(chainOf(t, rs, "nat", "KUBE-SERVICES").Rules) {
		t.Errorf("nodeports rule %d %+v is not the last jump", np.Num, np.Target)
	}
	fw := ruleWith(t, rs, "filter", "KUBE-FIREWALL")
	if ct := matchOf(t, fw, MatchCTState); !ct.Negate || !slices.Equal(ct.Values, []string{"RELATED", "ESTABLISHED", "DNAT"}) || ct.Module != "conntrack" {
		t.Errorf("ctstate %+v", ct)
	}
	if fw.Target.Kind != TargetDrop {
		t.Errorf("KUBE-FIREWALL target %+v", fw.Target)
	}
	inv := ruleWith(t, rs, "filter", "KUBE-FORWARD", "INVALID")
	if m := matchOf(t, inv, MatchNFAcct); m.Value != "ct_state_invalid_dropped_pkts" {
		t.Errorf("nfacct %+v", m)
	}

	// The portmap plugin: multiport, escaped quotes in the comment, DNAT.
	hp := ruleWith(t, rs, "nat", "CNI-HOSTPORT-DNAT")
	if want := `dnat name: "netx-e2e" id: "aea1604daaa6cb63832fc8370a89c127fddd4cb9325aa7eb6ffab51f9f42b2f4"`; hp.Comment != want {
		t.Errorf("comment %q, want %q", hp.Comment, want)
	}
	if m := matchOf(t, hp, MatchDstPort); m.Module != "multiport" || !slices.Equal(m.Ports, []PortRange{{8081, 8081}}) {
		t.Errorf("multiport %+v", m)
	}
	if tg := ruleWith(t, rs, "nat", "CNI-DN-1a0cfbcc909b9f4289cad", "DNAT").Target; tg.To.Addr != netip.MustParseAddr("10.244.2.3") || tg.To.Port != 8080 {
		t.Errorf("hostPort DNAT %+v", tg)
	}
	if tg := ruleWith(t, rs, "nat", "CNI-HOSTPORT-MASQ").Target; tg.Kind != TargetMasquerade || tg.RandomFully {
		t.Errorf("portmap MASQUERADE %+v", tg)
	}

	// Built-in chains: hooks, types, standard priorities, policy counters.
	for _, c := range []struct {
		table, chain string
		hook         Hook
		typ          ChainType
		prio         int
	}{
		{"nat", "PREROUTING", HookPrerouting, ChainNAT, -100},
		{"nat", "INPUT", HookInput, ChainNAT, 100},
		{"nat", "OUTPUT", HookOutput, ChainNAT, -100},
		{"nat", "POSTROUTING", HookPostrouting, ChainNAT, 100},
		{"mangle", "PREROUTING", HookPrerouting, ChainFilter, -150},
		{"mangle", "OUTPUT", HookOutput, ChainRoute, -150},
		{"filter", "FORWARD", HookForward, ChainFilter, 0},
	} {
		ch := chainOf(t, rs, c.table, c.chain)
		if ch.Hook != c.hook || ch.Type != c.typ || ch.Priority != c.prio || ch.Policy != "ACCEPT" {
			t.Errorf("%s/%s: %s %s %d %s", c.table, c.chain, ch.Hook, ch.Type, ch.Priority, ch.Policy)
		}
	}
	if c := chainOf(t, rs, "filter", "INPUT").Counters; c != (Counters{454, 194895}) {
		t.Errorf("filter INPUT counters %+v", c)
	}
	if c := chainOf(t, rs, "nat", "KUBE-SERVICES"); c.Base() || c.Policy != "" || c.Priority != 0 {
		t.Errorf("KUBE-SERVICES %+v", c)
	}
	var order []string
	for _, h := range rs.Hooked(FamilyIP, HookOutput) {
		order = append(order, h.Table.Name)
	}
	if !slices.Equal(order, []string{"mangle", "nat", "filter"}) {
		t.Errorf("output hook order %v", order)
	}
}

// TestRestoreSpellings checks the restore-input spellings kube-proxy and
// the portmap plugin write (and package kubeproxy writes after them),
// which iptables-save normalises.
func TestRestoreSpellings(t *testing.T) {
	rs := parseFile(t, "testdata/restore/seeds-node1.iptables")
	if tg := ruleWith(t, rs, "nat", "KUBE-MARK-MASQ").Target; tg.SetMark != 0x4000 || tg.Mask != 0x4000 {
		t.Errorf("--or-mark: %+v", tg)
	}
	if tg := ruleWith(t, rs, "nat", "KUBE-POSTROUTING", "--xor-mark").Target; tg.SetMark != 0x4000 || tg.Mask != 0 {
		t.Errorf("--xor-mark: %+v", tg)
	}
	r := ruleWith(t, rs, "nat", "KUBE-SERVICES", "default/svc-b:http")
	if d := matchOf(t, r, MatchDestination); d.Prefix != netip.MustParsePrefix("10.96.0.10/32") {
		t.Errorf("bare address: %v", d.Prefix)
	}
	// "-m tcp -p tcp -d ... --dport 80": the option lands on the tcp block.
	if dp := matchOf(t, r, MatchDstPort); dp.Module != "tcp" || dp.Ports[0] != (PortRange{80, 80}) {
		t.Errorf("dport %+v", dp)
	}
	for _, m := range r.Matches {
		if m.Kind == MatchModule {
			t.Errorf("tcp placeholder left behind: %+v", r.Matches)
		}
	}
	if c := ruleWith(t, rs, "nat", "KUBE-SEP-EVSWDAX5PDR6PNUN", "KUBE-MARK-MASQ").Comment; c != "default/mc3" {
		t.Errorf("unquoted comment %q", c)
	}
	if m := matchOf(t, ruleWith(t, rs, "filter", "KUBE-FORWARD", "--mark"), MatchMark); m.Mark != 0x4000 || m.Mask != 0x4000 {
		t.Errorf("0x004000: %+v", m)
	}
	svc := chainOf(t, rs, "nat", "KUBE-SVC-G4RDBLL5YDRMFUB4")
	if st := matchOf(t, svc.Rules[1], MatchStatistic).Statistic; st.Probability != 0.5 {
		t.Errorf("probability %v", st.Probability)
	}

	rs = parseFile(t, "testdata/restore/seeds-nftables-node2.iptables")
	hp := ruleWith(t, rs, "nat", "CNI-HOSTPORT-DNAT")
	if m := matchOf(t, hp, MatchDstPort); m.Module != "multiport" || m.Ports[0] != (PortRange{8081, 8081}) {
		t.Errorf("--destination-ports %+v", m)
	}
	if !strings.Contains(hp.Comment, `"cbr0"`) {
		t.Errorf("comment %q", hp.Comment)
	}
	// "-p tcp --dport 8081" with no -m tcp: iptables loads tcp implicitly.
	dn := ruleWith(t, rs, "nat", "CNI-DN-70c3f7b574cf87281a30a", "10.244.2.0/24")
	if dp := matchOf(t, dn, MatchDstPort); dp.Module != "tcp" || dp.Ports[0] != (PortRange{8081, 8081}) {
		t.Errorf("implicit tcp: %+v", dp)
	}
}

// tokens of a line, without "[p:b]" counters.
func lineTokens(t *testing.T, l string) []string {
	toks, err := tokenize(l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) > 0 && strings.HasPrefix(toks[0], "[") {
		toks = toks[1:]
	}
	return toks
}

// stripText clears what the model keeps only as evidence, so two parses
// compare by meaning.
// requireRoundTrip writes rs as iptables-save text (with counters or
// not), parses that, and fails unless the model is the same. It clears
// the rules' source text of rs, which a writer cannot reproduce.
func requireRoundTrip(t *testing.T, rs *Ruleset, counters bool) {
	t.Helper()
	var buf bytes.Buffer
	if err := rs.WriteIPTablesSave(&buf, counters); err != nil {
		t.Fatalf("write: %v", err)
	}
	again, err := ParseIPTablesSave(bytes.NewReader(buf.Bytes()), rs.Source)
	if err != nil {
		t.Fatalf("parse what was written: %v\n%s", err, buf.String())
	}
	stripText(rs)
	stripText(again)
	if !reflect.DeepEqual(rs, again) {
		t.Fatalf("round trip changed the ruleset:\n%s", buf.String())
	}
}

func stripText(rs *Ruleset) {
	for _, tb := range rs.Tables {
		for _, c := range tb.Chains {
			for _, r := range c.Rules {
				r.Text = ""
			}
		}
	}
}

// accounted reports whether word w of a restore-input rule is in args, the
// rule written back, as written or as iptables-save would spell it.
func accounted(w string, args []string) bool {
	aliases := map[string]string{"--destination-ports": "--dports", "--or-mark": "--set-xmark", "--xor-mark": "--set-xmark"}
	if a, ok := aliases[w]; ok {
		w = a
	}
	for _, a := range args {
		if a == w || a == w+"/32" {
			return true
		}
		// Marks: 0x004000/0x004000 is 0x4000/0x4000; a lone value (as
		// --or-mark takes) shows up as either half of an xmark.
		if v, m, err := parseMark(w); err == nil && strings.HasPrefix(w, "0x") {
			if av, am, err := parseMark(a); err == nil {
				if av == v && am == m || !strings.Contains(w, "/") && (av == v || am == v) {
					return true
				}
			}
		}
		if f, err := strconv.ParseFloat(w, 64); err == nil && strings.Contains(w, ".") {
			if g, err := strconv.ParseFloat(a, 64); err == nil && g == f {
				return true
			}
		}
	}
	return false
}

// TestRoundTrip proves parsing loses nothing: iptables-save output is
// written back word for word from the model alone, and every fixture reads
// back to the same model.
func TestRoundTrip(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(filepath.Base(fx.path), func(t *testing.T) {
			rs := parseFile(t, fx.path)
			for _, tb := range rs.Tables {
				for _, c := range tb.Chains {
					for _, r := range c.Rules {
						args, err := r.AppendIPTablesArgs([]string{"-A", c.Name})
						if err != nil {
							t.Fatal(err)
						}
						orig := lineTokens(t, r.Text)
						if fx.saved {
							if !slices.Equal(args, orig) {
								t.Errorf("rule written back differs:\n got %q\nwant %q", args, orig)
							}
							continue
						}
						// Restore input may spell things differently, but
						// every word must still be accounted for.
						for _, w := range orig {
							if !accounted(w, args) {
								t.Errorf("word %q of %q is not in the rule written back: %q", w, r.Text, args)
							}
						}
					}
				}
			}
			requireRoundTrip(t, rs, true)
		})
	}
}

func TestUnknownIsKept(t *testing.T) {
	rs := parseString(t, `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
-A INPUT -m frobnicate --level 3 ! --twist -p tcp -j ACCEPT
-A INPUT -m conntrack --ctstate NEW --ctexpire 10:20 -j DROP
-A INPUT -p tcp -m tcp --dport 22 --tcp-option 5 -j ACCEPT
-A INPUT -m frobnicate -j ACCEPT
-A FORWARD -p tcp -j TPROXY --on-port 8080 --tproxy-mark 0x1/0x1
-A FORWARD -j LOG --log-prefix "fwd drop: " --log-level 4
COMMIT
`)
	in := chainOf(t, rs, "filter", "INPUT").Rules
	if m := in[0].Matches[0]; m.Kind != MatchUnknown || m.Module != "frobnicate" || !slices.Equal(m.Args, []string{"--level", "3", "!", "--twist"}) {
		t.Errorf("unknown module %+v", m)
	}
	if m := in[0].Matches[1]; m.Kind != MatchProtocol || m.Value != "tcp" {
		t.Errorf("after the unknown module: %+v", m)
	}
	if m := matchOf(t, in[1], MatchUnknown); m.Module != "conntrack" || !slices.Equal(m.Args, []string{"--ctexpire", "10:20"}) {
		t.Errorf("unknown conntrack option %+v", m)
	}
	if m := matchOf(t, in[1], MatchCTState); !slices.Equal(m.Values, []string{"NEW"}) {
		t.Errorf("known option next to an unknown one %+v", m)
	}
	if m := matchOf(t, in[2], MatchUnknown); m.Module != "tcp" || !slices.Equal(m.Args, []string{"--tcp-option", "5"}) {
		t.Errorf("unknown tcp option %+v", m)
	}
	if m := matchOf(t, in[3], MatchUnknown); m.Module != "frobnicate" || len(m.Args) != 0 {
		t.Errorf("bare unknown module %+v", m)
	}
	for _, r := range in {
		if !r.Unknown() {
			t.Errorf("%q not flagged unknown", r.Text)
		}
	}
	fwd := chainOf(t, rs, "filter", "FORWARD")
	if fwd.Policy != "DROP" {
		t.Errorf("policy %q", fwd.Policy)
	}
	tp := fwd.Rules[0]
	if tg := tp.Target; tg.Kind != TargetUnknown || tg.Name != "TPROXY" || !slices.Equal(tg.Args, []string{"--on-port", "8080", "--tproxy-mark", "0x1/0x1"}) || !tp.Unknown() {
		t.Errorf("unknown target %+v", tg)
	}
	lg := fwd.Rules[1].Target
	if lg.Kind != TargetLog || lg.LogPrefix != "fwd drop: " || !slices.Equal(lg.Args, []string{"--log-level", "4"}) || lg.Terminal() {
		t.Errorf("LOG %+v", lg)
	}
	// Everything reads back the same.
	requireRoundTrip(t, rs, false)
}

func TestMatchesAndTargets(t *testing.T) {
	rs := parseString(t, `# Generated by iptables-save v1.8.7 on Thu Jan  1 00:00:00 2026
*raw
:PREROUTING ACCEPT [10:20]
:OUTPUT ACCEPT [0:0]
[5:300] -A PREROUTING -i cni0 -m physdev --physdev-in veth1234 --physdev-is-bridged -j CT --notrack
-A OUTPUT -o lo -j NOTRACK
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -m mac --mac-source 02:42:ac:11:00:02 -m connmark --mark 0x1 -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff
-A PREROUTING -p icmp -m icmp --icmp-type 8 -m limit --limit 5/sec --limit-burst 10 -j ACCEPT
-A FORWARD -p tcp -m tcp --sport 1024:65535 --tcp-flags FIN,SYN,RST,ACK SYN -m multiport --dports 80,443,8000:8100 -j MARK --set-mark 0x10/0xf0
-A FORWARD -m set --match-set kube-ips dst,dst -m statistic --mode nth --every 3 --packet 0 -j MARK --and-mark 0xff
-A OUTPUT -m addrtype --src-type LOCAL --dst-type UNICAST,LOCAL --limit-iface-out -m state --state ESTABLISHED -j ACCEPT
-A POSTROUTING -o eth+ -m conntrack --ctstatus ASSURED --ctdir REPLY -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 53 -j DNAT --to-destination 10.0.0.10-10.0.0.20:5353-5360 --random --persistent
-A PREROUTING -p tcp -m tcp ! --dport 80 -j REDIRECT --to-ports 3128
-I PREROUTING 1 -s 10.1.0.0/255.255.0.0 -j RETURN
-A POSTROUTING -s 10.244.0.0/16 ! -o cni0 -j SNAT --to-source 192.168.1.1 --random-fully
-A POSTROUTING -f -j MASQUERADE --to-ports 1024-2048 --random
-A INPUT -c 7 8 -j ACCEPT
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:EMPTY - [0:0]
-A INPUT -p tcp -m tcp --syn -j REJECT --reject-with tcp-reset
-A INPUT -m comment --comment "say \"hi\" to C:\\dir"
-A INPUT -m comment --comment mid"dle quo"ted -g EMPTY
-A INPUT -m comment --comment "" -j EMPTY
COMMIT
`)
	if rs.Source != SourceIPTablesLegacy {
		t.Errorf("source %q", rs.Source)
	}
	raw := chainOf(t, rs, "raw", "PREROUTING")
	if raw.Priority != PriorityRaw || raw.Counters != (Counters{10, 20}) {
		t.Errorf("raw PREROUTING %+v", raw)
	}
	r := raw.Rules[0]
	if r.Counters != (Counters{5, 300}) || matchOf(t, r, MatchInInterface).Value != "cni0" ||
		matchOf(t, r, MatchPhysDevIn).Value != "veth1234" || matchOf(t, r, MatchPhysDevIsBr).Module != "physdev" ||
		r.Target.Kind != TargetCT || !slices.Equal(r.Target.Args, []string{"--notrack"}) {
		t.Errorf("raw rule %+v", r)
	}
	if tg := chainOf(t, rs, "raw", "OUTPUT").Rules[0].Target; tg.Kind != TargetNotrack {
		t.Errorf("NOTRACK %+v", tg)
	}

	mp := chainOf(t, rs, "mangle", "PREROUTING").Rules
	if m := matchOf(t, mp[0], MatchMACSource); m.Value != "02:42:ac:11:00:02" {
		t.Errorf("mac %+v", m)
	}
	if m := matchOf(t, mp[0], MatchConnMark); m.Mark != 1 || m.Mask != 0xffffffff {
		t.Errorf("connmark %+v", m)
	}
	if tg := mp[0].Target; tg.Kind != TargetConnMark || len(tg.Args) != 5 {
		t.Errorf("CONNMARK %+v", tg)
	}
	if m := matchOf(t, mp[1], MatchICMPType); m.Value != "8" {
		t.Errorf("icmp %+v", m)
	}
	if m := matchOf(t, mp[1], MatchLimit); *m.Limit != (Limit{Rate: "5/sec", Burst: 10}) {
		t.Errorf("limit %+v", m.Limit)
	}
	mf := chainOf(t, rs, "mangle", "FORWARD").Rules
	if m := matchOf(t, mf[0], MatchSrcPort); m.Ports[0] != (PortRange{1024, 65535}) || !m.Ports[0].Contains(2000) || m.Ports[0].Contains(80) {
		t.Errorf("sport range %+v", m)
	}
	if m := matchOf(t, mf[0], MatchTCPFlags); !slices.Equal(m.TCPFlags.Mask, []string{"FIN", "SYN", "RST", "ACK"}) || !slices.Equal(m.TCPFlags.Comp, []string{"SYN"}) {
		t.Errorf("tcp flags %+v", m.TCPFlags)
	}
	if m := matchOf(t, mf[0], MatchDstPort); !slices.Equal(m.Ports, []PortRange{{80, 80}, {443, 443}, {8000, 8100}}) {
		t.Errorf("multiport %+v", m.Ports)
	}
	if tg := mf[0].Target; tg.SetMark != 0x10 || tg.Mask != 0xf0 {
		t.Errorf("--set-mark 0x10/0xf0 %+v", tg)
	}
	if m := matchOf(t, mf[1], MatchIPSet); m.Value != "kube-ips" || !slices.Equal(m.Values, []string{"dst", "dst"}) {
		t.Errorf("set %+v", m)
	}
	if m := matchOf(t, mf[1], MatchStatistic); *m.Statistic != (Statistic{Mode: "nth", Every: 3}) {
		t.Errorf("nth %+v", m.Statistic)
	}
	if tg := mf[1].Target; tg.SetMark != 0 || tg.Mask != 0xffffff00 {
		t.Errorf("--and-mark %+v", tg)
	}
	out := chainOf(t, rs, "mangle", "OUTPUT").Rules[0]
	var ats []AddrType
	for _, m := range out.Matches {
		if m.Kind == MatchAddrType {
			ats = append(ats, *m.AddrType)
		}
	}
	if len(ats) != 2 || ats[0].Dst || !ats[1].Dst || !slices.Equal(ats[1].Types, []string{"UNICAST", "LOCAL"}) || !ats[0].LimitIfaceOut || !ats[1].LimitIfaceOut || ats[0].LimitIfaceIn {
		t.Errorf("addrtype %+v", ats)
	}
	if m := matchOf(t, out, MatchCTState); m.Module != "state" || m.Values[0] != "ESTABLISHED" {
		t.Errorf("state %+v", m)
	}
	post := chainOf(t, rs, "mangle", "POSTROUTING").Rules[0]
	if m := matchOf(t, post, MatchOutInterface); !InterfaceMatches(m.Value, "eth0") || InterfaceMatches(m.Value, "veth0") {
		t.Errorf("wildcard interface %+v", m)
	}
	if m := matchOf(t, post, MatchCTStatus); m.Values[0] != "ASSURED" {
		t.Errorf("ctstatus %+v", m)
	}
	if m := matchOf(t, post, MatchCTDirection); m.Value != "REPLY" {
		t.Errorf("ctdir %+v", m)
	}

	pre := chainOf(t, rs, "nat", "PREROUTING").Rules
	if pre[0].Target.Kind != TargetReturn || pre[0].Num != 1 || pre[1].Num != 2 || pre[2].Num != 3 {
		t.Errorf("-I 1 did not insert first: %+v", pre)
	}
	if m := matchOf(t, pre[0], MatchSource); m.Prefix != netip.MustParsePrefix("10.1.0.0/16") {
		t.Errorf("dotted mask %v", m.Prefix)
	}
	want := NATRange{Addr: netip.MustParseAddr("10.0.0.10"), AddrMax: netip.MustParseAddr("10.0.0.20"), Port: 5353, PortMax: 5360}
	if tg := pre[1].Target; tg.To != want || !tg.Random || !tg.Persistent {
		t.Errorf("DNAT range %+v", tg)
	}
	if m := matchOf(t, pre[2], MatchDstPort); !m.Negate {
		t.Errorf("! --dport %+v", m)
	}
	if tg := pre[2].Target; tg.Kind != TargetRedirect || tg.To.Port != 3128 {
		t.Errorf("REDIRECT %+v", tg)
	}
	np := chainOf(t, rs, "nat", "POSTROUTING").Rules
	if m := matchOf(t, np[0], MatchOutInterface); !m.Negate {
		t.Errorf("! -o %+v", m)
	}
	if tg := np[0].Target; tg.Kind != TargetSNAT || tg.To.Addr != netip.MustParseAddr("192.168.1.1") || !tg.RandomFully {
		t.Errorf("SNAT %+v", tg)
	}
	if tg := np[1].Target; tg.To.Port != 1024 || tg.To.PortMax != 2048 || !tg.Random || np[1].Matches[0].Kind != MatchFragment {
		t.Errorf("MASQUERADE --to-ports %+v", np[1])
	}
	if c := chainOf(t, rs, "nat", "INPUT").Rules[0].Counters; c != (Counters{7, 8}) {
		t.Errorf("-c counters %+v", c)
	}

	fi := chainOf(t, rs, "filter", "INPUT").Rules
	if m := matchOf(t, fi[0], MatchTCPFlags); m.TCPFlags.Comp[0] != "SYN" || fi[0].Target.RejectWith != "tcp-reset" {
		t.Errorf("--syn / REJECT %+v %+v", m, fi[0].Target)
	}
	if fi[1].Comment != `say "hi" to C:\dir` || fi[1].Target.Kind != TargetNone {
		t.Errorf("escaped comment %q, target %+v", fi[1].Comment, fi[1].Target)
	}
	if fi[2].Comment != "middle quoted" || !reflect.DeepEqual(fi[2].Target, Target{Kind: TargetGoto, Chain: "EMPTY"}) {
		t.Errorf("mid-word quotes %q %+v", fi[2].Comment, fi[2].Target)
	}
	if m := matchOf(t, fi[3], MatchComment); m.Value != "" || fi[3].Target.Kind != TargetJump {
		t.Errorf("empty comment %+v", fi[3])
	}

	requireRoundTrip(t, rs, true)
}

func TestIP6(t *testing.T) {
	rs, err := ParseIP6TablesSave(strings.NewReader(`*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d fd00:10:96::1/128 -p tcp -m tcp --dport 443 -j DNAT --to-destination [fd00:10:244::5]:6443
-A POSTROUTING -s fd00:10:244::/56 -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j MASQUERADE
COMMIT
`), SourceIPTablesNFT)
	if err != nil {
		t.Fatal(err)
	}
	tb := rs.Table(FamilyIP6, "nat")
	if tb == nil || rs.Table(FamilyIP, "nat") != nil {
		t.Fatalf("tables %+v", rs.Tables)
	}
	r := tb.Chain("PREROUTING").Rules[0]
	if r.Matches[0].Prefix != netip.MustParsePrefix("fd00:10:96::1/128") {
		t.Errorf("v6 prefix %v", r.Matches[0].Prefix)
	}
	if r.Target.To.Addr != netip.MustParseAddr("fd00:10:244::5") || r.Target.To.Port != 6443 {
		t.Errorf("v6 DNAT %+v", r.Target.To)
	}
	if m := tb.Chain("POSTROUTING").Rules[0].Matches[2]; m.Kind != MatchICMPType || m.Value != "128" {
		t.Errorf("icmpv6 %+v", m)
	}
}

func TestParseErrors(t *testing.T) {
	const head = "*filter\n:INPUT ACCEPT [0:0]\n:KUBE-X - [0:0]\n"
	for _, c := range []struct {
		name, in string
		line     int
		msg      string
	}{
		{"unterminated quote", head + "-A INPUT -m comment --comment \"oops -j ACCEPT\nCOMMIT\n", 4, "unterminated quote"},
		{"escaped closing quote", head + "-A INPUT -m comment --comment \"oops\\\" -j ACCEPT\nCOMMIT\n", 4, "unterminated quote"},
		{"rule outside table", "-A INPUT -j ACCEPT\n", 1, "outside a table"},
		{"chain outside table", "\n:INPUT ACCEPT [0:0]\n", 2, "outside a table"},
		{"undeclared chain", head + "-A KUBE-Y -j ACCEPT\nCOMMIT\n", 4, "not declared"},
		{"missing COMMIT", "# x\n" + head + "-A INPUT -j ACCEPT\n", 2, "no COMMIT"},
		{"nested table", head + "*nat\n", 4, "before table filter's COMMIT"},
		{"twice", head + "COMMIT\n*filter\nCOMMIT\n", 5, "appears twice"},
		{"bad prefix", head + "-A INPUT -s 10.0.0.300/8 -j ACCEPT\nCOMMIT\n", 4, "bad address"},
		{"non-contiguous mask", head + "-A INPUT -s 10.0.0.0/255.0.255.0 -j ACCEPT\nCOMMIT\n", 4, "non-contiguous"},
		{"bad port", head + "-A INPUT -p tcp -m tcp --dport 99999 -j ACCEPT\nCOMMIT\n", 4, "bad port"},
		{"bad multiport", head + "-A INPUT -p tcp -m multiport --dports 80,,90 -j ACCEPT\nCOMMIT\n", 4, "bad port"},
		{"missing value", head + "-A INPUT -p tcp -m tcp --dport\nCOMMIT\n", 4, "needs"},
		{"missing target", head + "-A INPUT -j\nCOMMIT\n", 4, "needs a value"},
		{"bad mark", head + "-A INPUT -m mark --mark 0xzz -j ACCEPT\nCOMMIT\n", 4, "bad mark"},
		{"bad probability", head + "-A INPUT -m statistic --mode random --probability 2 -j ACCEPT\nCOMMIT\n", 4, "bad probability"},
		{"bad DNAT", head + "-A INPUT -j DNAT --to-destination 10.0.0:80\nCOMMIT\n", 4, "bad address"},
		{"double negation", head + "-A INPUT ! ! -s 1.2.3.4 -j ACCEPT\nCOMMIT\n", 4, `"!" twice`},
		{"negated target", head + "-A INPUT ! -j ACCEPT\nCOMMIT\n", 4, `"!" before -j`},
		{"trailing negation", head + "-A INPUT -j ACCEPT !\nCOMMIT\n", 4, "end of the rule"},
		{"two targets", head + "-A INPUT -j ACCEPT -j DROP\nCOMMIT\n", 4, "more than one target"},
		{"stray word", head + "-A INPUT -s 1.2.3.4 oops -j ACCEPT\nCOMMIT\n", 4, `unexpected argument "oops"`},
		{"duplicate chain", head + ":KUBE-X - [0:0]\nCOMMIT\n", 4, "declared twice"},
		{"bad counters", head + "[1:x] -A INPUT -j ACCEPT\nCOMMIT\n", 4, "bad counters"},
		{"bad chain counters", "*filter\n:INPUT ACCEPT [0-0]\nCOMMIT\n", 2, "bad counters"},
		{"policy on user chain", "*filter\n:KUBE-X DROP [0:0]\nCOMMIT\n", 2, "cannot have policy"},
		{"bad policy", "*filter\n:INPUT REJECT [0:0]\nCOMMIT\n", 2, "bad policy"},
		{"unsupported command", head + "-D INPUT -j ACCEPT\nCOMMIT\n", 4, "unsupported command -D"},
		{"garbage", head + "hello\nCOMMIT\n", 4, "unexpected line"},
		{"stray COMMIT", "COMMIT\n", 1, "COMMIT outside"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseIPTablesSave(strings.NewReader(c.in), "")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a ParseError", err)
			}
			if pe.Line != c.line || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q (line %d), want line %d and %q", err, pe.Line, c.line, c.msg)
			}
		})
	}
	if _, err := ParseIPTablesSave(strings.NewReader(""), "nft"); err == nil || !strings.Contains(err.Error(), "unknown source") {
		t.Errorf("bad source: %v", err)
	}
}

func TestTokenize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"-A  X\t-j Y", []string{"-A", "X", "-j", "Y"}},
		{`--comment "a b" x`, []string{"--comment", "a b", "x"}},
		{`--comment "a \"b\" \\c"`, []string{"--comment", `a "b" \c`}},
		{`a"b c"d e`, []string{"ab cd", "e"}},
		{`"" x`, []string{"", "x"}},
		{`back\slash "q"`, []string{`back\slash`, "q"}},
	} {
		got, err := tokenize(c.in, nil)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("tokenize(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestJSON checks a ruleset survives the snapshot's JSON encoding, and that
// Reindex restores fast chain lookups after decoding.
func TestJSON(t *testing.T) {
	rs := parseFile(t, "../testdata/cluster/iptables/node2.iptables-save")
	data, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	var back Ruleset
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Table(FamilyIP, "nat").Chain("KUBE-SERVICES") == nil {
		t.Fatal("chain lookup before Reindex")
	}
	back.Reindex()
	if !reflect.DeepEqual(rs, &back) {
		t.Errorf("JSON round trip changed the ruleset")
	}
	if !bytes.Contains(data, []byte(`"kind":"statistic","module":"statistic","statistic":{"mode":"random","probability":0.5}`)) {
		t.Errorf("statistic not in the JSON as expected")
	}
}

// TestDecodedTable checks lookups on a Table built without the parser
// (as JSON decoding builds it), before and after Reindex.
func TestDecodedTable(t *testing.T) {
	tb := &Table{Name: "nat", Chains: []*Chain{{Name: "A"}, {Name: "B"}}, Sets: []*Set{{Name: "s", DataType: "verdict"}}}
	if tb.Chain("B") == nil || tb.Chain("C") != nil {
		t.Error("scan lookup")
	}
	tb.Reindex()
	if tb.Chain("B") != tb.Chains[1] || tb.Chain("C") != nil {
		t.Error("indexed lookup")
	}
	if s := tb.Set("s"); s == nil || !s.Map() {
		t.Error("set lookup")
	}
}

func FuzzParseIPTablesSave(f *testing.F) {
	for _, fx := range fixtures {
		data, err := os.ReadFile(fx.path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		// Each rule alone too: small inputs mutate faster.
		for l := range strings.SplitSeq(string(data), "\n") {
			if w := strings.Fields(l); len(w) > 2 && w[0] == "-A" {
				f.Add([]byte("*x\n:" + w[1] + " - [0:0]\n" + l + "\nCOMMIT\n"))
			}
		}
	}
	f.Add([]byte("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m foo --x \"a \\\" b\" ! --y -j TPROXY --on-port 1\nCOMMIT\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseIPTablesSave(bytes.NewReader(data), "")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for _, tb := range rs.Tables {
			if tb.Name == "" || tb.Family != FamilyIP {
				t.Fatalf("table %+v", tb)
			}
			for _, c := range tb.Chains {
				if tb.Chain(c.Name) != c {
					t.Fatalf("chain %q not indexed", c.Name)
				}
				for i, r := range c.Rules {
					if r.Num != i+1 || r.Text == "" {
						t.Fatalf("rule %d: %+v", i, r)
					}
					for _, m := range r.Matches {
						if m.Kind == "" || (m.Kind == MatchStatistic) != (m.Statistic != nil) || (m.Kind == MatchAddrType) != (m.AddrType != nil) {
							t.Fatalf("match %+v in %q", m, r.Text)
						}
					}
					if k := r.Target.Kind; (k == TargetJump || k == TargetGoto) != (r.Target.Chain != "") {
						t.Fatalf("target %+v", r.Target)
					}
				}
			}
		}
		// What parsed must write back and read back the same.
		requireRoundTrip(t, rs, true)
	})
}

// kube-proxy's iptables session affinity: -m recent as iptables-save
// prints it, read into the model and written back word for word.
func TestRecent(t *testing.T) {
	text := `# Generated by iptables-save v1.8.9 (nf_tables) on Sat Dec  5 13:02:12 2026
*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SVC-X - [0:0]
:KUBE-SEP-Y - [0:0]
-A KUBE-SVC-X -m comment --comment "default/svc-aff:http -> 10.244.1.5:8080" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-Y --mask 255.255.255.255 --rsource -j KUBE-SEP-Y
-A KUBE-SVC-X -m recent ! --update --seconds 60 --hitcount 3 --rttl --name DEFAULT --mask 255.255.255.0 --rdest -j RETURN
-A KUBE-SEP-Y -p tcp -m comment --comment "default/svc-aff:http" -m recent --set --name KUBE-SEP-Y --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.1.5:8080
COMMIT
`
	rs := parseString(t, text)
	nat := rs.Table(FamilyIP, "nat")
	check := rs.Table(FamilyIP, "nat").Chain("KUBE-SVC-X").Rules[0].Matches[1]
	if check.Kind != MatchRecent || *check.Recent != (Recent{Mode: "rcheck", Name: "KUBE-SEP-Y", Seconds: 10800, Reap: true, Mask: netip.MustParseAddr("255.255.255.255")}) {
		t.Errorf("rcheck read as %+v %+v", check, check.Recent)
	}
	upd := nat.Chain("KUBE-SVC-X").Rules[1].Matches[0]
	if !upd.Negate || *upd.Recent != (Recent{Mode: "update", Name: "DEFAULT", Seconds: 60, HitCount: 3, RTTL: true, Mask: netip.MustParseAddr("255.255.255.0"), Dest: true}) {
		t.Errorf("update read as %+v %+v", upd, upd.Recent)
	}
	set := nat.Chain("KUBE-SEP-Y").Rules[0].Matches[2]
	if set.Kind != MatchRecent || set.Recent.Mode != "set" || set.Recent.Name != "KUBE-SEP-Y" {
		t.Errorf("set read as %+v %+v", set, set.Recent)
	}
	var b strings.Builder
	if err := rs.WriteIPTablesSave(&b, false); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "-A ") && !strings.Contains(b.String(), l+"\n") {
			t.Errorf("written back without %q:\n%s", l, b.String())
		}
	}
	// kube-proxy writes "--name N --set"; the kernel keeps the default
	// mask and side, which iptables-save then prints.
	rs = parseString(t, "*nat\n:KUBE-SEP-Y - [0:0]\n-A KUBE-SEP-Y -m recent --name KUBE-SEP-Y --set -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080\nCOMMIT\n")
	args, err := rs.Table(FamilyIP, "nat").Chain("KUBE-SEP-Y").Rules[0].AppendIPTablesArgs(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(args, " "); !strings.Contains(got, "-m recent --set --name KUBE-SEP-Y --mask 255.255.255.255 --rsource") {
		t.Errorf("kube-proxy's spelling written as %q", got)
	}
	if _, err := ParseIPTablesSave(strings.NewReader("*nat\n:A - [0:0]\n-A A -m recent --set --rcheck\nCOMMIT\n"), SourceIPTablesLegacy); err == nil {
		t.Error("--set with --rcheck accepted")
	}
}

// TestParseIPTablesRules: rules read for one chain after its table are
// appended and numbered as a whole parse numbers them, an empty chain is
// no rules, and a bad line leaves every chain as it was.
func TestParseIPTablesRules(t *testing.T) {
	rs, err := ParseIPTablesSave(strings.NewReader("*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC-X - [0:0]\n:KUBE-SEP-A - [0:0]\n-A PREROUTING -j KUBE-SVC-X\nCOMMIT\n"), SourceIPTablesNFT)
	if err != nil {
		t.Fatal(err)
	}
	nat := rs.Table(FamilyIP, "nat")
	svc, sep := nat.Chain("KUBE-SVC-X"), nat.Chain("KUBE-SEP-A")
	if err := nat.ParseIPTablesRules(""); err != nil || len(svc.Rules) != 0 {
		t.Fatalf("empty text: %v, %d rules", err, len(svc.Rules))
	}
	bad := "-A KUBE-SEP-A -p tcp -m tcp -j DNAT --to-destination 10.244.1.2:8080\n-A KUBE-SVC-X -j KUBE-SEP-A\n-A KUBE-NOPE -j ACCEPT\n"
	if err := nat.ParseIPTablesRules(bad); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("a bad third line: %v", err)
	}
	if len(svc.Rules) != 0 || len(sep.Rules) != 0 {
		t.Fatalf("a failed parse kept rules: %d in KUBE-SVC-X, %d in KUBE-SEP-A", len(svc.Rules), len(sep.Rules))
	}
	if err := nat.ParseIPTablesRules("-A KUBE-SVC-X -m comment --comment \"ns/svc:http -> 10.244.1.2:8080\" -j KUBE-SEP-A\n-A KUBE-SVC-X -j RETURN\n"); err != nil {
		t.Fatal(err)
	}
	if len(svc.Rules) != 2 || svc.Rules[0].Num != 1 || svc.Rules[1].Num != 2 || svc.Rules[0].Target.Chain != "KUBE-SEP-A" || svc.Rules[0].Comment != "ns/svc:http -> 10.244.1.2:8080" {
		t.Fatalf("rules read: %+v", svc.Rules)
	}
}
