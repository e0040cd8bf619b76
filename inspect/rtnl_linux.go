package inspect

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

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

// errDumpInterrupted is a dump whose table changed while the kernel
// walked it (NLM_F_DUMP_INTR): read again.
var errDumpInterrupted = errors.New("dump interrupted by a change")

// nlDumper sends dump requests on one netlink socket and walks the reply.
type nlDumper struct {
	fd  int
	buf []byte
	seq uint32
}

// dump sends a request of type typ with body and calls each with every
// reply message's type and payload, until the reply's end. An
// interrupted dump is read to its end and reported as
// errDumpInterrupted.
func (d *nlDumper) dump(typ uint16, body []byte, each func(typ uint16, m []byte)) error {
	d.seq++
	req := make([]byte, unix.NLMSG_HDRLEN+len(body))
	binary.NativeEndian.PutUint32(req[0:4], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:6], typ)
	binary.NativeEndian.PutUint16(req[6:8], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:12], d.seq)
	copy(req[unix.NLMSG_HDRLEN:], body)
	if err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	intr := false
	for {
		n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b := d.buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return fmt.Errorf("netlink: malformed message (%d bytes of %d)", l, len(b))
			}
			mtyp := binary.NativeEndian.Uint16(b[4:6])
			flags := binary.NativeEndian.Uint16(b[6:8])
			seq := binary.NativeEndian.Uint32(b[8:12])
			m := b[unix.NLMSG_HDRLEN:l]
			b = b[min(nlAlign(l), len(b)):]
			if seq != d.seq {
				continue // a late reply to an earlier request
			}
			intr = intr || flags&unix.NLM_F_DUMP_INTR != 0
			switch mtyp {
			case unix.NLMSG_DONE:
				if intr {
					return errDumpInterrupted
				}
				return nil
			case unix.NLMSG_ERROR:
				if len(m) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(m[:4])); e != 0 {
						return unix.Errno(-e)
					}
				}
				return nil
			case unix.NLMSG_NOOP:
				continue
			}
			each(mtyp, m)
		}
	}
}

// dumpRetry runs a read again while the kernel reports its dump
// interrupted, a few times; the last read stands.
func dumpRetry[T any](read func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := read()
		if !errors.Is(err, errDumpInterrupted) || i == 2 {
			return v, err
		}
	}
}

func nlAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// attrs walks route attributes: next moves to the following one (its
// type without the nested and byte-order flags, and its value).
type attrs struct {
	b   []byte
	typ uint16
	val []byte
}

func (a *attrs) next() bool {
	if len(a.b) < unix.SizeofRtAttr {
		return false
	}
	l := int(binary.NativeEndian.Uint16(a.b[0:2]))
	if l < unix.SizeofRtAttr || l > len(a.b) {
		return false
	}
	a.typ = binary.NativeEndian.Uint16(a.b[2:4]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
	a.val = a.b[unix.SizeofRtAttr:l]
	a.b = a.b[min(unix.RTA_ALIGNTO*((l+unix.RTA_ALIGNTO-1)/unix.RTA_ALIGNTO), len(a.b)):]
	return true
}

func attrsOf(m []byte, hdr int) attrs {
	if len(m) < hdr {
		return attrs{}
	}
	return attrs{b: m[hdr:]}
}

func u32(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(b)
}

// cstring is a NUL-terminated attribute's text.
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
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
			for a := attrsOf(m, unix.SizeofIfInfomsg); a.next(); {
				switch a.typ {
				case unix.IFLA_IFNAME:
					l.Name = cstring(a.val)
				case unix.IFLA_MTU:
					l.MTU = int(u32(a.val))
				case unix.IFLA_ADDRESS:
					for _, b := range a.val {
						if b != 0 { // an all-zero address is none
							l.MAC = net.HardwareAddr(a.val).String()
							break
						}
					}
				case unix.IFLA_LINK:
					l.parent = int(u32(a.val))
				case unix.IFLA_MASTER:
					l.master = int(u32(a.val))
				case unix.IFLA_LINK_NETNSID:
					l.netnsID = int(int32(u32(a.val)))
				case unix.IFLA_LINKINFO:
					for in := (attrs{b: a.val}); in.next(); {
						switch in.typ {
						case unix.IFLA_INFO_KIND:
							kind = cstring(in.val)
						case unix.IFLA_INFO_DATA:
							data = in.val
						}
					}
				}
			}
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
	for a := (attrs{b: b}); a.next(); {
		switch a.typ {
		case unix.IFLA_VXLAN_ID:
			v.VNI = int(u32(a.val))
		case unix.IFLA_VXLAN_LINK:
			v.dev = int(u32(a.val))
		case unix.IFLA_VXLAN_LOCAL, unix.IFLA_VXLAN_LOCAL6:
			v.Local = net.IP(a.val).String()
		case unix.IFLA_VXLAN_LEARNING:
			v.Learner = len(a.val) > 0 && a.val[0] != 0
		case unix.IFLA_VXLAN_PORT:
			if len(a.val) >= 2 {
				v.Port = int(binary.BigEndian.Uint16(a.val))
			}
		}
	}
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
			for a := attrsOf(m, unix.SizeofIfAddrmsg); a.next(); {
				switch a.typ {
				case unix.IFA_ADDRESS:
					addr = a.val
				case unix.IFA_LOCAL:
					local = a.val
				}
			}
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
			for a := attrsOf(m, unix.SizeofRtMsg); a.next(); {
				switch a.typ {
				case unix.RTA_DST:
					if s := ipNet(a.val, dstLen); s != "0.0.0.0/0" {
						r.Dst = s
					}
				case unix.RTA_GATEWAY:
					r.Gw = net.IP(a.val).String()
				case unix.RTA_PREFSRC:
					r.Src = net.IP(a.val).String()
				case unix.RTA_OIF:
					r.dev = int(u32(a.val))
				case unix.RTA_TABLE:
					r.Table = int(u32(a.val))
				}
			}
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
			for a := attrsOf(m, 12); a.next(); {
				switch a.typ {
				case unix.FRA_PRIORITY:
					r.Priority = int(u32(a.val))
				case unix.FRA_TABLE:
					r.Table = int(u32(a.val))
				case unix.FRA_IIFNAME:
					r.IIF = cstring(a.val)
				case unix.FRA_OIFNAME:
					r.OIF = cstring(a.val)
				case unix.FRA_FWMARK:
					r.Mark = u32(a.val)
				case unix.FRA_FWMASK:
					r.Mask = u32(a.val)
				case unix.FRA_SRC:
					r.Src = ipNet(a.val, srcLen)
				case unix.FRA_DST:
					r.Dst = ipNet(a.val, dstLen)
				}
			}
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
			for a := attrsOf(m, unix.SizeofNdMsg); a.next(); {
				switch a.typ {
				case unix.NDA_DST:
					nb.ip = bytes.Clone(a.val) // the buffer is the next receive's
				case unix.NDA_LLADDR:
					if len(a.val) != 4 {
						nb.mac = bytes.Clone(a.val)
					}
				}
			}
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
