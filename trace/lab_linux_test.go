package trace

import (
	"context"
	"encoding/json"
	"io"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/lab"
	"github.com/netx-project/netx/lab/labtest"
)

// labCase is one seed scenario: a trace and what it must find.
type labCase struct {
	name     string
	src, dst string
	endpoint string // a pod whose IP --endpoint picks
	proto    string
	verdict  string
	at       string   // the verdict's namespace label
	hops     []string // kinds (or kind:device) that must appear, in order
	reply    string   // the reply's verdict, when delivered
	detail   string   // a substring of the verdict detail
	branches int
	outcome  string // what the live probe's sender must see, when set
	// pod and container: who the verdict says took the packet, when set.
	pod, container string
}

// upLab builds a built-in topology (changed by edit, when given) under a
// unique name, plus a service without endpoints (a topology cannot say
// that: its selectors must match, so it is added to the resolved lab, as
// kube-proxy would see a service whose pods are gone).
func upLab(t *testing.T, file string, edit ...func(*lab.Topology)) *lab.Lab {
	t.Helper()
	return labtest.Up(t, file, "t", func(top *lab.Topology) {
		for _, e := range edit {
			e(top)
		}
	}, func(plan *lab.Lab) {
		plan.Services = append(plan.Services, &lab.LabService{Name: "svc-none", Namespace: "default", Type: "ClusterIP",
			ClusterIP: netip.MustParseAddr("10.96.0.99"), Ports: []lab.LabServicePort{{Name: "http", Port: 80, Protocol: "TCP", TargetPort: "8080"}, {Name: "dns", Port: 53, Protocol: "UDP", TargetPort: "8080"}}})
	})
}

func podIPOf(t *testing.T, plan *lab.Lab, name string) string {
	for _, p := range plan.Pods {
		if p.Name == name {
			return p.IP.String()
		}
	}
	t.Fatalf("no pod %s in the lab", name)
	return ""
}

func seedCases(ip func(string) string, cross string) []labCase {
	return []labCase{
		{name: "clusterip-same-node", src: "pod-a", dst: "svc/svc-b", endpoint: "b-1", verdict: Delivered, at: "pod default/b-1",
			hops: []string{"send", "route", "veth:eth0", "bridge:cni0", "netfilter", "route:cni0", "bridge:cni0", "deliver"}, reply: Delivered, branches: 2},
		{name: "clusterip-cross-node", src: "pod-a", dst: "svc/svc-b", endpoint: "b-2", verdict: Delivered, at: "pod default/b-2",
			hops: []string{"send", "veth:eth0", "netfilter", cross, "bridge:cni0", "deliver"}, reply: Delivered, branches: 2},
		{name: "pod-same-node", src: "pod-a", dst: "b-1:8080", verdict: Delivered, at: "pod default/b-1", hops: []string{"send", "veth", "bridge:cni0", "deliver"}, reply: Delivered},
		{name: "pod-cross-node", src: "pod-a", dst: "default/b-2:8080", verdict: Delivered, at: "pod default/b-2", hops: []string{"send", "veth", cross, "bridge:cni0", "deliver"}, reply: Delivered},
		{name: "pod-by-ip", src: ip("pod-a"), dst: ip("b-2") + ":8080", verdict: Delivered, at: "pod default/b-2", reply: Delivered},
		{name: "container-to-container", src: "mc3", dst: "localhost:5000", verdict: Delivered, at: "pod default/mc3", hops: []string{"send", "route", "deliver"}, detail: "container webapp", reply: Delivered},
		{name: "nodeport-from-internet", src: "internet", dst: "node/node2:30080", verdict: Delivered, at: "pod default/mc3", hops: []string{"arrive", "netfilter", "route", "netfilter", "bridge:cni0", "deliver"}, detail: "container nginx", reply: Delivered},
		{name: "nodeport-other-node", src: "internet", dst: "node/node1:30080", verdict: Delivered, at: "pod default/mc3", hops: []string{"arrive", "netfilter", "wire", "deliver"}, reply: Delivered},
		{name: "hostport", src: "internet", dst: "node/node2:8081", verdict: Delivered, at: "pod default/webapp-hostport", detail: "container webapp", reply: Delivered},
		{name: "hostnetwork", src: "pod-a", dst: "webapp-hostnet", verdict: Delivered, at: "node node1", reply: Delivered,
			pod: "default/webapp-hostnet", container: "webapp", detail: ":8090 in pod default/webapp-hostnet (container webapp, hostNetwork) on node1"},
		{name: "hostnetwork-pod-ref", src: "pod-a", dst: "pod/webapp-hostnet", verdict: Delivered, at: "node node1", reply: Delivered,
			pod: "default/webapp-hostnet", container: "webapp", detail: ":8090 in pod default/webapp-hostnet"},
		{name: "hostnetwork-source", src: "webapp-hostnet", dst: "b-2:8080", verdict: Delivered, at: "pod default/b-2", reply: Delivered,
			hops: []string{"send", "route", "wire", "bridge:cni0", "deliver"}, pod: "default/b-2", container: "web"},
		{name: "refused", src: "pod-a", dst: "b-1:9999", verdict: Refused, at: "pod default/b-1"},
		{name: "no-endpoints", src: "pod-a", dst: "svc/svc-none", verdict: NoEndpoints, at: "node node1"},
		{name: "icmp", src: "pod-a", dst: "b-2", proto: "icmp", verdict: Delivered, at: "pod default/b-2", reply: Delivered},
	}
}

