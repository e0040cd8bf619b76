package inspect

import (
	"net/netip"
	"time"

	"github.com/netx-project/netx/netfilter"
)

// SchemaVersion is the version of the Snapshot JSON document. Readers
// refuse documents of a newer major version.
const SchemaVersion = 1

// Snapshot is everything about one node's pod networking: plain data, so
// the same trace runs on a live node and on a saved file.
type Snapshot struct {
	Version int       `json:"version"`
	Taken   time.Time `json:"taken"`
	// NodeName is the node's name: the Kubernetes node, the lab node, or
	// the machine's hostname.
	NodeName string `json:"nodeName,omitempty"`
	// Node is the namespace treated as the node (the host, or --host-netns).
	Node *Netns `json:"node"`
	// Pods are the other network namespaces found, pods or not.
	Namespaces []*Netns `json:"namespaces"`
	// Sources says which discovery sources were available.
	Sources []SourceStatus `json:"sources"`
	// HostNetworkPods are the pods that share the node's own namespace
	// (hostNetwork: true), as the runtime or the lab names them, with
	// their containers: which of the node namespace's processes are
	// theirs, and the ports they declare.
	HostNetworkPods []HostNetworkPod `json:"hostNetworkPods,omitempty"`
}

// HostNetworkPod is a pod without a network namespace of its own: its
// processes and sockets are among the node namespace's. Its JSON is a
// PodRef's with more fields, as the first snapshots wrote it.
type HostNetworkPod struct {
	PodRef
	// PausePID is the pod's infra process, 0 when the source knows none.
	PausePID int `json:"pausePID,omitempty"`
	// FoundBy lists the sources that named it (cri, lab).
	FoundBy    []string    `json:"foundBy,omitempty"`
	Containers []Container `json:"containers,omitempty"`
}

// Container is one container of a hostNetwork pod.
type Container struct {
	Name string `json:"name"`
	// ID is the runtime's container ID, its first 12 characters (as
	// cgroup paths and crictl show it).
	ID string `json:"id,omitempty"`
	// PIDs are its processes (in the node's namespace).
	PIDs []int `json:"pids,omitempty"`
	// Ports are the ports the pod spec declares for it.
	Ports []ContainerPort `json:"ports,omitempty"`
}

// ContainerPort is a port a container declares (containerPort).
type ContainerPort struct {
	Name     string `json:"name,omitempty"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"` // tcp, udp or sctp
}

// SourceStatus says whether a discovery source could be used and why not.
type SourceStatus struct {
	Name  string `json:"name"` // proc | netns-dir | lab | cri
	Used  bool   `json:"used"`
	Error string `json:"error,omitempty"`
}

// Sources of namespace discovery.
const (
	SourceProc     = "proc"      // /proc/*/ns/net, unique by inode
	SourceNetnsDir = "netns-dir" // bind mounts under /run/netns (CNI's cni-*, ip netns)
	SourceLab      = "lab"       // netx datapath state
	SourceCRI      = "cri"       // the container runtime's sandboxes
)

