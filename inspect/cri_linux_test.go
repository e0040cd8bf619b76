package inspect

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestProtobufWire(t *testing.T) {
	// A PodSandbox{id: "abc", metadata: {name: "pod-a", uid: "u1", namespace: "default"}}
	// inside a ListPodSandboxResponse{items: [...]}, twice.
	meta := append(append(pbBytes(1, []byte("pod-a")), pbBytes(2, []byte("u1"))...), pbBytes(3, []byte("default"))...)
	item := append(pbBytes(1, []byte("abc")), pbBytes(2, meta)...)
	item = append(item, pbVarint(5, 1)...) // state = NOTREADY, a varint to skip
	resp := append(pbBytes(1, item), pbBytes(1, item)...)
	items := pbRepeated(resp, 1)
	if len(items) != 2 {
		t.Fatalf("items: %d", len(items))
	}
	m := pbField(items[0], 2)
	if string(pbField(items[0], 1)) != "abc" || string(pbField(m, 1)) != "pod-a" || string(pbField(m, 2)) != "u1" || string(pbField(m, 3)) != "default" {
		t.Errorf("decoded %q %q", pbField(items[0], 1), m)
	}
	// Truncated input must not panic or invent fields.
	for i := range resp {
		pbRepeated(resp[:i], 1)
	}
}

func TestVerboseInfo(t *testing.T) {
	pid, netns, host := verboseInfo([]byte(`{"pid":42,"runtimeSpec":{"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/var/run/netns/cni-1"}]}}}`))
	if pid != 42 || netns != "/var/run/netns/cni-1" || host {
		t.Errorf("pod sandbox: %d %q %v", pid, netns, host)
	}
	if _, _, host := verboseInfo([]byte(`{"pid":7,"runtimeSpec":{"linux":{"namespaces":[{"type":"pid"},{"type":"ipc"}]}}}`)); !host {
		t.Error("a spec without a network namespace is a hostNetwork pod")
	}
	if pid, _, _ := verboseInfo([]byte(`not json`)); pid != 0 {
		t.Error("garbage gave a pid")
	}
}

// statusReply is a PodSandboxStatusResponse with a network namespace mode
// and a verbose info document.
func statusReply(mode uint64, info string) []byte {
	var opts []byte
	if mode != 0 { // proto3 leaves POD (0) out
		opts = pbVarint(1, mode)
	}
	status := pbBytes(6, pbBytes(1, pbBytes(2, opts))) // linux { namespaces { options { network } } }
	kv := append(pbBytes(1, []byte("info")), pbBytes(2, []byte(info))...)
	return append(pbBytes(1, status), pbBytes(2, kv)...)
}

func TestSandboxStatus(t *testing.T) {
	for _, c := range []struct {
		name  string
		reply []byte
		pid   int
		host  bool
	}{
		// containerd and CRI-O say NODE in the status, whatever the
		// verbose info holds (some runtimes give no runtime spec there).
		{"NODE, no spec in the info", statusReply(criNamespaceNode, `{"pid":7}`), 7, true},
		{"NODE, a spec without a network namespace", statusReply(criNamespaceNode, `{"pid":7,"runtimeSpec":{"linux":{"namespaces":[{"type":"pid"}]}}}`), 7, true},
		{"POD", statusReply(0, `{"pid":8,"runtimeSpec":{"linux":{"namespaces":[{"type":"network","path":"/var/run/netns/cni-1"}]}}}`), 8, false},
		{"POD by the status, a spec without a network namespace", statusReply(0, `{"pid":9,"runtimeSpec":{"linux":{"namespaces":[{"type":"ipc"}]}}}`), 9, true},
		{"no info at all", pbBytes(1, pbBytes(6, pbBytes(1, pbBytes(2, pbVarint(1, criNamespaceNode))))), 0, true},
		{"CONTAINER mode is not the node's", statusReply(1, `{"pid":3}`), 3, false},
	} {
		pid, _, host := sandboxStatus(c.reply)
		if pid != c.pid || host != c.host {
			t.Errorf("%s: pid %d hostNetwork %v, want %d %v", c.name, pid, host, c.pid, c.host)
		}
	}
}

