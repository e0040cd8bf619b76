package nftnl

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/kubeproxy"
	"github.com/netx-project/netx/lab"
	"github.com/netx-project/netx/lab/topologies"
	"github.com/netx-project/netx/netfilter"
)

// throwawayNetns makes an empty network namespace under /run/netns for
// the test and removes it afterwards.
func throwawayNetns(t testing.TB) string {
	t.Helper()
	return testenv.ThrowawayNetns(t, "node")
}

// nftLoad runs nft -f with script inside the namespace.
func nftLoad(t testing.TB, ns, script string) {
	t.Helper()
	if _, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(script), "nft", "-f", "-"); err != nil {
		t.Fatalf("nft -f: %v", err)
	}
}

// nftListed parses what nft -a list ruleset prints in the namespace.
func nftListed(t testing.TB, ns string) (*netfilter.Ruleset, string) {
	t.Helper()
	out, err := nsenter.Output(nsenter.Net(ns), nil, "nft", "-a", "list", "ruleset")
	if err != nil {
		t.Fatalf("nft list ruleset: %v", err)
	}
	rs, err := netfilter.ParseNFT(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("parse nft list ruleset: %v\n%s", err, out)
	}
	return rs, string(out)
}

var objectHandle = regexp.MustCompile(` # handle \d+`)

// requireSameAsNFT reads the namespace's ruleset over netlink and checks
// it against nft's own listing of the same namespace, field for field.
func requireSameAsNFT(t *testing.T, ns string) *netfilter.Ruleset {
	t.Helper()
	got, _, err := Read(ns)
	if err != nil {
		t.Fatal(err)
	}
	want, listing := nftListed(t, ns)
	// nft -a prints an object's handle inside its block, which ParseNFT
	// keeps as written; the netlink read prints none.
	for _, tb := range want.Tables {
		for i, o := range tb.Objects {
			tb.Objects[i] = objectHandle.ReplaceAllString(o, "")
		}
	}
	if d := netfilter.Diff(got, want, netfilter.DiffOptions{}); len(d) > 0 {
		t.Errorf("netlink read differs from nft list ruleset in %d places:\n%s", len(d), strings.Join(d, "\n"))
		if os.Getenv("NETX_NFT_DEBUG") != "" {
			nl, _ := ReadNetlink(ns)
			t.Logf("nft listing:\n%s\ndecompiled:\n%s", listing, nl.Text())
		}
	}
	return got
}

// nftFixtures are nft -f inputs: the real kube-proxy nftables dumps (their
// iptables-nft tables load as native nft rules), the lab's nftables
// golden, and a test-local collection of expression shapes.
var nftFixtures = []string{
	"../../testdata/cluster/nftables/node1.nft",
	"../../testdata/cluster/nftables/node2.nft",
	"../../testdata/golden/lab/seeds-node1.nft",
	"testdata/shapes.nft",
	"testdata/shapes-families.nft",
	"testdata/shapes-objects.nft",
}

// TestRootNFTablesNetlink loads each fixture into a throwaway namespace
// and requires the netlink read to equal nft's listing: tables, chains,
// sets, elements, rules with handles, matches and targets.
func TestRootNFTablesNetlink(t *testing.T) {
	testenv.RequireRoot(t)
	for _, path := range nftFixtures {
		t.Run(filepath.Base(path), func(t *testing.T) {
			script, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ns := throwawayNetns(t)
			nftLoad(t, ns, string(script))
			requireSameAsNFT(t, ns)
		})
	}
}

// TestRootNFTablesNoUnknowns: every rule kube-proxy's nftables mode
// writes decompiles to something the model understands: the real dumps,
// the lab's rules for each node of the seeds topology (package kubeproxy writes
// them as kube-proxy does), and the synthetic 10k-service layout at a
// small size. Each is also checked against nft's listing.
func TestRootNFTablesNoUnknowns(t *testing.T) {
	testenv.RequireRoot(t)
	scripts := map[string]string{"synthetic": syntheticNFT(t, 50)}
	for _, path := range nftFixtures[:3] {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		scripts[filepath.Base(path)] = string(b)
	}
	top, err := topologies.Builtin("seeds")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := top.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	plan.Proxy = lab.ProxyNFTables
	for _, node := range plan.Nodes {
		rules, err := lab.NodeRules(plan, node)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := rules.NFTables.WriteNFT(&b, netfilter.NFTWriteOptions{}); err != nil {
			t.Fatal(err)
		}
		scripts["lab-"+node.Name] = b.String()
	}
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			ns := throwawayNetns(t)
			nftLoad(t, ns, script)
			rs := requireSameAsNFT(t, ns)
			rules := 0
			for _, tb := range rs.Tables {
				for _, c := range tb.Chains {
					for _, r := range c.Rules {
						rules++
						if r.Unknown() || strings.Contains(r.Text, `expr "`) {
							t.Errorf("%s %s, chain %s: %q has unknowns: %+v", tb.Family, tb.Name, c.Name, r.Text, r.Matches)
						}
					}
				}
			}
			if rules == 0 {
				t.Fatal("no rules read")
			}
		})
	}
}

// syntheticNFT is kube-proxy's nftables tables for n synthetic services
// (the benchmarks' node), as an nft -f script.
func syntheticNFT(t testing.TB, n int) string {
	t.Helper()
	node, err := kubeproxy.Build(kubeproxy.ModeNFTables, kubeproxy.SyntheticConfig(), kubeproxy.Synthetic(n))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := node.NFTables.WriteNFT(&b, netfilter.NFTWriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
