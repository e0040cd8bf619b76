package kubeproxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/netx-project/netx/netfilter"
)

// HostPort is one port mapping of a pod's sandbox, as the container
// runtime hands it to the portmap plugin (the portMappings capability).
type HostPort struct {
	HostPort      uint16
	ContainerPort uint16
	Protocol      string // tcp, udp or sctp
}

// PortmapPod is one pod sandbox with port mappings: its container (sandbox)
// ID, its address and the mappings.
type PortmapPod struct {
	ContainerID string
	IP          netip.Addr
	Ports       []HostPort
}

// Portmap constants (plugins/meta/portmap): the masquerade mark is
// 1<<13 (markMasqBit), and one multiport rule lists at most 15 ports.
const (
	cniMasqMark  = "0x2000"
	multiportMax = 15
)

// Portmap writes what the CNI portmap plugin's ADD writes, pod after pod
// in the order their sandboxes were made: the shared chains (setmark,
// masquerade, dnat) with their jumps from the built-in chains, then per
// pod a CNI-DN chain of DNATs and its dispatch rules. network is the CNI
// network's name (in comments and chain hashes); podCIDR is the node's pod
// network, which the plugin masquerades hairpin traffic from. Like the
// plugin, it writes nothing for a pod without mappings.
func Portmap(b *netfilter.IPTablesBuilder, network string, podCIDR netip.Prefix, pods []PortmapPod) error {
	for _, p := range pods {
		for _, m := range p.Ports {
			if m.HostPort == 0 || m.ContainerPort == 0 || (m.Protocol != "tcp" && m.Protocol != "udp" && m.Protocol != "sctp") {
				return fmt.Errorf("pod sandbox %s: port mapping %d:%d/%s: want two ports and tcp, udp or sctp", p.ContainerID, m.HostPort, m.ContainerPort, m.Protocol)
			}
		}
		if len(p.Ports) > 0 && !p.IP.Is4() {
			return fmt.Errorf("pod sandbox %s: address %s: netx writes IPv4 port mappings only", p.ContainerID, p.IP)
		}
	}
	setMark := cniMasqMark + "/" + cniMasqMark
	podNet := podCIDR.Masked().String()
	for _, p := range pods {
		if len(p.Ports) == 0 {
			continue
		}
		b.Chain("nat", CNIHostportSetMark)
		b.Chain("nat", CNIHostportMasq)
		b.Chain("nat", CNIHostportDNAT)
		// Every ADD ensures the shared chains' rules and jumps.
		b.Ensure("nat", CNIHostportSetMark, netfilter.Last, "-m", "comment", "--comment", "CNI portfwd masquerade mark", "-j", "MARK", "--set-xmark", setMark)
		b.Ensure("nat", CNIHostportMasq, netfilter.Last, "-m", "mark", "--mark", setMark, "-j", "MASQUERADE")
		// First, so the bridge/ptp masquerade rules cannot stomp on it.
		b.Ensure("nat", "POSTROUTING", netfilter.First, "-m", "comment", "--comment", "CNI portfwd requiring masquerade", "-j", CNIHostportMasq)
		b.Ensure("nat", "PREROUTING", netfilter.Last, "-m", "addrtype", "--dst-type", "LOCAL", "-j", CNIHostportDNAT)
		b.Ensure("nat", "OUTPUT", netfilter.Last, "-m", "addrtype", "--dst-type", "LOCAL", "-j", CNIHostportDNAT)
		dn := CNIDNChain(network, p.ContainerID)
		b.Chain("nat", dn)
		for _, m := range p.Ports {
			base := []string{"-p", m.Protocol, "--dport", strconv.Itoa(int(m.HostPort))}
			b.Append("nat", dn, append(slices.Clone(base), "-s", podNet, "-j", CNIHostportSetMark)...)
			b.Append("nat", dn, append(slices.Clone(base), "-s", "127.0.0.1", "-j", CNIHostportSetMark)...)
			b.Append("nat", dn, append(slices.Clone(base), "-j", "DNAT", "--to-destination", p.IP.String()+":"+strconv.Itoa(int(m.ContainerPort)))...)
		}
		comment := fmt.Sprintf("dnat name: %q id: %q", network, p.ContainerID)
		byProto := map[string][]string{}
		for _, m := range p.Ports {
			byProto[m.Protocol] = append(byProto[m.Protocol], strconv.Itoa(int(m.HostPort)))
		}
		protos := make([]string, 0, len(byProto))
		for proto := range byProto {
			protos = append(protos, proto)
		}
		slices.Sort(protos)
		for _, proto := range protos {
			for ports := range slices.Chunk(byProto[proto], multiportMax) {
				b.Append("nat", CNIHostportDNAT, "-m", "comment", "--comment", comment, "-m", "multiport",
					"-p", proto, "--destination-ports", strings.Join(ports, ","), "-j", dn)
			}
		}
	}
	return nil
}

// NetxPostrouting masquerades pod traffic leaving the cluster network:
// flannel's FLANNEL-POSTRTG job (or the bridge plugin's ipMasq) on a real
// node. It has a name of its own so nobody mistakes it for flannel's
// exact rules.
const NetxPostrouting = "NETX-POSTROUTING"

// Masquerade writes the masquerading of pod traffic that leaves
// clusterCIDR, appended to POSTROUTING as flanneld (which starts before
// kube-proxy and the pods) leaves it: everything inserted later lands
// above it.
func Masquerade(b *netfilter.IPTablesBuilder, clusterCIDR netip.Prefix) {
	cidr := clusterCIDR.Masked().String()
	b.Chain("nat", NetxPostrouting)
	b.Append("nat", "POSTROUTING", "-m", "comment", "--comment", "netx lab: masquerade pod traffic leaving the cluster", "-j", NetxPostrouting)
	b.Append("nat", NetxPostrouting, "-s", cidr, "-d", cidr, "-j", "RETURN")
	b.Append("nat", NetxPostrouting, "-s", cidr, "!", "-d", "224.0.0.0/4", "-j", "MASQUERADE", "--random-fully")
}