// Netns is one network namespace and what lives in it.
type Netns struct {
	// Dev and Inode identify the namespace (nsfs device and inode).
	Dev   uint64 `json:"dev"`
	Inode uint64 `json:"inode"`
	// Path is usable with nsenter --net=PATH while the namespace lives.
	Path string `json:"path"`
	// Names are /run/netns names bound to it.
	Names []string `json:"names,omitempty"`
	// FoundBy lists the sources that saw it.
	FoundBy []string `json:"foundBy"`
	// Pod is set when the namespace belongs to a pod (by the CRI, the lab,
	// or the pod UID in a process's cgroup).
	Pod *PodRef `json:"pod,omitempty"`
	// PausePID is the pod's infra process (the oldest process in it).
	PausePID  int         `json:"pausePID,omitempty"`
	Hostname  string      `json:"hostname,omitempty"`
	Processes []Process   `json:"processes,omitempty"`
	Links     []Link      `json:"links,omitempty"`
	Routes    []Route     `json:"routes,omitempty"`
	Rules     []RouteRule `json:"rules,omitempty"`
	Neighbors []Neighbor  `json:"neighbors,omitempty"`
	Listeners []Listener  `json:"listeners,omitempty"`
	// Warnings are problems worth a look (two containers on one port...).
	Warnings []string `json:"warnings,omitempty"`
	// Sysctls are the settings that break pod networking when wrong
	// (read for the node only).
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// Conntrack is the connection tracking table's use (node only).
	Conntrack *Conntrack `json:"conntrack,omitempty"`
	// Netfilter holds the node's rules, one ruleset per source that has
	// any: iptables-nft and iptables-legacy (from iptables-save), and
	// nftables (read over netlink; the tables iptables-nft manages are
	// left to the first).
	Netfilter []*netfilter.Ruleset `json:"netfilter,omitempty"`
	// IPSets are the node's ipsets (ipset save), which iptables rules
	// look packets up in (-m set).
	IPSets []netfilter.IPSet `json:"ipsets,omitempty"`
	// Recent are the namespace's xt_recent lists (-m recent), read when a
	// rule uses one: the clients kube-proxy's iptables mode has pinned to
	// an endpoint (sessionAffinity ClientIP), aged from the read.
	Recent []netfilter.RecentTable `json:"recent,omitempty"`
	// NFTables lists the node's nft tables ("ip kube-proxy", "ip nat"...).
	NFTables []string `json:"nftables,omitempty"`
	// KubeProxyMode is read from the rules themselves: iptables, nftables,
	// both ("iptables+nftables": one is stale) or none.
	KubeProxyMode string `json:"kubeProxyMode,omitempty"`
	// Error says why the namespace could not be read fully.
	Error string `json:"error,omitempty"`

	labPod        bool           // a lab pod's: its processes name their container in their environment
	labContainers map[int]string // a lab pod's running containers by PID, as its state records them
}

// Conntrack is the conntrack table's size and use.
type Conntrack struct {
	Count int `json:"count"`
	Max   int `json:"max"`
}

// PodRef names a pod.
type PodRef struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	UID       string `json:"uid,omitempty"`
	Node      string `json:"node,omitempty"`
}

// Process is a process whose network namespace this is.
type Process struct {
	PID       int    `json:"pid"`
	Comm      string `json:"comm"`
	Cmdline   string `json:"cmdline,omitempty"`
	Container string `json:"container,omitempty"`
	// Shares says which other namespaces of the pause it shares
	// (uts, ipc, pid), the seeds' "Join Namespace" made visible.
	Shares []string `json:"shares,omitempty"`
}

// Link is a network interface.
type Link struct {
	Index  int      `json:"index"`
	Name   string   `json:"name"`
	Kind   string   `json:"kind"` // veth, bridge, vxlan, device, ...
	MAC    string   `json:"mac,omitempty"`
	MTU    int      `json:"mtu"`
	Up     bool     `json:"up"`
	Addrs  []string `json:"addrs,omitempty"`
	Master string   `json:"master,omitempty"`
	// PeerIndex and PeerNetnsID are the raw veth peer reference: the
	// peer's ifindex in the namespace this one knows as PeerNetnsID.
	PeerIndex   int `json:"peerIndex,omitempty"`
	PeerNetnsID int `json:"peerNetnsID,omitempty"`
	// Peer is the resolved other end of a veth.
	Peer  *PeerRef `json:"peer,omitempty"`
	VXLAN *VXLAN   `json:"vxlan,omitempty"`
}

// PeerRef is the other end of a veth, resolved across namespaces.
type PeerRef struct {
	Inode  uint64 `json:"inode"`
	Index  int    `json:"index"`
	Name   string `json:"name"`
	Bridge string `json:"bridge,omitempty"`
	// Route is the host route that replaces a bridge for ptp CNIs.
	Route string `json:"route,omitempty"`
}

