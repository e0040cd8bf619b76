package inspect

// keepAttached drops every namespace that is not one of the node's own
// pods (Options.AttachedOnly). A namespace is kept when a veth of its has
// its other end in the node namespace, none of its veths leads to a third
// namespace, and it holds no bridge: a pod is reached from its node only,
// while a fabric switch or another node that happens to share the machine
// (a lab, a test) is attached to the node too but also to something else.
// Pods joined without a veth (macvlan, ipvlan, SR-IOV) are not kept.
//
// Peer references into a dropped namespace are cleared (the raw
// PeerIndex and PeerNetnsID stay), so the snapshot never names a
// namespace it does not hold: the node's uplink to a fabric then reads as
// a veth whose other end is elsewhere, as a real node's NIC would.
func keepAttached(s *Snapshot) {
	node := s.Node.Inode
	kept := map[uint64]bool{node: true}
	var out []*Netns
	for _, n := range s.Namespaces {
		toNode, elsewhere := false, false
		for _, l := range n.Links {
			switch {
			case l.Kind == "bridge":
				elsewhere = true
			case l.Peer == nil:
			case l.Peer.Inode == node:
				toNode = true
			default:
				elsewhere = true
			}
		}
		if toNode && !elsewhere {
			kept[n.Inode] = true
			out = append(out, n)
		}
	}
	s.Namespaces = out
	for _, n := range s.All() {
		for i := range n.Links {
			if p := n.Links[i].Peer; p != nil && !kept[p.Inode] {
				n.Links[i].Peer = nil
			}
		}
	}
}
