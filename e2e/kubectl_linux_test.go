package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/e2e/cluster"
)

// nobody is the uid the suite runs netx as: a user with no rights on the
// machine, holding only a kubeconfig.
const nobody = 65534

// asUser runs a program of the user's as the user; it returns stdout,
// stderr and the exit code.
func asUser(t *testing.T, u *cluster.User, prog string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := u.Command(ctx, prog, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v as %s: %v", prog, args, u.Name, err)
	}
	return out.String(), errb.String(), 0
}

// completions are the candidates of a cobra __complete answer, and its
// directive line.
func completions(stdout string) (names []string, directive string) {
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1]
}

// TestE2EKubectl: netx as a kubectl plugin, run by a non-root user holding
// only a kubeconfig (a client certificate bound to the documented RBAC):
// SRC and DST complete from the API in the namespace -n or the context
// picks, through kubectl and the krew shim too; help says kubectl netx; a
// user without rights completes nothing, cleanly.
func TestE2EKubectl(t *testing.T) {
	s := spec(t)
	t.Cleanup(func() { dumpLogs(t, s) })

	kubectl(t, s, "apply", "-f", filepath.Join("manifests", "seeds.yaml"))
	kubectl(t, s, "apply", "-f", filepath.Join("manifests", "netx-user-rbac.yaml"))
	// A service in kube-system, for -n and the context's namespace to find.
	other := filepath.Join(t.TempDir(), "other.yaml")
	os.WriteFile(other, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: netx-e2e-other, namespace: kube-system}\nspec: {ports: [{port: 80}]}\n"), 0o644)
	kubectl(t, s, "apply", "-f", other)
	// The seeds stay: TestE2ESeeds applies the same file next, and a pod
	// still terminating could not be applied again.
	t.Cleanup(func() {
		ctx := context.Background()
		s.Kubectl(ctx, "delete", "--wait=false", "--ignore-not-found", "-f", other)
		s.Kubectl(ctx, "delete", "--wait=false", "--ignore-not-found", "-f", filepath.Join("manifests", "netx-user-rbac.yaml"))
	})

	user, err := s.NewUser("netx-e2e-user", nobody, nobody, "kube-system")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { user.Remove() })
	stranger, err := s.NewUser("netx-e2e-stranger", nobody, nobody)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Remove() })
	netx, _ := filepath.Abs(filepath.Join("..", "bin", "kubectl-netx"))
	shim, _ := filepath.Abs(filepath.Join("..", "krew", "kubectl_complete-netx"))
	for _, u := range []*cluster.User{user, stranger} {
		for src, name := range map[string]string{netx: "kubectl-netx", shim: "kubectl_complete-netx", filepath.Join(s.Bin, "kubectl"): "kubectl"} {
			if err := u.Install(src, name); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The seed pods are made by the API at once, b's replicas by the
	// controller manager a moment later: wait until they are all offered.
	seeds := []string{"mc3", "pod-a", "webapp-hostnet", "webapp-hostport", "svc/mc3", "svc/svc-b", "node/node1", "node/node2", "internet"}
	var got []string
	var stdout, stderr string
	for deadline := time.Now().Add(60 * time.Second); ; {
		var code int
		stdout, stderr, code = asUser(t, user, "kubectl-netx", "__complete", "trace", "")
		got, _ = completions(stdout)
		bs := slices.IndexFunc(got, func(n string) bool { return strings.HasPrefix(n, "b-") })
		if code == 0 && bs >= 0 && !slices.ContainsFunc(seeds, func(n string) bool { return !slices.Contains(got, n) }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("__complete trace \"\" as %s: exit %d, want the seed pods, a b- replica and %q\nstdout:\n%sstderr:\n%s", user.Name, code, seeds, stdout, stderr)
		}
		time.Sleep(500 * time.Millisecond)
	}

	t.Run("SRC completes the namespace's pods, svc/, node/ and internet", func(t *testing.T) {
		names, directive := completions(stdout)
		if directive != ":4" {
			t.Errorf("directive %q, want :4 (no file completion)", directive)
		}
		if slices.Contains(names, "svc/netx-e2e-other") || strings.Contains(stdout, "rror") {
			t.Errorf("kube-system's service offered in default, or an error in the answer:\n%s", stdout)
		}
		if strings.Contains(stderr, "rror") || strings.Contains(stderr, "orbidden") {
			t.Errorf("stderr: %q", stderr)
		}
	})
	t.Run("DST: no internet; svc/ completes services only", func(t *testing.T) {
		out, _, code := asUser(t, user, "kubectl-netx", "__complete", "trace", "pod-a", "svc/")
		names, _ := completions(out)
		if code != 0 || !slices.Contains(names, "svc/svc-b") || slices.ContainsFunc(names, func(n string) bool { return !strings.HasPrefix(n, "svc/") }) {
			t.Errorf("__complete trace pod-a svc/: exit %d\n%s", code, out)
		}
		out, _, _ = asUser(t, user, "kubectl-netx", "__complete", "trace", "pod-a", "")
		if names, _ := completions(out); slices.Contains(names, "internet") || !slices.Contains(names, "mc3") {
			t.Errorf("__complete trace pod-a \"\" (DST): want pods and no internet:\n%s", out)
		}
	})
	inKubeSystem := func(t *testing.T, args ...string) {
		t.Helper()
		out, _, code := asUser(t, user, "kubectl-netx", append(append([]string{"__complete", "trace"}, args...), "")...)
		names, _ := completions(out)
		if code != 0 || !slices.Contains(names, "svc/netx-e2e-other") || slices.Contains(names, "pod-a") || slices.Contains(names, "svc/svc-b") {
			t.Errorf("__complete trace %s: want kube-system's names only, exit %d:\n%s", strings.Join(args, " "), code, out)
		}
	}
	t.Run("-n kube-system", func(t *testing.T) { inKubeSystem(t, "-n", "kube-system") })
	t.Run("--context whose namespace is kube-system", func(t *testing.T) { inKubeSystem(t, "--context", s.Lab+"-kube-system") })
	t.Run("--kubeconfig and --context", func(t *testing.T) {
		inKubeSystem(t, "--kubeconfig", filepath.Join(user.Home, ".kube", "config"), "--context", s.Lab+"-kube-system")
	})
	t.Run("through kubectl and the krew shim", func(t *testing.T) {
		out, errOut, code := asUser(t, user, "kubectl", "__complete", "netx", "trace", "")
		names, _ := completions(out)
		if code != 0 || !slices.Contains(names, "pod-a") || !slices.Contains(names, "svc/svc-b") {
			t.Errorf("kubectl __complete netx trace \"\": exit %d\nstdout:\n%sstderr:\n%s", code, out, errOut)
		}
	})
	t.Run("help says kubectl netx", func(t *testing.T) {
		for _, argv := range [][]string{{"kubectl-netx", "trace", "--help"}, {"kubectl", "netx", "trace", "--help"}} {
			out, _, code := asUser(t, user, argv[0], argv[1:]...)
			if code != 0 || !strings.Contains(out, "kubectl netx trace SRC DST [flags]") || !strings.Contains(out, "  kubectl netx trace pod-a svc/svc-b --lab seeds") {
				t.Errorf("%s: exit %d\n%s", strings.Join(argv, " "), code, out)
			}
		}
	})
	t.Run("cluster mode", func(t *testing.T) { checkClusterMode(t, s, user, stranger) })
	t.Run("tui through the agent", func(t *testing.T) { checkClusterTUI(t, s, user) })
	t.Run("a user without rights completes nothing, cleanly", func(t *testing.T) {
		// The same cluster, a certificate no role is bound to: every list
		// is forbidden.
		if out, _ := s.Kubectl(context.Background(), "auth", "can-i", "list", "pods", "--as", stranger.Name); strings.TrimSpace(string(out)) != "no" {
			t.Fatalf("%s may list pods (%q): the test needs a user without rights", stranger.Name, out)
		}
		for _, args := range [][]string{{"__complete", "trace", ""}, {"__complete", "trace", "pod-a", "svc/"}, {"__complete", "trace", "-n", "kube-system", ""}} {
			out, errOut, code := asUser(t, stranger, "kubectl-netx", args...)
			if code != 0 || out != ":4\n" || strings.Contains(errOut, "rror") || strings.Contains(errOut, "orbidden") {
				t.Errorf("%s as %s: exit %d, stdout %q, stderr %q; want only the directive", strings.Join(args, " "), stranger.Name, code, out, errOut)
			}
		}
	})
}
