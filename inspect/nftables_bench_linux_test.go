package inspect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
)

// kubeProxyNFTScript is an nft -f script (in `nft list ruleset` form) of a
// kube-proxy v1.34 node in nftables mode with services ClusterIP services
// of two endpoints each, in the layout of testdata/cluster/nftables:
// cluster-ips and the service-ips verdict map hold every service, each
// service chain picks an endpoint chain through an anonymous numgen map.
func kubeProxyNFTScript(services int) string {
	var b strings.Builder
	ip := func(i int) string { return fmt.Sprintf("10.96.%d.%d", i/250, i%250+1) }
	ep := func(i, e int) string { return fmt.Sprintf("10.244.%d.%d", (i*2+e)/250, (i*2+e)%250+1) }
	name := func(i int) string { return fmt.Sprintf("ns%d/svc-%d/tcp/http", i%50, i) }
	svc := func(i int) string { return fmt.Sprintf("service-%08X-%s", i*2654435761&0xffffffff, name(i)) }
	epc := func(i, e int) string {
		return fmt.Sprintf("endpoint-%08X-%s__%s/8080", (i*2+e)*2246822519&0xffffffff, name(i), ep(i, e))
	}
	b.WriteString("table ip kube-proxy {\n\tcomment \"rules for kube-proxy\"\n\tset cluster-ips {\n\t\ttype ipv4_addr\n\t\tcomment \"Active ClusterIPs\"\n\t\telements = { ")
	for i := range services {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ip(i))
	}
	b.WriteString(" }\n\t}\n\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n\t\tcomment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\"\n\t\telements = { ")
	for i := range services {
		if i > 0 {
			b.WriteString(",\n\t\t\t")
		}
		fmt.Fprintf(&b, "%s . tcp . 80 : goto %s", ip(i), svc(i))
	}
	b.WriteString(` }
	}
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
	}
	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		jump masquerading
	}
	chain filter-forward {
		type filter hook forward priority filter; policy accept;
		ct state new jump cluster-ips-check
	}
	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
	}
	chain cluster-ips-check {
		ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
		ip daddr 10.96.0.0/16 drop comment "Drop traffic to unallocated ClusterIPs"
	}
	chain masquerading {
		meta mark & 0x00004000 == 0x00000000 return
		meta mark set meta mark ^ 0x00004000
		masquerade fully-random
	}
	chain mark-for-masquerade {
		meta mark set meta mark | 0x00004000
	}
`)
	for i := range services {
		for e := range 2 {
			fmt.Fprintf(&b, "\tchain %s {\n\t\tip saddr %s jump mark-for-masquerade\n\t\tmeta l4proto tcp dnat to %s:8080\n\t}\n", epc(i, e), ep(i, e), ep(i, e))
		}
		fmt.Fprintf(&b, "\tchain %s {\n\t\tip daddr %s ip saddr != 10.244.0.0/16 jump mark-for-masquerade\n", svc(i), ip(i))
		fmt.Fprintf(&b, "\t\tnumgen random mod 2 vmap { 0 : goto %s, 1 : goto %s }\n\t}\n", epc(i, 0), epc(i, 1))
	}
	b.WriteString("}\n")
	return b.String()
}

// TestRootNFTablesNetlinkSynthetic checks the benchmark's ruleset reads
// back as nft lists it, at a size where that is quick.
func TestRootNFTablesNetlinkSynthetic(t *testing.T) {
	testenv.RequireRoot(t)
	ns := throwawayNetns(t)
	nftLoad(t, ns, kubeProxyNFTScript(200))
	rs := requireSameAsNFT(t, ns)
	kp := rs.Table("ip", "kube-proxy")
	if kp == nil || len(kp.Set("service-ips").Elements) != 200 || len(kp.Chains) != 7+600 {
		t.Fatalf("synthetic ruleset read back with the wrong shape: %+v", kp)
	}
}

// BenchmarkRootReadNFTables reads and translates a 10k-service kube-proxy
// nftables ruleset (30k chains, 60k rules, 10k anonymous maps) from a
// throwaway namespace: the figure to set against `nft list ruleset`, which
// it also times once and reports as nft-list-s.
//
//	sudo go test ./inspect -run '^$' -bench ReadNFTables -benchtime 5x
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
	nftLoad(b, ns, kubeProxyNFTScript(10000))
	start := time.Now()
	if _, err := nsenter.Output(nsenter.Net(ns), nil, "nft", "list", "ruleset"); err != nil {
		b.Fatal(err)
	}
	nftList := time.Since(start)
	for b.Loop() {
		rs, _, err := ReadNFTables(ns)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(rs.Table("ip", "kube-proxy").Set("service-ips").Elements); n != 10000 {
			b.Fatalf("%d service-ips elements", n)
		}
	}
	b.ReportMetric(nftList.Seconds(), "nft-list-s")
}
