package inspect

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/netx-project/netx/internal/nlmsg"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/procfs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// nsConn is what one visit to a namespace opens: a route netlink socket
// and a sock_diag socket living in it, and the hostname of its uts
// namespace (the pause's).
type nsConn struct {
	route, diag nlDumper
	hostname    string
}

func (c *nsConn) close() {
	unix.Close(c.route.FD)
	unix.Close(c.diag.FD)
}

// visit enters a namespace once (with its pause's uts namespace when
// withUTS) and opens everything the read needs; both sockets receive into
// buf.
func visit(n *Netns, withUTS bool, buf []byte) (*nsConn, error) {
	t := nsenter.Net(n.Path)
	if withUTS && len(n.Processes) > 0 {
		t.UTS = fmt.Sprintf("/proc/%d/ns/uts", n.Processes[0].PID)
	}
	c := &nsConn{route: nlDumper{nlmsg.Conn{FD: -1, Buf: buf}}, diag: nlDumper{nlmsg.Conn{FD: -1, Buf: buf}}}
	err := nsenter.Do(t, func() error {
		var err error
		if c.route.FD, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE); err != nil {
			return err
		}
		if c.diag.FD, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG); err != nil {
			unix.Close(c.route.FD)
			return err
		}
		if t.UTS != "" {
			var u unix.Utsname
			if unix.Uname(&u) == nil {
				c.hostname = unix.ByteSliceToString(u.Nodename[:])
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", n.Path, err)
	}
	return c, nil
}

// readNetns fills a namespace's links, routes, rules, neighbours and
// listening sockets through netlink sockets opened inside it; buf is the
// caller's receive buffer (recvBufSize), reused namespace after
// namespace.
func readNetns(n *Netns, isNode bool, o Options, buf []byte) {
	c, err := visit(n, !isNode || n.Pod != nil, buf)
	if err != nil {
		n.Error = err.Error()
		return
	}
	defer c.close()
	n.Hostname = c.hostname
	var errs []string
	links, err := c.route.readLinks()
	if err != nil {
		errs = append(errs, "links: "+err.Error())
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Index] = l.Name
	}
	addrsOf, err := c.route.readAddrs() // one dump for every link
	if err != nil {
		errs = append(errs, "addresses: "+err.Error())
	}
	for _, rl := range links {
		lk := rl.Link
		lk.Master = names[rl.master]
		if lk.Kind == "veth" {
			lk.PeerIndex, lk.PeerNetnsID = rl.parent, rl.netnsID
		}
		if v := rl.vxlan; v != nil {
			lk.VXLAN = &v.VXLAN
			lk.VXLAN.Dev = names[v.dev]
			if fdb, err := c.route.fdb(lk.Index); err == nil {
				lk.VXLAN.FDB = fdb
			} else {
				errs = append(errs, fmt.Sprintf("forwarding database of %s: %v", lk.Name, err))
			}
		}
		lk.Addrs = addrsOf[lk.Index]
		n.Links = append(n.Links, lk)
	}
	routes, err := c.route.readRoutes()
	if err != nil {
		errs = append(errs, "routes: "+err.Error())
	}
	for _, r := range routes {
		if r.Table == unix.RT_TABLE_LOCAL && !isNode {
			continue // the local table only repeats a pod's own addresses
		}
		rt := r.Route
		rt.Dev = names[r.dev]
		n.Routes = append(n.Routes, rt)
	}
	rules, err := c.route.readRules()
	if err != nil {
		errs = append(errs, "rules: "+err.Error())
	}
	n.Rules = append(n.Rules, rules...)
	neighs, err := c.route.readNeighs(unix.AF_INET, 0)
	if err != nil {
		errs = append(errs, "neighbours: "+err.Error())
	}
	for _, nb := range neighs {
		if nb.ip == nil || nb.mac == nil {
			continue
		}
		n.Neighbors = append(n.Neighbors, Neighbor{IP: net.IP(nb.ip).String(), MAC: net.HardwareAddr(nb.mac).String(), Dev: names[nb.index], State: neighState(nb.state)})
	}
	n.Listeners = listeners(n, &c.diag)
	if isNode {
		nodeSettings(n)
		readNetfilter(n, o.Lazy, o.HostRoot)
	}
	if len(errs) > 0 {
		// After readNetfilter's own errors, not instead of them.
		n.Error = strings.TrimPrefix(n.Error+"; "+strings.Join(errs, "; "), "; ")
	}
}

// nodeSysctls are the per-namespace settings a pod network depends on.
func nodeSysctls() []string {
	return []string{
		"net/ipv4/ip_forward",
		"net/bridge/bridge-nf-call-iptables",
		"net/ipv4/conf/all/rp_filter",
		"net/ipv4/conf/default/rp_filter",
		"net/ipv4/conf/all/route_localnet",
	}
}

// nodeSettings reads the node's sysctls and conntrack use from inside its
// namespace (/proc/sys/net is per namespace).
func nodeSettings(n *Netns) {
	vals := map[string]string{}
	var ct Conntrack
	nsenter.Do(nsenter.Net(n.Path), func() error {
		for _, k := range nodeSysctls() {
			if b, err := procfs.ReadFile("/proc/sys/" + k); err == nil {
				vals[strings.ReplaceAll(k, "/", ".")] = strings.TrimSpace(string(b))
			} else {
				vals[strings.ReplaceAll(k, "/", ".")] = "absent"
			}
		}
		ct.Count, _ = strconv.Atoi(readTrim("/proc/sys/net/netfilter/nf_conntrack_count"))
		ct.Max, _ = strconv.Atoi(readTrim("/proc/sys/net/netfilter/nf_conntrack_max"))
		return nil
	})
	n.Sysctls = vals
	n.Conntrack = &ct
}

