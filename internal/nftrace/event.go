package nftrace

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/mdlayher/netlink"
)

// Tuple identifies the probe packet at one point of its path. A zero
// address or port matches any; ICMP tuples match on addresses only.
type Tuple struct {
	Proto    string // tcp, udp, icmp, sctp; decoded packets may also say icmpv6 or a protocol number
	Src, Dst netip.Addr
	SPort    uint16
	DPort    uint16
}

func (t Tuple) String() string {
	ep := func(a netip.Addr, p uint16) string {
		s := "*"
		if a.IsValid() {
			s = a.String()
		}
		if p == 0 {
			return s
		}
		return netip.AddrPortFrom(a, p).String()
	}
	return fmt.Sprintf("%s %s > %s", t.Proto, ep(t.Src, t.SPort), ep(t.Dst, t.DPort))
}

// Event is one NFT_MSG_TRACE message: a rule of a chain, the end of a
// chain or a base chain's policy decided what happens next to a traced
// packet.
//
// What the kernel (6.18) sends, as seen in the tests:
//   - a rule event for every rule whose expressions all matched, with its
//     handle and verdict: "continue" for a counter, a mark, a log; "accept"
//     for iptables-nft targets such as DNAT (the xt target says so);
//     "jump X", "goto X", "return", "drop" as written;
//   - a rule event with Handle 0 and Verdict "continue" when the packet
//     reaches the end of a chain (nft monitor trace prints nothing for it),
//     then, in a base chain, a policy event with the policy as Verdict; at
//     the end of a regular chain the packet is back in the caller without
//     an event of type return;
//   - no event for rules that did not match.
type Event struct {
	// ID is NFTA_TRACE_ID, a hash the kernel derives from the packet's
	// buffer: the events of one packet share it, but buffers are
	// recycled, and a later packet of the same flow can have the same ID
	// again (seen in the tests). Group by ID within a run of events.
	ID      uint32
	Family  string // family of the table: ip, ip6, inet, arp, bridge, netdev
	Table   string
	Chain   string
	Handle  uint64 // rule handle; 0 for policy, return and end-of-chain events
	Type    string // rule, return or policy
	Verdict string // accept, drop, continue, return, jump CHAIN, goto CHAIN, queue, ... as nft monitor trace prints it
	// Packet is the packet as it entered the base chain. The kernel sends
	// the headers only with the first event of each base chain visit;
	// Session.Stop copies them to the later events of the same packet.
	Packet   Tuple
	IIF, OIF string // interface names, resolved in the session's namespace; empty when absent or gone
	// IIFIndex and OIFIndex are the ifindexes the kernel sent (NFTA_TRACE_IIF/OIF).
	IIFIndex, OIFIndex uint32
	Mark               uint32

	dumped bool // the kernel sent the packet's headers and devices with this event
}

// Event types (enum nft_trace_types).
const (
	TypePolicy = "policy"
	TypeReturn = "return"
	TypeRule   = "rule"
)

// Netlink numbers from the kernel's include/uapi/linux/netfilter/nfnetlink.h
// and nf_tables.h; kept here rather than taken from x/sys/unix so that the
// decoder builds, and is tested, on every platform.
const (
	subsysNFTables = 10 // NFNL_SUBSYS_NFTABLES: message types are subsys<<8 | msg
	msgTrace       = 17 // NFT_MSG_TRACE
	groupTrace     = 9  // NFNLGRP_NFTRACE

	// enum nft_trace_attributes
	attrTable           = 1
	attrChain           = 2
	attrRuleHandle      = 3
	attrType            = 4
	attrVerdict         = 5
	attrID              = 6
	attrNetworkHeader   = 8
	attrTransportHeader = 9
	attrIIF             = 10
	attrOIF             = 12
	attrMark            = 14
	attrPolicy          = 16

	// enum nft_verdict_attributes, nested in attrVerdict
	attrVerdictCode  = 1
	attrVerdictChain = 2
)

// traceType is the netlink message type of an nftrace event.
const traceType = netlink.HeaderType(subsysNFTables<<8 | msgTrace)

