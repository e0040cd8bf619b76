package inspect

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netx-project/netx/netfilter"
)

// The fixtures are real snapshots of the node shapes CNIs leave behind,
// made by hack/snapshots (make testdata-snapshots; see
// testdata/snapshots/README.md). These tests say what inspect must have
// found on each shape, so a change in inspect's readers, or a regenerated
// fixture that lost something, fails here.

func fixtureFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "snapshots", "*", "*.json"))
	if err != nil || len(files) < 6 {
		t.Fatalf("fixtures: %v %v (make testdata-snapshots)", files, err)
	}
	return files
}

func fixture(t *testing.T, shape, node string) *Snapshot {
	t.Helper()
	s, err := ReadSnapshotFile(filepath.Join("..", "testdata", "snapshots", shape, node+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wantPod is a pod a fixture must hold: its eth0 address (with length)
// and the sockets it listens on.
type wantPod struct {
	ref, addr string
	listen    []string // proto:port
}

// checkPods finds exactly the wanted pods, with their address on eth0, a
// veth whose peer is a link of the node that points back at it, and their
// listening sockets owned by the app process.
func checkPods(t *testing.T, s *Snapshot, want ...wantPod) map[string]*Netns {
	t.Helper()
	if len(s.Namespaces) != len(want) {
		var got []string
		for _, n := range s.Namespaces {
			got = append(got, n.Path)
		}
		t.Errorf("%d namespaces, want %d pods: %v", len(s.Namespaces), len(want), got)
	}
	out := map[string]*Netns{}
	for _, w := range want {
		n, _, err := s.FindPod(w.ref)
		if err != nil {
			t.Error(err)
			continue
		}
		out[w.ref] = n
		eth0 := linkNamed(n, "eth0")
		if eth0 == nil || eth0.Kind != "veth" || !slices.Equal(eth0.Addrs, []string{w.addr}) {
			t.Errorf("%s eth0 = %+v, want a veth with %s", w.ref, eth0, w.addr)
			continue
		}
		if eth0.Peer == nil || eth0.Peer.Inode != s.Node.Inode {
			t.Errorf("%s eth0 peer %+v is not on the node (inode %d)", w.ref, eth0.Peer, s.Node.Inode)
			continue
		}
		host := linkNamed(s.Node, eth0.Peer.Name)
		if host == nil || host.Index != eth0.Peer.Index || host.Kind != "veth" || host.Master != eth0.Peer.Bridge {
			t.Errorf("%s: node link %q = %+v does not match the peer reference %+v", w.ref, eth0.Peer.Name, host, eth0.Peer)
		} else if host.Peer == nil || host.Peer.Inode != n.Inode || host.Peer.Index != eth0.Index {
			t.Errorf("%s: node end %s points at %+v, not back at the pod", w.ref, host.Name, host.Peer)
		}
		if n.Hostname != n.Pod.Name || n.PausePID == 0 || len(n.Processes) == 0 || n.Processes[0].Comm != "pause" {
			t.Errorf("%s: hostname %q pause %d processes %+v", w.ref, n.Hostname, n.PausePID, n.Processes)
		}
		var got []string
		for _, l := range n.Listeners {
			got = append(got, fmt.Sprintf("%s:%d", l.Proto, l.Port))
			if l.Comm != "app" || l.Addr != "0.0.0.0" {
				t.Errorf("%s: listener %+v not app's on 0.0.0.0", w.ref, l)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, w.listen) {
			t.Errorf("%s listens on %v, want %v", w.ref, got, w.listen)
		}
	}
	return out
}

// hasRoute finds a main-table route by destination and checks its gateway,
// device, type and onlink flag.
func hasRoute(t *testing.T, n *Netns, want Route) {
	t.Helper()
	for _, r := range n.Routes {
		if (r.Table == 254 || r.Table == 0) && r.Dst == want.Dst {
			if r.Gw != want.Gw || r.Dev != want.Dev || r.Type != want.Type || r.Onlink != want.Onlink || (want.Scope != "" && r.Scope != want.Scope) {
				t.Errorf("%s: route %s = %+v, want %+v", n.Path, want.Dst, r, want)
			}
			return
		}
	}
	t.Errorf("%s: no route to %s (want %+v)", n.Path, want.Dst, want)
}

// ipt is a chain of one of the node's iptables-nft tables.
func ipt(t *testing.T, s *Snapshot, table, chain string) *netfilter.Chain {
	t.Helper()
	for _, rs := range s.Node.Netfilter {
		if rs.Source != netfilter.SourceIPTablesNFT {
			continue
		}
		if tb := rs.Table(netfilter.FamilyIP, table); tb != nil {
			if c := tb.Chain(chain); c != nil {
				return c
			}
		}
	}
	t.Fatalf("no iptables-nft chain %s/%s on the node", table, chain)
	return nil
}

func match(r *netfilter.Rule, kind netfilter.MatchKind) *netfilter.Match {
	for i := range r.Matches {
		if r.Matches[i].Kind == kind {
			return &r.Matches[i]
		}
	}
	return nil
}

// jumpsFrom returns the rules of chain that jump to a chain named with
// prefix.
func jumpsFrom(c *netfilter.Chain, prefix string) []*netfilter.Rule {
	var out []*netfilter.Rule
	for _, r := range c.Rules {
		if r.Target.Kind == netfilter.TargetJump && strings.HasPrefix(r.Target.Chain, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func TestFixturesAreCleanSnapshots(t *testing.T) {
	for _, f := range fixtureFiles(t) {
		s, err := ReadSnapshotFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if s.Version != SchemaVersion || s.Taken.Year() != 2026 {
			t.Errorf("%s: version %d taken %v", f, s.Version, s.Taken)
		}
		if filepath.Base(f) != s.NodeName+".json" || s.Namespaces[0].Pod.Node != s.NodeName {
			t.Errorf("%s is the snapshot of node %q holding pods of node %q", f, s.NodeName, s.Namespaces[0].Pod.Node)
		}
		for _, n := range s.All() {
			if n.Error != "" || len(n.Warnings) > 0 {
				t.Errorf("%s %s: error %q warnings %v", f, n.Path, n.Error, n.Warnings)
			}
			if n != s.Node && (n.Pod == nil || !slices.Contains(n.FoundBy, SourceProc) || !slices.Contains(n.FoundBy, SourceNetnsDir)) {
				t.Errorf("%s %s: not a pod found through /proc and /run/netns: %+v %v", f, n.Path, n.Pod, n.FoundBy)
			}
		}
		if s.Node.Sysctls["net.ipv4.ip_forward"] != "1" || !strings.HasPrefix(s.Node.KubeProxyMode, "none") {
			t.Errorf("%s: ip_forward %q kube-proxy %q", f, s.Node.Sysctls["net.ipv4.ip_forward"], s.Node.KubeProxyMode)
		}
		// The node's uplink leads to the fabric, which is not a pod and
		// not in the snapshot: its peer reference is gone.
		if eth0 := linkNamed(s.Node, "eth0"); eth0 == nil || eth0.Peer != nil || eth0.Addr4() == "" {
			t.Errorf("%s: node eth0 %+v", f, eth0)
		}
	}
}

func TestFixtureCNIBridge(t *testing.T) {
	s := fixture(t, "cni-bridge", "node1")
	pods := checkPods(t, s,
		wantPod{"default/web", "10.244.1.2/24", []string{"tcp:80"}},
		wantPod{"default/client", "10.244.1.3/24", nil},
		wantPod{"kube-system/coredns", "10.244.1.4/24", []string{"tcp:53", "udp:53"}})
	if br := linkNamed(s.Node, "cni0"); br == nil || br.Kind != "bridge" || !slices.Equal(br.Addrs, []string{"10.244.1.1/24"}) {
		t.Errorf("cni0 = %+v", br)
	}
	for ref, n := range pods {
		if p := linkNamed(n, "eth0").Peer; p.Bridge != "cni0" || p.Route != "" {
			t.Errorf("%s: peer %+v, want a port of cni0", ref, p)
		}
		hasRoute(t, n, Route{Dst: "default", Gw: "10.244.1.1", Dev: "eth0"})
	}
	hasRoute(t, s.Node, Route{Dst: "10.244.1.0/24", Dev: "cni0", Scope: "link"})

	// portmap: the host port is a DNAT, reached from PREROUTING and
	// OUTPUT for local destinations, through the pod's CNI-DN- chain.
	for _, hook := range []string{"PREROUTING", "OUTPUT"} {
		js := jumpsFrom(ipt(t, s, "nat", hook), "CNI-HOSTPORT-DNAT")
		if len(js) != 1 || match(js[0], netfilter.MatchAddrType) == nil || !slices.Equal(match(js[0], netfilter.MatchAddrType).AddrType.Types, []string{"LOCAL"}) {
			t.Errorf("%s: want one jump to CNI-HOSTPORT-DNAT for local destinations, got %v", hook, js)
		}
	}
	top := ipt(t, s, "nat", "CNI-HOSTPORT-DNAT")
	js := jumpsFrom(top, "CNI-DN-")
	if len(top.Rules) != 1 || len(js) != 1 {
		t.Fatalf("CNI-HOSTPORT-DNAT: %d rules, want one jump to the web pod's CNI-DN- chain", len(top.Rules))
	}
	if m := match(js[0], netfilter.MatchDstPort); m == nil || m.Module != "multiport" || !slices.Equal(m.Ports, []netfilter.PortRange{{First: 8080, Last: 8080}}) {
		t.Errorf("CNI-HOSTPORT-DNAT jump matches %+v, want multiport 8080", js[0].Matches)
	}
	dn := ipt(t, s, "nat", js[0].Target.Chain)
	last := dn.Rules[len(dn.Rules)-1]
	if last.Target.Kind != netfilter.TargetDNAT || last.Target.ToDestination != "10.244.1.2:80" ||
		last.Target.To.Addr != netip.MustParseAddr("10.244.1.2") || last.Target.To.Port != 80 ||
		match(last, netfilter.MatchProtocol).Value != "tcp" || match(last, netfilter.MatchDstPort).Ports[0].First != 8080 {
		t.Errorf("%s last rule = %q %+v, want tcp 8080 DNAT to 10.244.1.2:80", dn.Name, last.Text, last.Target)
	}
	marks := jumpsFrom(dn, "CNI-HOSTPORT-SETMARK")
	if len(marks) != 2 || match(marks[0], netfilter.MatchSource).Prefix != netip.MustParsePrefix("10.244.1.0/24") ||
		match(marks[1], netfilter.MatchSource).Prefix != netip.MustParsePrefix("127.0.0.1/32") {
		t.Errorf("%s: want hairpin and localhost marks before the DNAT, got %v", dn.Name, marks)
	}
	if r := ipt(t, s, "nat", "CNI-HOSTPORT-SETMARK").Rules; len(r) != 1 || r[0].Target.Kind != netfilter.TargetMark || r[0].Target.SetMark != 0x2000 || r[0].Target.Mask != 0x2000 {
		t.Errorf("CNI-HOSTPORT-SETMARK = %v", r)
	}
	if r := ipt(t, s, "nat", "CNI-HOSTPORT-MASQ").Rules; len(r) != 1 || r[0].Target.Kind != netfilter.TargetMasquerade || match(r[0], netfilter.MatchMark).Mark != 0x2000 {
		t.Errorf("CNI-HOSTPORT-MASQ = %v", r)
	}

	// The bridge plugin's ipMasq: POSTROUTING sends each pod's source to
	// a CNI-<hash> chain that accepts the pod subnet and masquerades the
	// rest but multicast.
	post := ipt(t, s, "nat", "POSTROUTING")
	if len(jumpsFrom(post, "CNI-HOSTPORT-MASQ")) != 1 {
		t.Error("POSTROUTING does not jump to CNI-HOSTPORT-MASQ")
	}
	masq := map[string]string{}
	for _, r := range jumpsFrom(post, "CNI-") {
		if src := match(r, netfilter.MatchSource); src != nil {
			masq[src.Prefix.String()] = r.Target.Chain
		}
	}
	for _, ip := range []string{"10.244.1.2/32", "10.244.1.3/32", "10.244.1.4/32"} {
		chain, ok := masq[ip]
		if !ok {
			t.Errorf("no POSTROUTING jump for pod source %s: %v", ip, masq)
			continue
		}
		r := ipt(t, s, "nat", chain).Rules
		if len(r) != 2 || r[0].Target.Kind != netfilter.TargetAccept || match(r[0], netfilter.MatchDestination).Prefix != netip.MustParsePrefix("10.244.1.0/24") ||
			r[1].Target.Kind != netfilter.TargetMasquerade || !match(r[1], netfilter.MatchDestination).Negate || match(r[1], netfilter.MatchDestination).Prefix != netip.MustParsePrefix("224.0.0.0/4") {
			t.Errorf("%s (%s): %v", chain, ip, r)
		}
	}
	if !slices.Equal(s.Node.NFTables, []string{"ip nat"}) {
		t.Errorf("nft tables %v, want the ip nat table iptables-nft made", s.Node.NFTables)
	}
}

func TestFixturePTP(t *testing.T) {
	s := fixture(t, "ptp", "node1")
	pods := checkPods(t, s,
		wantPod{"default/web", "10.244.1.2/24", []string{"tcp:80"}},
		wantPod{"default/client", "10.244.1.3/24", nil})
	for _, l := range s.Node.Links {
		if l.Kind == "bridge" {
			t.Errorf("ptp node has a bridge: %+v", l)
		}
	}
	for ref, n := range pods {
		eth0 := linkNamed(n, "eth0")
		host := linkNamed(s.Node, eth0.Peer.Name)
		want := eth0.Addr4() + "/32 dev " + host.Name
		if eth0.Peer.Bridge != "" || eth0.Peer.Route != want {
			t.Errorf("%s: peer %+v, want no bridge and route %q", ref, eth0.Peer, want)
		}
		// ptp puts the gateway address on every host end.
		if !slices.Equal(host.Addrs, []string{"10.244.1.1/32"}) {
			t.Errorf("%s: host end %s addresses %v", ref, host.Name, host.Addrs)
		}
		// ptp's host route has scope host (calico's: link).
		hasRoute(t, s.Node, Route{Dst: eth0.Addr4() + "/32", Dev: host.Name, Scope: "host"})
		hasRoute(t, n, Route{Dst: "default", Gw: "10.244.1.1", Dev: "eth0"})
		hasRoute(t, n, Route{Dst: "10.244.1.0/24", Gw: "10.244.1.1", Dev: "eth0"})
		hasRoute(t, n, Route{Dst: "10.244.1.1/32", Dev: "eth0", Scope: "link"})
	}
	// kindnet: host-gw to the other node, and its masquerade chain.
	hasRoute(t, s.Node, Route{Dst: "10.244.2.0/24", Gw: "192.168.77.12", Dev: "eth0"})
	js := jumpsFrom(ipt(t, s, "nat", "POSTROUTING"), "KIND-MASQ-AGENT")
	if len(js) != 1 || !match(js[0], netfilter.MatchAddrType).Negate || !match(js[0], netfilter.MatchAddrType).AddrType.Dst {
		t.Errorf("POSTROUTING -> KIND-MASQ-AGENT for non-local destinations: %v", js)
	}
	r := ipt(t, s, "nat", "KIND-MASQ-AGENT").Rules
	if len(r) != 2 || r[0].Target.Kind != netfilter.TargetReturn || match(r[0], netfilter.MatchDestination).Prefix != netip.MustParsePrefix("10.244.0.0/16") ||
		r[1].Target.Kind != netfilter.TargetMasquerade {
		t.Errorf("KIND-MASQ-AGENT = %v", r)
	}
}

func TestFixtureCalico(t *testing.T) {
	nodes := map[string]*Snapshot{"node1": fixture(t, "calico", "node1"), "node2": fixture(t, "calico", "node2")}
	pods := map[string]map[string]*Netns{
		"node1": checkPods(t, nodes["node1"],
			wantPod{"default/web", "10.244.1.65/32", []string{"tcp:80"}},
			wantPod{"default/client", "10.244.1.66/32", nil}),
		"node2": checkPods(t, nodes["node2"],
			wantPod{"default/api", "10.244.2.129/32", []string{"tcp:8080"}}),
	}
	blocks := map[string]string{"node1": "10.244.1.64/26", "node2": "10.244.2.128/26"}
	addrs := map[string]string{"node1": "192.168.77.11", "node2": "192.168.77.12"}
	for name, s := range nodes {
		if got := linkNamed(s.Node, "eth0").Addr4(); got != addrs[name] {
			t.Errorf("%s eth0 %s", name, got)
		}
		for ref, n := range pods[name] {
			eth0 := linkNamed(n, "eth0")
			host := linkNamed(s.Node, eth0.Peer.Name)
			if !strings.HasPrefix(host.Name, "cali") || len(host.Name) != 15 || host.MAC != "ee:ee:ee:ee:ee:ee" || len(host.Addrs) != 0 || host.Master != "" {
				t.Errorf("%s %s: host end %+v, want cali<11 hex> with MAC ee:ee:ee:ee:ee:ee and no address", name, ref, host)
			}
			if eth0.Peer.Route != eth0.Addr4()+"/32 dev "+host.Name {
				t.Errorf("%s %s: peer route %q", name, ref, eth0.Peer.Route)
			}
			if !netip.MustParsePrefix(blocks[name]).Contains(netip.MustParseAddr(eth0.Addr4())) {
				t.Errorf("%s %s: %s not in the node's block %s", name, ref, eth0.Addr4(), blocks[name])
			}
			hasRoute(t, s.Node, Route{Dst: eth0.Addr4() + "/32", Dev: host.Name, Scope: "link"})
			hasRoute(t, n, Route{Dst: "169.254.1.1/32", Dev: "eth0", Scope: "link"})
			hasRoute(t, n, Route{Dst: "default", Gw: "169.254.1.1", Dev: "eth0"})
		}
		hasRoute(t, s.Node, Route{Dst: blocks[name], Type: "blackhole"})
		if len(s.Node.Netfilter) != 0 {
			t.Errorf("%s: calico by hand writes no rules, got %d rulesets", name, len(s.Node.Netfilter))
		}
	}
	// Each node routes the other's block to the other's address, and the
	// other node really holds that address and a pod in that block.
	for name, other := range map[string]string{"node1": "node2", "node2": "node1"} {
		hasRoute(t, nodes[name].Node, Route{Dst: blocks[other], Gw: addrs[other], Dev: "eth0"})
	}
	if nodes["node1"].Node.Inode == nodes["node2"].Node.Inode {
		t.Error("the two nodes' files number their namespaces alike")
	}
}

func TestFixtureFlannelVXLAN(t *testing.T) {
	nodes := map[string]*Snapshot{"node1": fixture(t, "flannel-vxlan", "node1"), "node2": fixture(t, "flannel-vxlan", "node2")}
	pods := map[string]map[string]*Netns{
		"node1": checkPods(t, nodes["node1"],
			wantPod{"default/web", "10.244.1.2/24", []string{"tcp:80"}},
			wantPod{"default/client", "10.244.1.3/24", nil}),
		"node2": checkPods(t, nodes["node2"],
			wantPod{"default/api", "10.244.2.2/24", []string{"tcp:8080"}}),
	}
	type nodeWant struct{ addr, subnet, vtep, bridge, other string }
	want := map[string]nodeWant{
		"node1": {"192.168.77.11", "10.244.1", "10.244.1.0/32", "10.244.1.1/24", "node2"},
		"node2": {"192.168.77.12", "10.244.2", "10.244.2.0/32", "10.244.2.1/24", "node1"},
	}
	for name, s := range nodes {
		w, o := want[name], want[want[name].other]
		other := nodes[w.other]
		br := linkNamed(s.Node, "cni0")
		if br == nil || br.Kind != "bridge" || br.MTU != 1450 || !slices.Equal(br.Addrs, []string{w.bridge}) {
			t.Errorf("%s cni0 = %+v", name, br)
		}
		for ref, n := range pods[name] {
			if p := linkNamed(n, "eth0").Peer; p.Bridge != "cni0" {
				t.Errorf("%s %s: peer %+v not on cni0", name, ref, p)
			}
			hasRoute(t, n, Route{Dst: "default", Gw: w.subnet + ".1", Dev: "eth0"})
			hasRoute(t, n, Route{Dst: "10.244.0.0/16", Gw: w.subnet + ".1", Dev: "eth0"})
		}

		vx := linkNamed(s.Node, "flannel.1")
		if vx == nil || vx.Kind != "vxlan" || vx.VXLAN == nil {
			t.Fatalf("%s flannel.1 = %+v", name, vx)
		}
		if v := vx.VXLAN; v.VNI != 1 || v.Port != 8472 || v.Local != w.addr || v.Dev != "eth0" || v.Learner {
			t.Errorf("%s flannel.1 vxlan = %+v, want id 1 port 8472 local %s dev eth0 nolearning", name, v, w.addr)
		}
		if vx.MTU != 1450 || !slices.Equal(vx.Addrs, []string{w.vtep}) || !vx.Up {
			t.Errorf("%s flannel.1 mtu %d addrs %v up %v", name, vx.MTU, vx.Addrs, vx.Up)
		}
		// Toward the other node: route via its VTEP address onlink, the
		// neighbour entry giving that address the other VTEP's MAC, and
		// the FDB entry sending that MAC to the other node's address.
		otherVTEP := linkNamed(other.Node, "flannel.1")
		gw := strings.TrimSuffix(o.vtep, "/32")
		hasRoute(t, s.Node, Route{Dst: o.subnet + ".0/24", Gw: gw, Dev: "flannel.1", Onlink: true})
		i := slices.IndexFunc(s.Node.Neighbors, func(nb Neighbor) bool { return nb.IP == gw })
		if i < 0 || s.Node.Neighbors[i] != (Neighbor{IP: gw, MAC: otherVTEP.MAC, Dev: "flannel.1", State: "permanent"}) {
			t.Errorf("%s: neighbour for %s = %v, want %s permanent on flannel.1", name, gw, s.Node.Neighbors, otherVTEP.MAC)
		}
		if !slices.Equal(vx.VXLAN.FDB, []FDBEntry{{MAC: otherVTEP.MAC, Dst: netip.MustParseAddr(o.addr)}}) {
			t.Errorf("%s flannel.1 fdb %v, want %s dst %s", name, vx.VXLAN.FDB, otherVTEP.MAC, o.addr)
		}

		// flannel's own chains: masquerade leaving the pod network, and
		// forward accept for it.
		post := ipt(t, s, "nat", "FLANNEL-POSTRTG")
		if len(jumpsFrom(ipt(t, s, "nat", "POSTROUTING"), "FLANNEL-POSTRTG")) != 1 || len(post.Rules) != 6 {
			t.Errorf("%s: POSTROUTING -> FLANNEL-POSTRTG with 6 rules, got %d", name, len(post.Rules))
		} else if r := post.Rules[4]; r.Target.Kind != netfilter.TargetMasquerade || !r.Target.RandomFully ||
			match(r, netfilter.MatchSource).Prefix != netip.MustParsePrefix("10.244.0.0/16") || !match(r, netfilter.MatchDestination).Negate {
			t.Errorf("%s FLANNEL-POSTRTG rule 5 = %q %+v", name, r.Text, r.Target)
		} else if r := post.Rules[1]; r.Target.Kind != netfilter.TargetReturn || match(r, netfilter.MatchSource).Prefix != netip.MustParsePrefix(w.subnet+".0/24") {
			t.Errorf("%s FLANNEL-POSTRTG rule 2 = %q, want the node's own subnet to return", name, r.Text)
		}
		if len(jumpsFrom(ipt(t, s, "filter", "FORWARD"), "FLANNEL-FWD")) != 1 || len(ipt(t, s, "filter", "FLANNEL-FWD").Rules) != 2 {
			t.Errorf("%s: FORWARD -> FLANNEL-FWD with 2 accepts", name)
		}
	}
}

// TestKeepAttached: the node's pods stay; a fabric (a bridge, or veths to
// two nodes), another node and its pods go, and references into them are
// cleared.
func TestKeepAttached(t *testing.T) {
	veth := func(idx int, name string, peer *Netns, peerIdx int) Link {
		l := Link{Index: idx, Name: name, Kind: "veth", PeerIndex: peerIdx}
		if peer != nil {
			l.Peer = &PeerRef{Inode: peer.Inode, Index: peerIdx}
		}
		return l
	}
	node := &Netns{Inode: 1}
	other := &Netns{Inode: 2}
	fabric := &Netns{Inode: 3}
	pod := &Netns{Inode: 4, Pod: &PodRef{Name: "mine"}}
	theirs := &Netns{Inode: 5, Pod: &PodRef{Name: "theirs"}}
	lonely := &Netns{Inode: 6, Links: []Link{{Index: 1, Name: "lo", Kind: "device"}}}
	oneBridge := &Netns{Inode: 7}
	node.Links = []Link{veth(2, "eth0", fabric, 2), veth(3, "veth-mine", pod, 2), veth(4, "to-switch", oneBridge, 2)}
	other.Links = []Link{veth(2, "eth0", fabric, 3), veth(3, "veth-theirs", theirs, 2)}
	fabric.Links = []Link{{Index: 1, Name: "br0", Kind: "bridge"}, veth(2, "node1", node, 2), veth(3, "node2", other, 2)}
	pod.Links = []Link{veth(2, "eth0", node, 3)}
	theirs.Links = []Link{veth(2, "eth0", other, 3)}
	oneBridge.Links = []Link{{Index: 1, Name: "br0", Kind: "bridge"}, veth(2, "up", node, 4)}
	s := &Snapshot{Node: node, Namespaces: []*Netns{other, fabric, pod, theirs, lonely, oneBridge}}
	keepAttached(s)
	if len(s.Namespaces) != 1 || s.Namespaces[0] != pod {
		var got []uint64
		for _, n := range s.Namespaces {
			got = append(got, n.Inode)
		}
		t.Fatalf("kept %v, want only the pod (4)", got)
	}
	if node.Links[0].Peer != nil || node.Links[2].Peer != nil || node.Links[1].Peer == nil || node.Links[0].PeerIndex != 2 {
		t.Errorf("peer references: %+v", node.Links)
	}
}

func linkNamed(n *Netns, name string) *Link {
	for i := range n.Links {
		if n.Links[i].Name == name {
			return &n.Links[i]
		}
	}
	return nil
}
