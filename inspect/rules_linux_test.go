package inspect

import (
	"os"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/netfilter"
)

// TestRootReadNetfilterNFTables: readNetfilter puts the nftables ruleset
// beside iptables-nft's tables (read over netlink and rendered as
// iptables-save prints them), without those tables in it; ip6tables-nft's
// table stays in it (its xtables match unknown); kube-proxy's nftables
// mode is told from the model; and reading changes nothing.
func TestRootReadNetfilterNFTables(t *testing.T) {
	testenv.RequireRoot(t)
	ns := testenv.ThrowawayNetns(t, "node")
	ipt := "*filter\n:NETX-TEST - [0:0]\n-A INPUT -m conntrack --ctstate NEW -j NETX-TEST\n-A NETX-TEST -s 10.0.0.0/8 -j ACCEPT\nCOMMIT\n*nat\n-A POSTROUTING -s 10.244.0.0/16 ! -d 10.244.0.0/16 -j MASQUERADE\nCOMMIT\n*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n"
	if _, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(ipt), "iptables-restore"); err != nil {
		t.Fatal(err)
	}
	ip6 := "*filter\n-A INPUT -m conntrack --ctstate INVALID -j DROP\nCOMMIT\n"
	if _, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(ip6), "ip6tables-restore"); err != nil {
		t.Fatal(err)
	}
	kp, err := os.ReadFile("../testdata/golden/lab/seeds-node1.nft")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(string(kp)), "nft", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	before, err := testenv.NetnsDump(ns)
	if err != nil {
		t.Fatal(err)
	}

	n := &Netns{Path: ns}
	readNetfilter(n, false, "")
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
		t.Errorf("nftables ruleset tables %s, want %s (iptables-nft's ip tables are in the iptables ruleset)", got, want)
	}
	if f6 := nft.Table(netfilter.FamilyIP6, "filter"); f6 == nil || !netfilter.IPTablesNFT(f6) || !f6.Chain("INPUT").Rules[0].Unknown() {
		t.Errorf("ip6tables' filter table: %+v", f6)
	}
	if c := iptNFT.Table(netfilter.FamilyIP, "filter").Chain("NETX-TEST"); c == nil || len(c.Rules) != 1 {
		t.Errorf("iptables-nft's NETX-TEST chain: %+v", c)
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

// TestRootReadNetfilterFallback: a table of iptables-nft's with a rule
// netx does not decode (here an icmp match) is read with iptables-save,
// the rule named in the warnings; the others come from netlink; neither
// is left in the nftables ruleset.
func TestRootReadNetfilterFallback(t *testing.T) {
	testenv.RequireRoot(t)
	ns := testenv.ThrowawayNetns(t, "node")
	ipt := "*filter\n-A INPUT -s 10.0.0.0/8 -j ACCEPT\n-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT\nCOMMIT\n*nat\n-A POSTROUTING -s 10.244.0.0/16 ! -d 10.244.0.0/16 -j MASQUERADE\nCOMMIT\n"
	if _, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(ipt), "iptables-restore"); err != nil {
		t.Fatal(err)
	}
	n := &Netns{Path: ns}
	readNetfilter(n, false, "")
	if n.Error != "" {
		t.Fatalf("read error: %s", n.Error)
	}
	want := `rule 2 of chain INPUT in table filter: xt match "icmp" revision 0: table filter read from iptables-save`
	if len(n.Warnings) != 1 || n.Warnings[0] != want {
		t.Errorf("warnings %q, want [%q]", n.Warnings, want)
	}
	var iptNFT *netfilter.Ruleset
	for _, rs := range n.Netfilter {
		switch rs.Source {
		case netfilter.SourceIPTablesNFT:
			iptNFT = rs
		case netfilter.SourceNFTables:
			t.Errorf("an nftables ruleset with %d tables: iptables-nft's belong to the iptables ruleset", len(rs.Tables))
		}
	}
	if iptNFT == nil {
		t.Fatal("no iptables-nft ruleset")
	}
	if c := iptNFT.Table(netfilter.FamilyIP, "filter").Chain("INPUT"); c == nil || len(c.Rules) != 2 || !strings.Contains(c.Rules[1].Text, "--icmp-type 8") {
		t.Errorf("filter INPUT from iptables-save: %+v", c)
	}
	if c := iptNFT.Table(netfilter.FamilyIP, "nat").Chain("POSTROUTING"); c == nil || len(c.Rules) != 1 || c.Rules[0].Text != "-A POSTROUTING -s 10.244.0.0/16 ! -d 10.244.0.0/16 -j MASQUERADE" {
		t.Errorf("nat POSTROUTING over netlink: %+v", c)
	}
}
