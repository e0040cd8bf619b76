package inspect

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func sampleSnapshot() *Snapshot {
	return &Snapshot{Version: SchemaVersion, Taken: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Node: &Netns{Inode: 1, Path: "/proc/self/ns/net", Links: []Link{{Index: 3, Name: "cni0", Kind: "bridge", Addrs: []string{"10.244.1.1/24"}}}},
		Namespaces: []*Netns{{Inode: 2, Path: "/proc/42/ns/net", Pod: &PodRef{Namespace: "default", Name: "pod-a"}, PausePID: 42,
			Links: []Link{{Index: 2, Name: "eth0", Kind: "veth", Addrs: []string{"10.244.1.2/24"}, Peer: &PeerRef{Inode: 1, Index: 7, Name: "veth1", Bridge: "cni0"}}}}}}
}

func TestReadSnapshotRoundTrip(t *testing.T) {
	var plain, gz bytes.Buffer
	json.NewEncoder(&plain).Encode(sampleSnapshot())
	w := gzip.NewWriter(&gz)
	w.Write(plain.Bytes())
	w.Close()
	for name, in := range map[string][]byte{"plain": plain.Bytes(), "gzip": gz.Bytes()} {
		s, err := ReadSnapshot(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p, _, err := s.FindPod("default/pod-a")
		if err != nil || p.Links[0].Peer.Bridge != "cni0" || !s.Taken.Equal(sampleSnapshot().Taken) {
			t.Errorf("%s: round trip lost data: %+v %v", name, p, err)
		}
	}
}

func TestReadSnapshotRefuses(t *testing.T) {
	cases := map[string]string{
		"not json":     "hello",
		"not snapshot": `{"kind":"Pod"}`,
		"too new":      `{"version": 99, "node": {"inode": 1}}`,
	}
	want := map[string]string{"not json": "not a netx snapshot", "not snapshot": "not a netx snapshot", "too new": "upgrade netx"}
	for name, in := range cases {
		if _, err := ReadSnapshot(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want[name]) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFindNetnsRefs(t *testing.T) {
	s := sampleSnapshot()
	s.Namespaces[0].Processes = []Process{{PID: 42}}
	s.Namespaces[0].Names = []string{"cni-1234"}
	for _, ref := range []string{"/proc/42/ns/net", "pid:42", "inode:2", "name:cni-1234", "/run/netns/cni-1234"} {
		n, err := s.FindNetns(ref)
		if err != nil || n.Inode != 2 {
			t.Errorf("FindNetns(%q) = %v, %v", ref, n, err)
		}
	}
	if n, err := s.FindNetns("inode:1"); err != nil || n != s.Node {
		t.Errorf("inode:1 should be the node: %v %v", n, err)
	}
	for _, bad := range []string{"pid:7", "uuid:3", "name:nope"} {
		if _, err := s.FindNetns(bad); err == nil {
			t.Errorf("FindNetns(%q) found something", bad)
		}
	}
	if _, _, err := s.FindPod("nope"); err == nil || !strings.Contains(err.Error(), "default/pod-a") {
		t.Errorf("unknown pod should list the pods: %v", err)
	}
}

func FuzzReadSnapshot(f *testing.F) {
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(sampleSnapshot())
	f.Add(b.Bytes())
	f.Add([]byte(`{"version":1,"node":{}}`))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	// Real snapshots of every CNI shape (testdata/snapshots), one also
	// compressed as `netx snapshot -o FILE.gz` writes it.
	for i, file := range fixtureFiles(f) {
		in, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(in)
		if i == 0 {
			var gz bytes.Buffer
			w := gzip.NewWriter(&gz)
			w.Write(in)
			w.Close()
			f.Add(gz.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ReadSnapshot(bytes.NewReader(in))
		if err != nil {
			return
		}
		if s.Node == nil || s.Version < 1 || s.Version > SchemaVersion {
			t.Fatalf("accepted an invalid snapshot: %+v", s)
		}
		s.FindPod("x")
		s.FindNetns("pid:1")
	})
}

func TestJiffiesFrom(t *testing.T) {
	for _, c := range []struct {
		jiffies uint64
		uptime  string
		hz      uint64
	}{
		{4299419053, "18107.22 28623.29\n", 250},
		{4294967296 - 300*1000 + 5*1000, "5.01 9.00\n", 1000}, // just booted
		{4294967296 + 86400*100, "86700.00 1.00\n", 100},
		{4294967296 - 300*300 + 1000*300, "1000.00 1.00\n", 300},
	} {
		tl := fmt.Sprintf("Timer List Version: v0.9\nnow at 1 nsecs\n  .last_jiffies   : 1\njiffies: %d\n", c.jiffies)
		now, hz, err := jiffiesFrom([]byte(tl), []byte(c.uptime))
		if err != nil || now != c.jiffies || hz != c.hz {
			t.Errorf("jiffiesFrom(%d, %q) = %d, %d, %v; want HZ %d", c.jiffies, c.uptime, now, hz, err, c.hz)
		}
	}
	if _, _, err := jiffiesFrom([]byte("nothing"), []byte("1.0 1.0")); err == nil {
		t.Error("no jiffies line accepted")
	}
}

// TestHostNetworkPods: a hostNetwork pod is found by pod/NAME in the
// node's namespace, listed among the pods when a name is unknown, and
// owns the node's sockets its processes hold; snapshots written before
// hostNetwork pods had containers still read.
func TestHostNetworkPods(t *testing.T) {
	s := sampleSnapshot()
	s.Node.Listeners = []Listener{{Proto: "tcp", Addr: "0.0.0.0", Port: 22, PID: 5, Comm: "sshd"}, {Proto: "tcp6", Addr: "::", Port: 8090, PID: 51, Comm: "srv"}}
	s.HostNetworkPods = []HostNetworkPod{{PodRef: PodRef{Namespace: "default", Name: "web-host"}, PausePID: 50,
		Containers: []Container{{Name: "srv", PIDs: []int{51}, Ports: []ContainerPort{{Port: 8090, Protocol: "tcp"}}}}}}
	n, hp, err := s.FindPod("web-host")
	if err != nil || n != s.Node || hp == nil || hp.Key() != "default/web-host" {
		t.Fatalf("FindPod(web-host) = %v, %+v, %v; want the node's namespace and the pod", n, hp, err)
	}
	if n, hp, err := s.FindPod("default/pod-a"); err != nil || hp != nil || n != s.Namespaces[0] {
		t.Errorf("FindPod(pod-a) = %v, %+v, %v", n, hp, err)
	}
	if _, _, err := s.FindPod("nope"); err == nil || !strings.Contains(err.Error(), "default/pod-a, default/web-host (hostNetwork)") {
		t.Errorf("unknown pod should list both pods: %v", err)
	}
	if ls := s.HostNetworkPodListeners(hp); len(ls) != 1 || ls[0].Port != 8090 {
		t.Errorf("the pod's sockets: %+v, want 8090 only (22 is sshd's)", ls)
	}
	s.Namespaces[0].Pod.Name = "web-host"
	if _, _, err := s.FindPod("web-host"); err == nil || !strings.Contains(err.Error(), "several namespaces") {
		t.Errorf("a name two pods have: %v", err)
	}

	old := `{"version":1,"node":{"inode":1,"path":"/proc/self/ns/net","foundBy":null},"namespaces":null,"sources":null,
"hostNetworkPods":[{"namespace":"default","name":"webapp-hostnet","uid":"2dfe9872"}]}`
	got, err := ReadSnapshot(strings.NewReader(old))
	if err != nil || len(got.HostNetworkPods) != 1 || got.HostNetworkPods[0].Key() != "default/webapp-hostnet" || got.HostNetworkPods[0].UID != "2dfe9872" {
		t.Fatalf("an older snapshot's hostNetwork pods: %+v, %v", got, err)
	}
	b, err := json.Marshal(s.HostNetworkPods[0])
	if err != nil || !strings.HasPrefix(string(b), `{"namespace":"default","name":"web-host","pausePID":50,"containers":[{"name":"srv","pids":[51],"ports":[{"port":8090,"protocol":"tcp"}]}]}`) {
		t.Errorf("a hostNetwork pod's JSON is a PodRef's with more fields: %s %v", b, err)
	}
}
