package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netx-project/netx/e2e/cluster"
)

// TestE2ESetup: kubectl netx setup and teardown, run as a non-root user
// holding only a kubeconfig whose certificate is bound to cluster-admin
// (who installs things in a lab cluster): a client dry run prints every
// object and creates none; the trace user (the netx-user role only) is
// refused in one line naming the verb and resource; setup applies the
// namespace, ServiceAccount, ClusterRole and DaemonSet and waits for an
// agent on both nodes; a second setup changes nothing and says so; a
// --live trace across both nodes uses the DaemonSet's agents and makes
// no pod; teardown leaves no object; a second teardown exits 0.
func TestE2ESetup(t *testing.T) {
	s := spec(t)
	t.Cleanup(func() { dumpLogs(t, s) })
	kubectl(t, s, "apply", "-f", filepath.Join("manifests", "seeds.yaml"))
	admin, user := setupUsers(t, s)
	kubectl(t, s, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=120s")

	t.Run("--dry-run=client -o yaml prints every object, makes none", func(t *testing.T) {
		out, errOut, code := asUser(t, admin, "kubectl-netx", "setup", "--dry-run=client", "-o", "yaml")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"kind: Namespace", "pod-security.kubernetes.io/enforce: privileged", "kind: ServiceAccount", "kind: DaemonSet", "kind: ClusterRole", "pods/exec", "hostPID: true"} {
			if !strings.Contains(out, want) {
				t.Errorf("the dry run lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "containerPort") || strings.Contains(out, "privileged: true") {
			t.Errorf("the agent listens on a port or runs privileged:\n%s", out)
		}
		if left := setupObjects(s); left != "" {
			t.Errorf("a client dry run made %s", left)
		}
	})

	t.Run("a user who may only trace is refused in one line", func(t *testing.T) {
		_, errOut, code := asUser(t, user, "kubectl-netx", "setup")
		if code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, `may not "get" namespaces`) || !strings.Contains(errOut, "cluster admin") {
			t.Errorf("setup by the trace user: exit %d, stderr %q; want one line naming the verb on namespaces", code, errOut)
		}
		if left := setupObjects(s); left != "" {
			t.Errorf("a refused setup made %s", left)
		}
	})

	t.Run("setup, then again", func(t *testing.T) {
		out, errOut, code := asUser(t, admin, "kubectl-netx", "setup", "--timeout", "2m")
		if code != 0 {
			t.Fatalf("setup: exit %d\n%s%s", code, out, errOut)
		}
		for _, want := range []string{"namespace/netx-system created", "serviceaccount/netx-agent created", "daemonset/netx-agent created", "clusterrole/netx-user configured", "netx is set up"} {
			if !strings.Contains(out, want) {
				t.Errorf("setup's output lacks %q:\n%s", want, out)
			}
		}
		ds := kubectl(t, s, "-n", "netx-system", "get", "daemonset", "netx-agent", "-o", "jsonpath={.status.numberReady}/{.status.desiredNumberScheduled}")
		if ds != "2/2" {
			t.Errorf("agents ready: %s, want 2/2", ds)
		}
		out, errOut, code = asUser(t, admin, "kubectl-netx", "setup")
		if code != 0 || strings.Count(out, " unchanged") != 4 || !strings.Contains(out, "nothing changed") {
			t.Errorf("setup again: exit %d, want every object unchanged and nothing changed:\n%s%s", code, out, errOut)
		}
	})

	t.Run("trace --live through the DaemonSet's agents, no pod made", func(t *testing.T) {
		liveThroughSetupAgents(t, s, user)
	})

	t.Run("teardown, then again", func(t *testing.T) {
		teardownClean(t, s, admin)
	})

	t.Run("setup --cni refuses the cluster's own CNI by name, at once; teardown cleans", func(t *testing.T) {
		// It stops as soon as an agent's install has failed, rather than
		// at the timeout ("the agents were not ready within").
		out, errOut, code := asUser(t, admin, "kubectl-netx", "setup", "--cni", "--cluster-cidr", s.ClusterCIDR.String(), "--timeout", "2m")
		last := errOut[strings.LastIndex(strings.TrimSpace(errOut), "\n")+1:]
		if code == 0 || !strings.Contains(last, "the agents cannot start: node") || !strings.Contains(last, "init container failed: the node already has a CNI network configuration, /etc/cni/net.d/10-netx-e2e.conflist") || !strings.Contains(last, "--force") {
			t.Errorf("setup --cni on a cluster with a CNI: exit %d, want its last line to name the node, the conflist it found and --force\n%s%s", code, out, errOut)
		}
		teardownClean(t, s, admin)
		for _, n := range s.Workers {
			if out, err := s.NodeCommand(n, "ls", "-A", "/etc/cni/net.d").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "10-netx-e2e.conflist" {
				t.Errorf("%s's CNI configuration after the refusal: %v %q", n.Name, err, out)
			}
		}
	})

	t.Run("SIGINT while setup waits for the agents; teardown removes it all", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := admin.Command(ctx, "kubectl-netx", "setup")
		var errb strings.Builder
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Once the DaemonSet exists, setup is waiting for its pods.
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if out, _ := s.Kubectl(ctx, "-n", "netx-system", "get", "daemonset", "netx-agent", "-o", "name"); len(out) > 0 {
				break
			}
		}
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		switch {
		case err == nil:
			t.Logf("setup finished before SIGINT: %q", errb.String())
		case !strings.Contains(errb.String(), "interrupted: what setup applied so far stays; kubectl netx teardown removes it") || strings.Count(errb.String(), "\n") != 1:
			t.Errorf("after SIGINT: %v, stderr %q; want one line saying what to do", err, errb.String())
		}
		teardownClean(t, s, admin)
	})
}

