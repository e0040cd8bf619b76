package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/netx-project/netx/internal/nsenter"
)

// rcvBuf is the socket receive buffer asked for: a few milliseconds of a
// busy link's IPv4 traffic, so a burst around the probe is not dropped
// while a reader goroutine is descheduled.
const rcvBuf = 4 << 20

// Classic BPF ancillary offsets (linux/filter.h): a load from
// skfAdOff+skfAdProtocol reads skb->protocol, whatever the link layer.
const (
	skfAdOff      = 0xfffff000 // -0x1000 as the uint32 K operand
	skfAdProtocol = 0
)

// ipv4Filter keeps IPv4 packets, cut at SnapLen, and drops the rest in
// the kernel. It tests skb->protocol rather than the Ethernet type at
// offset 12 so that it also works on devices without a link layer (ipip,
// wireguard). VXLAN's inner packets are IPv4 inside IPv4 UDP, so they pass.
var ipv4Filter = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: skfAdOff + skfAdProtocol},
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.ETH_P_IP},
	{Code: unix.BPF_RET | unix.BPF_K, K: SnapLen},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},
}

// dropAll replaces ipv4Filter when stopping, so that draining a socket
// ends: nothing new is queued behind what is already there.
var dropAll = []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}

// Set is a running capture: one socket and one reader goroutine per point.
type Set struct {
	readers []*reader
	once    sync.Once
	stopped atomic.Bool
	pkts    []Packet
}

// reader owns one point's socket. Its fields are used by its goroutine
// until done is closed, then by Stop.
type reader struct {
	index    int
	point    Point
	linkType layers.LinkType
	keep     func(Packet) bool
	file     *os.File
	conn     syscall.RawConn
	done     chan struct{}

	buf, oob []byte
	pkts     []Packet
	bytes    int
	stats    Stats
	err      error
}

// Start opens one AF_PACKET socket per point, each created inside the
// point's network namespace and bound to its device, and reads them from
// ordinary goroutines. It returns once every socket is bound, so a probe
// sent after Start returns is not missed. keep (nil: keep all) chooses the
// packets to store; it is called from one goroutine per point, so it must
// be safe for concurrent use, and the Data of the packet it is given is
// only valid during the call. A point that cannot be opened (no such
// device in its namespace, namespace gone) fails Start with an error
// naming it, and closes what was already opened.
func Start(points []Point, keep func(Packet) bool) (*Set, error) {
	if keep == nil {
		keep = func(Packet) bool { return true }
	}
	s := &Set{}
	for i, p := range points {
		r, err := open(i, p, keep)
		if err != nil {
			for _, r := range s.readers {
				r.file.Close()
			}
			return nil, err
		}
		s.readers = append(s.readers, r)
	}
	for _, r := range s.readers {
		go r.run()
	}
	return s, nil
}

// open makes the point's socket. Only socket(2) runs in the point's
// namespace: the socket belongs to it for life, and everything after
// (device lookup, bind, options) goes through the socket from here.
func open(i int, p Point, keep func(Packet) bool) (*reader, error) {
	fd := -1
	err := nsenter.Do(nsenter.Net(p.Netns), func() error {
		var err error
		// Protocol 0: nothing is queued until bind names the protocol,
		// so no packet arrives before the filter is on.
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("capture at %s: open packet socket: %w", p, err)
	}
	lt, err := configure(fd, p)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	// The descriptor is non-blocking, so os.NewFile puts it in the
	// runtime's poller: reads park the goroutine, not a thread, and a
	// deadline wakes them. From here the file owns the descriptor.
	f := os.NewFile(uintptr(fd), "packet:"+p.Name())
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, fmt.Errorf("capture at %s: socket not pollable: %w", p, err)
	}
	conn, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("capture at %s: %w", p, err)
	}
	return &reader{
		index: i, point: p, linkType: lt, keep: keep, file: f, conn: conn,
		done: make(chan struct{}),
		buf:  make([]byte, SnapLen),
		oob:  make([]byte, unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))+unix.CmsgSpace(int(unsafe.Sizeof(unix.TpacketAuxdata{})))),
	}, nil
}

