package capture

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Limits on what one capture point keeps, so that a capture on a busy node
// cannot grow without bound when the caller's keep function is generous.
const (
	// SnapLen is how much of each packet the kernel hands over; the rest
	// is cut (Packet.Length still says how long it was). A probe is far
	// shorter; GRO/GSO aggregates on veths can be 64 KiB and more.
	SnapLen = 65535
	// MaxPackets is how many packets one point stores.
	MaxPackets = 10000
	// MaxBytes is how many bytes of packet data one point stores.
	MaxBytes = 64 << 20
)

// VXLAN UDP ports: the IANA one, and the one the Linux kernel (and so
// flannel) uses by default.
const (
	VXLANPort      = 4789
	VXLANPortLinux = 8472
)

// Point is where to capture: a device in a network namespace.
type Point struct {
	// Netns is a network namespace path as nsenter takes it
	// (/proc/PID/ns/net, /run/netns/NAME); empty is the caller's own.
	Netns  string
	Device string
	// Label names the point for people, "node1 eth0"; it becomes the
	// interface name in pcapng files.
	Label string
}

// Name is the label, or the device when there is none.
func (p Point) Name() string {
	if p.Label != "" {
		return p.Label
	}
	return p.Device
}

func (p Point) String() string {
	ns := p.Netns
	if ns == "" {
		ns = "the current network namespace"
	}
	if p.Label != "" {
		return fmt.Sprintf("%q (%s in %s)", p.Label, p.Device, ns)
	}
	return fmt.Sprintf("%s in %s", p.Device, ns)
}

// Tuple is a packet's 5-tuple. ICMP has no ports (see Packet.ICMP).
type Tuple struct {
	Proto    string // tcp, udp, icmp
	Src, Dst netip.Addr
	SPort    uint16
	DPort    uint16
}

func (t Tuple) String() string {
	if t.Proto == "icmp" || (t.SPort == 0 && t.DPort == 0) {
		return fmt.Sprintf("%s → %s %s", t.Src, t.Dst, t.Proto)
	}
	return fmt.Sprintf("%s:%d → %s:%d %s", t.Src, t.SPort, t.Dst, t.DPort, t.Proto)
}

// Reverse is the tuple of a reply.
func (t Tuple) Reverse() Tuple {
	return Tuple{Proto: t.Proto, Src: t.Dst, Dst: t.Src, SPort: t.DPort, DPort: t.SPort}
}

// ICMP is what identifies an ICMP message in place of ports.
type ICMP struct {
	Type, Code uint8
	ID, Seq    uint16 // echo request and reply
}

func (i ICMP) String() string {
	tc := layers.CreateICMPv4TypeCode(i.Type, i.Code)
	switch i.Type {
	case layers.ICMPv4TypeEchoRequest, layers.ICMPv4TypeEchoReply:
		return fmt.Sprintf("%s id %d seq %d", tc, i.ID, i.Seq)
	}
	return tc.String()
}

// Packet is one packet seen at one point.
type Packet struct {
	Point    int       // index into the points given to Start
	Time     time.Time // the kernel's timestamp (SO_TIMESTAMPNS), comparable across points
	Outgoing bool      // the device sent it (sll_pkttype PACKET_OUTGOING), else received
	Data     []byte    // the frame as captured, link layer included, at most SnapLen
	Length   int       // the frame's full length; more than len(Data) when cut
	// LinkType is the framing of Data: Ethernet for veth, bridge, vxlan
	// and lo; Raw (a bare IP packet) for ipip, wireguard and tun.
	LinkType layers.LinkType
	// Tuple is the decoded 5-tuple; for VXLAN (UDP 4789 or 8472 carrying
	// IPv4) it is the inner packet's, and Outer is the carrier's.
	Tuple    Tuple
	Outer    *Tuple
	VNI      uint32 // with Outer
	TCPFlags string // "S", "SA", "R", "FA", ... when TCP (SYN, ACK, RST, FIN, PSH, URG)
	ICMP     *ICMP  // when ICMP
	// OK says the packet decoded as IPv4 TCP, UDP or ICMP; matchers
	// ignore the others (non-first fragments, other protocols, runts).
	OK bool
}

