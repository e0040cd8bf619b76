package kubeproxy

import (
	"bytes"
	"fmt"

	"github.com/netx-project/netx/netfilter"
)

// Mode is kube-proxy's proxy mode.
type Mode string

const (
	ModeIPTables Mode = "iptables"
	ModeNFTables Mode = "nftables"
)

// Node is the rules of a whole node: its iptables tables (of the
// nf_tables backend) and, in nftables mode, kube-proxy's nftables tables.
type Node struct {
	IPTables *netfilter.Ruleset
	NFTables *netfilter.Ruleset // nil in iptables mode
}

// Render writes the node's rules as their loaders read them, once each:
// iptables-restore input (without --noflush, it replaces the tables it
// names) and, in nftables mode, an nft -f script; with replace, the
// script deletes kube-proxy's tables first, so loading it again replaces
// them.
func (n *Node) Render(replace bool) (ipt, nft []byte, err error) {
	var b bytes.Buffer
	if err := n.IPTables.WriteIPTablesSave(&b, false); err != nil {
		return nil, nil, err
	}
	ipt = bytes.Clone(b.Bytes())
	if n.NFTables != nil {
		b.Reset()
		if err := n.NFTables.WriteNFT(&b, netfilter.NFTWriteOptions{Replace: replace}); err != nil {
			return nil, nil, err
		}
		nft = b.Bytes()
	}
	return ipt, nft, nil
}

// Build writes a node running kube-proxy in mode for services, with
// kubelet's chains first when c.Kubelet, as a node of a cluster that
// uses no hostPorts and leaves masquerading to kube-proxy.
func Build(mode Mode, c Config, services []ServicePort) (*Node, error) {
	ipt := netfilter.NewIPTablesBuilder(netfilter.FamilyIP, netfilter.SourceIPTablesNFT)
	if c.Kubelet {
		Kubelet(ipt)
	}
	n := &Node{}
	switch mode {
	case ModeIPTables:
		if err := IPTables(ipt, c, services); err != nil {
			return nil, err
		}
	case ModeNFTables:
		nft := netfilter.NewNFTBuilder()
		if err := NFTables(nft, c, services); err != nil {
			return nil, err
		}
		rs, err := nft.Ruleset()
		if err != nil {
			return nil, err
		}
		n.NFTables = rs
	default:
		return nil, fmt.Errorf("proxy mode %q: use iptables or nftables", mode)
	}
	rs, err := ipt.Ruleset()
	if err != nil {
		return nil, err
	}
	n.IPTables = rs
	return n, nil
}
