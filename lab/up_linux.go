package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/netx-project/netx/datapath"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/lab/labstate"
	"golang.org/x/sys/unix"
)

// Up builds lab. It is idempotent: objects that exist are kept, missing
// ones are made. Everything is journalled before it is made, so Down can
// remove it even if Up is killed half way.
func Up(ctx context.Context, lab *Lab, o UpOptions) (*UpReport, error) {
	if os.Geteuid() != 0 {
		return nil, &NotPrivilegedError{Op: "datapath up"}
	}
	if err := preflight(lab); err != nil {
		return nil, err
	}
	start := time.Now()
	lock, err := AcquireLock(func() { o.progress("waiting for another netx datapath command to finish…") })
	if err != nil {
		return nil, err
	}
	defer lock.Release()

	st := StateFor(lab.Name)
	rep := &UpReport{}
	if old, err := st.Lab(); err == nil {
		if !sameLab(old.Lab, lab) {
			return nil, &ConflictError{Lab: lab.Name, Source: old.Source}
		}
		rep.Reused = true
	}
	if err := st.saveLab(&SavedLab{Source: o.Source, Lab: lab}); err != nil {
		return nil, err
	}
	j, err := st.openJournal()
	if err != nil {
		return nil, err
	}
	defer j.Close()
	recs, err := st.Records()
	if err != nil {
		return nil, fmt.Errorf("read journal of lab %s: %w", lab.Name, err)
	}
	rep.Resumed = rep.Reused && !labstate.LastRunComplete(recs)
	if err := j.Append(labstate.Record{Op: labstate.RecStart}); err != nil {
		return nil, err
	}
	if made, err := nsenter.PrepareNetnsDir(NetnsDir); err != nil {
		return nil, err
	} else if made {
		if err := os.WriteFile(netnsDirMarker, nil, 0o644); err != nil {
			return nil, err
		}
	}
	b := &builder{lab: lab, o: o, st: st, j: j, recs: recs, netns: map[string]*datapath.Netns{}}
	defer b.closeHandles()

	// Service rules depend only on the plan, so they load while the pods
	// are being made (except with --explain, which narrates in order).
	rules := make(chan error, 1)
	var rulesTook time.Duration
	rulesStarted := false
	startRules := func(ctx context.Context) error {
		if o.Explain != nil {
			return b.rules(ctx)
		}
		rulesStarted = true
		go func() {
			t0 := time.Now()
			err := b.rules(ctx)
			rulesTook = time.Since(t0)
			rules <- err
		}()
		return nil
	}
	phases := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"underlay", b.underlay},
		{"nodes", b.nodes},
		{"routes between nodes", b.overlay},
		{"service rules", startRules},
		{"pods", b.pods},
		{"containers", b.containers},
	}
	for _, ph := range phases {
		if err = ctx.Err(); err != nil {
			err = fmt.Errorf("interrupted before %s: %w (run `netx datapath down %s` to clean up)", ph.name, err, lab.Name)
			break
		}
		t0 := time.Now()
		if err = ph.fn(ctx); err != nil {
			err = fmt.Errorf("build %s of lab %s: %w", ph.name, lab.Name, err)
			break
		}
		if ph.name != "service rules" || o.Explain != nil {
			o.progress(fmt.Sprintf("  %-22s %6.1f ms", ph.name, float64(time.Since(t0).Microseconds())/1000))
		}
	}
	if rulesStarted {
		// Wait for the loaders even after a failure: they run processes.
		if rerr := <-rules; rerr != nil && err == nil {
			err = fmt.Errorf("build service rules of lab %s: %w", lab.Name, rerr)
		}
		o.progress(fmt.Sprintf("  %-22s %6.1f ms (alongside the pods)", "service rules", float64(rulesTook.Microseconds())/1000))
	}
	if err != nil {
		return nil, err
	}
	if err := j.Append(labstate.Record{Op: labstate.RecDone}); err != nil {
		return nil, err
	}
	rep.Containers = b.started
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func (o UpOptions) progress(s string) {
	if o.Progress != nil {
		fmt.Fprintln(o.Progress, s)
	}
}