func (p Packet) String() string {
	dir := "in "
	if p.Outgoing {
		dir = "out"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s #%d %s ", p.Time.Format("15:04:05.000000"), p.Point, dir)
	if !p.OK {
		fmt.Fprintf(&b, "%d bytes, not IPv4 TCP/UDP/ICMP", p.Length)
		return b.String()
	}
	b.WriteString(p.Tuple.String())
	if p.TCPFlags != "" {
		fmt.Fprintf(&b, " [%s]", p.TCPFlags)
	}
	if p.ICMP != nil {
		fmt.Fprintf(&b, " %s", *p.ICMP)
	}
	if p.Outer != nil {
		fmt.Fprintf(&b, " in vxlan %d (%s)", p.VNI, *p.Outer)
	}
	return b.String()
}

// Stats counts what happened at one point; Set.Stats has them after Stop.
type Stats struct {
	Read    uint64 // packets read from the socket (IPv4, after the kernel filter)
	Kept    uint64 // packets the keep function accepted and the point stored
	Over    uint64 // packets keep accepted but the point had no room for (MaxPackets, MaxBytes)
	Dropped uint64 // packets the kernel dropped because the socket buffer was full
}

// Decode parses a captured frame of the given link type (Ethernet, or Raw
// and IPv4 for devices without a link layer). Data is kept, not copied.
func Decode(data []byte, linkType layers.LinkType) Packet {
	p := Packet{Data: data, Length: len(data), LinkType: linkType}
	ip, ok := network(data, linkType)
	if !ok {
		return p
	}
	var l4 l4info
	p.Tuple, l4, p.OK = decodeIPv4(ip)
	if !p.OK {
		return p
	}
	p.TCPFlags, p.ICMP = l4.flags, l4.icmp
	if p.Tuple.Proto == "udp" && (isVXLAN(p.Tuple.SPort) || isVXLAN(p.Tuple.DPort)) {
		if inner, vni, ok := decodeVXLAN(l4.payload); ok {
			outer := p.Tuple
			p.Tuple, p.TCPFlags, p.ICMP = inner.Tuple, inner.TCPFlags, inner.ICMP
			p.Outer, p.VNI = &outer, vni
		}
	}
	return p
}

// isVXLAN says whether port is one VXLAN is carried on.
func isVXLAN(port uint16) bool { return port == VXLANPort || port == VXLANPortLinux }

// decodeVXLAN decodes the VXLAN header in b and the IPv4 packet in the
// Ethernet frame after it. Anything else (another UDP protocol that
// happens to use the port, ARP inside the tunnel) is not VXLAN to us.
func decodeVXLAN(b []byte) (inner Packet, vni uint32, ok bool) {
	// Header: flags (I bit 0x08 says the VNI is valid), 3 reserved
	// bytes, VNI (24 bits), 1 reserved byte.
	if len(b) < 8 || b[0]&0x08 == 0 {
		return Packet{}, 0, false
	}
	vni = binary.BigEndian.Uint32(b[4:8]) >> 8
	inner = Decode(b[8:], layers.LinkTypeEthernet)
	return inner, vni, inner.OK
}

// network returns the IPv4 packet inside a frame.
func network(data []byte, linkType layers.LinkType) ([]byte, bool) {
	switch linkType {
	case layers.LinkTypeEthernet:
		var eth layers.Ethernet
		if eth.DecodeFromBytes(data, gopacket.NilDecodeFeedback) != nil {
			return nil, false
		}
		typ, rest := eth.EthernetType, eth.Payload
		// Tags not taken off by VLAN offload: 802.1Q, and 802.1ad outside.
		for range 2 {
			if typ != layers.EthernetTypeDot1Q && typ != layers.EthernetTypeQinQ {
				break
			}
			var tag layers.Dot1Q
			if tag.DecodeFromBytes(rest, gopacket.NilDecodeFeedback) != nil {
				return nil, false
			}
			typ, rest = tag.Type, tag.Payload
		}
		return rest, typ == layers.EthernetTypeIPv4
	case layers.LinkTypeRaw, layers.LinkTypeIPv4:
		return data, len(data) > 0 && data[0]>>4 == 4
	}
	return nil, false
}

type l4info struct {
	flags   string
	icmp    *ICMP
	payload []byte
}

// decodeIPv4 reads the 5-tuple of an IPv4 packet carrying TCP, UDP or
// ICMP, with what else identifies it (TCP flags, ICMP type and id).
func decodeIPv4(b []byte) (Tuple, l4info, bool) {
	var ip layers.IPv4
	if ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
		return Tuple{}, l4info{}, false
	}
	src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
	dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
	t := Tuple{Src: src, Dst: dst}
	if ip.FragOffset != 0 { // no transport header in this piece
		return t, l4info{}, false
	}
	var info l4info
	switch ip.Protocol {
	case layers.IPProtocolTCP:
		var tcp layers.TCP
		if tcp.DecodeFromBytes(ip.Payload, gopacket.NilDecodeFeedback) != nil {
			return t, info, false
		}
		t.Proto, t.SPort, t.DPort = "tcp", uint16(tcp.SrcPort), uint16(tcp.DstPort)
		info.flags = tcpFlags(&tcp)
		info.payload = tcp.Payload
	case layers.IPProtocolUDP:
		var udp layers.UDP
		if udp.DecodeFromBytes(ip.Payload, gopacket.NilDecodeFeedback) != nil {
			return t, info, false
		}
		t.Proto, t.SPort, t.DPort = "udp", uint16(udp.SrcPort), uint16(udp.DstPort)
		info.payload = udp.Payload
	case layers.IPProtocolICMPv4:
		var icmp layers.ICMPv4
		if icmp.DecodeFromBytes(ip.Payload, gopacket.NilDecodeFeedback) != nil {
			return t, info, false
		}
		t.Proto = "icmp"
		info.icmp = &ICMP{Type: icmp.TypeCode.Type(), Code: icmp.TypeCode.Code(), ID: icmp.Id, Seq: icmp.Seq}
		info.payload = icmp.Payload
	default:
		return t, info, false
	}
	return t, info, true
}

