package lab

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustResolve(t *testing.T, file string) *Lab {
	t.Helper()
	top, err := LoadFile(filepath.Join("topologies", file))
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	lab, err := top.Resolve()
	if err != nil {
		t.Fatalf("resolve %s: %v", file, err)
	}
	return lab
}

func TestShippedTopologiesResolve(t *testing.T) {
	ents, err := filepath.Glob(filepath.Join("topologies", "*.yaml"))
	if err != nil || len(ents) < 3 {
		t.Fatalf("want at least 3 shipped topologies, got %v (%v)", ents, err)
	}
	for _, e := range ents {
		lab := mustResolve(t, filepath.Base(e))
		if len(lab.Nodes) == 0 || len(lab.Pods) == 0 {
			t.Errorf("%s: empty lab", e)
		}
	}
}

func TestSeedsAllocation(t *testing.T) {
	lab := mustResolve(t, "seeds.yaml")
	want := map[string]string{
		"node1": "192.168.77.11 10.244.1.0/24 10.244.1.1",
		"node2": "192.168.77.12 10.244.2.0/24 10.244.2.1",
	}
	for _, n := range lab.Nodes {
		got := n.IP.String() + " " + n.PodCIDR.String() + " " + n.Gateway.String()
		if got != want[n.Name] {
			t.Errorf("node %s: got %s, want %s", n.Name, got, want[n.Name])
		}
		if n.Netns != "/run/netns/netx.seeds."+n.Name {
			t.Errorf("node %s netns %s", n.Name, n.Netns)
		}
	}
	pods := map[string]*LabPod{}
	for _, p := range lab.Pods {
		pods[p.Name] = p
	}
	// Pods take addresses in file order per node, from .2 (.1 is cni0).
	for name, ip := range map[string]string{
		"pod-a": "10.244.1.2", "b-1": "10.244.1.3", "onepod-multicontainer01": "10.244.1.4",
		"b-2": "10.244.2.2", "mc3": "10.244.2.3", "webapp-hostport": "10.244.2.4",
		"webapp-hostnet": "192.168.77.11",
	} {
		if got := pods[name].IP.String(); got != ip {
			t.Errorf("pod %s: ip %s, want %s", name, got, ip)
		}
	}
	if m := pods["pod-a"].MAC.String(); m != "0a:58:0a:f4:01:02" {
		t.Errorf("pod-a MAC %s, want the CNI bridge plugin's 0a:58:<ip>", m)
	}
	if pods["webapp-hostnet"].HostVeth != "" || pods["pod-a"].HostVeth == "" || len(pods["pod-a"].HostVeth) > 15 {
		t.Errorf("veth names: hostnet %q pod-a %q", pods["webapp-hostnet"].HostVeth, pods["pod-a"].HostVeth)
	}
	svcs := map[string]*LabService{}
	for _, s := range lab.Services {
		svcs[s.Name] = s
	}
	b := svcs["svc-b"]
	if b.ClusterIP.String() != "10.96.0.10" || len(b.Ports[0].Endpoints) != 2 {
		t.Fatalf("svc-b: %+v", b)
	}
	eps := []string{b.Ports[0].Endpoints[0].IP.String(), b.Ports[0].Endpoints[1].IP.String()}
	if strings.Join(eps, ",") != "10.244.1.3:8080,10.244.2.2:8080" {
		t.Errorf("svc-b endpoints %v", eps)
	}
	if np := svcs["mc3"].Ports[0].NodePort; np != 30080 {
		t.Errorf("mc3 nodePort %d", np)
	}
	if lab.Clients[0].IP != netip.MustParseAddr("192.168.77.101") {
		t.Errorf("client ip %s", lab.Clients[0].IP)
	}
}

func TestResolveIsDeterministic(t *testing.T) {
	a := mustResolve(t, "seeds.yaml")
	b := mustResolve(t, "seeds.yaml")
	if !sameLab(a, b) {
		t.Fatal("two resolutions of one topology differ")
	}
}

