package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/kubeproxy"
)

// TestRootLazyRead: on a node of 1000 services in each kube-proxy mode, a
// trace's lazy read (the hooks' chains and what they jump to; the rest
// read when a packet or a node port lookup reaches it) gives the verdicts,
// hops and services of a full read, and every chain it left unread, read
// on its own (inspect.ReadChain), equals the full read's rule for rule.
func TestRootLazyRead(t *testing.T) {
	testenv.RequireRoot(t)
	for _, mode := range []kubeproxy.Mode{kubeproxy.ModeIPTables, kubeproxy.ModeNFTables} {
		t.Run(string(mode), func(t *testing.T) {
			ports := kubeproxy.Synthetic(1000)
			ports[0].NodePort, ports[len(ports)-1].NodePort = 30080, 30081
			ports[500].AffinitySeconds = 10800
			c := kubeproxy.SyntheticConfig()
			c.NFAcct = false // a throwaway namespace has no counters
			kp, err := kubeproxy.Build(mode, c, ports)
			if err != nil {
				t.Fatal(err)
			}
			ipt, nft, err := kp.Render(false)
			if err != nil {
				t.Fatal(err)
			}
			node := testenv.ThrowawayNetns(t, "lazy")
			pod := testenv.ThrowawayNetns(t, "lazypod")
			ep := ports[len(ports)-1].Endpoints[0].Addr()
			for _, cmd := range [][]string{
				{"ip", "link", "add", "veth0", "type", "veth", "peer", "name", "eth0", "netns", pod},
				{"ip", "addr", "add", "10.244.0.1/16", "dev", "veth0"},
				{"ip", "addr", "add", "192.168.77.11/24", "dev", "veth0"},
				{"ip", "link", "set", "veth0", "up"},
				{"ip", "route", "add", "default", "dev", "veth0"},
			} {
				runIn(t, node, cmd)
			}
			for _, cmd := range [][]string{
				{"ip", "addr", "add", netip.PrefixFrom(ep, 16).String(), "dev", "eth0"},
				{"ip", "link", "set", "eth0", "up"},
			} {
				runIn(t, pod, cmd)
			}
			if out, err := nsenter.Output(nsenter.Net(node), bytes.NewReader(ipt), "iptables-restore"); err != nil {
				t.Fatalf("iptables-restore: %v: %s", err, out)
			}
			if nft != nil {
				if out, err := nsenter.Output(nsenter.Net(node), bytes.NewReader(nft), "nft", "-f", "-"); err != nil {
					t.Fatalf("nft -f: %v: %s", err, out)
				}
			}

			full, err := LoadNode(node, "", false)
			if err != nil {
				t.Fatal(err)
			}
			lazy, err := LoadNode(node, "", true)
			if err != nil {
				t.Fatal(err)
			}
			unread := lazyChains(lazy)
			if len(unread) < 1000 {
				t.Fatalf("a lazy read of 1000 services left %d chains unread, want the services' and endpoints' chains", len(unread))
			}
			if len(lazyChains(full)) != 0 {
				t.Fatalf("a full read left chains unread: %v", lazyChains(full)[:1])
			}
			if got, want := toJSON(t, lazy.Services), toJSON(t, full.Services); got != want {
				t.Fatalf("services of a lazy read differ from a full read's:\n%s\nwant\n%s", got, want)
			}

			name := filepath.Base(node)
			reqs := []Request{{Src: "node/" + name, Dst: "svc/ns0/svc-0"}}
			for _, i := range []int{1, 500, 999} {
				p := ports[i]
				reqs = append(reqs, Request{Src: "node/" + name, Dst: netip.AddrPortFrom(p.ClusterIP, p.Port).String(), Endpoint: p.Endpoints[0].Addr()})
			}
			reqs = append(reqs, Request{Src: "node/" + name, Dst: "192.168.77.11:30081"}, Request{Src: "node/" + name, Dst: "10.96.255.254:80"})
			for _, req := range reqs {
				want, err := full.Trace(req)
				if err != nil {
					t.Fatalf("%s → %s (full read): %v", req.Src, req.Dst, err)
				}
				got, err := lazy.Trace(req)
				if err != nil {
					t.Fatalf("%s → %s (lazy read): %v", req.Src, req.Dst, err)
				}
				if g, w := toJSON(t, got), toJSON(t, want); g != w {
					a, b := testenv.DiffLines(w, g)
					t.Errorf("%s → %s: a lazy read's trace differs from a full read's:\nonly full: %v\nonly lazy: %v", req.Src, req.Dst, a, b)
				}
				if strings.Contains(toJSON(t, got), "not read") {
					t.Errorf("%s → %s: a chain was not read:\n%s", req.Src, req.Dst, toJSON(t, got))
				}
			}
			if left := len(lazyChains(lazy)); left >= len(unread) {
				t.Errorf("the traces read none of the %d unread chains", len(unread))
			}

			// Every chain left: read alone, rule for rule the full read's.
			ln, fn := lazy.Nodes[0].Snap.Node, full.Nodes[0].Snap.Node
			for i, rs := range ln.Netfilter {
				for _, tb := range rs.Tables {
					ft := fn.Netfilter[i].Table(tb.Family, tb.Name)
					for _, ch := range tb.Chains {
						if ch.Lazy {
							if err := inspect.ReadChain(ln, "", rs, tb, ch); err != nil {
								t.Fatalf("read chain %s of table %s %s: %v", ch.Name, tb.Family, tb.Name, err)
							}
						}
						fc := ft.Chain(ch.Name)
						if len(ch.Rules) != len(fc.Rules) {
							t.Fatalf("%s table %s %s chain %s: %d rules read alone, %d in the full read", rs.Source, tb.Family, tb.Name, ch.Name, len(ch.Rules), len(fc.Rules))
						}
						for j := range ch.Rules {
							if g, w := toJSON(t, ch.Rules[j]), toJSON(t, fc.Rules[j]); g != w {
								t.Fatalf("%s table %s %s chain %s rule %d:\nread alone %s\nfull read  %s", rs.Source, tb.Family, tb.Name, ch.Name, j+1, g, w)
							}
						}
					}
				}
			}
			if len(ln.Warnings) != len(fn.Warnings) {
				t.Errorf("warnings: lazy %q, full %q", ln.Warnings, fn.Warnings)
			}
		})
	}
}

func runIn(t *testing.T, ns string, cmd []string) {
	t.Helper()
	if out, err := nsenter.Output(nsenter.Net(ns), nil, cmd[0], cmd[1:]...); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(cmd, " "), err, out)
	}
}

// lazyChains names the chains of w's nodes left unread.
func lazyChains(w *World) []string {
	var out []string
	for _, n := range w.Nodes {
		for _, rs := range n.Snap.Node.Netfilter {
			for _, tb := range rs.Tables {
				for _, c := range tb.Chains {
					if c.Lazy {
						out = append(out, fmt.Sprintf("%s %s %s %s", rs.Source, tb.Family, tb.Name, c.Name))
					}
				}
			}
		}
	}
	return out
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
