package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// UnmarshalJSON reads an entry written either way: the object this netx
// writes, or the "MAC dst IP" string that snapshots saved before entries
// were typed hold (users keep those files, and testdata has some), so both
// stay readable under one schema version.
func (e *FDBEntry) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		f := strings.Fields(s)
		if len(f) != 3 || f[1] != "dst" {
			return fmt.Errorf("fdb entry %q: want \"MAC dst IP\"", s)
		}
		dst, err := netip.ParseAddr(f[2])
		if err != nil {
			return fmt.Errorf("fdb entry %q: %w", s, err)
		}
		*e = FDBEntry{MAC: f[0], Dst: dst}
		return nil
	}
	type plain FDBEntry // without this method, so the object decodes as usual
	return json.Unmarshal(b, (*plain)(e))
}

// FDBDst is where the device sends frames for mac: the remote VTEP's
// underlay address. A MAC given several destinations (bridge fdb append)
// has a copy sent to each; the first entry stands for them. MACs are
// compared as addresses, not text: netlink writes them in lower case, a
// hand-written snapshot or another tool may not.
func (v *VXLAN) FDBDst(mac string) (netip.Addr, bool) {
	want, err := net.ParseMAC(mac)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, f := range v.FDB {
		if m, err := net.ParseMAC(f.MAC); err == nil && bytes.Equal(m, want) {
			return f.Dst, true
		}
	}
	return netip.Addr{}, false
}

// VTEP follows a next hop through the VXLAN device dev as the kernel
// does: the neighbour entry for nextHop on dev gives the remote VTEP's
// MAC, and the device's FDB entry for that MAC its underlay address. mac
// is "" when there is no neighbour entry (with a MAC) for the next hop;
// dst is invalid when there is no FDB entry for the MAC, or dev is not a
// VXLAN device of n.
func (n *Netns) VTEP(dev string, nextHop netip.Addr) (mac string, dst netip.Addr) {
	for _, nb := range n.Neighbors {
		if ip, err := netip.ParseAddr(nb.IP); err == nil && nb.Dev == dev && ip == nextHop && nb.MAC != "" {
			mac = nb.MAC
			break
		}
	}
	if mac == "" {
		return "", netip.Addr{}
	}
	for _, l := range n.Links {
		if l.Name == dev && l.VXLAN != nil {
			dst, _ = l.VXLAN.FDBDst(mac)
		}
	}
	return mac, dst
}
