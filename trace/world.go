package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/netfilter"
)

// Node is one node's state: a snapshot taken with the node's namespace as
// "the node", and the node's name.
type Node struct {
	Name string
	Snap *inspect.Snapshot
	// ReadChain reads a chain the snapshot left unread (netfilter.Chain.Lazy:
	// a big node's chains past the hooks' own) from the live node into
	// the snapshot, when a packet or a service lookup reaches it. Set by
	// the loaders of live state; nil for saved snapshots, which hold
	// every chain.
	ReadChain func(ns *inspect.Netns, rs *netfilter.Ruleset, t *netfilter.Table, c *netfilter.Chain) error

	byInode map[uint64]*inspect.Netns
	local   []netip.Prefix // the node namespace's own addresses
	readMu  sync.Mutex     // one lazy read (chain or set) at a time
}

// chain returns t's chain name (of rs, in namespace ns of the node) with
// its rules read; why says why a chain that exists has none read.
func (n *Node) chain(ns *inspect.Netns, rs *netfilter.Ruleset, t *netfilter.Table, name string) (c *netfilter.Chain, why string) {
	if c = t.Chain(name); c == nil {
		return nil, ""
	}
	return c, n.read(ns, rs, t, c)
}

// read reads a lazily read chain's rules, once; it returns why it could
// not ("" when read).
func (n *Node) read(ns *inspect.Netns, rs *netfilter.Ruleset, t *netfilter.Table, c *netfilter.Chain) string {
	n.readMu.Lock()
	defer n.readMu.Unlock()
	if !c.Lazy {
		return ""
	}
	if n.ReadChain == nil {
		return fmt.Sprintf("chain %s of table %s %s was not read", c.Name, t.Family, t.Name)
	}
	if err := n.ReadChain(ns, rs, t, c); err != nil {
		return fmt.Sprintf("chain %s of table %s %s: %v", c.Name, t.Family, t.Name, err)
	}
	return ""
}

// fetchSet reads a lazily read set's elements (netfilter.Set.Lazy) with
// fetch, once, under the lock read takes; it returns why it could not.
func (n *Node) fetchSet(fetch func(*Node, netfilter.Family, string, string) ([]netfilter.Element, error), t *netfilter.Table, s *netfilter.Set) string {
	n.readMu.Lock()
	defer n.readMu.Unlock()
	if !s.Lazy {
		return ""
	}
	els, err := fetch(n, t.Family, t.Name, s.Name)
	if err != nil {
		return err.Error()
	}
	s.Elements, s.Lazy = els, false
	return ""
}

// World is every node a trace may cross. It is built once from snapshots
// and only read afterwards; the engine never changes it, except to fill
// in, under the node's lock, a chain or set a lazy read left unread.
type World struct {
	Nodes    []*Node
	Services []*Service
	// HostPods are hostNetwork pods: they live in their node's namespace,
	// which no source names after them.
	HostPods []HostPod
	// External is the source address of an "internet" client (a
	// documentation address unless the caller knows a real one).
	External netip.Addr
	// Fetch reads a set the snapshot left unread (inspect.Options
	// Lazy) from the node, when a packet reaches it. Set by the
	// loaders of live state; nil for saved snapshots, which have every set.
	Fetch func(n *Node, family netfilter.Family, table, set string) ([]netfilter.Element, error)
	// ExternalNetns is that client's namespace, when it is on this
	// machine (a lab's client), so a live probe can be sent from it.
	ExternalNetns string

	svcIndex serviceIndex // Services by namespace, name and protocol
}

// HostPod is a hostNetwork pod: its node's namespace, with processes,
// containers and declared ports of its own (Pod, from the snapshot).
type HostPod struct {
	Namespace, Name, Node string
	Pod                   *inspect.HostNetworkPod
}

// Key is namespace/name.
func (h *HostPod) Key() string { return h.Namespace + "/" + h.Name }

// Label names the pod as hops and verdicts do.
func (h *HostPod) Label() string { return "pod " + h.Key() + " (hostNetwork, on " + h.Node + ")" }

// owns says which of the pod's containers a process is in ("" for its
// pause); ok is false for a process that is not the pod's.
func (h *HostPod) owns(pid int) (container string, ok bool) {
	if pid == 0 || h.Pod == nil {
		return "", false
	}
	for _, c := range h.Pod.Containers {
		if slices.Contains(c.PIDs, pid) {
			return c.Name, true
		}
	}
	return "", h.Pod.PausePID == pid
}

