package trace

import (
	"fmt"
	"net/netip"
	"strings"
)

// ResultVersion is the version of the Result JSON schema.
const ResultVersion = 1

// Verdict kinds: how the traced packet's journey ends.
const (
	Delivered          = "delivered"           // a socket listens at the destination (or the kernel answers ICMP)
	Refused            = "refused"             // the destination is reached but nothing listens on the port
	Dropped            = "dropped"             // a netfilter rule or policy drops it
	Rejected           = "rejected"            // a netfilter rule rejects it (ICMP error / TCP reset)
	NoEndpoints        = "no-endpoints"        // kube-proxy rejects it: the service has no endpoints
	NoRoute            = "no-route"            // no route, or an unreachable/blackhole/prohibit route
	NoNeighbor         = "no-neighbor"         // nothing on the link owns the next hop
	RPFilter           = "rp-filter"           // reverse path filtering drops it
	ForwardingDisabled = "forwarding-disabled" // the node would have to forward it but ip_forward is 0
	Left               = "left"                // it leaves the traced nodes (the Internet, a router, an untraced node)
	Loop               = "loop"                // the hop limit was reached
	Asymmetric         = "asymmetric"          // the reply does not come back as the connection's reply
	Unknown            = "unknown"             // the path depends on something netx cannot decide
)

