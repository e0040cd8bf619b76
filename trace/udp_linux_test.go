package trace

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/lab"
)

// udpSeeds makes the seeds' b pods answer UDP too (serveUDP) and puts a
// UDP service in front of them, a NodePort so an outside client reaches
// it as well.
func udpSeeds(top *lab.Topology) {
	for i, p := range top.Pods {
		if p.Labels["app"] == "b" {
			for j := range p.Containers {
				top.Pods[i].Containers[j].ServeUDP = true
			}
		}
	}
	top.Services = append(top.Services, lab.Service{Name: "svc-b-udp", Type: "NodePort", Selector: map[string]string{"app": "b"},
		Ports: []lab.ServicePort{{Name: "dns", Port: 53, Protocol: "UDP", TargetPort: "8080", NodePort: 30053}}})
}

// udpCases are the UDP scenarios of a lab changed by udpSeeds; cross is
// the hop kind that takes a packet to the other node (wire, or encap on
// an overlay).
func udpCases(cross string) []labCase {
	return []labCase{
		{name: "clusterip-same-node", src: "pod-a", dst: "svc/svc-b-udp", endpoint: "b-1", proto: "udp", verdict: Delivered, at: "pod default/b-1",
			hops: []string{"send", "route", "veth:eth0", "bridge:cni0", "netfilter", "route:cni0", "bridge:cni0", "deliver"}, reply: Delivered, branches: 2, outcome: "answered"},
		{name: "clusterip-cross-node", src: "pod-a", dst: "svc/svc-b-udp", endpoint: "b-2", proto: "udp", verdict: Delivered, at: "pod default/b-2",
			hops: []string{"send", "veth:eth0", "netfilter", cross, "bridge:cni0", "deliver"}, reply: Delivered, branches: 2, outcome: "answered"},
		{name: "pod-cross-node", src: "pod-a", dst: "b-2:8080", proto: "udp", verdict: Delivered, at: "pod default/b-2",
			hops: []string{"send", "veth", cross, "bridge:cni0", "deliver"}, reply: Delivered, outcome: "answered"},
		{name: "nodeport-from-internet", src: "internet", dst: "node/node1:30053", endpoint: "b-2", proto: "udp", verdict: Delivered, at: "pod default/b-2",
			hops: []string{"arrive", "netfilter", cross, "deliver"}, reply: Delivered, branches: 2, outcome: "answered"},
		{name: "refused", src: "pod-a", dst: "b-1:9999", proto: "udp", verdict: Refused, at: "pod default/b-1", detail: "ICMP port unreachable", outcome: "refused"},
		{name: "no-endpoints", src: "pod-a", dst: "svc/svc-none", proto: "udp", verdict: NoEndpoints, at: "node node1", outcome: "refused"},
	}
}

