package capture

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

// frame serializes layers with lengths and checksums filled in.
func frame(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

func ipv4(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func eth(typ layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: typ}
}

// tcpFrame is an Ethernet frame carrying a TCP segment with the given flags.
func tcpFrame(t *testing.T, src string, sport uint16, dst string, dport uint16, set func(*layers.TCP)) []byte {
	ip := ipv4(src, dst, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1, Window: 64240}
	set(tcp)
	tcp.SetNetworkLayerForChecksum(ip)
	return frame(t, eth(layers.EthernetTypeIPv4), ip, tcp)
}

func udpFrame(t *testing.T, src string, sport uint16, dst string, dport uint16, payload []byte) []byte {
	ip := ipv4(src, dst, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	return frame(t, eth(layers.EthernetTypeIPv4), ip, udp, gopacket.Payload(payload))
}

// vxlan wraps an inner frame in a VXLAN header (flags with the I bit).
func vxlan(vni uint32, inner []byte) []byte {
	h := []byte{0x08, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}
	return append(h, inner...)
}

func tup(proto, src string, sport uint16, dst string, dport uint16) Tuple {
	return Tuple{Proto: proto, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SPort: sport, DPort: dport}
}

func TestDecode(t *testing.T) {
	syn := tcpFrame(t, "10.244.0.5", 40000, "10.96.0.10", 80, func(c *layers.TCP) { c.SYN = true })
	innerSyn := tcpFrame(t, "10.244.0.5", 40000, "10.244.1.7", 8080, func(c *layers.TCP) { c.SYN = true })
	icmp := frame(t, eth(layers.EthernetTypeIPv4), ipv4("10.244.0.5", "10.244.1.7", layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 77, Seq: 3}, gopacket.Payload("ping"))
	vlanIP, vlanUDP := ipv4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP), &layers.UDP{SrcPort: 5000, DstPort: 53}
	vlanUDP.SetNetworkLayerForChecksum(vlanIP)
	vlan := frame(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeIPv4}, vlanIP, vlanUDP, gopacket.Payload("q"))
	arp := frame(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: []byte{10, 0, 0, 1},
		DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2}})
	fragIP := ipv4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
	fragIP.FragOffset = 185
	frag := frame(t, eth(layers.EthernetTypeIPv4), fragIP, gopacket.Payload(make([]byte, 64)))
	ip6 := frame(t, eth(layers.EthernetTypeIPv6), &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolNoNextHeader, HopLimit: 64,
		SrcIP: net.ParseIP("fd00::1"), DstIP: net.ParseIP("fd00::2")})
	outer := tup("udp", "192.168.1.10", 51000, "192.168.1.11", VXLANPortLinux)

	for _, c := range []struct {
		name     string
		data     []byte
		lt       layers.LinkType
		ok       bool
		tuple    Tuple
		flags    string
		icmp     *ICMP
		outer    *Tuple
		vni      uint32
		contains string // in String()
	}{
		{name: "tcp syn", data: syn, ok: true, tuple: tup("tcp", "10.244.0.5", 40000, "10.96.0.10", 80), flags: "S",
			contains: "10.244.0.5:40000 → 10.96.0.10:80 tcp [S]"},
		{name: "tcp syn-ack", data: tcpFrame(t, "10.96.0.10", 80, "10.244.0.5", 40000, func(c *layers.TCP) { c.SYN, c.ACK = true, true }),
			ok: true, tuple: tup("tcp", "10.96.0.10", 80, "10.244.0.5", 40000), flags: "SA"},
		{name: "tcp rst", data: tcpFrame(t, "10.0.0.2", 80, "10.0.0.1", 4000, func(c *layers.TCP) { c.RST, c.ACK = true, true }),
			ok: true, tuple: tup("tcp", "10.0.0.2", 80, "10.0.0.1", 4000), flags: "RA"},
		{name: "tcp fin", data: tcpFrame(t, "10.0.0.1", 4000, "10.0.0.2", 80, func(c *layers.TCP) { c.FIN, c.ACK = true, true }),
			ok: true, tuple: tup("tcp", "10.0.0.1", 4000, "10.0.0.2", 80), flags: "FA"},
		{name: "udp", data: udpFrame(t, "10.244.0.5", 33333, "10.96.0.10", 53, []byte("query")), ok: true,
			tuple: tup("udp", "10.244.0.5", 33333, "10.96.0.10", 53), contains: "10.244.0.5:33333 → 10.96.0.10:53 udp"},
		{name: "icmp echo", data: icmp, ok: true, tuple: tup("icmp", "10.244.0.5", 0, "10.244.1.7", 0),
			icmp: &ICMP{Type: 8, Code: 0, ID: 77, Seq: 3}, contains: "EchoRequest id 77 seq 3"},
		{name: "vxlan 8472 (linux, flannel)", data: udpFrame(t, "192.168.1.10", 51000, "192.168.1.11", VXLANPortLinux, vxlan(1, innerSyn)),
			ok: true, tuple: tup("tcp", "10.244.0.5", 40000, "10.244.1.7", 8080), flags: "S", outer: &outer, vni: 1,
			contains: "10.244.0.5:40000 → 10.244.1.7:8080 tcp [S] in vxlan 1 (192.168.1.10:51000 → 192.168.1.11:8472 udp)"},
		{name: "vxlan 4789 (iana)", data: udpFrame(t, "192.168.1.10", 51000, "192.168.1.11", VXLANPort, vxlan(0x123456, innerSyn)),
			ok: true, tuple: tup("tcp", "10.244.0.5", 40000, "10.244.1.7", 8080), flags: "S",
			outer: &Tuple{Proto: "udp", Src: outer.Src, Dst: outer.Dst, SPort: 51000, DPort: VXLANPort}, vni: 0x123456},
		{name: "udp on 4789 without the vxlan I flag", data: udpFrame(t, "10.0.0.1", 4789, "10.0.0.2", 9999, make([]byte, 40)),
			ok: true, tuple: tup("udp", "10.0.0.1", 4789, "10.0.0.2", 9999)},
		{name: "vxlan carrying arp", data: udpFrame(t, "192.168.1.10", 51000, "192.168.1.11", VXLANPortLinux, vxlan(1, arp)),
			ok: true, tuple: outer},
		{name: "802.1q tag", data: vlan, ok: true, tuple: tup("udp", "10.0.0.1", 5000, "10.0.0.2", 53)},
		{name: "raw ip (ipip, wireguard)", data: syn[14:], lt: layers.LinkTypeRaw, ok: true,
			tuple: tup("tcp", "10.244.0.5", 40000, "10.96.0.10", 80), flags: "S"},
		{name: "arp", data: arp},
		{name: "ipv6", data: ip6},
		{name: "non-first fragment", data: frag, tuple: Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2")}},
		{name: "truncated tcp", data: syn[:14+20+8], tuple: Tuple{Src: netip.MustParseAddr("10.244.0.5"), Dst: netip.MustParseAddr("10.96.0.10")}},
		{name: "runt", data: syn[:10]},
		{name: "empty", data: nil},
		{name: "unknown link type", data: syn, lt: layers.LinkTypeLinuxSLL},
	} {
		t.Run(c.name, func(t *testing.T) {
			lt := c.lt
			if lt == 0 {
				lt = layers.LinkTypeEthernet
			}
			p := Decode(c.data, lt)
			if p.OK != c.ok || p.Tuple != c.tuple || p.TCPFlags != c.flags || p.VNI != c.vni {
				t.Errorf("got ok=%v %v flags %q vni %d, want ok=%v %v flags %q vni %d", p.OK, p.Tuple, p.TCPFlags, p.VNI, c.ok, c.tuple, c.flags, c.vni)
			}
			if (p.ICMP == nil) != (c.icmp == nil) || (p.ICMP != nil && *p.ICMP != *c.icmp) {
				t.Errorf("icmp %+v, want %+v", p.ICMP, c.icmp)
			}
			if (p.Outer == nil) != (c.outer == nil) || (p.Outer != nil && *p.Outer != *c.outer) {
				t.Errorf("outer %v, want %v", p.Outer, c.outer)
			}
			if p.Length != len(c.data) || p.LinkType != lt || !bytes.Equal(p.Data, c.data) {
				t.Errorf("length %d link type %v: frame not kept as given", p.Length, p.LinkType)
			}
			if c.contains != "" && !strings.Contains(p.String(), c.contains) {
				t.Errorf("String() = %q, want it to contain %q", p.String(), c.contains)
			}
		})
	}
}

