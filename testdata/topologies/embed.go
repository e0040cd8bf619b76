// Package topologies embeds the lab topologies shipped with netx, so the
// binary alone can build its default lab on a fresh machine.
package topologies

import "embed"

// FS holds every *.yaml topology in this directory.
//
//go:embed *.yaml
var FS embed.FS

// Default is the topology `netx datapath up` builds when given none.
const Default = "seeds"