func runLabCase(t *testing.T, w *World, plan *lab.Lab, c labCase) {
	t.Helper()
	req := Request{Src: c.src, Dst: c.dst, Protocol: c.proto}
	if c.endpoint != "" {
		for _, p := range plan.Pods {
			if p.Name == c.endpoint {
				req.Endpoint = p.IP
			}
		}
	}
	res, err := w.Trace(req)
	if err != nil {
		t.Fatalf("%s → %s: %v", c.src, c.dst, err)
	}
	text := describe(res)
	if res.Verdict.Kind != c.verdict || res.Verdict.Netns != c.at {
		t.Fatalf("%s → %s: verdict %s in %q, want %s in %q\n%s", c.src, c.dst, res.Verdict.Kind, res.Verdict.Netns, c.verdict, c.at, text)
	}
	if c.detail != "" && !strings.Contains(res.Verdict.Detail, c.detail) {
		t.Errorf("%s → %s: verdict detail %q lacks %q", c.src, c.dst, res.Verdict.Detail, c.detail)
	}
	if c.pod != "" && (res.Verdict.Pod != c.pod || res.Verdict.Container != c.container) {
		t.Errorf("%s → %s: delivered to pod %q container %q, want %s container %s\n%s", c.src, c.dst, res.Verdict.Pod, res.Verdict.Container, c.pod, c.container, text)
	}
	i := 0
	for _, h := range res.Hops {
		if i < len(c.hops) && (c.hops[i] == h.Kind || c.hops[i] == h.Kind+":"+h.Device) {
			i++
		}
	}
	if i < len(c.hops) {
		t.Errorf("%s → %s: hops lack %v (in order)\n%s", c.src, c.dst, c.hops[i:], text)
	}
	if c.branches > 0 {
		if len(res.Branches) != c.branches {
			t.Errorf("%s → %s: %d branches, want %d: %+v", c.src, c.dst, len(res.Branches), c.branches, res.Branches)
		}
		sum := 0.0
		for _, b := range res.Branches {
			sum += b.Probability
			if b.Chosen && req.Endpoint.IsValid() && b.Endpoint.Addr() != req.Endpoint {
				t.Errorf("%s → %s: followed %s, want %s", c.src, c.dst, b.Endpoint, req.Endpoint)
			}
		}
		if sum < 0.999 || sum > 1.001 {
			t.Errorf("%s → %s: branch probabilities sum to %v", c.src, c.dst, sum)
		}
	}
	if c.reply != "" && (res.Reply == nil || res.Reply.Verdict.Kind != c.reply) {
		t.Errorf("%s → %s: reply %+v, want %s\n%s", c.src, c.dst, res.Reply, c.reply, text)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("%s → %s: warnings %v", c.src, c.dst, res.Warnings)
	}
	if _, live := checkLive(t, w, req); c.outcome != "" && live.Outcome != c.outcome {
		t.Errorf("%s → %s --live: the sender saw %s, want %s", c.src, c.dst, live.Outcome, c.outcome)
	}
}