func TestParseContainers(t *testing.T) {
	ctr := func(id, sandbox, name string, state uint64, ports string) []byte {
		b := append(pbBytes(1, []byte(id)), pbBytes(2, []byte(sandbox))...)
		b = append(b, pbBytes(3, pbBytes(1, []byte(name)))...)
		if state != 0 {
			b = append(b, pbVarint(6, state)...)
		}
		other := append(pbBytes(1, []byte("io.kubernetes.container.hash")), pbBytes(2, []byte("1234"))...)
		b = append(b, pbBytes(9, other)...)
		if ports != "" {
			b = append(b, pbBytes(9, append(pbBytes(1, []byte(kubeletPortsAnnotation)), pbBytes(2, []byte(ports))...))...)
		}
		return pbBytes(1, b)
	}
	id := strings.Repeat("ab", 32)
	reply := append(ctr(id, "sb1", "webapp", 1, `[{"name":"http","hostPort":8090,"containerPort":8090,"protocol":"TCP"},{"containerPort":53,"protocol":"UDP"},{"containerPort":9000}]`),
		ctr("0123456789abcdef", "sb1", "old", 2, "")...)
	got := parseContainers(reply)
	want := []criContainer{
		{ID: id, SandboxID: "sb1", Name: "webapp", Running: true, Ports: []ContainerPort{{Name: "http", Port: 8090, Protocol: "tcp"}, {Port: 53, Protocol: "udp"}, {Port: 9000, Protocol: "tcp"}}},
		{ID: "0123456789abcdef", SandboxID: "sb1", Name: "old"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("containers:\n got %+v\nwant %+v", got, want)
	}
	if shortID(id) != "abababababab" || shortID("abc") != "abc" {
		t.Errorf("shortID: %q %q", shortID(id), shortID("abc"))
	}
	if declaredPorts([]byte(`not json`)) != nil {
		t.Error("a malformed annotation gave ports")
	}
}

func TestHostPodProcessesMerges(t *testing.T) {
	// PIDs no process has: only the sources' records decide, no cgroup.
	node := &Netns{Processes: []Process{{PID: 1 << 30}, {PID: 1<<30 + 1}, {PID: 1<<30 + 2}}}
	found := []*HostNetworkPod{
		{PodRef: PodRef{Namespace: "default", Name: "web"}, PausePID: 1 << 30, FoundBy: []string{SourceLab},
			Containers: []Container{{Name: "srv", PIDs: []int{1<<30 + 1}, Ports: []ContainerPort{{Port: 80, Protocol: "tcp"}}}}},
		{PodRef: PodRef{Namespace: "default", Name: "web", UID: "u1"}, FoundBy: []string{SourceCRI}},
		// The runtime gave no pause and no process of the node is its:
		// another node's pod.
		{PodRef: PodRef{Namespace: "default", Name: "elsewhere", UID: "u2"}, FoundBy: []string{SourceCRI}},
	}
	got := hostPodProcesses(node, found)
	if len(got) != 1 || got[0].Key() != "default/web" || got[0].UID != "u1" || !slices.Equal(got[0].FoundBy, []string{SourceLab, SourceCRI}) || got[0].PausePID != 1<<30 {
		t.Fatalf("pods: %+v, want default/web alone, named by both sources", got)
	}
	if node.Processes[1].Container != "srv" || node.Processes[0].Container != "" || node.Processes[2].Container != "" {
		t.Errorf("containers of the node's processes: %+v", node.Processes)
	}
	s := &Snapshot{Node: node, HostNetworkPods: got}
	if p, c := s.HostNetworkPodOf(1<<30 + 1); p == nil || c == nil || c.Name != "srv" {
		t.Errorf("HostNetworkPodOf(container) = %v %v", p, c)
	}
	if p, c := s.HostNetworkPodOf(1 << 30); p == nil || c != nil {
		t.Errorf("HostNetworkPodOf(pause) = %v %v", p, c)
	}
	if p, _ := s.HostNetworkPodOf(1<<30 + 2); p != nil {
		t.Errorf("a process of the node's own is pod %s's", p.Key())
	}
}
