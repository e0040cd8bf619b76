package trace

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/lab/labstate"
	"github.com/netx-project/netx/netfilter"
	"github.com/netx-project/netx/netfilter/nftnl"
)

// LoadNode snapshots this machine as one node: the host, or hostNetns.
// lazy reads a big ruleset's rules as a trace needs them
// (inspect.Options.Lazy), for one trace; a TUI shows them all.
func LoadNode(hostNetns, cri string, lazy bool) (*World, error) {
	// A namespace other than the host is one node of several on this
	// machine (a lab node, a test): only its own pods are its.
	s, err := inspect.Discover(inspect.Options{HostNetns: hostNetns, CRIEndpoint: cri, AttachedOnly: hostNetns != "", Lazy: lazy})
	if err != nil {
		return nil, err
	}
	name := s.NodeName
	if name == "" {
		name = filepath.Base(hostNetns)
	}
	w, err := NewWorld([]*Node{{Name: name, Snap: s, ReadChain: readChain}})
	if err != nil {
		return nil, err
	}
	w.Fetch = fetchSet
	return w, nil
}

// readChain reads a lazily read chain from a live node's namespace.
func readChain(ns *inspect.Netns, rs *netfilter.Ruleset, t *netfilter.Table, c *netfilter.Chain) error {
	return inspect.ReadChain(ns, "", rs, t, c)
}

// fetchSet reads a lazily read set from a live node's namespace.
func fetchSet(n *Node, family netfilter.Family, table, set string) ([]netfilter.Element, error) {
	return nftnl.FetchSet(n.Snap.Node.Path, family, table, set)
}

// LoadLab snapshots every node of a netx lab and adds what the lab knows
// that rules do not say: service names and the outside client. lazy is
// LoadNode's.
func LoadLab(plan, cri string, lazy bool) (*World, error) {
	name, err := labstate.ResolveName(plan)
	if err != nil {
		return nil, err
	}
	st, err := labstate.Get(name)
	if err != nil {
		return nil, err
	}
	var nodes []*Node
	for _, n := range st.Nodes {
		s, err := inspect.Discover(inspect.Options{HostNetns: n.Netns, NodeName: n.Name, CRIEndpoint: cri, AttachedOnly: true, Lazy: lazy})
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		nodes = append(nodes, &Node{Name: n.Name, Snap: s, ReadChain: readChain})
	}
	w, err := NewWorld(nodes)
	if err != nil {
		return nil, err
	}
	w.Fetch = fetchSet
	for _, s := range st.Services {
		ip, _ := netip.ParseAddr(s.ClusterIP)
		for _, p := range s.Ports {
			w.AddService(&Service{Namespace: s.Namespace, Name: s.Name, PortName: p.Name, Protocol: strings.ToLower(p.Protocol),
				ClusterIP: ip, Port: uint16(p.Port), NodePort: uint16(p.NodePort), NoEndpoints: len(s.Endpoints) == 0})
		}
	}
	for _, c := range st.Clients {
		if a, err := netip.ParseAddr(c.IP); err == nil {
			w.External, w.ExternalNetns = a, c.Netns
			break
		}
	}
	return w, nil
}