type builder struct {
	lab   *Lab
	o     UpOptions
	st    State
	j     *Journal
	recs  []labstate.Record
	netns map[string]*datapath.Netns
	// pauses maps pod key to its pause process, once started.
	pauses    map[string]labstate.Record
	started   []ContainerStart
	explainMu sync.Mutex
	// podSelfPath is podSelf's answer, found once.
	podSelfOnce sync.Once
	podSelfPath string
}

func (b *builder) explain(format string, args ...any) {
	if b.o.Explain != nil {
		b.explainMu.Lock()
		defer b.explainMu.Unlock()
		fmt.Fprintf(b.o.Explain, format+"\n", args...)
	}
}

// ns returns the namespace at path opened for configuration, cached.
func (b *builder) ns(path string) (*datapath.Netns, error) {
	if n := b.netns[path]; n != nil {
		return n, nil
	}
	n, err := datapath.OpenNetns(path)
	if err != nil {
		return nil, err
	}
	b.netns[path] = n
	return n, nil
}

func (b *builder) closeHandles() {
	for _, n := range b.netns {
		n.Close()
	}
}

// short is the `ip netns` name of a namespace path, for explanations.
func short(path string) string { return strings.TrimPrefix(path, NetnsDir+"/") }

// namedNetns creates (or reuses) a bind-mounted namespace and sets sysctls
// in it; the journal names it before it exists.
func (b *builder) namedNetns(path string, sysctls [][2]string) error {
	if !slices.ContainsFunc(b.recs, func(r labstate.Record) bool { return r.Op == labstate.RecNetns && r.Path == path }) {
		if err := b.j.Append(labstate.Record{Op: labstate.RecNetns, Path: path}); err != nil {
			return err
		}
	}
	b.explain("ip netns add %s", short(path))
	for _, kv := range sysctls {
		b.explain("ip netns exec %s sysctl -w %s=%s", short(path), strings.ReplaceAll(kv[0], "/", "."), kv[1])
	}
	b.explain("ip -n %s link set lo up", short(path))
	if err := datapath.CreateNetns(path, sysctls); err != nil {
		if errors.Is(err, datapath.ErrNotPermitted) {
			return &NotPrivilegedError{Op: "creating namespace " + path}
		}
		return err
	}
	return nil
}

func (b *builder) underlay(context.Context) error {
	b.explain("# underlay: a switch (bridge %s) in namespace %s that every node and client plugs into;", FabricBridge, short(b.lab.Fabric))
	b.explain("# its address %s is everyone's default gateway (a router that knows no other network)", b.lab.UnderlayGateway)
	if err := b.namedNetns(b.lab.Fabric, [][2]string{{"net/ipv4/ip_forward", "1"}}); err != nil {
		return err
	}
	fabric, err := b.ns(b.lab.Fabric)
	if err != nil {
		return err
	}
	gw := netip.PrefixFrom(b.lab.UnderlayGateway, b.lab.Underlay.Bits())
	b.explain("ip -n %s link add %s type bridge && ip -n %[1]s link set %[2]s up", short(b.lab.Fabric), FabricBridge)
	b.explain("ip -n %s addr add %s dev %s", short(b.lab.Fabric), gw, FabricBridge)
	if err := fabric.EnsureBridge(datapath.Bridge{Name: FabricBridge, Addr: gw}); err != nil {
		return err
	}
	for _, c := range b.lab.Clients {
		b.explain("# external client %s (%s): a machine outside the cluster on the underlay", c.Name, c.IP)
		if err := b.namedNetns(c.Netns, nil); err != nil {
			return err
		}
		if err := b.plug(c.Netns, c.FabricPort, macFor(b.lab.Name, "client", c.Name), c.IP); err != nil {
			return fmt.Errorf("client %s: %w", c.Name, err)
		}
	}
	return nil
}

