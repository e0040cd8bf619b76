package lab

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/netx-project/netx/kubeproxy"
	"github.com/netx-project/netx/netfilter"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden/lab")

const goldenDir = "../testdata/golden/lab"

func seedsLab(t *testing.T) *Lab {
	t.Helper()
	topo, err := LoadFile("topologies/seeds.yaml")
	if err != nil {
		t.Fatalf("load seeds: %v", err)
	}
	lab, err := topo.Resolve()
	if err != nil {
		t.Fatalf("resolve seeds: %v", err)
	}
	return lab
}

func labNode(t *testing.T, lab *Lab, name string) *LabNode {
	t.Helper()
	for _, n := range lab.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("lab %s has no node %s", lab.Name, name)
	return nil
}

func withProxy(lab *Lab, proxy string) *Lab {
	cp := *lab
	cp.Proxy = proxy
	return &cp
}

func nodeRules(t *testing.T, lab *Lab, node string) *kubeproxy.Node {
	t.Helper()
	n, err := NodeRules(lab, labNode(t, lab, node))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// rendered is what up loads: the iptables-restore input and the nft
// script.
func rendered(t *testing.T, n *kubeproxy.Node) (ipt, nft string) {
	t.Helper()
	i, f, err := n.Render(true)
	if err != nil {
		t.Fatal(err)
	}
	return string(i), string(f)
}

// TestRulesGolden pins what up loads into the seeds' nodes, in both proxy
// modes: after a deliberate change, go test ./lab -run TestRules -update
// and review the diff.
func TestRulesGolden(t *testing.T) {
	lab := seedsLab(t)
	nft := withProxy(lab, ProxyNFTables)
	cases := []struct {
		golden string
		text   func() string
	}{
		{"seeds-node1.iptables", func() string { s, _ := rendered(t, nodeRules(t, lab, "node1")); return s }},
		{"seeds-node2.iptables", func() string { s, _ := rendered(t, nodeRules(t, lab, "node2")); return s }},
		{"seeds-nftables-node2.iptables", func() string { s, _ := rendered(t, nodeRules(t, nft, "node2")); return s }},
		{"seeds-node1.nft", func() string { _, s := rendered(t, nodeRules(t, nft, "node1")); return s }},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			got := tc.text()
			if again := tc.text(); again != got {
				t.Fatalf("output is not deterministic")
			}
			path := filepath.Join(goldenDir, tc.golden)
			if *update {
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run go test ./lab -run TestRules -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from golden; rerun with -update and review the diff\n--- got ---\n%s", tc.golden, got)
			}
		})
	}
}

// TestRulesOrderIndependent: the order services and endpoints are
// declared in does not change a node's rules.
func TestRulesOrderIndependent(t *testing.T) {
	lab := seedsLab(t)
	rev := *lab
	rev.Services = slices.Clone(lab.Services)
	slices.Reverse(rev.Services)
	for i, svc := range rev.Services {
		cp := *svc
		cp.Ports = slices.Clone(svc.Ports)
		for j := range cp.Ports {
			cp.Ports[j].Endpoints = slices.Clone(cp.Ports[j].Endpoints)
			slices.Reverse(cp.Ports[j].Endpoints)
		}
		rev.Services[i] = &cp
	}
	for _, proxy := range []string{ProxyIPTables, ProxyNFTables} {
		a1, b1 := rendered(t, nodeRules(t, withProxy(lab, proxy), "node1"))
		a2, b2 := rendered(t, nodeRules(t, withProxy(&rev, proxy), "node1"))
		if a1 != a2 || b1 != b2 {
			t.Errorf("%s: the rules depend on service or endpoint order", proxy)
		}
	}
}

// TestRulesComponents: each proxy mode writes its own rules and only
// those; the CNI's own rules (hostPorts, masquerading) are there in every
// mode, proxy none included (a real kube-proxy writes the rest).
func TestRulesComponents(t *testing.T) {
	lab := seedsLab(t)
	for _, proxy := range []string{ProxyIPTables, ProxyNFTables, ProxyNone} {
		n := nodeRules(t, withProxy(lab, proxy), "node2")
		nat := n.IPTables.Table(netfilter.FamilyIP, "nat")
		if nat.Chain(kubeproxy.CNIHostportDNAT) == nil || nat.Chain(kubeproxy.NetxPostrouting) == nil {
			t.Errorf("%s: no hostPort or masquerading chains", proxy)
		}
		if (nat.Chain(kubeproxy.KubeServices) != nil) != (proxy == ProxyIPTables) {
			t.Errorf("%s: iptables KUBE-SERVICES present: %v", proxy, nat.Chain(kubeproxy.KubeServices) != nil)
		}
		if (n.NFTables != nil) != (proxy == ProxyNFTables) {
			t.Errorf("%s: nftables rules present: %v", proxy, n.NFTables != nil)
		}
	}
	// overlay none: the underlay alone, no masquerading (a CNI writes it).
	top, err := Parse("bare.yaml", []byte("name: bare\noverlay: none\nproxy: none\nnodes:\n  - {name: node1}\n  - {name: node2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	bare, err := top.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if nat := nodeRules(t, bare, "node1").IPTables.Table(netfilter.FamilyIP, "nat"); nat != nil && nat.Chain(kubeproxy.NetxPostrouting) != nil {
		t.Error("overlay none: the lab wrote masquerading")
	}
	// node1 holds no pod with hostPorts: portmap writes nothing there.
	if nodeRules(t, lab, "node1").IPTables.Table(netfilter.FamilyIP, "nat").Chain(kubeproxy.CNIHostportDNAT) != nil {
		t.Error("portmap chains on a node without hostPorts")
	}
}
