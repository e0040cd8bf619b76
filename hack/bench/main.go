//go:build linux

// Command bench measures netx against a reference in one run on one
// machine and prints a markdown table (docs/benchmarks.md keeps the
// figures): `netx datapath up/down` against the CNI bridge plugin doing
// ADD/DEL for the same number of pods (--what datapath), netx inspect's
// inventory against lsns (--what inspect), and netx snapshot of a node
// holding N services' kube-proxy rules against iptables-save and
// nft list ruleset (--what snapshot). It needs root; everything it makes
// lives in namespaces it creates and removes.
//
//	go run ./hack/bench --netx bin/netx --pods 10,100,200,500
//	go run ./hack/bench --netx bin/netx --what snapshot --services 1000,10000 [--modes nftables]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/kubeproxy"
	"github.com/netx-project/netx/lab"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	netx := flag.String("netx", "bin/netx", "the netx binary (pause and containers re-execute it)")
	podsFlag := flag.String("pods", "10,100,200,500", "pod counts to measure")
	plugin := flag.String("cni", "/usr/lib/cni/bridge", "the reference CNI bridge plugin")
	rounds := flag.Int("rounds", 3, "runs per measurement; the median is reported")
	what := flag.String("what", "datapath", "datapath (up/down vs the CNI bridge plugin), cni (netx-cni ADD/DEL vs the CNI bridge plugin), inspect (inventory vs lsns) or snapshot (kube-proxy rules vs iptables-save, nft list ruleset)")
	servicesFlag := flag.String("services", "1000,10000", "service counts for --what snapshot")
	modesFlag := flag.String("modes", "iptables,nftables", "kube-proxy modes for --what snapshot and trace")
	labFlag := flag.String("lab", "", "for --what trace: also time trace --live on this lab (make demo's seeds)")
	hold := flag.Bool("hold", false, "for --what trace: build the first row's node, print the trace command for it and wait for Ctrl-C (to profile netx with --profile cpu)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "for --what inspect: write a CPU profile of netx's inventory (in this process) at the last pod count to this file")
	flag.Parse()
	if os.Geteuid() != 0 {
		return fmt.Errorf("bench builds network namespaces: run it as root")
	}
	self, err := filepath.Abs(*netx)
	if err != nil {
		return err
	}
	if _, err := os.Stat(self); err != nil {
		return fmt.Errorf("netx binary %s: %w (run make build first)", self, err)
	}
	switch *what {
	case "datapath", "cni":
		if _, err := os.Stat(*plugin); err != nil {
			return fmt.Errorf("CNI bridge plugin %s: %w (apt-get install containernetworking-plugins)", *plugin, err)
		}
	case "inspect", "snapshot", "trace":
	default:
		return fmt.Errorf("--what %q: say datapath, cni, inspect, snapshot or trace", *what)
	}
	counts, err := parseCounts("--pods", *podsFlag, 1000)
	if err != nil {
		return err
	}
	services, err := parseCounts("--services", *servicesFlag, kubeproxy.MaxSynthetic)
	if err != nil {
		return err
	}
	// Leave /run/netns as found: if it is not a mount point yet, netx's
	// namespaces make it one, and the bench undoes that at the end.
	made, err := nsenter.PrepareNetnsDir(lab.NetnsDir)
	if err != nil {
		return err
	}
	if made {
		defer nsenter.ReleaseNetnsDir(lab.NetnsDir)
	}
	fmt.Printf("machine: %d cores, %s, kernel %s\n\n", runtime.NumCPU(), runtime.GOARCH, kernel())
	switch *what {
	case "inspect":
		return inspectBench(self, counts, *rounds)
	case "cni":
		return cniBench(self, *plugin, counts, *rounds)
	case "snapshot", "trace":
		var modes []string
		for _, m := range strings.Split(*modesFlag, ",") {
			if m = strings.TrimSpace(m); m != "iptables" && m != "nftables" {
				return fmt.Errorf("--modes: %q is not a kube-proxy mode (iptables, nftables)", m)
			}
			modes = append(modes, m)
		}
		if *what == "trace" {
			return traceBench(self, services, modes, *rounds, *labFlag, *hold)
		}
		return snapshotBench(self, services, modes, *rounds, made)
	}
	fmt.Println("| pods | netx up (network) | netx down | netx up (+1 container/pod, 1 service) | CNI bridge ADD | CNI bridge DEL | netns create (for CNI) | up speed-up vs ADD |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range counts {
		up, down, err := median(*rounds, func() (time.Duration, time.Duration, error) { return netxRun(self, n, false) })
		if err != nil {
			return err
		}
		upFull, _, err := median(*rounds, func() (time.Duration, time.Duration, error) { return netxRun(self, n, true) })
		if err != nil {
			return err
		}
		var mk time.Duration
		add, del, err := median(*rounds, func() (time.Duration, time.Duration, error) {
			a, d, m, err := cniRun(*plugin, bridgeConf, n)
			mk = m
			return a, d, err
		})
		if err != nil {
			return err
		}
		per := func(d time.Duration) string {
			return fmt.Sprintf("%.2f ms/pod", float64(d.Microseconds())/1000/float64(n))
		}
		fmt.Printf("| %d | %s | %s | %s | %s | %s | %s | %.1f× |\n", n, per(up), per(down), per(upFull), per(add), per(del), per(mk), float64(add)/float64(up))
	}
	return nil
}

