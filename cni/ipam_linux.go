package cni

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// store hands out the pod network's addresses on this node, one file per
// address in <dataDir>/networks/<network>/ holding the owner's container
// ID and interface name, and one per holder (by-holder/<hash>) naming its
// address, so that neither ADD nor DEL reads every file; under a lock
// file. The state survives the plugin's process and the node's reboots,
// as host-local's does.
type store struct {
	dir  string
	lock *os.File
}

// attachment is who holds an address.
type attachment struct{ containerID, ifName string }

func (a attachment) line() string { return a.containerID + "\n" + a.ifName + "\n" }

// openStore opens and locks the network's store; close unlocks it.
func openStore(dataDir, network string) (*store, error) {
	dir := filepath.Join(dataDir, "networks", network)
	if err := os.MkdirAll(filepath.Join(dir, "by-holder"), 0o700); err != nil {
		return nil, fmt.Errorf("netx-cni: address store: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("netx-cni: address store: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("netx-cni: lock the address store: %w", err)
	}
	return &store{dir: dir, lock: f}, nil
}

func (s *store) close() {
	unix.Flock(int(s.lock.Fd()), unix.LOCK_UN)
	s.lock.Close()
}

// held lists the addresses handed out and their holders.
func (s *store) held() (map[netip.Addr]attachment, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]attachment{}
	for _, e := range ents {
		ip, err := netip.ParseAddr(e.Name())
		if err != nil {
			continue // lock, last
		}
		b, err := os.ReadFile(filepath.Join(s.dir, e.Name()))
		if err != nil {
			return nil, err
		}
		id, ifn, _ := strings.Cut(strings.TrimSuffix(string(b), "\n"), "\n")
		out[ip] = attachment{id, ifn}
	}
	return out, nil
}

// keyFile is a's holder file.
func (s *store) keyFile(a attachment) string {
	sum := sha256.Sum256([]byte(a.containerID + "/" + a.ifName))
	return filepath.Join(s.dir, "by-holder", hex.EncodeToString(sum[:16]))
}

// find is the address a holds, if any.
func (s *store) find(a attachment) (netip.Addr, bool, error) {
	b, err := os.ReadFile(s.keyFile(a))
	if errors.Is(err, os.ErrNotExist) {
		return netip.Addr{}, false, nil
	}
	if err != nil {
		return netip.Addr{}, false, err
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(string(b)))
	if err != nil {
		return netip.Addr{}, false, fmt.Errorf("netx-cni: address store: %s: %w", s.keyFile(a), err)
	}
	return ip, true, nil
}

// allocate hands a the next free address of cidr after the last one
// handed out (round robin, as host-local: an address just freed is not
// reused at once), never the network's, the gateway's or the broadcast.
func (s *store) allocate(cidr netip.Prefix, a attachment) (netip.Addr, error) {
	first := gateway(cidr).Addr().Next()
	last := lastAddr(cidr).Prev() // not the broadcast
	start := first
	if b, err := os.ReadFile(filepath.Join(s.dir, "last")); err == nil {
		if ip, err := netip.ParseAddr(strings.TrimSpace(string(b))); err == nil && cidr.Contains(ip) && ip.Compare(first) >= 0 && ip.Compare(last) < 0 {
			start = ip.Next()
		}
	}
	// An address's file is its reservation: made exclusively, so a taken
	// one is skipped without listing the store (which grows with the
	// node's pods).
	for ip, tried := start, 0; ; tried++ {
		f, err := os.OpenFile(filepath.Join(s.dir, ip.String()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.WriteString(a.line())
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr == nil {
				werr = os.WriteFile(s.keyFile(a), []byte(ip.String()+"\n"), 0o600)
			}
			if werr != nil {
				os.Remove(f.Name())
				return netip.Addr{}, fmt.Errorf("netx-cni: reserve %s: %w", ip, werr)
			}
			os.WriteFile(filepath.Join(s.dir, "last"), []byte(ip.String()+"\n"), 0o600)
			return ip, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return netip.Addr{}, fmt.Errorf("netx-cni: reserve %s: %w", ip, err)
		}
		if ip = ip.Next(); ip.Compare(last) > 0 {
			ip = first
		}
		if ip == start {
			return netip.Addr{}, fmt.Errorf("netx-cni: the pod network %s has no free address (all %d held)", cidr, tried+1)
		}
	}
}

func (s *store) release(a attachment) (netip.Addr, error) {
	ip, ok, err := s.find(a)
	if err != nil || !ok {
		return netip.Addr{}, err
	}
	return ip, s.free(ip, a)
}

// free removes ip's file and its holder's.
func (s *store) free(ip netip.Addr, a attachment) error {
	for _, f := range []string{filepath.Join(s.dir, ip.String()), s.keyFile(a)} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// lastAddr is the prefix's last address (its broadcast).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	for i := 3; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	return netip.AddrFrom4(b)
}
