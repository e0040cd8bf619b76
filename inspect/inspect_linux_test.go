package inspect

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/lab"
	"github.com/netx-project/netx/lab/labtest"
	"github.com/netx-project/netx/netfilter"
)

// dumps captures the host and the given namespaces, to prove inspect
// changed nothing anywhere it looked.
func dumps(t *testing.T, netns ...string) string {
	t.Helper()
	d, err := testenv.HostDump()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range netns {
		nd, err := testenv.NetnsDump(n)
		if err != nil {
			t.Fatal(err)
		}
		d += "=== " + n + "\n" + nd
	}
	return d
}

func requireSame(t *testing.T, before, after string) {
	t.Helper()
	if before != after {
		a, b := testenv.DiffLines(before, after)
		t.Fatalf("inspect changed state:\nonly before: %v\nonly after: %v", a, b)
	}
}

func TestRootInspectLab(t *testing.T) {
	testenv.RequireRoot(t)
	plan := labtest.Up(t, "seeds", "i", nil, nil)
	nodeNS := labtest.NodeNetns(plan)
	before := testenv.SettledDump(t, nodeNS...)

	for _, node := range plan.Nodes {
		for _, noLab := range []bool{false, true} {
			snap, err := Discover(Options{HostNetns: node.Netns, NoLab: noLab, AttachedOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range plan.Pods {
				if p.Node == node.Name && p.HostNetwork && !noLab {
					checkHostNetworkPod(t, snap, p)
				}
				if p.Node != node.Name || p.HostNetwork {
					continue
				}
				n := findByIP(snap, p.IP.String())
				if n == nil {
					t.Errorf("node %s (noLab=%v): no namespace holds pod %s's %s", node.Name, noLab, p.Key(), p.IP)
					continue
				}
				if !noLab && (n.Pod == nil || n.Pod.Name != p.Name) {
					t.Errorf("pod %s not named from the lab state: %+v", p.Key(), n.Pod)
				}
				if !slices.Contains(n.FoundBy, SourceProc) {
					t.Errorf("pod %s not found through /proc: %v", p.Key(), n.FoundBy)
				}
				eth0 := link(n, "eth0")
				if eth0 == nil || eth0.Peer == nil || eth0.Peer.Inode != snap.Node.Inode || eth0.Peer.Name != p.HostVeth || eth0.Peer.Bridge != lab.BridgeName {
					t.Errorf("pod %s eth0 peer: %+v, want %s on %s in node %s", p.Key(), eth0, p.HostVeth, lab.BridgeName, node.Name)
				}
				if n.PausePID == 0 || n.Hostname != p.Hostname {
					t.Errorf("pod %s: pause %d hostname %q", p.Key(), n.PausePID, n.Hostname)
				}
				if len(p.Containers) > 0 && len(n.Listeners) == 0 {
					t.Errorf("pod %s: no listening sockets found", p.Key())
				}
			}
		}
	}
	// The two-nginx pod: one listener on :80 and a warning naming the other.
	snap, err := Discover(Options{HostNetns: plan.Nodes[0].Netns, AttachedOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	conflict, _, err := snap.FindPod("onepod-multicontainer01")
	if err != nil {
		t.Fatal(err)
	}
	if len(conflict.Warnings) == 0 || !strings.Contains(conflict.Warnings[0], "nginx2") {
		t.Errorf("port conflict not flagged: %v", conflict.Warnings)
	}
	for _, l := range conflict.Listeners {
		if l.Port == 80 && l.Container != "nginx1" {
			t.Errorf(":80 owned by %q, want nginx1", l.Container)
		}
	}
	if snap.Node.Sysctls["net.ipv4.ip_forward"] != "1" {
		t.Errorf("node sysctls: %v", snap.Node.Sysctls)
	}
	if snap.Node.KubeProxyMode != "iptables" || len(snap.Node.Netfilter) != 1 || snap.Node.Netfilter[0].Source != "iptables-nft" {
		t.Errorf("kube-proxy mode %q from %d rulesets, want iptables from iptables-nft", snap.Node.KubeProxyMode, len(snap.Node.Netfilter))
	} else if nat := snap.Node.Netfilter[0].Table(netfilter.FamilyIP, "nat"); nat == nil || nat.Chain("KUBE-SERVICES") == nil || len(nat.Chain("KUBE-SERVICES").Rules) == 0 {
		t.Errorf("the node's KUBE-SERVICES chain was not read")
	}
	requireSame(t, before, dumps(t, nodeNS...))
}

// checkHostNetworkPod: a lab's hostNetwork pod is listed on its node with
// its containers' processes and declared ports, its sockets are named
// after its container, and pod/NAME finds it.
func checkHostNetworkPod(t *testing.T, snap *Snapshot, p *lab.LabPod) {
	t.Helper()
	n, hp, err := snap.FindPod(p.Key())
	if err != nil {
		t.Errorf("hostNetwork pod %s: %v", p.Key(), err)
		return
	}
	if hp == nil || n != snap.Node || hp.PausePID == 0 || !slices.Contains(hp.FoundBy, SourceLab) || len(hp.Containers) != len(p.Containers) {
		t.Errorf("hostNetwork pod %s: %+v in %s, want the node's namespace, a pause and %d containers", p.Key(), hp, n.Path, len(p.Containers))
		return
	}
	for i, c := range p.Containers {
		got := hp.Containers[i]
		if got.Name != c.Name || len(got.PIDs) == 0 || len(got.Ports) != len(c.Ports) {
			t.Errorf("hostNetwork pod %s container %s: %+v, want its process and %d ports", p.Key(), c.Name, got, len(c.Ports))
			continue
		}
		for _, cp := range c.Ports {
			owned := false
			for _, l := range snap.Node.Listeners {
				owned = owned || l.Port == cp.ContainerPort && l.Container == c.Name && slices.Contains(got.PIDs, l.PID)
			}
			if !owned {
				t.Errorf("hostNetwork pod %s: no socket of the node on %d owned by container %s: %+v", p.Key(), cp.ContainerPort, c.Name, snap.Node.Listeners)
			}
			if owner, oc := snap.HostNetworkPodOf(got.PIDs[0]); owner == nil || owner.Key() != p.Key() || oc == nil || oc.Name != c.Name {
				t.Errorf("HostNetworkPodOf(%d) = %+v, %+v", got.PIDs[0], owner, oc)
			}
		}
	}
}

func findByIP(s *Snapshot, ip string) *Netns {
	for _, n := range s.Namespaces {
		for _, l := range n.Links {
			if l.Addr4() == ip {
				return n
			}
		}
	}
	return nil
}

func link(n *Netns, name string) *Link {
	for i := range n.Links {
		if n.Links[i].Name == name {
			return &n.Links[i]
		}
	}
	return nil
}

// TestRootInspectCNIPlugins: pods wired by the reference CNI bridge and
// ptp plugins, invoked directly (not by netx), are found with their
// addresses and veth peers: on the bridge, or behind a /32 host route.
func TestRootInspectCNIPlugins(t *testing.T) {
	testenv.RequireRoot(t)
	for _, plugin := range []string{"bridge", "ptp"} {
		t.Run(plugin, func(t *testing.T) {
			bin := "/usr/lib/cni/" + plugin
			if _, err := os.Stat(bin); err != nil {
				t.Fatalf("%s: %v (apt-get install containernetworking-plugins)", bin, err)
			}
			plan := labtest.Unique("c")
			node := lab.NetnsPath(lab.NetnsName(plan, "node"))
			pods := []string{lab.NetnsPath(lab.NetnsName(plan, "p1")), lab.NetnsPath(lab.NetnsName(plan, "p2"))}
			ipam := t.TempDir()
			conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"t","type":%q,"bridge":"cni0","isGateway":true,"ipMasq":false,
"ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.0.0/24"}]],"dataDir":%q}}`, plugin, ipam)
			cni := func(cmd string, i int) {
				c := exec.Command(bin)
				c.Env = []string{"CNI_COMMAND=" + cmd, fmt.Sprintf("CNI_CONTAINERID=c%d", i), "CNI_NETNS=" + pods[i],
					"CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
				c.Stdin = strings.NewReader(conf)
				var out bytes.Buffer
				c.Stdout, c.Stderr = &out, &out
				if err := nsenter.Start(nsenter.Net(node), c); err != nil {
					t.Fatal(err)
				}
				if err := c.Wait(); err != nil && cmd == "ADD" {
					t.Fatalf("CNI %s %s: %v: %s", plugin, cmd, err, out.String())
				}
			}
			for _, p := range append([]string{node}, pods...) {
				testenv.NamedNetns(t, p)
			}
			t.Cleanup(func() { // before the namespaces go
				for i := range pods {
					cni("DEL", i)
				}
			})
			for i := range pods {
				cni("ADD", i)
			}
			before := testenv.SettledDump(t, append([]string{node}, pods...)...)
			snap, err := Discover(Options{HostNetns: node})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pods {
				n, err := snap.FindNetns(p)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(n.FoundBy, SourceNetnsDir) {
					t.Errorf("%s not found through /run/netns: %v", p, n.FoundBy)
				}
				eth0 := link(n, "eth0")
				if eth0 == nil || !strings.HasPrefix(eth0.Addr4(), "10.88.0.") {
					t.Fatalf("%s eth0: %+v", p, eth0)
				}
				if eth0.Peer == nil || eth0.Peer.Inode != snap.Node.Inode {
					t.Fatalf("%s eth0 peer not resolved to the node: %+v", p, eth0.Peer)
				}
				switch plugin {
				case "bridge":
					if eth0.Peer.Bridge != "cni0" {
						t.Errorf("bridge plugin: peer %s not on cni0: %+v", eth0.Peer.Name, eth0.Peer)
					}
				case "ptp":
					if eth0.Peer.Bridge != "" || !strings.HasPrefix(eth0.Peer.Route, eth0.Addr4()+"/32") {
						t.Errorf("ptp plugin: want no bridge and the pod's /32 host route, got %+v", eth0.Peer)
					}
				}
			}
			requireSame(t, before, dumps(t, append([]string{node}, pods...)...))
		})
	}
}

// TestRootInspectBothBackends: kube rules in iptables-nft and in
// iptables-legacy at once get a loud warning.
func TestRootInspectBothBackends(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("iptables-legacy-restore"); err != nil {
		t.Skip("iptables-legacy is not installed")
	}
	node := lab.NetnsPath(lab.NetnsName(labtest.Unique("b"), "node"))
	testenv.NamedNetns(t, node)
	rules := "*nat\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\n-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j ACCEPT\nCOMMIT\n"
	if _, err := nsenter.Output(nsenter.Net(node), strings.NewReader(rules), "iptables-restore"); err != nil {
		t.Fatal(err)
	}
	// The legacy backend needs x_tables support in the kernel; a machine
	// without it cannot have rules in both backends.
	if _, err := nsenter.Output(nsenter.Net(node), strings.NewReader(rules), "iptables-legacy-restore"); err != nil {
		t.Skipf("iptables-legacy in a namespace: %v", err)
	}
	snap, err := Discover(Options{HostNetns: node, NoLab: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Node.Netfilter) != 2 || len(snap.Node.Warnings) == 0 || !strings.Contains(snap.Node.Warnings[0], "BOTH iptables backends") {
		t.Errorf("rulesets %d, warnings %q: want both backends read and a warning", len(snap.Node.Netfilter), snap.Node.Warnings)
	}
}