// familyNames are the NFPROTO_* values a table family takes.
var familyNames = map[uint8]string{1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"}

func familyName(f uint8) string {
	if n, ok := familyNames[f]; ok {
		return n
	}
	return strconv.Itoa(int(f))
}

var typeNames = map[uint32]string{1: TypePolicy, 2: TypeReturn, 3: TypeRule}

// decodeTrace parses the body of one NFT_MSG_TRACE message (netlink's
// Message.Data: the nfgenmsg header, then attributes). Interface names are
// left to the caller, which knows the namespace.
func decodeTrace(data []byte) (Event, error) {
	var ev Event
	if len(data) < 4 {
		return ev, fmt.Errorf("trace message of %d bytes: too short for nfgenmsg", len(data))
	}
	ev.Family = familyName(data[0])
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return ev, fmt.Errorf("trace message: %w", err)
	}
	ad.ByteOrder = binary.BigEndian
	var nh, th []byte
	var policy *uint32
	for ad.Next() {
		switch ad.Type() {
		case attrTable:
			ev.Table = ad.String()
		case attrChain:
			ev.Chain = ad.String()
		case attrRuleHandle:
			ev.Handle = ad.Uint64()
		case attrType:
			t := ad.Uint32()
			ev.Type = typeNames[t]
			if ev.Type == "" {
				ev.Type = strconv.Itoa(int(t))
			}
		case attrVerdict:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				ev.Verdict = decodeVerdict(nad)
				return nil
			})
		case attrID:
			ev.ID = ad.Uint32()
		case attrNetworkHeader:
			nh = ad.Bytes()
		case attrTransportHeader:
			th = ad.Bytes()
		case attrIIF:
			ev.IIFIndex = ad.Uint32()
		case attrOIF:
			ev.OIFIndex = ad.Uint32()
		case attrMark:
			ev.Mark = ad.Uint32()
		case attrPolicy:
			p := ad.Uint32()
			policy = &p
		}
	}
	if err := ad.Err(); err != nil {
		return ev, fmt.Errorf("trace message: %w", err)
	}
	if ev.Verdict == "" && policy != nil {
		ev.Verdict = verdictName(int32(*policy), "")
	}
	if nh != nil {
		ev.Packet = decodePacket(nh, th)
	}
	ev.dumped = nh != nil || ev.IIFIndex != 0 || ev.OIFIndex != 0
	return ev, nil
}

func decodeVerdict(ad *netlink.AttributeDecoder) string {
	var code int32
	var chain string
	for ad.Next() {
		switch ad.Type() {
		case attrVerdictCode:
			code = int32(ad.Uint32())
		case attrVerdictChain:
			chain = ad.String()
		}
	}
	return verdictName(code, chain)
}

// verdictName spells a verdict as nft does: the netfilter verdicts (NF_*,
// low byte; the rest carries a queue number or an errno) and nf_tables' own
// negative ones (NFT_*).
func verdictName(code int32, chain string) string {
	switch code {
	case -1:
		return "continue"
	case -2:
		return "break"
	case -3:
		return "jump " + chain
	case -4:
		return "goto " + chain
	case -5:
		return "return"
	}
	switch code & 0xff {
	case 0:
		return "drop"
	case 1:
		return "accept"
	case 2:
		return "stolen"
	case 3:
		return "queue"
	case 4:
		return "repeat"
	case 5:
		return "stop"
	}
	return fmt.Sprintf("verdict %d", code)
}

var protoNames = map[uint8]string{1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp"}

// hasPorts says which protocols start their header with two ports.
var hasPorts = map[uint8]bool{6: true, 17: true, 132: true, 136: true}

// decodePacket reads the addresses, protocol and ports out of the network
// and transport headers the kernel copied (at most 40 and 20 bytes).
func decodePacket(nh, th []byte) Tuple {
	var t Tuple
	var proto uint8
	switch {
	case len(nh) >= 20 && nh[0]>>4 == 4:
		proto = nh[9]
		t.Src = netip.AddrFrom4([4]byte(nh[12:16]))
		t.Dst = netip.AddrFrom4([4]byte(nh[16:20]))
		if binary.BigEndian.Uint16(nh[6:8])&0x1fff != 0 {
			th = nil // a later fragment: what follows is payload, not ports
		}
	case len(nh) >= 40 && nh[0]>>4 == 6:
		// The next header of the fixed header; with extension headers in
		// between, the transport header is not known from here.
		proto = nh[6]
		t.Src = netip.AddrFrom16([16]byte(nh[8:24]))
		t.Dst = netip.AddrFrom16([16]byte(nh[24:40]))
	default:
		return t
	}
	t.Proto = protoNames[proto]
	if t.Proto == "" {
		t.Proto = strconv.Itoa(int(proto))
	}
	if hasPorts[proto] && len(th) >= 4 {
		t.SPort = binary.BigEndian.Uint16(th[0:2])
		t.DPort = binary.BigEndian.Uint16(th[2:4])
	}
	return t
}

// fillForward gives every event the packet and interfaces of the latest
// earlier event of the same packet that carried them, since the kernel
// sends them once per base chain visit.
func fillForward(evs []Event) {
	last := map[uint32]*Event{}
	for i := range evs {
		e := &evs[i]
		if e.dumped {
			last[e.ID] = e
			continue
		}
		if d, ok := last[e.ID]; ok {
			e.Packet = d.Packet
			e.IIF, e.OIF, e.IIFIndex, e.OIFIndex = d.IIF, d.OIF, d.IIFIndex, d.OIFIndex
		}
	}
}
