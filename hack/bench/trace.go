//go:build linux

package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/lab"
)

// traceBench times `netx trace` on a node holding n services of
// kube-proxy's layout (package kubeproxy, held to the real dumps), static, from the
// node to the last service (the last of KUBE-SERVICES' rules, the worst
// case), against iptables-save / nft list ruleset on the same node in the
// same round; then `netx trace --live` end to end on a lab, if one is up.
func traceBench(self string, counts []int, modes []string, rounds int, plan string, hold bool) error {
	ipt, nft := "iptables-save", "nft"
	sc := &scratch{}
	defer sc.removeAll()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	if hold {
		_, err := traceRow(sc, self, ipt, nft, counts[0], modes[0], 0, sig)
		return err
	}
	go func() {
		if s, ok := <-sig; ok {
			fmt.Fprintf(os.Stderr, "bench: %v: removing the bench's namespaces\n", s)
			sc.removeAll()
			os.Exit(130)
		}
	}()
	fmt.Println("| services | mode | iptables-save | nft list ruleset | netx trace (static, end to end) | trace ÷ reference | verdict |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---|")
	for _, n := range counts {
		for _, mode := range modes {
			row, err := traceRow(sc, self, ipt, nft, n, mode, rounds, nil)
			if err != nil {
				return err
			}
			ref := row.ipt
			if mode == "nftables" {
				ref = row.nft
			}
			fmt.Printf("| %d | %s | %s | %s | %s | %.2f× | %s |\n", n, mode, ms(row.ipt), ms(row.nft), ms(row.trace), float64(row.trace)/float64(ref), row.verdict)
		}
	}
	if plan == "" {
		return nil
	}
	fmt.Println()
	fmt.Println("| lab | trace | netx trace --live (end to end) | agrees |")
	fmt.Println("|---|---|---:|---|")
	for _, c := range [][2]string{{"pod-a", "svc/svc-b"}, {"pod-a", "b-2:8080"}, {"internet", "node/node1:30080"}} {
		var ds []time.Duration
		agrees := true
		for range rounds {
			var out []byte
			d, err := timed(func() (err error) {
				out, err = exec.Command(self, "trace", c[0], c[1], "--lab", plan, "--live", "-o", "json").Output()
				return err
			})
			if err != nil {
				return fmt.Errorf("netx trace %s %s --live: %w", c[0], c[1], err)
			}
			agrees = agrees && bytes.Contains(out, []byte(`"agrees": true`))
			ds = append(ds, d)
		}
		fmt.Printf("| %s | %s → %s | %s | %v |\n", plan, c[0], c[1], ms(mid(ds)), agrees)
	}
	return nil
}

type traceRowResult struct {
	ipt, nft, trace time.Duration
	verdict         string
}

// traceRow builds the node of n services in mode and times the trace on it;
// with hold (not nil) it prints the trace command instead and waits for a
// signal on it before removing the node.
func traceRow(sc *scratch, self, ipt, nft string, n int, mode string, rounds int, hold <-chan os.Signal) (traceRowResult, error) {
	var r traceRowResult
	synth, err := newSyntheticNode(mode, n)
	if err != nil {
		return r, err
	}
	name := fmt.Sprintf("btrace%d", os.Getpid())
	node := lab.NetnsPath(lab.NetnsName(name, fmt.Sprintf("%s%d", mode, n)))
	pod := lab.NetnsPath(lab.NetnsName(name, fmt.Sprintf("%s%dpod", mode, n)))
	sc.add(node)
	sc.add(pod)
	defer sc.remove(pod)
	defer sc.remove(node)
	if err := synth.create(node); err != nil {
		return r, fmt.Errorf("node namespace: %w", err)
	}
	if err := nsenter.CreateNamed(pod, func() error { return nil }); err != nil {
		return r, fmt.Errorf("pod namespace: %w", err)
	}
	// The last service's first endpoint is a pod behind a veth, so the
	// path goes node → NAT → veth → pod.
	last := synth.ports[len(synth.ports)-1]
	ep := last.Endpoints[0].Addr()
	setup := [][]string{
		{"ip", "link", "add", "veth0", "type", "veth", "peer", "name", "eth0", "netns", pod},
		{"ip", "addr", "add", "10.244.0.1/16", "dev", "veth0"},
		{"ip", "link", "set", "veth0", "up"},
		// A node routes service addresses somewhere (its default route):
		// a local connect needs a route before OUTPUT's DNAT.
		{"ip", "route", "add", "default", "dev", "veth0"},
	}
	for _, c := range setup {
		if out, err := nsenter.Output(nsenter.Net(node), nil, c[0], c[1:]...); err != nil {
			return r, fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	for _, c := range [][]string{
		{"ip", "addr", "add", netip.PrefixFrom(ep, 16).String(), "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"},
		{"ip", "link", "set", "lo", "up"},
	} {
		if out, err := nsenter.Output(nsenter.Net(pod), nil, c[0], c[1:]...); err != nil {
			return r, fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	if err := synth.load(node, nft); err != nil {
		return r, fmt.Errorf("load %d services' rules (%s): %w", n, mode, err)
	}
	nodeName := node[strings.LastIndexByte(node, '/')+1:]
	dst := netip.AddrPortFrom(last.ClusterIP, last.Port).String()
	if hold != nil {
		fmt.Printf("%s trace node/%s %s --host-netns %s --endpoint %s -o json\n", self, nodeName, dst, node, ep)
		fmt.Println("holding the node until Ctrl-C")
		<-hold
		return r, nil
	}
	var ipts, nfts, traces []time.Duration
	for range rounds {
		d, err := timed(func() error { return runNull(node, ipt) })
		if err != nil {
			return r, err
		}
		ipts = append(ipts, d)
		if d, err = timed(func() error { return runNull(node, nft, "list", "ruleset") }); err != nil {
			return r, err
		}
		nfts = append(nfts, d)
		var out []byte
		if d, err = timed(func() error {
			c := exec.Command(self, "trace", "node/"+nodeName, dst, "--host-netns", node, "--endpoint", ep.String(), "-o", "json")
			var errb bytes.Buffer
			c.Stderr = &errb
			out, err = c.Output()
			if err != nil {
				return fmt.Errorf("netx trace: %w: %s", err, strings.TrimSpace(errb.String()))
			}
			return nil
		}); err != nil {
			return r, err
		}
		traces = append(traces, d)
		r.verdict = verdictOf(out)
	}
	r.ipt, r.nft, r.trace = mid(ipts), mid(nfts), mid(traces)
	return r, nil
}

// verdictOf pulls "kind" out of a trace's JSON verdict.
func verdictOf(out []byte) string {
	i := bytes.Index(out, []byte(`"verdict": {`))
	if i < 0 {
		return "?"
	}
	rest := out[i:]
	j := bytes.Index(rest, []byte(`"kind": "`))
	if j < 0 {
		return "?"
	}
	rest = rest[j+9:]
	return string(rest[:bytes.IndexByte(rest, '"')])
}
