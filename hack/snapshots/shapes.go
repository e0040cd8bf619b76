//go:build linux

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
)

// shape is one kind of node a fixture describes. build makes it and
// returns the nodes to snapshot, in order.
type shape struct {
	name  string
	build func(*shapeLab) []string
}

func shapes() []shape {
	return []shape{
		{"cni-bridge", cniBridge},
		{"ptp", ptp},
		{"calico", calico},
		{"flannel-vxlan", flannelVXLAN},
	}
}

func shapeNames() []string {
	var out []string
	for _, s := range shapes() {
		out = append(out, s.name)
	}
	return out
}

// hostLocal is host-local IPAM over one subnet, its state kept in the
// lab's temporary directory (one per node, as each node has its own).
func (l *shapeLab) hostLocal(node, subnet string, routes ...string) map[string]any {
	var rs []map[string]string
	for _, r := range routes {
		rs = append(rs, map[string]string{"dst": r})
	}
	return map[string]any{"type": "host-local", "dataDir": filepath.Join(l.tmp, "ipam-"+node),
		"ranges": [][]map[string]string{{{"subnet": subnet}}}, "routes": rs}
}

// cniBridge: the reference bridge plugin (cni0, host-local, gateway on
// the bridge, ipMasq) chained with portmap, as containerd's default CNI
// configuration sets a node up. web has hostPort 8080 -> 80.
func cniBridge(l *shapeLab) []string {
	lan := l.fabric()
	node := l.node(lan, "node1", "192.168.77.11")
	bridge := map[string]any{"cniVersion": "1.0.0", "name": "cbr0", "type": "bridge", "bridge": "cni0",
		"isGateway": true, "ipMasq": true, "hairpinMode": true,
		"ipam": l.hostLocal("node1", "10.244.1.0/24", "0.0.0.0/0")}
	for _, p := range []pod{
		{"default", "web", "node1", []string{"tcp:80"}},
		{"default", "client", "node1", nil},
		{"kube-system", "coredns", "node1", []string{"udp:53", "tcp:53"}},
	} {
		ns := l.podNetns(p)
		res := l.cniAdd(node, ns, p, bridge)
		if p.name == "web" {
			l.cniAdd(node, ns, p, map[string]any{"cniVersion": "1.0.0", "name": "cbr0", "type": "portmap", "snat": true,
				"capabilities":  map[string]bool{"portMappings": true},
				"runtimeConfig": map[string]any{"portMappings": []map[string]any{{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}}},
				"prevResult":    res})
		}
		l.start(ns, p)
	}
	return []string{"node1"}
}

// ptp: kindnet's node: the reference ptp plugin (a veth per pod, the
// gateway address on each host end, a /32 route per pod, no bridge), a
// route to the other node's pod CIDR through its address (host-gw), and
// kindnet's masquerade chain.
func ptp(l *shapeLab) []string {
	lan := l.fabric()
	node := l.node(lan, "node1", "192.168.77.11")
	conf := map[string]any{"cniVersion": "1.0.0", "name": "kindnet", "type": "ptp", "ipMasq": false, "mtu": 1500,
		"ipam": l.hostLocal("node1", "10.244.1.0/24", "0.0.0.0/0")}
	for _, p := range []pod{
		{"default", "web", "node1", []string{"tcp:80"}},
		{"default", "client", "node1", nil},
	} {
		ns := l.podNetns(p)
		l.cniAdd(node, ns, p, conf)
		l.start(ns, p)
	}
	l.ip(node, "route add 10.244.2.0/24 via 192.168.77.12 dev eth0")
	l.iptables(node, `*nat
:KIND-MASQ-AGENT - [0:0]
-A POSTROUTING -m addrtype ! --dst-type LOCAL -m comment --comment "kind-masq-agent: traffic to non-local addresses goes through KIND-MASQ-AGENT" -j KIND-MASQ-AGENT
-A KIND-MASQ-AGENT -d 10.244.0.0/16 -m comment --comment "kind-masq-agent: pod to pod traffic keeps its source" -j RETURN
-A KIND-MASQ-AGENT -m comment --comment "kind-masq-agent: anything else is masqueraded (last rule)" -j MASQUERADE
COMMIT
`)
	return []string{"node1"}
}

// calicoNode is a calico node: its address and its IPAM block.
type calicoNode struct {
	name, addr, block string
}

