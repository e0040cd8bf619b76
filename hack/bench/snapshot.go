//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/lab"
	"github.com/netx-project/netx/netfilter"
	"github.com/netx-project/netx/netfilter/nftnl"
)

// snapRow is one line of the snapshot table: a node namespace holding the
// kube-proxy rules of some services in one mode.
type snapRow struct {
	services int
	mode     string
	rules    int // rules kube-proxy's layout has for them (both families, all tables)

	iptablesSave, nftList, netx time.Duration // end to end, each its own process

	// In-process, to show where netx's time goes.
	discover time.Duration // inspect.Discover: every namespace found, the node read, its rules run and parsed
	parse    time.Duration // parsing the reference's text (iptables-save or nft list ruleset output)
	nftRead  time.Duration // the nftables ruleset read over netlink into the model (nftnl.Read)
	encode   time.Duration // the snapshot's JSON, as netx snapshot writes it (inspect.WriteSnapshot)
	size     int64         // of that JSON
	modelled int           // rules in the snapshot's netfilter model
	netns    int           // namespaces the snapshot holds: the node, and every other one on the machine
}

// snapshotBench times `netx snapshot` of a node namespace holding
// kube-proxy's rules for N services (package kubeproxy), in each mode,
// against the tools that print the same rules: iptables-save, and
// nft list ruleset. Each node namespace is made for its row and removed
// after it, and on SIGINT/SIGTERM: nothing is loaded outside it.
func snapshotBench(self string, counts []int, modes []string, rounds int, releaseDir bool) error {
	ipt, err := exec.LookPath("iptables-save")
	if err != nil {
		return err
	}
	nft, err := exec.LookPath("nft")
	if err != nil {
		return err
	}
	sc := &scratch{releaseDir: releaseDir}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	go func() {
		if s, ok := <-sig; ok {
			fmt.Fprintf(os.Stderr, "bench: %v: removing the bench's namespaces\n", s)
			sc.removeAll()
			os.Exit(130)
		}
	}()

	fmt.Printf("iptables-save: %s, nft: %s\n\n", version(ipt, "--version"), version(nft, "--version"))
	var rows []snapRow
	for _, n := range counts {
		for _, mode := range modes {
			r, err := snapshotRow(sc, self, ipt, nft, n, mode, rounds)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "bench: %d services, %s: netx %s, iptables-save %s, nft list ruleset %s\n", n, mode, ms(r.netx), ms(r.iptablesSave), ms(r.nftList))
			rows = append(rows, r)
		}
	}
	fmt.Println("| services | mode | rules | iptables-save | nft list ruleset | netx snapshot | netx / reference |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		ref := r.iptablesSave
		if r.mode == "nftables" {
			ref = r.nftList
		}
		fmt.Printf("| %d | %s | %d | %s | %s | %s | %.2f× |\n", r.services, r.mode, r.rules,
			ms(r.iptablesSave), ms(r.nftList), ms(r.netx), float64(r.netx)/float64(ref))
	}
	fmt.Println()
	fmt.Println("| services | mode | in-process: discover + read | parse of the reference's text | ReadNFTables alone (whole ruleset) | JSON written | JSON size | rules in the snapshot | namespaces read |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %d | %s | %s | %s | %s | %s | %.1f MB | %d | %d |\n", r.services, r.mode,
			ms(r.discover), ms(r.parse), ms(r.nftRead), ms(r.encode), float64(r.size)/1e6, r.modelled, r.netns)
	}
	return nil
}

