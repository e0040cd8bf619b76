package netfilter_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/netx-project/netx/kubeproxy"
	"github.com/netx-project/netx/netfilter"
)

// kubeProxyDump is iptables-save output of a kube-proxy v1.34 node in
// iptables mode holding services ClusterIP services with two endpoints
// each (package kubeproxy, held to testdata/cluster/iptables: ~11 lines
// per service, ~110k lines for 10k services).
func kubeProxyDump(tb testing.TB, services int) []byte {
	node, err := kubeproxy.Build(kubeproxy.ModeIPTables, kubeproxy.SyntheticConfig(), kubeproxy.Synthetic(services))
	if err != nil {
		tb.Fatal(err)
	}
	var b bytes.Buffer
	if err := node.IPTables.WriteIPTablesSave(&b, false); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// kubeProxyNFT is the same node in nftables mode: kube-proxy's tables as
// an nft -f script.
func kubeProxyNFT(tb testing.TB, services int) []byte {
	node, err := kubeproxy.Build(kubeproxy.ModeNFTables, kubeproxy.SyntheticConfig(), kubeproxy.Synthetic(services))
	if err != nil {
		tb.Fatal(err)
	}
	var b bytes.Buffer
	if err := node.NFTables.WriteNFT(&b, netfilter.NFTWriteOptions{}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// BenchmarkParseIPTablesSave parses a 10k-service kube-proxy dump; compare
// its ns/op with the time iptables-save takes to print the same rules.
func BenchmarkParseIPTablesSave(b *testing.B) {
	dump := kubeProxyDump(b, 10000)
	b.SetBytes(int64(len(dump)))
	b.ReportAllocs()
	for b.Loop() {
		rs, err := netfilter.ParseIPTablesSave(bytes.NewReader(dump), "")
		if err != nil {
			b.Fatal(err)
		}
		if n := len(rs.Table(netfilter.FamilyIP, "nat").Chain("KUBE-SERVICES").Rules); n != 10001 {
			b.Fatalf("%d KUBE-SERVICES rules", n)
		}
	}
	b.ReportMetric(float64(bytes.Count(dump, []byte("\n"))), "lines")
}

// TestSyntheticDump keeps the benchmark's input honest: it parses, has
// the expected shape, and writes back byte for byte.
func TestSyntheticDump(t *testing.T) {
	dump := kubeProxyDump(t, 100)
	rs, err := netfilter.ParseIPTablesSave(bytes.NewReader(dump), "")
	if err != nil {
		t.Fatal(err)
	}
	svc := 0
	for _, c := range rs.Table(netfilter.FamilyIP, "nat").Chains {
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
	if buf.String() != string(dump) {
		t.Fatalf("dump read and written back differs")
	}
}

// BenchmarkParseNFT parses kube-proxy's nftables tables at 10k services.
//
//	nft list ruleset          4.5–5.3 s wall (3 runs, median 4.7 s; 4.4–4.8 s with -a)
//	BenchmarkParseNFT         0.14 s/op, 115 MB, 250k allocs
//	ParseNFT of nft's output  0.15–0.19 s (the 165k lines nft printed, with and without -a)
//
// Parsing adds about 3% to what nft itself takes to print the ruleset.
func BenchmarkParseNFT(b *testing.B) {
	dump := kubeProxyNFT(b, 10000)
	b.SetBytes(int64(len(dump)))
	b.ReportAllocs()
	for b.Loop() {
		rs, err := netfilter.ParseNFT(bytes.NewReader(dump))
		if err != nil {
			b.Fatal(err)
		}
		if n := len(rs.Table(netfilter.FamilyIP, "kube-proxy").Set("service-ips").Elements); n != 10000 {
			b.Fatalf("%d service-ips elements", n)
		}
	}
	b.ReportMetric(float64(bytes.Count(dump, []byte("\n"))), "lines")
}

// TestSyntheticNFT keeps the benchmark's input honest.
func TestSyntheticNFT(t *testing.T) {
	rs, err := netfilter.ParseNFT(bytes.NewReader(kubeProxyNFT(t, 100)))
	if err != nil {
		t.Fatal(err)
	}
	kp := rs.Table(netfilter.FamilyIP, "kube-proxy")
	services, endpoints := 0, 0
	for _, c := range kp.Chains {
		for _, r := range c.Rules {
			if r.Unknown() {
				t.Fatalf("%s: not modelled: %s", c.Name, r.Text)
			}
		}
		switch {
		case c.Name == "service-endpoints-check":
		case strings.HasPrefix(c.Name, "service-"):
			services++
		case strings.HasPrefix(c.Name, "endpoint-"):
			endpoints++
		}
	}
	if services != 100 || endpoints != 200 || len(kp.Set("cluster-ips").Elements) != 100 {
		t.Fatalf("shape: %d service chains, %d endpoint chains, %d cluster IPs", services, endpoints, len(kp.Set("cluster-ips").Elements))
	}
	for _, e := range kp.Set("service-ips").Elements {
		c := kp.Chain(e.Verdict.Chain)
		if c == nil || len(c.Rules) != 2 || len(c.Rules[1].Target.Lookup.Elements) != 2 {
			t.Fatalf("%s: %+v", e.Verdict.Chain, c)
		}
	}
}