// Result is a trace: the path, hop by hop, and how it ends. Its JSON form
// is a stable schema (version 1): top-level verdict and hops.
type Result struct {
	Version int `json:"version"`
	Src     End `json:"src"`
	Dst     End `json:"dst"`
	// Packet is the packet as the source sends it.
	Packet   PacketView `json:"packet"`
	Verdict  Verdict    `json:"verdict"`
	Hops     []Hop      `json:"hops"`
	Branches []Branch   `json:"branches,omitempty"`
	// Affinity is the session affinity the path met: the client pinned to
	// an endpoint, or the rule that pins a first connection.
	Affinity *Affinity `json:"affinity,omitempty"`
	// Reply is the reply's way back, for a delivered connection.
	Reply    *Reply   `json:"reply,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// Findings are what the cluster's API says against the datapath (in
	// cluster mode): endpoints kube-proxy's rules lack or still hold.
	Findings []string `json:"findings,omitempty"`
	// Live is what a real probe showed (--live).
	Live *LiveReport `json:"live,omitempty"`
}

// End is one end of the trace as resolved.
type End struct {
	Ref  string `json:"ref"`  // as given
	Kind string `json:"kind"` // pod, service, ip, node, internet, localhost
	Name string `json:"name,omitempty"`
	Node string `json:"node,omitempty"`
	Addr string `json:"addr,omitempty"`
	Port uint16 `json:"port,omitempty"`
	// HostNetwork: a pod in its node's network namespace.
	HostNetwork bool `json:"hostNetwork,omitempty"`
}

// String names the end as a trace's first line and its errors do: kind and
// name, then the address and the node it is on.
func (e End) String() string {
	s := e.Kind
	if e.Name != "" {
		s += " " + e.Name
	}
	var at []string
	if e.Addr != "" {
		a := e.Addr
		if e.Port != 0 {
			a = fmt.Sprintf("%s:%d", e.Addr, e.Port)
		}
		at = append(at, a)
	}
	if e.Node != "" && e.Kind != "node" {
		at = append(at, "on "+e.Node)
	}
	if e.HostNetwork {
		at = append(at, "hostNetwork")
	}
	if len(at) > 0 {
		s += " (" + strings.Join(at, ", ") + ")"
	}
	return s
}

// Verdict is how the packet's journey ends, and where.
type Verdict struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
	Node   string `json:"node,omitempty"`
	Netns  string `json:"netns,omitempty"`
	// Pod and Container name who took a delivered packet (namespace/name
	// and the container whose process owns the socket, when known).
	Pod       string `json:"pod,omitempty"`
	Container string `json:"container,omitempty"`
	// HostNetwork says the pod is hostNetwork: Netns is its node's.
	HostNetwork bool `json:"hostNetwork,omitempty"`
	// Rule is the rule that decided a drop or reject.
	Rule *RuleHit `json:"rule,omitempty"`
	// Toward is where a packet that left the traced nodes went (the next
	// hop or the remote VTEP): cluster mode reads the node that has it and
	// traces again.
	Toward string `json:"toward,omitempty"`
}

// PacketView is a packet as the schema shows it.
type PacketView struct {
	Src   string `json:"src"`
	Dst   string `json:"dst"`
	SPort uint16 `json:"sport,omitempty"`
	DPort uint16 `json:"dport,omitempty"`
	Proto string `json:"proto"`
	Mark  uint32 `json:"mark,omitempty"`
}

func view(p Packet) PacketView {
	return PacketView{Src: p.Src.String(), Dst: p.Dst.String(), SPort: p.SPort, DPort: p.DPort, Proto: p.Proto, Mark: p.Mark}
}

// Hop kinds.
const (
	HopSend      = "send"      // a socket sends the packet
	HopArrive    = "arrive"    // an external packet arrives at a node
	HopRoute     = "route"     // a FIB lookup
	HopNetfilter = "netfilter" // rules at one hook
	HopConntrack = "conntrack" // an existing connection's NAT undone (replies)
	HopVeth      = "veth"      // across a veth pair into another namespace
	HopBridge    = "bridge"    // switched by a bridge
	HopEncap     = "encap"     // VXLAN encapsulation
	HopWire      = "wire"      // across the underlay to another node
	HopDecap     = "decap"     // VXLAN decapsulation
	HopDeliver   = "deliver"   // handed to a socket, or refused
	HopDrop      = "drop"      // the end of the line
)

// Hop is one step of the path.
type Hop struct {
	Node     string     `json:"node"`
	Netns    string     `json:"netns"`
	Kind     string     `json:"kind"`
	Device   string     `json:"device,omitempty"`
	Detail   string     `json:"detail"`
	Packet   PacketView `json:"packet"`
	Evidence []string   `json:"evidence,omitempty"`
	Rules    []RuleHit  `json:"rules,omitempty"`
	NAT      []NATStep  `json:"nat,omitempty"`
	Warnings []string   `json:"warnings,omitempty"`
	// at is where the hop happened.
	at Where
	// taps are where a live probe can be watched at this hop: a device in
	// a namespace, the packet expected there, and which way it passes.
	taps []tap
}

// tap is one capture point of a hop.
type tap struct {
	at  Where
	dev string
	pkt Packet
	out bool
}

func (h *Hop) tap(at Where, dev string, pkt Packet, out bool) {
	h.taps = append(h.taps, tap{at, dev, pkt, out})
}

// Branch is one of the ways a random choice (kube-proxy's endpoint pick)
// can go.
type Branch struct {
	Node string `json:"node"`
	Hop  int    `json:"hop"` // 1-based index of the netfilter hop that chose
	// Endpoint is where the branch sends the packet (port 0 for a
	// protocol without ports); unset when the branch ends in Verdict.
	Endpoint netip.AddrPort `json:"endpoint,omitzero"`
	// Verdict is how a branch that sends the packet nowhere ends: drop,
	// reject.
	Verdict     string  `json:"verdict,omitempty"`
	Probability float64 `json:"probability"`
	Chosen      bool    `json:"chosen,omitempty"`
	Chain       string  `json:"chain,omitempty"`
}

// Dest says where the branch goes, as people write it: ip:port, the bare
// address for a protocol without ports, or the verdict.
func (b Branch) Dest() string {
	switch {
	case b.Verdict != "":
		return b.Verdict
	case b.Endpoint.Port() == 0:
		return b.Endpoint.Addr().String()
	}
	return b.Endpoint.String()
}

// Reply is the reply's way back to the source.
type Reply struct {
	Verdict Verdict    `json:"verdict"`
	Packet  PacketView `json:"packet"`
	Hops    []Hop      `json:"hops"`
}
