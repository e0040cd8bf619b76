package tui

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/lab/labtest"
)

// TestRootTUIInTmux runs netx tui against the seeds lab in a real
// terminal (tmux, 120×40): the first screen shows the bridge and the
// pods, a filter narrows the pods, ? shows the keys, a trace from pod-a
// to svc/svc-b is delivered and a live probe (L) agrees, the screen follows a resize to 70×20, q
// exits 0 with the terminal restored, and the lab is as before.
func TestRootTUIInTmux(t *testing.T) {
	testenv.RequireRoot(t)
	plan := labtest.Up(t, "seeds.yaml", "u", nil, nil)
	nodes := labtest.NodeNetns(plan)
	before := testenv.SettledDump(t, nodes...)

	dir := t.TempDir()
	status := dir + "/exit"
	x := testenv.NewTmux(t, dir, 120, 40, fmt.Sprintf("%s tui --lab %s --color never; echo $? > %s; sleep 30", testenv.NetxBinary(t), plan.Name, status), nil)
	const limit = 20 * time.Second

	first := x.WaitFor("read lab "+plan.Name, limit)
	for _, want := range []string{"[node]", "bridge cni0", "default/pod-a", "? help"} {
		if !strings.Contains(first, want) {
			t.Errorf("first screen lacks %q:\n%s", want, first)
		}
	}

	x.Keys("Tab", "/", "b-", "Enter")
	scr := x.WaitFor(`filter "b-"`, limit)
	if !strings.Contains(scr, "default/b-1") || !strings.Contains(scr, "default/b-2") || strings.Contains(scr, "default/pod-a") {
		t.Errorf("the filter b- on the pods:\n%s", scr)
	}
	// One esc at a time: two in one read are alt+esc to a terminal.
	x.Keys("Escape")
	time.Sleep(100 * time.Millisecond)
	x.Keys("Escape")
	time.Sleep(100 * time.Millisecond)

	x.Keys("?")
	scr = x.WaitFor("previous view", limit)
	if !strings.Contains(scr, "trace from here") || !strings.Contains(scr, "live probe") {
		t.Errorf("help:\n%s", scr)
	}
	x.Keys("?")

	x.Keys("/", "pod-a", "Enter", "t")
	x.WaitFor("trace default/pod-a →", limit)
	x.Keys("svc/default/svc-b:80", "Enter")
	scr = x.WaitFor("verdict: delivered", limit)
	if !strings.Contains(scr, "netfilter") || !strings.Contains(scr, "DNAT") {
		t.Errorf("trace screen:\n%s", scr)
	}
	// L proves it with a real probe: the view goes to the live lines, the
	// hops are marked seen, and the status line leads with the judgement.
	x.Keys("L")
	scr = x.WaitFor("agrees: the probe took the predicted path", limit)
	if !strings.Contains(scr, "live: probe") || !strings.Contains(scr, "seen") || !strings.Contains(scr, "live: agrees; verdict: delivered") || strings.Contains(scr, "NOT seen") {
		t.Errorf("after L:\n%s", scr)
	}

	x.Resize(70, 20)
	time.Sleep(300 * time.Millisecond)
	scr = x.Screen()
	lines := strings.Split(strings.TrimRight(scr, "\n"), "\n")
	for i, l := range lines {
		if n := len([]rune(l)); n > 70 {
			t.Errorf("line %d is %d columns after the resize to 70: %q", i+1, n, l)
		}
	}
	if !strings.Contains(scr, "q quit") {
		t.Errorf("after the resize to 70×20 the footer is gone:\n%s", scr)
	}

	x.Keys("q")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(status); err == nil {
			if code := strings.TrimSpace(string(b)); code != "0" {
				t.Errorf("netx tui exited %s", code)
			}
			break
		}
	}
	if _, err := os.Stat(status); err != nil {
		t.Fatalf("netx tui did not exit on q:\n%s", x.Screen())
	}
	// The terminal is restored: the alternate screen is gone, the shell's
	// own (empty) screen is back.
	if scr := x.Screen(); strings.Contains(scr, "q quit") {
		t.Errorf("the UI is still on the screen after q:\n%s", scr)
	}
	if after := testenv.SettledDump(t, nodes...); after != before {
		a, b := testenv.DiffLines(before, after)
		t.Errorf("netx tui changed the lab:\nonly before: %v\nonly after: %v", a, b)
	}
}
