package nftnl

import (
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/netfilter"
)

// TestRootNFTablesNetlinkSynthetic checks the benchmark's ruleset reads
// back as nft lists it, at a size where that is quick.
func TestRootNFTablesNetlinkSynthetic(t *testing.T) {
	testenv.RequireRoot(t)
	ns := throwawayNetns(t)
	nftLoad(t, ns, syntheticNFT(t, 200))
	rs := requireSameAsNFT(t, ns)
	kp := rs.Table("ip", "kube-proxy")
	if kp == nil {
		t.Fatal("no kube-proxy table read back")
	}
	if n, svcs, eps := len(kp.Set("service-ips").Elements), countPrefix(kp, "service-"), countPrefix(kp, "endpoint-"); n != 200 || svcs != 200 || eps != 400 {
		t.Fatalf("synthetic ruleset read back with the wrong shape: %d service-ips elements, %d service chains, %d endpoint chains", n, svcs, eps)
	}
}

// BenchmarkRootReadNFTables reads and translates a 10k-service kube-proxy
// nftables ruleset (30k chains, 60k rules, 10k anonymous maps) from a
// throwaway namespace: the figure to set against `nft list ruleset`, which
// it also times once and reports as nft-list-s.
//
//	sudo go test ./netfilter/nftnl -run '^$' -bench Read -benchtime 5x
//
// Measured on the development VM (AMD EPYC, 2 vCPUs, kernel 6.18, nft
// 1.0.6, other tests running beside it): 1.23–1.49 s/op, against
// 3.8–4.7 s for nft list ruleset. Most of it is the kernel's: it finds a
// set by walking its table's list of sets, so fetching 10k anonymous
// maps one by one walks ~50M list entries (~1.6 s of CPU, halved by the
// two sockets); the 30k per-chain rule dumps take ~0.4 s of CPU and the
// translation ~0.2 s. More CPUs divide the kernel part further.
func BenchmarkRootReadNFTables(b *testing.B) {
	testenv.RequireRoot(b)
	ns := throwawayNetns(b)
	nftLoad(b, ns, syntheticNFT(b, 10000))
	start := time.Now()
	if _, err := nsenter.Output(nsenter.Net(ns), nil, "nft", "list", "ruleset"); err != nil {
		b.Fatal(err)
	}
	nftList := time.Since(start)
	for b.Loop() {
		rs, _, err := Read(ns)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(rs.Table("ip", "kube-proxy").Set("service-ips").Elements); n != 10000 {
			b.Fatalf("%d service-ips elements", n)
		}
	}
	b.ReportMetric(nftList.Seconds(), "nft-list-s")
}

// countPrefix counts a kube-proxy table's per-service chains of one kind
// (service-HASH-ns/name/proto/port, endpoint-...), not its helpers.
func countPrefix(t *netfilter.Table, prefix string) int {
	n := 0
	for _, c := range t.Chains {
		if strings.HasPrefix(c.Name, prefix) && strings.Contains(c.Name, "/") {
			n++
		}
	}
	return n
}
