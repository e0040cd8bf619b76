package diagnose

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/netfilter"
)

func read(t *testing.T, shape, node string) *inspect.Snapshot {
	t.Helper()
	s, err := inspect.ReadSnapshotFile(filepath.Join("..", "testdata", "snapshots", shape, node+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSysctls(t *testing.T) {
	for _, c := range []struct {
		name    string
		sysctls map[string]string
		want    []string
	}{
		{"none read", nil, nil},
		{"healthy", map[string]string{"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"}, nil},
		{"forwarding off", map[string]string{"net.ipv4.ip_forward": "0", "net.bridge.bridge-nf-call-iptables": "1"}, []string{"net.ipv4.ip_forward=0"}},
		{"both", map[string]string{"net.ipv4.ip_forward": "0", "net.bridge.bridge-nf-call-iptables": "0"},
			[]string{"net.ipv4.ip_forward=0", "net.bridge.bridge-nf-call-iptables=0"}},
		{"br_netfilter not loaded", map[string]string{"net.ipv4.ip_forward": "1"}, nil},
	} {
		var got []string
		for _, f := range Sysctls(&inspect.Netns{Sysctls: c.sysctls}) {
			if f.Why == "" {
				t.Errorf("%s: %s says nothing of why", c.name, f.Key)
			}
			got = append(got, f.Key+"="+f.Value)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestHostPorts: the bridge plugin's portmap DNAT on the cni-bridge shape,
// with the pod that holds its address.
func TestHostPorts(t *testing.T) {
	s := read(t, "cni-bridge", "node1")
	got := HostPorts(s)
	if len(got) != 1 {
		t.Fatalf("host ports %+v, want one", got)
	}
	hp := got[0]
	if hp.Proto != "tcp" || !reflect.DeepEqual(hp.Ports, []netfilter.PortRange{{First: 8080, Last: 8080}}) || hp.To != "10.244.1.2:80" ||
		hp.Pod != "default/web" || hp.Source != "iptables-nft" || !strings.HasPrefix(hp.Chain, "CNI-DN-") {
		t.Errorf("host port %+v", hp)
	}
	// A DNAT to an address no pod on the node holds keeps no pod name.
	for _, n := range s.Namespaces {
		n.Links = nil
	}
	if got := HostPorts(s); len(got) != 1 || got[0].Pod != "" {
		t.Errorf("without the pod: %+v", got)
	}
	if got := HostPorts(read(t, "ptp", "node1")); len(got) != 0 {
		t.Errorf("ptp has no portmap rules: %+v", got)
	}
}

// TestRemoteRoutes: host-gw routes lead to a host; overlay routes are
// followed through the neighbour and FDB entries to the remote VTEP, and
// a missing entry is the finding.
func TestRemoteRoutes(t *testing.T) {
	if got := RemoteRoutes(read(t, "ptp", "node1").Node); len(got) != 1 || got[0].Route.Gw != "192.168.77.12" || got[0].Overlay != nil {
		t.Errorf("ptp (host-gw): %+v", got)
	}

	const mac = "02:fa:0a:f4:02:00"
	vtep := netip.MustParseAddr("192.168.77.12")
	overlay := func(t *testing.T, s *inspect.Snapshot) *Overlay {
		t.Helper()
		got := RemoteRoutes(s.Node)
		if len(got) != 1 || got[0].Route.Dst != "10.244.2.0/24" || got[0].Route.Dev != "flannel.1" || got[0].Overlay == nil {
			t.Fatalf("flannel routes through other hosts: %+v", got)
		}
		return got[0].Overlay
	}
	fdb := func(s *inspect.Snapshot) *[]inspect.FDBEntry {
		for i := range s.Node.Links {
			if v := s.Node.Links[i].VXLAN; v != nil {
				return &v.FDB
			}
		}
		t.Fatal("no vxlan device")
		return nil
	}

	t.Run("followed", func(t *testing.T) {
		o := overlay(t, read(t, "flannel-vxlan", "node1"))
		if *o != (Overlay{VNI: 1, Port: 8472, VTEPMAC: mac, VTEP: vtep}) {
			t.Errorf("overlay %+v", o)
		}
	})
	t.Run("MAC in upper case in the neighbour entry", func(t *testing.T) {
		s := read(t, "flannel-vxlan", "node1")
		for i := range s.Node.Neighbors {
			if s.Node.Neighbors[i].MAC == mac {
				s.Node.Neighbors[i].MAC = strings.ToUpper(mac)
			}
		}
		if o := overlay(t, s); o.Problem != "" || o.VTEP != vtep {
			t.Errorf("overlay %+v, want VTEP %s", o, vtep)
		}
	})
	t.Run("MAC in upper case in the FDB", func(t *testing.T) {
		s := read(t, "flannel-vxlan", "node1")
		(*fdb(s))[0].MAC = strings.ToUpper(mac)
		if o := overlay(t, s); o.Problem != "" || o.VTEP != vtep || o.VTEPMAC != mac {
			t.Errorf("overlay %+v, want VTEP %s", o, vtep)
		}
	})
	t.Run("no FDB entry", func(t *testing.T) {
		s := read(t, "flannel-vxlan", "node1")
		*fdb(s) = []inspect.FDBEntry{{MAC: "02:fa:0a:f4:09:00", Dst: netip.MustParseAddr("192.168.77.19")}}
		if o := overlay(t, s); o.Problem != NoFDB || o.VTEPMAC != mac || o.VTEP.IsValid() {
			t.Errorf("overlay %+v, want %s for %s", o, NoFDB, mac)
		}
	})
	t.Run("no neighbour entry", func(t *testing.T) {
		s := read(t, "flannel-vxlan", "node1")
		s.Node.Neighbors = nil
		if o := overlay(t, s); o.Problem != NoNeighbor || o.VTEPMAC != "" || o.VTEP.IsValid() {
			t.Errorf("overlay %+v, want %s", o, NoNeighbor)
		}
	})
}