// tcpFlags spells the flags as one letter each, SYN first: "S", "SA",
// "FA", "RA", "PA".
func tcpFlags(tcp *layers.TCP) string {
	var b []byte
	for _, f := range []struct {
		on bool
		c  byte
	}{{tcp.SYN, 'S'}, {tcp.FIN, 'F'}, {tcp.RST, 'R'}, {tcp.PSH, 'P'}, {tcp.ACK, 'A'}, {tcp.URG, 'U'}, {tcp.ECE, 'E'}, {tcp.CWR, 'C'}} {
		if f.on {
			b = append(b, f.c)
		}
	}
	return string(b)
}

// WritePcapNG writes packets as pcapng: one interface per point, named by
// its label (so Wireshark's interface column reads "node1 eth0"), packets
// in time order with nanosecond timestamps. A point's link type is that of
// its first packet (Ethernet when it has none).
func WritePcapNG(w io.Writer, points []Point, pkts []Packet) error {
	if len(points) == 0 {
		return fmt.Errorf("write pcapng: no capture points")
	}
	linkTypes := make([]layers.LinkType, len(points))
	for i := range linkTypes {
		linkTypes[i] = layers.LinkTypeEthernet
	}
	seen := make([]bool, len(points))
	for _, p := range pkts {
		if p.Point < 0 || p.Point >= len(points) {
			return fmt.Errorf("write pcapng: packet of point %d, but there are %d points", p.Point, len(points))
		}
		if !seen[p.Point] {
			seen[p.Point], linkTypes[p.Point] = true, p.LinkType
		}
	}
	intf := func(i int) pcapgo.NgInterface {
		p := points[i]
		return pcapgo.NgInterface{
			Name:                p.Name(),
			Description:         p.String(),
			OS:                  "linux",
			LinkType:            linkTypes[i],
			SnapLength:          SnapLen,
			TimestampResolution: 9,
		}
	}
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "netx trace --live"}}
	ng, err := pcapgo.NewNgWriterInterface(w, intf(0), opts)
	if err != nil {
		return fmt.Errorf("write pcapng: %w", err)
	}
	for i := 1; i < len(points); i++ {
		if _, err := ng.AddInterface(intf(i)); err != nil {
			return fmt.Errorf("write pcapng interface %s: %w", points[i].Name(), err)
		}
	}
	order := slices.Clone(pkts)
	sortPackets(order)
	for _, p := range order {
		ci := gopacket.CaptureInfo{
			Timestamp:      p.Time,
			CaptureLength:  len(p.Data),
			Length:         max(p.Length, len(p.Data)),
			InterfaceIndex: p.Point,
		}
		if err := ng.WritePacket(ci, p.Data); err != nil {
			return fmt.Errorf("write pcapng packet of %s: %w", points[p.Point].Name(), err)
		}
	}
	if err := ng.Flush(); err != nil {
		return fmt.Errorf("write pcapng: %w", err)
	}
	return nil
}

// sortPackets orders packets of all points by time, and by point for
// equal times.
func sortPackets(pkts []Packet) {
	slices.SortStableFunc(pkts, func(a, b Packet) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Point, b.Point))
	})
}
