package kubeproxy

import (
	"bytes"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/netx-project/netx/netfilter"
	"gopkg.in/yaml.v3"
)

// The objects of testdata/cluster/<mode>/objects.yaml (kubectl get -o
// yaml of the e2e cluster's nodes, pods, services and endpoint slices),
// decoded as far as these tests need them.
type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		ClusterIP   string `yaml:"clusterIP"`
		NodeName    string `yaml:"nodeName"`
		HostNetwork bool   `yaml:"hostNetwork"`
		Ports       []struct {
			Name     string `yaml:"name"`
			Port     uint16 `yaml:"port"`
			Protocol string `yaml:"protocol"`
			NodePort uint16 `yaml:"nodePort"`
		} `yaml:"ports"`
		Containers []struct {
			Ports []struct {
				ContainerPort uint16 `yaml:"containerPort"`
				HostPort      uint16 `yaml:"hostPort"`
				Protocol      string `yaml:"protocol"`
			} `yaml:"ports"`
		} `yaml:"containers"`
	} `yaml:"spec"`
	Status struct {
		PodIP string `yaml:"podIP"`
	} `yaml:"status"`
	// EndpointSlice
	Endpoints []struct {
		Addresses  []string `yaml:"addresses"`
		Conditions struct {
			Ready *bool `yaml:"ready"`
		} `yaml:"conditions"`
	} `yaml:"endpoints"`
	Ports []struct {
		Name     string `yaml:"name"`
		Port     uint16 `yaml:"port"`
		Protocol string `yaml:"protocol"`
	} `yaml:"ports"`
}

