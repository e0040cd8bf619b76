package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/lab"
	"github.com/netx-project/netx/lab/labstate"
	"golang.org/x/sys/unix"
)

// DefaultSpec is the cluster the e2e tests use: a control node and two
// workers (node1, node2) on the lab underlay, pod CIDRs as in the seeds.
func DefaultSpec(dir, bin, version, proxyMode string) *Spec {
	const plan = "e2e"
	node := func(name, ip, cidr string) Node {
		return Node{Name: name, IP: netip.MustParseAddr(ip), PodCIDR: netip.MustParsePrefix(cidr),
			Netns: lab.NetnsPath(lab.NetnsName(plan, name))}
	}
	return &Spec{
		Lab: plan, Dir: dir, Bin: bin, Version: version, ProxyMode: proxyMode,
		ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16"),
		ServiceCIDR: netip.MustParsePrefix("10.96.0.0/16"),
		Control:     node("control", "192.168.77.10", "10.244.250.0/24"),
		Workers:     []Node{node("node1", "192.168.77.11", "10.244.1.0/24"), node("node2", "192.168.77.12", "10.244.2.0/24")},
		HostPort:    16443,
		CNI:         CNIBridge,
	}
}

// Options for Up.
type Options struct {
	// Self is the netx binary (the lab's pause, and the host forwarder).
	Self string
	// Images is the directory of e2e/images.sh's layouts.
	Images string
	// AgentImage is the name netx.tar (the netx image) is imported under:
	// the one cluster mode names by default, so a user runs it with no
	// --image. Empty: not imported.
	AgentImage string
	Progress   io.Writer
}

// proc is a process the cluster started, identified by PID and start time.
type proc struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

