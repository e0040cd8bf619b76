package printers

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/trace"
)

// world builds a trace world from saved node snapshots, named as `netx
// trace --snapshot` names them.
func world(t *testing.T, files ...string) *trace.World {
	t.Helper()
	var nodes []*trace.Node
	for _, f := range files {
		s, err := inspect.ReadSnapshotFile(filepath.Join("..", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, &trace.Node{Name: s.NodeName, Snap: s})
	}
	w, err := trace.NewWorld(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func flannel(t *testing.T) *trace.World {
	return world(t, "snapshots/flannel-vxlan/node1.json", "snapshots/flannel-vxlan/node2.json")
}

func cluster(t *testing.T, mode string) *trace.World {
	return world(t, "cluster/"+mode+"/node1.snapshot.json", "cluster/"+mode+"/node2.snapshot.json")
}

// TestTraceGolden: the text and diagrams of traces over saved snapshots
// (real kube-proxy rules in both modes, a VXLAN overlay) are the golden
// files under testdata/golden/trace, what `netx trace --snapshot ...`
// prints. After a deliberate change: go test ./printers -run
// TestTraceGolden -update, and review the diff.
func TestTraceGolden(t *testing.T) {
	for _, c := range []struct {
		golden   string
		w        func(*testing.T) *trace.World
		src, dst string
		format   string
		o        TraceOptions
	}{
		{"iptables-pod-a-svc-b.txt", func(t *testing.T) *trace.World { return cluster(t, "iptables") }, "pod-a", "svc/svc-b", "text", TraceOptions{}},
		{"iptables-pod-a-svc-b-rules-color.txt", func(t *testing.T) *trace.World { return cluster(t, "iptables") }, "pod-a", "svc/svc-b", "text", TraceOptions{Color: true, Rules: true}},
		{"iptables-pod-a-svc-b.mmd", func(t *testing.T) *trace.World { return cluster(t, "iptables") }, "pod-a", "svc/svc-b", "mermaid", TraceOptions{}},
		{"iptables-pod-a-svc-b.dot", func(t *testing.T) *trace.World { return cluster(t, "iptables") }, "pod-a", "svc/svc-b", "dot", TraceOptions{}},
		{"nftables-internet-node1-30080.txt", func(t *testing.T) *trace.World { return cluster(t, "nftables") }, "internet", "node/node1:30080", "text", TraceOptions{}},
		{"nftables-pod-a-clusterip-81-color.txt", func(t *testing.T) *trace.World { return cluster(t, "nftables") }, "pod-a", "10.96.102.201:81", "text", TraceOptions{Color: true}},
		{"flannel-vxlan-client-api-8080-rules-color.txt", flannel, "client", "api:8080", "text", TraceOptions{Color: true, Rules: true}},
		{"flannel-vxlan-client-api-8080.mmd", flannel, "client", "api:8080", "mermaid", TraceOptions{}},
		{"flannel-vxlan-client-api-8080.dot", flannel, "client", "api:8080", "dot", TraceOptions{}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			res, err := c.w(t).Trace(trace.Request{Src: c.src, Dst: c.dst})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			switch c.format {
			case "mermaid":
				TraceMermaid(&b, res)
			case "dot":
				TraceDot(&b, res)
			default:
				Trace(&b, res, c.o)
			}
			golden := filepath.Join("..", "testdata", "golden", "trace", c.golden)
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (go test ./printers -run TestTraceGolden -update): %v", err)
			}
			if b.String() != string(want) {
				t.Errorf("%s differs from golden; rerun with -update and review the diff\n--- got ---\n%s", golden, b.String())
			}
		})
	}
}

// TestTraceDiagrams: mermaid and dot name every hop and the verdict.
func TestTraceDiagrams(t *testing.T) {
	res, err := flannel(t).Trace(trace.Request{Src: "client", Dst: "api:8080"})
	if err != nil {
		t.Fatal(err)
	}
	var m, d bytes.Buffer
	TraceMermaid(&m, res)
	TraceDot(&d, res)
	if !strings.HasPrefix(m.String(), "flowchart TD\n") || !strings.Contains(m.String(), "subgraph n_node2") || !strings.Contains(m.String(), "--> verdict") {
		t.Errorf("mermaid:\n%s", m.String())
	}
	if !strings.HasPrefix(d.String(), "digraph trace {") || !strings.Contains(d.String(), "cluster_node1") || !strings.HasSuffix(d.String(), "}\n") {
		t.Errorf("dot:\n%s", d.String())
	}
	for i := range res.Hops {
		id := fmt.Sprintf("h%d", i+1)
		if !strings.Contains(m.String(), id+"[") || !strings.Contains(d.String(), id+" [") {
			t.Errorf("hop %d missing from a diagram", i+1)
		}
	}
}

// TestTraceRules: by default a hop shows only the rules that decide (NAT,
// a service's chains, a policy); --rules shows every one matched.
func TestTraceRules(t *testing.T) {
	h := trace.Hop{Node: "node1", Netns: "node node1", Kind: trace.HopNetfilter, Detail: "prerouting: DNAT",
		Evidence: []string{"conntrack: new"},
		Rules: []trace.RuleHit{
			{Table: "ip nat", Chain: "PREROUTING", Num: 1, Text: "-A PREROUTING -j KUBE-SERVICES"},
			{Table: "ip nat", Chain: "KUBE-SERVICES", Num: 3, Text: "-A KUBE-SERVICES -j KUBE-SVC-X"},
			{Table: "ip nat", Chain: "KUBE-SVC-X", Num: 1, Text: "-A KUBE-SVC-X -j KUBE-SEP-A", Note: "probability 0.5 taken"},
			{Table: "ip filter", Chain: "FORWARD", Num: 2, Text: "-A FORWARD -j ACCEPT"},
		},
		Warnings: []string{"a rule netx does not model"}}
	if got, want := HopNotes(h, TraceOptions{}), []string{
		"conntrack: new",
		"ip nat KUBE-SERVICES #3: -A KUBE-SERVICES -j KUBE-SVC-X",
		"ip nat KUBE-SVC-X #1: -A KUBE-SVC-X -j KUBE-SEP-A  (probability 0.5 taken)",
		"! a rule netx does not model",
	}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("deciding rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := HopNotes(h, TraceOptions{Rules: true}); len(got) != 6 {
		t.Errorf("--rules shows %d notes, want 6: %q", len(got), got)
	}
	if got := HopNotes(h, TraceOptions{Color: true})[0]; got != "\x1b[2mconntrack: new\x1b[0m" {
		t.Errorf("coloured evidence %q", got)
	}
}
