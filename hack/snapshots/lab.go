//go:build linux

package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/lab"
	"golang.org/x/sys/unix"
)

// The names this program runs under as a pod's processes (see main).
const (
	rolePause = "pause"
	roleApp   = "app"
)

// The fabric every shape's nodes hang off: a bridge in a namespace of its
// own standing for the node network (the addresses of the real cluster in
// testdata/cluster). It is not part of any snapshot: it is attached to
// the nodes, not one of their pods.
const (
	fabricGateway = "192.168.77.1"
	fabricPrefix  = 24
)

// lab is one shape being built. Its methods stop at the first error and
// keep it in err, so a shape reads as the list of steps it takes.
type shapeLab struct {
	shape   string
	tmp     string // IPAM state and the role links
	madeDir bool   // /run/netns was made a mount point here
	netns   []string
	procs   []*proc
	// pods names the pod namespaces, as the container runtime would.
	pods map[string]*inspect.PodRef
	// fixedMACs are addresses the shape chose; the others are random and
	// renumbered when the snapshot is normalised.
	fixedMACs map[string]bool
	err       error
}

type proc struct {
	cmd   *exec.Cmd
	stdin io.Closer
}

func newLab(shape string) (*shapeLab, error) {
	l := &shapeLab{shape: shape, pods: map[string]*inspect.PodRef{}, fixedMACs: map[string]bool{}}
	var err error
	if l.tmp, err = os.MkdirTemp("", "netx-snapshots-"); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	for _, r := range []string{rolePause, roleApp} {
		if err := os.Symlink(exe, filepath.Join(l.tmp, r)); err != nil {
			return nil, err
		}
	}
	if l.madeDir, err = nsenter.PrepareNetnsDir(lab.NetnsDir); err != nil {
		return nil, err
	}
	// A run that died half way left its namespaces: they are this
	// program's by name.
	stale, _ := filepath.Glob(filepath.Join(lab.NetnsDir, l.name("*")))
	for _, p := range stale {
		if err := nsenter.RemoveNamed(p); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// name is the /run/netns name of one of the shape's namespaces.
func (l *shapeLab) name(object string) string { return "netxfx-" + l.shape + "-" + object }

func (l *shapeLab) path(object string) string { return lab.NetnsPath(l.name(object)) }

// close stops the pods' processes and removes every namespace made.
func (l *shapeLab) close() error {
	for _, p := range l.procs {
		p.stdin.Close()
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	}
	var errs []string
	for i := len(l.netns) - 1; i >= 0; i-- {
		if err := nsenter.RemoveNamed(l.netns[i]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if l.madeDir {
		if err := nsenter.ReleaseNetnsDir(lab.NetnsDir); err != nil {
			errs = append(errs, err.Error())
		}
	}
	os.RemoveAll(l.tmp)
	if len(errs) > 0 {
		return fmt.Errorf("clean up: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (l *shapeLab) fail(err error) {
	if l.err == nil {
		l.err = err
	}
}

// netnsAdd makes a namespace with IPv6 off (no link-local addresses that
// change with every MAC) and lo up.
func (l *shapeLab) netnsAdd(object string) string {
	p := l.path(object)
	if l.err != nil {
		return p
	}
	err := nsenter.CreateNamed(p, func() error {
		return nsenter.SetSysctls([][2]string{{"net/ipv6/conf/all/disable_ipv6", "1"}, {"net/ipv6/conf/default/disable_ipv6", "1"}})
	})
	if err != nil {
		l.fail(err)
		return p
	}
	l.netns = append(l.netns, p)
	l.ip(p, "link set lo up")
	return p
}

// ip runs `ip -batch` in a namespace: one command per line.
func (l *shapeLab) ip(netns, script string) { l.batch(netns, "ip", script) }

// bridge runs `bridge -batch` (fdb entries) in a namespace.
func (l *shapeLab) bridge(netns, script string) { l.batch(netns, "bridge", script) }

func (l *shapeLab) batch(netns, prog, script string) {
	if l.err != nil {
		return
	}
	script = strings.TrimSpace(script) + "\n"
	if _, err := nsenter.Output(nsenter.Net(netns), strings.NewReader(script), prog, "-batch", "-"); err != nil {
		l.fail(fmt.Errorf("%s in %s: %w\n%s", prog, netns, err, script))
	}
}

// iptables adds rules (iptables-restore --noflush input) in a namespace.
func (l *shapeLab) iptables(netns, rules string) {
	if l.err != nil {
		return
	}
	if _, err := nsenter.Output(nsenter.Net(netns), strings.NewReader(rules), "iptables-restore", "--noflush"); err != nil {
		l.fail(fmt.Errorf("iptables-restore in %s: %w", netns, err))
	}
}

func (l *shapeLab) sysctl(netns string, kv ...[2]string) {
	if l.err != nil {
		return
	}
	if err := nsenter.Do(nsenter.Net(netns), func() error { return nsenter.SetSysctls(kv) }); err != nil {
		l.fail(fmt.Errorf("sysctl in %s: %w", netns, err))
	}
}

func (l *shapeLab) fixMAC(mac string) string {
	l.fixedMACs[mac] = true
	return mac
}

// fabric makes the node network: a bridge with the gateway's address.
func (l *shapeLab) fabric() string {
	lan := l.netnsAdd("lan")
	l.ip(lan, fmt.Sprintf("link add br0 type bridge\nlink set br0 up\naddr add %s/%d dev br0", fabricGateway, fabricPrefix))
	return lan
}

// node makes a node namespace: eth0 on the fabric with the node's address
// and the default route, forwarding on, settings written explicitly so
// they do not depend on the machine the fixtures are made on.
func (l *shapeLab) node(lan, name, addr string) string {
	n := l.netnsAdd(name)
	l.sysctl(n, [2]string{"net/ipv4/ip_forward", "1"}, [2]string{"net/ipv4/conf/all/rp_filter", "0"},
		[2]string{"net/ipv4/conf/default/rp_filter", "0"}, [2]string{"net/ipv4/conf/all/route_localnet", "0"})
	l.ip(n, fmt.Sprintf(`link add eth0 type veth peer name %s netns %s
link set eth0 address %s
addr add %s/%d dev eth0
link set eth0 up
route add default via %s`, name, l.name("lan"), l.fixMAC(ipMAC("02:42", addr)), addr, fabricPrefix, fabricGateway))
	l.ip(lan, fmt.Sprintf("link set %s master br0 up", name))
	return n
}

// ipMAC is a MAC address made of a two-byte prefix and an IPv4 address.
func ipMAC(prefix, ip string) string {
	v4 := net.ParseIP(ip).To4()
	return fmt.Sprintf("%s:%02x:%02x:%02x:%02x", prefix, v4[0], v4[1], v4[2], v4[3])
}

// pod is a pod of a shape.
type pod struct {
	namespace, name string
	node            string
	listen          []string // the app's sockets: tcp:80, udp:53
}

func (p pod) key() string { return p.namespace + "/" + p.name }

// uid and containerID are what the runtime would have made up, derived
// from the pod's name so that every run makes the same ones.
func (p pod) uid() string {
	h := sha256.Sum256([]byte("uid " + p.key()))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func (p pod) containerID() string {
	h := sha256.Sum256([]byte("sandbox " + p.key()))
	return hex.EncodeToString(h[:])
}

// podNetns makes a pod's namespace and names it after the pod.
func (l *shapeLab) podNetns(p pod) string {
	n := l.netnsAdd(p.name)
	l.pods[n] = &inspect.PodRef{Namespace: p.namespace, Name: p.name, UID: p.uid(), Node: p.node}
	return n
}

// cniAdd runs a reference CNI plugin's ADD for a pod from the node's
// namespace, as the container runtime does, and returns its result.
func (l *shapeLab) cniAdd(node, podNS string, p pod, conf map[string]any) json.RawMessage {
	if l.err != nil {
		return nil
	}
	typ, _ := conf["type"].(string)
	in, err := json.Marshal(conf)
	if err != nil {
		l.fail(err)
		return nil
	}
	c := exec.Command("/usr/lib/cni/" + typ)
	c.Env = []string{"CNI_COMMAND=ADD", "CNI_CONTAINERID=" + p.containerID(), "CNI_NETNS=" + podNS, "CNI_IFNAME=eth0",
		"CNI_PATH=/usr/lib/cni", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		fmt.Sprintf("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s", p.namespace, p.name, p.containerID())}
	c.Stdin = strings.NewReader(string(in))
	var out, errb strings.Builder
	c.Stdout, c.Stderr = &out, &errb
	if err := nsenter.Start(nsenter.Net(node), c); err != nil {
		l.fail(fmt.Errorf("CNI %s: %w (apt-get install containernetworking-plugins)", typ, err))
		return nil
	}
	if err := c.Wait(); err != nil {
		l.fail(fmt.Errorf("CNI %s ADD for %s: %w: %s%s", typ, p.key(), err, out.String(), errb.String()))
		return nil
	}
	return json.RawMessage(out.String())
}

// start runs the pod's processes: the pause in new uts and ipc
// namespaces with the pod's hostname, then the app joining them and
// listening on the pod's ports.
func (l *shapeLab) start(podNS string, p pod) {
	pause := l.spawn(nsenter.Net(podNS), unix.CLONE_NEWUTS|unix.CLONE_NEWIPC, rolePause, p.name)
	if pause == 0 || len(p.listen) == 0 {
		return
	}
	l.spawn(nsenter.Target{Net: podNS, UTS: fmt.Sprintf("/proc/%d/ns/uts", pause), IPC: fmt.Sprintf("/proc/%d/ns/ipc", pause)}, 0, roleApp, p.listen...)
}

// spawn starts this program as role in t and waits for it to say it is
// ready; it runs until its stdin closes (close, or this program's end).
func (l *shapeLab) spawn(t nsenter.Target, clone uintptr, role string, args ...string) int {
	if l.err != nil {
		return 0
	}
	c := exec.Command(filepath.Join(l.tmp, role), args...)
	c.Args[0] = role
	c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: clone}
	c.Stderr = os.Stderr
	in, err := c.StdinPipe()
	if err != nil {
		l.fail(err)
		return 0
	}
	out, err := c.StdoutPipe()
	if err != nil {
		l.fail(err)
		return 0
	}
	if err := nsenter.Start(t, c); err != nil {
		l.fail(fmt.Errorf("start %s in %s: %w", role, t.Net, err))
		return 0
	}
	l.procs = append(l.procs, &proc{cmd: c, stdin: in})
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		l.fail(fmt.Errorf("%s %s in %s did not start: %q %v", role, strings.Join(args, " "), t.Net, line, err))
		return 0
	}
	return c.Process.Pid
}

// pause is a pod's infra process: hostname set, then it holds the
// namespaces.
func pause(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: pause HOSTNAME")
		return 2
	}
	if err := unix.Sethostname([]byte(args[0])); err != nil {
		fmt.Fprintln(os.Stderr, "pause:", err)
		return 1
	}
	return hold()
}

// app listens on tcp:PORT and udp:PORT (IPv4, as a pod's server would in
// a namespace with IPv6 off) and holds the sockets.
func app(args []string) int {
	for _, a := range args {
		proto, port, _ := strings.Cut(a, ":")
		var err error
		switch proto {
		case "tcp":
			_, err = net.Listen("tcp4", "0.0.0.0:"+port)
		case "udp":
			_, err = net.ListenPacket("udp4", "0.0.0.0:"+port)
		default:
			err = fmt.Errorf("want tcp:PORT or udp:PORT, not %q", a)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "app:", err)
			return 1
		}
	}
	return hold()
}

// hold says ready and waits for stdin to close or a signal.
func hold() int {
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	eof := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(eof) }()
	select {
	case <-sig:
	case <-eof:
	}
	return 0
}
