package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/netx-project/netx/internal/kubesynth"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/netx-project/netx/datapath"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/netfilter"
)

// throwawayNetns makes an empty network namespace under /run/netns for
// the test and removes it afterwards.
func throwawayNetns(t testing.TB) string {
	t.Helper()
	ns := datapath.NetnsPath(datapath.NetnsName(unique("f"), "node"))
	testenv.NamedNetns(t, ns)
	return ns
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

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// diffRulesets lists where got (read over netlink) and want (nft's own
// listing, parsed) differ: tables, their comments, flags and objects,
// sets with their elements, chains with their hooks, and every rule with
// its text, handle, matches and targets.
func diffRulesets(got, want *netfilter.Ruleset) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if got.Source != want.Source {
		add("source %q, want %q", got.Source, want.Source)
	}
	if len(got.Tables) != len(want.Tables) {
		var g, w []string
		for _, t := range got.Tables {
			g = append(g, string(t.Family)+" "+t.Name)
		}
		for _, t := range want.Tables {
			w = append(w, string(t.Family)+" "+t.Name)
		}
		add("tables %v, want %v", g, w)
		return out
	}
	for i, wt := range want.Tables {
		gt := got.Tables[i]
		name := string(wt.Family) + " " + wt.Name
		if gt.Family != wt.Family || gt.Name != wt.Name {
			add("table %d: %s %s, want %s", i, gt.Family, gt.Name, name)
			continue
		}
		// nft -a prints an object's handle inside its block, which ParseNFT
		// keeps as written; the netlink read prints none.
		var wObjects []string
		for _, o := range wt.Objects {
			wObjects = append(wObjects, objectHandle.ReplaceAllString(o, ""))
		}
		if gt.Comment != wt.Comment || jsonOf(gt.Flags) != jsonOf(wt.Flags) || jsonOf(gt.Objects) != jsonOf(wObjects) {
			add("table %s: comment %q flags %v objects %q, want %q %v %q", name, gt.Comment, gt.Flags, gt.Objects, wt.Comment, wt.Flags, wt.Objects)
		}
		if len(gt.Sets) != len(wt.Sets) {
			add("table %s: %d sets, want %d", name, len(gt.Sets), len(wt.Sets))
		} else {
			for j, ws := range wt.Sets {
				if g, w := jsonOf(gt.Sets[j]), jsonOf(ws); g != w {
					add("table %s set %s:\n   got %s\n  want %s", name, ws.Name, g, w)
				}
			}
		}
		if len(gt.Chains) != len(wt.Chains) {
			add("table %s: %d chains, want %d", name, len(gt.Chains), len(wt.Chains))
			continue
		}
		for j, wc := range wt.Chains {
			gc := gt.Chains[j]
			hg, hw := *gc, *wc
			hg.Rules, hw.Rules = nil, nil
			if g, w := jsonOf(hg), jsonOf(hw); g != w {
				add("table %s chain %s:\n   got %s\n  want %s", name, wc.Name, g, w)
			}
			if len(gc.Rules) != len(wc.Rules) {
				add("table %s chain %s: %d rules, want %d", name, wc.Name, len(gc.Rules), len(wc.Rules))
				continue
			}
			for k, wr := range wc.Rules {
				if g, w := jsonOf(gc.Rules[k]), jsonOf(wr); g != w {
					add("table %s chain %s rule %d:\n   got %q (handle %d)\n  want %q (handle %d)\n   got %s\n  want %s",
						name, wc.Name, k+1, gc.Rules[k].Text, gc.Rules[k].Handle, wr.Text, wr.Handle, g, w)
				}
			}
		}
	}
	return out
}

// requireSameAsNFT reads the namespace's ruleset over netlink and checks
// it against nft's own listing of the same namespace, field for field.
func requireSameAsNFT(t *testing.T, ns string) *netfilter.Ruleset {
	t.Helper()
	got, _, err := ReadNFTables(ns)
	if err != nil {
		t.Fatal(err)
	}
	want, listing := nftListed(t, ns)
	if d := diffRulesets(got, want); len(d) > 0 {
		t.Errorf("netlink read differs from nft list ruleset in %d places:\n%s", len(d), strings.Join(d, "\n"))
		if os.Getenv("NETX_NFT_DEBUG") != "" {
			nl, _ := ReadNFTablesNetlink(ns)
			t.Logf("nft listing:\n%s\ndecompiled:\n%s", listing, nl.NFTText())
		}
	}
	return got
}

