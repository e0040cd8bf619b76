package kubesynth_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/kubesynth"
	"github.com/netx-project/netx/netfilter"
)

func parseIPTables(t *testing.T, b []byte) *netfilter.Ruleset {
	t.Helper()
	rs, err := netfilter.ParseIPTablesSave(bytes.NewReader(b), "")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func parseNFT(t *testing.T, b []byte) *netfilter.Ruleset {
	t.Helper()
	rs, err := netfilter.ParseNFT(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustUnknown(t *testing.T, rs *netfilter.Ruleset) {
	t.Helper()
	for _, tb := range rs.Tables {
		for _, c := range tb.Chains {
			for _, r := range c.Rules {
				if r.Unknown() {
					t.Errorf("%s %s: rule not modelled: %s", tb.Name, c.Name, r.Text)
				}
			}
		}
	}
}

func TestSyntheticIPTablesShape(t *testing.T) {
	c := kubesynth.Synthetic(100)
	rs := parseIPTables(t, c.IPTables())
	mustUnknown(t, rs)
	nat := rs.Table(netfilter.FamilyIP, "nat")
	if got := len(nat.Chain("KUBE-SERVICES").Rules); got != 101 {
		t.Fatalf("KUBE-SERVICES: %d rules, want 101", got)
	}
	if last := nat.Chain("KUBE-SERVICES").Rules[100]; last.Target.Chain != "KUBE-NODEPORTS" {
		t.Fatalf("last KUBE-SERVICES rule: %s", last.Text)
	}
	svcs, seps := 0, 0
	for _, ch := range nat.Chains {
		switch {
		case strings.HasPrefix(ch.Name, kubesynth.SvcChainPrefix):
			svcs++
			if len(ch.Rules) != 3 || ch.Rules[0].Target.Chain != "KUBE-MARK-MASQ" || ch.Rules[1].Matches[1].Statistic == nil ||
				ch.Rules[1].Matches[1].Statistic.Probability != 0.5 || len(ch.Rules[2].Matches) != 1 {
				t.Fatalf("%s: %+v", ch.Name, ch.Rules)
			}
		case strings.HasPrefix(ch.Name, kubesynth.SepChainPrefix):
			seps++
			if len(ch.Rules) != 2 || ch.Rules[1].Target.Kind != netfilter.TargetDNAT {
				t.Fatalf("%s: %+v", ch.Name, ch.Rules)
			}
		}
	}
	if svcs != 100 || seps != 200 {
		t.Fatalf("%d KUBE-SVC and %d KUBE-SEP chains, want 100 and 200", svcs, seps)
	}
	// Every service's rules lead to its own endpoints.
	for i, s := range c.Services {
		r := nat.Chain("KUBE-SERVICES").Rules[i]
		if r.Target.Chain != s.SvcChain() || r.Matches[0].Prefix != netip.PrefixFrom(s.ClusterIP, 32) {
			t.Fatalf("service %d: %s", i, r.Text)
		}
		for e, ep := range s.Endpoints {
			sep := nat.Chain(nat.Chain(s.SvcChain()).Rules[1+e].Target.Chain)
			if sep == nil || sep.Name != s.SepChain(ep) || sep.Rules[1].Target.To.Addr != ep.Addr() || sep.Rules[1].Target.To.Port != ep.Port() {
				t.Fatalf("service %d endpoint %d: %+v", i, e, sep)
			}
		}
	}
}

func TestSyntheticNFTablesShape(t *testing.T) {
	c := kubesynth.Synthetic(100)
	rs := parseNFT(t, c.NFTables())
	mustUnknown(t, rs)
	kp := rs.Table(netfilter.FamilyIP, "kube-proxy")
	if kp == nil || rs.Table(netfilter.FamilyIP6, "kube-proxy") == nil || len(rs.Tables) != 2 {
		t.Fatalf("tables: %d", len(rs.Tables))
	}
	svcs, eps := 0, 0
	for _, ch := range kp.Chains {
		switch {
		case ch.Name == "service-endpoints-check": // kube-proxy's, not a service's
		case strings.HasPrefix(ch.Name, kubesynth.ServiceChainPrefix):
			svcs++
		case strings.HasPrefix(ch.Name, kubesynth.EndpointChainPrefix):
			eps++
			if len(ch.Rules) != 2 || ch.Rules[1].Target.Kind != netfilter.TargetDNAT {
				t.Fatalf("%s: %+v", ch.Name, ch.Rules)
			}
		}
	}
	if svcs != 100 || eps != 200 || len(kp.Set("cluster-ips").Elements) != 100 || len(kp.Set("service-ips").Elements) != 100 {
		t.Fatalf("%d service and %d endpoint chains, %d cluster-ips, %d service-ips", svcs, eps,
			len(kp.Set("cluster-ips").Elements), len(kp.Set("service-ips").Elements))
	}
	for i, e := range kp.Set("service-ips").Elements {
		s := c.Services[i]
		if e.Key[0] != s.ClusterIP.String() || e.Verdict == nil || e.Verdict.Chain != s.ServiceChain() {
			t.Fatalf("service-ips element %d: %+v", i, e)
		}
		ch := kp.Chain(e.Verdict.Chain)
		vm := ch.Rules[1].Target
		if len(ch.Rules) != 2 || vm.Kind != netfilter.TargetVerdictMap || len(vm.Lookup.Elements) != 2 || vm.Lookup.Keys[0].Mod != 2 {
			t.Fatalf("%s: %+v", ch.Name, ch.Rules)
		}
		for j, el := range vm.Lookup.Elements {
			if el.Verdict.Chain != s.EndpointChain(j) || kp.Chain(el.Verdict.Chain).Rules[1].Target.To.Addr != s.Endpoints[j].Addr() {
				t.Fatalf("%s: element %d: %+v", ch.Name, j, el)
			}
		}
	}
}

// The services of testdata/cluster, but mc3: a NodePort service, which
// kubesynth does not write. Their addresses differ between the two
// clusters (iptables, nftables).
func realCluster(clusterIPB, epB string) *kubesynth.Cluster {
	c := kubesynth.Synthetic(0)
	c.Services = []kubesynth.Service{{
		Namespace: "default", Name: "svc-b", PortName: "http", Protocol: "tcp",
		ClusterIP: netip.MustParseAddr(clusterIPB), Port: 80,
		Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.244.1.3:8080"), netip.MustParseAddrPort(epB)},
	}, {
		Namespace: "default", Name: "kubernetes", PortName: "https", Protocol: "tcp",
		ClusterIP: netip.MustParseAddr("10.96.0.1"), Port: 443,
		Endpoints: []netip.AddrPort{netip.MustParseAddrPort("192.168.77.10:6443")},
	}}
	return c
}

func mc3(clusterIP string) kubesynth.Service {
	return kubesynth.Service{Namespace: "default", Name: "mc3", Protocol: "tcp", ClusterIP: netip.MustParseAddr(clusterIP), Port: 80,
		Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.244.2.2:80")}}
}

func ruleTexts(c *netfilter.Chain, skip func(*netfilter.Rule) bool) []string {
	var out []string
	for _, r := range c.Rules {
		if !skip(r) {
			out = append(out, r.Text)
		}
	}
	return out
}

func chainHead(c *netfilter.Chain) string {
	return fmt.Sprintf("hook=%s type=%s priority=%d policy=%s comment=%q", c.Hook, c.Type, c.Priority, c.Policy, c.Comment)
}

// TestIPTablesLayoutIsKubeProxys holds the iptables layout to a real
// kube-proxy v1.34 node's iptables-save: the same services give the same
// tables, chains (names included) and rules, but for what the real node
// has besides (the NodePort service mc3, the lab's NETX-POSTROUTING).
func TestIPTablesLayoutIsKubeProxys(t *testing.T) {
	real := parseIPTables(t, readFile(t, "../../testdata/cluster/iptables/node1.iptables-save"))
	synth := parseIPTables(t, realCluster("10.96.57.38", "10.244.2.4:8080").IPTables())
	m := mc3("10.96.50.234")
	extra := []string{"NETX-POSTROUTING", m.SvcChain(), "KUBE-EXT-" + strings.TrimPrefix(m.SvcChain(), kubesynth.SvcChainPrefix), m.SepChain(m.Endpoints[0])}
	if m.SvcChain() != "KUBE-SVC-BRIOS52XYKX4APY7" {
		t.Fatalf("unnamed port's chain %s, want kube-proxy's KUBE-SVC-BRIOS52XYKX4APY7", m.SvcChain())
	}
	skip := func(r *netfilter.Rule) bool {
		return strings.Contains(r.Comment, "default/mc3") || strings.HasPrefix(r.Target.Chain, "NETX-")
	}
	none := func(*netfilter.Rule) bool { return false }
	var tables []string
	for _, tb := range real.Tables {
		tables = append(tables, tb.Name)
	}
	for i, tb := range synth.Tables {
		if i >= len(tables) || tables[i] != tb.Name {
			t.Fatalf("tables %v, synthetic has %s at %d", tables, tb.Name, i)
		}
		rt := real.Table(tb.Family, tb.Name)
		var want, got []string
		for _, c := range rt.Chains {
			if !slices.Contains(extra, c.Name) {
				want = append(want, c.Name)
			}
		}
		for _, c := range tb.Chains {
			got = append(got, c.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s chains:\n got %v\nwant %v", tb.Name, got, want)
			continue
		}
		for _, c := range tb.Chains {
			rc := rt.Chain(c.Name)
			if chainHead(c) != chainHead(rc) {
				t.Errorf("%s %s: %s, want %s", tb.Name, c.Name, chainHead(c), chainHead(rc))
			}
			if got, want := ruleTexts(c, none), ruleTexts(rc, skip); !slices.Equal(got, want) {
				t.Errorf("%s %s rules:\n got %q\nwant %q", tb.Name, c.Name, got, want)
			}
		}
	}
	if len(synth.Tables) != len(real.Tables) {
		t.Errorf("tables %v, synthetic has %d", tables, len(synth.Tables))
	}
}

func elementText(e netfilter.Element) string {
	s := strings.Join(e.Key, " . ")
	if e.Verdict != nil {
		s += " : " + string(e.Verdict.Kind) + " " + e.Verdict.Chain
	}
	return s
}

// TestNFTablesLayoutIsKubeProxys is TestIPTablesLayoutIsKubeProxys for
// nftables mode: kube-proxy's two tables in a real node's nft list
// ruleset, chain by chain and set by set (nft lists chains in the order
// they were made and elements in its own, so both compare as sets).
func TestNFTablesLayoutIsKubeProxys(t *testing.T) {
	real := parseNFT(t, readFile(t, "../../testdata/cluster/nftables/node1.nft"))
	synth := parseNFT(t, realCluster("10.96.102.201", "10.244.2.3:8080").NFTables())
	m := mc3("10.96.247.203")
	if want := "service-OI4BASKU-default/mc3/tcp/"; m.ServiceChain() != want {
		t.Fatalf("unnamed port's chain %s, want kube-proxy's %s", m.ServiceChain(), want)
	}
	isMC3 := func(s string) bool { return strings.Contains(s, "default/mc3/") || s == m.ClusterIP.String() }
	for _, tb := range synth.Tables {
		rt := real.Table(tb.Family, tb.Name)
		if rt == nil {
			t.Fatalf("real dump has no table %s %s", tb.Family, tb.Name)
		}
		if tb.Comment != rt.Comment {
			t.Errorf("%s %s comment %q, want %q", tb.Family, tb.Name, tb.Comment, rt.Comment)
		}
		for _, rc := range rt.Chains {
			c := tb.Chain(rc.Name)
			if c == nil {
				if !isMC3(rc.Name) {
					t.Errorf("%s %s: no chain %s", tb.Family, tb.Name, rc.Name)
				}
				continue
			}
			if chainHead(c) != chainHead(rc) {
				t.Errorf("%s %s: %s, want %s", tb.Family, c.Name, chainHead(c), chainHead(rc))
			}
			none := func(*netfilter.Rule) bool { return false }
			if got, want := ruleTexts(c, none), ruleTexts(rc, none); !slices.Equal(got, want) {
				t.Errorf("%s %s rules:\n got %q\nwant %q", tb.Family, c.Name, got, want)
			}
		}
		if len(tb.Chains) != len(rt.Chains)-len(slices.DeleteFunc(slices.Clone(rt.Chains), func(c *netfilter.Chain) bool { return !isMC3(c.Name) })) {
			t.Errorf("%s %s: %d chains, want those of the real dump but mc3's", tb.Family, tb.Name, len(tb.Chains))
		}
		if len(tb.Sets) != len(rt.Sets) {
			t.Fatalf("%s %s: %d sets, want %d", tb.Family, tb.Name, len(tb.Sets), len(rt.Sets))
		}
		for i, s := range tb.Sets {
			rs := rt.Sets[i]
			head := func(s *netfilter.Set) string {
				return fmt.Sprintf("%s %v : %s flags %v comment %q args %v", s.Name, s.KeyType, s.DataType, s.Flags, s.Comment, s.Args)
			}
			if head(s) != head(rs) {
				t.Errorf("set %s, want %s", head(s), head(rs))
			}
			var got, want []string
			for _, e := range s.Elements {
				got = append(got, elementText(e))
			}
			for _, e := range rs.Elements {
				if !isMC3(e.Key[0]) && (e.Verdict == nil || !isMC3(e.Verdict.Chain)) {
					want = append(want, elementText(e))
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s %s elements:\n got %q\nwant %q", tb.Family, s.Name, got, want)
			}
		}
	}
	if len(synth.Tables) != 2 {
		t.Errorf("%d tables, want kube-proxy's two", len(synth.Tables))
	}
}
