package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/netx-project/netx/kubeproxy"
	"github.com/netx-project/netx/netfilter"
)

// The lab's nodes are kubeadm + flannel nodes without a kubelet: kube-proxy
// v1.34 with its defaults (NodePorts on every local address, localhost
// NodePorts; no nfacct counters: they live per namespace and the lab makes
// none), the CNI portmap plugin for hostPorts under flannel's network name,
// and masquerading of pod traffic leaving the cluster.
const cniNetworkName = "cbr0" // kube-flannel.yml's conflist

// kubeProxyConfig is kube-proxy's configuration on the lab's nodes.
func kubeProxyConfig(lab *Lab) kubeproxy.Config {
	return kubeproxy.Config{ClusterCIDR: lab.ClusterCIDR, ServiceCIDR: lab.ServiceCIDR, LocalhostNodePorts: true}
}

// NodeRules are the rules the lab loads into node: its iptables tables
// (one iptables-restore) and, in nftables proxy mode, kube-proxy's table
// (one nft transaction). They are written in the order a real node gets
// them: flannel's masquerading (appended, so it ends up last), kube-proxy
// (its jumps inserted at the top), then portmap for each pod with
// hostPorts, in the order the pods are declared. With proxy none, no
// kube-proxy rules: a real kube-proxy writes them; with overlay none, no
// masquerading: the CNI installed later writes its own.
func NodeRules(lab *Lab, node *LabNode) (*kubeproxy.Node, error) {
	c := kubeProxyConfig(lab)
	services := servicePorts(lab)
	ipt := netfilter.NewIPTablesBuilder(netfilter.FamilyIP, netfilter.SourceIPTablesNFT)
	// The lab owns its nodes' filter and nat tables outright: one
	// iptables-restore (without --noflush) replaces both.
	ipt.Table("filter")
	if lab.Overlay != OverlayNone {
		kubeproxy.Masquerade(ipt, lab.ClusterCIDR)
	}
	n := &kubeproxy.Node{}
	switch lab.Proxy {
	case ProxyIPTables:
		if err := kubeproxy.IPTables(ipt, c, services); err != nil {
			return nil, err
		}
	case ProxyNFTables:
		nft := netfilter.NewNFTBuilder()
		if err := kubeproxy.NFTables(nft, c, services); err != nil {
			return nil, err
		}
		rs, err := nft.Ruleset()
		if err != nil {
			return nil, err
		}
		n.NFTables = rs
	}
	if err := kubeproxy.Portmap(ipt, cniNetworkName, node.PodCIDR, hostPortPods(lab, node)); err != nil {
		return nil, err
	}
	rs, err := ipt.Ruleset()
	if err != nil {
		return nil, err
	}
	n.IPTables = rs
	return n, nil
}

// servicePorts are the lab's services as kube-proxy sees them, by
// namespace/name: kube-proxy walks a map, the lab picks a stable order.
func servicePorts(lab *Lab) []kubeproxy.ServicePort {
	svcs := slices.Clone(lab.Services)
	slices.SortStableFunc(svcs, func(a, b *LabService) int { return strings.Compare(a.Key(), b.Key()) })
	var out []kubeproxy.ServicePort
	for _, s := range svcs {
		for _, p := range s.Ports {
			sp := kubeproxy.ServicePort{Namespace: s.Namespace, Service: s.Name, PortName: p.Name, Protocol: strings.ToLower(p.Protocol),
				ClusterIP: s.ClusterIP, Port: uint16(p.Port), NodePort: uint16(p.NodePort), AffinitySeconds: uint32(s.AffinitySeconds)}
			for _, e := range p.Endpoints {
				sp.Endpoints = append(sp.Endpoints, e.IP)
			}
			out = append(out, sp)
		}
	}
	return out
}

// hostPortPods are the node's pods with hostPorts, as the runtime hands
// them to portmap (hostNetwork pods get no CNI call).
func hostPortPods(lab *Lab, node *LabNode) []kubeproxy.PortmapPod {
	var out []kubeproxy.PortmapPod
	for _, p := range lab.Pods {
		if p.Node != node.Name || p.HostNetwork || !p.IP.IsValid() {
			continue
		}
		pp := kubeproxy.PortmapPod{ContainerID: podContainerID(lab.Name, p.Key()), IP: p.IP}
		for _, c := range p.Containers {
			for _, cp := range c.Ports {
				if cp.HostPort != 0 {
					pp.Ports = append(pp.Ports, kubeproxy.HostPort{HostPort: uint16(cp.HostPort), ContainerPort: uint16(cp.ContainerPort), Protocol: strings.ToLower(cp.Protocol)})
				}
			}
		}
		if len(pp.Ports) > 0 {
			out = append(out, pp)
		}
	}
	return out
}

// podContainerID is the container ID netx hands the CNI plugins for a pod:
// 64 hex characters like a real sandbox ID, but derived from the lab name
// and pod key so chain names and comments are the same on every run.
func podContainerID(lab, podKey string) string {
	sum := sha256.Sum256([]byte("netx sandbox " + lab + "/" + podKey))
	return hex.EncodeToString(sum[:])
}
