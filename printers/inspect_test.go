package printers

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/netx-project/netx/inspect"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden/inspect and testdata/golden/trace")

func snapshotFixtures(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "snapshots", "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no snapshot fixtures (make testdata-snapshots): %v", err)
	}
	return files
}

// TestNodeGolden: the node view of every CNI shape (testdata/snapshots),
// what `netx inspect --snapshot` prints, is the golden file
// testdata/golden/inspect/<shape>-<node>.txt. After a deliberate change:
// go test ./printers -run TestNodeGolden -update, and review the diff.
func TestNodeGolden(t *testing.T) {
	// What each shape's view must say whatever the golden holds, so an
	// -update cannot bless a lost line.
	must := map[string][]string{
		"cni-bridge-node1": {"bridge cni0 10.244.1.1/24", "-> default/web eth0 10.244.1.2/24",
			"tcp 8080 -> 10.244.1.2:80 default/web (iptables-nft CNI-DN-"},
		"ptp-node1": {"veths without a bridge", "-> default/web eth0 10.244.1.2/24; host end 10.244.1.1/32; route 10.244.1.2/32 dev veth",
			"10.244.2.0/24 via 192.168.77.12 dev eth0 -> host 192.168.77.12 on eth0"},
		"calico-node1": {"-> default/web eth0 10.244.1.65/32; route 10.244.1.65/32 dev cali", "blackhole 10.244.1.64/26",
			"10.244.2.128/26 via 192.168.77.12 dev eth0 -> host 192.168.77.12 on eth0"},
		"calico-node2": {"-> default/api eth0 10.244.2.129/32; route 10.244.2.129/32 dev cali"},
		"flannel-vxlan-node1": {"overlay flannel.1 10.244.1.0/32: vxlan id 1 port 8472 local 192.168.77.11 dev eth0 learning=false mtu 1450",
			"fdb 02:fa:0a:f4:02:00 dst 192.168.77.12", "neigh 10.244.2.0 lladdr 02:fa:0a:f4:02:00 permanent",
			"10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink -> vtep 02:fa:0a:f4:02:00 at 192.168.77.12 (vxlan 1, udp 8472)"},
		"flannel-vxlan-node2": {"10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink -> vtep 02:fa:0a:f4:01:00 at 192.168.77.11"},
	}
	for _, f := range snapshotFixtures(t) {
		name := filepath.Base(filepath.Dir(f)) + "-" + strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			snap, err := inspect.ReadSnapshotFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			Node(&b, snap)
			out := b.String()
			for _, want := range must[name] {
				if !strings.Contains(out, want) {
					t.Errorf("node view lacks %q:\n%s", want, out)
				}
			}
			if !strings.Contains(out, "node interfaces:\n  eth0") {
				t.Errorf("node view does not show the node's own eth0:\n%s", out)
			}
			golden := filepath.Join("..", "testdata", "golden", "inspect", name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (go test ./printers -run TestNodeGolden -update): %v", err)
			}
			if out != string(want) {
				t.Errorf("%s differs from golden; rerun with -update and review the diff\n--- got ---\n%s", golden, out)
			}
		})
	}
}

