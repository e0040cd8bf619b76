package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/e2e/cluster"
	"github.com/netx-project/netx/internal/nsenter"
)

// TestE2ECNI runs on a cluster started without a pod network (make e2e
// E2E_CNI=none: nodes NotReady) and makes netx's datapath its CNI, as a
// non-root user holding only a kubeconfig bound to cluster-admin:
// setup --cni without the pod network's CIDR is refused in one line
// (this cluster publishes it nowhere) and makes nothing; with
// --cluster-cidr it installs the plugin through the agents and the nodes
// turn Ready; the whole smoke suite passes on it, pods reach a machine
// outside the cluster masqueraded as their node, a --live trace through
// the agents agrees and makes no pod; setup again changes nothing;
// teardown leaves no object and the nodes as they were before setup
// (links, routes, netx's rules, the files under the CNI directories);
// teardown again exits 0.
func TestE2ECNI(t *testing.T) {
	s := anySpec(t)
	if !s.NoCNI() {
		t.Skip("needs a cluster without a pod network: make e2e E2E_CNI=none")
	}
	t.Cleanup(func() { dumpLogs(t, s) })
	ctx := context.Background()
	admin, user := setupUsers(t, s)
	t.Cleanup(func() {
		// A failed run: the pods first (their CNI DEL needs the plugin),
		// then netx.
		if t.Failed() {
			s.Kubectl(ctx, "delete", "--ignore-not-found", "--timeout=60s", "-f", filepath.Join("manifests", "seeds.yaml"))
			asUser(t, admin, "kubectl-netx", "teardown", "--force")
		}
	})

	if nodes := kubectl(t, s, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}`); strings.Contains(nodes, "=True") {
		t.Fatalf("a node is Ready before any CNI: %s", nodes)
	}
	before := map[string]string{}
	for _, n := range s.Workers {
		before[n.Name] = nodeNetworkState(t, s, n)
	}
	cidr := s.ClusterCIDR.String()
	// make e2e E2E_CNI=none E2E_CNI_OVERLAY=vxlan: the pods reach the
	// other node through netx's vxlan tunnel instead of host-gw routes.
	overlay := os.Getenv("NETX_E2E_CNI_OVERLAY")
	if overlay == "" {
		overlay = "host-gw"
	}
	t.Logf("overlay: %s", overlay)

	t.Run("setup --cni without the pod network is refused, nothing made", func(t *testing.T) {
		_, errOut, code := asUser(t, admin, "kubectl-netx", "setup", "--cni")
		if code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "--cluster-cidr") || !strings.Contains(errOut, "kube-system/kube-proxy") {
			t.Errorf("exit %d, stderr %q; want one line asking for --cluster-cidr", code, errOut)
		}
		if left := setupObjects(s); left != "" {
			t.Errorf("a refused setup made %s", left)
		}
	})

	t.Run("setup --cni: the nodes turn Ready", func(t *testing.T) {
		t0 := time.Now()
		out, errOut, code := asUser(t, admin, "kubectl-netx", "setup", "--cni", "--cluster-cidr", cidr, "--cni-overlay", overlay, "--timeout", "3m")
		took := time.Since(t0)
		if code != 0 {
			t.Fatalf("setup --cni: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("setup --cni to every node Ready: %v\n%s%s", took.Round(10*time.Millisecond), out, errOut)
		for _, want := range []string{"clusterrole/netx-agent created", "clusterrolebinding/netx-agent created", "daemonset/netx-agent created", "every node is Ready on netx's pod network"} {
			if !strings.Contains(out, want) {
				t.Errorf("setup's output lacks %q", want)
			}
		}
		nodes := kubectl(t, s, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}`)
		if strings.Count(nodes, "=True") != len(s.Workers) {
			t.Fatalf("nodes after setup --cni: %s", nodes)
		}
		for _, n := range s.Workers {
			conf, err := s.NodeCommand(n, "cat", "/etc/cni/net.d/05-netx.conflist").CombinedOutput()
			if err != nil {
				t.Fatalf("%s's conflist: %v: %s", n.Name, err, conf)
			}
			if !strings.Contains(string(conf), `"type": "netx-cni"`) || !strings.Contains(string(conf), `"clusterCIDR": "`+cidr+`"`) || (overlay == "vxlan") != strings.Contains(string(conf), `"mtu": 1450`) {
				t.Errorf("%s's conflist:\n%s", n.Name, conf)
			}
			// The way to the other node's pods: a host-gw route, or the
			// tunnel's.
			other := s.Workers[1-slices.IndexFunc(s.Workers, func(w cluster.Node) bool { return w.Name == n.Name })]
			want := fmt.Sprintf("%s via %s dev eth0 proto 110", other.PodCIDR, other.IP)
			if overlay == "vxlan" {
				want = fmt.Sprintf("%s via %s dev netx-vxlan onlink", other.PodCIDR, other.PodCIDR.Addr())
			}
			var routes []byte
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				if routes, _ = s.NodeCommand(n, "ip", "route").CombinedOutput(); strings.Contains(string(routes), want) {
					break
				}
			}
			if !strings.Contains(string(routes), want) {
				t.Errorf("%s's routes lack %q:\n%s", n.Name, want, routes)
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("the smoke suite on netx's CNI", func(t *testing.T) {
		checkSeeds(t, s)
	})

	t.Run("a pod reaches a machine outside the cluster as its node", func(t *testing.T) {
		self, _ := filepath.Abs(filepath.Join("..", "bin", "netx"))
		srv := exec.Command(self, "datapath", "serve", "--listen", ":9099")
		if err := nsenter.Start(nsenter.Net(s.ClientNetns()), srv); err != nil {
			t.Fatal(err)
		}
		defer func() { srv.Process.Kill(); srv.Wait() }()
		var r string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			out, err := s.Kubectl(ctx, "exec", "pod-a", "--", "kubectl-netx", "datapath", "get", "--timeout", "2s", cluster.ClientIP+":9099")
			if r = string(out); err == nil {
				break
			}
		}
		if node1 := s.Workers[0].IP.String(); !strings.HasPrefix(field(r, "client"), node1+":") {
			t.Errorf("pod-a → %s:9099: %q, want it masqueraded as node1 (%s)", cluster.ClientIP, r, node1)
		}
	})

	t.Run("trace --live through the agents, no pod made", func(t *testing.T) {
		liveThroughSetupAgents(t, s, user)
	})

	t.Run("setup --cni again changes nothing", func(t *testing.T) {
		out, errOut, code := asUser(t, admin, "kubectl-netx", "setup", "--cni", "--cluster-cidr", cidr, "--cni-overlay", overlay)
		if code != 0 || strings.Count(out, " unchanged") != 6 || !strings.Contains(out, "nothing changed") {
			t.Errorf("setup --cni again: exit %d, want all 6 objects unchanged:\n%s%s", code, out, errOut)
		}
	})

	// The workloads go while the CNI is there to take their networks down.
	kubectl(t, s, "delete", "--ignore-not-found", "--timeout=120s", "-f", filepath.Join("manifests", "seeds.yaml"))

	t.Run("teardown leaves the nodes as before setup, then again", func(t *testing.T) {
		out, errOut, code := asUser(t, admin, "kubectl-netx", "teardown")
		if code != 0 || !strings.Contains(out, "clusterrole/netx-agent deleted") || strings.Count(out, "netx-cni on node/") != len(s.Workers) {
			t.Errorf("teardown: exit %d\n%s%s", code, out, errOut)
		}
		if left := setupObjects(s); left != "" {
			t.Errorf("after teardown: %s", left)
		}
		if pods := agentPods(t, s); pods != "" {
			t.Errorf("agent pods after teardown: %s", pods)
		}
		for _, n := range s.Workers {
			if after := nodeNetworkState(t, s, n); after != before[n.Name] {
				t.Errorf("%s before setup:\n%s\nafter teardown:\n%s", n.Name, before[n.Name], after)
			}
		}
		out, errOut, code = asUser(t, admin, "kubectl-netx", "teardown")
		if code != 0 || !strings.Contains(out, "nothing to remove") {
			t.Errorf("teardown again: exit %d\n%s%s", code, out, errOut)
		}
	})
}

// nodeNetworkState is what a CNI leaves on a node, as the node sees it:
// its links, its IPv4 routes (all tables), netx's and the portmap
// layout's nat rules, and the files in the CNI directories.
func nodeNetworkState(t *testing.T, s *cluster.Spec, n cluster.Node) string {
	t.Helper()
	script := `ip -br link | awk '{print $1}' | sort
echo --; ip -4 route show table all
echo --; iptables-save -t nat | grep -E 'NETX|CNI-' || true
echo --; ls -A /etc/cni/net.d /opt/cni/bin /var/lib/netx-cni`
	out, err := s.NodeCommand(n, "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s's network state: %v: %s", n.Name, err, out)
	}
	return string(out)
}
