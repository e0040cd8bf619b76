package trace

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/netfilter"
)

// loadShape builds a world from every node snapshot of one fixture
// directory (testdata/snapshots/<shape>: real namespaces wired by CNIs,
// see its README).
func loadShape(t *testing.T, dir string) *World {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", dir, "*.json*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no snapshots in %s: %v", dir, err)
	}
	slices.Sort(files)
	var nodes []*Node
	for _, f := range files {
		s, err := inspect.ReadSnapshotFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := s.NodeName
		if name == "" {
			name = strings.TrimSuffix(filepath.Base(f), ".json")
		}
		nodes = append(nodes, &Node{Name: name, Snap: s})
	}
	w, err := NewWorld(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// traceCase is one table row: a trace request and the path it must take.
type traceCase struct {
	name     string
	src, dst string
	proto    string
	port     uint16
	endpoint string
	verdict  string
	at       string   // verdict namespace label
	hops     []string // kind or kind:device, in order (a subsequence)
	nat      []string // "KIND to" of every NAT step, in order
	reply    string
	detail   string
}

// describe lays a result out for a failure message: the hops with their
// evidence, rules and warnings, the verdict, the choices, the reply and a
// live report. The text `netx trace` prints is printers' (and tested
// there): trace cannot import printers.
func describe(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s → %s  %s\n", r.Src, r.Dst, r.Packet.Proto)
	hops := func(hs []Hop) {
		for i, h := range hs {
			fmt.Fprintf(&b, "%3d  %s  %s  %s %s  %s\n", i+1, h.Node, h.Netns, h.Kind, h.Device, h.Detail)
			for _, e := range h.Evidence {
				fmt.Fprintf(&b, "       %s\n", e)
			}
			for _, rh := range h.Rules {
				fmt.Fprintf(&b, "       %s %s #%d: %s  %s\n", rh.Table, rh.Chain, rh.Num, rh.Text, rh.Note)
			}
			for _, n := range h.NAT {
				fmt.Fprintf(&b, "       %s %s → %s\n", n.Kind, n.From, n.To)
			}
			for _, x := range h.Warnings {
				fmt.Fprintf(&b, "       ! %s\n", x)
			}
		}
	}
	hops(r.Hops)
	fmt.Fprintf(&b, "verdict: %s — %s\n", r.Verdict.Kind, r.Verdict.Detail)
	for _, br := range r.Branches {
		fmt.Fprintf(&b, "choice: %s %.2f chosen=%v (%s hop %d)\n", br.Dest(), br.Probability, br.Chosen, br.Node, br.Hop)
	}
	if r.Reply != nil {
		fmt.Fprintf(&b, "reply: %s — %s\n", r.Reply.Verdict.Kind, r.Reply.Verdict.Detail)
		hops(r.Reply.Hops)
	}
	for _, x := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", x)
	}
	if r.Live != nil {
		live, _ := json.MarshalIndent(r.Live, "", "  ")
		fmt.Fprintf(&b, "live: %s\n", live)
	}
	return b.String()
}