func routeType(t int) string {
	switch t {
	case unix.RTN_LOCAL:
		return "local"
	case unix.RTN_BROADCAST:
		return "broadcast"
	case unix.RTN_BLACKHOLE:
		return "blackhole"
	case unix.RTN_UNREACHABLE:
		return "unreachable"
	case unix.RTN_PROHIBIT:
		return "prohibit"
	}
	return strconv.Itoa(t)
}

func neighState(s int) string {
	switch {
	case s&netlink.NUD_PERMANENT != 0:
		return "permanent"
	case s&netlink.NUD_REACHABLE != 0:
		return "reachable"
	case s&netlink.NUD_STALE != 0:
		return "stale"
	case s&netlink.NUD_FAILED != 0:
		return "failed"
	case s&netlink.NUD_NOARP != 0:
		return "noarp"
	}
	return strconv.Itoa(s)
}

// listeners reads the namespace's listening sockets (sock_diag, in the
// namespace) and finds each socket's owner among the namespace's
// processes by the socket inode in their file descriptors.
func listeners(n *Netns, diag *nlDumper) []Listener {
	socks, err := sockDiagListeners(diag)
	if err != nil {
		n.Warnings = append(n.Warnings, "listening sockets: "+err.Error())
		return nil
	}
	if len(socks) == 0 {
		return nil
	}
	want := map[uint64]bool{}
	for _, s := range socks {
		want[s.inode] = true
	}
	owner := map[uint64]Process{}
	for _, p := range n.Processes {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID))
		for _, fd := range fds {
			l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p.PID, fd.Name()))
			if err != nil || !strings.HasPrefix(l, "socket:[") {
				continue
			}
			if ino, err := strconv.ParseUint(l[8:len(l)-1], 10, 64); err == nil && want[ino] {
				if _, seen := owner[ino]; !seen {
					owner[ino] = p
				}
			}
		}
	}
	var out []Listener
	for _, s := range socks {
		l := Listener{Proto: s.proto, Addr: s.addr, Port: s.port}
		if p, ok := owner[s.inode]; ok {
			l.PID, l.Comm, l.Container = p.PID, p.Comm, p.Container
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Port != out[j].Port {
			return out[i].Port < out[j].Port
		}
		if out[i].Proto != out[j].Proto {
			return out[i].Proto < out[j].Proto
		}
		return out[i].Addr < out[j].Addr
	})
	return out
}

// resolvePeers pairs veth ends across namespaces: a link whose peer is
// (index P) and a link at index P whose peer is the first one's index. If
// indexes alone are ambiguous (several nodes), the kernel's netnsid of the
// candidate namespace, as seen from the first one, decides.
func resolvePeers(s *Snapshot) {
	all := append([]*Netns{s.Node}, s.Namespaces...)
	type end struct {
		ns   *Netns
		link *Link
	}
	byIndex := map[int][]end{}
	for _, n := range all {
		for i := range n.Links {
			if n.Links[i].Kind == "veth" {
				byIndex[n.Links[i].Index] = append(byIndex[n.Links[i].Index], end{n, &n.Links[i]})
			}
		}
	}
	for _, n := range all {
		for i := range n.Links {
			l := &n.Links[i]
			if l.Kind != "veth" || l.PeerIndex == 0 {
				continue
			}
			var cands []end
			for _, c := range byIndex[l.PeerIndex] {
				if c.ns != n && c.link.PeerIndex == l.Index {
					cands = append(cands, c)
				}
			}
			if len(cands) > 1 {
				cands = byNetnsID(n, l.PeerNetnsID, cands, func(e end) string { return e.ns.Path })
			}
			if len(cands) != 1 {
				continue
			}
			p := cands[0]
			l.Peer = &PeerRef{Inode: p.ns.Inode, Index: p.link.Index, Name: p.link.Name, Bridge: p.link.Master}
			if p.link.Master == "" {
				l.Peer.Route = hostRouteVia(p.ns, p.link.Name)
			}
		}
	}
}

// byNetnsID keeps the candidates whose namespace n knows as id.
func byNetnsID[T any](n *Netns, id int, cands []T, path func(T) string) []T {
	h, err := nsenter.Netlink(n.Path)
	if err != nil {
		return cands
	}
	defer h.Close()
	var out []T
	for _, c := range cands {
		fd, err := unix.Open(path(c), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		got, err := h.GetNetNsIdByFd(fd)
		unix.Close(fd)
		if err == nil && got == id {
			out = append(out, c)
		}
	}
	return out
}

// hostRouteVia finds the /32 route a ptp CNI (kindnet, calico) puts on the
// node for a pod behind a veth with no bridge.
func hostRouteVia(n *Netns, dev string) string {
	for _, r := range n.Routes {
		if r.Dev == dev && strings.HasSuffix(r.Dst, "/32") {
			return r.Dst + " dev " + dev
		}
	}
	return ""
}
