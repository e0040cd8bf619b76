package nftnl_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/kubeproxy"
	"github.com/netx-project/netx/netfilter"
	"github.com/netx-project/netx/netfilter/nftnl"
)

// nfacct matches name accounting objects kube-proxy makes per namespace
// over netlink (nfnetlink_acct); a throwaway namespace has none, so the
// real dumps are loaded without them.
var nfacct = regexp.MustCompile(` -m nfacct --nfacct-name  [^ ]+`)

// TestRootIPTablesFromNetlink: iptables-nft's tables read over netlink and
// rendered by IPTablesRule say, rule by rule, what iptables-save says of
// the same namespace: for every real dump of the e2e cluster's nodes in
// testdata/cluster (both proxy modes), for kube-proxy's iptables layout
// of 1000 services, and for the reference CNI plugins' chains (portmap,
// bridge's masquerading) as the lab writes them. Any difference fails
// with the table, chain and rule.
func TestRootIPTablesFromNetlink(t *testing.T) {
	testenv.RequireRoot(t)
	dumps, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "cluster", "*", "node*.iptables-save"))
	if len(dumps) == 0 {
		t.Fatal("no dumps in testdata/cluster")
	}
	cases := map[string][]byte{}
	for _, d := range dumps {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		cases[filepath.Base(filepath.Dir(d))+"/"+filepath.Base(d)] = nfacct.ReplaceAll(b, nil)
	}
	b := netfilter.NewIPTablesBuilder(netfilter.FamilyIP, netfilter.SourceIPTablesNFT)
	c := kubeproxy.SyntheticConfig()
	c.NFAcct = false
	if err := kubeproxy.IPTables(b, c, kubeproxy.Synthetic(1000)); err != nil {
		t.Fatal(err)
	}
	kubeproxy.Masquerade(b, c.ClusterCIDR)
	if err := kubeproxy.Portmap(b, "cbr0", c.ClusterCIDR, []kubeproxy.PortmapPod{{ContainerID: strings.Repeat("ab", 32), IP: c.ClusterCIDR.Addr().Next().Next(),
		Ports: []kubeproxy.HostPort{{HostPort: 8081, ContainerPort: 80, Protocol: "tcp"}, {HostPort: 5353, ContainerPort: 53, Protocol: "udp"}}}}); err != nil {
		t.Fatal(err)
	}
	rs, err := b.Ruleset()
	if err != nil {
		t.Fatal(err)
	}
	var synth bytes.Buffer
	if err := rs.WriteIPTablesSave(&synth, false); err != nil {
		t.Fatal(err)
	}
	cases["kube-proxy iptables 1000 services + portmap + masquerade"] = synth.Bytes()

	// What the common tools write besides: the reference bridge plugin's
	// masquerading chain, flannel's and calico's usual matches, and every
	// option the decoders print, inverted too.
	cases["extensions"] = []byte(`*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:EXT - [0:0]
-A INPUT -i eth0 -p tcp -m tcp --sport 1024:65535 --dport 22 -j ACCEPT
-A FORWARD ! -i veth+ -o cni0 -j EXT
-A INPUT -s 10.1.0.0/16 ! -d 10.2.3.0/25 -p udp -m udp ! --dport 53 -j REJECT --reject-with icmp-port-unreachable
-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP
-A INPUT -p tcp -m tcp ! --tcp-flags ALL NONE -m tcp --dport 8000:8080 -j REJECT --reject-with tcp-reset
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack ! --ctstate INVALID --ctstatus ASSURED -j ACCEPT
-A INPUT -m mark --mark 0x1 -j ACCEPT
-A INPUT -m mark ! --mark 0x10/0xf0 -g EXT
-A INPUT -m addrtype ! --src-type LOCAL,MULTICAST --dst-type UNICAST --limit-iface-in -j RETURN
-A INPUT -p tcp -m multiport --sports 80,443,8000:8100 -j ACCEPT
-A INPUT -p udp -m multiport ! --ports 53,5353 -j DROP
-A INPUT -m statistic --mode nth --every 3 --packet 1 -j ACCEPT
-A INPUT -m statistic --mode random ! --probability 0.25000000000 -j DROP
-A INPUT -m recent --update --seconds 60 --hitcount 4 --rttl --name ssh --mask 255.255.255.0 --rdest -j DROP
-A INPUT -m recent ! --remove --name plain --mask 255.255.255.255 --rsource
-A INPUT -m comment --comment plain_word-1 -j ACCEPT
-A INPUT -m comment --comment "it's \"quoted\"" -j ACCEPT
-A FORWARD -o eth1 -j MARK --set-xmark 0x4000/0xffffffff
-A FORWARD -m physdev --physdev-in veth+ ! --physdev-is-out -j ACCEPT
-A FORWARD -m physdev ! --physdev-is-in --physdev-out eth0 --physdev-is-bridged -j DROP
-A EXT -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CNI-0123456789abcdef01234567 - [0:0]
-A PREROUTING -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8080
-A PREROUTING -p udp -m udp --dport 1000 -j REDIRECT --to-ports 2000-2010 --random
-A PREROUTING -d 192.0.2.1/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.0.0.1-10.0.0.3:8443-8444 --persistent
-A PREROUTING -d 192.0.2.2/32 -j DNAT --to-destination 10.0.0.9 --random
-A POSTROUTING -s 10.244.1.0/24 -m comment --comment "name: \"cbr0\" id: \"abc\"" -j CNI-0123456789abcdef01234567
-A POSTROUTING -s 10.9.0.0/16 -o eth0 -p udp -j SNAT --to-source 192.0.2.10:1024-2048 --random-fully
-A POSTROUTING -s 10.9.0.0/16 -p tcp -j MASQUERADE --to-ports 1024-65535 --random
-A CNI-0123456789abcdef01234567 -d 10.244.1.0/24 -m comment --comment "name: \"cbr0\" id: \"abc\"" -j ACCEPT
-A CNI-0123456789abcdef01234567 ! -d 224.0.0.0/4 -m comment --comment "name: \"cbr0\" id: \"abc\"" -j MASQUERADE
COMMIT
`)

	for name, dump := range cases {
		t.Run(name, func(t *testing.T) {
			ns := testenv.ThrowawayNetns(t, "xt")
			if out, err := nsenter.Output(nsenter.Net(ns), bytes.NewReader(dump), "iptables-restore"); err != nil {
				t.Fatalf("iptables-restore: %v: %s", err, out)
			}
			save, err := nsenter.Output(nsenter.Net(ns), nil, "iptables-save")
			if err != nil {
				t.Fatal(err)
			}
			want := rulesByChain(string(save))
			nl, err := nftnl.ReadNetlink(ns)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			n := 0
			for _, tb := range nl.Tables {
				for _, ch := range tb.Chains {
					for i, r := range ch.Rules {
						args, err := nftnl.IPTablesRule(r)
						if err != nil {
							t.Errorf("table %s chain %s rule %d: %v\n  iptables-save: %s", tb.Name, ch.Name, i+1, err, at(want[tb.Name+" "+ch.Name], i))
							args = "?"
						}
						got[tb.Name+" "+ch.Name] = append(got[tb.Name+" "+ch.Name], "-A "+ch.Name+args)
						n++
					}
				}
			}
			for key, lines := range want {
				for i, w := range lines {
					if g := at(got[key], i); g != w {
						t.Errorf("table %s rule %d:\n  netlink:       %s\n  iptables-save: %s", key, i+1, g, w)
					}
				}
				if len(got[key]) != len(lines) {
					t.Errorf("table %s: %d rules over netlink, %d in iptables-save", key, len(got[key]), len(lines))
				}
			}
			if n == 0 {
				t.Error("no rule read")
			}

			// The model, as inspect builds it: equal to iptables-save's,
			// chain by chain and rule by rule (chain counters aside).
			sp, err := nftnl.ReadSplit(ns, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(sp.Problems) > 0 {
				t.Errorf("rules not rendered: %v", sp.Problems)
			}
			gotM, err := netfilter.ParseIPTablesSave(bytes.NewReader(sp.IPTablesSave), netfilter.SourceIPTablesNFT)
			if err != nil {
				t.Fatal(err)
			}
			wantM, err := netfilter.ParseIPTablesSave(bytes.NewReader(save), netfilter.SourceIPTablesNFT)
			if err != nil {
				t.Fatal(err)
			}
			for _, wt := range wantM.Tables {
				gt := gotM.Table(wt.Family, wt.Name)
				if gt == nil {
					t.Errorf("table %s: not read over netlink", wt.Name)
					continue
				}
				if len(gt.Chains) != len(wt.Chains) {
					t.Errorf("table %s: %d chains over netlink, %d in iptables-save", wt.Name, len(gt.Chains), len(wt.Chains))
				}
				for _, wc := range wt.Chains {
					gc := gt.Chain(wc.Name)
					if gc == nil {
						t.Errorf("table %s chain %s: not read over netlink", wt.Name, wc.Name)
						continue
					}
					wc.Counters, gc.Counters = netfilter.Counters{}, netfilter.Counters{}
					for i, wr := range wc.Rules {
						if i >= len(gc.Rules) || !reflect.DeepEqual(gc.Rules[i], wr) {
							t.Errorf("table %s chain %s rule %d: the models differ\n  iptables-save: %s", wt.Name, wc.Name, i+1, wr.Text)
						}
					}
					gc.Rules, wc.Rules = nil, nil
					if !reflect.DeepEqual(gc, wc) {
						t.Errorf("table %s chain %s: %+v over netlink, %+v in iptables-save", wt.Name, wc.Name, gc, wc)
					}
				}
			}
			for _, nt := range sp.NFT.Tables {
				if wantM.Table(nt.Family, nt.Name) != nil {
					t.Errorf("table %s %s is both iptables-nft's and in the nftables model", nt.Family, nt.Name)
				}
			}
		})
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

// rulesByChain is iptables-save's rules by "table chain", in order.
func rulesByChain(save string) map[string][]string {
	out := map[string][]string{}
	table := ""
	for _, l := range strings.Split(save, "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			table = l[1:]
		case strings.HasPrefix(l, "-A "):
			chain := strings.Fields(l)[1]
			key := fmt.Sprintf("%s %s", table, chain)
			out[key] = append(out[key], l)
		}
	}
	return out
}
