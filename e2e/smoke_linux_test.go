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
	"testing"
	"time"

	netxcluster "github.com/netx-project/netx/cluster"
	"github.com/netx-project/netx/e2e/cluster"
	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/internal/nsenter"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The smoke tests run against the cluster `make e2e-up` started (make e2e
// does both, then e2e-down). They need NETX_E2E=1, so `go test ./...`
// alone does not look for a cluster.
func anySpec(t *testing.T) *cluster.Spec {
	t.Helper()
	if os.Getenv("NETX_E2E") != "1" {
		t.Skip("set NETX_E2E=1 with a cluster up (make e2e)")
	}
	home, _ := os.UserHomeDir()
	cache := filepath.Join(home, ".cache", "netx")
	if c := os.Getenv("NETX_CACHE"); c != "" {
		cache = c
	}
	version := os.Getenv("K8S_VERSION")
	if version == "" {
		version = "v1.34.4"
	}
	dir := os.Getenv("NETX_E2E_DIR")
	if dir == "" {
		dir = "/var/lib/netx-e2e"
	}
	s := cluster.DefaultSpec(dir, filepath.Join(cache, "k8s", version, "bin"), version, os.Getenv("NETX_E2E_PROXY_MODE"))
	if c := os.Getenv("NETX_E2E_CNI"); c != "" {
		s.CNI = c
	}
	return s
}

// spec is the cluster of a test that needs a pod network: it skips on a
// cluster started without one (make e2e E2E_CNI=none runs TestE2ECNI).
func spec(t *testing.T) *cluster.Spec {
	t.Helper()
	s := anySpec(t)
	if s.NoCNI() {
		t.Skip("the cluster has no pod network (E2E_CNI=none): TestE2ECNI installs netx's")
	}
	return s
}

