package tui

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/netx-project/netx/trace"
)

// The e2e cluster's two nodes in iptables mode, as netx snapshot saved
// them (make testdata-cluster): real pods, services and kube-proxy rules.
var clusterSnapshots = []string{
	"../testdata/cluster/iptables/node1.snapshot.json",
	"../testdata/cluster/iptables/node2.snapshot.json",
}

func snapshotSource() Source {
	return Source{
		Name: "snapshot node1.snapshot.json, node2.snapshot.json",
		Load: func(context.Context) (*trace.World, error) { return trace.LoadSnapshots(clusterSnapshots) },
	}
}

// start runs the UI at w×h over the cluster snapshots and waits for the
// first read.
func start(t *testing.T, w, h int, opt Options) *teatest.TestModel {
	t.Helper()
	tm := teatest.NewTestModel(t, New(context.Background(), snapshotSource(), opt), teatest.WithInitialTermSize(w, h))
	waitFor(t, tm, "read snapshot")
	return tm
}

// waitFor waits until the screen has shown s (it consumes the output).
func waitFor(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
		teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

// keys types each key: a name from bubbletea's key names, or runes.
func keys(tm *teatest.TestModel, ks ...string) {
	for _, k := range ks {
		switch k {
		case "enter":
			tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
		case "esc":
			tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
		case "tab":
			tm.Send(tea.KeyMsg{Type: tea.KeyTab})
		case "down":
			tm.Send(tea.KeyMsg{Type: tea.KeyDown})
		default:
			tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)})
		}
	}
}

// finalScreen quits and returns the final model's whole screen.
func finalScreen(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second))
	return fm.View()
}

func checkGolden(t *testing.T, view string) {
	t.Helper()
	for i, l := range strings.Split(view, "\n") {
		if w := len([]rune(stripANSI(l))); w > 120 {
			t.Errorf("line %d is %d columns wide", i+1, w)
		}
	}
	golden.RequireEqual(t, []byte(view))
}