// TestNodeFlagsBrokenPaths: what the node view says when an overlay route
// cannot be followed or a routed pod has no host route.
func TestNodeFlagsBrokenPaths(t *testing.T) {
	read := func(shape string) *inspect.Snapshot {
		s, err := inspect.ReadSnapshotFile(filepath.Join("..", "testdata", "snapshots", shape, "node1.json"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	view := func(s *inspect.Snapshot) string {
		var b bytes.Buffer
		Node(&b, s)
		return b.String()
	}

	s := read("flannel-vxlan")
	for i := range s.Node.Links {
		if v := s.Node.Links[i].VXLAN; v != nil {
			v.FDB = nil
		}
	}
	if out := view(s); !strings.Contains(out, "-> vtep 02:fa:0a:f4:02:00, NO fdb entry for it on flannel.1") {
		t.Errorf("missing FDB entry not flagged:\n%s", out)
	}
	s.Node.Neighbors = nil
	if out := view(s); !strings.Contains(out, "-> NO neighbour entry for 10.244.2.0 on flannel.1") {
		t.Errorf("missing neighbour entry not flagged:\n%s", out)
	}

	s = read("ptp")
	for _, n := range s.Namespaces {
		for i := range n.Links {
			if p := n.Links[i].Peer; p != nil && n.Pod.Name == "web" {
				p.Route = ""
			}
		}
	}
	if out := view(s); !strings.Contains(out, "default/web eth0 10.244.1.2/24; host end 10.244.1.1/32; NO host route to the pod through veth") {
		t.Errorf("routed pod without a host route not flagged:\n%s", out)
	}
}

// TestNodeSysctlWarnings: the settings that break pod networking are
// flagged under the sysctls line, word for word.
func TestNodeSysctlWarnings(t *testing.T) {
	s, err := inspect.ReadSnapshotFile(filepath.Join("..", "testdata", "snapshots", "cni-bridge", "node1.json"))
	if err != nil {
		t.Fatal(err)
	}
	s.Node.Sysctls["net.ipv4.ip_forward"] = "0"
	s.Node.Sysctls["net.bridge.bridge-nf-call-iptables"] = "0"
	var b bytes.Buffer
	Node(&b, s)
	want := "sysctls: ipv4.ip_forward=0 bridge.bridge-nf-call-iptables=0 ipv4.conf.all.rp_filter=0 ipv4.conf.default.rp_filter=0 ipv4.conf.all.route_localnet=0\n" +
		"  WARNING: ip_forward=0: the node will not route pod traffic\n" +
		"  WARNING: bridge-nf-call-iptables=0: service NAT will not see traffic between pods on one bridge\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("node view lacks\n%s\ngot:\n%s", want, b.String())
	}
}

// TestHostNetworkPodViews: a hostNetwork pod is a pod of the node view,
// with the node's address and namespace, and pod/NAME shows its
// containers, its processes and the node's sockets they own (not the
// node's other ones).
func TestHostNetworkPodViews(t *testing.T) {
	s, err := inspect.ReadSnapshotFile(filepath.Join("..", "testdata", "snapshots", "cni-bridge", "node1.json"))
	if err != nil {
		t.Fatal(err)
	}
	s.Node.Processes = append(s.Node.Processes, inspect.Process{PID: 900, Comm: "pause", Cmdline: "/pause"},
		inspect.Process{PID: 901, Comm: "srv", Cmdline: "srv --listen :8090", Container: "srv"}, inspect.Process{PID: 5, Comm: "sshd", Cmdline: "sshd"})
	s.Node.Listeners = append(s.Node.Listeners, inspect.Listener{Proto: "tcp", Addr: "0.0.0.0", Port: 22, PID: 5, Comm: "sshd"},
		inspect.Listener{Proto: "tcp6", Addr: "::", Port: 8090, PID: 901, Comm: "srv", Container: "srv"})
	s.HostNetworkPods = []inspect.HostNetworkPod{{PodRef: inspect.PodRef{Namespace: "kube-system", Name: "agent"}, PausePID: 900, FoundBy: []string{"cri"},
		Containers: []inspect.Container{{Name: "srv", ID: "0123456789ab", PIDs: []int{901}, Ports: []inspect.ContainerPort{{Port: 8090, Protocol: "tcp"}}}}}}
	addr := s.Node.HostAddr4()
	if addr == "" || strings.HasPrefix(addr, "10.244.") {
		t.Fatalf("node address %q: want the default route's, not the bridge's", addr)
	}

	var b bytes.Buffer
	Node(&b, s)
	out := b.String()
	row := regexp.MustCompile(`(?m)^kube-system/agent +` + regexp.QuoteMeta(addr) + ` \(hostNetwork\) +900 +` + regexp.QuoteMeta(s.Node.Path) + ` +cri$`)
	if !strings.Contains(out, "): 4 pods (1 hostNetwork), 0 other namespaces") || !row.MatchString(out) {
		t.Errorf("node view does not list the hostNetwork pod:\n%s", out)
	}

	b.Reset()
	HostNetworkPod(&b, s, &s.HostNetworkPods[0])
	out = b.String()
	for _, want := range []string{
		"pod kube-system/agent (hostNetwork: the node's network namespace " + s.Node.Path,
		"pause: pid 900",
		"  srv   0123456789ab  901   8090/tcp",
		"  900  /pause              (pause)",
		"  901  srv --listen :8090  srv",
		"  tcp6  :::8090  901/srv (container srv)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("pod view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sshd") {
		t.Errorf("pod view shows the node's own sshd:\n%s", out)
	}
	doc := HostNetworkPodDoc(s, &s.HostNetworkPods[0])
	if !doc.HostNetwork || doc.Netns != s.Node.Path || len(doc.Processes) != 2 || len(doc.Listeners) != 1 {
		t.Errorf("pod document: %+v", doc)
	}
}