// knowsProcesses says whether the snapshot named any of the pod's
// processes (older snapshots did not).
func (h *HostPod) knowsProcesses() bool {
	if h.Pod == nil {
		return false
	}
	for _, c := range h.Pod.Containers {
		if len(c.PIDs) > 0 {
			return true
		}
	}
	return h.Pod.PausePID != 0
}

// declares finds the container that declares a port.
func (h *HostPod) declares(proto string, port uint16) (string, bool) {
	if h.Pod == nil {
		return "", false
	}
	for _, c := range h.Pod.Containers {
		for _, p := range c.Ports {
			if p.Port == int(port) && p.Protocol == proto {
				return c.Name, true
			}
		}
	}
	return "", false
}

// hostPod finds a hostNetwork pod of a node by namespace/name.
func (w *World) hostPod(key, node string) *HostPod {
	for i := range w.HostPods {
		if hp := &w.HostPods[i]; hp.Key() == key && hp.Node == node {
			return hp
		}
	}
	return nil
}

// hostPodOf finds the hostNetwork pod of a node that a socket belongs to:
// by its owner process, or, the owner unknown, by the port a container
// declares.
func (w *World) hostPodOf(node string, l inspect.Listener, proto string) (*HostPod, string, bool) {
	for i := range w.HostPods {
		hp := &w.HostPods[i]
		if hp.Node != node {
			continue
		}
		if c, ok := hp.owns(l.PID); ok {
			return hp, c, true
		}
	}
	if l.PID != 0 {
		return nil, "", false
	}
	for i := range w.HostPods {
		hp := &w.HostPods[i]
		if hp.Node != node {
			continue
		}
		if c, ok := hp.declares(proto, uint16(l.Port)); ok {
			return hp, c, true
		}
	}
	return nil, "", false
}

// Service is one service port as the node's kube-proxy rules (or the lab)
// describe it: enough to resolve svc/NAME to an address and port.
type Service struct {
	Namespace string     `json:"namespace"`
	Name      string     `json:"name"`
	PortName  string     `json:"portName,omitempty"`
	Protocol  string     `json:"protocol"`
	ClusterIP netip.Addr `json:"clusterIP,omitzero"`
	Port      uint16     `json:"port,omitempty"`
	NodePort  uint16     `json:"nodePort,omitempty"`
	// NoEndpoints is set when kube-proxy's rules reject the service for
	// having no endpoints.
	NoEndpoints bool `json:"noEndpoints,omitempty"`
}

// Key is namespace/name.
func (s *Service) Key() string { return s.Namespace + "/" + s.Name }

// NewWorld indexes the nodes' snapshots and reads the services their
// kube-proxy rules program. Names must be unique.
func NewWorld(nodes []*Node) (*World, error) {
	w := &World{Nodes: nodes, External: netip.MustParseAddr("203.0.113.10")}
	seen := map[string]bool{}
	for _, n := range nodes {
		if n.Snap == nil || n.Snap.Node == nil {
			return nil, fmt.Errorf("node %q has no snapshot", n.Name)
		}
		if seen[n.Name] {
			return nil, fmt.Errorf("node %q is given twice; give each node's snapshot once", n.Name)
		}
		seen[n.Name] = true
		n.byInode = map[uint64]*inspect.Netns{}
		for _, ns := range n.Snap.All() {
			n.byInode[ns.Inode] = ns
		}
		n.local = nsAddrs(n.Snap.Node)
		for i := range n.Snap.HostNetworkPods {
			p := &n.Snap.HostNetworkPods[i]
			w.HostPods = append(w.HostPods, HostPod{Namespace: p.Namespace, Name: p.Name, Node: n.Name, Pod: p})
		}
		for _, rs := range n.Snap.Node.Netfilter {
			rs.Reindex()
		}
		w.Services = w.svcIndex.merge(w.Services, servicesFromRules(n))
	}
	return w, nil
}

// AddService records a service the caller knows from elsewhere (the lab
// state, the API), merged with what the rules say.
func (w *World) AddService(s *Service) {
	w.Services = w.svcIndex.merge(w.Services, []*Service{s})
}

func mergeServices(have, add []*Service) []*Service {
	var ix serviceIndex
	return ix.merge(have, add)
}