// VXLAN describes an overlay device.
type VXLAN struct {
	VNI     int        `json:"vni"`
	Port    int        `json:"port"`
	Local   string     `json:"local,omitempty"`
	Dev     string     `json:"dev,omitempty"`
	FDB     []FDBEntry `json:"fdb,omitempty"`
	Learner bool       `json:"learning"`
}

// FDBEntry is a VXLAN forwarding database entry: frames for MAC are sent
// to the remote VTEP at Dst (bridge fdb ... dst Dst).
type FDBEntry struct {
	MAC string     `json:"mac"`
	Dst netip.Addr `json:"dst"`
}

// Route is one route of any table.
type Route struct {
	Table  int    `json:"table"`
	Dst    string `json:"dst"` // "default" or a prefix
	Gw     string `json:"gw,omitempty"`
	Dev    string `json:"dev,omitempty"`
	Src    string `json:"src,omitempty"`
	Scope  string `json:"scope,omitempty"`
	Type   string `json:"type,omitempty"`
	Onlink bool   `json:"onlink,omitempty"`
}

// RouteRule is a policy routing rule.
type RouteRule struct {
	Priority int    `json:"priority"`
	Table    int    `json:"table"`
	Src      string `json:"src,omitempty"`
	Dst      string `json:"dst,omitempty"`
	IIF      string `json:"iif,omitempty"`
	OIF      string `json:"oif,omitempty"`
	Mark     uint32 `json:"mark,omitempty"`
	Mask     uint32 `json:"mask,omitempty"`
}

// Neighbor is an ARP/NDP (or FDB) entry.
type Neighbor struct {
	IP    string `json:"ip"`
	MAC   string `json:"mac"`
	Dev   string `json:"dev"`
	State string `json:"state"`
}

// Listener is a listening socket and who owns it.
type Listener struct {
	Proto     string `json:"proto"` // tcp, tcp6, udp, udp6
	Addr      string `json:"addr"`
	Port      int    `json:"port"`
	PID       int    `json:"pid,omitempty"`
	Comm      string `json:"comm,omitempty"`
	Container string `json:"container,omitempty"`
}

// Options say where to look.
type Options struct {
	// HostNetns is the namespace treated as the node: the host by default
	// (the namespace netx runs in), or a lab node, or a test's namespace.
	HostNetns string
	// CRIEndpoint is the container runtime's socket (default: containerd's
	// or CRI-O's, if present).
	CRIEndpoint string
	// NodeName names the node (default: the hostname of the machine when
	// the node is the host, else empty).
	NodeName string
	// Lazy reads what a trace on a live node needs of a big ruleset and
	// leaves the rest for the trace to read when a packet gets there:
	// nftables anonymous sets' elements (netfilter.Set.Lazy; kube-proxy's
	// nftables mode has one per service, nftnl.FetchSet reads one) and,
	// past 256 chains, every chain that is neither a hook's nor jumped to
	// by one (netfilter.Chain.Lazy; 10k services' and their endpoints'
	// chains, nftnl.ReadChain reads one). A snapshot to keep reads all.
	Lazy bool
	// HostRoot is the node's root directory when netx runs in a container
	// of its own (the node agent: /proc/PID/root of a node process, seen
	// through hostPID). The node's own iptables-save, iptables-legacy-save
	// and ipset — the versions that wrote its rules — run chrooted into it,
	// and its /run/netns is read there. Empty: this machine's root.
	HostRoot string
	// NoLab skips the netx lab state (e.g. to prove /proc alone suffices).
	NoLab bool
	// AttachedOnly keeps only the node's own pods: the namespaces joined to
	// the node namespace by a veth and to nothing else (see keepAttached).
	// Discovery sees every namespace of the machine; with --host-netns on a
	// machine holding several nodes, the other nodes' pods are not this
	// node's.
	AttachedOnly bool
}
