package inspect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"slices"

	"github.com/netx-project/netx/internal/nlmsg"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// A namespace's links, addresses, routes, rules and neighbours come from
// rtnetlink dumps over one socket opened in it, received into the one
// buffer its read worker reuses for every namespace, and decoded straight
// into netx's model: only the attributes netx shows. (Decoding every
// attribute into vishvananda/netlink's objects, with a 64 KB buffer
// allocated per receive, cost five times the kernel's own work per pod
// namespace: docs/benchmarks.md, inventory.)
//
// Each decoder keeps vishvananda/netlink's meaning of what it reads (the
// read before this one used it, and TestRootRtnlMatchesNetlink holds the
// two equal): link kinds by its names, an address's IFA_LOCAL over
// IFA_ADDRESS, no cloned routes, a rule's priority 0 when the kernel
// sends none.

// rtextFilterSkipStats asks a link dump to leave out the counters
// (RTEXT_FILTER_SKIP_STATS; older kernels ignore it).
const rtextFilterSkipStats = 1 << 3

// recvBufSize is the receive buffer a worker keeps: the kernel sizes a
// dump's messages to the reader's last receive, up to this.
const recvBufSize = 64 * 1024

// nlDumper runs dumps on one netlink socket opened in a namespace.
type nlDumper struct {
	nlmsg.Conn
}

// dump runs one dump and calls each with every answer's type and payload.
func (d *nlDumper) dump(typ uint16, body []byte, each func(typ uint16, m []byte)) error {
	return d.Request(typ, unix.NLM_F_DUMP, body, func(typ uint16, m []byte) error {
		each(typ, m)
		return nil
	})
}

// dumpRetry runs a read again while the kernel reports its dump
// interrupted, a few times; the last read stands.
func dumpRetry[T any](read func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := read()
		if !errors.Is(err, nlmsg.ErrDumpInterrupted) || i == 2 {
			return v, err
		}
	}
}

// attrs calls fn with each attribute after a message's fixed header of
// hdr bytes; a malformed one ends the walk (what was read stands).
func attrs(m []byte, hdr int, fn func(typ uint16, v []byte)) {
	if len(m) < hdr {
		return
	}
	nlmsg.Attrs(m[hdr:], func(typ uint16, v []byte) error {
		fn(typ, v)
		return nil
	})
}

func u32(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(b)
}

// ipNet is addr/prefix as net.IPNet prints it.
func ipNet(ip []byte, prefix int) string {
	return (&net.IPNet{IP: net.IP(ip), Mask: net.CIDRMask(prefix, 8*len(ip))}).String()
}

// rtLink is one link of a dump, before names resolve across links.
type rtLink struct {
	Link
	master, parent, netnsID int
	vxlan                   *rtVXLAN
}

type rtVXLAN struct {
	VXLAN
	dev int
}

// linkKind names a link's kind as vishvananda/netlink's Link.Type() does:
// "device" for a link with no kind (loopback, a NIC), "tuntap" for tun,
// the kernel's kind for the rest.
func linkKind(kind string) string {
	switch kind {
	case "":
		return "device"
	case "tun":
		return "tuntap"
	}
	return kind
}

// readLinks dumps the links (without their counters).
func (d *nlDumper) readLinks() ([]rtLink, error) {
	return dumpRetry(func() ([]rtLink, error) {
		var out []rtLink
		// struct ifinfomsg (AF_UNSPEC), then IFLA_EXT_MASK = RTEXT_FILTER_SKIP_STATS.
		req := make([]byte, unix.SizeofIfInfomsg+8)
		binary.NativeEndian.PutUint16(req[16:18], 8)
		binary.NativeEndian.PutUint16(req[18:20], unix.IFLA_EXT_MASK)
		binary.NativeEndian.PutUint32(req[20:24], rtextFilterSkipStats)
		err := d.dump(unix.RTM_GETLINK, req, func(typ uint16, m []byte) {
			if typ != unix.RTM_NEWLINK || len(m) < unix.SizeofIfInfomsg {
				return
			}
			flags := binary.NativeEndian.Uint32(m[8:12])
			l := rtLink{Link: Link{Index: int(int32(binary.NativeEndian.Uint32(m[4:8]))), Up: flags&unix.IFF_UP != 0}, netnsID: -1}
			kind, data := "", []byte(nil)
			attrs(m, unix.SizeofIfInfomsg, func(typ uint16, v []byte) {
				switch typ {
				case unix.IFLA_IFNAME:
					l.Name = nlmsg.String(v)
				case unix.IFLA_MTU:
					l.MTU = int(u32(v))
				case unix.IFLA_ADDRESS:
					if slices.ContainsFunc(v, func(b byte) bool { return b != 0 }) { // an all-zero address is none
						l.MAC = net.HardwareAddr(v).String()
					}
				case unix.IFLA_LINK:
					l.parent = int(u32(v))
				case unix.IFLA_MASTER:
					l.master = int(u32(v))
				case unix.IFLA_LINK_NETNSID:
					l.netnsID = int(int32(u32(v)))
				case unix.IFLA_LINKINFO:
					attrs(v, 0, func(typ uint16, v []byte) {
						switch typ {
						case unix.IFLA_INFO_KIND:
							kind = nlmsg.String(v)
						case unix.IFLA_INFO_DATA:
							data = v
						}
					})
				}
			})
			l.Kind = linkKind(kind)
			if kind == "vxlan" {
				l.vxlan = vxlanData(data)
			}
			out = append(out, l)
		})
		return out, err
	})
}