// checkLive sends the real probe and requires it to agree with the
// prediction, hop by hop.
func checkLive(t *testing.T, w *World, req Request) (*Result, *LiveReport) {
	t.Helper()
	req.SPort = uint16(20000 + mrand.IntN(30000))
	res, live, err := w.Live(context.Background(), req, LiveOptions{Pcap: io.Discard})
	if err != nil {
		t.Fatalf("%s → %s --live: %v", req.Src, req.Dst, err)
	}
	text := describe(res)
	if !live.Agrees || live.Captured == 0 || len(live.Hops) == 0 && res.Verdict.Kind != NoEndpoints {
		t.Errorf("%s → %s --live does not agree:\n%s", req.Src, req.Dst, text)
	}
	for _, x := range live.Warnings {
		t.Errorf("%s → %s --live: %s", req.Src, req.Dst, x)
	}
	// A reply is due (a SYN-ACK, an echo reply, the lab's UDP server's
	// answer): it is held to its predicted hops too, each seen.
	if res.Reply != nil {
		want := 0
		for _, h := range res.Reply.Hops {
			want += len(h.taps)
		}
		got := 0
		for _, h := range live.Hops {
			if h.Reply && h.Seen {
				got++
			}
		}
		if want == 0 || got != want {
			t.Errorf("%s → %s --live: %d of %d reply hops seen:\n%s", req.Src, req.Dst, got, want, text)
		}
	}
	return res, live
}