// plug connects namespace ns to the fabric with a veth (eth0 inside ns,
// port on the fabric bridge) and gives eth0 ip on the underlay.
func (b *builder) plug(ns, port string, mac MAC, ip netip.Addr) error {
	fabric, err := b.ns(b.lab.Fabric)
	if err != nil {
		return err
	}
	n, err := b.ns(ns)
	if err != nil {
		return err
	}
	pfx := netip.PrefixFrom(ip, b.lab.Underlay.Bits())
	b.explain("ip -n %s link add %s master %s up type veth peer name %s address %s netns %s", short(b.lab.Fabric), port, FabricBridge, UplinkName, mac, short(ns))
	b.explain("ip -n %s addr add %s dev %s && ip -n %[1]s link set %[3]s up", short(ns), pfx, UplinkName)
	if err := fabric.AddBridgePort(FabricBridge, port, ns, UplinkName, net.HardwareAddr(mac)); err != nil {
		return err
	}
	if err := n.EnsureAddrUp(UplinkName, pfx); err != nil {
		return err
	}
	// A default route, as every real machine has: without one a node cannot
	// even look up a route to a ClusterIP before kube-proxy's OUTPUT DNAT.
	b.explain("ip -n %s route replace default via %s dev %s", short(ns), b.lab.UnderlayGateway, UplinkName)
	return n.ReplaceRoute(datapath.DefaultRoute(UplinkName, b.lab.UnderlayGateway))
}

// labNamespaceSysctls switch IPv6 off in pod namespaces: the lab is IPv4
// single-stack, and without link-local addresses, DAD and router
// solicitations its packet captures show only the traffic under study (and
// every interface comes up cheaper).
func labNamespaceSysctls() [][2]string {
	return [][2]string{
		{"net/ipv6/conf/all/disable_ipv6", "1"},
		{"net/ipv6/conf/default/disable_ipv6", "1"},
	}
}

// nodeSysctls are what a Kubernetes node needs: forwarding, and bridged
// traffic seen by iptables (so replies from a same-bridge endpoint are
// un-DNATed). route_localnet lets kube-proxy serve NodePorts on 127.0.0.1.
func (b *builder) nodeSysctls() [][2]string {
	s := [][2]string{
		{"net/ipv4/ip_forward", "1"},
		{"net/ipv6/conf/all/disable_ipv6", "1"},
		{"net/ipv6/conf/default/disable_ipv6", "1"},
		{"net/bridge/bridge-nf-call-iptables", "1"},
	}
	if b.lab.Proxy == ProxyIPTables {
		s = append(s, [2]string{"net/ipv4/conf/all/route_localnet", "1"})
	}
	return s
}

func (b *builder) nodes(context.Context) error {
	for _, n := range b.lab.Nodes {
		b.explain("# node %s (%s), pods in %s behind bridge %s", n.Name, n.IP, n.PodCIDR, BridgeName)
		if err := b.namedNetns(n.Netns, b.nodeSysctls()); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		if err := b.plug(n.Netns, n.FabricPort, n.UplinkMAC, n.IP); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		if b.lab.Overlay == OverlayNone {
			b.explain("# (overlay none: no pod network on %s until a CNI builds one)", n.Name)
			continue
		}
		node, err := b.ns(n.Netns)
		if err != nil {
			return err
		}
		gw := netip.PrefixFrom(n.Gateway, n.PodCIDR.Bits())
		b.explain("ip -n %[1]s link add %[2]s type bridge && ip -n %[1]s addr add %[3]s dev %[2]s && ip -n %[1]s link set %[2]s up", short(n.Netns), BridgeName, gw)
		br := datapath.Bridge{Name: BridgeName, MTU: b.podMTU(), MAC: net.HardwareAddr(macFor(b.lab.Name, "cni0", n.Name)), Addr: gw}
		if err := node.EnsureBridge(br); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		if b.hasHostPorts(n) {
			// As the portmap plugin does, so hostPorts answer on 127.0.0.1.
			key := "net/ipv4/conf/" + BridgeName + "/route_localnet"
			b.explain("ip netns exec %s sysctl -w %s=1", short(n.Netns), strings.ReplaceAll(key, "/", "."))
			if err := nsenter.WriteSysctl(n.Netns, key, "1"); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
		}
	}
	return nil
}