// serviceIndex finds a service among many by namespace, name and
// protocol: a node of kube-proxy's holds 10k of them, and a scan per
// merged service was a quarter of a trace's time there.
type serviceIndex struct {
	n  int // len(list) when by was built
	by map[string][]*Service
}

func serviceKey(s *Service) string { return s.Namespace + "/" + s.Name + "/" + s.Protocol }

// merge adds add to have, each merged into the service it names (a port
// or port name left empty on either side matches any), and returns have.
func (ix *serviceIndex) merge(have, add []*Service) []*Service {
	if ix.by == nil || ix.n != len(have) {
		ix.by = make(map[string][]*Service, len(have)+len(add))
		for _, h := range have {
			k := serviceKey(h)
			ix.by[k] = append(ix.by[k], h)
		}
	}
	for _, s := range add {
		k := serviceKey(s)
		i := slices.IndexFunc(ix.by[k], func(h *Service) bool {
			return (h.Port == s.Port || h.Port == 0 || s.Port == 0) && (h.PortName == s.PortName || h.PortName == "" || s.PortName == "")
		})
		if i < 0 {
			c := *s
			ix.by[k] = append(ix.by[k], &c)
			have = append(have, &c)
			continue
		}
		h := ix.by[k][i]
		if !h.ClusterIP.IsValid() {
			h.ClusterIP = s.ClusterIP
		}
		if h.Port == 0 {
			h.Port = s.Port
		}
		if h.NodePort == 0 {
			h.NodePort = s.NodePort
		}
		if h.PortName == "" {
			h.PortName = s.PortName
		}
		h.NoEndpoints = h.NoEndpoints || s.NoEndpoints
	}
	ix.n = len(have)
	return have
}