// TestRootTraceSeedsLab traces every seed scenario on the host-gw +
// iptables lab, then again after a DROP rule is put in node1's FORWARD
// chain, and proves tracing changed nothing.
func TestRootTraceSeedsLab(t *testing.T) {
	testenv.RequireRoot(t)
	plan := upLab(t, "seeds.yaml")
	dumpsBefore := labDumps(t, plan)

	w, err := LoadLab(plan.Name, "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range seedCases(func(n string) string { return podIPOf(t, plan, n) }, "wire") {
		t.Run(c.name, func(t *testing.T) { runLabCase(t, w, plan, c) })
	}
	if after := labDumps(t, plan); after != dumpsBefore {
		a, b := testenv.DiffLines(dumpsBefore, after)
		t.Fatalf("trace changed state:\nonly before: %v\nonly after: %v", a, b)
	}

	// Carried out by parts, node by node, as through a cluster's agents.
	checkLiveByParts(t, w, Request{Src: "pod-a", Dst: "b-2:8080"})

	// An open connection of the flow is evidence at the NAT hop: its
	// conntrack entry, with the endpoint it went to.
	checkConntrack(t, w)

	// A DROP rule in node1's FORWARD chain stops pod-a → b-2.
	node1 := plan.Nodes[0].Netns
	b2 := podIPOf(t, plan, "b-2")
	if out, err := nsenter.Output(nsenter.Net(node1), nil, "iptables", "-I", "FORWARD", "1", "-d", b2, "-p", "tcp", "-j", "DROP"); err != nil {
		t.Fatalf("iptables -I FORWARD: %v %s", err, out)
	}
	w, err = LoadLab(plan.Name, "", true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Trace(Request{Src: "pod-a", Dst: "b-2:8080"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict.Kind != Dropped || res.Verdict.Rule == nil || res.Verdict.Rule.Chain != "FORWARD" || res.Verdict.Rule.Num != 1 || res.Verdict.Node != "node1" {
		t.Fatalf("with a DROP in FORWARD: %+v", res.Verdict)
	}
	if !strings.Contains(res.Verdict.Rule.Text, "-j DROP") || !strings.Contains(res.Verdict.Rule.Text, b2) {
		t.Errorf("drop rule evidence: %q", res.Verdict.Rule.Text)
	}
	checkLive(t, w, Request{Src: "pod-a", Dst: "b-2:8080"})

	// Moved to node2's FORWARD chain and turned on the answer, the DROP
	// lets the SYN reach b-2 and stops its SYN-ACK: the request is
	// delivered, the reply dropped there, and the probe times out.
	node2 := plan.Nodes[1].Netns
	for _, c := range []struct {
		netns string
		args  []string
	}{
		{node1, []string{"-D", "FORWARD", "1"}},
		{node2, []string{"-I", "FORWARD", "1", "-s", b2, "-p", "tcp", "--sport", "8080", "-j", "DROP"}},
	} {
		if out, err := nsenter.Output(nsenter.Net(c.netns), nil, "iptables", c.args...); err != nil {
			t.Fatalf("iptables %v: %v %s", c.args, err, out)
		}
	}
	if w, err = LoadLab(plan.Name, "", true); err != nil {
		t.Fatal(err)
	}
	if res, err = w.Trace(Request{Src: "pod-a", Dst: "b-2:8080"}); err != nil {
		t.Fatal(err)
	}
	if rv := res.Reply; res.Verdict.Kind != Delivered || rv == nil || rv.Verdict.Kind != Dropped || rv.Verdict.Rule == nil || rv.Verdict.Rule.Chain != "FORWARD" || rv.Verdict.Rule.Num != 1 || rv.Verdict.Node != "node2" {
		t.Fatalf("with a DROP of b-2's answers in node2's FORWARD: %+v, reply %+v", res.Verdict, res.Reply)
	}
	checkLive(t, w, Request{Src: "pod-a", Dst: "b-2:8080"})

	// Ctrl-C during a live probe (it waits on the dropped SYN) leaves no
	// trace rules behind and changes nothing.
	beforeLive := labDumps(t, plan)
	cmd := exec.Command(testenv.NetxBinary(t), "trace", "pod-a", "b-2:8080", "--lab", plan.Name, "--live", "--timeout", "60s")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; !hasTraceTable(t, node1); i++ {
		if i == 200 {
			cmd.Process.Kill()
			t.Fatalf("the live probe never set up its trace table: %s", stderr.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	if err == nil || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("interrupted trace --live: %v, stderr %q", err, stderr.String())
	}
	for _, n := range plan.Nodes {
		if hasTraceTable(t, n.Netns) {
			t.Errorf("a netx-trace table is left in %s after Ctrl-C", n.Name)
		}
	}
	if after := labDumps(t, plan); after != beforeLive {
		a, b := testenv.DiffLines(beforeLive, after)
		t.Fatalf("an interrupted live trace changed state:\nonly before: %v\nonly after: %v", a, b)
	}
}

func hasTraceTable(t *testing.T, netns string) bool {
	out, err := nsenter.Output(nsenter.Net(netns), nil, "nft", "list", "tables")
	if err != nil {
		t.Fatalf("nft list tables: %v", err)
	}
	return strings.Contains(string(out), "netx-trace-")
}

// labDumps dumps the host and every lab node namespace, settled.
func labDumps(t *testing.T, plan *lab.Lab) string {
	t.Helper()
	var nodes []string
	for _, n := range plan.Nodes {
		nodes = append(nodes, n.Netns)
	}
	return testenv.SettledDump(t, nodes...)
}

// TestRootTraceVXLANNFTablesLab traces the seed scenarios on the lab whose
// nodes are joined by a flannel-style VXLAN overlay and whose services are
// kube-proxy's nftables layout.
func TestRootTraceVXLANNFTablesLab(t *testing.T) {
	testenv.RequireRoot(t)
	plan := upLab(t, "vxlan-nftables.yaml")
	before := labDumps(t, plan)
	w, err := LoadLab(plan.Name, "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range seedCases(func(n string) string { return podIPOf(t, plan, n) }, "encap") {
		switch c.name {
		case "container-to-container", "nodeport-from-internet", "nodeport-other-node", "hostnetwork", "hostnetwork-pod-ref", "hostnetwork-source":
			continue // this topology has no mc3 and no hostNetwork pod
		}
		t.Run(c.name, func(t *testing.T) { runLabCase(t, w, plan, c) })
	}
	if after := labDumps(t, plan); after != before {
		a, b := testenv.DiffLines(before, after)
		t.Fatalf("trace changed state:\nonly before: %v\nonly after: %v", a, b)
	}
}

// checkConntrack holds a connection from pod-a to svc-b open and requires
// the trace's NAT hop to show its conntrack entry.
func checkConntrack(t *testing.T, w *World) {
	t.Helper()
	at := labPod(t, w, "pod-a")
	conn, err := nsenter.Dial(at.NS.Path, "tcp4", "10.96.0.10:80", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res, err := w.Trace(Request{Src: "pod-a", Dst: "svc/svc-b"})
	if err != nil {
		t.Fatal(err)
	}
	w.AddConntrack(res)
	local := conn.LocalAddr().String()
	sport := local[strings.LastIndexByte(local, ':')+1:]
	for _, h := range res.Hops {
		for _, e := range h.Evidence {
			if h.Kind == HopNetfilter && strings.HasPrefix(e, "conntrack: tcp") && strings.Contains(e, "sport="+sport+" dport=80") && strings.Contains(e, "dst=10.96.0.10") {
				return
			}
		}
	}
	text := describe(res)
	t.Errorf("no conntrack entry of the open connection from %s in the trace:\n%s", local, text)
}

// TestRootTraceIPSet puts a real ipset behind a FORWARD rule on node1 of a
// lab, as Calico and many hosts do: a hash:net,port set holding the pod
// network's port 8080 with one pod excepted (nomatch). Through the set,
// pod-a → b-1 is dropped (bridged, same node) and pod-a → b-2 delivered;
// the prediction reads the set's members and the live probes agree.
func TestRootTraceIPSet(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("ipset"); err != nil {
		t.Fatal("the ipset program is needed (hack/setup.sh installs it)")
	}
	plan := upLab(t, "seeds.yaml")
	node1 := plan.Nodes[0].Netns
	b2 := podIPOf(t, plan, "b-2")
	for _, args := range [][]string{
		{"ipset", "create", "netx-deny", "hash:net,port"},
		{"ipset", "add", "netx-deny", "10.244.0.0/16,tcp:8080"},
		{"ipset", "add", "netx-deny", b2 + "/32,tcp:8080", "nomatch"},
		{"iptables", "-I", "FORWARD", "1", "-m", "set", "--match-set", "netx-deny", "dst,dst", "-j", "DROP"},
	} {
		if out, err := nsenter.Output(nsenter.Net(node1), nil, args[0], args[1:]...); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	before := labDumps(t, plan)
	w, err := LoadLab(plan.Name, "", true)
	if err != nil {
		t.Fatal(err)
	}
	var node *Node
	for _, n := range w.Nodes {
		if n.Name == "node1" {
			node = n
		}
	}
	if node == nil || len(node.Snap.Node.IPSets) != 1 || len(node.Snap.Node.IPSets[0].Members) != 2 {
		t.Fatalf("node1's ipsets not in its snapshot: %+v", node)
	}
	for _, c := range []struct {
		dst, verdict string
	}{
		{"b-1:8080", Dropped},
		{"b-2:8080", Delivered},
	} {
		res, err := w.Trace(Request{Src: "pod-a", Dst: c.dst})
		if err != nil {
			t.Fatal(err)
		}
		text := describe(res)
		if res.Verdict.Kind != c.verdict || len(res.Warnings) > 0 {
			t.Errorf("pod-a → %s through the ipset: %s, want %s\n%s", c.dst, res.Verdict.Kind, c.verdict, text)
		}
		if c.verdict == Dropped && (res.Verdict.Rule == nil || res.Verdict.Rule.Chain != "FORWARD" || res.Verdict.Rule.Num != 1 || res.Verdict.Node != "node1") {
			t.Errorf("pod-a → %s: dropped by %+v, want node1 FORWARD rule 1", c.dst, res.Verdict.Rule)
		}
		checkLive(t, w, Request{Src: "pod-a", Dst: c.dst})
	}
	if after := labDumps(t, plan); after != before {
		a, b := testenv.DiffLines(before, after)
		t.Fatalf("trace changed state:\nonly before: %v\nonly after: %v", a, b)
	}
}

// labPod finds a pod of the lab's snapshots by name.
func labPod(t *testing.T, w *World, name string) Where {
	t.Helper()
	for _, p := range w.pods() {
		if p.NS.Pod != nil && p.NS.Pod.Name == name {
			return p
		}
	}
	t.Fatalf("no %s in the lab's snapshots", name)
	return Where{}
}

// checkLiveByParts carries the live plan out as a cluster does: each
// node's part travels as JSON, runs on its own (the probe on its node),
// and the evidence, back as JSON, is merged and judged. It must agree as
// the one-machine run does, with every node's hops seen. The progress
// reports, made as the captures keep packets, grow one packet at a time
// and end with every hop the judgement saw.
func checkLiveByParts(t *testing.T, w *World, req Request) {
	t.Helper()
	req.SPort = uint16(20000 + mrand.IntN(30000))
	var progress []*LiveReport
	l, err := w.PrepareLive(req, LiveOptions{Progress: func(r *LiveReport) { progress = append(progress, r) }})
	if err != nil {
		t.Fatal(err)
	}
	type part struct {
		node string
		run  *LiveRun
	}
	var parts []part
	defer func() {
		for _, p := range parts {
			p.run.Stop()
		}
	}()
	for _, n := range l.Plan.Nodes() {
		b, err := json.Marshal(l.Plan.ForNode(n))
		if err != nil {
			t.Fatal(err)
		}
		var p LivePlan
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		run, err := StartLive(&p, l.Watch())
		if err != nil {
			t.Fatalf("node %s's part: %v", n, err)
		}
		parts = append(parts, part{n, run})
	}
	if len(parts) < 2 {
		t.Fatalf("a cross-node path in %d part(s)", len(parts))
	}
	outcome := parts[0].run.Probe(context.Background())
	Settle(context.Background())
	ev := &LiveEvidence{}
	seenOn := map[string]bool{}
	for _, p := range parts {
		b, err := json.Marshal(p.run.Stop())
		if err != nil {
			t.Fatal(err)
		}
		var e LiveEvidence
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		if len(e.Packets) > 0 {
			seenOn[p.node] = true
		}
		ev.Merge(&e)
	}
	parts = nil
	ev.Outcome = outcome
	res, live, err := l.Judge(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !live.Agrees || live.Outcome != "connected" || len(seenOn) < 2 || len(live.Rules) == 0 {
		t.Errorf("%s → %s by parts: agrees %v, outcome %q, packets from %v, %d traced rules:\n%s", req.Src, req.Dst, live.Agrees, live.Outcome, seenOn, len(live.Rules), describe(res))
	}
	for _, h := range live.Hops {
		if !h.Seen {
			t.Errorf("by parts: hop %d on %s (%s %s) not seen", h.Hop, h.Node, h.Netns, h.Device)
		}
	}
	if len(progress) != live.Captured {
		t.Errorf("by parts: %d progress reports for %d packets kept", len(progress), live.Captured)
	}
	seen := func(r *LiveReport) (n int) {
		for _, h := range r.Hops {
			if h.Seen {
				n++
			}
		}
		return n
	}
	for i, r := range progress {
		if !r.InFlight || r.Captured != i+1 || r.Outcome != "" || r.Divergence != "" {
			t.Errorf("progress report %d: in flight %v, %d packets, outcome %q, divergence %q", i+1, r.InFlight, r.Captured, r.Outcome, r.Divergence)
		}
	}
	if n := len(progress); n > 0 && (seen(progress[0]) > seen(progress[n-1]) || seen(progress[n-1]) != seen(live)) {
		t.Errorf("by parts: hops seen in progress %d first, %d last; %d judged", seen(progress[0]), seen(progress[n-1]), seen(live))
	}
}
