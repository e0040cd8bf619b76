package kubeproxy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/netfilter"
)

// TestRootRoundTrip loads whole nodes as kubeproxy writes them — the
// benchmarks' node (past 1000 endpoints: large-cluster mode, with
// kubelet's chains and nfacct counters), and the services these tests
// exercise — into a throwaway namespace, in both modes, reads the
// namespace back with inspect and requires the model written: every
// table, chain, set, element and rule, text included.
func TestRootRoundTrip(t *testing.T) {
	testenv.RequireRoot(t)
	for _, mode := range []Mode{ModeIPTables, ModeNFTables} {
		for name, tc := range map[string]struct {
			c        Config
			services []ServicePort
		}{
			"synthetic": {SyntheticConfig(), Synthetic(600)},
			"services":  {labConfig(), testServices()},
		} {
			t.Run(string(mode)+"-"+name, func(t *testing.T) {
				node := build(t, mode, tc.c, tc.services)
				ns := testenv.ThrowawayNetns(t, "node")
				if err := nsenter.Do(nsenter.Net(ns), func() error { return testenv.AddNFAcct(NFAcctCounters()...) }); err != nil {
					t.Fatal(err)
				}
				ipt, nft, err := node.Render(false)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := nsenter.Output(nsenter.Net(ns), bytes.NewReader(ipt), "iptables-restore"); err != nil {
					t.Fatalf("iptables-restore: %v", err)
				}
				// A node without iptables rules (nftables mode, no
				// kubelet) lists no iptables ruleset at all.
				var want []*netfilter.Ruleset
				if len(node.IPTables.Tables) > 0 {
					want = append(want, node.IPTables)
				}
				if nft != nil {
					if _, err := nsenter.Output(nsenter.Net(ns), bytes.NewReader(nft), "nft", "-f", "-"); err != nil {
						t.Fatalf("nft -f: %v", err)
					}
					want = append(want, node.NFTables)
				}
				snap, err := inspect.Discover(inspect.Options{HostNetns: ns, AttachedOnly: true, NoLab: true})
				if err != nil {
					t.Fatal(err)
				}
				if snap.Node.Error != "" {
					t.Fatalf("reading the namespace: %s", snap.Node.Error)
				}
				if len(snap.Node.Netfilter) != len(want) {
					t.Fatalf("read %d rulesets, wrote %d", len(snap.Node.Netfilter), len(want))
				}
				for i, w := range want {
					if d := netfilter.Diff(snap.Node.Netfilter[i], w, netfilter.DiffOptions{Handles: true, Counters: true, ElementOrder: true}); len(d) > 0 {
						t.Fatalf("%s read back differs from what was written in %d places:\n%s", w.Source, len(d), strings.Join(d[:min(len(d), 20)], "\n"))
					}
				}
			})
		}
	}
}