func ms(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func version(prog string, arg string) string {
	out, _ := exec.Command(prog, arg).Output()
	return strings.TrimSpace(string(out))
}

func snapshotRow(sc *scratch, self, ipt, nft string, n int, mode string, rounds int) (snapRow, error) {
	r := snapRow{services: n, mode: mode}
	node, err := newSyntheticNode(mode, n)
	if err != nil {
		return r, err
	}
	r.rules = node.rules

	// Named like a lab's namespace (netx.<name>.*), so `netx datapath
	// down <name>` removes one a killed run left.
	path := lab.NetnsPath(lab.NetnsName(fmt.Sprintf("bsnap%d", os.Getpid()), fmt.Sprintf("%s%d", mode, n)))
	sc.add(path)
	defer sc.remove(path)
	if err := node.create(path); err != nil {
		return r, fmt.Errorf("node namespace: %w", err)
	}
	t0 := time.Now()
	if err := node.load(path, nft); err != nil {
		return r, fmt.Errorf("load %d services' rules (%s): %w", n, mode, err)
	}
	fmt.Fprintf(os.Stderr, "bench: %d services, %s: %d rules loaded in %s\n", n, mode, r.rules, time.Since(t0).Round(time.Millisecond))

	// The references' output, for the parser (not timed).
	iptOut, err := nsenter.Output(nsenter.Net(path), nil, ipt)
	if err != nil {
		return r, err
	}
	nftOut, err := nsenter.Output(nsenter.Net(path), nil, nft, "list", "ruleset")
	if err != nil {
		return r, err
	}
	// Each round times everything once, one after the other, each on an
	// idle machine: a busy moment weighs on one round, not on one column.
	var ipts, nfts, netxs, discovers, encodes, parses, nftReads []time.Duration
	for range rounds {
		// The references: each tool alone, forked inside the namespace,
		// printing to /dev/null.
		d, err := timed(func() error { return runNull(path, ipt) })
		if err != nil {
			return r, err
		}
		ipts = append(ipts, d)
		if d, err = timed(func() error { return runNull(path, nft, "list", "ruleset") }); err != nil {
			return r, err
		}
		nfts = append(nfts, d)
		// netx end to end: the built binary, as a user runs it.
		if d, err = timed(func() error {
			c := exec.Command(self, "snapshot", "--host-netns", path, "-o", os.DevNull)
			var errb bytes.Buffer
			c.Stderr = &errb
			if err := c.Run(); err != nil {
				return fmt.Errorf("netx snapshot: %w: %s", err, strings.TrimSpace(errb.String()))
			}
			return nil
		}); err != nil {
			return r, err
		}
		netxs = append(netxs, d)
		// In-process: discovery and reading (the node's rules included),
		// then the JSON as netx snapshot writes it.
		var snap *inspect.Snapshot
		if d, err = timed(func() (err error) {
			snap, err = inspect.Discover(inspect.Options{HostNetns: path})
			return err
		}); err != nil {
			return r, err
		}
		discovers = append(discovers, d)
		r.modelled, r.netns = 0, 1+len(snap.Namespaces)
		for _, rs := range snap.Node.Netfilter {
			r.modelled += countRules(rs)
		}
		cw := &countWriter{}
		if d, err = timed(func() error { return inspect.WriteSnapshot(cw, snap) }); err != nil {
			return r, err
		}
		encodes = append(encodes, d)
		r.size = cw.n
		// The parser alone, on the reference's text.
		if d, err = timed(func() (err error) {
			if mode == "iptables" {
				_, err = netfilter.ParseIPTablesSave(bytes.NewReader(iptOut), netfilter.SourceIPTablesNFT)
			} else {
				_, err = netfilter.ParseNFT(bytes.NewReader(nftOut))
			}
			return err
		}); err != nil {
			return r, fmt.Errorf("parse the %s reference's output: %w", mode, err)
		}
		parses = append(parses, d)
		if d, err = timed(func() error {
			_, _, err := nftnl.Read(path)
			return err
		}); err != nil {
			return r, fmt.Errorf("read nftables over netlink: %w", err)
		}
		nftReads = append(nftReads, d)
	}
	r.iptablesSave, r.nftList, r.netx = mid(ipts), mid(nfts), mid(netxs)
	r.discover, r.encode, r.parse, r.nftRead = mid(discovers), mid(encodes), mid(parses), mid(nftReads)
	return r, nil
}

// timed runs f once the machine is idle and says how long it took.
func timed(f func() error) (time.Duration, error) {
	settle()
	t0 := time.Now()
	err := f()
	return time.Since(t0), err
}

// runNull runs prog inside the namespace at path, its output to /dev/null.
func runNull(path, prog string, args ...string) error {
	c := exec.Command(prog, args...)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	c.Stdout = null
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := nsenter.Start(nsenter.Net(path), c); err != nil {
		return err
	}
	if err := c.Wait(); err != nil {
		return fmt.Errorf("%s: %w: %s", prog, err, strings.TrimSpace(errb.String()))
	}
	return nil
}

func countRules(rs *netfilter.Ruleset) int {
	n := 0
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			n += len(c.Rules)
		}
	}
	return n
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// scratch holds the namespaces the bench made, to remove them when it
// returns and when it is interrupted: a namespace holding a hundred
// thousand rules must not outlive the run.
type scratch struct {
	mu         sync.Mutex
	paths      []string
	releaseDir bool // /run/netns was made a mount point for the run
}

func (s *scratch) add(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths = append(s.paths, path)
}

func (s *scratch) remove(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := nsenter.RemoveNamed(path); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return
	}
	for i, p := range s.paths {
		if p == path {
			s.paths = append(s.paths[:i], s.paths[i+1:]...)
			break
		}
	}
}

func (s *scratch) removeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.paths {
		if err := nsenter.RemoveNamed(p); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}
	s.paths = nil
	if s.releaseDir {
		nsenter.ReleaseNetnsDir(lab.NetnsDir)
	}
}
