//go:build linux

package main

import (
	"bytes"
	"fmt"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/kubeproxy"
)

// syntheticNode is a node of n services as package kubeproxy writes it
// (held to the real dumps of testdata/cluster): kubelet's chains and
// kube-proxy's rules in mode, rendered as the loaders read them.
type syntheticNode struct {
	ports    []kubeproxy.ServicePort
	ipt, nft []byte // iptables-restore input; nft -f input (nftables mode)
	rules    int    // rules in both
}

func newSyntheticNode(mode string, n int) (*syntheticNode, error) {
	s := &syntheticNode{ports: kubeproxy.Synthetic(n)}
	node, err := kubeproxy.Build(kubeproxy.Mode(mode), kubeproxy.SyntheticConfig(), s.ports)
	if err != nil {
		return nil, fmt.Errorf("synthetic %s rules: %w", mode, err)
	}
	if s.ipt, s.nft, err = node.Render(false); err != nil {
		return nil, err
	}
	s.rules = countRules(node.IPTables)
	if node.NFTables != nil {
		s.rules += countRules(node.NFTables)
	}
	return s, nil
}

// create makes the node's namespace at path with what its rules need
// there (kube-proxy's nfacct counters).
func (s *syntheticNode) create(path string) error {
	return nsenter.CreateNamed(path, func() error { return testenv.AddNFAcct(kubeproxy.NFAcctCounters()...) })
}

// load loads the rules into the namespace at path: one iptables-restore,
// then one nft transaction.
func (s *syntheticNode) load(path, nft string) error {
	if _, err := nsenter.Output(nsenter.Net(path), bytes.NewReader(s.ipt), "iptables-restore"); err != nil {
		return fmt.Errorf("iptables-restore: %w", err)
	}
	if s.nft != nil {
		if _, err := nsenter.Output(nsenter.Net(path), bytes.NewReader(s.nft), nft, "-f", "-"); err != nil {
			return fmt.Errorf("nft -f: %w", err)
		}
	}
	return nil
}