func TestTupleReverse(t *testing.T) {
	a := tup("tcp", "10.0.0.1", 4000, "10.0.0.2", 80)
	if r := a.Reverse(); r != tup("tcp", "10.0.0.2", 80, "10.0.0.1", 4000) || r.Reverse() != a {
		t.Errorf("reverse of %v: %v", a, r)
	}
}

func TestWritePcapNG(t *testing.T) {
	points := []Point{
		{Netns: "/run/netns/pod-a", Device: "eth0", Label: "pod-a eth0"},
		{Netns: "/run/netns/node1", Device: "veth1234", Label: "node1 veth1234"},
		{Netns: "/run/netns/node1", Device: "eth0"}, // no label: named by the device
	}
	base := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)
	syn := tcpFrame(t, "10.244.0.5", 40000, "10.96.0.10", 80, func(c *layers.TCP) { c.SYN = true })
	var pkts []Packet
	// Out of time order on purpose: the file is in time order.
	for i, at := range []struct{ point, ns int }{{2, 300}, {0, 100}, {1, 200}, {0, 400}} {
		p := Decode(syn, layers.LinkTypeEthernet)
		p.Point, p.Time, p.Outgoing = at.point, base.Add(time.Duration(at.ns)), i%2 == 0
		if i == 3 { // cut at capture: full length recorded
			p.Data, p.Length = p.Data[:40], len(syn)
		}
		pkts = append(pkts, p)
	}
	var buf bytes.Buffer
	if err := WritePcapNG(&buf, points, pkts); err != nil {
		t.Fatal(err)
	}

	r, err := pcapgo.NewNgReader(&buf, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		intf   int
		at     time.Time
		n, len int
	}
	var read []got
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		read = append(read, got{ci.InterfaceIndex, ci.Timestamp, len(data), ci.Length})
	}
	want := []got{{0, base.Add(100), len(syn), len(syn)}, {1, base.Add(200), len(syn), len(syn)}, {2, base.Add(300), len(syn), len(syn)}, {0, base.Add(400), 40, len(syn)}}
	if len(read) != len(want) {
		t.Fatalf("read %d packets, want %d", len(read), len(want))
	}
	for i := range want {
		if read[i].intf != want[i].intf || !read[i].at.Equal(want[i].at) || read[i].n != want[i].n || read[i].len != want[i].len {
			t.Errorf("packet %d: %+v, want %+v", i, read[i], want[i])
		}
	}
	if r.NInterfaces() != len(points) {
		t.Fatalf("%d interfaces, want %d", r.NInterfaces(), len(points))
	}
	for i, name := range []string{"pod-a eth0", "node1 veth1234", "eth0"} {
		intf, err := r.Interface(i)
		if err != nil {
			t.Fatal(err)
		}
		if intf.Name != name || intf.LinkType != layers.LinkTypeEthernet || !strings.Contains(intf.Description, points[i].Netns) {
			t.Errorf("interface %d: name %q link %v description %q", i, intf.Name, intf.LinkType, intf.Description)
		}
	}
}

func TestWritePcapNGErrors(t *testing.T) {
	if err := WritePcapNG(io.Discard, nil, nil); err == nil {
		t.Error("no points: want an error")
	}
	err := WritePcapNG(io.Discard, []Point{{Device: "eth0"}}, []Packet{{Point: 1, Data: []byte{1}}})
	if err == nil || !strings.Contains(err.Error(), "point 1") {
		t.Errorf("packet of an unknown point: %v", err)
	}
	// Points without packets still get their interface.
	var buf bytes.Buffer
	if err := WritePcapNG(&buf, []Point{{Device: "a"}, {Device: "b"}}, nil); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewNgReader(&buf, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.ReadPacketData(); !errors.Is(err, io.EOF) || r.NInterfaces() != 2 {
		t.Errorf("empty capture: %v, %d interfaces", err, r.NInterfaces())
	}
}