// calico: calico's routed veths, by hand as Felix and the CNI plugin
// leave them: host ends cali<11 hex> with the ee:ee:ee:ee:ee:ee MAC,
// proxy_arp and no address; a /32 route per pod on the node; a blackhole
// for the node's own /26 block and a route to the other node's block
// through that node's address (what BIRD learns over BGP); in the pod, a
// /32 address and the default route via 169.254.1.1, reached on the link.
func calico(l *shapeLab) []string {
	lan := l.fabric()
	nodes := []calicoNode{{"node1", "192.168.77.11", "10.244.1.64/26"}, {"node2", "192.168.77.12", "10.244.2.128/26"}}
	ns := map[string]string{}
	for _, n := range nodes {
		ns[n.name] = l.node(lan, n.name, n.addr)
	}
	for _, n := range nodes {
		routes := []string{"route add blackhole " + n.block + " proto bird"}
		for _, o := range nodes {
			if o != n {
				routes = append(routes, fmt.Sprintf("route add %s via %s dev eth0 proto bird", o.block, o.addr))
			}
		}
		l.ip(ns[n.name], strings.Join(routes, "\n"))
	}
	for _, p := range []struct {
		pod
		ip string
	}{
		{pod{"default", "web", "node1", []string{"tcp:80"}}, "10.244.1.65"},
		{pod{"default", "client", "node1", nil}, "10.244.1.66"},
		{pod{"default", "api", "node2", []string{"tcp:8080"}}, "10.244.2.129"},
	} {
		node := ns[p.node]
		pns := l.podNetns(p.pod)
		h := sha256.Sum256([]byte(p.key()))
		cali := "cali" + hex.EncodeToString(h[:])[:11]
		l.ip(pns, fmt.Sprintf(`link add eth0 type veth peer name %s netns %s
link set eth0 address %s
addr add %s/32 dev eth0
link set eth0 up
route add 169.254.1.1 dev eth0 scope link
route add default via 169.254.1.1 dev eth0`, cali, l.name(p.node), l.fixMAC(ipMAC("0a:58", p.ip)), p.ip))
		l.ip(node, fmt.Sprintf("link set %s address %s\nlink set %s up\nroute add %s/32 dev %s scope link",
			cali, l.fixMAC("ee:ee:ee:ee:ee:ee"), cali, p.ip, cali))
		l.sysctl(node, [2]string{"net/ipv4/conf/" + cali + "/proxy_arp", "1"}, [2]string{"net/ipv4/neigh/" + cali + "/proxy_delay", "0"},
			[2]string{"net/ipv4/conf/" + cali + "/forwarding", "1"})
		l.start(pns, p.pod)
	}
	return []string{"node1", "node2"}
}

// flannelNode is a flannel node: its address, its /24 and its VTEP MAC.
type flannelNode struct {
	name, addr, subnet, vtepMAC string
}

// network is the cluster's pod network, which flannel splits into a /24
// per node.
func (n flannelNode) network() string { return "10.244.0.0/16" }

// flannelVXLAN: two flannel nodes. Each has cni0 made by the reference
// bridge plugin as flannel's CNI plugin delegates to it (gateway and
// default route, a route to the whole pod network, no masquerade), and
// flannel.1 (VXLAN 1, port 8472, no learning, the node's .0 address); for
// the other node, the route to its /24 via its flannel.1 address onlink,
// the permanent neighbour entry for that address and the FDB entry that
// sends its VTEP MAC to its node address; and flannel's masquerade and
// forward chains.
func flannelVXLAN(l *shapeLab) []string {
	lan := l.fabric()
	nodes := []flannelNode{
		{"node1", "192.168.77.11", "10.244.1.0/24", ""},
		{"node2", "192.168.77.12", "10.244.2.0/24", ""},
	}
	ns := map[string]string{}
	for i := range nodes {
		n := &nodes[i]
		n.vtepMAC = l.fixMAC(ipMAC("02:fa", n.gateway(0)))
		ns[n.name] = l.node(lan, n.name, n.addr)
		l.ip(ns[n.name], fmt.Sprintf(`link add flannel.1 type vxlan id 1 local %s dev eth0 dstport 8472 nolearning
link set flannel.1 address %s mtu 1450
addr add %s/32 dev flannel.1
link set flannel.1 up`, n.addr, n.vtepMAC, n.gateway(0)))
	}
	for _, n := range nodes {
		for _, o := range nodes {
			if o == n {
				continue
			}
			l.ip(ns[n.name], fmt.Sprintf("route add %s via %s dev flannel.1 onlink\nneigh add %s lladdr %s dev flannel.1 nud permanent",
				o.subnet, o.gateway(0), o.gateway(0), o.vtepMAC))
			l.bridge(ns[n.name], fmt.Sprintf("fdb add %s dev flannel.1 dst %s self permanent", o.vtepMAC, o.addr))
		}
		l.iptables(ns[n.name], strings.NewReplacer("NETWORK", n.network(), "SUBNET", n.subnet).Replace(`*nat
:FLANNEL-POSTRTG - [0:0]
-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s SUBNET -d NETWORK -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s NETWORK -d SUBNET -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG ! -s NETWORK -d SUBNET -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s NETWORK ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A FLANNEL-POSTRTG ! -s NETWORK -d NETWORK -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
COMMIT
*filter
:FLANNEL-FWD - [0:0]
-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
-A FLANNEL-FWD -s NETWORK -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d NETWORK -m comment --comment "flanneld forward" -j ACCEPT
COMMIT
`))
	}
	for _, p := range []pod{
		{"default", "web", "node1", []string{"tcp:80"}},
		{"default", "client", "node1", nil},
		{"default", "api", "node2", []string{"tcp:8080"}},
	} {
		var n flannelNode
		for _, c := range nodes {
			if c.name == p.node {
				n = c
			}
		}
		conf := map[string]any{"cniVersion": "1.0.0", "name": "cbr0", "type": "bridge", "bridge": "cni0", "mtu": 1450,
			"isGateway": true, "isDefaultGateway": true, "ipMasq": false, "hairpinMode": true,
			"ipam": l.hostLocal(n.name, n.subnet, n.network())}
		pns := l.podNetns(p)
		l.cniAdd(ns[n.name], pns, p, conf)
		l.start(pns, p)
	}
	return []string{"node1", "node2"}
}

// gateway is address i of the node's /24 (0: flannel.1's, 1: cni0's).
func (n flannelNode) gateway(i int) string {
	base, _, _ := strings.Cut(n.subnet, "/")
	return base[:strings.LastIndexByte(base, '.')+1] + fmt.Sprint(i)
}