// vxlanData reads a VXLAN link's IFLA_INFO_DATA.
func vxlanData(b []byte) *rtVXLAN {
	v := &rtVXLAN{}
	attrs(b, 0, func(typ uint16, val []byte) {
		switch typ {
		case unix.IFLA_VXLAN_ID:
			v.VNI = int(u32(val))
		case unix.IFLA_VXLAN_LINK:
			v.dev = int(u32(val))
		case unix.IFLA_VXLAN_LOCAL, unix.IFLA_VXLAN_LOCAL6:
			v.Local = net.IP(val).String()
		case unix.IFLA_VXLAN_LEARNING:
			v.Learner = len(val) > 0 && val[0] != 0
		case unix.IFLA_VXLAN_PORT:
			if len(val) >= 2 {
				v.Port = int(binary.BigEndian.Uint16(val))
			}
		}
	})
	return v
}

// readAddrs dumps every link's addresses, of both families, by link index.
func (d *nlDumper) readAddrs() (map[int][]string, error) {
	return dumpRetry(func() (map[int][]string, error) {
		out := map[int][]string{}
		err := d.dump(unix.RTM_GETADDR, make([]byte, unix.SizeofIfAddrmsg), func(typ uint16, m []byte) {
			if typ != unix.RTM_NEWADDR || len(m) < unix.SizeofIfAddrmsg {
				return
			}
			family, prefix := m[0], int(m[1])
			var local, addr []byte
			attrs(m, unix.SizeofIfAddrmsg, func(typ uint16, v []byte) {
				switch typ {
				case unix.IFA_ADDRESS:
					addr = v
				case unix.IFA_LOCAL:
					local = v
				}
			})
			// IPv4 sends IFA_LOCAL and IFA_ADDRESS, the peer's when a
			// point-to-point address has one: the local address stands
			// alone then (a host prefix), as ip addr shows it.
			var s string
			switch {
			case local != nil && !(family == unix.AF_INET && addr != nil && net.IP(local).Equal(net.IP(addr))):
				s = ipNet(local, 8*len(local))
			case addr != nil:
				s = ipNet(addr, prefix)
			default:
				return
			}
			idx := int(binary.NativeEndian.Uint32(m[4:8]))
			out[idx] = append(out[idx], s)
		})
		return out, err
	})
}

// rtRoute is one IPv4 route of a dump, its device still an index.
type rtRoute struct {
	Route
	dev int
}

