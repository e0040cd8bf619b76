package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/e2e/cluster"
	"github.com/netx-project/netx/internal/testenv"
)

// checkClusterTUI: kubectl netx tui node/node1, run by the user holding
// only a kubeconfig in a real terminal (tmux, as that user), explores
// node1 through an agent pod: the node view shows its bridge and pods; a
// trace from pod-a to svc/mc3 follows the path to node2; L proves it
// with a live probe through both nodes' agents, the hops marked seen; q
// exits 0, the agent pods go, and no trace table is left anywhere.
func checkClusterTUI(t *testing.T, s *cluster.Spec, user *cluster.User) {
	if left := agentPodsGone(t, s, 30*time.Second); left != "" {
		t.Fatalf("agent pods from earlier runs: %s", left)
	}
	dir := filepath.Join(user.Home, "tui")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, int(user.UID), int(user.GID)); err != nil {
		t.Fatal(err)
	}
	status := filepath.Join(dir, "exit")
	x := testenv.NewTmux(t, dir, 120, 45, "kubectl netx tui node/node1 --color never; echo $? > "+status+"; sleep 60",
		func(args ...string) *exec.Cmd {
			cmd := user.Command(context.Background(), "tmux", args...)
			// nobody's login shell is nologin: the pane runs sh.
			cmd.Env = append(cmd.Env, "SHELL=/bin/sh")
			return cmd
		})
	const limit = 90 * time.Second

	first := x.WaitFor("read node/node1", limit)
	for _, want := range []string{"[node]", "node node1", "bridge cni0", "default/pod-a"} {
		if !strings.Contains(first, want) {
			t.Errorf("first screen lacks %q:\n%s", want, first)
		}
	}
	if pods := agentPods(t, s); !strings.Contains(pods, "pod/") {
		t.Errorf("no agent pod while the tui reads node1 through the cluster: %q", pods)
	}

	x.Keys("Tab", "/", "pod-a", "Enter", "t")
	x.WaitFor("trace default/pod-a →", limit)
	x.Keys("svc/default/mc3", "Enter")
	scr := x.WaitFor("verdict: delivered", limit)
	// mc3's one endpoint is on node2: the trace read node2 too.
	if !strings.Contains(scr, "node2") || !strings.Contains(scr, "default/mc3") {
		t.Errorf("trace pod-a → svc/mc3 does not reach node2's mc3:\n%s", scr)
	}

	x.Keys("L")
	scr = x.WaitFor("agrees: the probe took the predicted path", limit)
	if !strings.Contains(scr, "live: agrees; verdict: delivered") || !strings.Contains(scr, "node2") || strings.Contains(scr, "NOT seen") {
		t.Errorf("after L:\n%s", scr)
	}

	x.Keys("q")
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(status); err == nil {
			if code := strings.TrimSpace(string(b)); code != "0" {
				t.Errorf("kubectl netx tui exited %s:\n%s", code, x.Screen())
			}
			break
		}
	}
	if _, err := os.Stat(status); err != nil {
		t.Fatalf("kubectl netx tui did not exit on q:\n%s", x.Screen())
	}
	if left := agentPodsGone(t, s, 30*time.Second); left != "" {
		t.Errorf("agent pods left after q: %s", left)
	}
	if left := traceTables(nftTables(t)); len(left) > 0 {
		t.Errorf("trace tables left after the tui's live probe: %v", left)
	}
}
