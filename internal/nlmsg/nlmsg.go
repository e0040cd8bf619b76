// Package nlmsg sends netlink requests over a raw socket and walks their
// answers: a dump to its NLMSG_DONE, a request to its acknowledgement, a
// message's attributes. netx's netlink readers (route netlink and
// sock_diag in inspect, nf_tables in netfilter/nftnl) speak through it and
// decode only what they show, instead of a library decoding every
// attribute of every object into its own types.
package nlmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrDumpInterrupted is a dump whose objects changed while the kernel
// walked them (NLM_F_DUMP_INTR): read it again.
var ErrDumpInterrupted = errors.New("dump interrupted by a change")

// Attrs calls fn with each attribute in b: its type (without the nested
// and byte-order flags) and its value. A malformed attribute is an error;
// so is fn's, which stops the walk.
func Attrs(b []byte, fn func(typ uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return fmt.Errorf("truncated attribute")
		}
		l := int(binary.NativeEndian.Uint16(b[0:]))
		t := binary.NativeEndian.Uint16(b[2:]) & typeMask
		if l < 4 || l > len(b) {
			return fmt.Errorf("bad attribute length %d", l)
		}
		if err := fn(t, b[4:l]); err != nil {
			return err
		}
		b = b[min(len(b), align(l)):]
	}
	return nil
}

// typeMask is an attribute's type without NLA_F_NESTED and
// NLA_F_NET_BYTEORDER.
const typeMask = 0x3fff

func align(n int) int { return (n + 3) &^ 3 }

// String is a NUL-terminated attribute's text.
func String(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}
