package nlmsg

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Conn is an open netlink socket (living in the namespace it reads) and
// the buffer its answers are received into.
type Conn struct {
	FD  int
	Buf []byte
	seq uint32
}

// Request sends one message of type typ with body — flags beyond
// NLM_F_REQUEST: NLM_F_DUMP for a dump, NLM_F_ACK for a single answer —
// and calls fn with the type and payload of each message answering it,
// until the answer ends: NLMSG_DONE for a dump, the acknowledgement
// otherwise. The payload lies in Buf, which the next receive reuses: fn
// copies what it keeps. The kernel's error ends the request as a
// unix.Errno. fn's first error, and ErrDumpInterrupted for a dump the
// kernel marked interrupted, are returned once the answer is read to its
// end, so the socket stays in step for the next request.
func (c *Conn) Request(typ, flags uint16, body []byte, fn func(typ uint16, payload []byte) error) error {
	c.seq++
	seq := c.seq
	req := make([]byte, unix.NLMSG_HDRLEN+len(body))
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], typ)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|flags)
	binary.NativeEndian.PutUint32(req[8:], seq)
	copy(req[unix.NLMSG_HDRLEN:], body)
	if err := unix.Sendto(c.FD, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	dump := flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP
	var ferr error
	interrupted := false
	for {
		n, err := unix.Read(c.FD, c.Buf)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("receive: %w", err)
		}
		b := c.Buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(b[0:]))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return fmt.Errorf("receive: truncated message")
			}
			mtyp := binary.NativeEndian.Uint16(b[4:])
			mflags := binary.NativeEndian.Uint16(b[6:])
			mseq := binary.NativeEndian.Uint32(b[8:])
			payload := b[unix.NLMSG_HDRLEN:l]
			b = b[min(len(b), align(l)):]
			if mseq != seq {
				continue // a late answer to an earlier request
			}
			interrupted = interrupted || mflags&unix.NLM_F_DUMP_INTR != 0
			switch mtyp {
			case unix.NLMSG_DONE:
				if interrupted {
					return ErrDumpInterrupted
				}
				return ferr
			case unix.NLMSG_ERROR:
				if len(payload) < 4 {
					return fmt.Errorf("receive: short error message")
				}
				if e := int32(binary.NativeEndian.Uint32(payload)); e != 0 {
					return unix.Errno(-e)
				}
				if !dump {
					return ferr // the acknowledgement
				}
				continue
			case unix.NLMSG_NOOP:
				continue
			}
			if ferr == nil {
				ferr = fn(mtyp, payload)
			}
		}
	}
}
