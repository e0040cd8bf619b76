package nftrace

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
)

// childEnv makes the test binary a process that starts a session in the
// namespace it names and waits to be killed.
const childEnv = "NETX_NFTRACE_CHILD"

func TestMain(m *testing.M) {
	if p := os.Getenv(childEnv); p != "" {
		s, err := Start(p, []Tuple{{Proto: "tcp", DPort: 1}})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(s.Table())
		time.Sleep(time.Minute)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

const netnsDir = "/run/netns"

// pair is two throwaway namespaces joined by a veth pair: a (10.231.0.1,
// eth0) and b (10.231.0.2, eth0).
type pair struct {
	a, b string // paths
}

var (
	addrA = netip.MustParseAddr("10.231.0.1")
	addrB = netip.MustParseAddr("10.231.0.2")
)

func newPair(t *testing.T) pair {
	t.Helper()
	testenv.RequireRoot(t)
	made, err := nsenter.PrepareNetnsDir(netnsDir)
	if err != nil {
		t.Fatal(err)
	}
	r := make([]byte, 3)
	rand.Read(r)
	name := func(s string) string { return "netx-nftrace-" + hex.EncodeToString(r) + "-" + s }
	p := pair{filepath.Join(netnsDir, name("a")), filepath.Join(netnsDir, name("b"))}
	t.Cleanup(func() {
		nsenter.RemoveNamed(p.a)
		nsenter.RemoveNamed(p.b)
		if made {
			nsenter.ReleaseNetnsDir(netnsDir)
		}
	})
	for _, n := range []string{p.a, p.b} {
		// Without IPv6, links settle at once (no DAD, no link-local
		// addresses appearing later), so before/after dumps compare.
		if err := nsenter.CreateNamed(n, func() error {
			return nsenter.SetSysctls([][2]string{{"net/ipv6/conf/all/disable_ipv6", "1"}, {"net/ipv6/conf/default/disable_ipv6", "1"}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	run(t, p.a, strings.NewReader(fmt.Sprintf("link set lo up\nlink add eth0 type veth peer name eth0 netns %s\naddr add %s/24 dev eth0\nlink set eth0 up\n", name("b"), addrA)), "ip", "-batch", "-")
	run(t, p.b, strings.NewReader(fmt.Sprintf("link set lo up\naddr add %s/24 dev eth0\nlink set eth0 up\n", addrB)), "ip", "-batch", "-")
	return p
}

func run(t *testing.T, netns string, stdin io.Reader, prog string, args ...string) string {
	t.Helper()
	out, err := nsenter.Output(nsenter.Net(netns), stdin, prog, args...)
	if err != nil {
		t.Fatalf("%s %s in %s: %v", prog, strings.Join(args, " "), netns, err)
	}
	return string(out)
}

// listen accepts TCP connections at addr in netns and closes them.
func listen(t *testing.T, netns, addr string) {
	t.Helper()
	var ln net.Listener
	if err := nsenter.Do(nsenter.Net(netns), func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// connect opens and closes a TCP connection from a bound source port.
func connect(t *testing.T, netns string, src netip.AddrPort, dst string) {
	t.Helper()
	if err := nsenter.Do(nsenter.Net(netns), func() error {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(src), Timeout: 3 * time.Second}
		c, err := d.Dial("tcp", dst)
		if err != nil {
			return err
		}
		return c.Close()
	}); err != nil {
		t.Fatalf("connect %s > %s: %v", src, dst, err)
	}
}

// rawListener records every nftrace message body in a namespace, whoever
// set the trace flag: the test's independent view of what the kernel sent.
type rawListener struct {
	c    *netlink.Conn
	mu   sync.Mutex
	msgs [][]byte
	done chan struct{}
}

func listenRaw(t *testing.T, netns string) *rawListener {
	t.Helper()
	l := &rawListener{done: make(chan struct{})}
	if err := nsenter.Do(nsenter.Net(netns), func() error {
		var err error
		l.c, err = netlink.Dial(unix.NETLINK_NETFILTER, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := l.c.JoinGroup(groupTrace); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(l.done)
		for {
			msgs, err := l.c.Receive()
			if err != nil {
				return
			}
			for _, m := range msgs {
				if m.Header.Type == traceType {
					l.mu.Lock()
					l.msgs = append(l.msgs, m.Data)
					l.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(func() { l.stop() })
	return l
}

func (l *rawListener) stop() [][]byte {
	l.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	<-l.done
	l.c.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msgs
}

// ruleHandle finds, through a netlink listing of the chain, the handle of
// the rule whose expressions satisfy is.
func ruleHandle(t *testing.T, netns string, fam nftables.TableFamily, table, chain string, is func(expr.Any) bool) uint64 {
	t.Helper()
	var rules []*nftables.Rule
	if err := nsenter.Do(nsenter.Net(netns), func() error {
		c, err := nftables.New(nftables.AsLasting())
		if err != nil {
			return err
		}
		defer c.CloseLasting()
		rules, err = c.GetRules(&nftables.Table{Name: table, Family: fam}, &nftables.Chain{Name: chain})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		for _, e := range r.Exprs {
			if is(e) {
				return r.Handle
			}
		}
	}
	t.Fatalf("no such rule in %s %s", table, chain)
	return 0
}

func nftTables(t *testing.T, netns string) string {
	t.Helper()
	return run(t, netns, nil, "nft", "list", "tables")
}

func dump(t *testing.T, netns string) string {
	t.Helper()
	d, err := testenv.NetnsDump(netns)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// settledDump waits for the links to finish coming up (carrier) before
// taking the dump the test compares with at the end.
func settledDump(t *testing.T, netns string) string {
	t.Helper()
	prev := dump(t, netns)
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		cur := dump(t, netns)
		if cur == prev && !strings.Contains(cur, "NO-CARRIER") {
			return cur
		}
		prev = cur
	}
	t.Fatalf("namespace %s still changing:\n%s", netns, prev)
	return ""
}

func requireSame(t *testing.T, what, before, after string) {
	t.Helper()
	if before != after {
		a, b := testenv.DiffLines(before, after)
		t.Errorf("%s changed:\nonly before: %q\nonly after: %q", what, a, b)
	}
}

// decodeAll decodes what a rawListener got.
func decodeAll(t *testing.T, msgs [][]byte) []Event {
	t.Helper()
	var evs []Event
	for i, m := range msgs {
		e, err := decodeTrace(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		evs = append(evs, e)
	}
	return evs
}

func logEvents(t *testing.T, what string, evs []Event) {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  id %08x %s %s %s handle %d %s %s [%s] iif %q oif %q mark %d\n", e.ID, e.Family, e.Table, e.Chain, e.Handle, e.Type, e.Verdict, e.Packet, e.IIF, e.OIF, e.Mark)
	}
	t.Logf("%s: %d events\n%s", what, len(evs), b.String())
}

// TestRootTraceDNAT: a TCP connect from a through an iptables-nft DNAT
// (port 80 to 8080), an iptables-nft filter rule and an nftables chain of
// its own, to a listener in b. The trace of a names the DNAT rule by the
// handle netlink lists for it, the nft chain's policy accept, the packet
// before and after NAT; b's trace group gets nothing from a's trace (the
// flag does not cross the veth), but b's own session sees the packet
// arrive. Nothing is left.
func TestRootTraceDNAT(t *testing.T) {
	p := newPair(t)
	listen(t, p.b, netip.AddrPortFrom(addrB, 8080).String())
	run(t, p.a, nil, "iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", addrB.String(), "--dport", "80", "-j", "DNAT", "--to-destination", addrB.String()+":8080")
	run(t, p.a, nil, "iptables", "-A", "OUTPUT", "-p", "tcp", "-d", addrB.String(), "--dport", "8080", "-j", "ACCEPT")
	run(t, p.a, strings.NewReader("table inet netxtest {\n chain post {\n  type filter hook postrouting priority 0; policy accept;\n  meta l4proto tcp counter\n }\n}\n"), "nft", "-f", "-")
	run(t, p.b, nil, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "8080", "-j", "ACCEPT")
	dnat := ruleHandle(t, p.a, nftables.TableFamilyIPv4, "nat", "OUTPUT", func(e expr.Any) bool {
		switch e := e.(type) {
		case *expr.Target:
			return e.Name == "DNAT"
		case *expr.NAT:
			return e.Type == expr.NATTypeDestNAT
		}
		return false
	})
	input := ruleHandle(t, p.b, nftables.TableFamilyIPv4, "filter", "INPUT", func(e expr.Any) bool {
		v, ok := e.(*expr.Verdict)
		return ok && v.Kind == expr.VerdictAccept
	})
	beforeA, beforeB := settledDump(t, p.a), settledDump(t, p.b)

	// 1. A session in a only; b just listens to its trace group, which
	// shows whether the trace flag crossed the veth with the packet: b's
	// filter INPUT rule is in the packet's way and reports it when the
	// flag is set in b (part 2).
	probe := Tuple{Proto: "tcp", Src: addrA, Dst: addrB, SPort: 40123, DPort: 80}
	rawA, rawB := listenRaw(t, p.a), listenRaw(t, p.b)
	s, err := Start(p.a, []Tuple{probe})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if tables := nftTables(t, p.a); !strings.Contains(tables, "table ip "+s.Table()) {
		t.Fatalf("trace table %s not in\n%s", s.Table(), tables)
	}
	connect(t, p.a, netip.AddrPortFrom(addrA, probe.SPort), netip.AddrPortFrom(addrB, 80).String())
	evs, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	logEvents(t, "a", evs)
	if again, err := s.Stop(); err != nil || len(again) != len(evs) {
		t.Errorf("second Stop: %d events, %v; want the first's %d", len(again), err, len(evs))
	}
	captured, crossed := rawA.stop(), rawB.stop()
	writeCapture(t, "dnat-a", captured)
	if len(crossed) != 0 {
		logEvents(t, "b's trace group while only a traced", decodeAll(t, crossed))
		t.Errorf("b's trace group got %d messages while only a set the trace flag: the flag survived the veth crossing, so the package doc is wrong and a namespace's session also reports packets traced in another one", len(crossed))
	}

	e, ok := find(evs, func(e Event) bool {
		return e.Family == "ip" && e.Table == "nat" && e.Chain == "OUTPUT" && e.Type == TypeRule
	})
	if !ok {
		t.Fatal("no event of the DNAT rule in ip nat OUTPUT")
	}
	if e.Handle != dnat || e.Verdict != "accept" || e.Packet != probe || e.OIF != "eth0" {
		t.Errorf("DNAT event %+v: want handle %d, verdict accept, packet %s, oif eth0", e, dnat, probe)
	}
	natted := probe
	natted.DPort = 8080
	if _, ok := find(evs, func(e Event) bool {
		return e.Family == "ip" && e.Table == "filter" && e.Chain == "OUTPUT" && e.Type == TypeRule && e.Verdict == "accept" && e.Packet == natted
	}); !ok {
		t.Errorf("no accept by the filter OUTPUT rule of the packet after DNAT %s", natted)
	}
	if _, ok := find(evs, func(e Event) bool {
		return e.Family == "inet" && e.Table == "netxtest" && e.Chain == "post" && e.Type == TypeRule && e.Verdict == "continue" && e.Handle != 0
	}); !ok {
		t.Error("no continue from the counter rule of inet netxtest post")
	}
	pol, ok := find(evs, func(e Event) bool {
		return e.Table == "netxtest" && e.Type == TypePolicy
	})
	if !ok || pol.Verdict != "accept" || pol.Packet != natted || pol.Handle != 0 {
		t.Errorf("policy event %+v: want accept of %s", pol, natted)
	}
	if _, ok := find(evs, func(e Event) bool { return strings.HasPrefix(e.Table, TablePrefix) }); ok {
		t.Error("events of the trace table itself were returned")
	}
	if _, ok := find(decodeAll(t, captured), func(e Event) bool { return e.Table == s.Table() }); !ok {
		t.Errorf("a's trace group got no event of the trace table %s, so the check above that Stop leaves them out proves nothing", s.Table())
	}
	if tables := nftTables(t, p.a); strings.Contains(tables, TablePrefix) {
		t.Errorf("trace table left after Stop:\n%s", tables)
	}

	// 2. Sessions on both sides, b's with the tuple after DNAT.
	probe.SPort = 40124
	natted.SPort = 40124
	rawB = listenRaw(t, p.b)
	sa, err := Start(p.a, []Tuple{probe})
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Stop()
	sb, err := Start(p.b, []Tuple{natted})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Stop()
	connect(t, p.a, netip.AddrPortFrom(addrA, probe.SPort), netip.AddrPortFrom(addrB, 80).String())
	evA, errA := sa.Stop()
	evB, errB := sb.Stop()
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	logEvents(t, "b", evB)
	// The control for part 1: the same listener in b does hear b's chains
	// once the flag is set there.
	if _, ok := find(decodeAll(t, rawB.stop()), func(e Event) bool {
		return e.Table == "filter" && e.Chain == "INPUT" && e.Handle == input && e.Packet == natted
	}); !ok {
		t.Errorf("b's trace group got no event of its filter INPUT rule for %s with b tracing: part 1's silence proves nothing", natted)
	}
	if _, ok := find(evA, func(e Event) bool { return e.Table == "nat" && e.Handle == dnat }); !ok {
		t.Error("second run: a's trace lost the DNAT rule")
	}
	in, ok := find(evB, func(e Event) bool {
		return e.Table == "filter" && e.Chain == "INPUT" && e.Type == TypeRule
	})
	if !ok || in.Handle != input || in.Verdict != "accept" || in.Packet != natted || in.IIF != "eth0" {
		t.Errorf("b's INPUT event %+v: want handle %d accept of %s from eth0", in, input, natted)
	}

	for _, n := range []string{p.a, p.b} {
		if tables := nftTables(t, n); strings.Contains(tables, TablePrefix) {
			t.Errorf("trace table left in %s:\n%s", n, tables)
		}
	}
	requireSame(t, "namespace a", beforeA, dump(t, p.a))
	requireSame(t, "namespace b", beforeB, dump(t, p.b))
}

// TestRootTraceBurst: every packet of a burst is in the trace.
func TestRootTraceBurst(t *testing.T) {
	p := newPair(t)
	run(t, p.a, strings.NewReader("table inet netxtest {\n chain post {\n  type filter hook postrouting priority 0; policy accept;\n  meta l4proto udp counter\n }\n}\n"), "nft", "-f", "-")
	const n = 500
	src := netip.AddrPortFrom(addrA, 40200)
	var sink net.PacketConn
	if err := nsenter.Do(nsenter.Net(p.b), func() error {
		var err error
		sink, err = net.ListenPacket("udp", netip.AddrPortFrom(addrB, 9999).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	s, err := Start(p.a, []Tuple{{Proto: "udp", Src: addrA, Dst: addrB, SPort: src.Port(), DPort: 9999}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if err := nsenter.Do(nsenter.Net(p.a), func() error {
		c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(src), net.UDPAddrFromAddrPort(netip.AddrPortFrom(addrB, 9999)))
		if err != nil {
			return err
		}
		defer c.Close()
		for range n {
			if _, err := c.Write([]byte("probe")); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	evs, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	policies := 0
	for _, e := range evs {
		if e.Table == "netxtest" && e.Type == TypePolicy && e.Packet.DPort == 9999 {
			policies++
		}
	}
	if policies != n {
		t.Errorf("%d policy events of netxtest post for %d packets (%d events in all)", policies, n, len(evs))
	}
}

// TestRootTraceKilled: a process killed with SIGKILL during a session
// leaves no table behind (the kernel removes a table with its owner).
func TestRootTraceKilled(t *testing.T) {
	p := newPair(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+p.a)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, TablePrefix) {
		t.Fatalf("child said %q, %v", line, err)
	}
	table := strings.TrimSpace(line)
	if !strings.Contains(nftTables(t, p.a), table) {
		t.Fatalf("child's table %s not there", table)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for i := 0; strings.Contains(nftTables(t, p.a), table); i++ {
		if i == 50 {
			t.Fatalf("table %s of a killed process still there after 5 s", table)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRootCleanup: tables of dead processes go, those of live ones (and
// everything else) stay.
func TestRootCleanup(t *testing.T) {
	p := newPair(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID, livePID := dead.Process.Pid, os.Getpid()
	run(t, p.a, strings.NewReader(fmt.Sprintf(`
table ip %[1]s%[2]d-1 {
	chain output {
		type filter hook output priority -400;
		meta nftrace set 1
	}
}
table inet %[1]s%[2]d-2 {
}
table ip %[1]s%[3]d-3 {
}
table ip %[1]sx-1 {
}
table ip other {
}
`, TablePrefix, deadPID, livePID)), "nft", "-f", "-")
	s, err := Start(p.a, []Tuple{{Proto: "icmp", Dst: addrB}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if err := Cleanup(p.a); err != nil {
		t.Fatal(err)
	}
	got := nftTables(t, p.a)
	for _, gone := range []string{fmt.Sprintf("ip %s%d-1", TablePrefix, deadPID), fmt.Sprintf("inet %s%d-2", TablePrefix, deadPID)} {
		if strings.Contains(got, "table "+gone+"\n") {
			t.Errorf("%s of a dead process is still there", gone)
		}
	}
	for _, kept := range []string{fmt.Sprintf("ip %s%d-3", TablePrefix, livePID), "ip " + TablePrefix + "x-1", "ip other", "ip " + s.Table()} {
		if !strings.Contains(got, "table "+kept+"\n") {
			t.Errorf("%s was removed", kept)
		}
	}
	if t.Failed() {
		t.Logf("tables after Cleanup:\n%s", got)
	}
}