func (b *builder) hasHostPorts(n *LabNode) bool {
	for _, p := range b.lab.Pods {
		if p.Node != n.Name || p.HostNetwork {
			continue
		}
		for _, c := range p.Containers {
			for _, cp := range c.Ports {
				if cp.HostPort != 0 {
					return true
				}
			}
		}
	}
	return false
}

func (b *builder) podMTU() int {
	if b.lab.Overlay == OverlayVXLAN {
		return VXLANMTU
	}
	return 1500
}

// overlay makes each node's pod CIDR reachable from the others.
func (b *builder) overlay(context.Context) error {
	if b.lab.Overlay == OverlayNone {
		return nil
	}
	for _, n := range b.lab.Nodes {
		node, err := b.ns(n.Netns)
		if err != nil {
			return err
		}
		if b.lab.Overlay == OverlayVXLAN {
			if err := b.vxlan(node, n); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
			continue
		}
		for _, o := range b.lab.Nodes {
			if o == n {
				continue
			}
			b.explain("ip -n %s route replace %s via %s dev %s   # host-gw: %s's pods", short(n.Netns), o.PodCIDR, o.IP, UplinkName, o.Name)
			if err := node.ReplaceRoute(datapath.Route{Dst: o.PodCIDR, Gw: o.IP, Dev: UplinkName}); err != nil {
				return fmt.Errorf("node %s: %w", n.Name, err)
			}
		}
	}
	return nil
}

// vxlan builds flannel's layout: flannel.1 with the node's pod network
// address as /32, and for every other node a route via that node's
// flannel.1 address (onlink), a permanent ARP entry for it, and an FDB
// entry sending its VTEP MAC to its node IP.
func (b *builder) vxlan(node *datapath.Netns, n *LabNode) error {
	ns := short(n.Netns)
	self := netip.PrefixFrom(n.PodCIDR.Addr(), 32)
	b.explain("ip -n %s link add %s type vxlan id %d local %s dev %s dstport %d nolearning address %s", ns, VXLANName, VXLANVNI, n.IP, UplinkName, VXLANPort, n.VTEPMAC)
	b.explain("ip -n %s addr add %s dev %s && ip -n %[1]s link set %[3]s up", ns, self, VXLANName)
	if err := node.EnsureVXLAN(datapath.VXLAN{Name: VXLANName, VNI: VXLANVNI, Port: VXLANPort, MTU: VXLANMTU,
		MAC: net.HardwareAddr(n.VTEPMAC), Local: n.IP, Dev: UplinkName, Addr: self}); err != nil {
		return err
	}
	for _, o := range b.lab.Nodes {
		if o == n {
			continue
		}
		gw := o.PodCIDR.Addr()
		b.explain("ip -n %s neigh replace %s lladdr %s dev %s nud permanent", ns, gw, o.VTEPMAC, VXLANName)
		b.explain("bridge -n %s fdb replace %s dev %s dst %s self permanent", ns, o.VTEPMAC, VXLANName, o.IP)
		b.explain("ip -n %s route replace %s via %s dev %s onlink   # %s's pods", ns, o.PodCIDR, gw, VXLANName, o.Name)
		if err := node.AddVXLANPeer(VXLANName, datapath.VXLANPeer{MAC: net.HardwareAddr(o.VTEPMAC), Addr: gw, Remote: o.IP, PodCIDR: o.PodCIDR}); err != nil {
			return err
		}
	}
	return nil
}

// alivePause returns the pause of pod key from an earlier up, if it runs.
func (b *builder) alivePause(key string) (labstate.Record, bool) {
	return b.aliveProc(labstate.RolePause, key, "")
}

// aliveProc returns the latest journalled process of a role for a pod (and
// container), and whether it still runs without having failed.
func (b *builder) aliveProc(role, pod, container string) (labstate.Record, bool) {
	for i := len(b.recs) - 1; i >= 0; i-- {
		r := b.recs[i]
		if r.Op == labstate.RecProc && r.Role == role && r.Pod == pod && r.Container == container {
			return r, r.Error == "" && r.Alive()
		}
	}
	return labstate.Record{}, false
}