func stripANSI(s string) string {
	var b strings.Builder
	esc := false
	for _, r := range s {
		switch {
		case r == 0x1b:
			esc = true
		case esc && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'):
			esc = false
		case !esc:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestNodeView: the first screen, node1's bridge with the pod behind
// each port, in 80×24.
func TestNodeView(t *testing.T) {
	tm := start(t, 80, 24, Options{})
	checkGolden(t, finalScreen(t, tm))
}

// TestPodsFilter: tab to the pods of both nodes, / filters them.
func TestPodsFilter(t *testing.T) {
	tm := start(t, 80, 24, Options{})
	keys(tm, "tab", "/", "b-c87", "enter")
	checkGolden(t, finalScreen(t, tm))
}

// TestPodView: enter on a pod opens it: containers, interfaces with the
// veth peer and its bridge, routes, sockets.
func TestPodView(t *testing.T) {
	tm := start(t, 100, 30, Options{})
	keys(tm, "tab", "/", "pod-a", "enter", "enter")
	waitFor(t, tm, "listening")
	checkGolden(t, finalScreen(t, tm))
}

// TestServiceEndpoints: the services kube-proxy programs; enter shows
// each node's endpoints with their probabilities.
func TestServiceEndpoints(t *testing.T) {
	tm := start(t, 100, 24, Options{})
	keys(tm, "tab", "tab", "/", "svc-b", "enter", "enter")
	waitFor(t, tm, "as each node's kube-proxy rules choose")
	checkGolden(t, finalScreen(t, tm))
}

// TestRulesFollowJump: enter on a jump goes to its chain; esc comes back.
func TestRulesFollowJump(t *testing.T) {
	tm := start(t, 100, 24, Options{})
	keys(tm, "tab", "tab", "tab", "/", "-j KUBE-SERVICES", "enter", "enter")
	v := finalScreen(t, tm)
	if !strings.Contains(v, "› ") || !strings.Contains(v, "chain KUBE-SERVICES") {
		t.Errorf("after enter on a jump the cursor is not on the chain:\n%s", v)
	}
	checkGolden(t, v)

	tm = start(t, 200, 24, Options{})
	keys(tm, "tab", "tab", "tab", "/", "-j KUBE-SERVICES", "enter", "enter", "esc")
	back := finalScreen(t, tm)
	if !strings.Contains(back, "› ") || !strings.Contains(lineWith(back, "› "), "-j KUBE-SERVICES") {
		t.Errorf("esc did not come back to the jump:\n%s", back)
	}
}

func lineWith(view, s string) string {
	for _, l := range strings.Split(view, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestTrace: t on pod-a asks for a destination, the trace shows the hops
// and the verdict; enter on a hop opens its details.
func TestTrace(t *testing.T) {
	tm := start(t, 120, 40, Options{})
	keys(tm, "tab", "/", "pod-a", "enter", "t", "svc/default/svc-b:80", "enter")
	waitFor(t, tm, "verdict: delivered")
	checkGolden(t, finalScreen(t, tm))
}

// TestHopDetails: enter on the NAT hop lists every rule it matched.
func TestHopDetails(t *testing.T) {
	tm := start(t, 120, 40, Options{})
	keys(tm, "tab", "/", "pod-a", "enter", "t", "svc/default/svc-b:80", "enter")
	waitFor(t, tm, "verdict: delivered")
	keys(tm, "/", "prerouting: DNAT", "enter", "enter")
	v := finalScreen(t, tm)
	if !strings.Contains(v, "hop 5: netfilter on node1") || !strings.Contains(v, "KUBE-SEP-") {
		t.Errorf("hop details:\n%s", v)
	}
	checkGolden(t, v)
}

// TestLiveNeedsALiveNode: L over snapshots says why not, in the status
// line.
func TestLiveNeedsALiveNode(t *testing.T) {
	tm := start(t, 120, 30, Options{})
	keys(tm, "tab", "/", "pod-a", "enter", "t", "svc/default/svc-b:80", "enter")
	waitFor(t, tm, "verdict: delivered")
	keys(tm, "L")
	v := finalScreen(t, tm)
	if !strings.Contains(v, "a live probe needs the live node") {
		t.Errorf("L on a snapshot:\n%s", v)
	}
}

// TestResize: the screen follows the terminal down to 70×20.
func TestResize(t *testing.T) {
	tm := start(t, 120, 40, Options{})
	tm.Send(tea.WindowSizeMsg{Width: 70, Height: 20})
	keys(tm, "tab")
	v := finalScreen(t, tm)
	if n := strings.Count(v, "\n") + 1; n != 20 {
		t.Errorf("%d lines after a resize to 20", n)
	}
	checkGolden(t, v)
}

// TestHelp: ? lists every key.
func TestHelp(t *testing.T) {
	tm := start(t, 80, 24, Options{})
	keys(tm, "?")
	checkGolden(t, finalScreen(t, tm))
}

// TestColorSelection: with colour the selection is also reversed, and
// without it the "›" mark alone shows it (NO_COLOR).
func TestColorSelection(t *testing.T) {
	tm := start(t, 80, 24, Options{Color: true})
	v := finalScreen(t, tm)
	if !strings.Contains(v, "\x1b[7m") {
		t.Errorf("no reverse video on the selection with colour")
	}
	tm = start(t, 80, 24, Options{})
	plain := finalScreen(t, tm)
	if strings.Contains(plain, "\x1b[") {
		t.Errorf("escape codes without colour:\n%q", plain)
	}
	if !strings.Contains(plain, "› node node1") {
		t.Errorf("the selection has no mark without colour:\n%s", plain)
	}
}

// liveSource is the cluster snapshots with a live probe that the test
// steps through: each progress it is handed is shown before the next
// (a real probe's progress comes from the captures; see trace's
// TestRootTraceSeedsLab and the e2e tests).
type liveSource struct {
	progress chan *trace.LiveReport // the reports to hand on, in order
	result   chan *trace.LiveReport // the final report
	stopped  chan error             // the probe's context's end
}

func (l *liveSource) source() Source {
	src := snapshotSource()
	src.Name = "live test"
	src.Live = func(ctx context.Context, w *trace.World, req trace.Request, progress func(*trace.LiveReport)) (*trace.Result, error) {
		res, err := w.Trace(req)
		if err != nil {
			return nil, err
		}
		for {
			select {
			case r := <-l.progress:
				progress(r)
			case r := <-l.result:
				res.Live = r
				return res, nil
			case <-ctx.Done():
				l.stopped <- ctx.Err()
				return nil, ctx.Err()
			}
		}
	}
	return src
}

func liveHops(seen ...bool) []trace.LiveHop {
	var out []trace.LiveHop
	for i, s := range seen {
		out = append(out, trace.LiveHop{Hop: i + 1, Node: "node1", Netns: "pod default/pod-a", Device: "eth0", Direction: "out", Seen: s})
	}
	return out
}

// TestLiveProgress: L marks each hop as the probe's progress arrives,
// with the spinner in the status line: the view goes to the live lines
// as they first come, and the result replaces them in place.
func TestLiveProgress(t *testing.T) {
	l := &liveSource{progress: make(chan *trace.LiveReport), result: make(chan *trace.LiveReport), stopped: make(chan error, 1)}
	tm := teatest.NewTestModel(t, New(context.Background(), l.source(), Options{}), teatest.WithInitialTermSize(120, 40))
	waitFor(t, tm, "read live test")
	keys(tm, "tab", "/", "pod-a", "enter", "t", "svc/default/svc-b:80", "enter")
	waitFor(t, tm, "verdict: delivered")
	keys(tm, "down", "down", "L")
	waitFor(t, tm, "live probe default/pod-a → svc/default/svc-b:80")
	l.progress <- &trace.LiveReport{Probe: "tcp probe", InFlight: true, Captured: 1, Hops: liveHops(true, false, false)}
	waitFor(t, tm, "watching: 1 packets captured so far")
	l.progress <- &trace.LiveReport{Probe: "tcp probe", InFlight: true, Captured: 2, Hops: liveHops(true, true, false)}
	waitFor(t, tm, "watching: 2 packets captured so far")
	l.result <- &trace.LiveReport{Probe: "tcp probe", Outcome: "connected", Agrees: true, Captured: 3, Hops: liveHops(true, true, true)}
	waitFor(t, tm, "agrees: the probe took the predicted path (3 packets captured)")
	v := finalScreen(t, tm)
	if !strings.Contains(v, "live: agrees") || !strings.Contains(v, "› live: probe tcp probe: connected") {
		t.Errorf("after the probe (status line, cursor on the live lines):\n%s", v)
	}
	checkGolden(t, v)
}

// TestLiveInFlight: while the probe is out, hops not seen yet are
// marked … (not NOT seen), and the outcome is not claimed.
func TestLiveInFlight(t *testing.T) {
	l := &liveSource{progress: make(chan *trace.LiveReport), result: make(chan *trace.LiveReport), stopped: make(chan error, 1)}
	m := New(context.Background(), l.source(), Options{})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 50))
	waitFor(t, tm, "read live test")
	keys(tm, "tab", "/", "pod-a", "enter", "t", "svc/default/svc-b:80", "enter")
	waitFor(t, tm, "verdict: delivered")
	keys(tm, "L")
	l.progress <- &trace.LiveReport{Probe: "tcp probe", InFlight: true, Captured: 1, Hops: liveHops(true, false)}
	waitFor(t, tm, "watching: 1 packets")
	v := finalScreen(t, tm)
	for _, want := range []string{"live: probe tcp probe: sent, watching…", "seen", "…"} {
		if !strings.Contains(v, want) {
			t.Errorf("in flight, the screen lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "NOT seen") || strings.Contains(v, "diverges") {
		t.Errorf("in flight, a hop not seen yet is called missing:\n%s", v)
	}
	checkGolden(t, v)
}

// TestQuitStopsTheProbe: q while the probe is out ends the program; the
// probe stops once the program's context is cancelled (as netx tui does
// on the way out), and Wait waits for it.
func TestQuitStopsTheProbe(t *testing.T) {
	l := &liveSource{progress: make(chan *trace.LiveReport), result: make(chan *trace.LiveReport), stopped: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := New(ctx, l.source(), Options{})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
	waitFor(t, tm, "read live test")
	keys(tm, "tab", "/", "pod-a", "enter", "t", "svc/default/svc-b:80", "enter")
	waitFor(t, tm, "verdict: delivered")
	keys(tm, "L")
	waitFor(t, tm, "live probe default/pod-a")
	finalScreen(t, tm)
	select {
	case err := <-l.stopped:
		t.Fatalf("the probe stopped (%v) before the program's context ended", err)
	default:
	}
	cancel()
	done := make(chan struct{})
	go func() { m.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return once the context was cancelled")
	}
	if err := <-l.stopped; err == nil {
		t.Error("the probe ended without its context's error")
	}
}

// TestTraceFromInternet: "SRC DST" in the trace prompt traces from
// elsewhere: internet to a NodePort, offered among the completions.
func TestTraceFromInternet(t *testing.T) {
	w, err := trace.LoadSnapshots(clusterSnapshots)
	if err != nil {
		t.Fatal(err)
	}
	var dst string
	for _, s := range w.Services {
		if s.NodePort != 0 {
			dst = fmt.Sprintf("node/node1:%d", s.NodePort)
			break
		}
	}
	if dst == "" {
		t.Fatal("the cluster snapshots hold no NodePort service")
	}
	m := New(context.Background(), snapshotSource(), Options{})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
	waitFor(t, tm, "read snapshot")
	keys(tm, "tab", "/", "pod-a", "enter", "t", "internet "+dst, "enter")
	waitFor(t, tm, "verdict:")
	v := finalScreen(t, tm)
	if !strings.Contains(v, "trace internet → "+dst) {
		t.Errorf("trace internet %s:\n%s", dst, v)
	}
	// The program has ended: its model is the test's to read.
	if !slices.Contains(m.destinations(), "internet "+dst) {
		t.Errorf("the trace prompt does not offer internet %s: %v", dst, m.destinations())
	}
}