// readRoutes dumps the IPv4 routes of every table, leaving out the
// kernel's cloned (cached) routes.
func (d *nlDumper) readRoutes() ([]rtRoute, error) {
	return dumpRetry(func() ([]rtRoute, error) {
		var out []rtRoute
		req := make([]byte, unix.SizeofRtMsg)
		req[0] = unix.AF_INET
		err := d.dump(unix.RTM_GETROUTE, req, func(typ uint16, m []byte) {
			if typ != unix.RTM_NEWROUTE || len(m) < unix.SizeofRtMsg || m[0] != unix.AF_INET {
				return
			}
			flags := binary.NativeEndian.Uint32(m[8:12])
			if flags&unix.RTM_F_CLONED != 0 {
				return
			}
			dstLen := int(m[1])
			r := rtRoute{Route: Route{Table: int(m[4]), Dst: "default", Scope: netlink.Scope(m[6]).String(),
				Onlink: flags&unix.RTNH_F_ONLINK != 0}}
			if t := int(m[7]); t != unix.RTN_UNICAST {
				r.Type = routeType(t)
			}
			attrs(m, unix.SizeofRtMsg, func(typ uint16, v []byte) {
				switch typ {
				case unix.RTA_DST:
					if s := ipNet(v, dstLen); s != "0.0.0.0/0" {
						r.Dst = s
					}
				case unix.RTA_GATEWAY:
					r.Gw = net.IP(v).String()
				case unix.RTA_PREFSRC:
					r.Src = net.IP(v).String()
				case unix.RTA_OIF:
					r.dev = int(u32(v))
				case unix.RTA_TABLE:
					r.Table = int(u32(v))
				}
			})
			out = append(out, r)
		})
		return out, err
	})
}

// readRules dumps the IPv4 policy routing rules.
func (d *nlDumper) readRules() ([]RouteRule, error) {
	return dumpRetry(func() ([]RouteRule, error) {
		var out []RouteRule
		req := make([]byte, 12) // struct fib_rule_hdr
		req[0] = unix.AF_INET
		err := d.dump(unix.RTM_GETRULE, req, func(typ uint16, m []byte) {
			if typ != unix.RTM_NEWRULE || len(m) < 12 {
				return
			}
			dstLen, srcLen := int(m[1]), int(m[2])
			var r RouteRule // priority 0 unless the kernel says otherwise
			attrs(m, 12, func(typ uint16, v []byte) {
				switch typ {
				case unix.FRA_PRIORITY:
					r.Priority = int(u32(v))
				case unix.FRA_TABLE:
					r.Table = int(u32(v))
				case unix.FRA_IIFNAME:
					r.IIF = nlmsg.String(v)
				case unix.FRA_OIFNAME:
					r.OIF = nlmsg.String(v)
				case unix.FRA_FWMARK:
					r.Mark = u32(v)
				case unix.FRA_FWMASK:
					r.Mask = u32(v)
				case unix.FRA_SRC:
					r.Src = ipNet(v, srcLen)
				case unix.FRA_DST:
					r.Dst = ipNet(v, dstLen)
				}
			})
			out = append(out, r)
		})
		return out, err
	})
}

// rtNeigh is one neighbour entry of a dump.
type rtNeigh struct {
	index, state int
	ip, mac      []byte
}

// readNeighs dumps the neighbour (or, for AF_BRIDGE, forwarding
// database) entries of a family, of one link when index is not 0. An
// entry whose link-layer address is an IPv4 address (a tunnel's) has no
// MAC.
func (d *nlDumper) readNeighs(family uint8, index int) ([]rtNeigh, error) {
	return dumpRetry(func() ([]rtNeigh, error) {
		var out []rtNeigh
		req := make([]byte, unix.SizeofNdMsg)
		req[0] = family
		binary.NativeEndian.PutUint32(req[4:8], uint32(index))
		err := d.dump(unix.RTM_GETNEIGH, req, func(typ uint16, m []byte) {
			if typ != unix.RTM_NEWNEIGH || len(m) < unix.SizeofNdMsg || m[0] != family {
				return
			}
			nb := rtNeigh{index: int(int32(binary.NativeEndian.Uint32(m[4:8]))), state: int(binary.NativeEndian.Uint16(m[8:10]))}
			if index != 0 && nb.index != index {
				return
			}
			attrs(m, unix.SizeofNdMsg, func(typ uint16, v []byte) {
				switch typ {
				case unix.NDA_DST:
					nb.ip = bytes.Clone(v) // the buffer is the next receive's
				case unix.NDA_LLADDR:
					if len(v) != 4 {
						nb.mac = bytes.Clone(v)
					}
				}
			})
			out = append(out, nb)
		})
		return out, err
	})
}

// fdb is a VXLAN link's forwarding database: the remote VTEP of each MAC.
func (d *nlDumper) fdb(index int) ([]FDBEntry, error) {
	entries, err := d.readNeighs(unix.AF_BRIDGE, index)
	var out []FDBEntry
	for _, e := range entries {
		if dst, ok := netip.AddrFromSlice(e.ip); ok {
			out = append(out, FDBEntry{MAC: net.HardwareAddr(e.mac).String(), Dst: dst.Unmap()})
		}
	}
	return out, err
}
