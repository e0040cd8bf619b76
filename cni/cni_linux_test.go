package cni

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/datapath"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
)

// cniNode is a throwaway node namespace with the plugin installed as the
// runtime finds it (netx-cni in a CNI bin dir, a conflist in a conf dir),
// and pod namespaces to attach.
type cniNode struct {
	t               *testing.T
	node            string
	bin, conf, data string
}

const testCIDR = "10.250.7.0/24"

func newCNINode(t *testing.T, podCIDR string) *cniNode {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	n := &cniNode{t: t, node: testenv.ThrowawayNetns(t, "node"), bin: filepath.Join(dir, "bin"), conf: filepath.Join(dir, "conf"), data: filepath.Join(dir, "data")}
	for _, d := range []string{n.bin, n.conf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(testenv.NetxBinary(t), filepath.Join(n.bin, PluginName)); err != nil {
		t.Fatal(err)
	}
	plugin := map[string]any{"type": PluginName, "bridge": "cni0", "dataDir": n.data}
	if podCIDR != "" {
		plugin["podCIDR"] = podCIDR
	}
	conf := map[string]any{"cniVersion": "1.1.0", "name": "netx-test", "plugins": []any{plugin}}
	b, _ := json.Marshal(conf)
	if err := os.WriteFile(filepath.Join(n.conf, "10-netx.conflist"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

// cnitool runs containernetworking/cni's cnitool in the node's namespace
// (where a runtime runs plugins): its stdout, and its error with stderr.
func (n *cniNode) cnitool(args ...string) (string, error) {
	tool := testenv.GoTool(n.t, "cnitool")
	c := exec.Command(tool, args...)
	c.Env = []string{"CNI_PATH=" + n.bin, "NETCONFPATH=" + n.conf, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := nsenter.Start(nsenter.Net(n.node), c); err != nil {
		n.t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		return out.String(), fmt.Errorf("cnitool %s: %v: %s", strings.Join(args, " "), err, firstLine(errb.String()))
	}
	return out.String(), nil
}

// run runs a program in the namespace at ns and fails the test when it
// fails.
func run(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := nsenter.Output(nsenter.Net(ns), nil, args[0], args[1:]...)
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// held lists the addresses handed out; a holder file without its address
// (or the other way round) fails the test.
func (n *cniNode) held() []string {
	dir := filepath.Join(n.data, "networks", "netx-test")
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			out = append(out, e.Name())
		}
	}
	holders, _ := os.ReadDir(filepath.Join(dir, "by-holder"))
	if len(holders) != len(out) {
		n.t.Errorf("%d addresses held (%v), %d holder files", len(out), out, len(holders))
	}
	return out
}

func (n *cniNode) links() string {
	out, err := nsenter.Output(nsenter.Net(n.node), nil, "ip", "-br", "link")
	if err != nil {
		n.t.Fatal(err)
	}
	return string(out)
}

// TestRootCNIWithCnitool drives the built binary, installed as netx-cni,
// with cnitool as a runtime would: ADD gives two pods addresses of the
// pod CIDR on the bridge, and they and the node reach each other; CHECK
// passes, then reports the drift of a removed route; a second ADD for the
// same pod fails cleanly and takes no address; DEL removes the pair and
// frees the address, a second DEL and a DEL after the pod's namespace is
// gone succeed.
func TestRootCNIWithCnitool(t *testing.T) {
	n := newCNINode(t, testCIDR)
	p1, p2 := testenv.ThrowawayNetns(t, "pod1"), testenv.ThrowawayNetns(t, "pod2")
	t.Cleanup(func() { n.cnitool("del", "netx-test", p1); n.cnitool("del", "netx-test", p2) })

	out, err := n.cnitool("add", "netx-test", p1)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		CNIVersion string `json:"cniVersion"`
		IPs        []struct{ Address, Gateway string }
		Interfaces []struct{ Name, Sandbox string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("ADD's result: %v\n%s", err, out)
	}
	if res.CNIVersion != "1.1.0" || len(res.IPs) != 1 || res.IPs[0].Address != "10.250.7.2/24" || res.IPs[0].Gateway != "10.250.7.1" ||
		len(res.Interfaces) != 3 || res.Interfaces[2].Name != "eth0" || res.Interfaces[2].Sandbox != p1 {
		t.Errorf("ADD's result:\n%s", out)
	}
	if _, err := n.cnitool("add", "netx-test", p2); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(n.held(), " "); got != "10.250.7.2 10.250.7.3" {
		t.Errorf("addresses held: %s", got)
	}
	pod, err := datapath.OpenNetns(p1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := pod.Link("eth0")
	pod.Close()
	if err != nil || !st.Up || len(st.Addrs) != 1 || st.Addrs[0].String() != "10.250.7.2/24" {
		t.Errorf("pod1's eth0: %+v, %v", st, err)
	}

	// pod1 → pod2 and the node → pod2, over the bridge.
	srv := exec.Command(testenv.NetxBinary(t), "datapath", "serve", "--listen", ":8080")
	if err := nsenter.Start(nsenter.Net(p2), srv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	for _, from := range []string{p1, n.node} {
		var got []byte
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got, err = nsenter.Output(nsenter.Net(from), nil, testenv.NetxBinary(t), "datapath", "get", "--timeout", "1s", "10.250.7.3:8080"); err == nil {
				break
			}
		}
		if !strings.Contains(string(got), "server=10.250.7.3:8080") {
			t.Errorf("from %s to pod2: %v: %s", from, err, got)
		}
	}

	if _, err := n.cnitool("check", "netx-test", p1); err != nil {
		t.Errorf("CHECK right after ADD: %v", err)
	}
	if _, err := nsenter.Output(nsenter.Net(p1), nil, "ip", "route", "del", "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cnitool("check", "netx-test", p1); err == nil || !strings.Contains(err.Error(), "lacks its default route via 10.250.7.1") {
		t.Errorf("CHECK with pod1's default route removed: %v", err)
	}

	if _, err := n.cnitool("add", "netx-test", p1); err == nil || !strings.Contains(err.Error(), "interface eth0 already exists") {
		t.Errorf("a second ADD for pod1: %v", err)
	}
	if got := strings.Join(n.held(), " "); got != "10.250.7.2 10.250.7.3" {
		t.Errorf("addresses held after the refused ADD: %s", got)
	}

	// Another plugin's eth0 in a fresh pod: refused by name, nothing
	// taken, no node end left.
	p3 := testenv.ThrowawayNetns(t, "pod3")
	run(t, p3, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "other0")
	links := run(t, n.node, "ip", "-br", "link")
	if _, err := n.cnitool("add", "netx-test", p3); err == nil || !strings.Contains(err.Error(), "interface eth0 already exists") || !strings.Contains(err.Error(), "another plugin made it") {
		t.Errorf("ADD where another eth0 is: %v", err)
	}
	if got := strings.Join(n.held(), " "); got != "10.250.7.2 10.250.7.3" {
		t.Errorf("addresses held after the refused ADD: %s", got)
	}
	if after := run(t, n.node, "ip", "-br", "link"); after != links {
		t.Errorf("the node's links before the refused ADD:\n%s\nafter:\n%s", links, after)
	}

	if _, err := n.cnitool("del", "netx-test", p1); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cnitool("del", "netx-test", p1); err != nil {
		t.Errorf("a second DEL: %v", err)
	}
	if got := strings.Join(n.held(), " "); got != "10.250.7.3" {
		t.Errorf("addresses held after DEL of pod1: %s", got)
	}
	if l := n.links(); strings.Count(l, "netx") != 1 {
		t.Errorf("node links after DEL of pod1 (want pod2's end only):\n%s", l)
	}
	// The runtime may DEL after the pod's namespace is gone.
	nsenter.RemoveNamed(p2)
	if _, err := n.cnitool("del", "netx-test", p2); err != nil {
		t.Errorf("DEL with pod2's namespace gone: %v", err)
	}
	if l := n.links(); strings.Contains(l, "netx") || len(n.held()) != 0 {
		t.Errorf("after both DELs: addresses %v, links:\n%s", n.held(), l)
	}
}

// TestRootCNIStatusAndGC: without a pod CIDR (none configured, none
// written by the agent) STATUS says the plugin is not ready and ADD
// fails with the same line and takes nothing; once the agent's file is
// there STATUS passes; GC with one pod's attachment valid frees the
// other's address and node end and keeps the valid one.
func TestRootCNIStatusAndGC(t *testing.T) {
	n := newCNINode(t, "")
	p1, p2 := testenv.ThrowawayNetns(t, "pod1"), testenv.ThrowawayNetns(t, "pod2")
	t.Cleanup(func() { n.cnitool("del", "netx-test", p1); n.cnitool("del", "netx-test", p2) })

	if _, err := n.cnitool("status", "netx-test", p1); err == nil || !strings.Contains(err.Error(), "the node's pod CIDR is not known yet") {
		t.Errorf("STATUS without a pod CIDR: %v", err)
	}
	if _, err := n.cnitool("add", "netx-test", p1); err == nil || !strings.Contains(err.Error(), "the node's pod CIDR is not known yet") {
		t.Errorf("ADD without a pod CIDR: %v", err)
	}
	if l := n.links(); strings.Contains(l, "netx") || strings.Contains(l, "cni0") {
		t.Errorf("a refused ADD made links:\n%s", l)
	}
	if err := os.MkdirAll(n.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.data, PodCIDRFile), []byte(testCIDR+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := n.cnitool("status", "netx-test", p1); err != nil {
		t.Errorf("STATUS with the pod CIDR written: %v", err)
	}
	for _, p := range []string{p1, p2} {
		if _, err := n.cnitool("add", "netx-test", p); err != nil {
			t.Fatal(err)
		}
	}
	// GC as a runtime sends it (cnitool gc names no attachment valid):
	// pod1's attachment valid, pod2's gone.
	gc := map[string]any{"cniVersion": "1.1.0", "name": "netx-test", "type": PluginName, "bridge": "cni0", "dataDir": n.data,
		"cni.dev/valid-attachments": []any{map[string]string{"containerID": cnitoolID(p1), "ifname": "eth0"}}}
	b, _ := json.Marshal(gc)
	c := exec.Command(filepath.Join(n.bin, PluginName))
	c.Env = []string{"CNI_COMMAND=GC", "CNI_PATH=" + n.bin}
	c.Stdin = bytes.NewReader(b)
	var out bytes.Buffer
	c.Stdout = &out
	if err := nsenter.Start(nsenter.Net(n.node), c); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("GC: %v: %s", err, out.String())
	}
	if got := strings.Join(n.held(), " "); got != "10.250.7.2" {
		t.Errorf("addresses held after GC keeping pod1: %s", got)
	}
	if l := n.links(); strings.Count(l, "netx") != 1 {
		t.Errorf("node links after GC (want pod1's end only):\n%s", l)
	}
	if _, err := n.cnitool("check", "netx-test", p1); err != nil {
		t.Errorf("pod1 after GC: %v", err)
	}
	// cnitool gc: no attachment is valid any more.
	if _, err := n.cnitool("gc", "netx-test", p1); err != nil {
		t.Fatal(err)
	}
	if l := n.links(); strings.Contains(l, "netx") || len(n.held()) != 0 {
		t.Errorf("after a GC with nothing valid: addresses %v, links:\n%s", n.held(), l)
	}
}

// cnitoolID is the container ID cnitool gives a namespace's attachment.
func cnitoolID(netns string) string {
	s := sha512.Sum512([]byte(netns))
	return fmt.Sprintf("cnitool-%x", s[:10])
}

// TestRootSyncRoutes: in a throwaway node namespace whose uplink reaches
// two peers, each peer's pod network gets a route via it (proto 110); a
// peer that moves gets its route replaced, one that goes loses it; a
// route netx did not make stays; RemoveHostState removes netx's routes
// and the bridge.
func TestRootSyncRoutes(t *testing.T) {
	testenv.RequireRoot(t)
	node, other := testenv.ThrowawayNetns(t, "node"), testenv.ThrowawayNetns(t, "peer")
	run(t, node, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
	run(t, node, "ip", "link", "set", "eth0p", "netns", other)
	run(t, node, "ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
	run(t, node, "ip", "link", "set", "eth0", "up")
	run(t, node, "ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.9")
	run(t, node, "ip", "link", "add", "cni0", "type", "bridge")

	peers := []Peer{{"n2", netip.MustParsePrefix("10.244.2.0/24"), netip.MustParseAddr("192.0.2.2")}, {"n3", netip.MustParsePrefix("10.244.3.0/24"), netip.MustParseAddr("192.0.2.3")}}
	did, err := SyncRoutes(node, peers)
	if err != nil || len(did) != 2 {
		t.Fatalf("first sync: %v %v", did, err)
	}
	routes := run(t, node, "ip", "route")
	for _, want := range []string{"10.244.2.0/24 via 192.0.2.2 dev eth0 proto 110", "10.244.3.0/24 via 192.0.2.3 dev eth0 proto 110", "198.51.100.0/24 via 192.0.2.9"} {
		if !strings.Contains(routes, want) {
			t.Errorf("routes lack %q:\n%s", want, routes)
		}
	}
	if did, err := SyncRoutes(node, peers); err != nil || len(did) != 0 {
		t.Errorf("a sync with nothing new: %v %v", did, err)
	}
	peers[1].IP = netip.MustParseAddr("192.0.2.4")
	did, err = SyncRoutes(node, peers[1:])
	if err != nil || len(did) != 2 {
		t.Errorf("n2 gone, n3 moved: %v %v", did, err)
	}
	routes = run(t, node, "ip", "route")
	if strings.Contains(routes, "10.244.2.0/24") || !strings.Contains(routes, "10.244.3.0/24 via 192.0.2.4 dev eth0 proto 110") {
		t.Errorf("after n2 left and n3 moved:\n%s", routes)
	}
	if err := RemoveHostState(node, "", "cni0"); err != nil {
		t.Fatal(err)
	}
	routes, links := run(t, node, "ip", "route"), run(t, node, "ip", "-br", "link")
	if strings.Contains(routes, "proto 110") || !strings.Contains(routes, "198.51.100.0/24") || strings.Contains(links, "cni0") {
		t.Errorf("after RemoveHostState: routes\n%slinks\n%s", routes, links)
	}
	if err := RemoveHostState(node, "", "cni0"); err != nil {
		t.Errorf("RemoveHostState again: %v", err)
	}
}

// plugin runs the built netx-cni directly in the node's namespace, as a
// runtime does, with conf on stdin: its stdout, or its error.
func (n *cniNode) plugin(command, netns, id string, conf map[string]any) (string, error) {
	b, _ := json.Marshal(conf)
	c := exec.Command(filepath.Join(n.bin, PluginName))
	c.Env = []string{"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id, "CNI_NETNS=" + netns, "CNI_IFNAME=eth0", "CNI_PATH=" + n.bin}
	c.Stdin = bytes.NewReader(b)
	var out bytes.Buffer
	c.Stdout = &out
	if err := nsenter.Start(nsenter.Net(n.node), c); err != nil {
		n.t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		return "", fmt.Errorf("%s: %v: %s", command, err, out.String())
	}
	return out.String(), nil
}

// TestRootCNIHostPortAndMasquerade: a pod with a hostPort is reached on
// the node's address from outside (the portmap layout's chains, written
// by kubeproxy.Portmap as in the lab); its traffic to an address outside
// the cluster leaves masqueraded as the node; DEL takes the pod's chains
// and the shared hostport chains away and leaves the masquerading and a
// rule netx does not own as they were.
func TestRootCNIHostPortAndMasquerade(t *testing.T) {
	n := newCNINode(t, testCIDR)
	outside, pod := testenv.ThrowawayNetns(t, "outside"), testenv.ThrowawayNetns(t, "pod")
	run(t, n.node, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0o")
	run(t, n.node, "ip", "link", "set", "eth0o", "netns", outside)
	run(t, n.node, "ip", "addr", "add", "192.0.2.1/24", "dev", "eth0")
	run(t, n.node, "ip", "link", "set", "eth0", "up")
	run(t, outside, "ip", "addr", "add", "192.0.2.2/24", "dev", "eth0o")
	run(t, outside, "ip", "link", "set", "eth0o", "up")
	run(t, n.node, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "198.51.100.7/32", "-j", "RETURN")

	conf := map[string]any{"cniVersion": "1.1.0", "name": "netx-test", "type": PluginName, "bridge": "cni0", "podCIDR": testCIDR, "dataDir": n.data,
		"clusterCIDR": "10.250.0.0/16", "runtimeConfig": map[string]any{"portMappings": []any{map[string]any{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}}}}
	if _, err := n.plugin("ADD", pod, "hp1", conf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.plugin("DEL", pod, "hp1", conf) })
	nat := run(t, n.node, "iptables-save", "-t", "nat")
	for _, want := range []string{"-A CNI-HOSTPORT-DNAT", "--to-destination 10.250.7.2:80", "-A NETX-POSTROUTING -s 10.250.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully", "-A POSTROUTING -s 198.51.100.7/32 -j RETURN"} {
		if !strings.Contains(nat, want) {
			t.Errorf("the node's nat table lacks %q:\n%s", want, nat)
		}
	}
	bin := testenv.NetxBinary(t)
	for _, s := range []struct{ ns, listen string }{{pod, ":80"}, {outside, ":9090"}} {
		srv := exec.Command(bin, "datapath", "serve", "--listen", s.listen)
		if err := nsenter.Start(nsenter.Net(s.ns), srv); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	}
	get := func(from, addr string) string {
		var out []byte
		var err error
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if out, err = nsenter.Output(nsenter.Net(from), nil, bin, "datapath", "get", "--timeout", "1s", addr); err == nil {
				break
			}
		}
		return string(out)
	}
	if got := get(outside, "192.0.2.1:8080"); !strings.Contains(got, "server=10.250.7.2:80") {
		t.Errorf("outside → the node's hostPort 8080: %q", got)
	}
	if got := get(pod, "192.0.2.2:9090"); !strings.Contains(got, "client=192.0.2.1:") {
		t.Errorf("the pod → outside, not masqueraded as the node: %q", got)
	}

	if _, err := n.plugin("DEL", pod, "hp1", conf); err != nil {
		t.Fatal(err)
	}
	nat = run(t, n.node, "iptables-save", "-t", "nat")
	if strings.Contains(nat, "CNI-HOSTPORT") || strings.Contains(nat, "CNI-DN-") || !strings.Contains(nat, "NETX-POSTROUTING") || !strings.Contains(nat, "-A POSTROUTING -s 198.51.100.7/32 -j RETURN") {
		t.Errorf("after DEL, the nat table:\n%s", nat)
	}
	// Teardown's part: the plugin's chains go, the node's own rule stays.
	if err := RemoveHostState(n.node, "", "cni0"); err != nil {
		t.Fatal(err)
	}
	nat = run(t, n.node, "iptables-save", "-t", "nat")
	if strings.Contains(nat, "NETX-POSTROUTING") || !strings.Contains(nat, "-A POSTROUTING -s 198.51.100.7/32 -j RETURN") {
		t.Errorf("after RemoveHostState, the nat table:\n%s", nat)
	}
}

// TestRootSyncVXLAN: two throwaway nodes on one link get the vxlan
// overlay — a tunnel device with the underlay's MTU less 50, the node's
// pod network address, and per peer a route onlink, a permanent
// neighbour and an FDB entry — and reach each other's tunnel address
// through it; a peer that goes loses its route and entries; a second
// sync changes nothing; RemoveHostState removes the tunnel.
func TestRootSyncVXLAN(t *testing.T) {
	testenv.RequireRoot(t)
	n1, n2 := testenv.ThrowawayNetns(t, "node1"), testenv.ThrowawayNetns(t, "node2")
	run(t, n1, "ip", "link", "add", "eth0", "mtu", "1400", "type", "veth", "peer", "name", "eth0p", "mtu", "1400")
	run(t, n1, "ip", "link", "set", "eth0p", "netns", n2)
	run(t, n2, "ip", "link", "set", "eth0p", "name", "eth0")
	for i, ns := range []string{n1, n2} {
		run(t, ns, "ip", "addr", "add", fmt.Sprintf("192.0.2.%d/24", i+1), "dev", "eth0")
		run(t, ns, "ip", "link", "set", "eth0", "up")
	}
	p1 := Peer{"node1", netip.MustParsePrefix("10.250.1.0/24"), netip.MustParseAddr("192.0.2.1")}
	p2 := Peer{"node2", netip.MustParsePrefix("10.250.2.0/24"), netip.MustParseAddr("192.0.2.2")}
	_, err := SyncVXLAN(n1, p1, []Peer{p2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SyncVXLAN(n2, p2, []Peer{p1}); err != nil {
		t.Fatal(err)
	}
	link := run(t, n1, "ip", "-d", "link", "show", VXLANName)
	for _, want := range []string{"mtu 1350", "vxlan id 1", "local 192.0.2.1", "dev eth0", "dstport 4789", "0e:6e:c0:00:02:01"} {
		if !strings.Contains(link, want) {
			t.Errorf("node1's tunnel lacks %q:\n%s", want, link)
		}
	}
	if r := run(t, n1, "ip", "route"); !strings.Contains(r, "10.250.2.0/24 via 10.250.2.0 dev netx-vxlan onlink") {
		t.Errorf("node1's routes:\n%s", r)
	}
	if f := run(t, n1, "bridge", "fdb", "show", "dev", VXLANName); !strings.Contains(f, "0e:6e:c0:00:02:02 dst 192.0.2.2 self permanent") {
		t.Errorf("node1's fdb:\n%s", f)
	}
	srv := exec.Command(testenv.NetxBinary(t), "datapath", "serve", "--listen", ":8080")
	if err := nsenter.Start(nsenter.Net(n2), srv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	var got []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, err = nsenter.Output(nsenter.Net(n1), nil, testenv.NetxBinary(t), "datapath", "get", "--timeout", "1s", "10.250.2.0:8080"); err == nil {
			break
		}
	}
	if !strings.Contains(string(got), "client=10.250.1.0:") {
		t.Errorf("node1 → node2's tunnel address: %v: %s", err, got)
	}
	if did, err := SyncVXLAN(n1, p1, []Peer{p2}); err != nil || len(did) != 0 {
		t.Errorf("a sync with nothing new: %v %v", did, err)
	}
	did, err := SyncVXLAN(n1, p1, nil)
	if err != nil || len(did) != 2 || !strings.Contains(strings.Join(did, "\n"), "ip route del 10.250.2.0/24") {
		t.Errorf("node2 gone: %v %v", did, err)
	}
	if r := run(t, n1, "ip", "route"); strings.Contains(r, "10.250.2.0") {
		t.Errorf("node1's routes after node2 left:\n%s", r)
	}
	if f := run(t, n1, "bridge", "fdb", "show", "dev", VXLANName); strings.Contains(f, "192.0.2.2") {
		t.Errorf("node1's fdb after node2 left:\n%s", f)
	}
	if err := RemoveHostState(n1, "", "cni0"); err != nil {
		t.Fatal(err)
	}
	if l := run(t, n1, "ip", "-br", "link"); strings.Contains(l, VXLANName) {
		t.Errorf("after RemoveHostState:\n%s", l)
	}
}