// pods starts the pause processes and wires each pod's eth0 to its node's
// bridge, as a pipeline: one goroutine forks pauses (forks are serialised
// in a Go process anyway) while workers wire the pods already started, so
// the kernel's veth work overlaps the next fork.
func (b *builder) pods(ctx context.Context) error {
	b.pauses = map[string]labstate.Record{}
	nodes := map[string]*podWiring{}
	for _, n := range b.lab.Nodes {
		if b.lab.Overlay == OverlayNone {
			// No bridge to wire to: every pod is hostNetwork.
			nodes[n.Name] = &podWiring{node: n}
			continue
		}
		w, err := b.wiringFor(n)
		if err != nil {
			return err
		}
		defer w.close()
		nodes[n.Name] = w
	}
	type job struct {
		pod   *LabPod
		index int
		pid   int
		fresh bool
	}
	jobs := make(chan job, 64)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := b.wirePod(j.pod, nodes[j.pod.Node], j.index, j.pid, j.fresh); err != nil {
					select {
					case errs <- fmt.Errorf("pod %s: %w", j.pod.Key(), err):
					default:
					}
				}
			}
		}()
	}
	var waits []*pauseStart
	var err error
	for i, p := range b.lab.Pods {
		if len(errs) > 0 || ctx.Err() != nil {
			break
		}
		r, alive := b.alivePause(p.Key())
		if !alive {
			var ps *pauseStart
			if ps, err = b.startPause(p, nodes[p.Node].node); err != nil {
				break
			}
			waits = append(waits, ps)
			r = b.pauses[p.Key()]
		}
		b.pauses[p.Key()] = r
		switch {
		case p.HostNetwork:
		case b.o.Explain != nil:
			// Narrating: wire in order, so the commands read as a script.
			if err = b.wirePod(p, nodes[p.Node], i, r.PID, !alive); err != nil {
				err = fmt.Errorf("pod %s: %w", p.Key(), err)
			}
		default:
			jobs <- job{pod: p, index: i, pid: r.PID, fresh: !alive}
		}
		if err != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	deadline := time.Now().Add(readyTimeout)
	for _, w := range waits {
		if werr := w.wait(deadline); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	select {
	case err := <-errs:
		return err
	default:
	}
	return ctx.Err()
}

// podWiring holds what wiring a pod on one node needs, opened once.
type podWiring struct {
	node *LabNode
	ns   *datapath.Netns
	link *datapath.PodLinker
}

func (w *podWiring) close() {
	if w.link != nil {
		w.link.Close()
	}
}

func (b *builder) wiringFor(n *LabNode) (*podWiring, error) {
	node, err := b.ns(n.Netns)
	if err != nil {
		return nil, err
	}
	link, err := node.PodLinker(BridgeName)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.Name, err)
	}
	return &podWiring{node: n, ns: node, link: link}, nil
}

type pauseStart struct {
	pod   string
	ready *os.File
	cmd   *exec.Cmd
}

// wait reads the pause's readiness byte (written after it set its
// hostname), or its failure.
func (p *pauseStart) wait(deadline time.Time) error {
	go p.cmd.Wait() // reap it if it exits while we run
	msg, err := readReady(p.ready, deadline)
	if err != nil {
		return fmt.Errorf("pause of pod %s did not start: %w", p.pod, err)
	}
	if msg != "ok" {
		return fmt.Errorf("pause of pod %s did not start: %s", p.pod, msg)
	}
	return nil
}

// readReady reads what a built-in process reports on its readiness pipe:
// "ok", or why it failed to start. It closes the pipe.
func readReady(f *os.File, deadline time.Time) (string, error) {
	defer f.Close()
	f.SetReadDeadline(deadline)
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", fmt.Errorf("no report within %s", readyTimeout)
	}
	if msg := strings.TrimSpace(string(b)); msg != "" {
		return msg, nil
	}
	return "", errors.New("exited before reporting")
}

// readyTimeout bounds how long up waits for a process to report.
const readyTimeout = 10 * time.Second

