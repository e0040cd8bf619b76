package lab

import (
	"strings"
	"testing"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/netfilter"
)

// TestRootRulesRoundTrip loads what the lab writes for each node of the
// built-in topologies, in both proxy modes, into a throwaway namespace the
// way up does (one iptables-restore, one nft transaction), reads the
// namespace back with inspect, and requires the rules read to be the
// model written: every table, chain, set, element and rule (text
// included; the kernel adds only handles and counters). Loading it again
// must change nothing (up is idempotent).
func TestRootRulesRoundTrip(t *testing.T) {
	testenv.RequireRoot(t)
	for _, tc := range []struct{ topology, proxy string }{
		{"seeds.yaml", ProxyIPTables},
		{"seeds.yaml", ProxyNFTables},
		{"vxlan-nftables.yaml", ProxyNFTables},
		{"minimal.yaml", ProxyIPTables},
	} {
		plan := withProxy(testLab(t, tc.topology), tc.proxy)
		for _, n := range plan.Nodes {
			t.Run(strings.TrimSuffix(tc.topology, ".yaml")+"-"+tc.proxy+"-"+n.Name, func(t *testing.T) {
				rules, err := NodeRules(plan, n)
				if err != nil {
					t.Fatal(err)
				}
				ipt, nft := rendered(t, rules)
				ns := testenv.ThrowawayNetns(t, "node")
				for range 2 {
					if _, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(ipt), "iptables-restore"); err != nil {
						t.Fatalf("iptables-restore: %v", err)
					}
					if nft != "" {
						if _, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(nft), "nft", "-f", "-"); err != nil {
							t.Fatalf("nft -f: %v", err)
						}
					}
					snap, err := inspect.Discover(inspect.Options{HostNetns: ns, AttachedOnly: true, NoLab: true})
					if err != nil {
						t.Fatal(err)
					}
					if snap.Node.Error != "" {
						t.Fatalf("reading the namespace: %s", snap.Node.Error)
					}
					want := []*netfilter.Ruleset{rules.IPTables}
					if rules.NFTables != nil {
						want = append(want, rules.NFTables)
					}
					if len(snap.Node.Netfilter) != len(want) {
						t.Fatalf("read %d rulesets, wrote %d", len(snap.Node.Netfilter), len(want))
					}
					for i, w := range want {
						if d := netfilter.Diff(snap.Node.Netfilter[i], w, netfilter.DiffOptions{Handles: true, Counters: true, ElementOrder: true}); len(d) > 0 {
							t.Fatalf("%s read back differs from what was written in %d places:\n%s", w.Source, len(d), strings.Join(d, "\n"))
						}
					}
				}
			})
		}
	}
}
