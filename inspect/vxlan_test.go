package inspect

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// TestFDBEntryJSON: entries are written as objects, and read back from
// objects and from the "MAC dst IP" strings of snapshots saved before.
func TestFDBEntryJSON(t *testing.T) {
	want := VXLAN{VNI: 1, Port: 8472, FDB: []FDBEntry{
		{MAC: "02:fa:0a:f4:02:00", Dst: netip.MustParseAddr("192.168.77.12")},
		{MAC: "02:FA:0A:F4:03:00", Dst: netip.MustParseAddr("fd00::13")},
	}}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"fdb":[{"mac":"02:fa:0a:f4:02:00","dst":"192.168.77.12"},{"mac":"02:FA:0A:F4:03:00","dst":"fd00::13"}]`) {
		t.Errorf("written as %s", b)
	}
	for name, doc := range map[string]string{
		"object": string(b),
		"string": `{"vni":1,"port":8472,"fdb":["02:fa:0a:f4:02:00 dst 192.168.77.12","02:FA:0A:F4:03:00 dst fd00::13"],"learning":false}`,
	} {
		var got VXLAN
		if err := json.Unmarshal([]byte(doc), &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s form: %+v, %v; want %+v", name, got, err, want)
		}
	}
	for _, bad := range []string{`"02:fa:0a:f4:02:00"`, `"02:fa:0a:f4:02:00 via 192.168.77.12"`, `"02:fa:0a:f4:02:00 dst nowhere"`, `7`} {
		var e FDBEntry
		if err := json.Unmarshal([]byte(bad), &e); err == nil {
			t.Errorf("%s read as %+v", bad, e)
		}
	}
}

// TestReadOldFDBSnapshot: a saved snapshot holding the old string form
// (testdata/snapshots/flannel-vxlan, written before entries were typed)
// reads into typed entries.
func TestReadOldFDBSnapshot(t *testing.T) {
	s, err := ReadSnapshotFile("../testdata/snapshots/flannel-vxlan/node1.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range s.Node.Links {
		if l.VXLAN != nil {
			if want := []FDBEntry{{MAC: "02:fa:0a:f4:02:00", Dst: netip.MustParseAddr("192.168.77.12")}}; !reflect.DeepEqual(l.VXLAN.FDB, want) {
				t.Errorf("fdb %+v, want %+v", l.VXLAN.FDB, want)
			}
			return
		}
	}
	t.Fatal("no vxlan device in the flannel snapshot")
}

// TestVTEP: next hop → neighbour (the VTEP's MAC) → FDB (its address),
// with MACs matched whatever their case, and each missing step.
func TestVTEP(t *testing.T) {
	nh := netip.MustParseAddr("10.244.2.0")
	dst := netip.MustParseAddr("192.168.77.12")
	ns := func(neighMAC, fdbMAC string) *Netns {
		return &Netns{
			Links: []Link{{Name: "eth0"}, {Name: "flannel.1", Kind: "vxlan", VXLAN: &VXLAN{VNI: 1, FDB: []FDBEntry{{MAC: fdbMAC, Dst: dst}}}}},
			Neighbors: []Neighbor{
				{IP: "10.244.2.0", MAC: "02:00:00:00:00:99", Dev: "eth0", State: "reachable"}, // same address, another device
				{IP: "10.244.2.0", MAC: neighMAC, Dev: "flannel.1", State: "permanent"},
			},
		}
	}
	for _, c := range []struct {
		name             string
		neighMAC, fdbMAC string
		dev              string
		wantMAC          string
		wantDst          netip.Addr
	}{
		{"found", "02:fa:0a:f4:02:00", "02:fa:0a:f4:02:00", "flannel.1", "02:fa:0a:f4:02:00", dst},
		{"neighbour upper case", "02:FA:0A:F4:02:00", "02:fa:0a:f4:02:00", "flannel.1", "02:FA:0A:F4:02:00", dst},
		{"FDB upper case", "02:fa:0a:f4:02:00", "02:FA:0A:F4:02:00", "flannel.1", "02:fa:0a:f4:02:00", dst},
		{"no FDB entry for the MAC", "02:fa:0a:f4:02:00", "02:fa:0a:f4:03:00", "flannel.1", "02:fa:0a:f4:02:00", netip.Addr{}},
		{"no neighbour entry", "", "02:fa:0a:f4:02:00", "flannel.1", "", netip.Addr{}},
		{"not a VXLAN device", "02:fa:0a:f4:02:00", "02:fa:0a:f4:02:00", "eth0", "02:00:00:00:00:99", netip.Addr{}},
	} {
		mac, got := ns(c.neighMAC, c.fdbMAC).VTEP(c.dev, nh)
		if mac != c.wantMAC || got != c.wantDst {
			t.Errorf("%s: %q %v, want %q %v", c.name, mac, got, c.wantMAC, c.wantDst)
		}
	}
}
