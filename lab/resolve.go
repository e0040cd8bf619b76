package lab

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/netx-project/netx/lab/labstate"
)

// Ranges Kubernetes uses by default.
const (
	nodePortMin = 30000
	nodePortMax = 32767
	// Auto-assigned addresses: nodes at underlay+11.., clients at +101..,
	// services at serviceCIDR+10.. (.1 is the apiserver's in a real cluster).
	nodeHostBase    = 10
	clientHostBase  = 100
	serviceHostBase = 10
)

func (t *Topology) validate() error {
	_, err := t.Resolve()
	return err
}

// problems collects every problem found, each one line naming file:line.
type problems struct {
	t            *Topology
	list         []string
	underlayUsed map[netip.Addr]string // address -> "node X" / "client Y"
}

func (p *problems) add(path []any, format string, args ...any) {
	p.list = append(p.list, p.t.at(path...)+fmt.Sprintf(format, args...))
}

func path(p ...any) []any { return p }

// Resolve checks the topology and decides every address, name and port.
// It touches nothing outside memory.
func (t *Topology) Resolve() (*Lab, error) {
	p := &problems{t: t}
	lab := &Lab{Name: t.Name, Overlay: t.Overlay, Proxy: t.Proxy}
	if t.APIVersion != "" && t.APIVersion != APIVersion {
		p.add(path("apiVersion"), "apiVersion %q is not supported; use %s", t.APIVersion, APIVersion)
	}
	if t.Kind != "" && t.Kind != KindTopology {
		p.add(path("kind"), "kind %q is not supported; use %s", t.Kind, KindTopology)
	}
	if lab.Name == "" {
		base := filepath.Base(t.file)
		lab.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if !labstate.IsDNSLabel(lab.Name) || len(lab.Name) > 20 {
		p.add(path("name"), "lab name %q must be a DNS label of at most 20 characters (it names the lab's namespaces); set name: to e.g. seeds", lab.Name)
	}
	switch lab.Overlay {
	case "":
		lab.Overlay = OverlayHostGW
	case OverlayHostGW, OverlayVXLAN, OverlayNone:
	default:
		p.add(path("overlay"), "overlay %q is not supported; use %s, %s or %s", t.Overlay, OverlayHostGW, OverlayVXLAN, OverlayNone)
	}
	switch lab.Proxy {
	case "":
		lab.Proxy = ProxyIPTables
	case ProxyIPTables, ProxyNFTables, ProxyNone:
	default:
		p.add(path("proxy"), "proxy %q is not supported; use %s, %s or %s (IPVS cannot be built here)", t.Proxy, ProxyIPTables, ProxyNFTables, ProxyNone)
	}
	lab.Underlay = p.prefix(t.Underlay, DefaultUnderlay, "underlay")
	lab.ClusterCIDR = p.prefix(t.ClusterCIDR, DefaultClusterCIDR, "clusterCIDR")
	lab.ServiceCIDR = p.prefix(t.ServiceCIDR, DefaultServiceCIDR, "serviceCIDR")
	nets := []struct {
		name string
		pfx  netip.Prefix
	}{{"underlay", lab.Underlay}, {"clusterCIDR", lab.ClusterCIDR}, {"serviceCIDR", lab.ServiceCIDR}}
	for i := range nets {
		for j := i + 1; j < len(nets); j++ {
			if nets[i].pfx.IsValid() && nets[j].pfx.IsValid() && nets[i].pfx.Overlaps(nets[j].pfx) {
				p.add(path(nets[j].name), "%s %s overlaps %s %s; give them disjoint ranges", nets[j].name, nets[j].pfx, nets[i].name, nets[i].pfx)
			}
		}
	}
	if len(p.list) > 0 {
		return nil, &InputError{p.list}
	}
	lab.Fabric = NetnsPath(NetnsName(lab.Name, "fabric"))
	lab.UnderlayGateway, _ = nthHost(lab.Underlay, 1)

	p.nodes(lab)
	p.clients(lab)
	p.pods(lab)
	p.services(lab)
	if lab.Proxy == ProxyNone && len(t.Services) > 0 {
		p.add(path("services"), "services need service rules, but proxy is none; set proxy: iptables or nftables, or leave services to a real kube-proxy")
	}
	if len(p.list) > 0 {
		return nil, &InputError{p.list}
	}
	return lab, nil
}

// NetnsPath is the bind-mount path of a named namespace.
func NetnsPath(name string) string { return NetnsDir + "/" + name }

func (p *problems) prefix(s, def, field string) netip.Prefix {
	if s == "" {
		s = def
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil || !pfx.Addr().Is4() {
		p.add(path(field), "%s %q is not an IPv4 CIDR; write it like %s", field, s, def)
		return netip.Prefix{}
	}
	if pfx.Masked() != pfx {
		p.add(path(field), "%s %s has host bits set; did you mean %s?", field, s, pfx.Masked())
	}
	return pfx.Masked()
}

// nthHost is the n-th address of a prefix (0 is the network address).
func nthHost(pfx netip.Prefix, n int) (netip.Addr, bool) {
	a := pfx.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	size := uint64(1) << (32 - pfx.Bits())
	if n < 0 || uint64(n) >= size {
		return netip.Addr{}, false
	}
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// usable says whether ip is a host address of pfx (not network/broadcast).
func usable(pfx netip.Prefix, ip netip.Addr) bool {
	if !pfx.Contains(ip) {
		return false
	}
	first, _ := nthHost(pfx, 0)
	last, _ := nthHost(pfx, (1<<(32-pfx.Bits()))-1)
	return pfx.Bits() >= 31 || (ip != first && ip != last)
}

// allocator hands out addresses deterministically, skipping taken ones.
type allocator struct {
	pfx  netip.Prefix
	next int
	used map[netip.Addr]bool
}

func (a *allocator) take() (netip.Addr, bool) {
	for {
		ip, ok := nthHost(a.pfx, a.next)
		if !ok {
			return netip.Addr{}, false
		}
		a.next++
		if !a.used[ip] && usable(a.pfx, ip) {
			a.used[ip] = true
			return ip, true
		}
	}
}

func (p *problems) nodes(lab *Lab) {
	t := p.t
	if len(t.Nodes) == 0 {
		p.add(path("nodes"), "no nodes declared; add at least one under nodes: (e.g. - name: node1)")
		return
	}
	gw, _ := nthHost(lab.Underlay, 1)
	underlayUsed := map[netip.Addr]string{gw: "the underlay gateway (the fabric)"}
	names := map[string]int{}
	var cidrs []netip.Prefix
	for i, n := range t.Nodes {
		at := path("nodes", i)
		switch {
		case !labstate.IsDNSLabel(n.Name) || len(n.Name) > 40:
			p.add(path("nodes", i, "name"), "node name %q must be a lowercase DNS label; rename it", n.Name)
		case n.Name == "fabric":
			p.add(path("nodes", i, "name"), "node name \"fabric\" is reserved for the underlay namespace; rename it")
		case names[n.Name] > 0:
			p.add(path("nodes", i, "name"), "node %q is declared twice (first at line %d); rename one", n.Name, names[n.Name])
		default:
			names[n.Name] = t.line(at...)
		}
		if n.IP != "" {
			ip, err := netip.ParseAddr(n.IP)
			switch {
			case err != nil || !usable(lab.Underlay, ip):
				p.add(path("nodes", i, "ip"), "node %q ip %q is not a host address of the underlay %s; pick one inside it or leave ip empty", n.Name, n.IP, lab.Underlay)
			case underlayUsed[ip] != "":
				p.add(path("nodes", i, "ip"), "node %q ip %s is already used by %s; pick another or leave ip empty", n.Name, ip, underlayUsed[ip])
			default:
				underlayUsed[ip] = "node " + n.Name
			}
		}
		if n.PodCIDR != "" {
			c, err := netip.ParsePrefix(n.PodCIDR)
			switch {
			case err != nil || !c.Addr().Is4() || c.Masked() != c:
				p.add(path("nodes", i, "podCIDR"), "node %q podCIDR %q is not an IPv4 network; write it like 10.244.1.0/24", n.Name, n.PodCIDR)
			case c.Bits() > 30:
				p.add(path("nodes", i, "podCIDR"), "node %q podCIDR %s is too small; use /30 or larger (a /24 is usual)", n.Name, c)
			case !lab.ClusterCIDR.Contains(c.Addr()) || c.Bits() < lab.ClusterCIDR.Bits():
				p.add(path("nodes", i, "podCIDR"), "node %q podCIDR %s is outside clusterCIDR %s; pick a subnet of it", n.Name, c, lab.ClusterCIDR)
			default:
				for j, o := range cidrs {
					if o.IsValid() && o.Overlaps(c) {
						p.add(path("nodes", i, "podCIDR"), "node %q podCIDR %s overlaps node %q's %s; give each node its own range", n.Name, c, t.Nodes[j].Name, o)
					}
				}
				cidrs = append(cidrs, c)
				continue
			}
		}
		cidrs = append(cidrs, netip.Prefix{})
	}
	// Auto pod CIDRs: /24s of the cluster CIDR, node i (1-based) takes the
	// i-th /24 as flannel's examples do (10.244.1.0/24 for the first worker).
	alloc := &allocator{pfx: lab.Underlay, next: nodeHostBase + 1, used: map[netip.Addr]bool{}}
	for ip := range underlayUsed {
		alloc.used[ip] = true
	}
	sub := 0
	for i, n := range t.Nodes {
		ln := &LabNode{Name: n.Name, Netns: NetnsPath(NetnsName(lab.Name, n.Name))}
		if ip, err := netip.ParseAddr(n.IP); err == nil && n.IP != "" {
			ln.IP = ip
		} else if n.IP == "" {
			ip, ok := alloc.take()
			if !ok {
				p.add(path("nodes", i), "underlay %s has no free address for node %q; use a larger underlay", lab.Underlay, n.Name)
			}
			ln.IP = ip
		}
		ln.PodCIDR = cidrs[i]
		if !ln.PodCIDR.IsValid() && n.PodCIDR == "" {
			for {
				sub++
				c, ok := subnet24(lab.ClusterCIDR, sub)
				if !ok {
					p.add(path("nodes", i), "clusterCIDR %s has no free /24 for node %q; set podCIDR or widen clusterCIDR", lab.ClusterCIDR, n.Name)
					break
				}
				if !slices.ContainsFunc(cidrs, func(o netip.Prefix) bool { return o.IsValid() && o.Overlaps(c) }) {
					ln.PodCIDR = c
					cidrs[i] = c
					break
				}
			}
		}
		if ln.PodCIDR.IsValid() {
			ln.Gateway, _ = nthHost(ln.PodCIDR, 1)
		}
		ln.FabricPort = linkName("n-", n.Name)
		ln.UplinkMAC = macFor(lab.Name, "uplink", n.Name)
		if lab.Overlay == OverlayVXLAN {
			ln.VTEPMAC = macFor(lab.Name, "vtep", n.Name)
		}
		lab.Nodes = append(lab.Nodes, ln)
	}
	p.underlayUsed = underlayUsed
	for _, n := range lab.Nodes {
		if n.IP.IsValid() {
			p.underlayUsed[n.IP] = "node " + n.Name
		}
	}
}

// subnet24 is the n-th /24 inside pfx (pfx must be /24 or larger).
func subnet24(pfx netip.Prefix, n int) (netip.Prefix, bool) {
	if pfx.Bits() > 24 || n >= 1<<(24-pfx.Bits()) {
		return netip.Prefix{}, false
	}
	ip, ok := nthHost(pfx, n*256)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(ip, 24), true
}

// linkName fits prefix+name into IFNAMSIZ-1 (15) characters, falling back
// to a hash for long names so names stay unique and stable.
func linkName(prefix, name string) string {
	if len(prefix)+len(name) <= 15 {
		return prefix + name
	}
	return prefix + hostVethName("", name)[4:]
}

func (p *problems) clients(lab *Lab) {
	t := p.t
	nodeNames := map[string]bool{}
	for _, n := range t.Nodes {
		nodeNames[n.Name] = true
	}
	seen := map[string]int{}
	alloc := &allocator{pfx: lab.Underlay, next: clientHostBase + 1, used: map[netip.Addr]bool{}}
	for ip := range p.underlayUsed {
		alloc.used[ip] = true
	}
	for i, c := range t.Clients {
		switch {
		case !labstate.IsDNSLabel(c.Name) || len(c.Name) > 40:
			p.add(path("clients", i, "name"), "client name %q must be a lowercase DNS label; rename it", c.Name)
		case nodeNames[c.Name] || c.Name == "fabric":
			p.add(path("clients", i, "name"), "client %q has the name of a node (or the fabric); namespaces are named after both, so rename it", c.Name)
		case seen[c.Name] > 0:
			p.add(path("clients", i, "name"), "client %q is declared twice (first at line %d); rename one", c.Name, seen[c.Name])
		default:
			seen[c.Name] = t.line("clients", i)
		}
		lc := &LabClient{Name: c.Name, Netns: NetnsPath(NetnsName(lab.Name, c.Name)), FabricPort: linkName("c-", c.Name)}
		if c.IP != "" {
			ip, err := netip.ParseAddr(c.IP)
			switch {
			case err != nil || !usable(lab.Underlay, ip):
				p.add(path("clients", i, "ip"), "client %q ip %q is not a host address of the underlay %s; pick one inside it or leave ip empty", c.Name, c.IP, lab.Underlay)
			case p.underlayUsed[ip] != "":
				p.add(path("clients", i, "ip"), "client %q ip %s is already used by %s; pick another or leave ip empty", c.Name, ip, p.underlayUsed[ip])
			default:
				lc.IP = ip
				p.underlayUsed[ip] = "client " + c.Name
				alloc.used[ip] = true
			}
		}
		lab.Clients = append(lab.Clients, lc)
	}
	for i, lc := range lab.Clients {
		if !lc.IP.IsValid() && t.Clients[i].IP == "" {
			ip, ok := alloc.take()
			if !ok {
				p.add(path("clients", i), "underlay %s has no free address for client %q; use a larger underlay", lab.Underlay, lc.Name)
			}
			lc.IP = ip
		}
	}
}

func normProto(s string) (string, bool) {
	switch strings.ToUpper(s) {
	case "", "TCP":
		return "TCP", true
	case "UDP":
		return "UDP", true
	case "SCTP":
		return "SCTP", true
	}
	return s, false
}

func (p *problems) pods(lab *Lab) {
	t := p.t
	nodes := map[string]*LabNode{}
	for _, n := range lab.Nodes {
		nodes[n.Name] = n
	}
	seen := map[string]int{}
	podIPs := map[netip.Addr]string{}
	allocs := map[string]*allocator{}
	for _, n := range lab.Nodes {
		if n.PodCIDR.IsValid() {
			// .1 is the bridge (gateway), pods start at .2 as with host-local.
			allocs[n.Name] = &allocator{pfx: n.PodCIDR, next: 2, used: map[netip.Addr]bool{n.Gateway: true}}
		}
	}
	// hostPorts (and hostNetwork ports) are per node and protocol.
	hostPorts := map[string]string{}
	veths := map[string]string{} // node link name -> pod
	for i, pd := range t.Pods {
		ns := pd.Namespace
		if ns == "" {
			ns = "default"
		}
		key := ns + "/" + pd.Name
		switch {
		case !labstate.IsDNSLabel(pd.Name) || len(pd.Name) > 63:
			p.add(path("pods", i, "name"), "pod name %q must be a lowercase DNS label; rename it", pd.Name)
		case !labstate.IsDNSLabel(ns):
			p.add(path("pods", i, "namespace"), "pod %q namespace %q must be a lowercase DNS label", pd.Name, ns)
		case seen[key] > 0:
			p.add(path("pods", i, "name"), "pod %s is declared twice (first at line %d); rename one", key, seen[key])
		default:
			seen[key] = t.line("pods", i)
		}
		lp := &LabPod{Name: pd.Name, Namespace: ns, Node: pd.Node, HostNetwork: pd.HostNetwork,
			Labels: pd.Labels, Hostname: pd.Name, AllowPortConflict: pd.AllowPortConflict}
		node := nodes[pd.Node]
		if node == nil {
			var known []string
			for _, n := range lab.Nodes {
				known = append(known, n.Name)
			}
			p.add(path("pods", i, "node"), "pod %s is on node %q, which is not declared; use one of %s or add it under nodes:", key, pd.Node, strings.Join(known, ", "))
		}
		if pd.HostNetwork {
			if pd.IP != "" {
				p.add(path("pods", i, "ip"), "pod %s has hostNetwork: true and an ip; a hostNetwork pod uses its node's IP, so remove ip", key)
			}
			if node != nil {
				lp.IP = node.IP
				lp.Hostname = node.Name
			}
		} else if lab.Overlay == OverlayNone {
			p.add(path("pods", i), "pod %s needs a pod network, and overlay none builds none; give it hostNetwork: true or use overlay %s", key, OverlayHostGW)
		} else {
			lp.HostVeth = hostVethName(lab.Name, key)
			if other := veths[lp.HostVeth]; other != "" {
				p.add(path("pods", i, "name"), "pod %s hashes to the same node link name (%s) as pod %s; rename one of them", key, lp.HostVeth, other)
			}
			veths[lp.HostVeth] = key
			if pd.IP != "" {
				ip, err := netip.ParseAddr(pd.IP)
				switch {
				case err != nil:
					p.add(path("pods", i, "ip"), "pod %s ip %q is not an IPv4 address; fix it or leave ip empty", key, pd.IP)
				case node != nil && (!usable(node.PodCIDR, ip) || ip == node.Gateway):
					p.add(path("pods", i, "ip"), "pod %s ip %s is not a free host address of node %s's podCIDR %s (the gateway is %s); pick another or leave ip empty", key, ip, node.Name, node.PodCIDR, node.Gateway)
				case podIPs[ip] != "":
					p.add(path("pods", i, "ip"), "pod %s ip %s is already used by pod %s; pick another or leave ip empty", key, ip, podIPs[ip])
				default:
					lp.IP = ip
					podIPs[ip] = key
					if a := allocs[pd.Node]; a != nil {
						a.used[ip] = true
					}
				}
			}
		}
		p.containers(lab, i, lp, hostPorts)
		lab.Pods = append(lab.Pods, lp)
	}
	for i, lp := range lab.Pods {
		if lp.HostNetwork || lp.IP.IsValid() || t.Pods[i].IP != "" {
			continue
		}
		a := allocs[lp.Node]
		if a == nil {
			continue
		}
		ip, ok := a.take()
		if !ok {
			p.add(path("pods", i), "node %s's podCIDR %s is full; pod %s has no address (use a larger podCIDR)", lp.Node, a.pfx, lp.Key())
			continue
		}
		lp.IP = ip
		podIPs[ip] = lp.Key()
	}
	for _, lp := range lab.Pods {
		if lp.IP.IsValid() && !lp.HostNetwork {
			lp.MAC = macFromIP(lp.IP)
		}
	}
}

func (p *problems) containers(lab *Lab, i int, lp *LabPod, hostPorts map[string]string) {
	pd := p.t.Pods[i]
	key := lp.Key()
	// A pod may have no containers: it is then its pause alone, which is
	// all the network needs (the benchmarks use such pods).
	names := map[string]bool{}
	podPorts := map[string]string{} // "80/TCP" -> container
	for j, c := range pd.Containers {
		at := func(f ...any) []any { return append(path("pods", i, "containers", j), f...) }
		if !labstate.IsDNSLabel(c.Name) {
			p.add(at("name"), "pod %s container name %q must be a lowercase DNS label", key, c.Name)
		} else if names[c.Name] {
			p.add(at("name"), "pod %s has two containers named %q; rename one", key, c.Name)
		}
		names[c.Name] = true
		lc := LabContainer{Name: c.Name}
		kinds := 0
		ports := slices.Clone(c.Ports)
		if c.Serve != 0 {
			kinds++
			lc.Argv = []string{"datapath", "serve", "--listen", ":" + strconv.Itoa(c.Serve)}
			lc.Builtin = true
			protos := []string{"TCP"}
			if c.ServeUDP {
				lc.Argv = append(lc.Argv, "--udp")
				protos = append(protos, "UDP")
			}
			for _, proto := range protos {
				if !slices.ContainsFunc(ports, func(cp ContainerPort) bool {
					pp, _ := normProto(cp.Protocol)
					return cp.ContainerPort == c.Serve && pp == proto
				}) {
					ports = append(ports, ContainerPort{ContainerPort: c.Serve, Protocol: proto})
				}
			}
		} else if c.ServeUDP {
			p.add(at("serveUDP"), "pod %s container %s sets serveUDP but serves no port; add serve: PORT (it then answers TCP and UDP there) or remove serveUDP", key, c.Name)
		}
		if c.Forward != nil {
			kinds++
			lc.Argv = []string{"datapath", "forward", "--listen", ":" + strconv.Itoa(c.Forward.Listen), "--to", c.Forward.To}
			lc.Builtin = true
			if _, err := netip.ParseAddrPort(c.Forward.To); err != nil {
				p.add(at("forward", "to"), "pod %s container %s forward.to %q must be IP:PORT, e.g. 127.0.0.1:5000", key, c.Name, c.Forward.To)
			}
			if !slices.ContainsFunc(ports, func(cp ContainerPort) bool { return cp.ContainerPort == c.Forward.Listen }) {
				ports = append(ports, ContainerPort{ContainerPort: c.Forward.Listen})
			}
		}
		if len(c.Command) > 0 {
			kinds++
			lc.Argv = slices.Clone(c.Command)
			if lc.Argv[0] == "netx" || lc.Argv[0] == "kubectl-netx" {
				lc.Argv = lc.Argv[1:]
				lc.Builtin = true
			}
		}
		if kinds != 1 {
			p.add(at(), "pod %s container %s must say what it runs with exactly one of serve: PORT, forward: {listen, to} or command: [...]", key, c.Name)
		}
		for k := range ports {
			cp := &ports[k]
			proto, ok := normProto(cp.Protocol)
			if !ok {
				p.add(at("ports", k, "protocol"), "pod %s container %s port protocol %q is not TCP, UDP or SCTP", key, c.Name, cp.Protocol)
			}
			cp.Protocol = proto
			if cp.ContainerPort < 1 || cp.ContainerPort > 65535 {
				p.add(at("ports", k), "pod %s container %s containerPort %d is not in 1-65535", key, c.Name, cp.ContainerPort)
				continue
			}
			pk := fmt.Sprintf("%d/%s", cp.ContainerPort, proto)
			if other, dup := podPorts[pk]; dup && !pd.AllowPortConflict {
				p.add(at("ports", k), "pod %s containers %s and %s both declare port %s; containers of a pod share one network namespace, so the second would fail with \"address in use\": change one port, or set allowPortConflict: true on the pod to reproduce that failure", key, other, c.Name, pk)
			} else if !dup {
				podPorts[pk] = c.Name
			}
			hp := cp.HostPort
			if lp.HostNetwork {
				if hp != 0 && hp != cp.ContainerPort {
					p.add(at("ports", k, "hostPort"), "pod %s is hostNetwork, so hostPort must equal containerPort %d (or be left out)", key, cp.ContainerPort)
				}
				hp = cp.ContainerPort
			}
			if hp != 0 {
				if hp < 1 || hp > 65535 {
					p.add(at("ports", k, "hostPort"), "pod %s container %s hostPort %d is not in 1-65535", key, c.Name, hp)
					continue
				}
				hk := fmt.Sprintf("%s %d/%s", lp.Node, hp, proto)
				if other := hostPorts[hk]; other != "" && other != key {
					p.add(at("ports", k, "hostPort"), "pod %s wants port %d/%s on node %s, already taken by pod %s; pick another hostPort or another node", key, hp, proto, lp.Node, other)
				}
				hostPorts[hk] = key
			}
		}
		lc.Ports = ports
		lp.Containers = append(lp.Containers, lc)
	}
}

func (p *problems) services(lab *Lab) {
	t := p.t
	seen := map[string]int{}
	ipUsed := map[netip.Addr]string{}
	for i, s := range t.Services {
		if s.ClusterIP == "" {
			continue
		}
		ip, err := netip.ParseAddr(s.ClusterIP)
		if err != nil || !usable(lab.ServiceCIDR, ip) {
			p.add(path("services", i, "clusterIP"), "service %s clusterIP %q is not inside serviceCIDR %s; pick one inside it or leave it empty", s.Name, s.ClusterIP, lab.ServiceCIDR)
			continue
		}
		if other := ipUsed[ip]; other != "" {
			p.add(path("services", i, "clusterIP"), "service %s clusterIP %s is already used by service %s; pick another or leave it empty", s.Name, ip, other)
			continue
		}
		ipUsed[ip] = s.Name
	}
	alloc := &allocator{pfx: lab.ServiceCIDR, next: serviceHostBase, used: map[netip.Addr]bool{}}
	for ip := range ipUsed {
		alloc.used[ip] = true
	}
	nextNodePort := nodePortMin
	usedNodePort := map[int]bool{}
	for _, s := range t.Services {
		for _, sp := range s.Ports {
			usedNodePort[sp.NodePort] = true
		}
	}
	nodePortOwner := map[string]string{}
	for i, s := range t.Services {
		ns := s.Namespace
		if ns == "" {
			ns = "default"
		}
		key := ns + "/" + s.Name
		switch {
		case !labstate.IsDNSLabel(s.Name):
			p.add(path("services", i, "name"), "service name %q must be a lowercase DNS label; rename it", s.Name)
		case seen[key] > 0:
			p.add(path("services", i, "name"), "service %s is declared twice (first at line %d); rename one", key, seen[key])
		default:
			seen[key] = t.line("services", i)
		}
		ls := &LabService{Name: s.Name, Namespace: ns, Type: s.Type}
		switch s.Type {
		case "":
			ls.Type = "ClusterIP"
		case "ClusterIP", "NodePort":
		default:
			p.add(path("services", i, "type"), "service %s type %q is not supported; use ClusterIP or NodePort", key, s.Type)
		}
		switch s.SessionAffinity {
		case "", "None":
			if s.SessionAffinityConfig != nil {
				p.add(path("services", i, "sessionAffinityConfig"), "service %s sets sessionAffinityConfig without sessionAffinity: ClientIP; add it or remove the config", key)
			}
		case "ClientIP":
			ls.AffinitySeconds = 10800
			if c := s.SessionAffinityConfig; c != nil && c.ClientIP.TimeoutSeconds != 0 {
				ls.AffinitySeconds = c.ClientIP.TimeoutSeconds
				if c.ClientIP.TimeoutSeconds < 1 || c.ClientIP.TimeoutSeconds > 86400 {
					p.add(path("services", i, "sessionAffinityConfig", "clientIP", "timeoutSeconds"), "service %s timeoutSeconds %d is not in 1-86400", key, c.ClientIP.TimeoutSeconds)
				}
			}
		default:
			p.add(path("services", i, "sessionAffinity"), "service %s sessionAffinity %q: use None or ClientIP", key, s.SessionAffinity)
		}
		if s.ClusterIP != "" {
			ls.ClusterIP, _ = netip.ParseAddr(s.ClusterIP)
		} else if ip, ok := alloc.take(); ok {
			ls.ClusterIP = ip
		} else {
			p.add(path("services", i), "serviceCIDR %s is full; service %s has no cluster IP (widen serviceCIDR)", lab.ServiceCIDR, key)
		}
		var selected []*LabPod
		if len(s.Selector) == 0 {
			p.add(path("services", i), "service %s has no selector; add selector: {app: ...} matching the labels of its pods", key)
		} else {
			for _, lp := range lab.Pods {
				if lp.Namespace == ns && matches(s.Selector, lp.Labels) {
					selected = append(selected, lp)
				}
			}
			if len(selected) == 0 {
				p.add(path("services", i, "selector"), "service %s selector %s matches no pod in namespace %s; fix the selector or the pods' labels", key, formatLabels(s.Selector), ns)
			}
		}
		if len(s.Ports) == 0 {
			p.add(path("services", i), "service %s has no ports; add ports: [{port: 80, targetPort: 8080}]", key)
		}
		portNames := map[string]bool{}
		portNums := map[string]bool{}
		for k, sp := range s.Ports {
			at := path("services", i, "ports", k)
			proto, ok := normProto(sp.Protocol)
			if !ok {
				p.add(append(at, "protocol"), "service %s port protocol %q is not TCP, UDP or SCTP", key, sp.Protocol)
			}
			if len(s.Ports) > 1 && sp.Name == "" {
				p.add(at, "service %s has several ports, so each needs a name; add name: to port %d", key, sp.Port)
			}
			if portNames[sp.Name] && sp.Name != "" {
				p.add(append(at, "name"), "service %s has two ports named %q; rename one", key, sp.Name)
			}
			portNames[sp.Name] = true
			if sp.Port < 1 || sp.Port > 65535 {
				p.add(append(at, "port"), "service %s port %d is not in 1-65535", key, sp.Port)
			}
			if pk := fmt.Sprintf("%d/%s", sp.Port, proto); portNums[pk] {
				p.add(append(at, "port"), "service %s declares port %s twice; remove one or change its port", key, pk)
			} else {
				portNums[pk] = true
			}
			lsp := LabServicePort{Name: sp.Name, Port: sp.Port, Protocol: proto, TargetPort: sp.TargetPort, NodePort: sp.NodePort}
			if lsp.TargetPort == "" {
				lsp.TargetPort = strconv.Itoa(sp.Port)
			}
			if sp.NodePort != 0 {
				switch {
				case ls.Type != "NodePort":
					p.add(append(at, "nodePort"), "service %s sets nodePort but is type %s; set type: NodePort or remove nodePort", key, ls.Type)
				case sp.NodePort < nodePortMin || sp.NodePort > nodePortMax:
					p.add(append(at, "nodePort"), "service %s nodePort %d is outside %d-%d; pick one inside the range", key, sp.NodePort, nodePortMin, nodePortMax)
				}
				nk := strconv.Itoa(sp.NodePort) + "/" + proto
				if other := nodePortOwner[nk]; other != "" {
					p.add(append(at, "nodePort"), "service %s nodePort %s is already used by service %s; pick another", key, nk, other)
				}
				nodePortOwner[nk] = key
			} else if ls.Type == "NodePort" {
				for usedNodePort[nextNodePort] {
					nextNodePort++
				}
				lsp.NodePort = nextNodePort
				usedNodePort[nextNodePort] = true
			}
			resolvedAny := false
			for _, lp := range selected {
				port, ok := targetPort(lp, lsp.TargetPort, proto)
				if !ok || !lp.IP.IsValid() {
					continue
				}
				resolvedAny = true
				lsp.Endpoints = append(lsp.Endpoints, LabEndpoint{IP: netip.AddrPortFrom(lp.IP, uint16(port)), Pod: lp.Key(), Node: lp.Node})
			}
			if len(selected) > 0 && !resolvedAny {
				p.add(append(at, "targetPort"), "service %s targetPort %q names no container port of its pods; use a port number or a declared port name", key, lsp.TargetPort)
			}
			ls.Ports = append(ls.Ports, lsp)
		}
		lab.Services = append(lab.Services, ls)
	}
}

func matches(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func formatLabels(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// targetPort resolves a service targetPort (number or name) on one pod.
func targetPort(lp *LabPod, target, proto string) (int, bool) {
	if n, err := strconv.Atoi(target); err == nil {
		return n, n > 0 && n < 65536
	}
	for _, c := range lp.Containers {
		for _, cp := range c.Ports {
			if cp.Name == target && cp.Protocol == proto {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}
