package inspect

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestRootRtnlMatchesNetlink: the namespace read's own rtnetlink decoders
// give what vishvananda/netlink's reads (netx's reader before them) give,
// link by link, route by route, rule by rule, on a namespace holding every
// kind of object a node or pod shows that this kernel can make: a bridge,
// veths within the namespace and to another one, VXLAN with its
// forwarding database, tun, ifb, macvlan; addresses of both families and a
// point-to-point one; routes in several tables, via gateways, on-link,
// multipath, blackhole/unreachable/prohibit; rules by mark and mask,
// source, destination, interfaces; neighbours of every state. And the
// listening sockets of both families and protocols are all found (and
// the kernel's own, VXLAN's).
func TestRootRtnlMatchesNetlink(t *testing.T) {
	testenv.RequireRoot(t)
	ns := testenv.ThrowawayNetns(t, "rtnl")
	other := testenv.ThrowawayNetns(t, "peer")
	batch := fmt.Sprintf(`link set lo up
link add br0 type bridge
link set br0 up
addr add 10.10.0.1/24 dev br0
addr add fd00::1/64 dev br0 nodad
link add va0 type veth peer name vb0 netns %s
link set va0 master br0 up
link add vx1 mtu 1400 type veth peer name vx2
link set vx1 up
link set vx2 up
addr add 10.20.0.1 peer 10.20.0.0/24 dev vx1
addr add 10.21.0.1/16 dev vx2
link add vxl0 type vxlan id 42 local 10.10.0.1 dstport 4789 dev br0 nolearning
link set vxl0 up
tuntap add dev tun0 mode tun
link add if0 type ifb
link add link vx2 name mv0 type macvlan mode bridge
route add 10.30.0.0/16 via 10.10.0.254 dev br0
route add 10.40.0.0/16 dev br0 src 10.10.0.1 scope link
route add blackhole 10.50.0.0/16
route add unreachable 10.51.0.0/16
route add prohibit 10.52.0.0/16
route add default via 10.10.0.254 dev br0 table 100
route add 10.90.0.0/16 via 10.10.0.254 dev br0 table 300
route add 10.60.0.1 via 169.254.1.1 dev vx1 onlink
route add 10.70.0.0/16 nexthop via 10.10.0.253 dev br0 nexthop via 10.10.0.252 dev br0
route add local 10.80.0.1 dev br0 table local
rule add fwmark 0x10/0xff table 100 pref 100
rule add from 10.10.0.0/24 to 10.30.0.0/16 iif br0 table 100 pref 200
rule add oif vx1 table main pref 300
rule add fwmark 0x4000 table 100
neigh add 10.10.0.50 lladdr aa:bb:cc:dd:ee:50 dev br0 nud permanent
neigh add 10.10.0.51 lladdr aa:bb:cc:dd:ee:51 dev br0 nud stale
neigh add 10.10.0.52 lladdr aa:bb:cc:dd:ee:52 dev br0 nud reachable
neigh add 10.10.0.53 dev br0 nud failed
neigh add 10.21.0.9 lladdr aa:bb:cc:dd:ee:09 dev vx2 nud noarp
neigh add fd00::9 lladdr aa:bb:cc:dd:ee:99 dev br0 nud permanent
`, filepath.Base(other))
	if out, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(batch), "ip", "-batch", "-"); err != nil {
		t.Fatalf("ip -batch: %v: %s", err, out)
	}
	fdb := "fdb append 00:00:00:00:00:00 dev vxl0 dst 10.10.0.9\nfdb add aa:bb:cc:dd:ee:01 dev vxl0 dst 10.10.0.8\n"
	if out, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(fdb), "bridge", "-batch", "-"); err != nil {
		t.Fatalf("bridge -batch: %v: %s", err, out)
	}
	// Listening sockets of each kind, opened in the namespace; they stay
	// in it after the thread leaves.
	var closers []func() error
	t.Cleanup(func() {
		for _, c := range closers {
			c()
		}
	})
	err := nsenter.Do(nsenter.Net(ns), func() error {
		for _, l := range []struct{ network, addr string }{{"tcp4", "10.10.0.1:7001"}, {"tcp6", "[::]:7002"}, {"tcp6", "[fd00::1]:7005"}} {
			ln, err := net.Listen(l.network, l.addr)
			if err != nil {
				return err
			}
			closers = append(closers, ln.Close)
		}
		for _, l := range []struct{ network, addr string }{{"udp4", "0.0.0.0:7003"}, {"udp6", "[::]:7004"}} {
			pc, err := net.ListenPacket(l.network, l.addr)
			if err != nil {
				return err
			}
			closers = append(closers, pc.Close)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, isNode := range []bool{false, true} {
		// The kernel adds entries of its own a while after a link comes
		// up (its multicast reports' neighbours): compare a read made
		// between two equal reference reads.
		var got, want *Netns
		for range 50 {
			want = netlinkReference(t, ns, isNode)
			got = &Netns{Path: ns}
			readNetns(got, isNode, Options{}, make([]byte, recvBufSize))
			if reflect.DeepEqual(want, netlinkReference(t, ns, isNode)) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got.Error != "" {
			t.Fatalf("read (node %v): %s", isNode, got.Error)
		}
		if !reflect.DeepEqual(got.Links, want.Links) {
			t.Errorf("links (node %v) differ:\n got %+v\nwant %+v", isNode, got.Links, want.Links)
		}
		if !reflect.DeepEqual(got.Routes, want.Routes) {
			t.Errorf("routes (node %v) differ:\n got %+v\nwant %+v", isNode, got.Routes, want.Routes)
		}
		if !reflect.DeepEqual(got.Rules, want.Rules) {
			t.Errorf("rules differ:\n got %+v\nwant %+v", got.Rules, want.Rules)
		}
		if !reflect.DeepEqual(got.Neighbors, want.Neighbors) {
			t.Errorf("neighbours differ:\n got %+v\nwant %+v", got.Neighbors, want.Neighbors)
		}
		var ls []string
		for _, l := range got.Listeners {
			ls = append(ls, fmt.Sprintf("%s %s:%d", l.Proto, l.Addr, l.Port))
		}
		if g, w := strings.Join(ls, ", "), "udp 0.0.0.0:4789, tcp 10.10.0.1:7001, tcp6 :::7002, udp 0.0.0.0:7003, udp6 :::7004, tcp6 fd00::1:7005"; g != w {
			t.Errorf("listeners %s, want %s", g, w)
		}
	}

	// A kernel that refuses the one dump of both TCP families: a dump
	// per family finds the same sockets.
	both := &Netns{Path: ns}
	readNetns(both, false, Options{}, make([]byte, recvBufSize))
	defer func(t uint16) { tcpBothFamilies = t }(tcpBothFamilies)
	tcpBothFamilies = 0x7fff // no such request
	perFamily := &Netns{Path: ns}
	readNetns(perFamily, false, Options{}, make([]byte, recvBufSize))
	if len(both.Listeners) < 6 || !reflect.DeepEqual(both.Listeners, perFamily.Listeners) || perFamily.Error != "" || len(perFamily.Warnings) > 0 {
		t.Errorf("listeners per family %+v (%s %v), want %+v", perFamily.Listeners, perFamily.Error, perFamily.Warnings, both.Listeners)
	}

	// What the namespace holds, so the comparison above compared
	// something: each kind of object is there.
	got := &Netns{Path: ns}
	readNetns(got, false, Options{}, make([]byte, recvBufSize))
	kinds := map[string]bool{}
	for _, l := range got.Links {
		kinds[l.Kind] = true
		if l.Name == "va0" && (l.PeerIndex == 0 || l.PeerNetnsID < 0 || l.Master != "br0") {
			t.Errorf("va0: %+v, want a peer in another namespace and master br0", l)
		}
		if l.Name == "vxl0" && (l.VXLAN == nil || l.VXLAN.VNI != 42 || l.VXLAN.Port != 4789 || l.VXLAN.Dev != "br0" || l.VXLAN.Local != "10.10.0.1" || len(l.VXLAN.FDB) != 2) {
			t.Errorf("vxl0: %+v %+v, want VNI 42, port 4789 on br0 from 10.10.0.1 and two FDB entries", l, l.VXLAN)
		}
	}
	for _, k := range []string{"device", "bridge", "veth", "vxlan", "tuntap", "ifb", "macvlan"} {
		if !kinds[k] {
			t.Errorf("no %s link read: %v", k, kinds)
		}
	}
	if len(got.Routes) < 9 || len(got.Rules) < 7 || len(got.Neighbors) < 4 {
		t.Errorf("read %d routes, %d rules, %d neighbours: fewer than the namespace holds", len(got.Routes), len(got.Rules), len(got.Neighbors))
	}
}

// netlinkReference reads a namespace's links, routes, rules and
// neighbours with vishvananda/netlink into netx's model, as netx read
// them before its own decoders.
func netlinkReference(t *testing.T, ns string, isNode bool) *Netns {
	t.Helper()
	h, err := nsenter.Netlink(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	n := &Netns{}
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	addrsOf := map[int][]string{}
	addrs, err := h.AddrList(nil, unix.AF_UNSPEC)
	if err != nil {
		t.Fatal(err)
	}
	for _, ad := range addrs {
		addrsOf[ad.LinkIndex] = append(addrsOf[ad.LinkIndex], ad.IPNet.String())
	}
	for _, l := range links {
		a := l.Attrs()
		lk := Link{Index: a.Index, Name: a.Name, Kind: l.Type(), MAC: a.HardwareAddr.String(), MTU: a.MTU,
			Up: a.Flags&net.FlagUp != 0, Master: names[a.MasterIndex], Addrs: addrsOf[a.Index]}
		if lk.Kind == "veth" {
			lk.PeerIndex, lk.PeerNetnsID = a.ParentIndex, a.NetNsID
		}
		if v, ok := l.(*netlink.Vxlan); ok {
			lk.VXLAN = &VXLAN{VNI: v.VxlanId, Port: v.Port, Dev: names[v.VtepDevIndex], Learner: v.Learning}
			if v.SrcAddr != nil {
				lk.VXLAN.Local = v.SrcAddr.String()
			}
			fdb, err := h.NeighList(a.Index, unix.AF_BRIDGE)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fdb {
				if dst, ok := netip.AddrFromSlice(f.IP); ok {
					lk.VXLAN.FDB = append(lk.VXLAN.FDB, FDBEntry{MAC: f.HardwareAddr.String(), Dst: dst.Unmap()})
				}
			}
		}
		n.Links = append(n.Links, lk)
	}
	routes, err := h.RouteListFiltered(unix.AF_INET, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Table == unix.RT_TABLE_LOCAL && !isNode {
			continue
		}
		rt := Route{Table: r.Table, Dst: "default", Dev: names[r.LinkIndex], Scope: r.Scope.String(), Onlink: r.Flags&int(netlink.FLAG_ONLINK) != 0}
		if r.Dst != nil && r.Dst.String() != "0.0.0.0/0" {
			rt.Dst = r.Dst.String()
		}
		if r.Gw != nil {
			rt.Gw = r.Gw.String()
		}
		if r.Src != nil {
			rt.Src = r.Src.String()
		}
		if r.Type != unix.RTN_UNICAST {
			rt.Type = routeType(r.Type)
		}
		n.Routes = append(n.Routes, rt)
	}
	rules, err := h.RuleList(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		rr := RouteRule{Priority: r.Priority, Table: r.Table, IIF: r.IifName, OIF: r.OifName, Mark: r.Mark}
		if r.Mask != nil {
			rr.Mask = *r.Mask
		}
		if r.Src != nil {
			rr.Src = r.Src.String()
		}
		if r.Dst != nil {
			rr.Dst = r.Dst.String()
		}
		n.Rules = append(n.Rules, rr)
	}
	neighs, err := h.NeighList(0, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	for _, nb := range neighs {
		if nb.IP == nil || nb.HardwareAddr == nil {
			continue
		}
		n.Neighbors = append(n.Neighbors, Neighbor{IP: nb.IP.String(), MAC: nb.HardwareAddr.String(), Dev: names[nb.LinkIndex], State: neighState(nb.State)})
	}
	return n
}