// podSelf is the binary a pod's pause and built-in containers run:
// PodBinary next to Self when it is there (a build of the project puts it
// there), else Self, the same code with the whole of netx linked in.
func (b *builder) podSelf() string {
	b.podSelfOnce.Do(func() {
		b.podSelfPath = b.o.Self
		self, err := filepath.EvalSymlinks(b.o.Self)
		if err != nil {
			return
		}
		p := filepath.Join(filepath.Dir(self), PodBinary)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			b.podSelfPath = p
		}
	})
	return b.podSelfPath
}

func (b *builder) startPause(p *LabPod, n *LabNode) (*pauseStart, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	cmd := exec.Command(b.podSelf(), "datapath", "pause", "--lab", b.lab.Name, "--pod", p.Key(), "--hostname", p.Hostname)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = append(os.Environ(), ReadyEnv+"=3")
	// A pod owns net, uts and ipc namespaces; a hostNetwork pod shares its
	// node's network namespace but still has its own uts (hostname = node
	// name, as on a real node) and ipc.
	flags := uintptr(unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	target := nsenter.Target{}
	if p.HostNetwork {
		target.Net = n.Netns
		b.explain("ip netns exec %s unshare --uts --ipc netx datapath pause --hostname %s &   # pod %s (hostNetwork)", short(n.Netns), p.Hostname, p.Key())
	} else {
		flags |= unix.CLONE_NEWNET
		b.explain("unshare --net --uts --ipc netx datapath pause --hostname %s &   # pod %s: the pause owns its namespaces", p.Hostname, p.Key())
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Setsid: true}
	if err := nsenter.Start(target, cmd); err != nil {
		r.Close()
		return nil, fmt.Errorf("start pause for pod %s: %w", p.Key(), err)
	}
	rec := labstate.Record{Op: labstate.RecProc, Role: labstate.RolePause, Pod: p.Key(), PID: cmd.Process.Pid, Start: labstate.ProcessStart(cmd.Process.Pid)}
	if id, err := nsenter.IDOf(labstate.PodNetns(rec.PID)); err == nil {
		rec.NetnsDev, rec.NetnsIno = id.Dev, id.Ino
	}
	b.pauses[p.Key()] = rec
	if err := b.j.Append(rec); err != nil {
		return nil, err
	}
	return &pauseStart{pod: p.Key(), ready: r, cmd: cmd}, nil
}

// vethIndexBase numbers the node ends of pod veths (base + pod's position
// in the lab), so each is addressed without a lookup; a node's own links
// take the small numbers.
const vethIndexBase = 1000

func (b *builder) wirePod(p *LabPod, w *podWiring, index, pid int, fresh bool) error {
	podNS := labstate.PodNetns(pid)
	ns := short(w.node.Netns)
	b.explain("ip -n %s link add %s mtu %d master %s up type veth peer name %s address %s netns %d", ns, p.HostVeth, b.podMTU(), BridgeName, PodIfName, p.MAC, pid)
	b.explain("ip -n %s link set %s type bridge_slave hairpin on", ns, p.HostVeth)
	// A fresh pause has a fresh namespace, so its veth cannot exist yet;
	// only a reused pod needs the check.
	if fresh || !w.ns.HasLink(p.HostVeth) {
		v := datapath.PodVeth{HostName: p.HostVeth, Index: vethIndexBase + index, MTU: b.podMTU(),
			PodNS: podNS, PodName: PodIfName, PodMAC: net.HardwareAddr(p.MAC), Hairpin: true}
		if _, err := w.link.AddVeth(v); err != nil {
			return err
		}
	}
	pfx := netip.PrefixFrom(p.IP, w.node.PodCIDR.Bits())
	b.explain("nsenter --net=%s sh -c 'ip link set lo up; ip addr add %s dev %s; ip link set %[3]s up; ip route add default via %s'   # pod %s", podNS, pfx, PodIfName, w.node.Gateway, p.Key())
	return datapath.ConfigurePod(podNS, labNamespaceSysctls(), datapath.PodInterface{Name: PodIfName, Addr: pfx, Gateway: w.node.Gateway})
}

// rules loads each node's rules (NodeRules), rendered once: one
// iptables-restore and, in nftables mode, one nft -f transaction run
// inside the node's namespace.
func (b *builder) rules(ctx context.Context) error {
	errs := make([]error, len(b.lab.Nodes))
	var wg sync.WaitGroup
	for i, n := range b.lab.Nodes {
		load := func() {
			if err := b.loadRules(ctx, n); err != nil {
				errs[i] = fmt.Errorf("node %s: %w", n.Name, err)
			}
		}
		if b.o.Explain != nil {
			load() // in order, so the narration reads node by node
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); load() }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (b *builder) loadRules(ctx context.Context, n *LabNode) error {
	rules, err := NodeRules(b.lab, n)
	if err != nil {
		return err
	}
	// Replacing kube-proxy's nftables table, so an up run again loads it
	// afresh (iptables-restore replaces the tables it names anyway).
	ipt, nft, err := rules.Render(true)
	if err != nil {
		return err
	}
	b.explain("ip netns exec %s iptables-restore <<'EOF'\n%sEOF", short(n.Netns), ipt)
	if err := runIn(ctx, n.Netns, string(ipt), "iptables-restore"); err != nil {
		return err
	}
	if nft == nil {
		return nil
	}
	b.explain("ip netns exec %s nft -f - <<'EOF'\n%sEOF", short(n.Netns), nft)
	return runIn(ctx, n.Netns, string(nft), "nft", "-f", "-")
}

// runIn runs a rule loader with stdin inside a node namespace.
func runIn(ctx context.Context, ns, stdin string, name string, args ...string) error {
	path, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("%s is not installed (apt-get install iptables nftables): %w", name, err)
	}
	_, err = nsenter.Output(nsenter.Net(ns), strings.NewReader(stdin), path, args...)
	return err
}

// containers starts each container process inside its pod's namespaces.
// Like kubelet, a pod's containers start in order: the i-th container of
// every pod starts in round i, after round i-1 reported. So in the seeds'
// two-nginx pod it is always the second that finds port 80 taken. Built-in
// servers report readiness (or their listen error) on fd 3, so up can say
// which container failed and why, as kubectl get pods would.
func (b *builder) containers(ctx context.Context) error {
	nodes := map[string]*LabNode{}
	rounds := 0
	for _, n := range b.lab.Nodes {
		nodes[n.Name] = n
	}
	for _, p := range b.lab.Pods {
		rounds = max(rounds, len(p.Containers))
	}
	results := map[string]ContainerStart{}
	for i := 0; i < rounds; i++ {
		var waits []*containerStart
		for _, p := range b.lab.Pods {
			if i >= len(p.Containers) {
				continue
			}
			c := p.Containers[i]
			if r, ok := b.aliveProc(labstate.RoleContainer, p.Key(), c.Name); ok {
				results[p.Key()+"/"+c.Name] = ContainerStart{Pod: p.Key(), Container: c.Name, PID: r.PID}
				continue
			}
			cs, err := b.startContainer(p, nodes[p.Node], c)
			if err != nil {
				return err
			}
			waits = append(waits, cs)
		}
		deadline := time.Now().Add(readyTimeout)
		for _, w := range waits {
			w.wait(deadline, b)
			results[w.start.Pod+"/"+w.start.Container] = w.start
		}
	}
	for _, p := range b.lab.Pods {
		for _, c := range p.Containers {
			b.started = append(b.started, results[p.Key()+"/"+c.Name])
		}
	}
	return nil
}

type containerStart struct {
	start ContainerStart
	ready *os.File // nil for programs that do not report readiness
	cmd   *exec.Cmd
}

func (b *builder) startContainer(p *LabPod, n *LabNode, c LabContainer) (*containerStart, error) {
	pause := b.pauses[p.Key()]
	cmd, err := b.containerCmd(p, n, c)
	if err != nil {
		return nil, err
	}
	var r, w *os.File
	if c.Builtin {
		if r, w, err = os.Pipe(); err != nil {
			return nil, err
		}
		cmd.ExtraFiles = []*os.File{w}
	}
	target := podTarget(pause.PID, "")
	b.explain("nsenter --target %d --net --uts --ipc -- %s &   # pod %s container %s joins the pause's namespaces", pause.PID, strings.Join(displayArgv(c), " "), p.Key(), c.Name)
	err = nsenter.Start(target, cmd)
	if w != nil {
		w.Close()
	}
	// The child has its own copy of the log file now.
	cmd.Stdout.(*os.File).Close()
	if err != nil {
		if r != nil {
			r.Close()
		}
		return nil, fmt.Errorf("pod %s: start container %s: %w", p.Key(), c.Name, err)
	}
	rec := labstate.Record{Op: labstate.RecProc, Role: labstate.RoleContainer, Pod: p.Key(), Container: c.Name, PID: cmd.Process.Pid, Start: labstate.ProcessStart(cmd.Process.Pid)}
	if err := b.j.Append(rec); err != nil {
		return nil, err
	}
	return &containerStart{start: ContainerStart{Pod: p.Key(), Container: c.Name, PID: cmd.Process.Pid, Expected: p.AllowPortConflict}, ready: r, cmd: cmd}, nil
}

// wait reads the container's readiness report and journals a failure.
func (w *containerStart) wait(deadline time.Time, b *builder) {
	go w.cmd.Wait() // reap it whenever it exits
	if w.ready == nil {
		return
	}
	msg, err := readReady(w.ready, deadline)
	if msg == "ok" {
		return
	}
	if err != nil {
		msg = err.Error() + "; see " + b.st.LogFile(w.start.Pod, w.start.Container)
	}
	w.start.Error = msg
	b.j.Append(labstate.Record{Op: labstate.RecProc, Role: labstate.RoleContainer, Pod: w.start.Pod, Container: w.start.Container, PID: w.start.PID, Error: msg})
}

func displayArgv(c LabContainer) []string {
	if c.Builtin {
		return append([]string{"netx"}, c.Argv...)
	}
	return c.Argv
}

func (b *builder) containerCmd(p *LabPod, n *LabNode, c LabContainer) (*exec.Cmd, error) {
	argv := c.Argv
	prog := b.podSelf()
	if !c.Builtin {
		var err error
		if prog, err = exec.LookPath(argv[0]); err != nil {
			return nil, fmt.Errorf("pod %s container %s: command %q not found on this machine; use serve:/forward: or a program that is installed", p.Key(), c.Name, argv[0])
		}
		argv = argv[1:]
	} else {
		argv = append(slicesClone(argv), "--lab", b.lab.Name, "--pod", p.Key(), "--container", c.Name)
	}
	cmd := exec.Command(prog, argv...)
	logf, err := os.OpenFile(b.st.LogFile(p.Key(), c.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "NETX_LAB="+b.lab.Name, "NETX_POD="+p.Key(), "NETX_CONTAINER="+c.Name, "NETX_NODE="+n.Name)
	if c.Builtin {
		cmd.Env = append(cmd.Env, ReadyEnv+"=3")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd, nil
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// MissingError says something the lab needs is not on this machine.
type MissingError struct {
	What, Fix string
}

func (e *MissingError) Error() string { return e.What + "; " + e.Fix }

// preflight checks, before anything is made, what up will need from the
// machine: rule loaders, bridge netfilter, and the programs containers run.
func preflight(lab *Lab) error {
	tools := []string{"iptables-restore"}
	if lab.Proxy == ProxyNFTables {
		tools = append(tools, "nft")
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			return &MissingError{What: t + " is not installed", Fix: "install it (apt-get install iptables nftables, or make setup)"}
		}
	}
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
		return &MissingError{What: "bridge netfilter (br_netfilter) is not loaded, so kube-proxy rules would not see bridged pod traffic",
			Fix: "load it with modprobe br_netfilter (make setup does; note it also applies iptables to bridges of the host)"}
	}
	for _, p := range lab.Pods {
		for _, c := range p.Containers {
			if c.Builtin || len(c.Argv) == 0 {
				continue
			}
			if _, err := exec.LookPath(c.Argv[0]); err != nil {
				return &MissingError{What: fmt.Sprintf("pod %s container %s runs %q, which is not on this machine", p.Key(), c.Name, c.Argv[0]),
					Fix: "install it, or use serve: / forward: (built into netx)"}
			}
		}
	}
	return nil
}
