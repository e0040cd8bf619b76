package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
)

var (
	counters    = regexp.MustCompile(`\[\d+:\d+\]`)
	nftCounters = regexp.MustCompile(`counter packets \d+ bytes \d+`)
	timers      = regexp.MustCompile(`(_timer)\s+[0-9.]+`) // bridge timers in ip -d link
)

// HostDump captures the host's network state in full: named namespaces,
// links, addresses, routes of every table, policy rules, iptables (nft and
// legacy backends), the nft ruleset and nsfs mounts. Two dumps taken before
// and after an operation are equal if the operation left the host as it
// found it. Volatile parts (packet counters, timestamps) are removed.
func HostDump() (string, error) {
	var b strings.Builder
	ents, _ := os.ReadDir("/run/netns")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "== /run/netns\n%s\n", strings.Join(names, "\n"))
	net, err := netDump(nsenter.Target{})
	if err != nil {
		return "", err
	}
	b.WriteString(net)
	b.WriteString("== sysctls\n")
	for _, k := range hostSysctls {
		v, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			fmt.Fprintf(&b, "%s: absent\n", k)
			continue
		}
		fmt.Fprintf(&b, "%s = %s\n", k, strings.TrimSpace(string(v)))
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	b.WriteString("== nsfs mounts\n")
	var mounts []string
	for _, l := range bytes.Split(mi, []byte("\n")) {
		if bytes.Contains(l, []byte(" nsfs ")) || bytes.Contains(l, []byte("/run/netns")) {
			f := strings.Fields(string(l))
			if len(f) > 4 {
				mounts = append(mounts, f[3]+" "+f[4]) // root and mount point, not ids
			}
		}
	}
	sort.Strings(mounts)
	b.WriteString(strings.Join(mounts, "\n") + "\n")
	return b.String(), nil
}

// netDump is the network state as seen from t's namespace (the current
// one for an empty Target): links, addresses, IPv4 and IPv6 routes of
// every table and rules, permanent neighbours, iptables of both backends,
// ip6tables, and the nft ruleset.
func netDump(t nsenter.Target) (string, error) {
	var b strings.Builder
	for _, c := range [][]string{
		{"ip", "-d", "link", "show"},
		{"ip", "addr", "show"},
		{"ip", "route", "show", "table", "all"},
		{"ip", "-6", "route", "show", "table", "all"},
		{"ip", "rule", "show"},
		{"ip", "-6", "rule", "show"},
		{"ip", "neigh", "show", "nud", "permanent"},
		{"iptables-save"},
		{"iptables-legacy-save"},
		{"ip6tables-save"},
		{"nft", "list", "ruleset"},
	} {
		if _, err := exec.LookPath(c[0]); err != nil {
			fmt.Fprintf(&b, "== %s: not installed\n", c[0])
			continue
		}
		out, err := nsenter.Output(t, nil, c[0], c[1:]...)
		if err != nil {
			return "", fmt.Errorf("%s in %q: %w", strings.Join(c, " "), t.Net, err)
		}
		fmt.Fprintf(&b, "== %s\n", strings.Join(c, " "))
		b.WriteString(stripVolatile(string(out)))
	}
	return b.String(), nil
}

// NetnsDump is the network part of HostDump for a namespace the test made
// (a lab node), to prove a read-only command changed nothing there either.
func NetnsDump(netns string) (string, error) {
	return netDump(nsenter.Net(netns))
}

// stripVolatile drops what changes by itself: comments with timestamps
// and packet counters.
func stripVolatile(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		l = counters.ReplaceAllString(l, "[0:0]")
		l = nftCounters.ReplaceAllString(l, "counter")
		l = timers.ReplaceAllString(l, "$1")
		b.WriteString(l + "\n")
	}
	return b.String()
}

// hostSysctls are the settings a pod network depends on, and so the ones a
// lab must not change on the host.
var hostSysctls = []string{
	"net/ipv4/ip_forward",
	"net/ipv4/conf/all/rp_filter",
	"net/ipv4/conf/default/rp_filter",
	"net/ipv4/conf/all/route_localnet",
	"net/ipv6/conf/all/disable_ipv6",
	"net/ipv6/conf/default/disable_ipv6",
	"net/ipv6/conf/all/forwarding",
	"net/bridge/bridge-nf-call-iptables",
	"net/bridge/bridge-nf-call-ip6tables",
	"net/netfilter/nf_conntrack_max",
}

// DiffLines returns the lines only in a and only in b, for a readable
// failure message.
func DiffLines(a, b string) (onlyA, onlyB []string) {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	for l, n := range count {
		for ; n > 0; n-- {
			onlyA = append(onlyA, l)
		}
		for ; n < 0; n++ {
			onlyB = append(onlyB, l)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	return onlyA, onlyB
}

// SettledDump dumps the host and the given namespaces once the kernel has
// finished bringing new links up (carrier, IPv6 duplicate address
// detection): two dumps 100 ms apart that agree, with no tentative
// address. A "before" dump taken too early would still be changing on its
// own.
func SettledDump(t testing.TB, netns ...string) string {
	t.Helper()
	dump := func() string {
		d, err := HostDump()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range netns {
			nd, err := NetnsDump(n)
			if err != nil {
				t.Fatal(err)
			}
			d += "=== " + n + "\n" + nd
		}
		return d
	}
	prev := dump()
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		cur := dump()
		if cur == prev && !strings.Contains(cur, "tentative") {
			return cur
		}
		prev = cur
	}
	t.Fatal("namespaces kept changing for 5s")
	return ""
}
