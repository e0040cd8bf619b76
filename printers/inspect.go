package printers

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/netx-project/netx/diagnose"
	"github.com/netx-project/netx/inspect"
)

// Node prints the node view: the node's settings and rules in brief, its
// interfaces, bridges with the pod behind each port, routed veths, overlays,
// host ports, routes through other hosts, every route, then the pods and
// the other namespaces.
func Node(w io.Writer, s *inspect.Snapshot) {
	node := s.Node
	pods := 0
	for _, n := range s.Namespaces {
		if n.Pod != nil {
			pods++
		}
	}
	title := "node"
	if s.NodeName != "" {
		title += " " + s.NodeName
	}
	podCount := fmt.Sprintf("%d pods", pods)
	if h := len(s.HostNetworkPods); h > 0 {
		podCount = fmt.Sprintf("%d pods (%d hostNetwork)", pods+h, h)
	}
	fmt.Fprintf(w, "%s (netns %s, inode %d): %s, %d other namespaces\n", title, node.Path, node.Inode, podCount, len(s.Namespaces)-pods)
	if len(node.Sysctls) > 0 {
		var kv []string
		for _, k := range []string{"net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter", "net.ipv4.conf.all.route_localnet"} {
			kv = append(kv, strings.TrimPrefix(k, "net.")+"="+node.Sysctls[k])
		}
		fmt.Fprintf(w, "sysctls: %s\n", strings.Join(kv, " "))
		for _, f := range diagnose.Sysctls(node) {
			fmt.Fprintf(w, "  WARNING: %s\n", Sysctl(f))
		}
	}
	if node.Conntrack != nil {
		fmt.Fprintf(w, "conntrack: %d of %d entries\n", node.Conntrack.Count, node.Conntrack.Max)
	}
	if node.KubeProxyMode != "" {
		var backends []string
		for _, rs := range node.Netfilter {
			rules := 0
			for _, t := range rs.Tables {
				for _, c := range t.Chains {
					rules += len(c.Rules)
				}
			}
			backends = append(backends, fmt.Sprintf("%s (%d rules)", rs.Source, rules))
		}
		fmt.Fprintf(w, "kube-proxy mode: %s; rules: %s; nft tables: %s\n", node.KubeProxyMode, orDash(strings.Join(backends, ", ")), orDash(strings.Join(node.NFTables, ", ")))
	}
	if len(node.IPSets) > 0 {
		var sets []string
		for _, s := range node.IPSets {
			sets = append(sets, fmt.Sprintf("%s (%s, %d)", s.Name, s.Type, len(s.Members)))
		}
		fmt.Fprintf(w, "ipsets: %s\n", strings.Join(sets, ", "))
	}
	if pins := diagnose.Pins(node); len(pins) > 0 {
		fmt.Fprintf(w, "session affinity: %d %s pinned\n", len(pins), plural(len(pins), "client", "clients"))
		for i, p := range pins {
			if i == 10 {
				fmt.Fprintf(w, "  … %d more (-o json lists them all)\n", len(pins)-10)
				break
			}
			left := ""
			if p.Left > 0 {
				left = ", " + p.Left.Truncate(time.Second).String() + " left"
			}
			fmt.Fprintf(w, "  %s → %s (%s%s)\n", p.Client, p.Endpoint, orDash(p.Service), left)
		}
	}
	for _, warn := range node.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	// Which pod sits behind each node-side veth.
	type podEnd struct {
		pod  string
		link inspect.Link
	}
	podOf := map[string]podEnd{}
	for _, n := range s.Namespaces {
		if n.Pod == nil {
			continue // an uplink to a fabric or another node, not a pod
		}
		for _, l := range n.Links {
			if l.Peer != nil && l.Peer.Inode == node.Inode {
				podOf[l.Peer.Name] = podEnd{n.PodName(), l}
			}
		}
	}
	describe := func(name string) string {
		p, ok := podOf[name]
		if !ok {
			return "-"
		}
		return fmt.Sprintf("%s %s %s", p.pod, p.link.Name, strings.Join(p.link.Addrs, ","))
	}
	var own []string
	for _, l := range node.Links {
		if l.Name == "lo" || l.Kind == "bridge" || l.VXLAN != nil || l.Master != "" || podOf[l.Name].pod != "" {
			continue
		}
		own = append(own, fmt.Sprintf("  %-16s %s %s mtu %d %s", l.Name, l.Kind, orDash(strings.Join(l.Addrs, ",")), l.MTU, upDown(l.Up)))
	}
	if len(own) > 0 {
		fmt.Fprintf(w, "\nnode interfaces:\n%s\n", strings.Join(own, "\n"))
	}
	for _, br := range node.Links {
		if br.Kind != "bridge" {
			continue
		}
		fmt.Fprintf(w, "\nbridge %s %s\n", br.Name, strings.Join(br.Addrs, ","))
		for _, l := range node.Links {
			if l.Master == br.Name {
				fmt.Fprintf(w, "  %-16s -> %s\n", l.Name, describe(l.Name))
			}
		}
	}
	// A pod behind a veth with no bridge is reached by a host route
	// through that veth (ptp, kindnet, calico): without one, the node
	// cannot send it anything.
	var ptp []string
	for _, l := range node.Links {
		p, ok := podOf[l.Name]
		if l.Kind != "veth" || l.Master != "" || !ok {
			continue
		}
		line := fmt.Sprintf("  %-16s -> %s", l.Name, describe(l.Name))
		if len(l.Addrs) > 0 {
			line += "; host end " + strings.Join(l.Addrs, ",")
		}
		if p.link.Peer.Route != "" {
			line += "; route " + p.link.Peer.Route
		} else {
			line += "; NO host route to the pod through " + l.Name
		}
		ptp = append(ptp, line)
	}
	if len(ptp) > 0 {
		fmt.Fprintf(w, "\nveths without a bridge (ptp, routed):\n%s\n", strings.Join(ptp, "\n"))
	}
	for _, l := range node.Links {
		if l.VXLAN != nil {
			v := l.VXLAN
			fmt.Fprintf(w, "\noverlay %s %s: vxlan id %d port %d local %s dev %s learning=%v mtu %d\n", l.Name, orDash(strings.Join(l.Addrs, ",")), v.VNI, v.Port, v.Local, v.Dev, v.Learner, l.MTU)
			for _, f := range v.FDB {
				fmt.Fprintf(w, "  fdb %s dst %s\n", f.MAC, f.Dst)
			}
			for _, nb := range node.Neighbors {
				if nb.Dev == l.Name {
					fmt.Fprintf(w, "  neigh %s lladdr %s %s\n", nb.IP, nb.MAC, nb.State)
				}
			}
		}
	}
	if hps := diagnose.HostPorts(s); len(hps) > 0 {
		fmt.Fprintln(w, "\nhost ports (CNI portmap):")
		for _, hp := range hps {
			fmt.Fprintf(w, "  %s\n", HostPort(hp))
		}
	}
	if rrs := diagnose.RemoteRoutes(node); len(rrs) > 0 {
		fmt.Fprintln(w, "\nroutes through other hosts (other nodes' pod CIDRs):")
		for _, rr := range rrs {
			fmt.Fprintf(w, "  %s\n", RemoteRoute(rr))
		}
	}
	fmt.Fprintln(w, "\nroutes:")
	for _, r := range node.Routes {
		if r.Table == 255 {
			continue
		}
		fmt.Fprintf(w, "  %s\n", Route(r))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "POD\tIP\tPAUSE\tNETNS\tFOUND BY")
	for _, n := range s.Namespaces {
		if n.Pod == nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", n.PodName(), PodIP(n), n.PausePID, n.Path, strings.Join(n.FoundBy, ","))
	}
	// hostNetwork pods have the node's address and namespace.
	for _, p := range s.HostNetworkPods {
		fmt.Fprintf(tw, "%s\t%s (hostNetwork)\t%d\t%s\t%s\n", p.Key(), orDash(node.HostAddr4()), p.PausePID, node.Path, orDash(strings.Join(p.FoundBy, ",")))
	}
	tw.Flush()
	others := 0
	for _, n := range s.Namespaces {
		if n.Pod == nil {
			if others == 0 {
				fmt.Fprintln(w)
				fmt.Fprintln(tw, "OTHER NAMESPACE\tNAMES\tPROCESSES\tFOUND BY")
			}
			others++
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", n.Path, orDash(strings.Join(n.Names, ",")), len(n.Processes), strings.Join(n.FoundBy, ","))
		}
	}
	tw.Flush()
}