func checkTrace(t *testing.T, w *World, c traceCase) *Result {
	t.Helper()
	req := Request{Src: c.src, Dst: c.dst, Protocol: c.proto, Port: c.port}
	if c.endpoint != "" {
		req.Endpoint = mustParse(t, c.endpoint)
	}
	res, err := w.Trace(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	text := describe(res)
	if res.Verdict.Kind != c.verdict || (c.at != "" && res.Verdict.Netns != c.at) {
		t.Fatalf("%s: verdict %s in %q (%s), want %s in %q\n%s", c.name, res.Verdict.Kind, res.Verdict.Netns, res.Verdict.Detail, c.verdict, c.at, text)
	}
	if c.detail != "" && !strings.Contains(res.Verdict.Detail, c.detail) {
		t.Errorf("%s: verdict detail %q lacks %q", c.name, res.Verdict.Detail, c.detail)
	}
	i := 0
	var nats []string
	for _, h := range res.Hops {
		if i < len(c.hops) && (c.hops[i] == h.Kind || c.hops[i] == h.Kind+":"+h.Device) {
			i++
		}
		for _, n := range h.NAT {
			nats = append(nats, n.Kind+" "+n.To)
		}
	}
	if i < len(c.hops) {
		t.Errorf("%s: hops lack %v (in order)\n%s", c.name, c.hops[i:], text)
	}
	if c.nat != nil && !slices.Equal(nats, c.nat) {
		t.Errorf("%s: NAT %q, want %q\n%s", c.name, nats, c.nat, text)
	}
	if c.reply != "" && (res.Reply == nil || res.Reply.Verdict.Kind != c.reply) {
		t.Errorf("%s: reply %+v, want %s\n%s", c.name, res.Reply, c.reply, text)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("%s: warnings %v", c.name, res.Warnings)
	}
	return res
}

func TestTraceCNIShapes(t *testing.T) {
	for _, tc := range []struct {
		shape string
		cases []traceCase
	}{
		{"snapshots/cni-bridge", []traceCase{
			{name: "pod to pod on the bridge", src: "client", dst: "web:80", verdict: Delivered, at: "pod default/web",
				hops: []string{"send", "veth:eth0", "bridge:cni0", "deliver"}, nat: []string{}, reply: Delivered},
			{name: "udp to coredns", src: "client", dst: "kube-system/coredns:53", proto: "udp", verdict: Delivered, at: "pod kube-system/coredns", reply: Delivered},
			{name: "hostPort from the internet (portmap DNAT)", src: "internet", dst: "node/node1:8080", verdict: Delivered, at: "pod default/web",
				hops: []string{"arrive:eth0", "netfilter", "route:cni0", "bridge:cni0", "deliver"}, nat: []string{"DNAT 10.244.1.2:80"}, reply: Delivered},
			{name: "pod to the internet is masqueraded (bridge plugin ipMasq)", src: "client", dst: "203.0.113.50:443", verdict: Left,
				hops: []string{"send", "bridge:cni0", "route:eth0", "netfilter", "wire:eth0"}, nat: []string{"MASQUERADE 192.168.77.11:40000"}},
			{name: "nothing listens", src: "client", dst: "web:81", verdict: Refused, at: "pod default/web"},
			{name: "ping a pod", src: "client", dst: "web", proto: "icmp", verdict: Delivered, at: "pod default/web", reply: Delivered},
		}},
		{"snapshots/ptp", []traceCase{
			{name: "pod to pod through host routes", src: "client", dst: "web:80", verdict: Delivered, at: "pod default/web",
				hops: []string{"send", "veth:eth0", "route", "veth", "deliver"}, reply: Delivered},
			{name: "to the other node's pods (host-gw)", src: "client", dst: "10.244.2.7:80", verdict: Left,
				hops: []string{"send", "veth:eth0", "route:eth0", "wire:eth0"}},
		}},
		{"snapshots/calico", []traceCase{
			{name: "same node through /32 routes and proxy_arp", src: "client", dst: "web:80", verdict: Delivered, at: "pod default/web",
				hops: []string{"send", "route:eth0", "veth:eth0", "route", "veth", "deliver"}, reply: Delivered},
			{name: "across nodes", src: "web", dst: "api:8080", verdict: Delivered, at: "pod default/api",
				hops: []string{"send", "veth:eth0", "route:eth0", "wire:eth0", "route", "veth", "deliver"}, reply: Delivered},
			{name: "an address of the node's own block nobody has", src: "client", dst: "10.244.1.100:80", verdict: NoRoute, at: "node node1", detail: "blackhole"},
		}},
		{"snapshots/flannel-vxlan", []traceCase{
			{name: "across nodes over VXLAN", src: "client", dst: "api:8080", verdict: Delivered, at: "pod default/api",
				hops: []string{"send", "bridge:cni0", "route:flannel.1", "encap:flannel.1", "wire:eth0", "decap:flannel.1", "route:cni0", "bridge:cni0", "deliver"}, reply: Delivered},
			{name: "the reply comes back the same way", src: "api", dst: "web:80", verdict: Delivered, at: "pod default/web",
				hops: []string{"encap", "decap", "deliver"}, reply: Delivered},
		}},
	} {
		t.Run(tc.shape, func(t *testing.T) {
			w := loadShape(t, tc.shape)
			for _, c := range tc.cases {
				t.Run(c.name, func(t *testing.T) { checkTrace(t, w, c) })
			}
		})
	}
}

// TestTraceVXLANLookup: encapsulation finds the remote VTEP through the
// neighbour entry and the FDB whatever case each writes the MAC in, and
// stops at whichever is missing.
func TestTraceVXLANLookup(t *testing.T) {
	vxlan := func(w *World) *inspect.VXLAN {
		for i := range w.Nodes[0].Snap.Node.Links {
			if v := w.Nodes[0].Snap.Node.Links[i].VXLAN; v != nil {
				return v
			}
		}
		t.Fatal("no vxlan device on node1")
		return nil
	}
	w := loadShape(t, "snapshots/flannel-vxlan")
	for i := range w.Nodes[0].Snap.Node.Neighbors {
		nb := &w.Nodes[0].Snap.Node.Neighbors[i]
		nb.MAC = strings.ToUpper(nb.MAC)
	}
	checkTrace(t, w, traceCase{name: "neighbour MAC in upper case", src: "client", dst: "api:8080", verdict: Delivered, at: "pod default/api",
		hops: []string{"encap:flannel.1", "decap:flannel.1", "deliver"}, reply: Delivered})

	w = loadShape(t, "snapshots/flannel-vxlan")
	vxlan(w).FDB[0].MAC = strings.ToUpper(vxlan(w).FDB[0].MAC)
	checkTrace(t, w, traceCase{name: "FDB MAC in upper case", src: "client", dst: "api:8080", verdict: Delivered, at: "pod default/api",
		hops: []string{"encap:flannel.1", "decap:flannel.1", "deliver"}, reply: Delivered})

	w = loadShape(t, "snapshots/flannel-vxlan")
	vxlan(w).FDB = nil
	checkTrace(t, w, traceCase{name: "no FDB entry", src: "client", dst: "api:8080", verdict: NoNeighbor, at: "node node1",
		detail: "no FDB entry on flannel.1 for 02:fa:0a:f4:02:00 (the MAC of 10.244.2.0): the remote VTEP is unknown"})

	w = loadShape(t, "snapshots/flannel-vxlan")
	w.Nodes[0].Snap.Node.Neighbors = nil
	checkTrace(t, w, traceCase{name: "no neighbour entry", src: "client", dst: "api:8080", verdict: NoNeighbor, at: "node node1",
		detail: "no neighbour entry for 10.244.2.0 on flannel.1"})
}

// TestTraceJSONSchema: the stable top-level fields, and a result decodes
// back to what was encoded.
func TestTraceJSONSchema(t *testing.T) {
	w := loadShape(t, "snapshots/flannel-vxlan")
	res, err := w.Trace(Request{Src: "client", Dst: "api:8080"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "verdict", "hops", "src", "dst", "packet", "reply"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("result JSON lacks %q", k)
		}
	}
	hop := generic["hops"].([]any)[0].(map[string]any)
	for _, k := range []string{"node", "netns", "kind", "detail", "packet"} {
		if _, ok := hop[k]; !ok {
			t.Errorf("hop JSON lacks %q: %v", k, hop)
		}
	}
	pkt := hop["packet"].(map[string]any)
	for _, k := range []string{"src", "dst", "sport", "dport", "proto"} {
		if _, ok := pkt[k]; !ok {
			t.Errorf("hop packet lacks %q: %v", k, pkt)
		}
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || back.Verdict != res.Verdict || len(back.Hops) != len(res.Hops) {
		t.Errorf("round trip: %v %+v", err, back.Verdict)
	}
}

// TestTraceBadInput: each bad reference is one error naming it and the fix.
func TestTraceBadInput(t *testing.T) {
	w := loadShape(t, "snapshots/cni-bridge")
	for _, c := range []struct{ src, dst, proto, want string }{
		{"nosuch", "web:80", "", `source pod "nosuch" not found`},
		{"client", "nosuch:80", "", `"nosuch" is neither a pod nor a service`},
		{"client", "svc/nosuch", "", `service "nosuch" not found`},
		{"client", "web:99999", "", "must be a number from 1 to 65535"},
		{"client", "203.0.113.9", "", "has no port"},
		{"client", "web:80", "gre", "use tcp, udp, icmp or sctp"},
		{"svc/x", "web:80", "", "a service cannot send"},
		{"internet", "localhost:80", "", "an internet source has none"},
		{"client", "node/node9:80", "", `node "node9" is not traced`},
	} {
		_, err := w.Trace(Request{Src: c.src, Dst: c.dst, Protocol: c.proto})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || !IsBadRequest(err) {
			t.Errorf("%s → %s: %v, want one line with %q", c.src, c.dst, err, c.want)
		}
	}
}

// TestTraceBadEndpoint: --endpoint must be one the rules can send the
// packet to (real kube-proxy rules, both modes).
func TestTraceBadEndpoint(t *testing.T) {
	for _, mode := range []string{"iptables", "nftables"} {
		w, bOn := loadCluster(t, mode)
		for _, c := range []struct{ dst, endpoint, want string }{
			{"svc/svc-b", "192.0.2.7", "--endpoint 192.0.2.7 is not among the endpoints the rules offer here ("},
			{bOn["node2"] + ":8080", "192.0.2.7", "has no service endpoint to choose (no DNAT on the way); drop --endpoint"},
		} {
			_, err := w.Trace(Request{Src: "pod-a", Dst: c.dst, Endpoint: netip.MustParseAddr(c.endpoint)})
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || !IsBadRequest(err) {
				t.Errorf("%s: pod-a → %s --endpoint %s: %v, want one line with %q", mode, c.dst, c.endpoint, err, c.want)
			}
		}
	}
}

// TestCheckEndpoint: --endpoint is held to the choices the walk reached;
// a walk that stopped before any (a drop ahead of the NAT) keeps its
// verdict instead of turning into a complaint about --endpoint.
func TestCheckEndpoint(t *testing.T) {
	ep := netip.MustParseAddr("10.244.2.2")
	dnat := []Hop{{NAT: []NATStep{{Kind: "DNAT", From: "10.96.0.10:80", To: "10.244.2.2:8080"}}}}
	for _, c := range []struct {
		name string
		res  Result
		ok   bool
	}{
		{"dropped before any choice", Result{Verdict: Verdict{Kind: Dropped}}, true},
		{"unknown before any choice", Result{Verdict: Verdict{Kind: Unknown}}, true},
		{"delivered without a DNAT", Result{Verdict: Verdict{Kind: Delivered}}, false},
		{"the DNAT's endpoint", Result{Verdict: Verdict{Kind: Delivered}, Hops: dnat}, true},
		{"a branch's endpoint", Result{Verdict: Verdict{Kind: Dropped}, Branches: []Branch{{Endpoint: netip.MustParseAddrPort("10.244.1.3:8080")}, {Endpoint: netip.MustParseAddrPort("10.244.2.2:8080")}}}, true},
		{"not among the branches", Result{Verdict: Verdict{Kind: Dropped}, Branches: []Branch{{Endpoint: netip.MustParseAddrPort("10.244.1.3:8080")}}}, false},
	} {
		if err := checkEndpoint(ep, &c.res); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func mustParse(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// loadCluster loads the e2e cluster's real node snapshots of one proxy
// mode (make testdata-cluster), with the b replicas' names from them.
// Edits, when given, change a node's snapshot before the world is built.
func loadCluster(t *testing.T, mode string, edit ...func(node string, s *inspect.Snapshot)) (w *World, bOn map[string]string) {
	t.Helper()
	var nodes []*Node
	bOn = map[string]string{}
	for _, n := range []string{"node1", "node2"} {
		f := filepath.Join("..", "testdata", "cluster", mode, n+".snapshot.json")
		s, err := inspect.ReadSnapshotFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range edit {
			e(n, s)
		}
		for _, ns := range s.Namespaces {
			if ns.Pod != nil && strings.HasPrefix(ns.Pod.Name, "b-") {
				bOn[n] = ns.Pod.Name
			}
		}
		nodes = append(nodes, &Node{Name: n, Snap: s})
	}
	w, err := NewWorld(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if bOn["node1"] == "" || bOn["node2"] == "" {
		t.Fatalf("the snapshots lack a b replica on each node: %v", bOn)
	}
	return w, bOn
}

// TestTraceRealCluster traces the seed scenarios over the e2e cluster's
// snapshots: real kube-proxy rules, the reference bridge plugin, real
// pods found through the CRI. Kube-proxy's own packet-flow tests, on the
// real thing.
func TestTraceRealCluster(t *testing.T) {
	for _, mode := range []string{"iptables", "nftables"} {
		t.Run(mode, func(t *testing.T) {
			w, bOn := loadCluster(t, mode)
			ipOf := func(pod string) string {
				at, _, ok, err := w.findPod(pod)
				if err != nil || !ok {
					t.Fatalf("pod %s: %v", pod, err)
				}
				return podIP(at.NS).String()
			}
			for _, c := range []traceCase{
				{name: "ClusterIP, endpoint on the same node", src: "pod-a", dst: "svc/svc-b", endpoint: ipOf(bOn["node1"]), verdict: Delivered, at: "pod default/" + bOn["node1"],
					hops: []string{"send", "veth:eth0", "bridge:cni0", "netfilter", "route:cni0", "bridge:cni0", "deliver"}, nat: []string{"DNAT " + ipOf(bOn["node1"]) + ":8080"}, reply: Delivered},
				{name: "ClusterIP, endpoint on the other node", src: "pod-a", dst: "svc/svc-b", endpoint: ipOf(bOn["node2"]), verdict: Delivered, at: "pod default/" + bOn["node2"],
					hops: []string{"send", "netfilter", "route:eth0", "wire:eth0", "route:cni0", "deliver"}, nat: []string{"DNAT " + ipOf(bOn["node2"]) + ":8080"}, reply: Delivered},
				{name: "pod to pod across nodes, no SNAT", src: "pod-a", dst: bOn["node2"] + ":8080", verdict: Delivered, at: "pod default/" + bOn["node2"], nat: []string{}, reply: Delivered},
				{name: "container to container", src: "mc3", dst: "localhost:5000", verdict: Delivered, at: "pod default/mc3", reply: Delivered},
				{name: "NodePort on the node without the pod", src: "internet", dst: "node/node1:30080", verdict: Delivered, at: "pod default/mc3",
					hops: []string{"arrive", "netfilter", "wire", "deliver"}, nat: []string{"DNAT " + ipOf("mc3") + ":80", "MASQUERADE 192.168.77.11:40000"}, reply: Delivered},
				{name: "hostPort (portmap)", src: "internet", dst: "node/node2:8081", verdict: Delivered, at: "pod default/webapp-hostport", reply: Delivered},
				{name: "hostNetwork pod", src: "pod-a", dst: "webapp-hostnet:8090", verdict: Delivered, at: "node node1", reply: Delivered},
				{name: "from a hostNetwork pod", src: "webapp-hostnet", dst: "svc/svc-b", endpoint: ipOf(bOn["node2"]), verdict: Delivered, at: "pod default/" + bOn["node2"],
					hops: []string{"send", "netfilter", "wire:eth0", "deliver"}, reply: Delivered},
				{name: "a ClusterIP port nobody serves", src: "pod-a", dst: "10.96.57.38:81", verdict: Rejected, at: "node node1", detail: "cluster-ips-check"},
			} {
				if c.name == "a ClusterIP port nobody serves" && mode == "iptables" {
					// kube-proxy's nftables mode rejects traffic to a
					// ClusterIP's unknown ports (cluster-ips-check); its
					// iptables mode has no such rule: the packet is routed
					// on, out of the node.
					c.verdict, c.at, c.detail = Left, "node node1", ""
				}
				t.Run(c.name, func(t *testing.T) { checkTrace(t, w, c) })
			}
		})
	}
}

// TestTraceNodeSettings: the node's own settings decide too — forwarding
// off, strict reverse path filtering — on a real fixture with one sysctl
// changed.
func TestTraceNodeSettings(t *testing.T) {
	t.Run("ip_forward=0", func(t *testing.T) {
		w := loadShape(t, "snapshots/cni-bridge")
		w.Nodes[0].Snap.Node.Sysctls["net.ipv4.ip_forward"] = "0"
		checkTrace(t, w, traceCase{name: "pod to the internet", src: "client", dst: "203.0.113.50:443", verdict: ForwardingDisabled, at: "node node1", detail: "ip_forward is 0"})
		// Delivery on the node's own bridge needs no forwarding.
		checkTrace(t, w, traceCase{name: "pod to pod", src: "client", dst: "web:80", verdict: Delivered, at: "pod default/web", reply: Delivered})
	})
	t.Run("rp_filter=1", func(t *testing.T) {
		w := loadShape(t, "snapshots/cni-bridge")
		w.Nodes[0].Snap.Node.Sysctls["net.ipv4.conf.all.rp_filter"] = "1"
		// A packet from a pod address arriving on the uplink: the way back
		// to its source is cni0, not eth0.
		w.External = netip.MustParseAddr("10.244.1.77")
		checkTrace(t, w, traceCase{name: "spoofed source on the uplink", src: "internet", dst: "node/node1:8080", verdict: RPFilter, at: "node node1", detail: "route back leaves by cni0"})
		// A real outside source passes.
		w.External = netip.MustParseAddr("203.0.113.10")
		checkTrace(t, w, traceCase{name: "outside source", src: "internet", dst: "node/node1:8080", verdict: Delivered, at: "pod default/web", reply: Delivered})
	})
}

// TestTraceHostNetworkPod: a hostNetwork pod (webapp-hostnet, serving
// :8090 on node1 of the e2e cluster) is a pod to trace: its default port
// is one its own process listens on, or else one its container declares,
// never the node's other sockets (a lower port here: sshd on 22, kubelet
// on 10250); a verdict names it with its container; a port of another
// process is delivered there with a warning; and it can send.
func TestTraceHostNetworkPod(t *testing.T) {
	const sshd = 1 << 30
	// own gives the pod its process (the one listening on :8090) and
	// declared port, as inspect reads them; with the PID unknown, only
	// the declaration; with nothing, neither.
	own := func(pids, ports bool) func(string, *inspect.Snapshot) {
		return func(node string, s *inspect.Snapshot) {
			if node != "node1" {
				return
			}
			s.Node.Listeners = append([]inspect.Listener{{Proto: "tcp", Addr: "0.0.0.0", Port: 22, PID: sshd, Comm: "sshd"}}, s.Node.Listeners...)
			c := inspect.Container{Name: "webapp"}
			for i, l := range s.Node.Listeners {
				if l.Port == 8090 {
					if pids {
						c.PIDs = []int{l.PID}
					} else {
						s.Node.Listeners[i].PID, s.Node.Listeners[i].Comm, s.Node.Listeners[i].Container = 0, "", ""
					}
				}
			}
			if ports {
				c.Ports = []inspect.ContainerPort{{Port: 8090, Protocol: "tcp"}}
			}
			hp := &s.HostNetworkPods[0]
			hp.PausePID, hp.Containers = 0, nil
			if pids || ports {
				hp.Containers = []inspect.Container{c}
			}
		}
	}
	for _, mode := range []string{"iptables", "nftables"} {
		t.Run(mode, func(t *testing.T) {
			w, _ := loadCluster(t, mode, own(true, false))
			for _, dst := range []string{"webapp-hostnet", "pod/webapp-hostnet", "default/webapp-hostnet"} {
				res := checkTrace(t, w, traceCase{name: "pod-a → " + dst, src: "pod-a", dst: dst, verdict: Delivered, at: "node node1", reply: Delivered,
					detail: "192.168.77.11:8090 in pod default/webapp-hostnet (container webapp, hostNetwork) on node1: kubectl-netx (pid "})
				if v := res.Verdict; v.Pod != "default/webapp-hostnet" || v.Container != "webapp" || !v.HostNetwork || res.Packet.DPort != 8090 || !res.Dst.HostNetwork || res.Dst.String() != "pod default/webapp-hostnet (192.168.77.11:8090, on node1, hostNetwork)" {
					t.Errorf("pod-a → %s: %+v to %d, dst %s", dst, v, res.Packet.DPort, res.Dst)
				}
			}

			// Another process's port: delivered there, and said so.
			res, err := w.Trace(Request{Src: "pod-a", Dst: "webapp-hostnet:22"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict.Kind != Delivered || res.Verdict.Pod != "" || len(res.Warnings) != 1 ||
				res.Warnings[0] != fmt.Sprintf("port 22/tcp on node1 is sshd (pid %d)'s, not pod default/webapp-hostnet's: a hostNetwork pod shares its node's ports", sshd) {
				t.Errorf("pod-a → webapp-hostnet:22: %+v, warnings %q", res.Verdict, res.Warnings)
			}

			// From the pod: its node's namespace, named as the pod.
			res = checkTrace(t, w, traceCase{name: "webapp-hostnet → pod-a", src: "webapp-hostnet", dst: "pod-a", verdict: Delivered, at: "pod default/pod-a", reply: Delivered,
				hops: []string{"send", "route:cni0", "netfilter", "bridge:cni0", "deliver"}})
			if !res.Src.HostNetwork || res.Src.Name != "default/webapp-hostnet" || !strings.HasPrefix(res.Hops[0].Detail, "a socket in pod default/webapp-hostnet (hostNetwork, on node1) sends ") || res.Verdict.Pod != "default/pod-a" {
				t.Errorf("from webapp-hostnet: src %+v, first hop %q, verdict %+v", res.Src, res.Hops[0].Detail, res.Verdict)
			}

			// The socket's owner unknown: the declared port, and the
			// declaration named.
			w, _ = loadCluster(t, mode, own(false, true))
			res = checkTrace(t, w, traceCase{name: "declared port", src: "pod-a", dst: "webapp-hostnet", verdict: Delivered, at: "node node1", reply: Delivered,
				detail: "192.168.77.11:8090 in pod default/webapp-hostnet (container webapp, hostNetwork) on node1: a socket of port 8090/tcp, which container webapp declares"})
			if res.Verdict.Pod != "default/webapp-hostnet" || res.Verdict.Container != "webapp" {
				t.Errorf("declared port: %+v", res.Verdict)
			}

			// Neither: no port is guessed.
			w, _ = loadCluster(t, mode, own(false, false))
			_, err = w.Trace(Request{Src: "pod-a", Dst: "webapp-hostnet"})
			if err == nil || !IsBadRequest(err) || err.Error() != "destination pod default/webapp-hostnet is hostNetwork and has no tcp port of its own (its containers declare none and none of its processes listens); add --port N or write webapp-hostnet:PORT" {
				t.Errorf("a hostNetwork pod with no port of its own: %v", err)
			}
		})
	}
}

// TestTraceMissingPodNamesTheEnd: a pod that is not there is named as the
// end it was given for, with the pods found, hostNetwork ones included.
func TestTraceMissingPodNamesTheEnd(t *testing.T) {
	w, bOn := loadCluster(t, "iptables")
	bs := []string{"default/" + bOn["node1"], "default/" + bOn["node2"]}
	slices.Sort(bs)
	pods := "; pods: " + strings.Join(bs, ", ") + ", default/mc3, default/pod-a, default/webapp-hostnet (hostNetwork), default/webapp-hostport"
	for _, c := range []struct{ src, dst, want string }{
		{"pod-a", "no-such-pod", `destination "no-such-pod" is neither a pod nor a service on the traced nodes` + pods},
		{"no-such-pod", "webapp-hostnet:8090", `source pod "no-such-pod" not found on the traced nodes (node1, node2)` + pods},
		{"no-such-pod", "pod-a", `source pod "no-such-pod" not found on the traced nodes (node1, node2)` + pods},
	} {
		// The list goes on with the pods of other tests the cluster ran.
		_, err := w.Trace(Request{Src: c.src, Dst: c.dst})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s → %s: %v\nwant %s…", c.src, c.dst, err, c.want)
		}
	}
	empty, err := NewWorld([]*Node{{Name: "node1", Snap: &inspect.Snapshot{Node: &inspect.Netns{Inode: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Trace(Request{Src: "pod-a", Dst: "webapp-hostnet"}); err == nil || !strings.Contains(err.Error(), "pods: none found (pods are named by the container runtime or a netx lab: give --cri-endpoint") {
		t.Errorf("no pods at all: %v", err)
	}
}

// TestTraceUnreadChain: a chain a lazy read left unread is read when the
// walk reaches it (Node.ReadChain), giving the full read's trace; with no
// way to read it, the trace says which chain it could not see.
func TestTraceUnreadChain(t *testing.T) {
	req := Request{Src: "pod-a", Dst: "svc/svc-b"}
	full, _ := loadCluster(t, "iptables")
	want, err := full.Trace(req)
	if err != nil {
		t.Fatal(err)
	}
	var svcChain string
	var saved []*netfilter.Rule
	unread := func(node string, s *inspect.Snapshot) {
		if node != "node1" {
			return
		}
		for _, rs := range s.Node.Netfilter {
			nat := rs.Table(netfilter.FamilyIP, "nat")
			if nat == nil || nat.Chain("KUBE-SERVICES") == nil {
				continue
			}
			for _, r := range nat.Chain("KUBE-SERVICES").Rules {
				if strings.HasPrefix(r.Comment, "default/svc-b") && strings.HasSuffix(r.Comment, "cluster IP") {
					svcChain = r.Target.Chain
				}
			}
			c := nat.Chain(svcChain)
			saved, c.Rules, c.Lazy = c.Rules, nil, true
		}
	}
	for _, read := range []bool{true, false} {
		w, _ := loadCluster(t, "iptables", unread)
		if svcChain == "" || len(saved) == 0 {
			t.Fatal("no chain of svc-b in node1's KUBE-SERVICES")
		}
		reads := 0
		if read {
			w.Nodes[0].ReadChain = func(_ *inspect.Netns, _ *netfilter.Ruleset, _ *netfilter.Table, c *netfilter.Chain) error {
				reads++
				c.Rules, c.Lazy = saved, false
				return nil
			}
		}
		got, err := w.Trace(req)
		if err != nil {
			t.Fatal(err)
		}
		g, f := describe(got), describe(want)
		if read && (g != f || reads != 1) {
			t.Errorf("read when reached (%d reads): %s\nwant the full read's %s", reads, g, f)
		}
		b, _ := json.Marshal(got)
		if !read && (g == f || !strings.Contains(string(b), "chain "+svcChain+" of table ip nat was not read")) {
			t.Errorf("unreadable chain %s not named: %s", svcChain, b)
		}
	}
}
