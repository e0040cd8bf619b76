package nftrace

import (
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
)

var update = flag.Bool("update", false, "rewrite the captured messages and goldens under testdata (root tests capture)")

// writeCapture saves message bodies a root test captured, one hex line
// each, when -update is given.
func writeCapture(t *testing.T, name string, msgs [][]byte) {
	t.Helper()
	if !*update {
		return
	}
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(hex.EncodeToString(m) + "\n")
	}
	if err := os.WriteFile(filepath.Join("testdata", name+".hex"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readCapture(t *testing.T, name string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range strings.Fields(string(b)) {
		m, err := hex.DecodeString(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func find(evs []Event, ok func(Event) bool) (Event, bool) {
	for _, e := range evs {
		if ok(e) {
			return e, true
		}
	}
	return Event{}, false
}

func format(evs []Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "id=%08x %s %s %s handle=%d type=%s verdict=%q packet=%q iif=%d oif=%d mark=%d\n",
			e.ID, e.Family, e.Table, e.Chain, e.Handle, e.Type, e.Verdict, e.Packet, e.IIFIndex, e.OIFIndex, e.Mark)
	}
	return b.String()
}

// TestDecodeCaptured decodes what kernel 6.18 sent for TestRootTraceDNAT's
// first connect (every event in the namespace, the trace table's own
// included) and compares it with a golden checked by hand.
func TestDecodeCaptured(t *testing.T) {
	var evs []Event
	for i, m := range readCapture(t, "dnat-a") {
		e, err := decodeTrace(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		evs = append(evs, e)
	}
	fillForward(evs)
	got := format(evs)
	golden := filepath.Join("testdata", "dnat-a.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("decoded capture differs from %s:\n%s", golden, got)
	}
	syn := Tuple{Proto: "tcp", Src: netip.MustParseAddr("10.231.0.1"), Dst: netip.MustParseAddr("10.231.0.2"), SPort: 40123, DPort: 80}
	if _, ok := find(evs, func(e Event) bool {
		return e.Table == "nat" && e.Chain == "OUTPUT" && e.Type == TypeRule && e.Verdict == "accept" && e.Handle != 0 && e.Packet == syn
	}); !ok {
		t.Error("no DNAT rule event for the SYN")
	}
}

// msg builds a trace message body: nfgenmsg, then attributes.
func msg(t *testing.T, family uint8, build func(ae *netlink.AttributeEncoder)) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	ae.ByteOrder = binary.BigEndian
	build(ae)
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{family, 0, 0, 0}, b...)
}

func verdict(code int32, chain string) func(*netlink.AttributeEncoder) error {
	return func(ae *netlink.AttributeEncoder) error {
		ae.Uint32(attrVerdictCode, uint32(code))
		if chain != "" {
			ae.String(attrVerdictChain, chain)
		}
		return nil
	}
}

func ipv4(proto byte, src, dst string, fragOff uint16) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[6:], fragOff)
	h[8], h[9] = 64, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return h
}

func ports(s, d uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, s)
	return append(binary.BigEndian.AppendUint16(b, d), make([]byte, 16)...)
}