// TestRootTraceUDP traces UDP on the seeds lab whose b pods answer UDP:
// through the service (DNAT, un-DNAT of the answer), to a pod, from the
// Internet through a NodePort (DNAT and masquerade), to a port where
// nothing listens and to a service without endpoints. Every live probe
// agrees with the prediction, an answered one with the reply's hops too.
// Then the server's answers are dropped in node2's FORWARD chain: the
// request is delivered, the reply dropped, and the prediction and the
// probe both say timeout. A program that never answers is no fault of
// the path: its silence is accepted, and the reply left unjudged. Tracing
// changes nothing.
func TestRootTraceUDP(t *testing.T) {
	testenv.RequireRoot(t)
	plan := upLab(t, "seeds.yaml", udpSeeds)
	before := labDumps(t, plan)
	w, err := LoadLab(plan.Name, "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range udpCases("wire") {
		t.Run(c.name, func(t *testing.T) { runLabCase(t, w, plan, c) })
	}
	if after := labDumps(t, plan); after != before {
		a, b := testenv.DiffLines(before, after)
		t.Fatalf("trace changed state:\nonly before: %v\nonly after: %v", a, b)
	}

	// b-2's answers dropped in node2's FORWARD: delivered, reply dropped
	// there, timeout; the answer is seen leaving b-2 up to the drop.
	node2 := plan.Nodes[1].Netns
	b2 := podIPOf(t, plan, "b-2")
	if out, err := nsenter.Output(nsenter.Net(node2), nil, "iptables", "-I", "FORWARD", "1", "-s", b2, "-p", "udp", "--sport", "8080", "-j", "DROP"); err != nil {
		t.Fatalf("iptables -I FORWARD: %v %s", err, out)
	}
	if w, err = LoadLab(plan.Name, "", true); err != nil {
		t.Fatal(err)
	}
	req := Request{Src: "pod-a", Dst: "b-2:8080", Protocol: "udp"}
	res, err := w.Trace(req)
	if err != nil {
		t.Fatal(err)
	}
	if rv := res.Reply; res.Verdict.Kind != Delivered || rv == nil || rv.Verdict.Kind != Dropped || rv.Verdict.Rule == nil || rv.Verdict.Rule.Chain != "FORWARD" || rv.Verdict.Rule.Num != 1 || rv.Verdict.Node != "node2" {
		t.Fatalf("with a DROP of b-2's UDP answers in node2's FORWARD: %+v, reply %+v", res.Verdict, res.Reply)
	}
	if want := expectedOutcome(res); len(want) != 1 || want[0] != "timeout" {
		t.Errorf("a dropped UDP answer: predicted %v, want timeout", want)
	}
	if _, live := checkLive(t, w, req); live.Outcome != "timeout" {
		t.Errorf("a dropped UDP answer: the sender saw %s, want timeout", live.Outcome)
	}

	// A program that listens but never answers (a socket of this test's,
	// in b-1): delivered, and its silence is accepted with a warning, the
	// reply unjudged.
	b1 := labPod(t, w, "b-1")
	var mute net.PacketConn
	if err := nsenter.Do(nsenter.Net(b1.NS.Path), func() error {
		var err error
		mute, err = net.ListenPacket("udp4", ":7777")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	if w, err = LoadLab(plan.Name, "", true); err != nil {
		t.Fatal(err)
	}
	req = Request{Src: "pod-a", Dst: "b-1:7777", Protocol: "udp", SPort: 41777}
	res, live, err := w.Live(t.Context(), req, LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	text := describe(res)
	if res.Verdict.Kind != Delivered || live.Outcome != "timeout" || !live.Agrees {
		t.Errorf("a silent UDP program: %s, the sender saw %s, agrees %v; want delivered, timeout, agrees\n%s", res.Verdict.Kind, live.Outcome, live.Agrees, text)
	}
	if len(live.Warnings) != 1 || !strings.Contains(live.Warnings[0], "the reply's path is not proven") {
		t.Errorf("a silent UDP program: warnings %q, want one saying the reply is not proven\n%s", live.Warnings, text)
	}
	for _, h := range live.Hops {
		if h.Reply {
			t.Errorf("a silent UDP program: reply hop %d judged\n%s", h.Hop, text)
			break
		}
	}
	buf := make([]byte, 100)
	mute.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, _, err := mute.ReadFrom(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "netx trace probe") {
		t.Errorf("the silent program got %q, %v: want the probe", buf[:n], err)
	}
}

// TestRootTraceUDPVXLANNFTables traces the UDP scenarios on the lab whose
// nodes are joined by VXLAN and whose services are kube-proxy's nftables
// layout.
func TestRootTraceUDPVXLANNFTables(t *testing.T) {
	testenv.RequireRoot(t)
	plan := upLab(t, "vxlan-nftables.yaml", udpSeeds)
	before := labDumps(t, plan)
	w, err := LoadLab(plan.Name, "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range udpCases("encap") {
		t.Run(c.name, func(t *testing.T) { runLabCase(t, w, plan, c) })
	}
	if after := labDumps(t, plan); after != before {
		a, b := testenv.DiffLines(before, after)
		t.Fatalf("trace changed state:\nonly before: %v\nonly after: %v", a, b)
	}
}
