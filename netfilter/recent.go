package netfilter

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ParseXTRecent reads one xt_recent list as the kernel prints it in
// /proc/net/xt_recent/NAME, a line per address:
//
//	src=10.244.2.2 ttl: 64 last_seen: 4299419925 oldest_pkt: 2 4299419900, 4299419925
//
// Times are in jiffies; now is the kernel's jiffies when the list was
// read and hz their rate (CONFIG_HZ), so each entry is aged from the read.
func ParseXTRecent(name string, r io.Reader, now, hz uint64) (RecentTable, error) {
	t := RecentTable{Name: name}
	if hz == 0 {
		return t, fmt.Errorf("xt_recent %s: no jiffies rate", name)
	}
	age := func(j uint64) time.Duration {
		if j > now {
			return 0 // seen after the clock was read
		}
		return time.Duration((now-j)*1000/hz) * time.Millisecond
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		bad := func(what string) error { return fmt.Errorf("xt_recent %s line %d: %s: %q", name, n, what, line) }
		src, rest, ok := strings.Cut(line, " ttl: ")
		a, err := netip.ParseAddr(strings.TrimPrefix(src, "src="))
		if !ok || !strings.HasPrefix(src, "src=") || err != nil {
			return t, bad("no src= address")
		}
		ttl, rest, ok1 := strings.Cut(rest, " last_seen: ")
		last, rest, ok2 := strings.Cut(rest, " oldest_pkt: ")
		if !ok1 || !ok2 {
			return t, bad("no ttl, last_seen or oldest_pkt")
		}
		tv, err1 := strconv.ParseUint(ttl, 10, 8)
		lv, err2 := strconv.ParseUint(last, 10, 64)
		if err1 != nil || err2 != nil {
			return t, bad("bad ttl or last_seen")
		}
		e := RecentEntry{Addr: a.Unmap(), TTL: uint8(tv), LastSeen: age(lv)}
		// "INDEX t0, t1, ...": the stamps follow the ring's index.
		_, stamps, _ := strings.Cut(rest, " ")
		for _, s := range strings.Split(stamps, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return t, bad("bad packet time " + s)
			}
			e.Seen = append(e.Seen, age(v))
		}
		t.Entries = append(t.Entries, e)
	}
	return t, sc.Err()
}

// RecentTableNamed finds the xt_recent list called name.
func RecentTableNamed(tables []RecentTable, name string) *RecentTable {
	for i := range tables {
		if tables[i].Name == name {
			return &tables[i]
		}
	}
	return nil
}

// Check answers -m recent's question for a packet's address (the source
// with --rsource, the destination with --rdest) and TTL, as xt_recent
// does: is the masked address in the list, seen within Seconds (and at
// least HitCount times in them)? It returns the entry that answered yes.
// --set always matches; a list without the address answers no.
func (rc *Recent) Check(t *RecentTable, addr netip.Addr, ttl uint8) (bool, *RecentEntry) {
	if rc.Mode == "set" {
		return true, nil
	}
	if t == nil {
		return false, nil
	}
	a := maskAddr(addr, rc.Mask)
	for i := range t.Entries {
		e := &t.Entries[i]
		if maskAddr(e.Addr, rc.Mask) != a {
			continue
		}
		if rc.RTTL && ttl != 0 && e.TTL != ttl {
			return false, nil
		}
		if rc.Seconds == 0 && rc.HitCount == 0 {
			return true, e
		}
		window := time.Duration(rc.Seconds) * time.Second
		hits := uint32(0)
		for _, s := range e.Seen {
			if rc.Seconds == 0 || s <= window {
				hits++
			}
		}
		if len(e.Seen) == 0 && (rc.Seconds == 0 || e.LastSeen <= window) {
			hits = 1
		}
		need := max(rc.HitCount, 1)
		return hits >= need, e
	}
	return false, nil
}

func maskAddr(a, mask netip.Addr) netip.Addr {
	if !mask.IsValid() || a.BitLen() != mask.BitLen() {
		return a
	}
	ab, mb := a.AsSlice(), mask.AsSlice()
	for i := range ab {
		ab[i] &= mb[i]
	}
	out, _ := netip.AddrFromSlice(ab)
	return out
}