func TestDecodeConstructed(t *testing.T) {
	ip6 := make([]byte, 40)
	ip6[0], ip6[6] = 0x60, 17
	copy(ip6[8:], netip.MustParseAddr("fd00::1").AsSlice())
	copy(ip6[24:], netip.MustParseAddr("fd00::2").AsSlice())
	for _, tc := range []struct {
		name  string
		fam   uint8
		build func(*netlink.AttributeEncoder)
		want  Event
	}{{
		name: "jump from a rule, with packet and devices",
		fam:  2,
		build: func(ae *netlink.AttributeEncoder) {
			ae.Uint32(attrID, 0xdeadbeef)
			ae.String(attrTable, "nat")
			ae.String(attrChain, "PREROUTING")
			ae.Uint64(attrRuleHandle, 7)
			ae.Uint32(attrType, 3)
			ae.Nested(attrVerdict, verdict(-3, "KUBE-SERVICES"))
			ae.Bytes(attrNetworkHeader, ipv4(6, "10.0.0.1", "10.96.0.10", 0))
			ae.Bytes(attrTransportHeader, ports(12345, 443))
			ae.Uint32(attrIIF, 4)
			ae.Uint16(11, 1) // IIFTYPE: ignored
			ae.Uint32(attrMark, 0x4000)
			ae.Uint32(15, 2)              // NFPROTO: ignored
			ae.Bytes(30, []byte{1, 2, 3}) // an attribute of a later kernel
		},
		want: Event{ID: 0xdeadbeef, Family: "ip", Table: "nat", Chain: "PREROUTING", Handle: 7, Type: TypeRule, Verdict: "jump KUBE-SERVICES",
			Packet:   Tuple{Proto: "tcp", Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.96.0.10"), SPort: 12345, DPort: 443},
			IIFIndex: 4, Mark: 0x4000, dumped: true},
	}, {
		name: "goto",
		fam:  1,
		build: func(ae *netlink.AttributeEncoder) {
			ae.String(attrTable, "t")
			ae.Uint32(attrType, 3)
			ae.Nested(attrVerdict, verdict(-4, "c2"))
		},
		want: Event{Family: "inet", Table: "t", Type: TypeRule, Verdict: "goto c2"},
	}, {
		name: "return",
		fam:  10,
		build: func(ae *netlink.AttributeEncoder) {
			ae.Uint32(attrType, 2)
			ae.Nested(attrVerdict, verdict(-5, ""))
		},
		want: Event{Family: "ip6", Type: TypeReturn, Verdict: "return"},
	}, {
		name: "policy drop",
		fam:  2,
		build: func(ae *netlink.AttributeEncoder) {
			ae.Uint32(attrType, 1)
			ae.Uint32(attrPolicy, 0)
		},
		want: Event{Family: "ip", Type: TypePolicy, Verdict: "drop"},
	}, {
		name: "queue to queue 3, drop with an errno, continue",
		fam:  7,
		build: func(ae *netlink.AttributeEncoder) {
			ae.Uint32(attrType, 3)
			ae.Nested(attrVerdict, verdict(3<<16|3, ""))
		},
		want: Event{Family: "bridge", Type: TypeRule, Verdict: "queue"},
	}, {
		name: "continue",
		fam:  2,
		build: func(ae *netlink.AttributeEncoder) {
			ae.Uint32(attrType, 3)
			ae.Nested(attrVerdict, verdict(-1, ""))
			ae.Uint32(attrOIF, 9)
		},
		want: Event{Family: "ip", Type: TypeRule, Verdict: "continue", OIFIndex: 9, dumped: true},
	}, {
		name: "later fragment: no ports",
		fam:  2,
		build: func(ae *netlink.AttributeEncoder) {
			ae.Bytes(attrNetworkHeader, ipv4(17, "10.0.0.1", "10.0.0.2", 185))
			ae.Bytes(attrTransportHeader, ports(1, 2))
		},
		want: Event{Family: "ip", Packet: Tuple{Proto: "udp", Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2")}, dumped: true},
	}, {
		name: "icmp",
		fam:  2,
		build: func(ae *netlink.AttributeEncoder) {
			ae.Bytes(attrNetworkHeader, ipv4(1, "10.0.0.1", "10.0.0.2", 0))
			ae.Bytes(attrTransportHeader, []byte{8, 0, 0xf7, 0xff, 0, 1, 0, 1})
		},
		want: Event{Family: "ip", Packet: Tuple{Proto: "icmp", Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2")}, dumped: true},
	}, {
		name: "ipv6 udp",
		fam:  1,
		build: func(ae *netlink.AttributeEncoder) {
			ae.Bytes(attrNetworkHeader, ip6)
			ae.Bytes(attrTransportHeader, ports(53, 5353))
		},
		want: Event{Family: "inet", Packet: Tuple{Proto: "udp", Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"), SPort: 53, DPort: 5353}, dumped: true},
	}, {
		name: "gre: protocol number",
		fam:  2,
		build: func(ae *netlink.AttributeEncoder) {
			ae.Bytes(attrNetworkHeader, ipv4(47, "10.0.0.1", "10.0.0.2", 0))
			ae.Bytes(attrTransportHeader, ports(1, 2))
		},
		want: Event{Family: "ip", Packet: Tuple{Proto: "47", Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2")}, dumped: true},
	}, {
		name: "truncated network header: no packet",
		fam:  2,
		build: func(ae *netlink.AttributeEncoder) {
			ae.Bytes(attrNetworkHeader, []byte{0x45, 0})
		},
		want: Event{Family: "ip", dumped: true},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeTrace(msg(t, tc.fam, tc.build))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	if _, err := decodeTrace([]byte{2, 0}); err == nil {
		t.Error("a message shorter than nfgenmsg decoded")
	}
	// An attribute whose length runs past the end of the message.
	if _, err := decodeTrace([]byte{2, 0, 0, 0, 12, 0, 1, 0, 'n', 'a', 't', 0}[:10]); err == nil {
		t.Error("a truncated attribute decoded")
	}
}

func TestVerdictName(t *testing.T) {
	for code, want := range map[int32]string{0: "drop", 1: "accept", 2: "stolen", 3: "queue", 4: "repeat", 5: "stop", -1: "continue", -2: "break", -5: "return", 1<<16 | 0: "drop", 42: "verdict 42"} {
		if got := verdictName(code, ""); got != want {
			t.Errorf("verdict %d: %q, want %q", code, got, want)
		}
	}
}

func TestFillForward(t *testing.T) {
	pkt := Tuple{Proto: "tcp", Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SPort: 1, DPort: 80}
	natted := pkt
	natted.DPort = 8080
	evs := []Event{
		{ID: 1, Chain: "OUTPUT", Packet: pkt, OIF: "eth0", OIFIndex: 2, dumped: true},
		{ID: 2, Chain: "OUTPUT"}, // another packet: nothing to copy
		{ID: 1, Chain: "KUBE-SERVICES"},
		{ID: 1, Chain: "POSTROUTING", Packet: natted, OIFIndex: 2, OIF: "eth0", dumped: true},
		{ID: 1, Chain: "POSTROUTING"},
	}
	fillForward(evs)
	if evs[1].Packet.Proto != "" {
		t.Errorf("packet 2 got %s", evs[1].Packet)
	}
	if evs[2].Packet != pkt || evs[2].OIF != "eth0" || evs[2].OIFIndex != 2 {
		t.Errorf("jumped-to chain: %+v", evs[2])
	}
	if evs[4].Packet != natted {
		t.Errorf("after NAT: %s, want %s", evs[4].Packet, natted)
	}
}

func TestTupleString(t *testing.T) {
	for _, tc := range []struct {
		t    Tuple
		want string
	}{
		{Tuple{Proto: "tcp", Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SPort: 1, DPort: 80}, "tcp 10.0.0.1:1 > 10.0.0.2:80"},
		{Tuple{Proto: "icmp", Dst: netip.MustParseAddr("10.0.0.2")}, "icmp * > 10.0.0.2"},
		{Tuple{Proto: "udp", Dst: netip.MustParseAddr("fd00::1"), DPort: 53}, "udp * > [fd00::1]:53"},
	} {
		if got := tc.t.String(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}
