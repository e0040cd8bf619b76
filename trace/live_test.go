package trace

import (
	"slices"
	"testing"
	"time"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/internal/capture"
)

// TestLivePlanParts: a plan cut by node gives each node its own points,
// traces and (only the sender's) probe, with the points' plan-wide
// indexes; merged evidence is in time order with the sender's outcome.
func TestLivePlanParts(t *testing.T) {
	ns := func(node, path string) LiveNetns { return LiveNetns{Node: node, Path: path, Label: path} }
	plan := &LivePlan{
		Points: []LivePoint{
			{LiveNetns: ns("node1", "/run/netns/a"), Device: "eth0", Index: 0},
			{LiveNetns: ns("node1", "/proc/1/ns/net"), Device: "veth1", Index: 1},
			{LiveNetns: ns("node2", "/proc/2/ns/net"), Device: "eth0", Index: 2},
			{LiveNetns: ns("node2", "/run/netns/b"), Device: "eth0", Index: 3},
		},
		Traces: []LiveNetns{ns("node2", "/proc/2/ns/net"), ns("node1", "/proc/1/ns/net")},
		Probe:  &LiveProbe{Node: "node2", Netns: "/run/netns/b", From: "pod b"},
	}
	if got := plan.Nodes(); !slices.Equal(got, []string{"node2", "node1"}) {
		t.Errorf("Nodes() = %v: the probe's node first, then in order", got)
	}
	one, two := plan.ForNode("node1"), plan.ForNode("node2")
	if len(one.Points) != 2 || one.Points[1].Index != 1 || len(one.Traces) != 1 || one.Probe != nil {
		t.Errorf("node1's part: %+v", one)
	}
	if len(two.Points) != 2 || two.Points[0].Index != 2 || two.Probe == nil || len(two.Traces) != 1 {
		t.Errorf("node2's part: %+v", two)
	}
	if plan.ForNode("node3").Points != nil {
		t.Errorf("a node the plan does not name has work")
	}
	t0 := time.Unix(100, 0)
	ev := &LiveEvidence{}
	ev.Merge(&LiveEvidence{Packets: []capture.Packet{{Point: 0, Time: t0}, {Point: 1, Time: t0.Add(3 * time.Millisecond)}}, Warnings: []string{"w1"}})
	ev.Merge(&LiveEvidence{Outcome: "connected", Packets: []capture.Packet{{Point: 2, Time: t0.Add(time.Millisecond)}}})
	var order []int
	for _, p := range ev.Packets {
		order = append(order, p.Point)
	}
	if !slices.Equal(order, []int{0, 2, 1}) || ev.Outcome != "connected" || len(ev.Warnings) != 1 {
		t.Errorf("merged: points %v, outcome %q, warnings %v", order, ev.Outcome, ev.Warnings)
	}
}

// TestLivePlanSamePathOnTwoNodes: nodes with PID namespaces of their own
// (kind, or any container-based node) name their network namespace by the
// same /proc path; the plan still has each node's capture points and
// traced namespaces (before, node2's were taken for node1's).
func TestLivePlanSamePathOnTwoNodes(t *testing.T) {
	var nodes []*Node
	for _, n := range []string{"node1", "node2"} {
		snap, err := inspect.ReadSnapshotFile("../testdata/cluster/iptables/" + n + ".snapshot.json")
		if err != nil {
			t.Fatal(err)
		}
		snap.Node.Path = "/proc/7/ns/net" // the kubelet's PID in each node's own PID namespace
		nodes = append(nodes, &Node{Name: n, Snap: snap})
	}
	w, err := NewWorld(nodes)
	if err != nil {
		t.Fatal(err)
	}
	l, err := w.PrepareLive(Request{Src: "default/pod-a", Dst: "svc/default/mc3"}, LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	points, traces := map[string]int{}, map[string]int{}
	for _, p := range l.Plan.Points {
		if p.Path == "/proc/7/ns/net" {
			points[p.Node]++
		}
	}
	for _, tr := range l.Plan.Traces {
		if tr.Path == "/proc/7/ns/net" {
			traces[tr.Node]++
		}
	}
	if points["node1"] == 0 || points["node2"] == 0 || traces["node1"] != 1 || traces["node2"] != 1 {
		t.Fatalf("capture points in the nodes' namespaces %v, traced %v: want both nodes", points, traces)
	}
}
