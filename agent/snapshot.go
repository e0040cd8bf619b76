package agent

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/netx-project/netx/inspect"
)

// Snapshot reads the node the agent runs on and writes its snapshot to w,
// gzip-compressed (inspect.ReadSnapshot reads it): what the client
// streams through pods/exec. name is the node's name (the pod's
// spec.nodeName).
func Snapshot(w io.Writer, name string) error {
	n, err := Locate()
	if err != nil {
		return err
	}
	snap, err := inspect.Discover(n.Options(name))
	if err != nil {
		return err
	}
	// The node's own namespace is named through the kubelet, which lives
	// in it: a name any later agent process can open (the one inspect
	// gave holds only while this process runs).
	snap.Node.Path = fmt.Sprintf("/proc/%d/ns/net", n.KubeletPID)
	// Paths through the kubelet's root are the node's own paths there.
	for _, ns := range snap.All() {
		if p, ok := strings.CutPrefix(ns.Path, n.Root+"/"); ok {
			ns.Path = "/" + p
		}
	}
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err := json.NewEncoder(gz).Encode(snap); err != nil {
		return fmt.Errorf("agent: write snapshot: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("agent: write snapshot: %w", err)
	}
	return nil
}

// Options are inspect's options for reading this node from the agent's
// container: the kubelet's runtime socket, the node's root for its own
// iptables-save, and — when several nodes share the machine's PID
// namespace — only the namespaces attached to this node. A lab's state is
// the machine's, not the node's: left out.
func (n *Node) Options(name string) inspect.Options {
	return inspect.Options{
		NodeName:     name,
		CRIEndpoint:  n.CRIEndpoint,
		HostRoot:     n.Root,
		AttachedOnly: n.Kubelets > 1,
		NoLab:        true,
	}
}
