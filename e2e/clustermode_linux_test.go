package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netx-project/netx/e2e/cluster"
)

// clusterLBIP is the LoadBalancer address the test writes into a
// service's status (no cloud controller here).
const clusterLBIP = "192.168.77.210"

// clusterDenyIP is another LoadBalancer address, of a service whose
// loadBalancerSourceRanges admit no pod: kube-proxy drops a pod's
// connection to it, so a live probe there waits out its timeout.
const clusterDenyIP = "192.168.77.211"

// verdictOf is the part of a trace's JSON the node-local and the cluster
// trace must agree on.
type verdictOf struct {
	Verdict struct {
		Kind, Node, Pod, Container string
		HostNetwork                bool
	}
	Hops []struct{ Node, Kind, Device string }
}

func parseVerdict(t *testing.T, what string, out []byte) verdictOf {
	t.Helper()
	var v verdictOf
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, out)
	}
	return v
}

// agentPods lists netx's agent pods in every namespace.
func agentPods(t *testing.T, s *cluster.Spec) string {
	return strings.TrimSpace(kubectl(t, s, "get", "pods", "-A", "-l", "app.kubernetes.io/managed-by=netx", "-o", "name"))
}

// runAgentPodsGone waits until the agent pods of single runs are gone
// (setup's stay), returning those left after limit.
func runAgentPodsGone(t *testing.T, s *cluster.Spec, limit time.Duration) string {
	left := ""
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if left = strings.TrimSpace(kubectl(t, s, "get", "pods", "-A", "-l", "app.kubernetes.io/managed-by=netx,netx.io/run", "-o", "name")); left == "" {
			break
		}
	}
	return left
}

// agentPodsGone waits up to limit for netx's agent pods to go; it
// returns those still there.
func agentPodsGone(t *testing.T, s *cluster.Spec, limit time.Duration) string {
	left := ""
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if left = agentPods(t, s); left == "" {
			break
		}
	}
	return left
}

