package netfilter

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseXTRecent(t *testing.T) {
	// HZ 250: 250 jiffies a second.
	text := "src=10.244.2.2 ttl: 64 last_seen: 4299419925 oldest_pkt: 2 4299419900, 4299419925\n" +
		"src=10.244.1.7 ttl: 63 last_seen: 4296000000 oldest_pkt: 1 4296000000\n"
	tb, err := ParseXTRecent("KUBE-SEP-Y", strings.NewReader(text), 4299420925, 250)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Name != "KUBE-SEP-Y" || len(tb.Entries) != 2 {
		t.Fatalf("read %+v", tb)
	}
	e := tb.Entries[0]
	if e.Addr != netip.MustParseAddr("10.244.2.2") || e.TTL != 64 || e.LastSeen != 4*time.Second || len(e.Seen) != 2 || e.Seen[0] != 4100*time.Millisecond {
		t.Errorf("entry %+v", e)
	}
	if _, err := ParseXTRecent("X", strings.NewReader("garbage\n"), 1, 250); err == nil {
		t.Error("garbage accepted")
	}

	full := netip.MustParseAddr("255.255.255.255")
	rcheck := Recent{Mode: "rcheck", Name: "KUBE-SEP-Y", Seconds: 10800, Reap: true, Mask: full}
	if ok, got := rcheck.Check(&tb, netip.MustParseAddr("10.244.2.2"), 0); !ok || got == nil || got.Addr != netip.MustParseAddr("10.244.2.2") {
		t.Errorf("a client seen 4s ago: rcheck --seconds 10800 = %v %+v", ok, got)
	}
	// 10.244.1.7 was seen (4299420925-4296000000)/250 s ≈ 3.8h ago.
	if ok, _ := rcheck.Check(&tb, netip.MustParseAddr("10.244.1.7"), 0); ok {
		t.Error("a client seen 3.8h ago still pinned by --seconds 10800")
	}
	if ok, _ := rcheck.Check(&tb, netip.MustParseAddr("10.244.9.9"), 0); ok {
		t.Error("an unknown client pinned")
	}
	noAge := Recent{Mode: "rcheck", Name: "KUBE-SEP-Y", Mask: full}
	if ok, _ := noAge.Check(&tb, netip.MustParseAddr("10.244.1.7"), 0); !ok {
		t.Error("without --seconds any age answers")
	}
	hits := Recent{Mode: "rcheck", Name: "KUBE-SEP-Y", Seconds: 60, HitCount: 3, Mask: full}
	if ok, _ := hits.Check(&tb, netip.MustParseAddr("10.244.2.2"), 0); ok {
		t.Error("2 packets pass --hitcount 3")
	}
	masked := Recent{Mode: "rcheck", Name: "KUBE-SEP-Y", Mask: netip.MustParseAddr("255.255.255.0")}
	if ok, _ := masked.Check(&tb, netip.MustParseAddr("10.244.2.99"), 0); !ok {
		t.Error("--mask 255.255.255.0 does not match the /24")
	}
	ttl := Recent{Mode: "rcheck", Name: "KUBE-SEP-Y", RTTL: true, Mask: full}
	if ok, _ := ttl.Check(&tb, netip.MustParseAddr("10.244.2.2"), 63); ok {
		t.Error("--rttl matched another TTL")
	}
	set := Recent{Mode: "set", Name: "KUBE-SEP-Y", Mask: full}
	if ok, _ := set.Check(nil, netip.MustParseAddr("10.244.9.9"), 0); !ok {
		t.Error("--set did not match")
	}
}
