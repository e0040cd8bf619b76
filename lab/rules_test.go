package lab

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base32"
	"encoding/hex"
	"flag"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden/datapath")

const goldenDir = "../testdata/golden/datapath"

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

func TestRulesGolden(t *testing.T) {
	lab := seedsLab(t)
	nft := withProxy(lab, ProxyNFTables)
	cases := []struct {
		golden string
		text   func() string
	}{
		{"seeds-node1.iptables", func() string { return IPTablesRestore(lab, labNode(t, lab, "node1")) }},
		{"seeds-node2.iptables", func() string { return IPTablesRestore(lab, labNode(t, lab, "node2")) }},
		{"seeds-nftables-node2.iptables", func() string { return IPTablesRestore(nft, labNode(t, nft, "node2")) }},
		{"seeds-node1.nft", func() string { return NFTablesScript(nft, labNode(t, nft, "node1")) }},
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

// TestRulesChainNames checks the hashing against names quoted from the
// upstream tests rather than against this package's own helpers.
func TestRulesChainNames(t *testing.T) {
	// kubernetes pkg/proxy/iptables/proxier_test.go (TestOverallIPTablesRules):
	// ns1/svc1 port p80 TCP with endpoint 10.180.0.1:80.
	if got := KubeSVCChain("ns1/svc1:p80", "tcp"); got != "KUBE-SVC-XPGD46QRK7WJZT7O" {
		t.Errorf("KubeSVCChain = %s, want KUBE-SVC-XPGD46QRK7WJZT7O", got)
	}
	if got := KubeSEPChain("ns1/svc1:p80", "tcp", "10.180.0.1:80"); got != "KUBE-SEP-SXIVWICOYRO3J4NJ" {
		t.Errorf("KubeSEPChain = %s, want KUBE-SEP-SXIVWICOYRO3J4NJ", got)
	}
	// Well-known on every cluster: the kubernetes service, port "https".
	if got := KubeSVCChain("default/kubernetes:https", "tcp"); got != "KUBE-SVC-NPX46M4PTMTKRN6Y" {
		t.Errorf("KubeSVCChain(default/kubernetes:https) = %s, want KUBE-SVC-NPX46M4PTMTKRN6Y", got)
	}
	// kubernetes pkg/proxy/nftables/proxier.go doc comments and proxier_test.go.
	if got := NFTServicePrefix + nftServiceBase("ns1", "svc1", "tcp", "p80"); got != "service-ULMVA6XW-ns1/svc1/tcp/p80" {
		t.Errorf("nft service chain = %s", got)
	}
	if got := NFTEndpointPrefix + nftEndpointBase("ns1", "svc1", "tcp", "p80", "10.180.0.1", 80); got != "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80" {
		t.Errorf("nft endpoint chain = %s", got)
	}
	// containernetworking/plugins plugins/meta/portmap/portmap_iptables_test.go.
	id := "icee6giejonei6sohng6ahngee7laquohquee9shiGo7fohferakah3Feiyoolu2pei7ciPhoh7shaoX6vai3vuf0ahfaeng8yohb9ceu0daez5hashee8ooYai5wa3y"
	if got := CNIDNChain("testNetName", id); got != "CNI-DN-bfd599665540dd91d5d28" {
		t.Errorf("CNIDNChain = %s, want CNI-DN-bfd599665540dd91d5d28", got)
	}
	if got := CNIDNChain("test", id); got != "CNI-DN-67e92b96e692a494b6b85" {
		t.Errorf("CNIDNChain = %s, want CNI-DN-67e92b96e692a494b6b85", got)
	}
}

// TestRulesSeedsNames recomputes the seeds' chain names from kube-proxy's
// recipe, spelled out here independently, and finds them in the output.
func TestRulesSeedsNames(t *testing.T) {
	lab := seedsLab(t)
	ipt := IPTablesRestore(lab, labNode(t, lab, "node1"))
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return base32.StdEncoding.EncodeToString(sum[:])[:16]
	}
	// svc-b's port is named http; mc3's port is unnamed, so no colon.
	for _, want := range []string{
		":KUBE-SVC-" + hash("default/svc-b:httptcp") + " - [0:0]",
		":KUBE-SVC-" + hash("default/mc3tcp") + " - [0:0]",
		":KUBE-EXT-" + hash("default/mc3tcp") + " - [0:0]",
		`--comment "default/svc-b:http cluster IP"`,
		`--comment "default/mc3 cluster IP"`,
		"-A KUBE-NODEPORTS -m comment --comment default/mc3 -m tcp -p tcp --dport 30080 -j KUBE-EXT-" + hash("default/mc3tcp"),
	} {
		if !strings.Contains(ipt, want) {
			t.Errorf("node1 iptables lacks %q", want)
		}
	}
	for _, svc := range lab.Services {
		for _, p := range svc.Ports {
			name := svc.Namespace + "/" + svc.Name
			if p.Name != "" {
				name += ":" + p.Name
			}
			for _, ep := range p.Endpoints {
				sep := "KUBE-SEP-" + hash(name+strings.ToLower(p.Protocol)+ep.IP.String())
				if !strings.Contains(ipt, ":"+sep+" - [0:0]") {
					t.Errorf("no chain %s for %s -> %s", sep, name, ep.IP)
				}
				if !strings.Contains(ipt, "-A "+sep+" -m comment --comment "+name+" -m tcp -p tcp -j DNAT --to-destination "+ep.IP.String()) {
					t.Errorf("%s does not DNAT to %s", sep, ep.IP)
				}
			}
		}
	}

	// The portmap chain for the hostPort pod on node2.
	ipt2 := IPTablesRestore(lab, labNode(t, lab, "node2"))
	cid := sha256.Sum256([]byte("netx sandbox seeds/default/webapp-hostport"))
	id := hex.EncodeToString(cid[:])
	sum := sha512.Sum512([]byte("cbr0" + id))
	dn := ("CNI-DN-" + hex.EncodeToString(sum[:]))[:28]
	for _, want := range []string{
		":" + dn + " - [0:0]",
		`-A CNI-HOSTPORT-DNAT -m comment --comment "dnat name: \"cbr0\" id: \"` + id + `\"" -m multiport -p tcp --destination-ports 8081 -j ` + dn,
		"-A " + dn + " -p tcp --dport 8081 -s 10.244.2.0/24 -j CNI-HOSTPORT-SETMARK",
		"-A " + dn + " -p tcp --dport 8081 -s 127.0.0.1 -j CNI-HOSTPORT-SETMARK",
		"-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
	} {
		if !strings.Contains(ipt2, want) {
			t.Errorf("node2 iptables lacks %q", want)
		}
	}
	// node1 has no hostPort pod (its hostNetwork pod does not count), so the
	// portmap plugin never ran there.
	if strings.Contains(ipt, "CNI-") {
		t.Errorf("node1 has portmap chains but no hostPort pod")
	}
}

// restoreChains parses an iptables-restore text into table -> chain ->
// rule arguments (everything after "-A CHAIN").
func restoreChains(t *testing.T, text string) map[string]map[string][]string {
	t.Helper()
	tables := map[string]map[string][]string{}
	var cur map[string][]string
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			cur = map[string][]string{}
			tables[l[1:]] = cur
		case strings.HasPrefix(l, ":"):
			name := strings.Fields(l[1:])[0]
			if _, dup := cur[name]; dup {
				t.Errorf("chain %s declared twice", name)
			}
			cur[name] = []string{}
		case strings.HasPrefix(l, "-A "):
			f := strings.SplitN(l, " ", 3)
			if _, ok := cur[f[1]]; !ok {
				t.Errorf("rule in undeclared chain: %s", l)
			}
			cur[f[1]] = append(cur[f[1]], f[2])
		}
	}
	return tables
}