func (s *Spec) say(o Options, format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// kernelTunables are the host-wide sysctls kubelet sets when it starts;
// Up saves them and Down puts them back, leaving the machine as found.
var kernelTunables = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

// Up starts the cluster and waits until every node is Ready.
func Up(ctx context.Context, s *Spec, o Options) error {
	t0 := time.Now()
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"} {
		if _, err := os.Stat(filepath.Join(s.Bin, b)); err != nil {
			return fmt.Errorf("%s is not built: run e2e/build-k8s.sh (%w)", b, err)
		}
	}
	for _, t := range []string{"etcd", "containerd", "ctr", "runc"} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("%s is not installed: apt-get install etcd-server containerd runc", t)
		}
	}
	for _, d := range []string{"pki", "logs", "etcd"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o700); err != nil {
			return err
		}
	}
	if err := saveTunables(s); err != nil {
		return err
	}
	if err := saveMissingDirs(s); err != nil {
		return err
	}

	if s.NoCNI() {
		s.say(o, "network: netx lab %s (control + %d workers, no pod network)", s.Lab, len(s.Workers))
	} else {
		s.say(o, "network: netx lab %s (control + %d workers, host-gw)", s.Lab, len(s.Workers))
	}
	top, err := lab.Parse(s.Lab+".yaml", []byte(s.NetworkTopology()))
	if err != nil {
		return err
	}
	plan, err := top.Resolve()
	if err != nil {
		return err
	}
	if _, err := lab.Up(ctx, plan, lab.UpOptions{Self: o.Self, Source: "e2e cluster"}); err != nil {
		return err
	}

	s.say(o, "certificates")
	if err := s.writePKI(); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if err := s.writeConfigs(); err != nil {
		return err
	}

	s.say(o, "control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler")
	pki := func(n string) string { return filepath.Join(s.Dir, "pki", n) }
	ctl := s.Control.Netns
	if err := s.start(ctl, "etcd", "etcd", "--name", "control", "--data-dir", filepath.Join(s.Dir, "etcd"),
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "control=http://127.0.0.1:2380"); err != nil {
		return err
	}
	if err := s.start(ctl, "kube-apiserver", filepath.Join(s.Bin, "kube-apiserver"),
		"--etcd-servers=http://127.0.0.1:2379", "--bind-address=0.0.0.0", fmt.Sprintf("--secure-port=%d", APIPort),
		"--advertise-address="+s.Control.IP.String(), "--service-cluster-ip-range="+s.ServiceCIDR.String(),
		"--service-node-port-range=30000-32767",
		"--tls-cert-file="+pki("apiserver.crt"), "--tls-private-key-file="+pki("apiserver.key"), "--client-ca-file="+pki("ca.crt"),
		"--kubelet-client-certificate="+pki("apiserver-kubelet-client.crt"), "--kubelet-client-key="+pki("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki("sa.pub"), "--service-account-signing-key-file="+pki("sa.key"),
		"--authorization-mode=Node,RBAC", "--allow-privileged=true"); err != nil {
		return err
	}
	if err := s.waitAPI(ctx, 90*time.Second); err != nil {
		return err
	}
	if err := s.start(ctl, "kube-controller-manager", filepath.Join(s.Bin, "kube-controller-manager"),
		"--kubeconfig="+s.kubeconfigPath("kube-controller-manager"),
		"--authentication-kubeconfig="+s.kubeconfigPath("kube-controller-manager"),
		"--authorization-kubeconfig="+s.kubeconfigPath("kube-controller-manager"),
		"--service-account-private-key-file="+pki("sa.key"), "--root-ca-file="+pki("ca.crt"),
		"--cluster-signing-cert-file="+pki("ca.crt"), "--cluster-signing-key-file="+pki("ca.key"),
		"--use-service-account-credentials", "--leader-elect=false", "--bind-address=127.0.0.1",
		"--service-cluster-ip-range="+s.ServiceCIDR.String()); err != nil {
		return err
	}
	if err := s.start(ctl, "kube-scheduler", filepath.Join(s.Bin, "kube-scheduler"),
		"--kubeconfig="+s.kubeconfigPath("kube-scheduler"),
		"--authentication-kubeconfig="+s.kubeconfigPath("kube-scheduler"),
		"--authorization-kubeconfig="+s.kubeconfigPath("kube-scheduler"),
		"--leader-elect=false", "--bind-address=127.0.0.1"); err != nil {
		return err
	}
	// The API server on the host's loopback, through a forwarder that dials
	// inside the control namespace: the host's network is not touched.
	if err := s.startHost("apiserver-forward", o.Self, "datapath", "forward",
		"--listen", fmt.Sprintf("127.0.0.1:%d", s.HostPort),
		"--to", fmt.Sprintf("%s:%d", s.Control.IP, APIPort), "--to-netns", ctl); err != nil {
		return err
	}

	for _, n := range s.Workers {
		s.say(o, "worker %s: containerd, images, kubelet, kube-proxy (%s mode)", n.Name, s.ProxyMode)
		if err := s.startWorker(ctx, n, o); err != nil {
			return fmt.Errorf("worker %s: %w", n.Name, err)
		}
	}
	// Each node's pod CIDR goes into its Node object, as the controller
	// manager's allocator would write it (the same CIDR the lab planned),
	// for a CNI that reads it from there.
	s.say(o, "waiting for nodes to register; their pod CIDRs")
	if err := s.setPodCIDRs(ctx, 2*time.Minute); err != nil {
		return err
	}
	if s.NoCNI() {
		s.say(o, "no CNI: the nodes stay NotReady until one is installed (kubectl netx setup --cni)")
	} else {
		s.say(o, "waiting for nodes to be Ready")
		if err := s.waitNodesReady(ctx, 3*time.Minute); err != nil {
			return err
		}
	}
	// Pods cannot be created until the controller manager has made the
	// namespace's default service account.
	if err := s.waitFor(ctx, time.Minute, "the default service account", func() error {
		_, err := s.Kubectl(ctx, "get", "serviceaccount", "default", "-n", "default")
		return err
	}); err != nil {
		return err
	}
	s.say(o, "cluster ready in %s; export KUBECONFIG=%s", time.Since(t0).Round(100*time.Millisecond), s.HostKubeconfig())
	return nil
}

// HostKubeconfig is the kubeconfig for kubectl on the host.
func (s *Spec) HostKubeconfig() string { return filepath.Join(s.Dir, "kubeconfig") }

func (s *Spec) kubeconfigPath(user string) string {
	return filepath.Join(s.Dir, user+".kubeconfig")
}