// Sysctl is a setting that breaks pod networking: its short name and
// value, then what goes wrong.
func Sysctl(f diagnose.Sysctl) string {
	return fmt.Sprintf("%s=%s: %s", f.Key[strings.LastIndexByte(f.Key, '.')+1:], f.Value, f.Why)
}

// HostPort is a portmap DNAT: protocol and host ports, where they go and
// to which pod, and the rule's ruleset and chain.
func HostPort(hp diagnose.HostPort) string {
	proto, ports := "all", "all"
	if hp.Proto != "" {
		proto = hp.Proto
	}
	if len(hp.Ports) > 0 {
		var ps []string
		for _, p := range hp.Ports {
			if p.First == p.Last {
				ps = append(ps, fmt.Sprint(p.First))
			} else {
				ps = append(ps, fmt.Sprintf("%d-%d", p.First, p.Last))
			}
		}
		ports = strings.Join(ps, ",")
	}
	return fmt.Sprintf("%s %s -> %s %s (%s %s)", proto, ports, hp.To, orDash(hp.Pod), hp.Source, hp.Chain)
}

// RemoteRoute is a route through another host and where it leads: the
// host, or the remote VTEP of an overlay, or what is missing on the way.
func RemoteRoute(rr diagnose.RemoteRoute) string {
	r, o := rr.Route, rr.Overlay
	line := Route(r) + " -> "
	switch {
	case o == nil:
		return line + "host " + r.Gw + " on " + r.Dev
	case o.Problem == diagnose.NoNeighbor:
		return line + fmt.Sprintf("NO neighbour entry for %s on %s: the VTEP's MAC is unknown", r.Gw, r.Dev)
	case o.Problem == diagnose.NoFDB:
		return line + fmt.Sprintf("vtep %s, NO fdb entry for it on %s: the node does not know where to send it", o.VTEPMAC, r.Dev)
	}
	return line + fmt.Sprintf("vtep %s at %s (vxlan %d, udp %d)", o.VTEPMAC, o.VTEP, o.VNI, o.Port)
}

