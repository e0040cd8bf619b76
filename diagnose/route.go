package diagnose

import (
	"net/netip"

	"github.com/netx-project/netx/inspect"
)

// Problem is why the way to another host stops short.
type Problem string

// Problems found on the way to another host.
const (
	// NoNeighbor: the overlay route's gateway has no neighbour entry on the
	// VXLAN device, so the remote VTEP's MAC is unknown.
	NoNeighbor Problem = "no-neighbor"
	// NoFDB: the VTEP's MAC has no FDB entry, so the node does not know
	// which host to send the encapsulated packet to.
	NoFDB Problem = "no-fdb"
)

// RemoteRoute is a route of the node that leaves through another host:
// to a node address directly (host-gw, BGP), or through an overlay.
type RemoteRoute struct {
	Route inspect.Route `json:"route"`
	// Overlay is set when the route's device is a VXLAN device.
	Overlay *Overlay `json:"overlay,omitempty"`
}

// Overlay is where a route through a VXLAN device leads.
type Overlay struct {
	VNI  int `json:"vni"`
	Port int `json:"port"`
	// VTEPMAC is the remote VTEP's MAC, from the gateway's neighbour
	// entry; VTEP its underlay address, from the FDB entry for that MAC.
	VTEPMAC string     `json:"vtepMAC,omitempty"`
	VTEP    netip.Addr `json:"vtep,omitzero"`
	// Problem is NoNeighbor or NoFDB when the way stops short.
	Problem Problem `json:"problem,omitempty"`
}

// RemoteRoutes are the node's routes in the main table, other than the
// default, that have a gateway, in route order; overlay ones followed to
// the remote VTEP through the neighbour and FDB entries a VXLAN CNI writes.
func RemoteRoutes(node *inspect.Netns) []RemoteRoute {
	vxlan := map[string]*inspect.VXLAN{}
	for _, l := range node.Links {
		if l.VXLAN != nil {
			vxlan[l.Name] = l.VXLAN
		}
	}
	var out []RemoteRoute
	for _, r := range node.Routes {
		if r.Table != 254 || r.Dst == "default" || r.Gw == "" {
			continue
		}
		rr := RemoteRoute{Route: r}
		if v := vxlan[r.Dev]; v != nil {
			o := &Overlay{VNI: v.VNI, Port: v.Port}
			gw, _ := netip.ParseAddr(r.Gw)
			o.VTEPMAC, o.VTEP = node.VTEP(r.Dev, gw)
			switch {
			case o.VTEPMAC == "":
				o.Problem = NoNeighbor
			case !o.VTEP.IsValid():
				o.Problem = NoFDB
			}
			rr.Overlay = o
		}
		out = append(out, rr)
	}
	return out
}