func (s *Spec) writePKI() error {
	p, err := NewPKI(filepath.Join(s.Dir, "pki"))
	if err != nil {
		return err
	}
	ids := []Identity{
		{File: "apiserver", CN: "kube-apiserver",
			DNS: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"},
			IPs: []net.IP{net.IP(s.ServiceIP().AsSlice()), net.IP(s.Control.IP.AsSlice()), net.ParseIP("127.0.0.1")}},
		{File: "apiserver-kubelet-client", CN: "kube-apiserver-kubelet-client", Orgs: []string{"system:masters"}},
		{File: "admin", CN: "netx-e2e-admin", Orgs: []string{"system:masters"}},
		{File: "kube-controller-manager", CN: "system:kube-controller-manager"},
		{File: "kube-scheduler", CN: "system:kube-scheduler"},
		{File: "kube-proxy", CN: "system:kube-proxy"},
	}
	for _, n := range s.Workers {
		ids = append(ids,
			Identity{File: "kubelet-" + n.Name, CN: "system:node:" + n.Name, Orgs: []string{"system:nodes"}},
			Identity{File: "kubelet-" + n.Name + "-serving", CN: "system:node:" + n.Name, Orgs: []string{"system:nodes"},
				DNS: []string{n.Name}, IPs: []net.IP{net.IP(n.IP.AsSlice())}})
	}
	for _, id := range ids {
		if err := p.Issue(id); err != nil {
			return err
		}
	}
	return p.ServiceAccountKeys()
}

