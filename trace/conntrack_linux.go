package trace

import (
	"fmt"
	"os/exec"
	"strings"

	"github.com/netx-project/netx/internal/nsenter"
)

// maxConntrackLines bounds the entries shown per hop.
const maxConntrackLines = 3

// AddConntrack adds to each netfilter hop on a live node the conntrack
// entries that already exist there for the packet's flow (same protocol,
// addresses and destination port as the packet entering the hop: any
// source port), as `conntrack -L` prints them. An existing entry says
// where earlier connections of the same flow went (its reply tuple names
// the endpoint chosen) and that later packets skip the NAT rules. Read
// only; a node whose namespace is not this machine's is left as is.
func (w *World) AddConntrack(res *Result) {
	prog, err := exec.LookPath("conntrack")
	if err != nil {
		return
	}
	addTo := func(hops []Hop) {
		for i := range hops {
			h := &hops[i]
			if h.Kind != HopNetfilter || i == 0 {
				continue
			}
			at := h.at
			if at.NS == nil || stillSame(netnsOf(at)) != nil {
				continue
			}
			in := packetOf(hops[i-1].Packet) // the packet as the hook saw it
			args := []string{"-L", "-p", in.Proto, "-s", in.Src.String(), "-d", in.Dst.String()}
			if in.hasPorts() {
				args = append(args, "--dport", fmt.Sprint(in.DPort))
			}
			out, err := nsenter.Output(nsenter.Net(at.NS.Path), nil, prog, args...)
			if err != nil {
				continue
			}
			n := 0
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if line = strings.TrimSpace(line); line == "" {
					continue
				}
				if n == maxConntrackLines {
					h.Evidence = append(h.Evidence, "conntrack: … more entries of this flow")
					break
				}
				h.Evidence = append(h.Evidence, "conntrack: "+strings.Join(strings.Fields(line), " "))
				n++
			}
		}
	}
	addTo(res.Hops)
}
