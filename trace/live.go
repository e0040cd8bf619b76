package trace

import (
	"fmt"
	"io"
	"net/netip"
	"time"
)

// LiveOptions shape a live probe.
type LiveOptions struct {
	// Timeout bounds the wait for the probe's answer (default 2s).
	Timeout time.Duration
	// Pcap receives every capture as pcapng, an interface per capture
	// point, when set.
	Pcap io.Writer
	// ClientNetns is the namespace an "internet" probe is sent from (a
	// lab's outside client); without it an internet source cannot be
	// probed.
	ClientNetns string
	// ClientAddr is that client's address.
	ClientAddr netip.Addr
}

// LiveReport is what a real probe showed, against the prediction.
type LiveReport struct {
	// Probe is the packet sent, from where.
	Probe string `json:"probe"`
	// Outcome is what the sender saw: connected, refused, unreachable or
	// timeout (TCP); answered (a datagram came back), refused (ICMP port
	// unreachable), unreachable or timeout (UDP); echo-reply or timeout
	// (ICMP).
	Outcome string `json:"outcome"`
	// Agrees says the probe went where the prediction said, hop by hop,
	// and ended as predicted.
	Agrees bool `json:"agrees"`
	// Divergence is the first place reality differs from the prediction.
	Divergence string `json:"divergence,omitempty"`
	// Endpoint is the service endpoint the kernel chose, when there was a
	// choice; the prediction compared is the one for that endpoint.
	Endpoint netip.AddrPort `json:"endpoint,omitzero"`
	// NAT is every rewrite the captures show, in path order.
	NAT  []string  `json:"nat,omitempty"`
	Hops []LiveHop `json:"hops"`
	// Rules are the netfilter rules the kernel's trace (nftrace) reports
	// the probe hit, per namespace.
	Rules []LiveRule `json:"rules,omitempty"`
	// Captured counts the probe's packets seen at all points.
	Captured int      `json:"captured"`
	Warnings []string `json:"warnings,omitempty"`
}

// LiveHop is one predicted hop checked against the captures.
type LiveHop struct {
	Hop int `json:"hop"` // 1-based, into the result's hops (the reply's, with Reply)
	// Reply marks a hop of the reply (a SYN-ACK, an echo reply, a UDP
	// answer) on its way back.
	Reply     bool        `json:"reply,omitempty"`
	Node      string      `json:"node"`
	Netns     string      `json:"netns"`
	Device    string      `json:"device"`
	Direction string      `json:"direction"` // in or out of the device
	Expected  PacketView  `json:"expected"`
	Seen      bool        `json:"seen"`
	SeenAs    *PacketView `json:"seenAs,omitempty"` // the probe, rewritten otherwise than predicted
}

// LiveRule is a rule the kernel traced the probe through.
type LiveRule struct {
	Node    string `json:"node"`
	Netns   string `json:"netns"`
	Table   string `json:"table"`
	Chain   string `json:"chain"`
	Num     int    `json:"num,omitempty"` // position in the chain, 0 for a policy
	Handle  uint64 `json:"handle,omitempty"`
	Text    string `json:"text,omitempty"`
	Verdict string `json:"verdict"`
	// Predicted says the prediction has this rule among the hop's hits.
	Predicted bool `json:"predicted"`
}

func (t tap) label() string {
	return fmt.Sprintf("%s %s %s", t.at.Node.Name, t.at.Label(), t.dev)
}
