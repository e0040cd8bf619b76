package trace

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/lab"
)

// cniNode is a node netx did not build: a namespace whose pods the
// reference CNI bridge plugin wired, with a real kube-proxy's rules loaded
// from the e2e cluster's dump.
type cniNode struct {
	node string
	pods map[string]string // IP → netns path
}

// buildCNINode wires pods with the given IPs (static IPAM, so they are the
// endpoints the dump's rules name) on cni0 in a fresh node namespace,
// loads the rules with load, and starts netx's server on :8080 in the pods
// listed in serve.
func buildCNINode(t *testing.T, ips []string, serve []string, load func(node string)) *cniNode {
	t.Helper()
	bin := "/usr/lib/cni/bridge"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (apt-get install containernetworking-plugins)", bin, err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	prefix := "netx-trace-" + hex.EncodeToString(b)
	n := &cniNode{node: lab.NetnsPath(prefix + "-node"), pods: map[string]string{}}
	var pods []string
	for i, ip := range ips {
		p := lab.NetnsPath(fmt.Sprintf("%s-p%d", prefix, i))
		pods = append(pods, p)
		n.pods[ip] = p
	}
	cni := func(cmd string, i int) {
		conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"t","type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":false,"hairpinMode":true,
"ipam":{"type":"static","addresses":[{"address":"%s/24","gateway":"10.244.1.1"}],"routes":[{"dst":"0.0.0.0/0"}]}}`, ips[i])
		c := exec.Command(bin)
		c.Env = []string{"CNI_COMMAND=" + cmd, fmt.Sprintf("CNI_CONTAINERID=c%d", i), "CNI_NETNS=" + pods[i],
			"CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		c.Stdin = strings.NewReader(conf)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := nsenter.Start(nsenter.Net(n.node), c); err != nil {
			t.Fatal(err)
		}
		if err := c.Wait(); err != nil && cmd == "ADD" {
			t.Fatalf("CNI bridge %s: %v: %s", cmd, err, out.String())
		}
	}
	for _, p := range append([]string{n.node}, pods...) {
		testenv.NamedNetns(t, p)
	}
	var servers []*exec.Cmd
	t.Cleanup(func() { // before the namespaces go
		for _, s := range servers {
			s.Process.Kill()
			s.Wait()
		}
		for i := range pods {
			cni("DEL", i)
		}
	})
	// The node's own settings, as kubelet and a node image leave them.
	for k, v := range map[string]string{"net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1"} {
		if err := nsenter.WriteSysctl(n.node, k, v); err != nil {
			t.Fatalf("sysctl %s in the node namespace: %v", k, err)
		}
	}
	for i := range pods {
		cni("ADD", i)
	}
	load(n.node)
	for _, ip := range serve {
		c := exec.Command(testenv.NetxBinary(t), "datapath", "serve", "--listen", ":8080")
		if err := nsenter.Start(nsenter.Net(n.pods[ip]), c); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, c)
	}
	// Wait for the servers' sockets.
	for _, ip := range serve {
		for i := 0; ; i++ {
			out, _ := nsenter.Output(nsenter.Net(n.pods[ip]), nil, "ss", "-Hltn", "sport = :8080")
			if len(bytes.TrimSpace(out)) > 0 {
				break
			}
			if i == 100 {
				t.Fatalf("no server on %s:8080", ip)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return n
}

func loadDump(t *testing.T, prog string, file string) func(string) {
	return func(node string) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{}
		if prog == "nft" {
			args = []string{"-f", "-"}
		} else {
			// kube-proxy creates its nfacct counters over netlink before
			// it loads rules that name them; a fresh namespace has none,
			// so the accounting matches (always true) are left out.
			data = nfacctMatch.ReplaceAll(data, nil)
		}
		if out, err := nsenter.Output(nsenter.Net(node), bytes.NewReader(data), prog, args...); err != nil {
			t.Fatalf("%s < %s: %v: %s", prog, file, err, out)
		}
	}
}

var nfacctMatch = regexp.MustCompile(` -m nfacct --nfacct-name +\S+`)

// TestRootTraceCNIBridgeRealRules traces a ClusterIP on a node wired by the
// reference bridge plugin whose service rules are a real kube-proxy's
// (iptables and nftables modes), with nothing of netx's datapath in it.
func TestRootTraceCNIBridgeRealRules(t *testing.T) {
	testenv.RequireRoot(t)
	for _, mode := range []struct{ name, prog, file, svc string }{
		{"iptables", "iptables-restore", "node1.iptables-save", "10.96.57.38"},
		{"nftables", "nft", "node1.nft", "10.96.102.201"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			file := filepath.Join("..", "testdata", "cluster", mode.name, mode.file)
			// The dump's client pod-a is 10.244.1.2 and svc-b's local
			// endpoint b-1 is 10.244.1.3:8080.
			n := buildCNINode(t, []string{"10.244.1.2", "10.244.1.3"}, []string{"10.244.1.3"}, loadDump(t, mode.prog, file))
			before := testenv.SettledDump(t, n.node)
			snap, err := inspect.Discover(inspect.Options{HostNetns: n.node, NodeName: "node1"})
			if err != nil {
				t.Fatal(err)
			}
			w, err := NewWorld([]*Node{{Name: "node1", Snap: snap}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := w.Trace(Request{Src: "10.244.1.2", Dst: mode.svc + ":80"})
			if err != nil {
				t.Fatal(err)
			}
			text := describe(res)
			if res.Verdict.Kind != Delivered || !strings.HasPrefix(res.Verdict.Detail, "10.244.1.3:8080") {
				t.Fatalf("ClusterIP %s: %+v\n%s", mode.svc, res.Verdict, text)
			}
			if len(res.Branches) != 2 || res.Reply == nil || res.Reply.Verdict.Kind != Delivered {
				t.Fatalf("want two endpoints and a delivered reply:\n%s", text)
			}
			// And a real probe agrees, pod to pod and to the local
			// endpoint (the other one has no route here: probes there
			// time out, as predicted).
			checkLive(t, w, Request{Src: "10.244.1.2", Dst: "10.244.1.3:8080"})
			checkLive(t, w, Request{Src: "10.244.1.2", Dst: mode.svc + ":80"})
			// The other endpoint is on node2.
			res, err = w.Trace(Request{Src: "10.244.1.2", Dst: mode.svc + ":80", Endpoint: netip.MustParseAddr(otherEndpoint(res))})
			if err != nil {
				t.Fatal(err)
			}
			// This node has no uplink, so no route to node2's pods.
			if res.Verdict.Kind != NoRoute || res.Verdict.Node != "node1" {
				text = describe(res)
				t.Fatalf("the node2 endpoint: want %s on node1 (it has no route to node2's pods):\n%s", NoRoute, text)
			}
			if after := testenv.SettledDump(t, n.node); after != before {
				a, b := testenv.DiffLines(before, after)
				t.Fatalf("trace changed the node:\nonly before: %v\nonly after: %v", a, b)
			}
		})
	}
}

// otherEndpoint is the branch that was not followed.
func otherEndpoint(r *Result) string {
	for _, b := range r.Branches {
		if !b.Chosen {
			return b.Endpoint.Addr().String()
		}
	}
	return ""
}