func (s *Spec) writeConfigs() error {
	files := map[string]string{
		s.HostKubeconfig():                          s.Kubeconfig(fmt.Sprintf("https://127.0.0.1:%d", s.HostPort), "admin"),
		s.kubeconfigPath("admin"):                   s.Kubeconfig(s.APIServerURL(), "admin"),
		s.kubeconfigPath("kube-controller-manager"): s.Kubeconfig(s.APIServerURL(), "kube-controller-manager"),
		s.kubeconfigPath("kube-scheduler"):          s.Kubeconfig(s.APIServerURL(), "kube-scheduler"),
	}
	for _, n := range s.Workers {
		files[s.containerdConfig(n)] = s.ContainerdConfig(n)
		if !s.NoCNI() {
			files[filepath.Join(s.cniConfDir(n), "10-netx-e2e.conflist")] = s.CNIConfig(n)
		}
		files[filepath.Join(s.kubeletDir(n), "config.yaml")] = s.KubeletConfig(n)
		files[filepath.Join(s.kubeletDir(n), "kubeconfig")] = s.Kubeconfig(s.APIServerURL(), "kubelet-"+n.Name)
		files[filepath.Join(s.nodeDir(n), "kube-proxy.kubeconfig")] = s.Kubeconfig(s.APIServerURL(), "kube-proxy")
		files[s.kubeProxyConfig(n)] = s.KubeProxyConfig(n)
	}
	for path, body := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// start runs a component inside a node namespace, logging to logs/<name>.
func (s *Spec) start(netns, name, prog string, args ...string) error {
	cmd := exec.Command(prog, args...)
	return s.launch(name, cmd, func() error { return nsenter.Start(nsenter.Net(netns), cmd) })
}

// startHost runs a helper in the host namespace (the forwarder only).
func (s *Spec) startHost(name, prog string, args ...string) error {
	cmd := exec.Command(prog, args...)
	return s.launch(name, cmd, cmd.Start)
}

func (s *Spec) launch(name string, cmd *exec.Cmd, start func() error) error {
	logf, err := os.OpenFile(s.logFile(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	go cmd.Wait()
	return s.record(proc{Name: name, PID: cmd.Process.Pid, Start: labstate.ProcessStart(cmd.Process.Pid)})
}

func (s *Spec) pidsFile() string { return filepath.Join(s.Dir, "pids.json") }

func (s *Spec) procs() []proc {
	var ps []proc
	b, err := os.ReadFile(s.pidsFile())
	if err == nil {
		json.Unmarshal(b, &ps)
	}
	return ps
}

func (s *Spec) record(p proc) error {
	ps := append(s.procs(), p)
	b, _ := json.MarshalIndent(ps, "", "  ")
	return os.WriteFile(s.pidsFile(), b, 0o644)
}

// kill stops the recorded processes whose name matches, by PID.
func (s *Spec) kill(match func(string) bool) {
	var left []proc
	for _, p := range s.procs() {
		if match(p.Name) {
			if labstate.ProcessRunning(p.PID, p.Start) {
				unix.Kill(p.PID, unix.SIGKILL)
			}
			continue
		}
		left = append(left, p)
	}
	b, _ := json.MarshalIndent(left, "", "  ")
	os.WriteFile(s.pidsFile(), b, 0o644)
}

// Signal sends sig to a component the cluster started ("kube-proxy-node1"):
// SIGSTOP and SIGCONT let a test make one node's kube-proxy fall behind.
func (s *Spec) Signal(component string, sig unix.Signal) error {
	for _, p := range s.procs() {
		if p.Name == component && labstate.ProcessRunning(p.PID, p.Start) {
			return unix.Kill(p.PID, sig)
		}
	}
	return fmt.Errorf("%s is not running", component)
}

// apiClient is an admin HTTPS client that dials inside the control
// namespace.
func (s *Spec) apiClient() (*http.Client, error) {
	pki := func(n string) string { return filepath.Join(s.Dir, "pki", n) }
	cert, err := tls.LoadX509KeyPair(pki("admin.crt"), pki("admin.key"))
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(pki("ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return lab.DialIn(s.Control.Netns, addr)
		},
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}, nil
}

func (s *Spec) waitAPI(ctx context.Context, limit time.Duration) error {
	c, err := s.apiClient()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return err
		}
		resp, err := c.Get(s.APIServerURL() + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		} else {
			last = err.Error()
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s (%s); see %s", limit, last, s.logFile("kube-apiserver"))
}

// kubectl runs the built kubectl against the cluster (through the host
// forwarder) and returns its output.
func (s *Spec) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.Bin, "kubectl"), append([]string{"--kubeconfig", s.HostKubeconfig()}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

func (s *Spec) startWorker(ctx context.Context, n Node, o Options) error {
	sock := s.containerdSock(n)
	if _, err := s.startNode(n); err != nil {
		return err
	}
	startContainerd := func() error {
		os.Remove(sock)
		if err := s.startOnNode(n, "containerd-"+n.Name, "containerd", "--config", s.containerdConfig(n)); err != nil {
			return err
		}
		return waitSocket(ctx, sock, 30*time.Second)
	}
	if err := startContainerd(); err != nil {
		return err
	}
	imgs := []struct{ file, name string }{{"pause.tar", PauseImage}, {"netbox.tar", NetboxImage}}
	if o.AgentImage != "" {
		imgs = append(imgs, struct{ file, name string }{"netx.tar", o.AgentImage})
	}
	for _, img := range imgs {
		if err := s.importImage(ctx, n, filepath.Join(o.Images, img.file), img.name); err != nil {
			return err
		}
	}
	// The CRI plugin keeps its own cache of image names, filled at start:
	// restart containerd so it sees the imported names.
	s.kill(func(name string) bool { return name == "containerd-"+n.Name })
	time.Sleep(200 * time.Millisecond)
	if err := startContainerd(); err != nil {
		return err
	}
	if err := makeCgroupRoot("netx-" + s.Lab + "-" + n.Name); err != nil {
		return err
	}
	if err := s.startOnNode(n, "kubelet-"+n.Name, filepath.Join(s.Bin, "kubelet"),
		"--config="+filepath.Join(s.kubeletDir(n), "config.yaml"),
		"--kubeconfig="+filepath.Join(s.kubeletDir(n), "kubeconfig"),
		"--root-dir="+filepath.Join(s.kubeletDir(n), "root"),
		"--hostname-override="+n.Name, "--node-ip="+n.IP.String()); err != nil {
		return err
	}
	return s.start(n.Netns, "kube-proxy-"+n.Name, filepath.Join(s.Bin, "kube-proxy"), "--config="+s.kubeProxyConfig(n))
}

// importImage loads an OCI layout into a worker's containerd under name.
func (s *Spec) importImage(ctx context.Context, n Node, tarball, name string) error {
	ctr := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", s.containerdSock(n), "--namespace", "k8s.io"}, args...)...)
		return cmd.CombinedOutput()
	}
	if out, err := ctr("images", "import", "--index-name", name, tarball); err != nil {
		return fmt.Errorf("import %s: %w: %s", tarball, err, out)
	}
	out, err := ctr("images", "ls", "-q")
	if err != nil {
		return fmt.Errorf("list images: %w: %s", err, out)
	}
	for _, ref := range strings.Fields(string(out)) {
		if strings.HasPrefix(ref, "import-") {
			ctr("images", "rm", ref)
		}
	}
	return nil
}

// waitSocket waits until a unix socket accepts connections (the file
// appears before the server listens on it).
func waitSocket(ctx context.Context, path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not accept connections within %s", path, limit)
}

// setPodCIDRs waits for every worker's Node object and gives it the pod
// CIDR the spec plans (spec.podCIDR is set once, by anyone who may patch
// nodes: here the admin).
func (s *Spec) setPodCIDRs(ctx context.Context, limit time.Duration) error {
	for _, n := range s.Workers {
		if err := s.waitFor(ctx, limit, "node "+n.Name, func() error {
			out, err := s.Kubectl(ctx, "get", "node", n.Name, "-o", "jsonpath={.spec.podCIDR}")
			if err != nil {
				return err
			}
			if got := strings.TrimSpace(string(out)); got != "" && got != n.PodCIDR.String() {
				return fmt.Errorf("node %s has pod CIDR %s, want %s", n.Name, got, n.PodCIDR)
			} else if got != "" {
				return nil
			}
			patch := fmt.Sprintf(`{"spec":{"podCIDR":%q,"podCIDRs":[%[1]q]}}`, n.PodCIDR)
			_, err = s.Kubectl(ctx, "patch", "node", n.Name, "--type", "merge", "-p", patch)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Spec) waitNodesReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		out, err := s.Kubectl(ctx, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err == nil {
			ready := 0
			for _, l := range strings.Fields(string(out)) {
				if strings.HasSuffix(l, "=True") {
					ready++
				}
			}
			if ready == len(s.Workers) {
				return nil
			}
			last = strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", " ")
		} else {
			last = err.Error()
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("nodes not Ready after %s (%s)", limit, last)
}

// waitFor polls check until it succeeds.
func (s *Spec) waitFor(ctx context.Context, limit time.Duration, what string, check func() error) error {
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("%s not there after %s: %w", what, limit, err)
}

func saveTunables(s *Spec) error {
	path := filepath.Join(s.Dir, "host-sysctls.json")
	if _, err := os.Stat(path); err == nil {
		return nil // saved by an earlier up: those are the original values
	}
	vals := map[string]string{}
	for _, k := range kernelTunables {
		if b, err := os.ReadFile("/proc/sys/" + k); err == nil {
			vals[k] = strings.TrimSpace(string(b))
		}
	}
	b, _ := json.Marshal(vals)
	return os.WriteFile(path, b, 0o644)
}

// hostDirs are directories the runtime makes outside the cluster's own
// directory (containerd's shims keep their sockets in /run/containerd/s
// whatever the configuration says).
var hostDirs = []string{"/run/containerd", "/etc/cni", "/opt/cni", "/var/lib/netx-cni"}

func saveMissingDirs(s *Spec) error {
	path := filepath.Join(s.Dir, "made-dirs.json")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	var missing []string
	for _, d := range hostDirs {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, d)
		}
	}
	b, _ := json.Marshal(missing)
	return os.WriteFile(path, b, 0o644)
}

// removeMadeDirs removes the host directories Up found missing, if only
// empty directories are left in them.
func removeMadeDirs(s *Spec) {
	b, err := os.ReadFile(filepath.Join(s.Dir, "made-dirs.json"))
	if err != nil {
		return
	}
	var dirs []string
	json.Unmarshal(b, &dirs)
	for _, d := range dirs {
		var sub []string
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				sub = append(sub, p)
			}
			return nil
		})
		sort.Slice(sub, func(i, j int) bool { return len(sub[i]) > len(sub[j]) })
		for _, p := range sub {
			os.Remove(p) // fails, harmlessly, on anything not empty
		}
	}
}

func restoreTunables(s *Spec) error {
	b, err := os.ReadFile(filepath.Join(s.Dir, "host-sysctls.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	vals := map[string]string{}
	if err := json.Unmarshal(b, &vals); err != nil {
		return err
	}
	var errs []error
	for k, v := range vals {
		if cur, _ := os.ReadFile("/proc/sys/" + k); strings.TrimSpace(string(cur)) == v {
			continue
		}
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restore %s=%s: %w", k, v, err))
		}
	}
	return errors.Join(errs...)
}

// Down stops everything Up started, by PID, removes the pods' containers,
// namespaces and mounts, the lab, the cgroups and the state directory, and
// puts back the host sysctls kubelet changed. A second Down finds nothing.
func Down(ctx context.Context, s *Spec, o Options) error {
	var errs []error
	for _, n := range s.Workers {
		// kubelet first, so nothing restarts what is being removed.
		s.kill(func(name string) bool { return name == "kubelet-"+n.Name })
		netnsPaths := s.podNetns(ctx, n)
		s.killCgroup("netx-" + s.Lab + "-" + n.Name)
		if _, err := os.Stat(s.kubeProxyConfig(n)); err == nil && nsenter.IsNamespace(n.Netns) {
			cmd := exec.CommandContext(ctx, filepath.Join(s.Bin, "kube-proxy"), "--cleanup")
			if err := nsenter.Start(nsenter.Net(n.Netns), cmd); err == nil {
				cmd.Wait()
			}
		}
		for _, p := range netnsPaths {
			if err := nsenter.RemoveNamed(p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	s.kill(func(string) bool { return true })
	if _, err := lab.Down(ctx, s.Lab); err != nil {
		errs = append(errs, err)
	}
	for _, n := range s.Workers {
		s.killCgroup("netx-" + s.Lab + "-" + n.Name)
		removeCgroups("netx-" + s.Lab + "-" + n.Name)
	}
	if err := unmountUnder(s.Dir); err != nil {
		errs = append(errs, err)
	}
	if err := restoreTunables(s); err != nil {
		errs = append(errs, err)
	}
	removeMadeDirs(s)
	if len(errs) == 0 {
		if err := os.RemoveAll(s.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// podNetns asks a worker's containerd which network namespaces its pod
// sandboxes use (/var/run/netns/cni-...), so they can be removed.
func (s *Spec) podNetns(ctx context.Context, n Node) []string {
	if _, err := os.Stat(s.containerdSock(n)); err != nil {
		return nil
	}
	ctr := func(args ...string) []byte {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(cctx, "ctr", append([]string{"--address", s.containerdSock(n), "--namespace", "k8s.io"}, args...)...).Output()
		return out
	}
	var paths []string
	for _, id := range strings.Fields(string(ctr("containers", "ls", "-q"))) {
		var info struct {
			Spec struct {
				Linux struct {
					Namespaces []struct{ Type, Path string }
				}
			}
		}
		if json.Unmarshal(ctr("containers", "info", id), &info) != nil {
			continue
		}
		for _, ns := range info.Spec.Linux.Namespaces {
			if ns.Type == "network" && strings.HasPrefix(ns.Path, "/var/run/netns/cni-") {
				paths = append(paths, strings.Replace(ns.Path, "/var/run/", "/run/", 1))
			}
		}
	}
	sort.Strings(paths)
	out := paths[:0]
	for i, p := range paths {
		if i == 0 || p != paths[i-1] {
			out = append(out, p)
		}
	}
	return out
}

// killCgroup kills every process in the cgroup subtree a kubelet's
// cgroupRoot names (its pods' containers), in every v1 hierarchy.
func (s *Spec) killCgroup(root string) {
	for pass := 0; pass < 5; pass++ {
		n := 0
		filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() || !strings.Contains(p, "/"+root) {
				return nil
			}
			b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
					if unix.Kill(pid, unix.SIGKILL) == nil {
						n++
					}
				}
			}
			return nil
		})
		if n == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// makeCgroupRoot creates a kubelet's cgroupRoot in every v1 hierarchy
// (kubelet requires it to exist); a new cpuset cgroup gets its parent's
// cpus and mems, without which no task can join it.
func makeCgroupRoot(root string) error {
	ents, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.IsDir() || e.Name() == "unified" {
			continue
		}
		dir := filepath.Join("/sys/fs/cgroup", e.Name(), root)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		if e.Name() == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpuset", f))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
					return fmt.Errorf("init %s/%s: %w", dir, f, err)
				}
			}
		}
	}
	return nil
}

// removeCgroups removes the (now empty) cgroup directories of root,
// deepest first.
func removeCgroups(root string) {
	var dirs []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.Contains(p, "/"+root) {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		os.Remove(d)
	}
}

// unmountUnder detaches every mount below dir (container rootfs, shm,
// pod volumes), deepest first.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var mps []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mps = append(mps, f[4])
		}
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	var errs []error
	for _, m := range mps {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}