var jumpTarget = regexp.MustCompile(`-j (\S+)`)

func TestRulesJumpsResolve(t *testing.T) {
	lab := seedsLab(t)
	for _, n := range lab.Nodes {
		for _, l := range []*Lab{lab, withProxy(lab, ProxyNFTables), manyServicesLab(lab)} {
			tables := restoreChains(t, IPTablesRestore(l, n))
			for table, chains := range tables {
				for chain, rules := range chains {
					for _, r := range rules {
						m := jumpTarget.FindStringSubmatch(r)
						if m == nil || !strings.ContainsAny(m[1], "-") {
							continue // built-in targets like DNAT, RETURN, ACCEPT
						}
						if _, ok := chains[m[1]]; !ok {
							t.Errorf("%s %s %s: -A %s %s jumps to undeclared chain", l.Proxy, n.Name, table, chain, r)
						}
					}
					if strings.HasPrefix(chain, KubeSVCPrefix) && len(rules) == 0 {
						t.Errorf("%s: %s is empty", n.Name, chain)
					}
				}
			}
			nat := tables["nat"]
			if l.Proxy == ProxyNFTables {
				for c := range nat {
					if strings.HasPrefix(c, "KUBE-") {
						t.Errorf("nftables mode still writes iptables chain %s", c)
					}
				}
				continue
			}
			svcs := nat[string(KubeServices)]
			if len(svcs) == 0 || !strings.Contains(svcs[len(svcs)-1], "--dst-type LOCAL -j KUBE-NODEPORTS") {
				t.Errorf("%s: the NodePort jump is not the last rule of nat KUBE-SERVICES", n.Name)
			}
			for c := range nat {
				if strings.HasPrefix(c, KubeSVCPrefix) && !slices.ContainsFunc(svcs, func(r string) bool { return strings.HasSuffix(r, "-j "+c) }) {
					t.Errorf("%s: %s is not jumped to from KUBE-SERVICES", n.Name, c)
				}
			}
		}
	}
}

