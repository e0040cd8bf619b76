// Command netx-cni is netx's CNI plugin on its own: the container runtime
// runs it for every pod, so it links only the plugin (package cni and the
// datapath blocks) and starts in a few milliseconds. kubectl-netx cni is
// the same plugin inside the full binary.
package main

import (
	"os"

	"github.com/netx-project/netx/cni"
)

// version is set at build time (-ldflags "-X main.version=v0.1.0").
var version = "dev"

func main() {
	os.Exit(cni.Main("netx-cni " + version + ": netx's pod network (bridge, veth, host-local addresses from the node's pod CIDR)"))
}
