package inspect

import "testing"

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