// manyServicesLab adds services exercising what the seeds lack: 1 to 5
// endpoints, UDP, and a NodePort service without endpoints. Services are
// appended in reverse order to check that output order does not depend on
// input order.
func manyServicesLab(base *Lab) *Lab {
	lab := *base
	lab.Services = slices.Clone(base.Services)
	for n := 5; n >= 1; n-- {
		var eps []LabEndpoint
		for i := range n {
			eps = append(eps, LabEndpoint{IP: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 244, 1, byte(20 + i)}), 9000), Node: "node1"})
		}
		lab.Services = append(lab.Services, &LabService{
			Name: "multi" + strconv.Itoa(n), Namespace: "lab", Type: "ClusterIP",
			ClusterIP: netip.AddrFrom4([4]byte{10, 96, 1, byte(n)}),
			Ports: []LabServicePort{
				{Name: "tcp", Port: 80, Protocol: "TCP", TargetPort: "9000", Endpoints: eps},
				{Name: "dns", Port: 53, Protocol: "UDP", TargetPort: "9000", Endpoints: eps},
			},
		})
	}
	lab.Services = append(lab.Services, &LabService{
		Name: "empty", Namespace: "lab", Type: "NodePort",
		ClusterIP: netip.MustParseAddr("10.96.1.100"),
		Ports:     []LabServicePort{{Name: "http", Port: 80, Protocol: "TCP", NodePort: 30999}},
	})
	return &lab
}

var probabilityRE = regexp.MustCompile(`--probability (\S+)`)