// nsAddrs are a namespace's addresses as prefixes (address/len).
func nsAddrs(ns *inspect.Netns) []netip.Prefix {
	var out []netip.Prefix
	for _, l := range ns.Links {
		for _, a := range l.Addrs {
			if p, err := netip.ParsePrefix(a); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// linkAddr is the first IPv4 address of a link.
func linkAddr(ns *inspect.Netns, dev string) (netip.Addr, netip.Prefix) {
	for _, l := range ns.Links {
		if l.Name != dev {
			continue
		}
		for _, a := range l.Addrs {
			if p, err := netip.ParsePrefix(a); err == nil && p.Addr().Is4() {
				return p.Addr(), p
			}
		}
	}
	return netip.Addr{}, netip.Prefix{}
}

func link(ns *inspect.Netns, name string) *inspect.Link {
	for i := range ns.Links {
		if ns.Links[i].Name == name {
			return &ns.Links[i]
		}
	}
	return nil
}

// isLocal says whether addr is one of the namespace's own addresses (or
// loopback's 127/8).
func isLocal(ns *inspect.Netns, addr netip.Addr) bool {
	if addr.IsLoopback() {
		return true
	}
	for _, l := range ns.Links {
		for _, a := range l.Addrs {
			if p, err := netip.ParsePrefix(a); err == nil && p.Addr() == addr {
				return true
			}
		}
	}
	for _, r := range ns.Routes {
		if r.Type == "local" {
			if p, err := netip.ParsePrefix(r.Dst); err == nil && p.Contains(addr) {
				return true
			}
		}
	}
	return false
}

// nodeOf finds the node a namespace belongs to: its own node namespace,
// or the node holding the other end of every one of its veths (a pod). A
// namespace joined to several nodes (a lab's fabric, a router) is nobody's.
func (w *World) nodeOf(ns *inspect.Netns) *Node {
	for _, n := range w.Nodes {
		if n.Snap.Node.Inode == ns.Inode && n.Snap.Node.Dev == ns.Dev {
			return n
		}
	}
	var owner *Node
	for _, n := range w.Nodes {
		if n.byInode[ns.Inode] != ns {
			continue
		}
		for _, l := range ns.Links {
			if l.Peer == nil {
				continue
			}
			if l.Peer.Inode != n.Snap.Node.Inode {
				return nil
			}
			owner = n
		}
		if owner != nil {
			return owner
		}
	}
	return nil
}

// Where is a place a packet can be: a namespace on a node.
type Where struct {
	Node *Node
	NS   *inspect.Netns
}

// IsNode says whether the place is the node's own namespace.
func (p Where) IsNode() bool { return p.NS == p.Node.Snap.Node }

// Label names the place for people: "node node1", "pod default/pod-a".
func (p Where) Label() string {
	if p.IsNode() {
		return "node " + p.Node.Name
	}
	return nsLabel(p.NS)
}

func nsLabel(ns *inspect.Netns) string {
	if ns.Pod != nil && ns.Pod.Name != "" {
		return "pod " + ns.Pod.Namespace + "/" + ns.Pod.Name
	}
	if len(ns.Names) > 0 {
		return "netns " + ns.Names[0]
	}
	return fmt.Sprintf("netns inode:%d", ns.Inode)
}

// pods lists every pod namespace attached to a node, once, with the node.
func (w *World) pods() []Where {
	var out []Where
	seen := map[*inspect.Netns]bool{}
	for _, n := range w.Nodes {
		for _, ns := range n.Snap.Namespaces {
			if ns.Pod == nil || seen[ns] {
				continue
			}
			if owner := w.nodeOf(ns); owner == n {
				seen[ns] = true
				out = append(out, Where{n, ns})
			}
		}
	}
	return out
}

// findPod resolves "name", "ns/name" or "pod/name".
func (w *World) findPod(ref string) (Where, string, bool, error) {
	ref = strings.TrimPrefix(ref, "pod/")
	nsName, name := "", ref
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		nsName, name = ref[:i], ref[i+1:]
	}
	var match []Where
	var keys []string
	for _, p := range w.pods() {
		if p.NS.Pod.Name == name && (nsName == "" || p.NS.Pod.Namespace == nsName) {
			match = append(match, p)
			keys = append(keys, p.NS.Pod.Namespace+"/"+p.NS.Pod.Name)
		}
	}
	for _, hp := range w.HostPods {
		if n := w.node(hp.Node); n != nil && hp.Name == name && (nsName == "" || hp.Namespace == nsName) {
			match = append(match, Where{n, n.Snap.Node})
			keys = append(keys, hp.Namespace+"/"+hp.Name)
		}
	}
	switch len(match) {
	case 0:
		return Where{}, "", false, nil
	case 1:
		return match[0], keys[0], true, nil
	}
	return Where{}, "", true, fmt.Errorf("pod name %q is in several namespaces; write NAMESPACE/%s", name, name)
}

// findService resolves "name" or "ns/name" (svc/ stripped by the caller).
func (w *World) findService(ref string, port uint16) ([]*Service, error) {
	nsName, name := "", ref
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		nsName, name = ref[:i], ref[i+1:]
	}
	var match []*Service
	for _, s := range w.Services {
		if s.Name == name && (nsName == "" || s.Namespace == nsName) {
			match = append(match, s)
		}
	}
	if len(match) == 0 {
		return nil, nil
	}
	nss := map[string]bool{}
	for _, s := range match {
		nss[s.Namespace] = true
	}
	if len(nss) > 1 {
		return nil, fmt.Errorf("service name %q is in several namespaces; write svc/NAMESPACE/%s", name, name)
	}
	return match, nil
}

// owner finds the namespace holding addr: a pod's or a node's. Node
// namespaces are preferred (a hostNetwork pod shares its node's).
func (w *World) owner(addr netip.Addr) (Where, bool) {
	for _, n := range w.Nodes {
		for _, p := range n.local {
			if p.Addr() == addr {
				return Where{n, n.Snap.Node}, true
			}
		}
	}
	for _, p := range w.pods() {
		for _, a := range nsAddrs(p.NS) {
			if a.Addr() == addr && !addr.IsLoopback() {
				return p, true
			}
		}
	}
	// Namespaces attached to a node that no source named as a pod.
	for _, n := range w.Nodes {
		for _, ns := range n.Snap.Namespaces {
			if w.nodeOf(ns) != n {
				continue
			}
			for _, a := range nsAddrs(ns) {
				if a.Addr() == addr && !addr.IsLoopback() {
					return Where{n, ns}, true
				}
			}
		}
	}
	return Where{}, false
}

// node finds a node by name.
func (w *World) node(name string) *Node {
	for _, n := range w.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (w *World) nodeNames() string {
	var names []string
	for _, n := range w.Nodes {
		names = append(names, n.Name)
	}
	return strings.Join(names, ", ")
}
