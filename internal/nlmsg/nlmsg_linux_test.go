package nlmsg

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAttrs: types lose their flags, values their padding; a truncated
// or overlong attribute is an error; fn's error stops the walk.
func TestAttrs(t *testing.T) {
	var b []byte
	put := func(typ uint16, v []byte) {
		a := make([]byte, 4+len(v), align(4+len(v)))
		binary.NativeEndian.PutUint16(a[0:], uint16(4+len(v)))
		binary.NativeEndian.PutUint16(a[2:], typ)
		copy(a[4:], v)
		b = append(b, a[:cap(a)]...)
	}
	put(3, []byte("eth0\x00"))
	put(18|unix.NLA_F_NESTED, []byte{1, 2, 3, 4})
	put(4|unix.NLA_F_NET_BYTEORDER, []byte{0, 0, 5, 0xdc})
	var got []uint16
	var name string
	err := Attrs(b, func(typ uint16, v []byte) error {
		got = append(got, typ)
		if typ == 3 {
			name = String(v)
		}
		return nil
	})
	if err != nil || len(got) != 3 || got[0] != 3 || got[1] != 18 || got[2] != 4 || name != "eth0" {
		t.Errorf("Attrs: types %v, name %q, %v; want [3 18 4], eth0", got, name, err)
	}
	if err := Attrs(b[:len(b)-2], func(uint16, []byte) error { return nil }); err == nil {
		t.Error("Attrs of a truncated attribute: no error")
	}
	stop := errors.New("stop")
	n := 0
	if err := Attrs(b, func(uint16, []byte) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Attrs with fn failing: %v after %d calls, want stop after 1", err, n)
	}
	if String([]byte("lo")) != "lo" || String([]byte("lo\x00junk")) != "lo" {
		t.Error("String: want the text up to the first NUL")
	}
}

// TestRequest: against the kernel (a route netlink socket in this
// process's namespace, which needs no privilege), a dump of the links is
// read to its end and holds every link net.Interfaces knows; a failing
// fn is returned with the socket still in step for the next dump; a
// request the kernel refuses is its errno; one with an acknowledgement
// ends at it. Only gets: nothing is changed.
func TestRequest(t *testing.T) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		t.Skipf("no route netlink here: %v", err)
	}
	defer unix.Close(fd)
	c := Conn{FD: fd, Buf: make([]byte, 32*1024)}
	links := func() (map[string]bool, error) {
		names := map[string]bool{}
		err := c.Request(unix.RTM_GETLINK, unix.NLM_F_DUMP, make([]byte, unix.SizeofIfInfomsg), func(typ uint16, m []byte) error {
			if typ != unix.RTM_NEWLINK || len(m) < unix.SizeofIfInfomsg {
				return errors.New("not a link")
			}
			return Attrs(m[unix.SizeofIfInfomsg:], func(typ uint16, v []byte) error {
				if typ == unix.IFLA_IFNAME {
					names[String(v)] = true
				}
				return nil
			})
		})
		return names, err
	}
	names, err := links()
	if err != nil {
		t.Fatal(err)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if !names[i.Name] {
			t.Errorf("link %s not in the dump %v", i.Name, names)
		}
	}

	stop := errors.New("stop")
	calls := 0
	err = c.Request(unix.RTM_GETLINK, unix.NLM_F_DUMP, make([]byte, unix.SizeofIfInfomsg), func(uint16, []byte) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("dump with fn failing: %v after %d calls, want stop after 1", err, calls)
	}
	if again, err := links(); err != nil || len(again) != len(names) {
		t.Errorf("dump after a failed one: %v, %v; want %v", again, err, names)
	}

	// A get of a link that does not exist: refused, and nothing asked of
	// the kernel changes anything.
	none := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(none[4:], 1<<30)
	err = c.Request(unix.RTM_GETLINK, unix.NLM_F_ACK, none, func(uint16, []byte) error { return nil })
	if !errors.Is(err, unix.ENODEV) {
		t.Errorf("a get of link %d: %v, want the kernel's ENODEV", 1<<30, err)
	}
	// An acknowledged get: the link, then the acknowledgement.
	lo := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(lo[4:], 1)
	got := 0
	if err := c.Request(unix.RTM_GETLINK, unix.NLM_F_ACK, lo, func(typ uint16, _ []byte) error { got++; return nil }); err != nil || got != 1 {
		t.Errorf("get of link 1 with an acknowledgement: %d answers, %v; want 1", got, err)
	}
	if again, err := links(); err != nil || len(again) != len(names) {
		t.Errorf("dump after the get: %v, %v; want %v", again, err, names)
	}
}
