package netfilter

import (
	"bytes"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/kubesynth"
)

// kubeProxyDump is iptables-save output of a kube-proxy v1.34 node in
// iptables mode holding services ClusterIP services with two endpoints
// each, in the layout and spelling of testdata/cluster/iptables (some
// 11 lines per service: ~110k lines for 10k services).
func kubeProxyDump(services int) []byte {
	return kubesynth.Synthetic(services).IPTables()
}

// BenchmarkParseIPTablesSave parses a 10k-service kube-proxy dump; compare
// its ns/op with the time iptables-save takes to print the same rules.
func BenchmarkParseIPTablesSave(b *testing.B) {
	dump := kubeProxyDump(10000)
	b.SetBytes(int64(len(dump)))
	b.ReportAllocs()
	for b.Loop() {
		rs, err := ParseIPTablesSave(bytes.NewReader(dump), "")
		if err != nil {
			b.Fatal(err)
		}
		if n := len(rs.Table(FamilyIP, "nat").Chain("KUBE-SERVICES").Rules); n != 10001 {
			b.Fatalf("%d KUBE-SERVICES rules", n)
		}
	}
	b.ReportMetric(float64(bytes.Count(dump, []byte("\n"))), "lines")
}

// TestSyntheticDump keeps the benchmark's input honest: it parses, has
// the expected shape, and writes back word for word.
func TestSyntheticDump(t *testing.T) {
	dump := kubeProxyDump(100)
	rs, err := ParseIPTablesSave(bytes.NewReader(dump), "")
	if err != nil {
		t.Fatal(err)
	}
	nat := rs.Table(FamilyIP, "nat")
	svc := 0
	for _, c := range nat.Chains {
		if strings.HasPrefix(c.Name, "KUBE-SVC-") {
			svc++
			if len(c.Rules) != 3 || c.Rules[1].Matches[1].Statistic.Probability != 0.5 {
				t.Fatalf("%s: %+v", c.Name, c.Rules)
			}
		}
	}
	if svc != 100 {
		t.Fatalf("%d KUBE-SVC chains", svc)
	}
	var buf bytes.Buffer
	if err := rs.WriteIPTablesSave(&buf, false); err != nil {
		t.Fatal(err)
	}
	again, err := ParseIPTablesSave(&buf, rs.Source)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range rs.Tables {
		for _, c := range tb.Chains {
			for i, r := range c.Rules {
				args, _ := r.AppendIPTablesArgs([]string{"-A", c.Name})
				if want := lineTokens(t, r.Text); strings.Join(args, "\x00") != strings.Join(want, "\x00") {
					t.Fatalf("rule written back differs:\n got %q\nwant %q", args, want)
				}
				if again.Table(tb.Family, tb.Name).Chain(c.Name).Rules[i].Target.Kind != r.Target.Kind {
					t.Fatalf("target of %q changed", r.Text)
				}
			}
		}
	}
}