func readObjects(t *testing.T, mode string) []object {
	t.Helper()
	b, err := os.ReadFile("../testdata/cluster/" + mode + "/objects.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []object `yaml:"items"`
	}
	if err := yaml.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// servicePorts is what kube-proxy makes of the objects: every port of
// every service with a cluster IP, with the ready endpoints of its
// slices' port of the same name.
func servicePorts(t *testing.T, objs []object) []ServicePort {
	t.Helper()
	var out []ServicePort
	for _, svc := range objs {
		if svc.Kind != "Service" || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == "None" {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			p := ServicePort{Namespace: svc.Metadata.Namespace, Service: svc.Metadata.Name, PortName: sp.Name,
				Protocol: strings.ToLower(sp.Protocol), ClusterIP: netip.MustParseAddr(svc.Spec.ClusterIP), Port: sp.Port, NodePort: sp.NodePort}
			for _, sl := range objs {
				if sl.Kind != "EndpointSlice" || sl.Metadata.Namespace != p.Namespace || sl.Metadata.Labels["kubernetes.io/service-name"] != p.Service {
					continue
				}
				for _, port := range sl.Ports {
					if port.Name != sp.Name || port.Protocol != sp.Protocol {
						continue
					}
					for _, ep := range sl.Endpoints {
						if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
							continue
						}
						for _, a := range ep.Addresses {
							p.Endpoints = append(p.Endpoints, netip.AddrPortFrom(netip.MustParseAddr(a), port.Port))
						}
					}
				}
			}
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("no services in the objects")
	}
	return out
}

// hostPortPods are the node's pods with hostPorts, for portmap; their
// sandbox IDs are the runtime's, found in the dump's portmap comments.
func hostPortPods(t *testing.T, objs []object, node string, real *netfilter.Ruleset) []PortmapPod {
	t.Helper()
	var ids []string
	if nat := real.Table(netfilter.FamilyIP, "nat"); nat != nil && nat.Chain(CNIHostportDNAT) != nil {
		re := regexp.MustCompile(`id: "([0-9a-f]{64})"`)
		for _, r := range nat.Chain(CNIHostportDNAT).Rules {
			if m := re.FindStringSubmatch(r.Comment); m != nil && !slices.Contains(ids, m[1]) {
				ids = append(ids, m[1])
			}
		}
	}
	var pods []PortmapPod
	for _, o := range objs {
		// The runtime calls no CNI plugin for a hostNetwork pod.
		if o.Kind != "Pod" || o.Spec.NodeName != node || o.Spec.HostNetwork {
			continue
		}
		var ports []HostPort
		for _, c := range o.Spec.Containers {
			for _, p := range c.Ports {
				if p.HostPort != 0 {
					ports = append(ports, HostPort{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: strings.ToLower(p.Protocol)})
				}
			}
		}
		if len(ports) > 0 {
			pods = append(pods, PortmapPod{IP: netip.MustParseAddr(o.Status.PodIP), Ports: ports})
		}
	}
	if len(pods) != len(ids) {
		t.Fatalf("%d pods with hostPorts on %s, %d sandbox IDs in its dump", len(pods), node, len(ids))
	}
	for i := range pods {
		pods[i].ContainerID = ids[i]
	}
	return pods
}

// inOrderOf orders services as the dump's dispatch rules list their
// cluster IPs: kube-proxy walks a Go map, so the order on a node is
// random, and the writer takes the caller's.
func inOrderOf(ports []ServicePort, texts []string) []ServicePort {
	pos := func(p ServicePort) int {
		for i, s := range texts {
			if strings.Contains(s, " "+p.ClusterIP.String()+"/32 ") || strings.Contains(s, p.ClusterIP.String()+" . ") {
				return i
			}
		}
		return len(texts)
	}
	out := slices.Clone(ports)
	slices.SortStableFunc(out, func(a, b ServicePort) int { return pos(a) - pos(b) })
	return out
}

// e2eConfig is kube-proxy's configuration on the e2e cluster (e2e/cluster:
// cluster CIDR 10.244.0.0/16, v1.34 defaults: localhost NodePorts, nfacct
// counters it can create; nftables mode's default --nodeport-addresses is
// the node's primary IP).
func e2eConfig(mode string, nodeIP string) Config {
	c := Config{
		ClusterCIDR:        netip.MustParsePrefix("10.244.0.0/16"),
		ServiceCIDR:        netip.MustParsePrefix("10.96.0.0/16"),
		LocalhostNodePorts: true,
		NFAcct:             true,
		Kubelet:            true,
		IPv6:               true,
	}
	if mode == "nftables" {
		c.NodePortAddresses = []netip.Addr{netip.MustParseAddr(nodeIP)}
	}
	return c
}

var e2eNodes = []struct{ name, ip, podCIDR string }{
	{"node1", "192.168.77.11", "10.244.1.0/24"},
	{"node2", "192.168.77.12", "10.244.2.0/24"},
}

// TestIPTablesIsKubeProxys rebuilds each e2e node's whole iptables-save —
// the lab's masquerading (up first), kubelet's chains, kube-proxy v1.34's
// iptables mode for the cluster's services, and the portmap plugin's
// hostPorts — from the cluster's objects, and requires it to be the real
// node's dump: every table, chain (hash-derived names included), rule in
// order, word for word. Only the services' order is taken from the dump
// (kube-proxy's is a map's).
func TestIPTablesIsKubeProxys(t *testing.T) {
	objs := readObjects(t, "iptables")
	ports := servicePorts(t, objs)
	for _, n := range e2eNodes {
		t.Run(n.name, func(t *testing.T) {
			b, err := os.ReadFile("../testdata/cluster/iptables/" + n.name + ".iptables-save")
			if err != nil {
				t.Fatal(err)
			}
			real, err := netfilter.ParseIPTablesSave(bytes.NewReader(b), "")
			if err != nil {
				t.Fatal(err)
			}
			var dispatch []string
			for _, r := range real.Table(netfilter.FamilyIP, "nat").Chain(KubeServices).Rules {
				dispatch = append(dispatch, r.Text)
			}
			c := e2eConfig("iptables", n.ip)
			w := netfilter.NewIPTablesBuilder(netfilter.FamilyIP, netfilter.SourceIPTablesNFT)
			Masquerade(w, c.ClusterCIDR)
			Kubelet(w)
			if err := IPTables(w, c, inOrderOf(ports, dispatch)); err != nil {
				t.Fatal(err)
			}
			if err := Portmap(w, "netx-e2e", netip.MustParsePrefix(n.podCIDR), hostPortPods(t, objs, n.name, real)); err != nil {
				t.Fatal(err)
			}
			got, err := w.Ruleset()
			if err != nil {
				t.Fatal(err)
			}
			if d := netfilter.Diff(got, real, netfilter.DiffOptions{Counters: true}); len(d) > 0 {
				t.Errorf("written rules differ from the real node's in %d places:\n%s", len(d), strings.Join(d, "\n"))
			}
		})
	}
}

// sortChains orders a table's chains by name: nft lists them in the order
// they were made, which on a real node follows the history of syncs (an
// endpoint that became ready later has its chain last).
func sortChains(rs *netfilter.Ruleset) {
	for _, t := range rs.Tables {
		slices.SortFunc(t.Chains, func(a, b *netfilter.Chain) int { return strings.Compare(a.Name, b.Name) })
	}
}

// TestNFTablesIsKubeProxys is TestIPTablesIsKubeProxys for nftables mode:
// kube-proxy's two tables as the real node's nft list ruleset shows them
// (chains, their rules in order, sets and maps with their elements), and
// the node's iptables-save, which holds only the lab's masquerading and
// kubelet's chains.
func TestNFTablesIsKubeProxys(t *testing.T) {
	objs := readObjects(t, "nftables")
	ports := servicePorts(t, objs)
	for _, n := range e2eNodes {
		t.Run(n.name, func(t *testing.T) {
			b, err := os.ReadFile("../testdata/cluster/nftables/" + n.name + ".nft")
			if err != nil {
				t.Fatal(err)
			}
			listed, err := netfilter.ParseNFT(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			real := &netfilter.Ruleset{Source: listed.Source}
			for _, tb := range listed.Tables {
				if tb.Name == NFTTable {
					real.Tables = append(real.Tables, tb)
				}
			}
			var dispatch []string
			for _, e := range real.Table(netfilter.FamilyIP, NFTTable).Set(NFTServiceIPs).Elements {
				dispatch = append(dispatch, strings.Join(e.Key, " . "))
			}
			c := e2eConfig("nftables", n.ip)
			w := netfilter.NewNFTBuilder()
			if err := NFTables(w, c, inOrderOf(ports, dispatch)); err != nil {
				t.Fatal(err)
			}
			got, err := w.Ruleset()
			if err != nil {
				t.Fatal(err)
			}
			sortChains(got)
			sortChains(real)
			if d := netfilter.Diff(got, real, netfilter.DiffOptions{Counters: true, ElementOrder: true}); len(d) > 0 {
				t.Errorf("written nftables rules differ from the real node's in %d places:\n%s", len(d), strings.Join(d, "\n"))
			}

			b, err = os.ReadFile("../testdata/cluster/nftables/" + n.name + ".iptables-save")
			if err != nil {
				t.Fatal(err)
			}
			realIPT, err := netfilter.ParseIPTablesSave(bytes.NewReader(b), "")
			if err != nil {
				t.Fatal(err)
			}
			ipt := netfilter.NewIPTablesBuilder(netfilter.FamilyIP, netfilter.SourceIPTablesNFT)
			Masquerade(ipt, c.ClusterCIDR)
			Kubelet(ipt)
			if err := Portmap(ipt, "netx-e2e", netip.MustParsePrefix(n.podCIDR), hostPortPods(t, objs, n.name, realIPT)); err != nil {
				t.Fatal(err)
			}
			gotIPT, err := ipt.Ruleset()
			if err != nil {
				t.Fatal(err)
			}
			if d := netfilter.Diff(gotIPT, realIPT, netfilter.DiffOptions{Counters: true}); len(d) > 0 {
				t.Errorf("written iptables rules differ from the real node's in %d places:\n%s", len(d), strings.Join(d, "\n"))
			}
		})
	}
}