// nftFixtures are nft -f inputs: the real kube-proxy nftables dumps (their
// iptables-nft tables load as native nft rules), the lab's nftables
// golden, and a test-local collection of expression shapes.
var nftFixtures = []string{
	"../testdata/cluster/nftables/node1.nft",
	"../testdata/cluster/nftables/node2.nft",
	"../testdata/golden/datapath/seeds-node1.nft",
	"testdata/nftables/shapes.nft",
	"testdata/nftables/shapes-families.nft",
	"testdata/nftables/shapes-objects.nft",
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

// TestRootReadNetfilterNFTables: readNetfilter puts the nftables ruleset
// beside iptables-save's, without the tables iptables-nft made that
// iptables-save already lists; ip6tables-nft's table, which nothing else
// reads, stays (its xtables match unknown); kube-proxy's nftables mode is
// told from the model; and reading changes nothing.
func TestRootReadNetfilterNFTables(t *testing.T) {
	testenv.RequireRoot(t)
	ns := throwawayNetns(t)
	ipt := "*filter\n:NETX-TEST - [0:0]\n-A INPUT -m conntrack --ctstate NEW -j NETX-TEST\n-A NETX-TEST -s 10.0.0.0/8 -j ACCEPT\nCOMMIT\n*nat\n-A POSTROUTING -s 10.244.0.0/16 ! -d 10.244.0.0/16 -j MASQUERADE\nCOMMIT\n*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n"
	if _, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(ipt), "iptables-restore"); err != nil {
		t.Fatal(err)
	}
	ip6 := "*filter\n-A INPUT -m conntrack --ctstate INVALID -j DROP\nCOMMIT\n"
	if _, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(ip6), "ip6tables-restore"); err != nil {
		t.Fatal(err)
	}
	kp, err := os.ReadFile("../testdata/golden/datapath/seeds-node1.nft")
	if err != nil {
		t.Fatal(err)
	}
	nftLoad(t, ns, string(kp))
	before, err := testenv.NetnsDump(ns)
	if err != nil {
		t.Fatal(err)
	}

	n := &Netns{Path: ns}
	readNetfilter(n, false)
	if n.Error != "" {
		t.Fatalf("read error: %s", n.Error)
	}
	if got, want := strings.Join(n.NFTables, ","), "ip filter,ip nat,ip mangle,ip6 filter,ip kube-proxy"; got != want {
		t.Errorf("nft tables %s, want %s", got, want)
	}
	var nft, iptNFT *netfilter.Ruleset
	for _, rs := range n.Netfilter {
		switch rs.Source {
		case netfilter.SourceNFTables:
			nft = rs
		case netfilter.SourceIPTablesNFT:
			iptNFT = rs
		}
	}
	if nft == nil || iptNFT == nil {
		t.Fatalf("rulesets %v: want iptables-nft and nftables", n.Netfilter)
	}
	var names []string
	for _, tb := range nft.Tables {
		names = append(names, string(tb.Family)+" "+tb.Name)
	}
	if got, want := strings.Join(names, ","), "ip6 filter,ip kube-proxy"; got != want {
		t.Errorf("nftables ruleset tables %s, want %s (iptables-nft's ip tables are read by iptables-save)", got, want)
	}
	if f6 := nft.Table(netfilter.FamilyIP6, "filter"); f6 == nil || !netfilter.IPTablesNFT(f6) || !f6.Chain("INPUT").Rules[0].Unknown() {
		t.Errorf("ip6tables' filter table: %+v", f6)
	}
	if c := iptNFT.Table(netfilter.FamilyIP, "filter").Chain("NETX-TEST"); c == nil || len(c.Rules) != 1 {
		t.Errorf("iptables-save's NETX-TEST chain: %+v", c)
	}
	if n.KubeProxyMode != "nftables" {
		t.Errorf("kube-proxy mode %q, want nftables", n.KubeProxyMode)
	}
	after, err := testenv.NetnsDump(ns)
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		a, b := testenv.DiffLines(before, after)
		t.Fatalf("reading changed the namespace:\nonly before: %v\nonly after: %v", a, b)
	}
}

// TestRootNFTablesNoUnknowns: every rule kube-proxy's nftables mode
// writes decompiles to something the model understands: the real dumps,
// the lab's rules for each node of the seeds topology (datapath writes
// them as kube-proxy does), and the synthetic 10k-service layout at a
// small size. Each is also checked against nft's listing.
func TestRootNFTablesNoUnknowns(t *testing.T) {
	testenv.RequireRoot(t)
	scripts := map[string]string{"synthetic": string(kubesynth.Synthetic(50).NFTables())}
	for _, path := range nftFixtures[:3] {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		scripts[filepath.Base(path)] = string(b)
	}
	top, err := datapath.LoadFile(filepath.Join("..", "testdata", "topologies", "seeds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lab, err := top.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	lab.Proxy = datapath.ProxyNFTables
	for _, node := range lab.Nodes {
		scripts["lab-"+node.Name] = datapath.NFTablesScript(lab, node)
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