// dumpLogs prints the tail of every component's log when a test failed.
func dumpLogs(t *testing.T, s *cluster.Spec) {
	if !t.Failed() {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(s.Dir, "logs", "*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		t.Logf("=== %s (last %d lines)\n%s", filepath.Base(l), len(lines), strings.Join(lines, "\n"))
	}
}

func kubectl(t *testing.T, s *cluster.Spec, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := s.Kubectl(ctx, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return string(out)
}

func field(reply, key string) string {
	for _, f := range strings.Fields(reply) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// getFrom runs netx's client inside a network namespace of the lab (a node
// or the external client).
func getFrom(t *testing.T, netns, addr string) string {
	t.Helper()
	self, err := filepath.Abs(filepath.Join("..", "bin", "netx"))
	if err != nil {
		t.Fatal(err)
	}
	// kube-proxy programs a new service's rules a moment after the pods
	// are Ready: a refused connection is retried for a few seconds.
	var out []byte
	for i := 0; ; i++ {
		out, err = nsenter.Output(nsenter.Net(netns), nil, self, "datapath", "get", "--timeout", "3s", addr)
		if err == nil {
			return string(out)
		}
		if i == 40 || !strings.Contains(err.Error()+string(out), "connection refused") {
			t.Fatalf("get %s from %s: %v: %s", addr, netns, err, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func TestE2ESeeds(t *testing.T) {
	s := spec(t)
	t.Cleanup(func() { dumpLogs(t, s) })
	t.Cleanup(func() {
		s.Kubectl(context.Background(), "delete", "--wait=false", "-f", filepath.Join("manifests", "seeds.yaml"))
	})
	checkSeeds(t, s)
}

// checkSeeds is the smoke suite: the seeds' workloads (manifests/
// seeds.yaml) on both nodes, and every communication mode among them,
// then netx's view of them. The caller deletes the manifest.
func checkSeeds(t *testing.T, s *cluster.Spec) {
	nodes := kubectl(t, s, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}`)
	for _, n := range s.Workers {
		if !strings.Contains(nodes, n.Name+"=True") {
			t.Fatalf("node %s not Ready: %s", n.Name, nodes)
		}
	}

	t0 := time.Now()
	kubectl(t, s, "apply", "-f", filepath.Join("manifests", "seeds.yaml"))
	// The Deployment makes its pods a moment after apply: wait for its
	// rollout first, or `wait --all` may miss them.
	kubectl(t, s, "rollout", "status", "deployment/b", "--timeout=120s")
	kubectl(t, s, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=120s")
	t.Logf("seed pods Ready %s after apply", time.Since(t0).Round(10*time.Millisecond))

	pods := kubectl(t, s, "get", "pods", "-o", `jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP} {.status.phase}{"\n"}{end}`)
	ip := map[string]string{}
	onNode := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(pods), "\n") {
		f := strings.Fields(l)
		if len(f) != 4 || f[3] != "Running" || f[2] == "" {
			t.Fatalf("pod not Running with an IP: %q", l)
		}
		ip[f[0]], onNode[f[0]] = f[2], f[1]
	}
	var bOnNode2 string
	for p, n := range onNode {
		if strings.HasPrefix(p, "b-") && n == "node2" {
			bOnNode2 = p
		}
	}
	if bOnNode2 == "" {
		t.Fatalf("no b replica on node2: %v", onNode)
	}

	inPod := func(pod string, args ...string) string {
		return kubectl(t, s, append([]string{"exec", pod, "--"}, args...)...)
	}
	t.Run("svc-b answers from pod-a and reaches both endpoints", func(t *testing.T) {
		svcIP := strings.TrimSpace(kubectl(t, s, "get", "svc", "svc-b", "-o", "jsonpath={.spec.clusterIP}"))
		// Pods are Ready before kube-proxy has their endpoints; give it the
		// few seconds a real cluster needs, then count who answers.
		seen := map[string]int{}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) && (seen["node1"] == 0 || seen["node2"] == 0) {
			out, err := s.Kubectl(context.Background(), "exec", "pod-a", "--", "kubectl-netx", "datapath", "get", "-n", "10", svcIP+":80")
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if n := field(l, "node"); n != "" {
					seen[n]++
				}
			}
			if err != nil {
				time.Sleep(500 * time.Millisecond)
			}
		}
		if seen["node1"] == 0 || seen["node2"] == 0 {
			t.Errorf("requests to svc-b reached %v, want the endpoints on both nodes", seen)
		}
	})
	t.Run("pod to pod across nodes", func(t *testing.T) {
		r := inPod("pod-a", "kubectl-netx", "datapath", "get", ip[bOnNode2]+":8080")
		if field(r, "pod") != bOnNode2 || !strings.HasPrefix(field(r, "client"), ip["pod-a"]+":") {
			t.Errorf("pod-a -> %s: %q (want no SNAT between pods)", bOnNode2, r)
		}
	})
	t.Run("container to container over localhost", func(t *testing.T) {
		r := kubectl(t, s, "exec", "mc3", "-c", "nginx", "--", "kubectl-netx", "datapath", "get", "127.0.0.1:80")
		if field(r, "pod") != "mc3" || field(r, "server") != "127.0.0.1:5000" {
			t.Errorf("mc3 nginx -> webapp: %q", r)
		}
	})
	t.Run("NodePort answers from the node and from outside", func(t *testing.T) {
		for _, n := range s.Workers {
			if r := getFrom(t, n.Netns, fmt.Sprintf("%s:30080", n.IP)); field(r, "pod") != "mc3" {
				t.Errorf("NodePort from %s: %q", n.Name, r)
			}
			if r := getFrom(t, s.ClientNetns(), fmt.Sprintf("%s:30080", n.IP)); field(r, "pod") != "mc3" {
				t.Errorf("NodePort on %s from the external client: %q", n.Name, r)
			}
		}
	})
	t.Run("hostPort", func(t *testing.T) {
		if r := getFrom(t, s.ClientNetns(), fmt.Sprintf("%s:8081", s.Workers[1].IP)); field(r, "pod") != "webapp-hostport" {
			t.Errorf("hostPort 8081 on node2: %q", r)
		}
	})
	t.Run("hostNetwork", func(t *testing.T) {
		// It listens on the node's own address (and, sharing the machine's
		// uts namespace, has the machine's hostname, not the node's name).
		addr := fmt.Sprintf("%s:8090", s.Workers[0].IP)
		r := getFrom(t, s.ClientNetns(), addr)
		if field(r, "pod") != "webapp-hostnet" || field(r, "server") != addr {
			t.Errorf("hostNetwork pod on node1: %q", r)
		}
	})
	t.Run("kube-proxy programs the node in the requested mode", func(t *testing.T) {
		ipt := inNode(t, s.Workers[0], "iptables-save", "-t", "nat")
		nft, _ := inNodeErr(s.Workers[0], "nft", "list", "table", "ip", "kube-proxy")
		switch s.ProxyMode {
		case "nftables":
			if !strings.Contains(nft, "service-ips") || strings.Contains(ipt, "KUBE-SVC-") {
				t.Errorf("nftables mode: nft has service-ips=%v, iptables has KUBE-SVC=%v", strings.Contains(nft, "service-ips"), strings.Contains(ipt, "KUBE-SVC-"))
			}
		default:
			if !strings.Contains(ipt, "KUBE-SVC-") {
				t.Errorf("iptables mode: no KUBE-SVC chains in node1's nat table")
			}
		}
		if os.Getenv("NETX_E2E_SAVE_DUMPS") == "1" {
			saveDumps(t, s, ipt, nft)
		}
	})
	t.Run("netx inspect finds a real pod through the CRI and /proc alike", func(t *testing.T) {
		self, _ := filepath.Abs(filepath.Join("..", "bin", "netx"))
		out, err := s.NodeCommand(s.Workers[0], self, "inspect", "--host-netns", s.Workers[0].Netns, "--cri-endpoint", s.ContainerdSocket(s.Workers[0]), "-o", "json").Output()
		if err != nil {
			t.Fatalf("netx inspect: %v", err)
		}
		var snap inspect.Snapshot
		if err := json.Unmarshal(out, &snap); err != nil {
			t.Fatal(err)
		}
		uid := strings.TrimSpace(kubectl(t, s, "get", "pod", "pod-a", "-o", "jsonpath={.metadata.uid}"))
		var found *inspect.Netns
		for _, n := range snap.Namespaces {
			for _, l := range n.Links {
				if l.Addr4() == ip["pod-a"] {
					found = n
				}
			}
		}
		switch {
		case found == nil:
			t.Fatalf("no namespace on node1 holds pod-a's %s", ip["pod-a"])
		case found.Pod == nil || found.Pod.UID != uid:
			t.Errorf("pod-a's namespace: pod %+v, want UID %s (from its cgroup)", found.Pod, uid)
		case !slices.Contains(found.FoundBy, inspect.SourceProc) || !slices.Contains(found.FoundBy, inspect.SourceCRI):
			t.Errorf("pod-a not found through both /proc and the CRI: %v", found.FoundBy)
		case found.Pod.Name != "pod-a" || found.Pod.Namespace != "default":
			t.Errorf("the CRI did not name pod-a: %+v", found.Pod)
		}
		if found != nil {
			eth0 := found.Links[len(found.Links)-1]
			for _, l := range found.Links {
				if l.Name == "eth0" {
					eth0 = l
				}
			}
			if eth0.Peer == nil || eth0.Peer.Bridge != "cni0" {
				t.Errorf("pod-a eth0 peer on node1: %+v, want a port of cni0 (the CNI bridge plugin's)", eth0.Peer)
			}
		}
	})
	t.Run("netx trace pod-a to svc-b, endpoint on each node", func(t *testing.T) {
		self, _ := filepath.Abs(filepath.Join("..", "bin", "netx"))
		snaps := nodeSnapshots(t, s)
		var bOnNode1 string
		for p, n := range onNode {
			if strings.HasPrefix(p, "b-") && n == "node1" {
				bOnNode1 = p
			}
		}
		for _, b := range []string{bOnNode1, bOnNode2} {
			args := append([]string{"trace", "pod-a", "svc/svc-b", "--endpoint", ip[b], "-o", "json"}, snaps...)
			out, err := exec.Command(self, args...).Output()
			if err != nil {
				t.Fatalf("netx %v: %v", args, err)
			}
			var res struct {
				Verdict struct{ Kind, Netns, Node string }
				Hops    []struct{ Kind, Node string }
				Reply   *struct{ Verdict struct{ Kind string } }
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatal(err)
			}
			if res.Verdict.Kind != "delivered" || res.Verdict.Netns != "pod default/"+b || res.Verdict.Node != onNode[b] {
				t.Errorf("trace pod-a → svc-b via %s: verdict %+v, want delivered in pod default/%s on %s\n%s", b, res.Verdict, b, onNode[b], out)
			}
			crossed := false
			for _, h := range res.Hops {
				crossed = crossed || h.Kind == "wire"
			}
			if crossed != (onNode[b] == "node2") || res.Reply == nil || res.Reply.Verdict.Kind != "delivered" {
				t.Errorf("trace pod-a → svc-b via %s: crossed nodes %v, reply %+v", b, crossed, res.Reply)
			}
		}
		// The prediction is also checked with real probes, through the
		// nodes' agents (the nodes are machines of their own). The kernel
		// picks each probe's endpoint; --live compares the probe with the
		// prediction for the endpoint it took. Until both have been seen.
		took := map[string]bool{}
		for i := 0; i < 20 && len(took) < 2; i++ {
			args := []string{"trace", "pod-a", "svc/svc-b", "--live", "-o", "json", "--kubeconfig", s.HostKubeconfig()}
			out, err := exec.Command(self, args...).Output()
			if err != nil {
				t.Fatalf("netx %v: %v", args, err)
			}
			var res struct {
				Verdict struct{ Netns string }
				Live    *struct {
					Agrees     bool
					Outcome    string
					Divergence string
				}
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatal(err)
			}
			if res.Live == nil || !res.Live.Agrees || res.Live.Outcome != "connected" {
				t.Fatalf("trace pod-a → svc-b --live: %+v\n%s", res.Live, out)
			}
			took[res.Verdict.Netns] = true
		}
		if len(took) < 2 {
			t.Errorf("20 live probes all took %v", took)
		}
	})
	t.Run("the API resolves a trace's ends and the nodes it reads", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", s.HostKubeconfig())
		if err != nil {
			t.Fatal(err)
		}
		a := netxcluster.NewAPI(kubernetes.NewForConfigOrDie(cfg), "default")
		ctx := context.Background()
		p, err := a.Resolve(ctx, "pod-a", "svc/svc-b", "")
		if err != nil {
			t.Fatal(err)
		}
		var nodes []string
		for _, n := range p.Nodes {
			nodes = append(nodes, n.Name)
		}
		slices.Sort(nodes)
		if p.Src.Pod.Node != "node1" || p.Src.Addr.String() != ip["pod-a"] || p.Dst.Addr.String() != "10.96.57.38" || p.Dst.Port != 80 ||
			len(p.Dst.Service.Endpoints) != 2 || p.Dst.Service.Endpoints[0].Ports["http"] != 8080 || strings.Join(nodes, ",") != "node1,node2" {
			t.Errorf("pod-a → svc/svc-b: %+v %+v, nodes %v", p.Src, p.Dst, nodes)
		}
		if p, err = a.Resolve(ctx, "internet", "node/node2:30080", ""); err != nil || p.Dst.Node.InternalIP.String() != "192.168.77.12" || len(p.Nodes) != 1 {
			t.Errorf("internet → node/node2:30080: %v %+v", err, p)
		}
		if p, err = a.Resolve(ctx, "pod-a", "webapp-hostnet", ""); err != nil || !p.Dst.Pod.HostNetwork || p.Dst.Pod.Node != "node1" {
			t.Errorf("pod-a → webapp-hostnet: %v %+v", err, p)
		}
		if p, err = a.Resolve(ctx, "pod-a", "svc/mc3", ""); err != nil || p.Dst.Service.Type != "NodePort" || p.Dst.ServicePort.NodePort != 30080 || p.Nodes[len(p.Nodes)-1].Name != "node2" {
			t.Errorf("pod-a → svc/mc3: %v %+v", err, p)
		}
		if _, err = a.Resolve(ctx, "pod-a", "svc/nope", ""); err == nil || !strings.Contains(err.Error(), `service "nope" not found in namespace "default"`) {
			t.Errorf("a missing service: %v", err)
		}
	})
	t.Run("netx inspect and trace name the hostNetwork pod", func(t *testing.T) {
		checkHostNetworkPod(t, s, strings.TrimSpace(kubectl(t, s, "get", "pod", "webapp-hostnet", "-o", "jsonpath={.metadata.uid}")))
	})
	t.Run("kubectl exec and logs", func(t *testing.T) {
		if h := strings.TrimSpace(inPod("pod-a", "hostname")); h != "pod-a" {
			t.Errorf("exec hostname: %q", h)
		}
		if logs := kubectl(t, s, "logs", "mc3", "-c", "nginx"); !strings.Contains(logs, "forwarding 127.0.0.1:5000 on :80") || strings.Contains(logs, "forward ") {
			t.Errorf("mc3 nginx logs: want its start line and no failed relay, got %q", logs)
		}
		if logs := kubectl(t, s, "logs", "pod-a"); !strings.Contains(logs, "serving :8080") {
			t.Errorf("pod-a logs: %q", logs)
		}
	})
}

// nodeSnapshots takes a snapshot of each worker as a node agent would
// (its namespace, its containerd, its name, its own pods only) and returns
// the --snapshot flags naming them.
func nodeSnapshots(t *testing.T, s *cluster.Spec) []string {
	t.Helper()
	self, _ := filepath.Abs(filepath.Join("..", "bin", "netx"))
	dir := t.TempDir()
	var snaps []string
	for _, n := range s.Workers {
		f := filepath.Join(dir, n.Name+".json")
		if out, err := s.NodeCommand(n, self, "snapshot", "--host-netns", n.Netns, "--cri-endpoint", s.ContainerdSocket(n),
			"--node-name", n.Name, "--attached-only", "-o", f).CombinedOutput(); err != nil {
			t.Fatalf("netx snapshot of %s: %v: %s", n.Name, err, out)
		}
		snaps = append(snaps, "--snapshot", f)
	}
	return snaps
}

// netx runs the built binary and returns its standard output; a failure
// fails the test with its standard error.
func netx(t *testing.T, args ...string) []byte {
	t.Helper()
	self, _ := filepath.Abs(filepath.Join("..", "bin", "netx"))
	var stderr strings.Builder
	cmd := exec.Command(self, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("netx %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// checkHostNetworkPod: webapp-hostnet (hostNetwork, node1, serving :8090)
// is a pod to netx on the real node. Found through containerd (its
// sandbox's network mode is NODE), listed by inspect, found by
// pod/NAME, named with its container in trace verdicts, its port taken
// from its own process — node1 also has kubelet, kube-proxy and containerd
// listening — and it can be a trace's source.
func checkHostNetworkPod(t *testing.T, s *cluster.Spec, uid string) {
	// The agent pods of the live probes before (hostNetwork pods too)
	// may still be going — their sandboxes stop a moment after the API
	// forgets them: node1 is counted once they are gone. setup's agent
	// (when netx is set up) stays, and is counted.
	if left := runAgentPodsGone(t, s, 30*time.Second); left != "" {
		t.Fatalf("agent pods still there: %s", left)
	}
	stay := len(strings.Fields(kubectl(t, s, "get", "pods", "-A", "-l", "netx.io/setup=true", "--field-selector", "spec.nodeName=node1", "-o", "name")))
	var snaps []string
	var node1 string
	var snap inspect.Snapshot
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		snaps = nodeSnapshots(t, s)
		node1 = snaps[1]
		snap = inspect.Snapshot{}
		if err := json.Unmarshal(netx(t, "inspect", "--snapshot", node1, "-o", "json"), &snap); err != nil {
			t.Fatal(err)
		}
		agents := 0
		for _, p := range snap.HostNetworkPods {
			if strings.HasPrefix(p.Name, "netx-agent-") {
				agents++
			}
		}
		if agents <= stay || time.Now().After(deadline) {
			break
		}
	}
	var hp *inspect.HostNetworkPod
	for i := range snap.HostNetworkPods {
		if snap.HostNetworkPods[i].Name == "webapp-hostnet" {
			hp = &snap.HostNetworkPods[i]
		}
	}
	switch {
	case hp == nil:
		t.Fatalf("node1's snapshot has no hostNetwork pod webapp-hostnet: %+v", snap.HostNetworkPods)
	case hp.Namespace != "default" || hp.UID != uid || !slices.Contains(hp.FoundBy, inspect.SourceCRI) || hp.PausePID == 0:
		t.Errorf("webapp-hostnet: %+v, want default/webapp-hostnet, UID %s, a pause, found by the CRI", hp, uid)
	case len(hp.Containers) != 1 || hp.Containers[0].Name != "webapp" || len(hp.Containers[0].PIDs) == 0 ||
		!slices.Equal(hp.Containers[0].Ports, []inspect.ContainerPort{{Port: 8090, Protocol: "tcp"}}):
		t.Errorf("webapp-hostnet containers: %+v, want webapp with its processes and port 8090/tcp", hp.Containers)
	}
	text := string(netx(t, "inspect", "--snapshot", node1))
	if !strings.Contains(text, fmt.Sprintf("(%d hostNetwork)", 1+stay)) || !slices.ContainsFunc(strings.Split(text, "\n"), func(l string) bool {
		return strings.HasPrefix(l, "default/webapp-hostnet ") && strings.Contains(l, s.Workers[0].IP.String()+" (hostNetwork)")
	}) {
		t.Errorf("netx inspect does not list webapp-hostnet as a hostNetwork pod of node1:\n%s", text)
	}
	var view struct {
		Name        string
		HostNetwork bool
		Listeners   []inspect.Listener
	}
	if err := json.Unmarshal(netx(t, "inspect", "--snapshot", node1, "pod/webapp-hostnet", "-o", "json"), &view); err != nil {
		t.Fatal(err)
	}
	if view.Name != "webapp-hostnet" || !view.HostNetwork || !slices.ContainsFunc(view.Listeners, func(l inspect.Listener) bool {
		return l.Port == 8090 && l.Container == "webapp"
	}) {
		t.Errorf("inspect pod/webapp-hostnet: %+v, want the pod with its socket on 8090 (container webapp)", view)
	}
	if text := string(netx(t, "inspect", "--snapshot", node1, "pod/webapp-hostnet")); !strings.Contains(text, "pod default/webapp-hostnet (hostNetwork") {
		t.Errorf("inspect pod/webapp-hostnet:\n%s", text)
	}

	type result struct {
		Src, Dst struct {
			Name        string
			HostNetwork bool
		}
		Packet  struct{ DPort uint16 }
		Verdict struct {
			Kind, Node, Pod, Container string
			HostNetwork                bool
		}
		Reply    *struct{ Verdict struct{ Kind string } }
		Warnings []string
		Live     *struct {
			Agrees     bool
			Outcome    string
			Divergence string
		}
	}
	trace := func(src, dst string, live bool) result {
		args := append([]string{"trace", src, dst, "-o", "json"}, snaps...)
		if live {
			// The nodes are machines of their own: a probe across them
			// goes through their agents (cluster mode), as from a laptop.
			args = []string{"trace", src, dst, "-o", "json", "--live", "--kubeconfig", s.HostKubeconfig()}
		}
		out := netx(t, args...)
		var res result
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		if res.Reply == nil || res.Reply.Verdict.Kind != "delivered" || len(res.Warnings) > 0 || live && (res.Live == nil || !res.Live.Agrees || res.Live.Outcome != "connected") {
			t.Errorf("trace %s %s (live %v): reply, warnings or live probe wrong:\n%s", src, dst, live, out)
		}
		return res
	}
	for _, dst := range []string{"webapp-hostnet", "pod/webapp-hostnet", "default/webapp-hostnet"} {
		for _, live := range []bool{false, true} {
			r := trace("pod-a", dst, live)
			if v := r.Verdict; v.Kind != "delivered" || v.Pod != "default/webapp-hostnet" || v.Container != "webapp" || !v.HostNetwork || v.Node != "node1" || r.Packet.DPort != 8090 || !r.Dst.HostNetwork {
				t.Errorf("trace pod-a %s: verdict %+v to port %d, want delivered to pod default/webapp-hostnet container webapp (hostNetwork) on node1, port 8090", dst, v, r.Packet.DPort)
			}
		}
	}
	for _, live := range []bool{false, true} {
		r := trace("webapp-hostnet", "pod-a", live)
		if v := r.Verdict; v.Kind != "delivered" || v.Pod != "default/pod-a" || v.HostNetwork || r.Src.Name != "default/webapp-hostnet" || !r.Src.HostNetwork {
			t.Errorf("trace webapp-hostnet pod-a: from %+v, verdict %+v, want from the hostNetwork pod to pod-a", r.Src, v)
		}
	}
	// A name that is no pod: the line names the destination and lists
	// the pods found, the hostNetwork one too.
	self, _ := filepath.Abs(filepath.Join("..", "bin", "netx"))
	out, err := exec.Command(self, append([]string{"trace", "pod-a", "no-such-pod"}, snaps...)...).CombinedOutput()
	if err == nil || !strings.HasPrefix(string(out), `error: destination "no-such-pod"`) || !strings.Contains(string(out), "default/webapp-hostnet (hostNetwork)") || strings.Count(string(out), "\n") != 1 {
		t.Errorf("trace to a missing pod: %v: %q, want one line naming the destination and listing default/webapp-hostnet (hostNetwork)", err, out)
	}
}

// inNode runs a command inside a node's network namespace.
func inNode(t *testing.T, n cluster.Node, name string, args ...string) string {
	t.Helper()
	out, err := inNodeErr(n, name, args...)
	if err != nil {
		t.Fatalf("%s %v on %s: %v: %s", name, args, n.Name, err, out)
	}
	return out
}

func inNodeErr(n cluster.Node, name string, args ...string) (string, error) {
	out, err := nsenter.Output(nsenter.Net(n.Netns), nil, name, args...)
	return string(out), err
}

// saveDumps refreshes testdata/cluster/<mode>/: real rules of a real
// kube-proxy with the Services and EndpointSlices they came from, the
// input trace's table tests run on (make testdata-cluster).
func saveDumps(t *testing.T, s *cluster.Spec, ipt, nft string) {
	dir := filepath.Join("..", "testdata", "cluster", s.ProxyMode)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"objects.yaml": kubectl(t, s, "get", "nodes,pods,services,endpointslices", "-A", "-o", "yaml"),
	}
	for _, n := range s.Workers {
		if s.ProxyMode == "nftables" {
			files[n.Name+".nft"] = inNode(t, n, "nft", "list", "ruleset")
		}
		files[n.Name+".iptables-save"] = inNode(t, n, "iptables-save")
		files[n.Name+".routes"] = inNode(t, n, "ip", "route", "show", "table", "all")
		files[n.Name+".links"] = inNode(t, n, "ip", "-d", "link", "show")
		self, _ := filepath.Abs(filepath.Join("..", "bin", "netx"))
		snap, err := s.NodeCommand(n, self, "snapshot", "--host-netns", n.Netns, "--cri-endpoint", s.ContainerdSocket(n),
			"--node-name", n.Name, "--attached-only").Output()
		if err != nil {
			t.Fatalf("netx snapshot of %s: %v", n.Name, err)
		}
		files[n.Name+".snapshot.json"] = string(snap)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("saved %d dumps to %s", len(files), dir)
}