// checkClusterMode: kubectl netx trace from the "laptop" — the non-root
// user with only a kubeconfig — reaches the nodes through agent pods and
// says what the node-local trace over the same nodes says, for every
// communication mode; the cluster's pods are the same after, also after
// SIGINT while agents start; Pod Security and RBAC refusals are one line.
func checkClusterMode(t *testing.T, s *cluster.Spec, user, stranger *cluster.User) {
	kubectl(t, s, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=120s")
	lb := filepath.Join(t.TempDir(), "lb.yaml")
	os.WriteFile(lb, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: netx-e2e-lb}\nspec: {type: LoadBalancer, selector: {app: b}, ports: [{name: http, port: 80, targetPort: 8080}]}\n"), 0o644)
	kubectl(t, s, "apply", "-f", lb)
	t.Cleanup(func() { s.Kubectl(context.Background(), "delete", "--wait=false", "--ignore-not-found", "-f", lb) })
	kubectl(t, s, "patch", "svc", "netx-e2e-lb", "--subresource=status", "--type=merge",
		"-p", fmt.Sprintf(`{"status":{"loadBalancer":{"ingress":[{"ip":%q}]}}}`, clusterLBIP))
	deny := filepath.Join(t.TempDir(), "deny.yaml")
	os.WriteFile(deny, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: netx-e2e-lb-deny}\nspec: {type: LoadBalancer, selector: {app: b}, loadBalancerSourceRanges: [203.0.113.0/24], ports: [{name: http, port: 80, targetPort: 8080}]}\n"), 0o644)
	kubectl(t, s, "apply", "-f", deny)
	t.Cleanup(func() { s.Kubectl(context.Background(), "delete", "--wait=false", "--ignore-not-found", "-f", deny) })
	kubectl(t, s, "patch", "svc", "netx-e2e-lb-deny", "--subresource=status", "--type=merge",
		"-p", fmt.Sprintf(`{"status":{"loadBalancer":{"ingress":[{"ip":%q}]}}}`, clusterDenyIP))
	var bPods []string
	for _, l := range strings.Fields(kubectl(t, s, "get", "pods", "-l", "app=b", "-o", `jsonpath={range .items[*]}{.metadata.name}@{.spec.nodeName} {end}`)) {
		if strings.HasSuffix(l, "@node2") {
			bPods = append(bPods, strings.TrimSuffix(l, "@node2"))
		}
	}
	if len(bPods) == 0 {
		t.Fatal("no b pod on node2")
	}
	// kube-proxy writes the LB service's rules within its sync period.
	time.Sleep(2 * time.Second)

	before := kubectl(t, s, "get", "pods", "-A", "-o", "name")
	snaps := nodeSnapshots(t, s)
	cases := []struct {
		name, src, dst string
		local          []string // the node-local trace's ends, when they differ
		args           []string
		want           string // the verdict's pod
	}{
		{name: "pod to ClusterIP, endpoint on the other node", src: "pod-a", dst: "svc/svc-b", local: []string{"default/pod-a", "svc/default/svc-b"}, args: []string{"--endpoint", ""}, want: "default/" + bPods[0]},
		{name: "pod to pod across nodes", src: "pod-a", dst: bPods[0] + ":8080", local: []string{"default/pod-a", "default/" + bPods[0] + ":8080"}, want: "default/" + bPods[0]},
		{name: "NodePort from internet, endpoint elsewhere", src: "internet", dst: "node/node1:30080", want: "default/mc3"},
		{name: "NodePort from internet", src: "internet", dst: "node/node2:30080", want: "default/mc3"},
		{name: "LoadBalancer IP from internet", src: "internet", dst: clusterLBIP + ":80", args: []string{"--node", "node1", "--endpoint", ""}, want: "default/" + bPods[0]},
		{name: "hostPort", src: "pod-a", dst: "node/node2:8081", local: []string{"default/pod-a", "node/node2:8081"}, want: "default/webapp-hostport"},
		{name: "hostNetwork pod", src: "pod-a", dst: "webapp-hostnet", local: []string{"default/pod-a", "default/webapp-hostnet"}, want: "default/webapp-hostnet"},
		{name: "container to container over localhost", src: "mc3", dst: "localhost:5000", local: []string{"default/mc3", "localhost:5000"}, want: "default/mc3"},
	}
	bIP := strings.TrimSpace(kubectl(t, s, "get", "pod", bPods[0], "-o", "jsonpath={.status.podIP}"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := slices.Clone(c.args)
			if i := slices.Index(args, "--endpoint"); i >= 0 {
				args[i+1] = bIP
			}
			argv := append([]string{"trace", c.src, c.dst, "-o", "json"}, args...)
			out, errOut, code := asUser(t, user, "kubectl-netx", argv...)
			if code != 0 {
				t.Fatalf("kubectl netx %s as %s: exit %d: %s", strings.Join(argv, " "), user.Name, code, errOut)
			}
			got := parseVerdict(t, "cluster trace", []byte(out))
			lsrc, ldst := c.src, c.dst
			if c.local != nil {
				lsrc, ldst = c.local[0], c.local[1]
			}
			local := parseVerdict(t, "node-local trace", netx(t, append(append([]string{"trace", lsrc, ldst, "-o", "json"}, args...), snaps...)...))
			if got.Verdict != local.Verdict || len(got.Hops) != len(local.Hops) {
				t.Errorf("cluster: %+v (%d hops)\nnode-local: %+v (%d hops)", got.Verdict, len(got.Hops), local.Verdict, len(local.Hops))
			}
			if got.Verdict.Kind != "delivered" || got.Verdict.Pod != c.want {
				t.Errorf("verdict %+v, want delivered to %s", got.Verdict, c.want)
			}
			if errOut != "" {
				t.Errorf("stderr not a terminal, yet: %q", errOut)
			}
			if strings.Contains(out, `"findings"`) {
				t.Errorf("findings with every kube-proxy in step: %s", out)
			}
		})
	}
	checkClusterLive(t, s, user, snaps)
	t.Run("the cluster's pods are the same after", func(t *testing.T) {
		if after := kubectl(t, s, "get", "pods", "-A", "-o", "name"); after != before {
			t.Errorf("pods before:\n%s\nafter:\n%s", before, after)
		}
	})
	t.Run("SIGINT while the agents start removes them", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := user.Command(ctx, "kubectl-netx", "trace", "pod-a", "svc/svc-b")
		var errb strings.Builder
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); agentPods(t, s) == "" && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if agentPods(t, s) == "" {
			t.Fatalf("no agent pod appeared; stderr %q", errb.String())
		}
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		if err == nil && !strings.Contains(errb.String(), "interrupted") {
			// The run may have finished before the signal: still no pods.
			t.Logf("the trace ended before SIGINT: %q", errb.String())
		} else if !strings.Contains(errb.String(), "interrupted") {
			t.Errorf("after SIGINT: %v, stderr %q; want one line saying it was interrupted", err, errb.String())
		}
		if left := agentPodsGone(t, s, 20*time.Second); left != "" {
			t.Errorf("agent pods left after SIGINT: %s", left)
		}
	})
	t.Run("Pod Security: one line naming the namespace and the fix", func(t *testing.T) {
		kubectl(t, s, "create", "namespace", "netx-e2e-baseline")
		t.Cleanup(func() { s.Kubectl(context.Background(), "delete", "namespace", "netx-e2e-baseline", "--wait=false") })
		kubectl(t, s, "label", "namespace", "netx-e2e-baseline", "pod-security.kubernetes.io/enforce=baseline")
		out, errOut, code := asUser(t, user, "kubectl-netx", "trace", "pod-a", "svc/svc-b", "--agent-namespace", "netx-e2e-baseline")
		if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, `in namespace "netx-e2e-baseline": the namespace's Pod Security level forbids the agent`) ||
			!strings.Contains(errOut, "pod-security.kubernetes.io/enforce=privileged") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("RBAC: one line naming the verb and resource", func(t *testing.T) {
		out, errOut, code := asUser(t, stranger, "kubectl-netx", "trace", "pod-a", "svc/svc-b")
		want := `error: source: get pods "pod-a" in namespace "default": forbidden: your user may not "get" pods (RBAC)`
		if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, want) {
			t.Errorf("exit %d, stdout %q, stderr %q; want %q…", code, out, errOut, want)
		}
	})
	t.Run("a kube-proxy behind the API is a finding", func(t *testing.T) {
		// node1's kube-proxy stopped, then b scaled up: node1's rules keep
		// the two old endpoints while the EndpointSlice lists four.
		if err := s.Signal("kube-proxy-node1", syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer func() {
			s.Signal("kube-proxy-node1", syscall.SIGCONT)
			kubectl(t, s, "scale", "deployment", "b", "--replicas=2")
			// The next tests wait for every pod: none left terminating.
			for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
				if len(strings.Fields(kubectl(t, s, "get", "pods", "-l", "app=b", "-o", "name"))) == 2 {
					break
				}
			}
		}()
		kubectl(t, s, "scale", "deployment", "b", "--replicas=4")
		kubectl(t, s, "rollout", "status", "deployment", "b", "--timeout=90s")
		out, errOut, code := asUser(t, user, "kubectl-netx", "trace", "pod-a", "svc/svc-b")
		want := "finding: the EndpointSlices of default/svc-b:http list 4 ready endpoint(s), node1's rules have 2 (missing "
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "kube-proxy on node1 is behind the API") {
			t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant %q", code, errOut, out, want)
		}
		// And none when kube-proxy is in step (node2 decides for mc3).
		if out, _, _ := asUser(t, user, "kubectl-netx", "trace", "internet", "node/node2:30080"); strings.Contains(out, "finding:") {
			t.Errorf("a finding with kube-proxy in step:\n%s", out)
		}
	})
	t.Run("an agent that cannot start: which node and why, within --request-timeout", func(t *testing.T) {
		// node2's kubelet stopped: its agent pod is never started.
		if err := s.Signal("kubelet-node2", syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		stopped := true
		resume := func() {
			if stopped {
				s.Signal("kubelet-node2", syscall.SIGCONT)
				stopped = false
			}
		}
		defer resume()
		t0 := time.Now()
		out, errOut, code := asUser(t, user, "kubectl-netx", "trace", "pod-a", "svc/mc3", "--request-timeout", "3s")
		took := time.Since(t0)
		resume()
		want := "on node node2 did not start within 3s"
		if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, stdout %q, stderr %q; want one line with %q", code, out, errOut, want)
		}
		t.Logf("%s after %v", strings.TrimSpace(errOut), took.Round(10*time.Millisecond))
		if left := agentPodsGone(t, s, 30*time.Second); left != "" {
			t.Errorf("agent pods left once node2's kubelet is back: %s", left)
		}
	})
	if left := agentPods(t, s); left != "" {
		t.Errorf("agent pods left: %s", left)
	}
}

