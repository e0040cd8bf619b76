package kubeproxy

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/netfilter"
)

// TestChainNames checks the hashing against names quoted from the
// upstream tests rather than against this package's own helpers.
func TestChainNames(t *testing.T) {
	// kubernetes pkg/proxy/iptables/proxier_test.go (TestOverallIPTablesRules):
	// ns1/svc1 port p80 TCP with endpoint 10.180.0.1:80.
	if got := KubeSVCChain("ns1/svc1:p80", "tcp"); got != "KUBE-SVC-XPGD46QRK7WJZT7O" {
		t.Errorf("KubeSVCChain = %s, want KUBE-SVC-XPGD46QRK7WJZT7O", got)
	}
	if got := KubeSEPChain("ns1/svc1:p80", "tcp", netip.MustParseAddrPort("10.180.0.1:80")); got != "KUBE-SEP-SXIVWICOYRO3J4NJ" {
		t.Errorf("KubeSEPChain = %s, want KUBE-SEP-SXIVWICOYRO3J4NJ", got)
	}
	// Well-known on every cluster: the kubernetes service, port "https".
	if got := KubeSVCChain("default/kubernetes:https", "tcp"); got != "KUBE-SVC-NPX46M4PTMTKRN6Y" {
		t.Errorf("KubeSVCChain(default/kubernetes:https) = %s, want KUBE-SVC-NPX46M4PTMTKRN6Y", got)
	}
	// kubernetes pkg/proxy/nftables/proxier.go doc comments and proxier_test.go.
	p := &ServicePort{Namespace: "ns1", Service: "svc1", PortName: "p80", Protocol: "tcp"}
	if got := NFTServiceChain(p); got != "service-ULMVA6XW-ns1/svc1/tcp/p80" {
		t.Errorf("nft service chain = %s", got)
	}
	if got := NFTEndpointChain(p, netip.MustParseAddrPort("10.180.0.1:80")); got != "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80" {
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

// services exercising what the e2e cluster lacks: 1 to 5 endpoints, UDP,
// and a NodePort service without endpoints.
func testServices() []ServicePort {
	var out []ServicePort
	for n := 5; n >= 1; n-- {
		var eps []netip.AddrPort
		for i := range n {
			eps = append(eps, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 244, 1, byte(20 + i)}), 9000))
		}
		for _, proto := range []string{"tcp", "udp"} {
			out = append(out, ServicePort{Namespace: "lab", Service: fmt.Sprintf("multi%d", n), PortName: proto, Protocol: proto,
				ClusterIP: netip.AddrFrom4([4]byte{10, 96, 1, byte(n)}), Port: 80, Endpoints: eps})
		}
	}
	out = append(out, ServicePort{Namespace: "lab", Service: "empty", PortName: "http", Protocol: "tcp",
		ClusterIP: netip.MustParseAddr("10.96.1.100"), Port: 80, NodePort: 30999})
	out = append(out, ServicePort{Namespace: "lab", Service: "np", Protocol: "tcp",
		ClusterIP: netip.MustParseAddr("10.96.1.101"), Port: 80, NodePort: 30001, Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.244.2.9:8080")}})
	out = append(out, affinityService())
	return out
}

// affinityService has sessionAffinity ClientIP (timeoutSeconds 10800, the
// default) and two endpoints.
func affinityService() ServicePort {
	return ServicePort{Namespace: "lab", Service: "sticky", PortName: "http", Protocol: "tcp", ClusterIP: netip.MustParseAddr("10.96.1.102"), Port: 80,
		Endpoints: []netip.AddrPort{netip.MustParseAddrPort("10.244.1.5:8080"), netip.MustParseAddrPort("10.244.2.5:8080")}, AffinitySeconds: 10800}
}

// TestSessionAffinity: kube-proxy's affinity rules, as iptables-save and
// nft list them (pkg/proxy/iptables writeServiceToEndpointRules and the
// endpoint chains; pkg/proxy/nftables the affinity sets, the service
// chain's lookups and the endpoint chain's update).
func TestSessionAffinity(t *testing.T) {
	p := affinityService()
	nat := build(t, ModeIPTables, labConfig(), []ServicePort{p}).IPTables.Table(netfilter.FamilyIP, "nat")
	svc := KubeSVCChain(p.Name(), "tcp")
	sep1, sep2 := KubeSEPChain(p.Name(), "tcp", p.Endpoints[0]), KubeSEPChain(p.Name(), "tcp", p.Endpoints[1])
	want := []string{
		`-A ` + svc + ` ! -s 10.244.0.0/16 -d 10.96.1.102/32 -p tcp -m comment --comment "lab/sticky:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`,
		`-A ` + svc + ` -m comment --comment "lab/sticky:http -> 10.244.1.5:8080" -m recent --rcheck --seconds 10800 --reap --name ` + sep1 + ` --mask 255.255.255.255 --rsource -j ` + sep1,
		`-A ` + svc + ` -m comment --comment "lab/sticky:http -> 10.244.2.5:8080" -m recent --rcheck --seconds 10800 --reap --name ` + sep2 + ` --mask 255.255.255.255 --rsource -j ` + sep2,
		`-A ` + svc + ` -m comment --comment "lab/sticky:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.50000000000 -j ` + sep1,
		`-A ` + svc + ` -m comment --comment "lab/sticky:http -> 10.244.2.5:8080" -j ` + sep2,
	}
	if got := ruleTexts(nat.Chain(svc)); !slices.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant\n%s", svc, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantSEP := `-A ` + sep1 + ` -p tcp -m comment --comment "lab/sticky:http" -m recent --set --name ` + sep1 + ` --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.1.5:8080`
	if got := ruleTexts(nat.Chain(sep1)); len(got) != 2 || got[1] != wantSEP {
		t.Errorf("%s: %q, want the DNAT rule %q", sep1, got, wantSEP)
	}

	kp := build(t, ModeNFTables, labConfig(), []ServicePort{p}).NFTables.Table(netfilter.FamilyIP, NFTTable)
	set := NFTAffinitySet(&p, p.Endpoints[0])
	if s := kp.Set(set); s == nil || s.Timeout != 3*time.Hour || !slices.Equal(s.Flags, []string{"dynamic", "timeout"}) || !slices.Equal(s.KeyType, []string{"ipv4_addr"}) {
		t.Errorf("affinity set %s: %+v", set, s)
	}
	ep1 := NFTEndpointChain(&p, p.Endpoints[0])
	if got := ruleTexts(kp.Chain(NFTServiceChain(&p))); len(got) != 4 || got[1] != "ip saddr @"+set+" goto "+ep1 || !strings.HasPrefix(got[3], "numgen random mod 2 vmap") {
		t.Errorf("service chain: %q", got)
	}
	if got := ruleTexts(kp.Chain(ep1)); !slices.Equal(got, []string{"ip saddr 10.244.1.5 jump mark-for-masquerade", "update @" + set + " { ip saddr }", "meta l4proto tcp dnat to 10.244.1.5:8080"}) {
		t.Errorf("endpoint chain: %q", got)
	}
}

func labConfig() Config {
	return Config{ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"), ServiceCIDR: netip.MustParsePrefix("10.96.0.0/16"), LocalhostNodePorts: true}
}

func build(t *testing.T, mode Mode, c Config, services []ServicePort) *Node {
	t.Helper()
	n, err := Build(mode, c, services)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestProbabilities walks each KUBE-SVC chain as the kernel does: a rule
// with probability p takes p of what reached it, the last takes the rest.
// Every endpoint must end up with 1/n. nftables mode picks with one
// numgen over all endpoints, entry i leading to endpoint i.
func TestProbabilities(t *testing.T) {
	n := build(t, ModeIPTables, labConfig(), testServices())
	nat := n.IPTables.Table(netfilter.FamilyIP, "nat")
	checked := 0
	for _, c := range nat.Chains {
		if !strings.HasPrefix(c.Name, KubeSVCPrefix) {
			continue
		}
		var picks []*netfilter.Rule
		for _, r := range c.Rules {
			affinity := slices.ContainsFunc(r.Matches, func(m netfilter.Match) bool { return m.Kind == netfilter.MatchRecent })
			if strings.HasPrefix(r.Target.Chain, KubeSEPPrefix) && !affinity {
				picks = append(picks, r)
			}
		}
		remaining := 1.0
		for i, r := range picks {
			p := 1.0
			var st *netfilter.Statistic
			for _, m := range r.Matches {
				if m.Statistic != nil {
					st = m.Statistic
				}
			}
			switch {
			case i < len(picks)-1 && st == nil:
				t.Fatalf("%s rule %d of %d has no probability: %s", c.Name, i, len(picks), r.Text)
			case i < len(picks)-1:
				p = st.Probability
			case st != nil:
				t.Errorf("%s: the last rule must be unconditional: %s", c.Name, r.Text)
			}
			share := remaining * p
			remaining -= share
			// The kernel keeps a 31-bit fraction.
			if math.Abs(share-1/float64(len(picks))) > 1e-9 {
				t.Errorf("%s endpoint %d of %d gets %.12f, want %.12f", c.Name, i, len(picks), share, 1/float64(len(picks)))
			}
		}
		checked++
	}
	if checked != 12 {
		t.Fatalf("checked %d KUBE-SVC chains, want 12", checked)
	}
	// 1/3 as iptables-save prints it back (lround(2^31/3)/2^31).
	found := false
	for _, c := range nat.Chains {
		for _, r := range c.Rules {
			found = found || strings.Contains(r.Text, "--probability 0.33333333349 ")
		}
	}
	if !found {
		t.Error("no rule holds 1/3 as the kernel stores it (0.33333333349)")
	}

	nft := build(t, ModeNFTables, labConfig(), testServices()).NFTables.Table(netfilter.FamilyIP, NFTTable)
	checked = 0
	for _, p := range testServices() {
		if len(p.Endpoints) == 0 {
			continue
		}
		c := nft.Chain(NFTServiceChain(&p))
		vm := c.Rules[len(c.Rules)-1].Target
		if vm.Kind != netfilter.TargetVerdictMap || len(vm.Lookup.Keys) != 1 || vm.Lookup.Keys[0].Field != netfilter.FieldNumgen || int(vm.Lookup.Keys[0].Mod) != len(p.Endpoints) {
			t.Errorf("%s: last rule %q is not a numgen pick over %d endpoints", c.Name, c.Rules[len(c.Rules)-1].Text, len(p.Endpoints))
			continue
		}
		for i, ep := range p.endpoints() {
			if e := vm.Lookup.Elements[i]; e.Key[0] != fmt.Sprint(i) || e.Verdict.Chain != NFTEndpointChain(&p, ep) {
				t.Errorf("%s entry %d: %+v, want %d : goto %s", c.Name, i, e, i, NFTEndpointChain(&p, ep))
			}
		}
		checked++
	}
	if checked != 12 {
		t.Fatalf("checked %d service chains, want 11", checked)
	}
}

// TestNoEndpoints: a service without endpoints is rejected in filter
// (iptables) or through the reject chain (nftables), and never dispatched.
func TestNoEndpoints(t *testing.T) {
	p := ServicePort{Namespace: "lab", Service: "empty", PortName: "http", Protocol: "tcp", ClusterIP: netip.MustParseAddr("10.96.1.100"), Port: 80, NodePort: 30999}
	n := build(t, ModeIPTables, labConfig(), []ServicePort{p})
	filter := n.IPTables.Table(netfilter.FamilyIP, "filter")
	for chain, want := range map[string]string{
		KubeServices:         `-A KUBE-SERVICES -d 10.96.1.100/32 -p tcp -m comment --comment "lab/empty:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable`,
		KubeExternalServices: `-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "lab/empty:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30999 -j REJECT --reject-with icmp-port-unreachable`,
	} {
		c := filter.Chain(chain)
		if len(c.Rules) != 1 || c.Rules[0].Text != want || c.Rules[0].Target.Kind != netfilter.TargetReject {
			t.Errorf("filter %s: %v, want one REJECT rule %q", chain, ruleTexts(c), want)
		}
	}
	nat := n.IPTables.Table(netfilter.FamilyIP, "nat")
	if nat.Chain(KubeSVCChain(p.Name(), "tcp")) != nil || len(nat.Chain(KubeNodePorts).Rules) != 0 || len(nat.Chain(KubeServices).Rules) != 1 {
		t.Errorf("a service without endpoints is dispatched in nat: %v %v", ruleTexts(nat.Chain(KubeServices)), ruleTexts(nat.Chain(KubeNodePorts)))
	}

	kp := build(t, ModeNFTables, labConfig(), []ServicePort{p}).NFTables.Table(netfilter.FamilyIP, NFTTable)
	for set, want := range map[string]string{
		NFTNoEndpointServices:  "10.96.1.100 . tcp . 80 : GOTO reject-chain",
		NFTNoEndpointNodePorts: "tcp . 30999 : GOTO reject-chain",
		NFTClusterIPs:          "10.96.1.100",
	} {
		if got := elementTexts(kp.Set(set)); !slices.Equal(got, []string{want}) {
			t.Errorf("%s: %v, want %q", set, got, want)
		}
	}
	if got := elementTexts(kp.Set(NFTServiceIPs)); len(got) != 0 {
		t.Errorf("a service without endpoints is dispatched by service-ips: %v", got)
	}
}

func ruleTexts(c *netfilter.Chain) []string {
	var out []string
	for _, r := range c.Rules {
		out = append(out, r.Text)
	}
	return out
}

func elementTexts(s *netfilter.Set) []string {
	var out []string
	for _, e := range s.Elements {
		t := strings.Join(e.Key, " . ")
		if e.Verdict != nil {
			t += " : " + string(e.Verdict.Kind) + " " + e.Verdict.Chain
		}
		out = append(out, t)
	}
	return out
}

// TestJumpsResolve: every jump, goto and verdict-map entry leads to a
// chain of its table, no per-service chain is left empty or unreached,
// and the NodePort jump is the last rule of nat KUBE-SERVICES.
func TestJumpsResolve(t *testing.T) {
	for _, mode := range []Mode{ModeIPTables, ModeNFTables} {
		for _, c := range []Config{labConfig(), SyntheticConfig()} {
			n := build(t, mode, c, append(testServices(), Synthetic(20)...))
			reached := map[string]bool{}
			for _, rs := range []*netfilter.Ruleset{n.IPTables, n.NFTables} {
				if rs == nil {
					continue
				}
				for _, tb := range rs.Tables {
					check := func(where string, v *netfilter.Target) {
						if v.Kind != netfilter.TargetJump && v.Kind != netfilter.TargetGoto {
							return
						}
						reached[v.Chain] = true
						if tb.Chain(v.Chain) == nil {
							t.Errorf("%s %s %s: %s leads to missing chain %s", mode, tb.Family, tb.Name, where, v.Chain)
						}
					}
					for _, s := range tb.Sets {
						for _, e := range s.Elements {
							if e.Verdict != nil {
								check("element of "+s.Name, e.Verdict)
							}
						}
					}
					for _, ch := range tb.Chains {
						for _, r := range ch.Rules {
							check(r.Text, &r.Target)
							if r.Target.Lookup != nil {
								for _, e := range r.Target.Lookup.Elements {
									check(r.Text, e.Verdict)
								}
							}
						}
					}
				}
			}
			for _, rs := range []*netfilter.Ruleset{n.IPTables, n.NFTables} {
				if rs == nil {
					continue
				}
				for _, tb := range rs.Tables {
					for _, ch := range tb.Chains {
						perService := strings.HasPrefix(ch.Name, "KUBE-S") && ch.Name != KubeServices || strings.HasPrefix(ch.Name, NFTServicePrefix) || strings.HasPrefix(ch.Name, NFTEndpointPrefix)
						if perService && (len(ch.Rules) == 0 || !reached[ch.Name]) {
							t.Errorf("%s %s: %s has %d rules, reached %v", mode, tb.Name, ch.Name, len(ch.Rules), reached[ch.Name])
						}
					}
				}
			}
			if mode == ModeIPTables {
				svcs := n.IPTables.Table(netfilter.FamilyIP, "nat").Chain(KubeServices).Rules
				if last := svcs[len(svcs)-1]; last.Target.Chain != KubeNodePorts {
					t.Errorf("last rule of nat KUBE-SERVICES: %s", last.Text)
				}
			} else if tb := n.IPTables.Table(netfilter.FamilyIP, "nat"); tb != nil && tb.Chain(KubeServices) != nil {
				t.Errorf("nftables mode writes iptables chain %s", KubeServices)
			}
		}
	}
}

// TestLargeClusterMode: past 1000 endpoints, kube-proxy leaves the
// per-endpoint comments out (its SVC-to-SEP and SEP rules), and only
// those.
func TestLargeClusterMode(t *testing.T) {
	for _, tc := range []struct {
		services int
		large    bool
	}{{500, false}, {501, true}} {
		nat := build(t, ModeIPTables, labConfig(), Synthetic(tc.services)).IPTables.Table(netfilter.FamilyIP, "nat")
		p := Synthetic(1)[0]
		svc := nat.Chain(KubeSVCChain(p.Name(), "tcp"))
		sep := nat.Chain(KubeSEPChain(p.Name(), "tcp", p.Endpoints[0]))
		if (svc.Rules[1].Comment == "") != tc.large || (sep.Rules[0].Comment == "") != tc.large || svc.Rules[0].Comment == "" {
			t.Errorf("%d services (%d endpoints): rules %q %q %q, large-cluster mode %v", tc.services, 2*tc.services, svc.Rules[0].Text, svc.Rules[1].Text, sep.Rules[0].Text, tc.large)
		}
	}
}

// TestOrderOfBuiltinJumps pins where each component's jump sits in the
// built-in chains of a lab node (masquerading first, kube-proxy, then
// portmap): kube-proxy's inserts at 1 end up reversed above what was
// there, portmap's MASQ entry is inserted above kube-proxy's, its DNAT
// entries appended; with kubelet's chains first, kube-proxy's ensure of
// the KUBE-FIREWALL jumps leaves kubelet's where they are.
func TestOrderOfBuiltinJumps(t *testing.T) {
	for _, kubelet := range []bool{false, true} {
		b := netfilter.NewIPTablesBuilder(netfilter.FamilyIP, netfilter.SourceIPTablesNFT)
		Masquerade(b, netip.MustParsePrefix("10.244.0.0/16"))
		if kubelet {
			Kubelet(b)
		}
		if err := IPTables(b, labConfig(), testServices()); err != nil {
			t.Fatal(err)
		}
		if err := Portmap(b, "cbr0", netip.MustParsePrefix("10.244.2.0/24"), []PortmapPod{{ContainerID: "abc", IP: netip.MustParseAddr("10.244.2.4"),
			Ports: []HostPort{{HostPort: 8081, ContainerPort: 8080, Protocol: "tcp"}}}}); err != nil {
			t.Fatal(err)
		}
		rs, err := b.Ruleset()
		if err != nil {
			t.Fatal(err)
		}
		input := []string{"KUBE-FIREWALL", "KUBE-PROXY-FIREWALL", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES"}
		output := []string{"KUBE-FIREWALL", "KUBE-PROXY-FIREWALL", "KUBE-SERVICES"}
		if kubelet {
			input = []string{"KUBE-PROXY-FIREWALL", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES", "KUBE-FIREWALL"}
			output = []string{"KUBE-PROXY-FIREWALL", "KUBE-SERVICES", "KUBE-FIREWALL"}
		}
		for _, tc := range []struct {
			table, chain string
			want         []string
		}{
			{"filter", "INPUT", input},
			{"filter", "FORWARD", []string{"KUBE-PROXY-FIREWALL", "KUBE-FORWARD", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES"}},
			{"filter", "OUTPUT", output},
			{"nat", "PREROUTING", []string{"KUBE-SERVICES", "CNI-HOSTPORT-DNAT"}},
			{"nat", "OUTPUT", []string{"KUBE-SERVICES", "CNI-HOSTPORT-DNAT"}},
			{"nat", "POSTROUTING", []string{"CNI-HOSTPORT-MASQ", "KUBE-POSTROUTING", NetxPostrouting}},
		} {
			var got []string
			for _, r := range rs.Table(netfilter.FamilyIP, tc.table).Chain(tc.chain).Rules {
				got = append(got, r.Target.Chain)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("kubelet %v: %s %s jumps to %v, want %v", kubelet, tc.table, tc.chain, got, tc.want)
			}
		}
		if got, want := ruleTexts(rs.Table(netfilter.FamilyIP, "filter").Chain(KubeFirewall)), 1; len(got) != want {
			t.Errorf("kubelet %v: KUBE-FIREWALL holds %q: kube-proxy's restore replaces kubelet's copy of its rule", kubelet, got)
		}
	}
}

// TestSyntheticShape holds the benchmarks' node to its recipe: every
// service dispatched to its own chain, whose endpoints DNAT to its
// addresses, in both modes.
func TestSyntheticShape(t *testing.T) {
	ports := Synthetic(100)
	n := build(t, ModeIPTables, SyntheticConfig(), ports)
	nat := n.IPTables.Table(netfilter.FamilyIP, "nat")
	if got := len(nat.Chain(KubeServices).Rules); got != 101 {
		t.Fatalf("KUBE-SERVICES: %d rules, want 101", got)
	}
	for i, p := range ports {
		r := nat.Chain(KubeServices).Rules[i]
		if r.Target.Chain != KubeSVCChain(p.Name(), "tcp") || r.Matches[0].Prefix != netip.PrefixFrom(p.ClusterIP, 32) {
			t.Fatalf("service %d: %s", i, r.Text)
		}
		for e, ep := range p.Endpoints {
			sep := nat.Chain(nat.Chain(r.Target.Chain).Rules[1+e].Target.Chain)
			if sep == nil || sep.Name != KubeSEPChain(p.Name(), "tcp", ep) || sep.Rules[1].Target.To.Addr != ep.Addr() || sep.Rules[1].Target.To.Port != ep.Port() {
				t.Fatalf("service %d endpoint %d: %+v", i, e, sep)
			}
		}
	}
	kp := build(t, ModeNFTables, SyntheticConfig(), ports).NFTables.Table(netfilter.FamilyIP, NFTTable)
	if got := len(kp.Set(NFTServiceIPs).Elements); got != 100 {
		t.Fatalf("service-ips: %d elements, want 100", got)
	}
	for i, e := range kp.Set(NFTServiceIPs).Elements {
		p := ports[i]
		if e.Key[0] != p.ClusterIP.String() || e.Verdict == nil || e.Verdict.Chain != NFTServiceChain(&p) {
			t.Fatalf("service-ips element %d: %+v", i, e)
		}
		vm := kp.Chain(e.Verdict.Chain).Rules[1].Target
		for j, el := range vm.Lookup.Elements {
			if el.Verdict.Chain != NFTEndpointChain(&p, p.Endpoints[j]) || kp.Chain(el.Verdict.Chain).Rules[1].Target.To.Addr != p.Endpoints[j].Addr() {
				t.Fatalf("%s: element %d: %+v", e.Verdict.Chain, j, el)
			}
		}
	}
}

// TestBadInput: a service the writers cannot express is refused with the
// object named, before anything is written.
func TestBadInput(t *testing.T) {
	for _, p := range []ServicePort{
		{Namespace: "a", Service: "b", Protocol: "TCP", ClusterIP: netip.MustParseAddr("10.96.0.1"), Port: 80},
		{Namespace: "a", Service: "b", Protocol: "tcp", ClusterIP: netip.MustParseAddr("fd00::1"), Port: 80},
		{Namespace: "a", Service: "b", Protocol: "tcp", ClusterIP: netip.MustParseAddr("10.96.0.1")},
	} {
		for _, mode := range []Mode{ModeIPTables, ModeNFTables} {
			if _, err := Build(mode, labConfig(), []ServicePort{p}); err == nil || !strings.Contains(err.Error(), "a/b") {
				t.Errorf("%s %+v: %v, want an error naming a/b", mode, p, err)
			}
		}
	}
}