// parseCounts reads a comma-separated list of counts in 1-most.
func parseCounts(flagName, list string, most int) ([]int, error) {
	var counts []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > most {
			return nil, fmt.Errorf("%s: %q is not a count in 1-%d", flagName, s, most)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

// median runs f rounds times and returns the medians of both durations.
func median(rounds int, f func() (time.Duration, time.Duration, error)) (time.Duration, time.Duration, error) {
	var as, bs []time.Duration
	for range rounds {
		a, b, err := f()
		if err != nil {
			return 0, 0, err
		}
		as, bs = append(as, a), append(bs, b)
	}
	return mid(as), mid(bs), nil
}

func mid(d []time.Duration) time.Duration {
	for i := range d {
		for j := i + 1; j < len(d); j++ {
			if d[j] < d[i] {
				d[i], d[j] = d[j], d[i]
			}
		}
	}
	return d[len(d)/2]
}

// topology is one node with n pods on one bridge (as the CNI side has),
// optionally each with a server container and one service over all.
func topology(n int, full bool) string {
	var b strings.Builder
	// The lab's name is unique to this run, so it never meets a user's lab.
	fmt.Fprintf(&b, "name: b%dn%d\nnodes:\n  - name: node1\n    podCIDR: 10.244.0.0/22\npods:\n", os.Getpid(), n)
	for i := range n {
		fmt.Fprintf(&b, "  - name: p%d\n    node: node1\n    labels: {app: bench}\n", i)
		if full {
			b.WriteString("    containers: [{name: c, serve: 8080}]\n")
		} else {
			b.WriteString("    containers: []\n")
		}
	}
	if full {
		b.WriteString("services:\n  - {name: s, selector: {app: bench}, ports: [{port: 80, targetPort: '8080'}]}\n")
	}
	return b.String()
}

func netxRun(self string, n int, full bool) (up, down time.Duration, err error) {
	top, err := lab.Parse("bench.yaml", []byte(topology(n, full)))
	if err != nil {
		return 0, 0, err
	}
	plan, err := top.Resolve()
	if err != nil {
		return 0, 0, err
	}
	settle()
	ctx := context.Background()
	t0 := time.Now()
	if _, err := lab.Up(ctx, plan, lab.UpOptions{Self: self, Source: "bench"}); err != nil {
		lab.Down(ctx, plan.Name)
		return 0, 0, fmt.Errorf("netx up: %w", err)
	}
	up = time.Since(t0)
	t0 = time.Now()
	if _, err := lab.Down(ctx, plan.Name); err != nil {
		return 0, 0, fmt.Errorf("netx down: %w", err)
	}
	return up, time.Since(t0), nil
}

// bridgeConf is the reference bridge plugin's configuration: a gateway
// bridge, hairpin, host-local addresses of a /22 (%q: its data dir).
const bridgeConf = `{"cniVersion":"1.0.0","name":"bench","type":"bridge","bridge":"cni0","isGateway":true,
"ipMasq":false,"hairpinMode":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.0.0/22"}]],"dataDir":%q}}`

// netxConf is netx-cni's for the same network.
const netxConf = `{"cniVersion":"1.0.0","name":"bench","type":"netx-cni","bridge":"cni0","podCIDR":"10.244.0.0/22","dataDir":%q}`

// cniBench times netx-cni's ADD and DEL against the reference bridge
// plugin's, pod after pod in one node namespace, in the same run.
// netx-cni is the plugin binary make build puts next to netx (the small
// one a runtime runs; kubectl-netx cni is the same plugin in the full
// binary, which starts slower).
func cniBench(self, plugin string, counts []int, rounds int) error {
	netxCNI := filepath.Join(filepath.Dir(self), "netx-cni")
	if _, err := os.Stat(netxCNI); err != nil {
		return fmt.Errorf("%s: %w (make build builds it)", netxCNI, err)
	}
	fmt.Println("| pods | netx-cni ADD | netx-cni DEL | CNI bridge + host-local ADD | CNI bridge DEL | ADD speed-up | DEL speed-up |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range counts {
		nadd, ndel, err := median(rounds, func() (time.Duration, time.Duration, error) {
			a, d, _, err := cniRun(netxCNI, netxConf, n)
			return a, d, err
		})
		if err != nil {
			return err
		}
		badd, bdel, err := median(rounds, func() (time.Duration, time.Duration, error) {
			a, d, _, err := cniRun(plugin, bridgeConf, n)
			return a, d, err
		})
		if err != nil {
			return err
		}
		per := func(d time.Duration) string {
			return fmt.Sprintf("%.2f ms/pod", float64(d.Microseconds())/1000/float64(n))
		}
		fmt.Printf("| %d | %s | %s | %s | %s | %.1f× | %.1f× |\n", n, per(nadd), per(ndel), per(badd), per(bdel), float64(badd)/float64(nadd), float64(bdel)/float64(ndel))
	}
	return nil
}

// cniRun gives n fresh pod namespaces to the bridge plugin (ADD), then
// takes them back (DEL), running it inside a throwaway node namespace as a
// container runtime would on the host. Its namespaces are named like a
// lab's (netx.<name>.*), so `netx datapath down <name>` removes any left
// by a killed run.
func cniRun(plugin, confFormat string, n int) (add, del, mk time.Duration, err error) {
	dir, err := os.MkdirTemp("", "netx-bench-cni")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.RemoveAll(dir)
	conf := fmt.Sprintf(confFormat, filepath.Join(dir, "ipam"))
	plan := fmt.Sprintf("bcni%d", os.Getpid())
	node := lab.NetnsPath(lab.NetnsName(plan, "node"))
	pods := make([]string, n)
	defer func() {
		for _, p := range append(pods, node) {
			if p != "" {
				nsenter.RemoveNamed(p)
			}
		}
	}()
	if err := nsenter.CreateNamed(node, func() error { return nil }); err != nil {
		return 0, 0, 0, fmt.Errorf("node namespace: %w", err)
	}
	settle()
	t0 := time.Now()
	for i := range n {
		pods[i] = lab.NetnsPath(lab.NetnsName(plan, fmt.Sprintf("p%d", i)))
		if err := nsenter.CreateNamed(pods[i], func() error { return nil }); err != nil {
			return 0, 0, 0, fmt.Errorf("pod namespace: %w", err)
		}
	}
	mk = time.Since(t0)
	settle()
	call := func(cmd string, i int) error {
		c := exec.Command(plugin)
		c.Env = []string{"CNI_COMMAND=" + cmd, "CNI_CONTAINERID=bench" + strconv.Itoa(i), "CNI_NETNS=" + pods[i],
			"CNI_IFNAME=eth0", "CNI_PATH=" + filepath.Dir(plugin), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		c.Stdin = strings.NewReader(conf)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := nsenter.Start(nsenter.Net(node), c); err != nil {
			return fmt.Errorf("start plugin: %w", err)
		}
		if err := c.Wait(); err != nil {
			return fmt.Errorf("CNI %s pod %d: %w: %s", cmd, i, err, out.String())
		}
		return nil
	}
	t0 = time.Now()
	for i := range n {
		if err := call("ADD", i); err != nil {
			return 0, 0, 0, err
		}
	}
	add = time.Since(t0)
	settle()
	t0 = time.Now()
	for i := range n {
		if err := call("DEL", i); err != nil {
			return 0, 0, 0, err
		}
	}
	return add, time.Since(t0), mk, nil
}

// settle waits until the machine is idle again (the kernel tears network
// namespaces down asynchronously, and that work must not be charged to the
// next measurement).
func settle() {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		i0, t0 := cpuIdle()
		time.Sleep(250 * time.Millisecond)
		i1, t1 := cpuIdle()
		if t1 > t0 && float64(i1-i0)/float64(t1-t0) > 0.95 {
			return
		}
	}
}

func cpuIdle() (idle, total uint64) {
	b, _ := os.ReadFile("/proc/stat")
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	for i, s := range f[1:] {
		v, _ := strconv.ParseUint(s, 10, 64)
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return idle, total
}

// cpuProfile is --cpuprofile.
var cpuProfile string

// startProfile starts the CPU profile --cpuprofile asks for (each call
// overwrites the file) and returns what stops it.
func startProfile() (stop func(), err error) {
	if cpuProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(cpuProfile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// inspectBench times netx inspect's inventory (every namespace found and
// read: links, addresses, routes, peers, sockets) of a lab node holding N
// pods, next to `lsns -t net`, which only lists namespaces.
func inspectBench(self string, counts []int, rounds int) error {
	fmt.Println("| pods | netx inspect (find + read all) | per pod | lsns -t net (list only) |")
	fmt.Println("|---:|---:|---:|---:|")
	for _, n := range counts {
		top, err := lab.Parse("bench.yaml", []byte(topology(n, false)))
		if err != nil {
			return err
		}
		plan, err := top.Resolve()
		if err != nil {
			return err
		}
		ctx := context.Background()
		if _, err := lab.Up(ctx, plan, lab.UpOptions{Self: self, Source: "bench"}); err != nil {
			lab.Down(ctx, plan.Name)
			return err
		}
		settle()
		stopProfile, err := startProfile()
		if err != nil {
			lab.Down(ctx, plan.Name)
			return err
		}
		ours, _, err := median(rounds, func() (time.Duration, time.Duration, error) {
			t0 := time.Now()
			snap, err := inspect.Discover(inspect.Options{HostNetns: plan.Nodes[0].Netns})
			if err == nil && len(snap.Namespaces) < n {
				err = fmt.Errorf("inspect found %d namespaces, want at least %d", len(snap.Namespaces), n)
			}
			return time.Since(t0), 0, err
		})
		stopProfile()
		lsns, _, lerr := median(rounds, func() (time.Duration, time.Duration, error) {
			t0 := time.Now()
			err := exec.Command("lsns", "-t", "net", "-J").Run()
			return time.Since(t0), 0, err
		})
		lab.Down(ctx, plan.Name)
		if err != nil {
			return err
		}
		ref := "n/a"
		if lerr == nil {
			ref = lsns.Round(time.Millisecond).String()
		}
		fmt.Printf("| %d | %s | %.2f ms | %s |\n", n, ours.Round(time.Millisecond), float64(ours.Microseconds())/1000/float64(n), ref)
	}
	return nil
}