// liveOf is the part of a --live trace's JSON the tests look at.
type liveOf struct {
	Verdict struct{ Kind, Pod string }
	Live    struct {
		Outcome, Divergence string
		Agrees              bool
		Captured            int
		Hops                []struct {
			Node, Device string
			Seen, Reply  bool
		}
		Rules []struct{ Node string }
	}
}

// checkClusterLive: kubectl netx trace --live from the "laptop" proves a
// path across both nodes through the agents (captures and the kernel's
// trace on each, merged into one verdict), agrees on a path kube-proxy
// drops, and leaves every namespace's tables as they were — also when
// interrupted (SIGINT) in the middle of the probe.
func checkClusterLive(t *testing.T, s *cluster.Spec, user *cluster.User, snaps []string) {
	tablesBefore := nftTables(t)
	t.Run("--live across both nodes", func(t *testing.T) {
		// mc3's service: one endpoint, on node2; pod-a is on node1.
		pcap := filepath.Join(user.Home, "probe.pcapng")
		argv := []string{"trace", "pod-a", "svc/mc3", "--live", "--pcap", pcap, "-o", "json"}
		out, errOut, code := asUser(t, user, "kubectl-netx", argv...)
		if code != 0 {
			t.Fatalf("kubectl netx %s: exit %d: %s", strings.Join(argv, " "), code, errOut)
		}
		var got liveOf
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		local := parseVerdict(t, "node-local trace", netx(t, append([]string{"trace", "default/pod-a", "svc/default/mc3", "-o", "json"}, snaps...)...))
		if got.Verdict.Kind != local.Verdict.Kind || got.Verdict.Pod != local.Verdict.Pod || got.Verdict.Pod != "default/mc3" {
			t.Errorf("live verdict %+v, node-local %+v, want delivered to default/mc3", got.Verdict, local.Verdict)
		}
		if !got.Live.Agrees || got.Live.Outcome != "connected" {
			t.Errorf("live: outcome %q, agrees %v, divergence %q", got.Live.Outcome, got.Live.Agrees, got.Live.Divergence)
		}
		seenOn := map[string]int{}
		for _, h := range got.Live.Hops {
			if !h.Seen {
				t.Errorf("hop not seen: %+v", h)
			}
			seenOn[h.Node]++
		}
		rulesOn := map[string]int{}
		for _, r := range got.Live.Rules {
			rulesOn[r.Node]++
		}
		if seenOn["node1"] == 0 || seenOn["node2"] == 0 || rulesOn["node1"] == 0 || rulesOn["node2"] == 0 {
			t.Errorf("evidence from both nodes wanted: hops seen per node %v, traced rules per node %v", seenOn, rulesOn)
		}
		if fi, err := os.Stat(pcap); err != nil || fi.Size() == 0 {
			t.Errorf("--pcap: %v", err)
		}
		t.Logf("live across nodes: %d packets captured, hops seen per node %v, traced rules per node %v", got.Live.Captured, seenOn, rulesOn)
	})
	t.Run("--live on a path kube-proxy drops", func(t *testing.T) {
		out, errOut, code := asUser(t, user, "kubectl-netx", "trace", "pod-a", clusterDenyIP+":80", "--live", "--timeout", "1s", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got liveOf
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if got.Verdict.Kind != "dropped" || got.Live.Outcome != "timeout" || !got.Live.Agrees {
			t.Errorf("verdict %s, live outcome %q, agrees %v (%s); want dropped, timeout, agreeing", got.Verdict.Kind, got.Live.Outcome, got.Live.Agrees, got.Live.Divergence)
		}
	})
	t.Run("SIGINT during --live removes the trace rules and the agents", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := user.Command(ctx, "kubectl-netx", "trace", "pod-a", clusterDenyIP+":80", "--live", "--timeout", "60s")
		var errb strings.Builder
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var during []string
		for deadline := time.Now().Add(30 * time.Second); len(during) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			during = traceTables(nftTables(t))
		}
		if len(during) == 0 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no trace table appeared; stderr %q", errb.String())
		}
		time.Sleep(500 * time.Millisecond) // the probe waits for its answer
		t0 := time.Now()
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		took := time.Since(t0)
		if err == nil || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), "interrupted: the agents removed the probe's trace rules") {
			t.Errorf("after SIGINT: %v, stderr %q; want one line saying it was interrupted", err, errb.String())
		}
		t.Logf("during the probe: %v; SIGINT to exit %v", during, took.Round(time.Millisecond))
		var left []string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if left = traceTables(nftTables(t)); len(left) == 0 {
				break
			}
		}
		if len(left) > 0 {
			t.Errorf("trace tables left after SIGINT: %v", left)
		}
		if pods := agentPods(t, s); pods != "" {
			t.Errorf("agent pods left after SIGINT: %s", pods)
		}
	})
	t.Run("a drop on node2 the prediction cannot see is the first divergence", func(t *testing.T) {
		// A netdev ingress rule on node2's uplink, which netx's model of
		// the path does not hold (yet): predicted delivered, the probe is
		// seen arriving on node2 and nowhere after.
		var node2 string
		for _, n := range s.Workers {
			if n.Name == "node2" {
				node2 = n.Netns
			}
		}
		mc3 := strings.TrimSpace(kubectl(t, s, "get", "pod", "mc3", "-o", "jsonpath={.status.podIP}"))
		rules := fmt.Sprintf(`table netdev netx-e2e-divergence { chain in { type filter hook ingress device "eth0" priority 0; policy accept; ip daddr %s tcp dport 80 drop; }; }`, mc3)
		add := exec.Command("nsenter", "--net="+node2, "nft", "-f", "-")
		add.Stdin = strings.NewReader(rules)
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("nft -f: %v: %s", err, out)
		}
		defer func() {
			if out, err := exec.Command("nsenter", "--net="+node2, "nft", "delete", "table", "netdev", "netx-e2e-divergence").CombinedOutput(); err != nil {
				t.Errorf("remove the test's table: %v: %s", err, out)
			}
		}()
		out, errOut, code := asUser(t, user, "kubectl-netx", "trace", "pod-a", "svc/mc3", "--live", "--timeout", "1s", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got liveOf
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		want := "the probe was not seen out "
		if got.Verdict.Kind != "delivered" || got.Live.Agrees || got.Live.Outcome != "timeout" || !strings.Contains(got.Live.Divergence, want) || !strings.HasSuffix(got.Live.Divergence[:strings.Index(got.Live.Divergence, " (predicted")], "on node2") {
			t.Errorf("verdict %s, outcome %q, agrees %v, divergence %q; want delivered predicted, timeout, the first divergence on node2", got.Verdict.Kind, got.Live.Outcome, got.Live.Agrees, got.Live.Divergence)
		}
		for _, h := range got.Live.Hops {
			if !h.Reply && h.Node == "node1" && !h.Seen {
				t.Errorf("node1's hop not seen: %+v", h)
			}
		}
		t.Logf("divergence: %s", got.Live.Divergence)
	})
	t.Run("every namespace's tables are as before", func(t *testing.T) {
		after := nftTables(t)
		for ino, want := range tablesBefore {
			if got, ok := after[ino]; ok && got != want {
				t.Errorf("netns %d: tables before:\n%s\nafter:\n%s", ino, want, got)
			}
		}
	})
}

// nftTables lists the nftables tables of every network namespace on the
// machine (each process's), by namespace inode.
func nftTables(t *testing.T) map[uint64]string {
	t.Helper()
	out := map[uint64]string{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		path := "/proc/" + e.Name() + "/ns/net"
		var st syscall.Stat_t
		if syscall.Stat(path, &st) != nil {
			continue
		}
		if _, ok := out[st.Ino]; ok {
			continue
		}
		b, err := exec.Command("nsenter", "--net="+path, "nft", "list", "tables").Output()
		if err != nil {
			continue // the process is gone
		}
		out[st.Ino] = string(b)
	}
	return out
}

// traceTables are netx's trace tables among tables.
func traceTables(tables map[uint64]string) []string {
	var out []string
	for ino, ts := range tables {
		for _, l := range strings.Split(ts, "\n") {
			if strings.Contains(l, "netx-trace-") {
				out = append(out, fmt.Sprintf("netns %d: %s", ino, l))
			}
		}
	}
	return out
}