// configure finds the device, filters, and binds the socket to the device.
func configure(fd int, p Point) (layers.LinkType, error) {
	ifindex, hwType, err := device(fd, p.Device)
	if errors.Is(err, unix.ENODEV) {
		return 0, fmt.Errorf("capture at %s: no device %q in that network namespace", p, p.Device)
	}
	if err != nil {
		return 0, fmt.Errorf("capture at %s: look up device %q: %w", p, p.Device, err)
	}
	var lt layers.LinkType
	switch hwType {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		lt = layers.LinkTypeEthernet
	case unix.ARPHRD_NONE, unix.ARPHRD_TUNNEL: // wireguard and tun; ipip
		lt = layers.LinkTypeRaw
	default:
		return 0, fmt.Errorf("capture at %s: device %q has hardware type %d, which netx cannot decode", p, p.Device, hwType)
	}
	if err := attach(fd, ipv4Filter); err != nil {
		return 0, fmt.Errorf("capture at %s: attach filter: %w", p, err)
	}
	// FORCE goes past net.core.rmem_max (root has CAP_NET_ADMIN); a
	// smaller buffer only risks drops, which Stats reports.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	for _, o := range [][3]int{
		{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1}, // kernel time of each packet
		{unix.SOL_PACKET, unix.PACKET_AUXDATA, 1}, // length before SnapLen cut it
	} {
		if err := unix.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
			return 0, fmt.Errorf("capture at %s: socket option %d: %w", p, o[1], err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return 0, fmt.Errorf("capture at %s: bind to %s: %w", p, p.Device, err)
	}
	return lt, nil
}

// device returns the index and hardware type (ARPHRD_*) of a device, as
// seen from the namespace the socket lives in.
func device(fd int, name string) (index int, hwType uint16, err error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, 0, err
	}
	index = int(ifr.Uint32())
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, 0, err
	}
	return index, ifr.Uint16(), nil // sa_family of ifr_hwaddr
}

func attach(fd int, prog []unix.SockFilter) error {
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
}

func htons(v uint16) uint16 {
	return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v))
}

// run reads until Stop sets a deadline in the past or reading fails.
func (r *reader) run() {
	defer close(r.done)
	for {
		var rerr error
		err := r.conn.Read(func(fd uintptr) bool {
			rerr = r.drain(int(fd))
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil { // Stop's deadline
			return
		}
		if rerr != nil {
			r.err = fmt.Errorf("capture at %s: read: %w", r.point, rerr)
			return
		}
	}
}

// drain reads packets until the queue is empty (EAGAIN) or reading fails.
func (r *reader) drain(fd int) error {
	for {
		err := r.readOne(fd)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
	}
}

func (r *reader) readOne(fd int) error {
	n, oobn, _, from, err := unix.Recvmsg(fd, r.buf, r.oob, 0)
	if err != nil {
		return err
	}
	r.stats.Read++
	p := Decode(r.buf[:n], r.linkType)
	p.Point = r.index
	if ll, ok := from.(*unix.SockaddrLinklayer); ok {
		p.Outgoing = ll.Pkttype == unix.PACKET_OUTGOING
	}
	p.Time, p.Length = time.Now(), n
	if msgs, err := unix.ParseSocketControlMessage(r.oob[:oobn]); err == nil {
		for _, m := range msgs {
			switch {
			case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS &&
				len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})):
				ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
				p.Time = time.Unix(int64(ts.Sec), int64(ts.Nsec))
			case m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA &&
				len(m.Data) >= int(unsafe.Sizeof(unix.TpacketAuxdata{})):
				aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
				p.Length = max(int(aux.Len), n)
			}
		}
	}
	if !r.keep(p) {
		return nil
	}
	if len(r.pkts) >= MaxPackets || r.bytes+n > MaxBytes {
		r.stats.Over++
		return nil
	}
	p.Data = append([]byte(nil), p.Data...) // the rest of p is values or fresh
	r.pkts = append(r.pkts, p)
	r.bytes += n
	r.stats.Kept++
	return nil
}

// Stop stops every point: no new packet is queued, what the kernel had
// already queued is read, and the sockets are closed. It returns the
// packets of all points in time order; later calls return the same.
func (s *Set) Stop() []Packet {
	s.once.Do(func() {
		for _, r := range s.readers {
			r.conn.Control(func(fd uintptr) { attach(int(fd), dropAll) })
			r.file.SetReadDeadline(time.Unix(1, 0)) // wakes the reader
		}
		for _, r := range s.readers {
			<-r.done
			r.conn.Control(func(fd uintptr) {
				if err := r.drain(int(fd)); !errors.Is(err, unix.EAGAIN) && r.err == nil {
					r.err = fmt.Errorf("capture at %s: read: %w", r.point, err)
				}
				if st, err := unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
					r.stats.Dropped = uint64(st.Drops)
				}
			})
			r.file.Close()
			s.pkts = append(s.pkts, r.pkts...)
			r.pkts = nil
		}
		sortPackets(s.pkts)
		s.stopped.Store(true)
	})
	return s.pkts
}

// Stats returns each point's counts, in the order of the points, once
// Stop has returned (nil before).
func (s *Set) Stats() []Stats {
	if !s.stopped.Load() {
		return nil
	}
	out := make([]Stats, len(s.readers))
	for i, r := range s.readers {
		out[i] = r.stats
	}
	return out
}

// Err returns what made points stop reading early (a device deleted
// while capturing), once Stop has returned (nil before).
func (s *Set) Err() error {
	if !s.stopped.Load() {
		return nil
	}
	var errs []error
	for _, r := range s.readers {
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return errors.Join(errs...)
}
