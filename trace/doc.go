// Package trace is the path engine: over one or more node snapshots it
// follows a packet hop by hop (routing, bridge, netfilter, NAT, overlay) to a
// verdict, and verifies the prediction with live probes.
package trace