// PodIP is a pod's IPv4 address, "-" when it has none.
func PodIP(n *inspect.Netns) string {
	return orDash(n.Addr4())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Link is an interface as the namespace view lists it: name, kind, MAC,
// MTU, state and addresses.
func Link(l inspect.Link) string {
	return fmt.Sprintf("%s (%s) %s mtu %d %s %s", l.Name, l.Kind, l.MAC, l.MTU, upDown(l.Up), strings.Join(l.Addrs, " "))
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// Route is a route as `ip route` writes it, with the table when it is
// not main.
func Route(r inspect.Route) string {
	s := r.Dst
	if r.Type != "" {
		s = r.Type + " " + s
	}
	if r.Gw != "" {
		s += " via " + r.Gw
	}
	if r.Dev != "" {
		s += " dev " + r.Dev
	}
	if r.Src != "" {
		s += " src " + r.Src
	}
	if r.Onlink {
		s += " onlink"
	}
	if r.Table != 254 && r.Table != 0 {
		s += fmt.Sprintf(" table %d", r.Table)
	}
	return s
}

// Netns prints one namespace (a pod's or any other): its processes,
// interfaces with their veth peers, routes, neighbours, listening sockets
// and what could not be read.
func Netns(w io.Writer, s *inspect.Snapshot, n *inspect.Netns) {
	title := "netns " + n.Path
	if p := n.PodName(); p != "" {
		title = "pod " + p
	}
	fmt.Fprintf(w, "%s (netns %s, inode %d; found by %s)\n", title, n.Path, n.Inode, strings.Join(n.FoundBy, ", "))
	if n.PausePID != 0 {
		fmt.Fprintf(w, "pause: pid %d", n.PausePID)
		if n.Hostname != "" {
			fmt.Fprintf(w, ", hostname %s", n.Hostname)
		}
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(n.Processes) > 0 {
		fmt.Fprintln(w, "\nprocesses sharing this network namespace:")
		fmt.Fprintln(tw, "  PID\tCOMMAND\tCONTAINER\tALSO SHARES")
		for _, p := range n.Processes {
			cmdline := p.Cmdline
			if len(cmdline) > 60 {
				cmdline = cmdline[:57] + "..."
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", p.PID, orDash(cmdline), orDash(p.Container), orDash(strings.Join(p.Shares, ",")))
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\ninterfaces:")
	for _, l := range n.Links {
		fmt.Fprintf(w, "  %s\n", Link(l))
		if l.Peer != nil {
			where := "node"
			if l.Peer.Inode != s.Node.Inode {
				where = fmt.Sprintf("netns inode %d", l.Peer.Inode)
			}
			via := ""
			switch {
			case l.Peer.Bridge != "":
				via = ", port of bridge " + l.Peer.Bridge
			case l.Peer.Route != "":
				via = ", no bridge: routed by " + l.Peer.Route
			}
			fmt.Fprintf(w, "    peer: %s on the %s (ifindex %d)%s\n", l.Peer.Name, where, l.Peer.Index, via)
		} else if l.Kind == "veth" {
			fmt.Fprintf(w, "    peer: ifindex %d in netnsid %d (not found among the namespaces read)\n", l.PeerIndex, l.PeerNetnsID)
		}
	}
	fmt.Fprintln(w, "\nroutes:")
	for _, r := range n.Routes {
		fmt.Fprintf(w, "  %s\n", Route(r))
	}
	if len(n.Neighbors) > 0 {
		fmt.Fprintln(w, "\nneighbours:")
		for _, nb := range n.Neighbors {
			fmt.Fprintf(w, "  %s lladdr %s dev %s %s\n", nb.IP, nb.MAC, nb.Dev, nb.State)
		}
	}
	fmt.Fprintln(w, "\nlistening (netstat -lntup):")
	if len(n.Listeners) == 0 {
		fmt.Fprintln(w, "  nothing")
	}
	for _, l := range n.Listeners {
		owner := "-"
		if l.PID != 0 {
			owner = fmt.Sprintf("%d/%s", l.PID, l.Comm)
			if l.Container != "" {
				owner += " (container " + l.Container + ")"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s:%d\t%s\n", l.Proto, l.Addr, l.Port, owner)
	}
	tw.Flush()
	for _, warn := range n.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	if n.Error != "" {
		fmt.Fprintf(w, "could not read everything: %s\n", n.Error)
	}
}

// HostNetworkPod prints a pod that shares the node's network namespace:
// its pause, containers with their processes and declared ports, and the
// node's listening sockets its processes own.
func HostNetworkPod(w io.Writer, s *inspect.Snapshot, p *inspect.HostNetworkPod) {
	node := s.Node
	fmt.Fprintf(w, "pod %s (hostNetwork: the node's network namespace %s, inode %d; found by %s)\n", p.Key(), node.Path, node.Inode, orDash(strings.Join(p.FoundBy, ", ")))
	if p.PausePID != 0 {
		fmt.Fprintf(w, "pause: pid %d\n", p.PausePID)
	}
	var addrs []string
	for _, l := range node.Links {
		if l.Name != "lo" && len(l.Addrs) > 0 && l.Master == "" {
			addrs = append(addrs, l.Name+" "+strings.Join(l.Addrs, ","))
		}
	}
	fmt.Fprintf(w, "addresses (the node's): %s\n", orDash(strings.Join(addrs, "; ")))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\ncontainers:")
	if len(p.Containers) == 0 {
		fmt.Fprintln(w, "  none known")
	} else {
		fmt.Fprintln(tw, "  NAME\tID\tPIDS\tPORTS")
		for _, c := range p.Containers {
			var pids, ports []string
			for _, pid := range c.PIDs {
				pids = append(pids, fmt.Sprint(pid))
			}
			for _, cp := range c.Ports {
				ports = append(ports, fmt.Sprintf("%d/%s", cp.Port, cp.Protocol))
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Name, orDash(c.ID), orDash(strings.Join(pids, ",")), orDash(strings.Join(ports, ",")))
		}
		tw.Flush()
	}
	if procs := hostPodProcesses(s, p); len(procs) > 0 {
		fmt.Fprintln(w, "\nprocesses (in the node's network namespace):")
		fmt.Fprintln(tw, "  PID\tCOMMAND\tCONTAINER")
		for _, pr := range procs {
			cmdline := pr.Cmdline
			if len(cmdline) > 60 {
				cmdline = cmdline[:57] + "..."
			}
			container := pr.Container
			if pr.PID == p.PausePID {
				container = "(pause)"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\n", pr.PID, orDash(cmdline), orDash(container))
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\nlistening (its processes' sockets, among the node's):")
	ls := s.HostNetworkPodListeners(p)
	if len(ls) == 0 {
		fmt.Fprintln(w, "  nothing")
	}
	for _, l := range ls {
		owner := fmt.Sprintf("%d/%s", l.PID, l.Comm)
		if _, c := s.HostNetworkPodOf(l.PID); c != nil {
			owner += " (container " + c.Name + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s:%d\t%s\n", l.Proto, l.Addr, l.Port, owner)
	}
	tw.Flush()
	fmt.Fprintln(w, "\ninterfaces, routes and rules are the node's: netx inspect node")
}

// HostNetworkPodView is `inspect pod/NAME -o json|yaml` for a hostNetwork
// pod: the pod, the node namespace it shares, its processes there and the
// sockets they own.
type HostNetworkPodView struct {
	*inspect.HostNetworkPod
	HostNetwork bool               `json:"hostNetwork"`
	Netns       string             `json:"netns"`
	Inode       uint64             `json:"inode"`
	Processes   []inspect.Process  `json:"processes,omitempty"`
	Listeners   []inspect.Listener `json:"listeners,omitempty"`
}

// HostNetworkPodDoc is the document `inspect pod/NAME -o json` writes for
// a hostNetwork pod.
func HostNetworkPodDoc(s *inspect.Snapshot, p *inspect.HostNetworkPod) HostNetworkPodView {
	return HostNetworkPodView{HostNetworkPod: p, HostNetwork: true, Netns: s.Node.Path, Inode: s.Node.Inode,
		Processes: hostPodProcesses(s, p), Listeners: s.HostNetworkPodListeners(p)}
}

func hostPodProcesses(s *inspect.Snapshot, p *inspect.HostNetworkPod) []inspect.Process {
	var out []inspect.Process
	for _, pr := range s.Node.Processes {
		if owner, _ := s.HostNetworkPodOf(pr.PID); owner != nil && owner.Key() == p.Key() {
			out = append(out, pr)
		}
	}
	return out
}

// SnapshotWritten says where `netx snapshot -o FILE` saved the node and
// how many namespaces it holds (the node's own counts).
func SnapshotWritten(w io.Writer, s *inspect.Snapshot, file string) {
	fmt.Fprintf(w, "snapshot of %d namespaces written to %s\n", len(s.Namespaces)+1, file)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
