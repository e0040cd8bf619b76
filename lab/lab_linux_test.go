package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/lab/labstate"
	"golang.org/x/sys/unix"
)

func buildNetx(t *testing.T) string { return testenv.NetxBinary(t) }

// testLab loads a shipped topology under a unique lab name, so tests never
// meet a user's lab (or each other's).
func testLab(t *testing.T, file string) *Lab {
	t.Helper()
	top, err := LoadFile(filepath.Join("topologies", file))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	top.Name = "t" + hex.EncodeToString(b)
	lab, err := top.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	return lab
}

func hostDump(t *testing.T) string {
	t.Helper()
	d, err := testenv.HostDump()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func requireSameHost(t *testing.T, before string) {
	t.Helper()
	// Namespace teardown is asynchronous in the kernel; give it a moment.
	var after string
	for i := 0; i < 50; i++ {
		if after = hostDump(t); after == before {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	a, b := testenv.DiffLines(before, after)
	t.Fatalf("host state changed:\nonly before:\n  %s\nonly after:\n  %s", strings.Join(a, "\n  "), strings.Join(b, "\n  "))
}

// upLab builds lab and registers its removal.
func upLab(t *testing.T, lab *Lab) *UpReport {
	t.Helper()
	bin := buildNetx(t)
	t.Cleanup(func() {
		if _, err := Down(context.Background(), lab.Name); err != nil {
			t.Errorf("cleanup down: %v", err)
		}
	})
	var explain bytes.Buffer
	rep, err := Up(context.Background(), lab, UpOptions{Self: bin, Source: "test", Explain: &explain})
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if !strings.Contains(explain.String(), "ip netns add "+NetnsName(lab.Name, lab.Nodes[0].Name)) {
		t.Errorf("--explain does not narrate the node namespace:\n%s", explain.String())
	}
	requirePodBinary(t, lab.Name)
	return rep
}

// requirePodBinary: every pause and built-in container of the lab runs
// netx-pod, which sits next to the test's netx.
func requirePodBinary(t *testing.T, lab string) {
	t.Helper()
	dirs, _ := os.ReadDir("/proc")
	n := 0
	for _, d := range dirs {
		cmdline, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err != nil || !isLabProcess(string(cmdline), lab) {
			continue
		}
		n++
		if exe, err := os.Readlink("/proc/" + d.Name() + "/exe"); err == nil && filepath.Base(exe) != PodBinary {
			t.Errorf("lab process %s (%q) runs %s, want %s", d.Name(), strings.ReplaceAll(string(cmdline), "\x00", " "), exe, PodBinary)
		}
	}
	if n == 0 {
		t.Errorf("no process of lab %s found", lab)
	}
}

// get runs `netx datapath get addr` inside pod (via Exec) and returns the
// reply; count > 1 makes count connections.
func get(t *testing.T, lab *Lab, pod, addr string, count int) string {
	t.Helper()
	var out, errb bytes.Buffer
	code, err := Exec(ExecOptions{Lab: lab.Name, Pod: pod, Self: buildNetx(t),
		Argv:   []string{"netx", "datapath", "get", "--timeout", "3s", "-n", fmt.Sprint(count), addr},
		Stdout: &out, Stderr: &errb})
	if err != nil || code != 0 {
		t.Fatalf("from pod %s get %s: exit %d, %v: %s%s", pod, addr, code, err, out.String(), errb.String())
	}
	return out.String()
}

// getFrom runs the client inside a named namespace (an external client).
func getFrom(t *testing.T, netns, addr string) string {
	t.Helper()
	out, err := nsenter.Output(nsenter.Net(netns), nil, buildNetx(t), "datapath", "get", "--timeout", "3s", addr)
	if err != nil {
		t.Fatalf("from %s get %s: %v: %s", netns, addr, err, out)
	}
	return string(out)
}

// serveIn starts netx's server inside a namespace (e.g. an external
// client's), with any further flags (--udp), and stops it, by its PID,
// when the test ends.
func serveIn(t *testing.T, netns, listen string, flags ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(buildNetx(t), append([]string{"datapath", "serve", "--listen", listen}, flags...)...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = append(os.Environ(), ReadyEnv+"=3")
	if err := nsenter.Start(nsenter.Net(netns), cmd); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	r.Close()
	if string(buf[:n]) != "ok" {
		t.Fatalf("server in %s: %q", netns, buf[:n])
	}
	return cmd
}

func field(reply, key string) string {
	for _, f := range strings.Fields(reply) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

func podIP(lab *Lab, name string) string {
	for _, p := range lab.Pods {
		if p.Name == name {
			return p.IP.String()
		}
	}
	return ""
}

func nodeIP(lab *Lab, name string) string {
	for _, n := range lab.Nodes {
		if n.Name == name {
			return n.IP.String()
		}
	}
	return ""
}

func service(lab *Lab, name string) *LabService {
	for _, s := range lab.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// reachesAll sends n requests from pod to addr and checks every expected
// endpoint pod answered at least once.
func reachesAll(t *testing.T, lab *Lab, from, addr string, n int, want ...string) {
	t.Helper()
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(get(t, lab, from, addr, n)), "\n") {
		seen[field(line, "pod")]++
	}
	for _, w := range want {
		if seen["default/"+w] == 0 {
			t.Errorf("%s -> %s: %d requests never reached %s (reached %v)", from, addr, n, w, seen)
		}
	}
}

func TestRootSeedsLab(t *testing.T) {
	testenv.RequireRoot(t)
	before := hostDump(t)
	lab := testLab(t, "seeds.yaml")
	rep := upLab(t, lab)

	// The seed's two nginx on :80 in one pod: the second fails, as in the tutorial.
	conflict := false
	for _, c := range rep.Containers {
		if c.Pod == "default/onepod-multicontainer01" && c.Container == "nginx2" {
			conflict = strings.Contains(c.Error, "address already in use") && c.Expected
		} else if c.Error != "" {
			t.Errorf("container %s/%s failed: %s", c.Pod, c.Container, c.Error)
		}
	}
	if !conflict {
		t.Errorf("nginx2 did not fail with address in use: %+v", rep.Containers)
	}
	st, err := labstate.Get(lab.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Pods {
		if !p.Running || p.PID == 0 || p.Netns == "" {
			t.Errorf("pod %s: running=%v pid=%d netns=%q", p.Name, p.Running, p.PID, p.Netns)
		}
		if p.Name == "onepod-multicontainer01" {
			if r, n := p.Ready(); r != 1 || n != 2 || p.Phase() != "Error" {
				t.Errorf("conflict pod: %d/%d %s, want 1/2 Error", r, n, p.Phase())
			}
		}
	}

	t.Run("container to container over localhost", func(t *testing.T) {
		r := get(t, lab, "mc3", "127.0.0.1:80", 1) // nginx :80 -> webapp :5000
		if field(r, "container") != "webapp" || field(r, "hostname") != "mc3" {
			t.Errorf("reply %q: want the webapp container of mc3", r)
		}
	})
	t.Run("pod to pod on one node", func(t *testing.T) {
		r := get(t, lab, "pod-a", podIP(lab, "b-1")+":8080", 1)
		if field(r, "pod") != "default/b-1" || !strings.HasPrefix(field(r, "client"), podIP(lab, "pod-a")+":") {
			t.Errorf("reply %q: want b-1 seeing pod-a's own address", r)
		}
	})
	t.Run("pod to pod across nodes (host-gw)", func(t *testing.T) {
		r := get(t, lab, "pod-a", podIP(lab, "b-2")+":8080", 1)
		if field(r, "pod") != "default/b-2" || field(r, "node") != "node2" || !strings.HasPrefix(field(r, "client"), podIP(lab, "pod-a")+":") {
			t.Errorf("reply %q: want b-2 on node2 seeing pod-a's own address (no SNAT between pods)", r)
		}
	})
	t.Run("pod to ClusterIP reaches every endpoint", func(t *testing.T) {
		svc := service(lab, "svc-b")
		reachesAll(t, lab, "pod-a", fmt.Sprintf("%s:%d", svc.ClusterIP, svc.Ports[0].Port), 40, "b-1", "b-2")
	})
	t.Run("pod reaches itself through its service (hairpin)", func(t *testing.T) {
		svc := service(lab, "svc-b")
		reachesAll(t, lab, "b-1", fmt.Sprintf("%s:%d", svc.ClusterIP, svc.Ports[0].Port), 40, "b-1", "b-2")
	})
	client := lab.Clients[0].Netns
	t.Run("external client to NodePort", func(t *testing.T) {
		for _, n := range lab.Nodes { // mc3 runs on node2; node1 forwards
			r := getFrom(t, client, nodeIP(lab, n.Name)+":30080")
			if field(r, "pod") != "default/mc3" {
				t.Errorf("NodePort on %s: reply %q, want mc3", n.Name, r)
			}
		}
	})
	t.Run("external client to hostPort", func(t *testing.T) {
		r := getFrom(t, client, nodeIP(lab, "node2")+":8081")
		if field(r, "pod") != "default/webapp-hostport" || !strings.HasPrefix(field(r, "server"), podIP(lab, "webapp-hostport")+":8080") {
			t.Errorf("hostPort reply %q", r)
		}
	})
	t.Run("external client to hostNetwork pod", func(t *testing.T) {
		r := getFrom(t, client, nodeIP(lab, "node1")+":8090")
		if field(r, "pod") != "default/webapp-hostnet" || field(r, "hostname") != "node1" {
			t.Errorf("hostNetwork reply %q: want the node's hostname", r)
		}
	})
	t.Run("pod to the Internet is masqueraded", func(t *testing.T) {
		serveIn(t, client, ":9000")
		r := get(t, lab, "pod-a", lab.Clients[0].IP.String()+":9000", 1)
		if !strings.HasPrefix(field(r, "client"), nodeIP(lab, "node1")+":") {
			t.Errorf("pod-a -> internet: the client saw %q, want node1's address (masquerade)", field(r, "client"))
		}
		// Like flannel, only pod -> pod stays unmasqueraded: a pod reaching
		// another node's own address leaves the cluster CIDR too.
		r = get(t, lab, "b-2", nodeIP(lab, "node1")+":8090", 1)
		if !strings.HasPrefix(field(r, "client"), nodeIP(lab, "node2")+":") {
			t.Errorf("b-2 -> node1: the hostNetwork server saw %q, want node2's address", field(r, "client"))
		}
	})

	// up again is a no-op that reports reuse, and traffic still flows.
	rep2, err := Up(context.Background(), lab, UpOptions{Self: buildNetx(t), Source: "test"})
	if err != nil || !rep2.Reused {
		t.Fatalf("second up: reused=%v err=%v", rep2 != nil && rep2.Reused, err)
	}
	get(t, lab, "pod-a", podIP(lab, "b-2")+":8080", 1)

	pauses := st.Pods
	down, err := Down(context.Background(), lab.Name)
	if err != nil || !down.Found || down.Namespaces != 4 {
		t.Fatalf("down: %+v %v", down, err)
	}
	for _, p := range pauses {
		if labstate.Running(p.PID) {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID)); bytes.Contains(b, []byte(lab.Name)) {
				t.Errorf("pause of %s (pid %d) still runs after down", p.Name, p.PID)
			}
		}
	}
	requireSameHost(t, before)
	again, err := Down(context.Background(), lab.Name)
	if err != nil || again.Found {
		t.Fatalf("second down: %+v %v", again, err)
	}
}

func TestRootVXLANNFTablesLab(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("nft is not installed (make setup installs it)")
	}
	before := hostDump(t)
	lab := testLab(t, "vxlan-nftables.yaml")
	upLab(t, lab)
	out, err := exec.Command("ip", "-n", NetnsName(lab.Name, "node1"), "-d", "link", "show", VXLANName).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("vxlan id 1")) || !bytes.Contains(out, []byte("dstport 8472")) {
		t.Fatalf("flannel.1 on node1: %v %s", err, out)
	}
	nft, err := exec.Command("ip", "netns", "exec", NetnsName(lab.Name, "node1"), "nft", "list", "table", "ip", "kube-proxy").CombinedOutput()
	if err != nil || !bytes.Contains(nft, []byte("numgen random mod 2")) {
		t.Fatalf("kube-proxy nftables table on node1: %v\n%s", err, nft)
	}
	ipt, _ := exec.Command("ip", "netns", "exec", NetnsName(lab.Name, "node1"), "iptables-save", "-t", "nat").CombinedOutput()
	if bytes.Contains(ipt, []byte("KUBE-SVC-")) {
		t.Errorf("nftables mode must not write kube-proxy iptables chains:\n%s", ipt)
	}
	t.Run("pod to pod across nodes (vxlan)", func(t *testing.T) {
		r := get(t, lab, "pod-a", podIP(lab, "b-2")+":8080", 1)
		if field(r, "pod") != "default/b-2" || !strings.HasPrefix(field(r, "client"), podIP(lab, "pod-a")+":") {
			t.Errorf("reply %q", r)
		}
	})
	t.Run("pod to ClusterIP (nftables) reaches every endpoint", func(t *testing.T) {
		svc := service(lab, "svc-b")
		reachesAll(t, lab, "pod-a", fmt.Sprintf("%s:%d", svc.ClusterIP, svc.Ports[0].Port), 40, "b-1", "b-2")
	})
	t.Run("external client to NodePort (nftables) on both nodes", func(t *testing.T) {
		seen := map[string]bool{}
		for i := 0; i < 10; i++ {
			for _, n := range lab.Nodes {
				seen[field(getFrom(t, lab.Clients[0].Netns, nodeIP(lab, n.Name)+":30080"), "pod")] = true
			}
		}
		if !seen["default/b-1"] || !seen["default/b-2"] {
			t.Errorf("NodePort reached %v, want both b-1 and b-2", seen)
		}
	})
	t.Run("external client to hostPort", func(t *testing.T) {
		if r := getFrom(t, lab.Clients[0].Netns, nodeIP(lab, "node2")+":8081"); field(r, "pod") != "default/webapp-hostport" {
			t.Errorf("hostPort reply %q", r)
		}
	})
	if _, err := Down(context.Background(), lab.Name); err != nil {
		t.Fatal(err)
	}
	requireSameHost(t, before)
}

// TestRootKilledUpThenDown kills `netx datapath up` with SIGKILL while it is
// building, then checks down leaves nothing behind.
func TestRootKilledUpThenDown(t *testing.T) {
	testenv.RequireRoot(t)
	bin := buildNetx(t)
	before := hostDump(t)
	for _, after := range []int{2, 8, 15} { // journal records written before the kill
		lab := testLab(t, "seeds.yaml")
		dir := t.TempDir()
		topo := filepath.Join(dir, "lab.yaml")
		src, err := os.ReadFile(filepath.Join("topologies", "seeds.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(topo, bytes.Replace(src, []byte("name: seeds"), []byte("name: "+lab.Name), 1), 0o644)
		cmd := exec.Command(bin, "datapath", "up", "-q", "-f", topo)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		st := StateFor(lab.Name)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			recs, _ := st.Records()
			if len(recs) >= after {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		recs, _ := st.Records()
		t.Logf("killed up after %d journal records", len(recs))
		// The lab's namespaces as they are now, to prove none keeps a process.
		ids := labNamespaces(t, lab.Name, recs)
		rep, err := Down(context.Background(), lab.Name)
		if err != nil {
			t.Fatalf("down after kill at %d records: %v", after, err)
		}
		if !rep.Found {
			t.Errorf("down after kill at %d records found nothing", after)
		}
		for _, pid := range sweep(lab.Name, ids) {
			t.Errorf("process %d of lab %s survived down", pid, lab.Name)
		}
	}
	requireSameHost(t, before)
}

// labNamespaces lists a lab's network namespaces: the named ones and every
// pod's, from the journal.
func labNamespaces(t *testing.T, lab string, recs []labstate.Record) map[nsenter.ID]string {
	t.Helper()
	ids := map[nsenter.ID]string{}
	paths, _ := filepath.Glob(filepath.Join(NetnsDir, NetnsName(lab, "*")))
	for _, p := range paths {
		if id, err := nsenter.IDOf(p); err == nil {
			ids[id] = p
		}
	}
	for _, r := range recs {
		if r.Role == labstate.RolePause && r.NetnsIno != 0 {
			ids[nsenter.ID{Dev: r.NetnsDev, Ino: r.NetnsIno}] = r.Pod
		}
	}
	for _, h := range nsenter.HostNetIDs() {
		if _, ok := ids[h]; ok {
			t.Fatalf("lab %s lists the host's namespace", lab)
		}
	}
	return ids
}

// TestRootConcurrentUp runs two ups of one lab at once: the lock serialises
// them, one builds and the other finds it built.
func TestRootConcurrentUp(t *testing.T) {
	testenv.RequireRoot(t)
	bin := buildNetx(t)
	lab := testLab(t, "minimal.yaml")
	t.Cleanup(func() { Down(context.Background(), lab.Name) })
	var wg sync.WaitGroup
	reps := make([]*UpReport, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = Up(context.Background(), lab, UpOptions{Self: bin, Source: "test"})
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("concurrent ups: %v / %v", errs[0], errs[1])
	}
	if reps[0].Reused == reps[1].Reused {
		t.Errorf("exactly one up should build and one reuse: %v %v", reps[0].Reused, reps[1].Reused)
	}
	svc := lab.Services[0]
	reachesAll(t, lab, "client", fmt.Sprintf("%s:%d", svc.ClusterIP, svc.Ports[0].Port), 5, "web")
}

func TestRootUpRejectsChangedTopology(t *testing.T) {
	testenv.RequireRoot(t)
	lab := testLab(t, "minimal.yaml")
	upLab(t, lab)
	changed := *lab
	changed.Proxy = ProxyNFTables
	_, err := Up(context.Background(), &changed, UpOptions{Self: buildNetx(t), Source: "changed"})
	if _, ok := err.(*ConflictError); !ok {
		t.Fatalf("up of a changed topology over a running lab: %v, want ConflictError", err)
	}
}

func TestRootExecErrors(t *testing.T) {
	testenv.RequireRoot(t)
	lab := testLab(t, "minimal.yaml")
	upLab(t, lab)
	_, err := Exec(ExecOptions{Lab: lab.Name, Pod: "nope", Argv: []string{"true"}})
	if _, ok := err.(*PodNotFoundError); !ok || !strings.Contains(err.Error(), "default/web") {
		t.Errorf("unknown pod: %v", err)
	}
	_, err = Exec(ExecOptions{Lab: lab.Name, Pod: "web", Container: "zzz", Argv: []string{"true"}})
	if err == nil || !strings.Contains(err.Error(), "containers are: web") {
		t.Errorf("unknown container: %v", err)
	}
	code, err := Exec(ExecOptions{Lab: lab.Name, Pod: "web", Argv: []string{"false"}})
	if err != nil || code != 1 {
		t.Errorf("exit code of false: %d %v", code, err)
	}
	var out bytes.Buffer
	if _, err := Exec(ExecOptions{Lab: lab.Name, Pod: "web", Argv: []string{"hostname"}, Stdout: &out}); err != nil || strings.TrimSpace(out.String()) != "web" {
		t.Errorf("hostname in pod web: %q %v", out.String(), err)
	}
}

// TestRootKilledUpThenUpAgain: an up killed half way is finished by the
// next up, and the lab then works like one built in one go.
func TestRootKilledUpThenUpAgain(t *testing.T) {
	testenv.RequireRoot(t)
	bin := buildNetx(t)
	lab := testLab(t, "seeds.yaml")
	topo := filepath.Join(t.TempDir(), "lab.yaml")
	src, err := os.ReadFile(filepath.Join("topologies", "seeds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(topo, bytes.Replace(src, []byte("name: seeds"), []byte("name: "+lab.Name), 1), 0o644)
	t.Cleanup(func() { Down(context.Background(), lab.Name) })
	cmd := exec.Command(bin, "datapath", "up", "-q", "-f", topo)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st := StateFor(lab.Name)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Microsecond) {
		if recs, _ := st.Records(); len(recs) >= 9 { // namespaces and some pauses
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if s, err := labstate.Get(lab.Name); err != nil || s.Complete {
		t.Fatalf("after the kill the lab must read as incomplete: %v %v", s != nil && s.Complete, err)
	}
	rep, err := Up(context.Background(), lab, UpOptions{Self: bin, Source: topo})
	if err != nil {
		t.Fatalf("up after a killed up: %v", err)
	}
	if !rep.Resumed {
		t.Error("up after a killed up does not report that it resumed")
	}
	s, err := labstate.Get(lab.Name)
	if err != nil || !s.Complete {
		t.Fatalf("status after resume: complete=%v %v", s != nil && s.Complete, err)
	}
	for _, p := range s.Pods {
		if !p.Running {
			t.Errorf("pod %s not running after resume", p.Name)
		}
	}
	svc := service(lab, "svc-b")
	reachesAll(t, lab, "pod-a", fmt.Sprintf("%s:%d", svc.ClusterIP, svc.Ports[0].Port), 40, "b-1", "b-2")
	if r := get(t, lab, "pod-a", podIP(lab, "b-2")+":8080", 1); field(r, "pod") != "default/b-2" {
		t.Errorf("cross-node after resume: %q", r)
	}
}

// TestRootUpFailsEarlyAndReturns: a failure in an early phase returns an
// error (it used to hang waiting for the rule loader), and down cleans up.
func TestRootUpFailsEarlyAndReturns(t *testing.T) {
	testenv.RequireRoot(t)
	before := hostDump(t)
	lab := testLab(t, "seeds.yaml")
	// A plain file where node2's namespace would be mounted.
	blocker := lab.Nodes[1].Netns
	if err := os.WriteFile(blocker, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(blocker) })
	done := make(chan error, 1)
	go func() {
		_, err := Up(context.Background(), lab, UpOptions{Self: buildNetx(t), Source: "test"})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "node2") {
			t.Fatalf("up with node2's namespace path blocked: %v, want an error naming node2", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up did not return after failing")
	}
	if _, err := Down(context.Background(), lab.Name); err != nil {
		t.Fatal(err)
	}
	requireSameHost(t, before)
}

// TestRootRefusesHostNamespace: a bind mount of the host's namespace at a
// lab path is neither configured by up nor emptied by down.
func TestRootRefusesHostNamespace(t *testing.T) {
	testenv.RequireRoot(t)
	lab := testLab(t, "minimal.yaml")
	made, err := nsenter.PrepareNetnsDir(NetnsDir)
	if err != nil {
		t.Fatal(err)
	}
	trap := lab.Nodes[0].Netns
	if err := os.WriteFile(trap, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("/proc/self/ns/net", trap, "none", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Unmount(trap, unix.MNT_DETACH)
		os.Remove(trap)
		os.RemoveAll(StateFor(lab.Name).Dir)
		// Only the fabric was made; remove it by hand, not with Down.
		nsenter.RemoveNamed(lab.Fabric)
		if made {
			nsenter.ReleaseNetnsDir(NetnsDir)
		}
	})
	before := hostDump(t)
	_, err = Up(context.Background(), lab, UpOptions{Self: buildNetx(t), Source: "test"})
	if err == nil || !strings.Contains(err.Error(), "host's network namespace") {
		t.Fatalf("up over a bind mount of the host namespace: %v", err)
	}
	if _, err := Down(context.Background(), lab.Name); err == nil || !strings.Contains(err.Error(), "nothing was removed") {
		t.Fatalf("down of a lab naming the host namespace: %v", err)
	}
	// The fabric namespace was made before the trap was found; everything
	// else — the host's links, addresses, routes, rules, sysctls — is as it was.
	a, b := testenv.DiffLines(before, hostDump(t))
	for _, l := range append(a, b...) {
		if !strings.Contains(l, lab.Fabric[len(NetnsDir)+1:]) {
			t.Errorf("host changed: %q", l)
		}
	}
}

// TestRootForwardFromHost: a forwarder on the host's loopback reaches a
// service that exists only inside a lab node (how the e2e cluster's API
// server is reached without touching the host's network).
func TestRootForwardFromHost(t *testing.T) {
	testenv.RequireRoot(t)
	lab := testLab(t, "minimal.yaml")
	upLab(t, lab)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	svc := lab.Services[0]
	cmd := exec.Command(buildNetx(t), "datapath", "forward", "--listen", addr,
		"--to", fmt.Sprintf("%s:%d", svc.ClusterIP, svc.Ports[0].Port), "--to-netns", lab.Nodes[0].Netns)
	r, w, _ := os.Pipe()
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = append(os.Environ(), ReadyEnv+"=3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if msg, err := readReady(r, time.Now().Add(readyTimeout)); msg != "ok" {
		t.Fatalf("forwarder: %q %v", msg, err)
	}
	body, err := Get(context.Background(), addr, 3*time.Second)
	if err != nil || field(body, "pod") != "default/web" {
		t.Fatalf("host 127.0.0.1 -> lab service through the forwarder: %q %v", body, err)
	}
}