// liveThroughSetupAgents: the trace user's `trace pod-a svc/mc3 --live
// --keep-agents` is delivered and agrees through setup's agents, and the
// cluster's pods are the same after (--keep-agents would keep a run's own
// agent pods: none is made).
func liveThroughSetupAgents(t *testing.T, s *cluster.Spec, user *cluster.User) {
	t.Helper()
	before := kubectl(t, s, "get", "pods", "-A", "-o", "name")
	out, errOut, code := asUser(t, user, "kubectl-netx", "trace", "pod-a", "svc/mc3", "--live", "--keep-agents", "-o", "json")
	if code != 0 {
		t.Fatalf("trace: exit %d: %s", code, errOut)
	}
	var got liveOf
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Verdict.Kind != "delivered" || !got.Live.Agrees {
		t.Errorf("pod-a → svc/mc3 --live: %s, agrees %v (%s)", got.Verdict.Kind, got.Live.Agrees, got.Live.Divergence)
	}
	if after := kubectl(t, s, "get", "pods", "-A", "-o", "name"); after != before {
		t.Errorf("pods before the trace:\n%s\nafter:\n%s", before, after)
	}
}

// setupUsers makes the two people of a setup test, each a non-root user
// holding only a kubeconfig, kubectl and kubectl-netx: the admin who
// installs netx (bound to cluster-admin) and a user who may only trace
// (the documented netx-user role). Both go, with their bindings and
// whatever a failed test left of setup's, when t ends.
func setupUsers(t *testing.T, s *cluster.Spec) (admin, user *cluster.User) {
	t.Helper()
	ctx := context.Background()
	kubectl(t, s, "apply", "-f", filepath.Join("manifests", "netx-user-rbac.yaml"))
	s.Kubectl(ctx, "delete", "--ignore-not-found", "clusterrolebinding", "netx-e2e-admin")
	kubectl(t, s, "create", "clusterrolebinding", "netx-e2e-admin", "--clusterrole", "cluster-admin", "--user", "netx-e2e-admin")
	t.Cleanup(func() {
		s.Kubectl(ctx, "delete", "--ignore-not-found", "clusterrolebinding", "netx-e2e-admin")
		s.Kubectl(ctx, "delete", "--wait=false", "--ignore-not-found", "-f", filepath.Join("manifests", "netx-user-rbac.yaml"))
		// Whatever a failed run left.
		s.Kubectl(ctx, "delete", "--ignore-not-found", "namespace", "netx-system")
		s.Kubectl(ctx, "delete", "--ignore-not-found", "clusterrole,clusterrolebinding", "-l", "netx.io/setup=true")
	})
	var err error
	if admin, err = s.NewUser("netx-e2e-admin", nobody, nobody); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Remove() })
	if user, err = s.NewUser("netx-e2e-user", nobody, nobody); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { user.Remove() })
	netx, _ := filepath.Abs(filepath.Join("..", "bin", "kubectl-netx"))
	for _, u := range []*cluster.User{admin, user} {
		if err := u.Install(netx, "kubectl-netx"); err != nil {
			t.Fatal(err)
		}
		if err := u.Install(filepath.Join(s.Bin, "kubectl"), "kubectl"); err != nil {
			t.Fatal(err)
		}
	}
	return admin, user
}

// teardownClean runs teardown twice as admin: the first removes every
// object setup made (and its pods), the second finds nothing and exits 0.
func teardownClean(t *testing.T, s *cluster.Spec, admin *cluster.User) {
	t.Helper()
	out, errOut, code := asUser(t, admin, "kubectl-netx", "teardown")
	if code != 0 || !strings.Contains(out, "namespace/netx-system deleted") || !strings.Contains(out, "clusterrole/netx-user deleted") {
		t.Errorf("teardown: exit %d\n%s%s", code, out, errOut)
	}
	if left := setupObjects(s); left != "" {
		t.Errorf("after teardown: %s", left)
	}
	if pods := agentPods(t, s); pods != "" {
		t.Errorf("agent pods after teardown: %s", pods)
	}
	out, errOut, code = asUser(t, admin, "kubectl-netx", "teardown")
	if code != 0 || !strings.Contains(out, "nothing to remove") {
		t.Errorf("teardown again: exit %d\n%s%s", code, out, errOut)
	}
}

// setupObjects are the objects setup labels, as kubectl names them.
func setupObjects(s *cluster.Spec) string {
	out, _ := s.Kubectl(context.Background(), "get", "namespaces,clusterroles,clusterrolebindings", "-l", "netx.io/setup=true", "-o", "name")
	return strings.TrimSpace(string(out))
}
