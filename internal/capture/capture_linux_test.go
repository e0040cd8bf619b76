package capture

import (
	"bytes"
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
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
)

// newNetns makes a throwaway network namespace under /run/netns, removed
// (with every device in it) when the test ends.
func newNetns(t *testing.T, id, name string) string {
	t.Helper()
	made, err := nsenter.PrepareNetnsDir("/run/netns")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("/run/netns", "netx-capture-"+id+"-"+name)
	t.Cleanup(func() {
		if err := nsenter.RemoveNamed(path); err != nil {
			t.Error(err)
		}
		if made {
			nsenter.ReleaseNetnsDir("/run/netns")
		}
	})
	if err := nsenter.CreateNamed(path, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	return path
}

func testID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func withHandle(t *testing.T, ns string, fn func(*netlink.Handle) error) {
	t.Helper()
	h, err := nsenter.Netlink(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := fn(h); err != nil {
		t.Fatalf("in %s: %v", ns, err)
	}
}

// vethPair joins two namespaces: name in ns, peer in peerNS.
func vethPair(t *testing.T, ns, name, peerNS, peer string) {
	t.Helper()
	fd, err := unix.Open(peerNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	withHandle(t, ns, func(h *netlink.Handle) error {
		return h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer, PeerNamespace: netlink.NsFd(fd)})
	})
}

// up sets a device up, with an address when prefix is not empty, and
// optionally as a port of a bridge.
func up(t *testing.T, ns, dev, prefix, master string) {
	t.Helper()
	withHandle(t, ns, func(h *netlink.Handle) error {
		l, err := h.LinkByName(dev)
		if err != nil {
			return err
		}
		if prefix != "" {
			a, err := netlink.ParseAddr(prefix)
			if err != nil {
				return err
			}
			if err := h.AddrAdd(l, a); err != nil {
				return err
			}
		}
		if master != "" {
			m, err := h.LinkByName(master)
			if err != nil {
				return err
			}
			if err := h.LinkSetMaster(l, m); err != nil {
				return err
			}
		}
		return h.LinkSetUp(l)
	})
}

func listen(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := nsenter.Do(nsenter.Net(ns), func() (err error) {
		l, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// connect opens a TCP connection from ns with a fixed source address and
// port, exchanges a few bytes with the listener and closes both ends.
func connect(t *testing.T, ns string, l net.Listener, from, to string) {
	t.Helper()
	var c net.Conn
	if err := nsenter.Do(nsenter.Net(ns), func() error {
		local, err := net.ResolveTCPAddr("tcp4", from)
		if err != nil {
			return err
		}
		c, err = (&net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}).Dial("tcp4", to)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := c.Write([]byte("probe")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(s, buf); err != nil {
		t.Fatal(err)
	}
}

// find returns the packets a point saw with this tuple and these flags.
func find(pkts []Packet, point int, tu Tuple, flags string) []Packet {
	var out []Packet
	for _, p := range pkts {
		if p.Point == point && p.OK && p.Tuple == tu && p.TCPFlags == flags {
			out = append(out, p)
		}
	}
	return out
}

// settle waits for the goroutine count to come back to at most n.
func settle(n int) int {
	var got int
	for range 100 {
		if got = runtime.NumGoroutine(); got <= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	return got
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestRootCaptureVeth(t *testing.T) {
	testenv.RequireRoot(t)
	id := testID()
	a, b := newNetns(t, id, "a"), newNetns(t, id, "b")
	vethPair(t, a, "a0", b, "b0")
	up(t, a, "a0", "192.0.2.1/24", "")
	up(t, b, "b0", "192.0.2.2/24", "")
	l := listen(t, b, "192.0.2.2:8080")

	probe := Tuple{Proto: "tcp", Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), SPort: 40123, DPort: 8080}
	points := []Point{{Netns: a, Device: "a0", Label: "ns-a a0"}, {Netns: b, Device: "b0", Label: "ns-b b0"}}
	var notIPv4 atomic.Int32 // the kernel filter must have dropped ARP and IPv6
	keep := func(p Packet) bool {
		if len(p.Data) < 14 || p.Data[12] != 0x08 || p.Data[13] != 0x00 {
			notIPv4.Add(1)
		}
		return p.OK && (p.Tuple == probe || p.Tuple == probe.Reverse())
	}

	goroutines := runtime.NumGoroutine()
	start := time.Now()
	set, err := Start(points, keep)
	if err != nil {
		t.Fatal(err)
	}
	if set.Stats() != nil || set.Err() != nil {
		t.Error("Stats and Err before Stop must be empty")
	}
	connect(t, a, l, "192.0.2.1:40123", "192.0.2.2:8080")
	pkts := set.Stop()
	if again := set.Stop(); len(again) != len(pkts) {
		t.Errorf("second Stop: %d packets, first %d", len(again), len(pkts))
	}
	if n := settle(goroutines); n > goroutines {
		t.Errorf("%d goroutines after Stop, %d before Start", n, goroutines)
	}
	if err := set.Err(); err != nil {
		t.Error(err)
	}
	for _, p := range pkts {
		t.Logf("%s  %s", points[p.Point].Label, p)
	}
	if n := notIPv4.Load(); n > 0 {
		t.Errorf("%d frames that are not IPv4 passed the kernel filter", n)
	}

	// The SYN leaves a0 and enters b0, the SYN-ACK goes the other way, and
	// the payload follows the SYN.
	for _, c := range []struct {
		point    int
		tuple    Tuple
		flags    string
		outgoing bool
	}{
		{0, probe, "S", true}, {1, probe, "S", false},
		{1, probe.Reverse(), "SA", true}, {0, probe.Reverse(), "SA", false},
		{0, probe, "PA", true}, {1, probe, "PA", false},
	} {
		got := find(pkts, c.point, c.tuple, c.flags)
		if len(got) != 1 {
			t.Errorf("%s: %d packets %v [%s], want 1", points[c.point].Label, len(got), c.tuple, c.flags)
			continue
		}
		p := got[0]
		if p.Outgoing != c.outgoing {
			t.Errorf("%s: %v [%s] outgoing=%v, want %v", points[c.point].Label, c.tuple, c.flags, p.Outgoing, c.outgoing)
		}
		if p.Time.Before(start) || p.Time.After(time.Now()) || p.LinkType != layers.LinkTypeEthernet || p.Length != len(p.Data) {
			t.Errorf("%s: time %v (start %v), link type %v, length %d of %d", points[c.point].Label, p.Time, start, p.LinkType, len(p.Data), p.Length)
		}
	}
	// (No order is asserted between the two ends' timestamps: the kernel
	// stamps a received packet on the peer before the sender's tap sees
	// its copy, sometimes.)
	// The stats add up.
	for i, st := range set.Stats() {
		var n uint64
		for _, p := range pkts {
			if p.Point == i {
				n++
			}
		}
		if st.Kept != n || st.Read < st.Kept || st.Over != 0 || st.Dropped != 0 || n < 5 {
			t.Errorf("%s: stats %+v, %d packets", points[i].Label, st, n)
		}
	}

	// pcapng: one interface per point, read back by pcapgo, tshark and
	// tcpdump.
	file := filepath.Join(t.TempDir(), "probe.pcapng")
	var buf bytes.Buffer
	if err := WritePcapNG(&buf, points, pkts); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewNgReader(bytes.NewReader(buf.Bytes()), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	order := slices.Clone(pkts)
	sortPackets(order)
	var n int
	for {
		_, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n < len(order) && ci.InterfaceIndex != order[n].Point {
			t.Errorf("pcapng packet %d on interface %d, want %d (%s)", n, ci.InterfaceIndex, order[n].Point, order[n])
		}
		n++
	}
	if n != len(pkts) || r.NInterfaces() != 2 {
		t.Errorf("pcapng: %d packets on %d interfaces, want %d on 2", n, r.NInterfaces(), len(pkts))
	}
	for i := range points {
		if intf, err := r.Interface(i); err != nil || intf.Name != points[i].Label {
			t.Errorf("pcapng interface %d: %q %v, want %q", i, intf.Name, err, points[i].Label)
		}
	}
	readBack(t, file, points, pkts, probe, []string{"ns-a a0", "ns-b b0"})
}

// seenOutside is one packet of a pcapng file as a reader other than
// pcapgo (the writer's own library) shows it.
type seenOutside struct {
	iface    string // "" from a reader that does not show it
	from, to netip.AddrPort
	flags    uint8 // TCP flag bits, FIN 0x01 to CWR 0x80
}

func (s seenOutside) String() string {
	return fmt.Sprintf("%q %s > %s flags %#04x", s.iface, s.from, s.to, s.flags)
}

// outsideReader runs a program that reads pcapng files. ifaces says whether
// it shows each packet's interface: libpcap (1.10) does not pass it on to
// tcpdump, tshark prints it.
type outsideReader struct {
	prog   string
	ifaces bool
	read   func(t *testing.T, path, file string) []seenOutside
}

var outsideReaders = []outsideReader{{"tshark", true, readTshark}, {"tcpdump", false, readTcpdump}}

// readBack reads file, written from points and pkts, with every outside
// reader installed, and checks each shows the same packets in the file's
// (time) order, with their interface names where the reader has them, and
// among them the SYN with the tuple syn exactly once on each point named
// in on (in either order: see above on the kernel's timestamps). Without any reader the check is skipped, or fails when
// PrivilegedEnv=1: CI must not pass with the file unread.
func readBack(t *testing.T, file string, points []Point, pkts []Packet, syn Tuple, on []string) {
	t.Helper()
	order := slices.Clone(pkts)
	sortPackets(order)
	want := make([]seenOutside, len(order))
	for i, p := range order {
		want[i] = seenOutside{points[p.Point].Name(), netip.AddrPortFrom(p.Tuple.Src, p.Tuple.SPort), netip.AddrPortFrom(p.Tuple.Dst, p.Tuple.DPort), letterFlags(t, p.TCPFlags, captureFlags)}
	}
	from, to := netip.AddrPortFrom(syn.Src, syn.SPort), netip.AddrPortFrom(syn.Dst, syn.DPort)
	read := 0
	for _, r := range outsideReaders {
		t.Run(r.prog, func(t *testing.T) {
			path, err := exec.LookPath(r.prog)
			if err != nil {
				t.Skipf("%s is not installed: the pcapng is not read back by it", r.prog)
			}
			read++
			got := r.read(t, path, file)
			if len(got) != len(want) {
				t.Errorf("%s read %d packets, want %d:\n%s", r.prog, len(got), len(want), listSeen(got))
			}
			for i := range min(len(got), len(want)) {
				w := want[i]
				if !r.ifaces {
					w.iface = ""
				}
				if got[i] != w {
					t.Errorf("%s: packet %d is %s, want %s", r.prog, i, got[i], w)
				}
			}
			var syns []string
			for _, g := range got {
				if g.from == from && g.to == to && g.flags == 0x02 {
					syns = append(syns, g.iface)
				}
			}
			switch {
			case r.ifaces && !slices.Equal(slices.Sorted(slices.Values(syns)), slices.Sorted(slices.Values(on))):
				t.Errorf("%s: the SYN %s > %s is on interfaces %q, want %q", r.prog, from, to, syns, on)
			case !r.ifaces && len(syns) != len(on):
				t.Errorf("%s: the SYN %s > %s is there %d times, want %d (once on each of %q)", r.prog, from, to, len(syns), len(on), on)
			}
		})
	}
	if read == 0 && os.Getenv(testenv.PrivilegedEnv) == "1" {
		t.Errorf("%s=1 but neither tshark nor tcpdump is installed: the pcapng must be read back by another reader than pcapgo (hack/setup.sh installs tcpdump)", testenv.PrivilegedEnv)
	}
}

func lines(out []byte) []string {
	if len(out) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

func listSeen(s []seenOutside) string {
	var b strings.Builder
	for _, p := range s {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// readTshark prints the fields with tshark; its warning about running as
// root goes to stderr, so only stdout is parsed.
func readTshark(t *testing.T, tshark, file string) []seenOutside {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(tshark, "-n", "-r", file, "-T", "fields", "-E", "separator=/t",
		"-e", "frame.interface_name", "-e", "ip.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "tcp.dstport", "-e", "tcp.flags")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.Bytes())
	}
	var got []seenOutside
	for _, l := range lines(out) {
		f := strings.Split(l, "\t")
		if len(f) != 6 {
			t.Fatalf("tshark printed %q, want 6 fields", l)
		}
		from, err1 := netip.ParseAddrPort(f[1] + ":" + f[2])
		to, err2 := netip.ParseAddrPort(f[3] + ":" + f[4])
		flags, err3 := strconv.ParseUint(f[5], 0, 16)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("tshark printed %q: %v", l, err)
		}
		got = append(got, seenOutside{f[0], from, to, uint8(flags)})
	}
	return got
}

// tcpdumpLine is the start of tcpdump -nn -t's line for an IPv4 TCP packet.
var tcpdumpLine = regexp.MustCompile(`^IP (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^]]*)\]`)

func readTcpdump(t *testing.T, tcpdump, file string) []seenOutside {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(tcpdump, "-nn", "-t", "-r", file)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, stderr.Bytes())
	}
	var got []seenOutside
	for _, l := range lines(out) {
		m := tcpdumpLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("tcpdump printed %q, not an IPv4 TCP packet", l)
		}
		from, err1 := netip.ParseAddrPort(m[1] + ":" + m[2])
		to, err2 := netip.ParseAddrPort(m[3] + ":" + m[4])
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("tcpdump printed %q: %v", l, err)
		}
		flags := uint8(0)
		if m[5] != "none" {
			flags = letterFlags(t, m[5], tcpdumpFlags)
		}
		got = append(got, seenOutside{"", from, to, flags})
	}
	return got
}

// The letters of TCP flags: Packet.TCPFlags's and tcpdump's ("." is ACK).
var (
	captureFlags = map[rune]uint8{'F': 0x01, 'S': 0x02, 'R': 0x04, 'P': 0x08, 'A': 0x10, 'U': 0x20, 'E': 0x40, 'C': 0x80}
	tcpdumpFlags = map[rune]uint8{'F': 0x01, 'S': 0x02, 'R': 0x04, 'P': 0x08, '.': 0x10, 'U': 0x20, 'E': 0x40, 'W': 0x80}
)

func letterFlags(t *testing.T, s string, letters map[rune]uint8) uint8 {
	t.Helper()
	var f uint8
	for _, c := range s {
		bit, ok := letters[c]
		if !ok {
			t.Fatalf("TCP flags %q: unknown letter %q", s, c)
		}
		f |= bit
	}
	return f
}

func TestRootCaptureErrors(t *testing.T) {
	testenv.RequireRoot(t)
	id := testID()
	a, b := newNetns(t, id, "a"), newNetns(t, id, "b")
	vethPair(t, a, "a0", b, "b0")
	// A first good Start and Stop, so the runtime's poller exists before
	// descriptors are counted.
	s, err := Start([]Point{{Netns: a, Device: "a0"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	fds, goroutines := openFDs(t), runtime.NumGoroutine()

	for _, c := range []struct {
		name   string
		points []Point
		want   []string
	}{
		{"missing device", []Point{{Netns: a, Device: "a0"}, {Netns: b, Device: "b0"}, {Netns: b, Device: "nope0", Label: "ns-b nope0"}},
			[]string{`"ns-b nope0"`, `no device "nope0"`, b}},
		{"device of the other namespace", []Point{{Netns: a, Device: "b0"}}, []string{`no device "b0"`, a}},
		{"missing namespace", []Point{{Netns: a, Device: "a0"}, {Netns: a + "-gone", Device: "eth0"}}, []string{a + "-gone"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Start(c.points, nil)
			if err == nil {
				s.Stop()
				t.Fatal("Start succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			t.Log(err)
		})
	}
	if n := openFDs(t); n != fds {
		t.Errorf("%d descriptors open after failed Starts, %d before: sockets left open", n, fds)
	}
	if n := settle(goroutines); n > goroutines {
		t.Errorf("%d goroutines after failed Starts, %d before", n, goroutines)
	}
}

// TestRootCaptureBridge records what a capture on a bridge shows next to
// captures on its ports: a frame bridged from port to port passes only the
// ports (the bridge device sees it only when it is promiscuous, which netx
// does not make it), and a packet for the bridge's own address is seen on
// the bridge device as well. A trace that predicts "bridge cni0" for
// pod-to-pod traffic on one node must look for the probe on the ports.
func TestRootCaptureBridge(t *testing.T) {
	testenv.RequireRoot(t)
	id := testID()
	node, x, y := newNetns(t, id, "node"), newNetns(t, id, "x"), newNetns(t, id, "y")
	withHandle(t, node, func(h *netlink.Handle) error {
		return h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}})
	})
	up(t, node, "br0", "192.0.2.254/24", "")
	vethPair(t, node, "vx", x, "eth0")
	vethPair(t, node, "vy", y, "eth0")
	up(t, node, "vx", "", "br0")
	up(t, node, "vy", "", "br0")
	up(t, x, "eth0", "192.0.2.1/24", "")
	up(t, y, "eth0", "192.0.2.2/24", "")
	toY := listen(t, y, "192.0.2.2:8080")
	toBridge := listen(t, node, "192.0.2.254:8080")

	points := []Point{{Netns: node, Device: "br0", Label: "br0"}, {Netns: node, Device: "vx", Label: "vx"}, {Netns: node, Device: "vy", Label: "vy"}}
	set, err := Start(points, func(p Packet) bool { return p.OK && p.Tuple.Proto == "tcp" })
	if err != nil {
		t.Fatal(err)
	}
	connect(t, x, toY, "192.0.2.1:40001", "192.0.2.2:8080")
	connect(t, x, toBridge, "192.0.2.1:40002", "192.0.2.254:8080")
	pkts := set.Stop()
	for _, p := range pkts {
		t.Logf("%-4s %s", points[p.Point].Label, p)
	}
	bridged := Tuple{Proto: "tcp", Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), SPort: 40001, DPort: 8080}
	local := Tuple{Proto: "tcp", Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.254"), SPort: 40002, DPort: 8080}
	for _, c := range []struct {
		point    int
		tuple    Tuple
		seen     bool
		outgoing bool
	}{
		{1, bridged, true, false}, // in from x's veth
		{2, bridged, true, true},  // out to y's veth
		{0, bridged, false, false},
		{1, local, true, false},
		{0, local, true, false}, // up the bridge device to the node's stack
		{2, local, false, false},
	} {
		got := find(pkts, c.point, c.tuple, "S")
		desc := fmt.Sprintf("%s: SYN %v", points[c.point].Label, c.tuple)
		switch {
		case !c.seen && len(got) > 0:
			t.Errorf("%s seen, want not", desc)
		case c.seen && len(got) != 1:
			t.Errorf("%s seen %d times, want once", desc, len(got))
		case c.seen && got[0].Outgoing != c.outgoing:
			t.Errorf("%s outgoing=%v, want %v", desc, got[0].Outgoing, c.outgoing)
		}
	}
}

// TestRootCaptureVXLAN: on the underlay device the probe is seen wrapped
// (Tuple the inner packet, Outer the UDP carrier on 8472, the VNI); on the
// VXLAN device itself it is seen bare.
func TestRootCaptureVXLAN(t *testing.T) {
	testenv.RequireRoot(t)
	id := testID()
	a, b := newNetns(t, id, "a"), newNetns(t, id, "b")
	vethPair(t, a, "eth0", b, "eth0")
	for _, n := range []struct{ ns, under, local, remote, overlay string }{
		{a, "192.0.2.1/24", "192.0.2.1", "192.0.2.2", "10.244.0.1/24"},
		{b, "192.0.2.2/24", "192.0.2.2", "192.0.2.1", "10.244.0.2/24"},
	} {
		up(t, n.ns, "eth0", n.under, "")
		withHandle(t, n.ns, func(h *netlink.Handle) error {
			eth0, err := h.LinkByName("eth0")
			if err != nil {
				return err
			}
			return h.LinkAdd(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "vxlan0"}, VxlanId: 42, Port: VXLANPortLinux,
				VtepDevIndex: eth0.Attrs().Index, SrcAddr: net.ParseIP(n.local), Group: net.ParseIP(n.remote)})
		})
		up(t, n.ns, "vxlan0", n.overlay, "")
	}
	l := listen(t, b, "10.244.0.2:8080")
	points := []Point{{Netns: a, Device: "vxlan0", Label: "a vxlan0"}, {Netns: a, Device: "eth0", Label: "a eth0"}, {Netns: b, Device: "eth0", Label: "b eth0"}}
	probe := Tuple{Proto: "tcp", Src: netip.MustParseAddr("10.244.0.1"), Dst: netip.MustParseAddr("10.244.0.2"), SPort: 40200, DPort: 8080}
	set, err := Start(points, func(p Packet) bool { return p.OK && (p.Tuple == probe || p.Tuple == probe.Reverse()) })
	if err != nil {
		t.Fatal(err)
	}
	connect(t, a, l, "10.244.0.1:40200", "10.244.0.2:8080")
	pkts := set.Stop()
	for _, p := range pkts {
		t.Logf("%-8s %s", points[p.Point].Label, p)
	}
	for i, c := range []struct {
		wrapped  bool
		outgoing bool
	}{{false, true}, {true, true}, {true, false}} {
		got := find(pkts, i, probe, "S")
		if len(got) != 1 {
			t.Errorf("%s: SYN seen %d times, want once", points[i].Label, len(got))
			continue
		}
		p := got[0]
		if p.Outgoing != c.outgoing || (p.Outer != nil) != c.wrapped {
			t.Errorf("%s: SYN outgoing=%v outer=%v, want outgoing=%v wrapped=%v", points[i].Label, p.Outgoing, p.Outer, c.outgoing, c.wrapped)
		}
		if c.wrapped && (p.VNI != 42 || p.Outer.DPort != VXLANPortLinux || p.Outer.Src != netip.MustParseAddr("192.0.2.1") || p.Outer.Dst != netip.MustParseAddr("192.0.2.2")) {
			t.Errorf("%s: SYN carried in vni %d by %v", points[i].Label, p.VNI, p.Outer)
		}
	}
}