func TestAutoAddresses(t *testing.T) {
	top, err := Parse("t.yaml", []byte(`
nodes: [{name: a}, {name: b, ip: 192.168.77.11}, {name: c}]
pods:
  - {name: p, node: a, ip: 10.244.1.2, containers: [{name: c, serve: 1}]}
  - {name: q, node: a, containers: [{name: c, serve: 1}]}
services:
  - {name: s, type: NodePort, selector: {x: y}, ports: [{port: 80}]}
  - {name: u, type: NodePort, selector: {x: y}, ports: [{port: 81, nodePort: 30000}]}
`))
	if err == nil || !strings.Contains(err.Error(), "selector x=y matches no pod") {
		t.Fatalf("services select nothing: want that error, got %v", err)
	}
	top, err = Parse("t.yaml", []byte(`
nodes: [{name: a}, {name: b, ip: 192.168.77.11}, {name: c}]
pods:
  - {name: p, node: a, ip: 10.244.1.2, labels: {x: y}, containers: [{name: c, serve: 1}]}
  - {name: q, node: a, containers: [{name: c, serve: 1}]}
services:
  - {name: s, type: NodePort, selector: {x: y}, ports: [{port: 80}]}
  - {name: u, type: NodePort, selector: {x: y}, ports: [{port: 81, nodePort: 30000}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	lab, err := top.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	// b asked for .11, so a (auto) skips it.
	if got := lab.Nodes[0].IP.String() + "," + lab.Nodes[1].IP.String() + "," + lab.Nodes[2].IP.String(); got != "192.168.77.12,192.168.77.11,192.168.77.13" {
		t.Errorf("node IPs %s", got)
	}
	if got := lab.Pods[1].IP.String(); got != "10.244.1.3" {
		t.Errorf("auto pod ip skips the explicit one: got %s", got)
	}
	if lab.Services[0].Ports[0].NodePort != 30001 {
		t.Errorf("auto nodePort skips the explicit 30000: got %d", lab.Services[0].Ports[0].NodePort)
	}
	if lab.Name != "t" {
		t.Errorf("lab name defaults to the file name: %q", lab.Name)
	}
}

// TestTopologyServeUDP: serveUDP runs the built-in server with --udp and
// declares its port for UDP too, so a UDP service finds its endpoints.
func TestTopologyServeUDP(t *testing.T) {
	top, err := Parse("t.yaml", []byte(`
nodes: [{name: a}]
pods:
  - {name: dns, node: a, labels: {app: dns}, containers: [{name: c, serve: 5353, serveUDP: true}]}
  - {name: web, node: a, labels: {app: dns}, containers: [{name: c, serve: 5353}]}
services:
  - {name: s, selector: {app: dns}, ports: [{name: dns, port: 53, protocol: UDP, targetPort: "5353"}, {name: web, port: 80, targetPort: "5353"}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	lab, err := top.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	dns, web := lab.Pods[0].Containers[0], lab.Pods[1].Containers[0]
	if got := strings.Join(dns.Argv, " "); got != "datapath serve --listen :5353 --udp" {
		t.Errorf("serveUDP argv %q", got)
	}
	if got := strings.Join(web.Argv, " "); got != "datapath serve --listen :5353" {
		t.Errorf("serve argv %q", got)
	}
	if len(dns.Ports) != 2 || dns.Ports[0] != (ContainerPort{ContainerPort: 5353, Protocol: "TCP"}) || dns.Ports[1] != (ContainerPort{ContainerPort: 5353, Protocol: "UDP"}) {
		t.Errorf("serveUDP ports %+v, want 5353/TCP and 5353/UDP", dns.Ports)
	}
	if len(web.Ports) != 1 || web.Ports[0].Protocol != "TCP" {
		t.Errorf("serve ports %+v, want 5353/TCP", web.Ports)
	}
	if p := lab.Services[0].Ports[0]; p.Protocol != "UDP" || len(p.Endpoints) != 2 {
		t.Errorf("UDP service port %+v", p)
	}
}

// TestBadTopologies: each bad input is refused with file:line and a fix.
func TestBadTopologies(t *testing.T) {
	base := `name: bad
nodes:
  - name: node1
  - name: node2
pods:
  - name: a
    node: node1
    labels: {app: a}
    containers:
      - name: c
        serve: 8080
`
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", base + "    colour: blue\n", []string{"bad.yaml:12:", `unknown field "colour" in pod`}},
		{"unknown top-level field", "nmae: x\n" + base, []string{"bad.yaml:1:", `unknown field "nmae"`}},
		{"pod on unknown node", strings.Replace(base, "node: node1", "node: node9", 1), []string{"bad.yaml:7:", `node "node9", which is not declared`, "node1, node2"}},
		{"duplicate node names", strings.Replace(base, "  - name: node2", "  - name: node1", 1), []string{"bad.yaml:4:", `node "node1" is declared twice (first at line 3)`}},
		{"duplicate pod", base + "  - name: a\n    node: node2\n    containers: [{name: c, serve: 1}]\n", []string{"bad.yaml:12:", "pod default/a is declared twice"}},
		{"overlapping CIDRs", "clusterCIDR: 10.0.0.0/8\nserviceCIDR: 10.96.0.0/12\n" + base, []string{"bad.yaml:2:", "serviceCIDR 10.96.0.0/12 overlaps clusterCIDR 10.0.0.0/8"}},
		{"overlapping pod CIDRs", strings.Replace(strings.Replace(base, "  - name: node1\n", "  - name: node1\n    podCIDR: 10.244.1.0/24\n", 1), "  - name: node2\n", "  - name: node2\n    podCIDR: 10.244.1.0/25\n", 1), []string{"bad.yaml:6:", `podCIDR 10.244.1.0/25 overlaps node "node1"`}},
		{"duplicate pod IP", base + "  - name: b\n    node: node1\n    ip: 10.244.1.7\n    containers: [{name: c, serve: 1}]\n  - name: d\n    node: node1\n    ip: 10.244.1.7\n    containers: [{name: c, serve: 1}]\n", []string{"bad.yaml:18:", "ip 10.244.1.7 is already used by pod default/b"}},
		{"pod IP outside node CIDR", base + "  - name: b\n    node: node1\n    ip: 10.244.2.7\n    containers: [{name: c, serve: 1}]\n", []string{"bad.yaml:14:", "not a free host address of node node1's podCIDR 10.244.1.0/24"}},
		{"pod IP is the gateway", base + "  - name: b\n    node: node1\n    ip: 10.244.1.1\n    containers: [{name: c, serve: 1}]\n", []string{"the gateway is 10.244.1.1"}},
		{"service selects nothing", base + "services:\n  - name: s\n    selector: {app: nope}\n    ports: [{port: 80}]\n", []string{"bad.yaml:14:", "selector app=nope matches no pod in namespace default"}},
		{"service without selector", base + "services:\n  - name: s\n    ports: [{port: 80}]\n", []string{"bad.yaml:13:", "has no selector"}},
		{"port conflict in one pod", base + "      - name: d\n        serve: 8080\n", []string{"bad.yaml:12:", "containers c and d both declare port 8080/TCP", "allowPortConflict: true"}},
		{"two run kinds", base + "        command: [sleep, infinity]\n", []string{"bad.yaml:10:", "exactly one of serve"}},
		{"bad overlay", "overlay: geneve\n" + base, []string{"bad.yaml:1:", `overlay "geneve" is not supported`}},
		{"pod network without one", "overlay: none\n" + base, []string{"bad.yaml:7:", "pod default/a needs a pod network, and overlay none builds none", "hostNetwork: true"}},
		{"ipvs", "proxy: ipvs\n" + base, []string{"bad.yaml:1:", "IPVS cannot be built here"}},
		{"nodePort out of range", base + "services:\n  - name: s\n    type: NodePort\n    selector: {app: a}\n    ports: [{port: 80, nodePort: 8080}]\n", []string{"bad.yaml:16:", "nodePort 8080 is outside 30000-32767"}},
		{"nodePort on ClusterIP", base + "services:\n  - name: s\n    selector: {app: a}\n    ports: [{port: 80, nodePort: 30001}]\n", []string{"sets nodePort but is type ClusterIP"}},
		{"duplicate nodePort", base + "services:\n  - {name: s, type: NodePort, selector: {app: a}, ports: [{port: 80, nodePort: 30001}]}\n  - {name: t, type: NodePort, selector: {app: a}, ports: [{port: 81, nodePort: 30001}]}\n", []string{"bad.yaml:14:", "nodePort 30001/TCP is already used by service default/s"}},
		{"hostPort clash", base + "  - name: h1\n    node: node2\n    containers: [{name: c, serve: 1, ports: [{containerPort: 1, hostPort: 81}]}]\n  - name: h2\n    node: node2\n    containers: [{name: c, serve: 1, ports: [{containerPort: 1, hostPort: 81}]}]\n", []string{"port 81/TCP on node node2, already taken by pod default/h1"}},
		{"hostNetwork with ip", base + "  - name: h\n    node: node1\n    hostNetwork: true\n    ip: 10.244.1.9\n    containers: [{name: c, serve: 1}]\n", []string{"hostNetwork: true and an ip"}},
		{"client named like a node", base + "clients:\n  - name: node1\n", []string{"bad.yaml:13:", `client "node1" has the name of a node`}},
		{"unnamed ports", base + "services:\n  - name: s\n    selector: {app: a}\n    ports: [{port: 80}, {port: 81}]\n", []string{"several ports, so each needs a name"}},
		{"target port name unknown", base + "services:\n  - name: s\n    selector: {app: a}\n    ports: [{port: 80, targetPort: web}]\n", []string{`targetPort "web" names no container port`}},
		{"empty", "", []string{"empty topology"}},
		{"node on the underlay gateway", strings.Replace(base, "  - name: node2\n", "  - name: node2\n    ip: 192.168.77.1\n", 1), []string{"bad.yaml:5:", "already used by the underlay gateway"}},
		{"services without a proxy", "proxy: none\n" + base + "services:\n  - {name: s, selector: {app: a}, ports: [{port: 80}]}\n", []string{"bad.yaml:14:", "proxy is none"}},
		{"two documents", base + "---\nname: other\n", []string{"bad.yaml:13:", "one YAML document"}},
		{"duplicate service port", base + "services:\n  - name: s\n    selector: {app: a}\n    ports: [{name: a, port: 80}, {name: b, port: 80}]\n", []string{"declares port 80/TCP twice"}},
		{"bad lab name", strings.Replace(base, "name: bad", "name: Bad_Lab", 1), []string{"bad.yaml:1:", "lab name \"Bad_Lab\""}},
		{"node ip outside underlay", strings.Replace(base, "  - name: node2\n", "  - name: node2\n    ip: 10.0.0.1\n", 1), []string{"bad.yaml:5:", "not a host address of the underlay"}},
		{"bad podCIDR", strings.Replace(base, "  - name: node2\n", "  - name: node2\n    podCIDR: 10.244.1.5/24\n", 1), []string{"bad.yaml:5:", "is not an IPv4 network"}},
		{"podCIDR outside cluster", strings.Replace(base, "  - name: node2\n", "  - name: node2\n    podCIDR: 10.1.0.0/24\n", 1), []string{"outside clusterCIDR"}},
		{"client ip taken", strings.Replace(base, "  - name: node2\n", "  - name: node2\n    ip: 192.168.77.50\n", 1) + "clients:\n  - name: c\n    ip: 192.168.77.50\n", []string{"already used by node node2"}},
		{"clusterIP outside range", base + "services:\n  - name: s\n    clusterIP: 10.0.0.1\n    selector: {app: a}\n    ports: [{port: 80}]\n", []string{"bad.yaml:14:", "not inside serviceCIDR"}},
		{"duplicate clusterIP", base + "services:\n  - {name: s, clusterIP: 10.96.0.20, selector: {app: a}, ports: [{port: 80}]}\n  - {name: u, clusterIP: 10.96.0.20, selector: {app: a}, ports: [{port: 80}]}\n", []string{"clusterIP 10.96.0.20 is already used by service s"}},
		{"bad forward target", base + "  - name: f\n    node: node1\n    containers: [{name: c, forward: {listen: 80, to: localhost}}]\n", []string{"forward.to \"localhost\" must be IP:PORT"}},
		{"bad protocol", strings.Replace(base, "        serve: 8080\n", "        serve: 8080\n        ports: [{containerPort: 8080, protocol: ICMP}]\n", 1), []string{"protocol \"ICMP\" is not TCP, UDP or SCTP"}},
		{"duplicate container names", base + "      - name: c\n        serve: 9090\n", []string{"two containers named \"c\""}},
		{"hostNetwork hostPort differs", base + "  - name: h\n    node: node1\n    hostNetwork: true\n    containers: [{name: c, serve: 80, ports: [{containerPort: 80, hostPort: 81}]}]\n", []string{"hostPort must equal containerPort 80"}},
		{"serveUDP without serve", base + "  - name: u\n    node: node1\n    containers: [{name: c, serveUDP: true, command: [sleep, infinity]}]\n", []string{"bad.yaml:14:", "sets serveUDP but serves no port", "add serve: PORT"}},
		{"not yaml", "nodes: [", []string{"bad.yaml:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", tc.want)
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error is %T, want *InputError: %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, line := range ie.Problems {
				if strings.Contains(line, "\n") || !strings.HasPrefix(line, "bad.yaml") {
					t.Errorf("problem is not one line starting with the file: %q", line)
				}
			}
		})
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("want not-exist, got %v", err)
	}
}

func TestLinkNames(t *testing.T) {
	if got := linkName("n-", "node1"); got != "n-node1" {
		t.Errorf("short name: %s", got)
	}
	long := linkName("n-", "a-very-long-node-name")
	if len(long) > 15 || long == linkName("n-", "a-very-long-node-name2") {
		t.Errorf("long names must fit IFNAMSIZ and stay unique: %s", long)
	}
}