// TestRulesProbabilities walks each KUBE-SVC chain as the kernel does: a
// rule with probability p takes p of what reached it, the last takes the
// rest. Every endpoint must end up with 1/n.
func TestRulesProbabilities(t *testing.T) {
	base := seedsLab(t)
	lab := manyServicesLab(base)
	nat := restoreChains(t, IPTablesRestore(lab, base.Nodes[0]))["nat"]
	checked := 0
	for chain, rules := range nat {
		if !strings.HasPrefix(chain, KubeSVCPrefix) {
			continue
		}
		var picks []string
		for _, r := range rules {
			if strings.Contains(r, "-j "+KubeSEPPrefix) {
				picks = append(picks, r)
			}
		}
		n := len(picks)
		remaining := 1.0
		for i, r := range picks {
			p := 1.0
			m := probabilityRE.FindStringSubmatch(r)
			if i < n-1 {
				if m == nil {
					t.Fatalf("%s rule %d of %d has no probability: %s", chain, i, n, r)
				}
				var err error
				if p, err = strconv.ParseFloat(m[1], 64); err != nil {
					t.Fatal(err)
				}
				if want := kubeProbability(n - i); m[1] != want || len(m[1]) != len("0.5000000000") {
					t.Errorf("%s rule %d: probability %s, want %s", chain, i, m[1], want)
				}
			} else if m != nil {
				t.Errorf("%s: last rule must be unconditional: %s", chain, r)
			}
			share := remaining * p
			remaining -= share
			if math.Abs(share-1/float64(n)) > 1e-9 {
				t.Errorf("%s endpoint %d of %d gets %.12f, want %.12f", chain, i, n, share, 1/float64(n))
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("checked only %d KUBE-SVC chains", checked)
	}

	// nftables picks with one numgen over all endpoints.
	nft := NFTablesScript(withProxy(lab, ProxyNFTables), base.Nodes[0])
	numgen := regexp.MustCompile(`numgen random mod (\d+) vmap \{ (.*) \}`)
	found := 0
	for _, l := range strings.Split(nft, "\n") {
		m := numgen.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		entries := strings.Split(m[2], " , ")
		if len(entries) != n {
			t.Errorf("mod %d with %d entries: %s", n, len(entries), l)
		}
		for i, e := range entries {
			if !strings.HasPrefix(e, strconv.Itoa(i)+" : goto endpoint-") {
				t.Errorf("entry %d is %q", i, e)
			}
		}
		found++
	}
	if found < 10 {
		t.Errorf("found only %d numgen rules", found)
	}
}

func TestRulesNoEndpoints(t *testing.T) {
	base := seedsLab(t)
	lab := manyServicesLab(base)
	tables := restoreChains(t, IPTablesRestore(lab, base.Nodes[1]))
	hasRule := func(table, chain, want string) {
		t.Helper()
		if !slices.Contains(tables[table][chain], want) {
			t.Errorf("%s %s lacks %q; has %q", table, chain, want, tables[table][chain])
		}
	}
	hasRule("filter", "KUBE-SERVICES", `-m comment --comment "lab/empty:http has no endpoints" -m tcp -p tcp -d 10.96.1.100 --dport 80 -j REJECT`)
	hasRule("filter", "KUBE-EXTERNAL-SERVICES", `-m comment --comment "lab/empty:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30999 -j REJECT`)
	if svc := string(KubeSVCChain("lab/empty:http", "tcp")); tables["nat"][svc] != nil {
		t.Errorf("a service without endpoints has nat chain %s", svc)
	}
	for _, r := range tables["nat"][string(KubeNodePorts)] {
		if strings.Contains(r, "30999") {
			t.Errorf("NodePort without endpoints is dispatched in nat: %s", r)
		}
	}

	nft := NFTablesScript(withProxy(lab, ProxyNFTables), base.Nodes[1])
	for _, want := range []string{
		`add element ip kube-proxy no-endpoint-services { 10.96.1.100 . tcp . 80 comment "lab/empty:http" : goto reject-chain }`,
		`add element ip kube-proxy no-endpoint-nodeports { tcp . 30999 comment "lab/empty:http" : goto reject-chain }`,
		`add element ip kube-proxy cluster-ips { 10.96.1.100 }`,
	} {
		if !strings.Contains(nft, want) {
			t.Errorf("nft script lacks %q", want)
		}
	}
	if strings.Contains(nft, "service-ips { 10.96.1.100") {
		t.Errorf("a service without endpoints is dispatched by service-ips")
	}
}

func TestRulesOrderIndependent(t *testing.T) {
	lab := seedsLab(t)
	rev := *lab
	rev.Services = slices.Clone(lab.Services)
	slices.Reverse(rev.Services)
	for _, svc := range rev.Services {
		for i := range svc.Ports {
			svc.Ports[i].Endpoints = slices.Clone(svc.Ports[i].Endpoints)
			slices.Reverse(svc.Ports[i].Endpoints)
		}
	}
	n := lab.Nodes[1]
	if IPTablesRestore(lab, n) != IPTablesRestore(&rev, n) {
		t.Errorf("iptables output depends on service or endpoint order")
	}
	if NFTablesScript(lab, n) != NFTablesScript(&rev, n) {
		t.Errorf("nft output depends on service or endpoint order")
	}
}

// TestRulesBuiltinJumps pins where each component's jump sits in the
// built-in chains: kube-proxy's -I 1 inserts end up reversed, portmap's
// MASQ entry is inserted above kube-proxy's, its DNAT entries appended.
func TestRulesBuiltinJumps(t *testing.T) {
	lab := seedsLab(t)
	tables := restoreChains(t, IPTablesRestore(lab, labNode(t, lab, "node2")))
	targets := func(table, chain string) []string {
		var out []string
		for _, r := range tables[table][chain] {
			out = append(out, jumpTarget.FindStringSubmatch(r)[1])
		}
		return out
	}
	for _, tc := range []struct {
		table, chain string
		want         []string
	}{
		{"filter", "INPUT", []string{"KUBE-FIREWALL", "KUBE-PROXY-FIREWALL", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES"}},
		{"filter", "FORWARD", []string{"KUBE-PROXY-FIREWALL", "KUBE-FORWARD", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES"}},
		{"filter", "OUTPUT", []string{"KUBE-FIREWALL", "KUBE-PROXY-FIREWALL", "KUBE-SERVICES"}},
		{"nat", "PREROUTING", []string{"KUBE-SERVICES", "CNI-HOSTPORT-DNAT"}},
		{"nat", "OUTPUT", []string{"KUBE-SERVICES", "CNI-HOSTPORT-DNAT"}},
		{"nat", "POSTROUTING", []string{"CNI-HOSTPORT-MASQ", "KUBE-POSTROUTING", "NETX-POSTROUTING"}},
	} {
		if got := targets(tc.table, tc.chain); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s jumps to %v, want %v", tc.table, tc.chain, got, tc.want)
		}
	}
	if got, want := tables["nat"]["NETX-POSTROUTING"], []string{
		"-s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN",
		"-s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully",
	}; !slices.Equal(got, want) {
		t.Errorf("NETX-POSTROUTING = %q, want %q", got, want)
	}
}

func TestRulesNFTablesShape(t *testing.T) {
	lab := withProxy(seedsLab(t), ProxyNFTables)
	nft := NFTablesScript(lab, lab.Nodes[0])
	lines := strings.Split(strings.TrimSpace(nft), "\n")
	if lines[1] != "add table ip kube-proxy" || lines[2] != "delete table ip kube-proxy" {
		t.Errorf("script must start by adding and deleting the table, starts %q", lines[:3])
	}
	// Every chain a rule, element or jump names must be added first.
	added := map[string]bool{}
	chainRef := regexp.MustCompile(`(?:jump|goto) (\S+)`)
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 5 && f[0] == "add" && f[1] == "chain" {
			added[f[4]] = true
		}
		if len(f) >= 5 && f[0] == "add" && f[1] == "rule" && !added[f[4]] {
			t.Errorf("rule in chain %s before it is added: %s", f[4], l)
		}
		for _, m := range chainRef.FindAllStringSubmatch(l, -1) {
			if !added[m[1]] {
				t.Errorf("%s referenced before it is added: %s", m[1], l)
			}
		}
	}
	svc := "service-" + nftServiceBase("default", "svc-b", "tcp", "http")
	for _, want := range []string{
		"add element ip kube-proxy service-ips { 10.96.0.10 . tcp . 80 : goto " + svc + " }",
		"add rule ip kube-proxy " + svc + " ip daddr 10.96.0.10 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
		"add element ip kube-proxy service-nodeports { tcp . 30080 : goto external-" + nftServiceBase("default", "mc3", "tcp", "") + " }",
		"add rule ip kube-proxy cluster-ips-check ip daddr { 10.96.0.0/16 } drop comment \"Drop traffic to unallocated ClusterIPs\"",
	} {
		if !strings.Contains(nft, want) {
			t.Errorf("nft script lacks %q", want)
		}
	}
}
