package inspect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/lab"
	"github.com/netx-project/netx/lab/labtest"
)

// TestRootInspectAttachedOnly: two nodes on one machine, each with a pod,
// linked through a fabric namespace. Seen from node1 with AttachedOnly,
// only node1's pod is there; without it, every namespace is.
func TestRootInspectAttachedOnly(t *testing.T) {
	testenv.RequireRoot(t)
	plan := labtest.Unique("a")
	name := func(o string) string { return lab.NetnsName(plan, o) }
	path := func(o string) string { return lab.NetnsPath(name(o)) }
	for _, o := range []string{"fabric", "node1", "node2", "pod1", "pod2"} {
		testenv.NamedNetns(t, path(o))
	}
	ip := func(o, script string) {
		t.Helper()
		if _, err := nsenter.Output(nsenter.Net(path(o)), strings.NewReader(script+"\n"), "ip", "-batch", "-"); err != nil {
			t.Fatalf("ip in %s: %v\n%s", o, err, script)
		}
	}
	ip("fabric", "link add br0 type bridge\nlink set br0 up")
	for i, n := range []string{"node1", "node2"} {
		ip(n, fmt.Sprintf("link add eth0 type veth peer name %s netns %s\naddr add 192.168.77.1%d/24 dev eth0\nlink set eth0 up", n, name("fabric"), i+1))
		ip("fabric", fmt.Sprintf("link set %s master br0 up", n))
		pod := fmt.Sprintf("pod%d", i+1)
		ip(pod, fmt.Sprintf("link add eth0 type veth peer name veth%d netns %s\naddr add 10.244.%d.2/24 dev eth0\nlink set eth0 up", i+1, name(n), i+1))
		ip(n, fmt.Sprintf("link set veth%d up", i+1))
	}
	before := testenv.SettledDump(t, path("node1"))

	all, err := Discover(Options{HostNetns: path("node1"), NoLab: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"fabric", "node2", "pod1", "pod2"} {
		if _, err := all.FindNetns(path(o)); err != nil {
			t.Errorf("without AttachedOnly, %s should be there: %v", o, err)
		}
	}
	snap, err := Discover(Options{HostNetns: path("node1"), NoLab: true, AttachedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Namespaces) != 1 || snap.Namespaces[0].Path != path("pod1") {
		var got []string
		for _, n := range snap.Namespaces {
			got = append(got, n.Path)
		}
		t.Fatalf("AttachedOnly kept %v, want only %s", got, path("pod1"))
	}
	if p := link(snap.Namespaces[0], "eth0").Peer; p == nil || p.Inode != snap.Node.Inode || p.Name != "veth1" {
		t.Errorf("pod1 eth0 peer %+v, want veth1 on node1", p)
	}
	if eth0 := link(snap.Node, "eth0"); eth0 == nil || eth0.Peer != nil || eth0.PeerIndex == 0 {
		t.Errorf("node1 eth0 %+v: want the raw peer index kept and the reference into the fabric dropped", eth0)
	}
	requireSame(t, before, dumps(t, path("node1")))
}
