package inspect

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/netfilter"
	"github.com/netx-project/netx/netfilter/nftnl"
)

// readNetfilter reads the node's rules into the netfilter model: the
// nf_tables ruleset once over netlink in the namespace — the tables
// iptables-nft made rendered back as iptables-save prints them
// (nftnl.ReadSplit: their xtables matches and targets decoded), every
// other table translated as nft would print it — and iptables-legacy's
// tables with iptables-legacy-save (they have no netlink form). A table
// of iptables-nft's holding a rule netx does not decode is read with the
// node's iptables-save instead, and each such rule is named in the
// warnings; so is everything when netlink cannot be read. ip6tables'
// tables stay in the nftables ruleset, so no rule the kernel runs goes
// missing. From them it tells kube-proxy's mode and warns when kube rules
// sit in both backends. NFTables lists every table.
func readNetfilter(n *Netns, lazy bool, root string) {
	var errs []string
	// One netlink read of the nf_tables ruleset: iptables-nft's tables
	// rendered as iptables-save prints them (no iptables-save run), the
	// other tables in the model.
	sp, err := nftnl.ReadSplit(n.Path, lazy)
	if err != nil {
		errs = append(errs, "nftables: "+err.Error())
	}
	var iptNFT *netfilter.Ruleset
	if sp != nil && len(sp.IPTablesSave) > 0 {
		rs, err := netfilter.ParseIPTablesSave(bytes.NewReader(sp.IPTablesSave), netfilter.SourceIPTablesNFT)
		if err != nil {
			errs = append(errs, fmt.Sprintf("parse iptables-nft's tables read over netlink: %v", err))
		} else {
			rs.Source = netfilter.SourceIPTablesNFT
			sp.Raw.MarkLazy(rs)
			iptNFT = rs
		}
	}
	// iptables-save, only for what netlink did not give: the tables with
	// a rule netx does not decode (each named), or everything when the
	// netlink read failed; iptables-legacy-save always (legacy tables have
	// no netlink form).
	var fromSave []string
	if sp != nil {
		for _, p := range sp.Problems {
			if !slices.Contains(fromSave, p.Table) {
				fromSave = append(fromSave, p.Table)
			}
			n.Warnings = append(n.Warnings, p.String()+": table "+p.Table+" read from iptables-save")
		}
	}
	for _, b := range []struct{ prog, source string }{{"iptables-save", netfilter.SourceIPTablesNFT}, {"iptables-legacy-save", netfilter.SourceIPTablesLegacy}} {
		if b.source == netfilter.SourceIPTablesNFT && sp != nil && len(fromSave) == 0 {
			continue
		}
		path, err := lookProg(root, b.prog)
		if err != nil {
			continue
		}
		out, err := nsenter.Output(nsenter.Target{Net: n.Path, Root: root}, nil, path)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", b.prog, err))
			continue
		}
		rs, err := netfilter.ParseIPTablesSave(bytes.NewReader(out), b.source)
		if err != nil {
			errs = append(errs, fmt.Sprintf("parse %s: %v", b.prog, err))
			continue
		}
		rs.Source = b.source // the header names the binary, not the backend
		if b.source == netfilter.SourceIPTablesNFT {
			if sp != nil {
				rs.Tables = slices.DeleteFunc(rs.Tables, func(t *netfilter.Table) bool { return !slices.Contains(fromSave, t.Name) })
			}
			if iptNFT == nil {
				iptNFT = rs
			} else {
				iptNFT.Tables = append(iptNFT.Tables, rs.Tables...)
			}
			continue
		}
		if len(rs.Tables) > 0 {
			n.Netfilter = append(n.Netfilter, rs)
		}
	}
	if iptNFT != nil && len(iptNFT.Tables) > 0 {
		n.Netfilter = append([]*netfilter.Ruleset{iptNFT}, n.Netfilter...)
	}
	if sp != nil {
		n.NFTables = sp.Raw.Names
		if nft := sp.NFT; nft != nil && len(nft.Tables) > 0 {
			n.Netfilter = append(n.Netfilter, nft)
		}
	}

	if sets, err := readIPSets(n.Path, root, n.Netfilter); err != nil {
		errs = append(errs, err.Error())
	} else {
		n.IPSets = sets
	}

	// A lazy read has not seen every rule: read the lists whether or not
	// the rules read use them (a directory listing when there are none).
	if usesMatch(n.Netfilter, netfilter.MatchRecent) || lazyChains(n.Netfilter) {
		if tables, err := readRecent(n.Path); err != nil {
			errs = append(errs, err.Error())
		} else {
			n.Recent = tables
		}
	}

	var kubeIn []string
	for _, rs := range n.Netfilter {
		source := rs.Source
		if rs.Source == netfilter.SourceNFTables {
			if hasKubeNFTRules(rs) {
				n.KubeProxyMode = appendMode(n.KubeProxyMode, "nftables")
			}
			// iptables-nft tables left in it (ip6tables'): iptables mode.
			rs = &netfilter.Ruleset{Tables: slices.DeleteFunc(slices.Clone(rs.Tables), func(t *netfilter.Table) bool { return !netfilter.IPTablesNFT(t) })}
			source = netfilter.SourceIPTablesNFT
		}
		if hasKubeRules(rs) && !slices.Contains(kubeIn, source) {
			kubeIn = append(kubeIn, source)
		}
	}
	if len(kubeIn) > 0 {
		n.KubeProxyMode = appendMode(n.KubeProxyMode, "iptables")
	}
	if n.KubeProxyMode == "" {
		n.KubeProxyMode = "none (no kube-proxy rules found; ipvs cannot be detected here)"
	}
	if len(kubeIn) > 1 {
		n.Warnings = append(n.Warnings, fmt.Sprintf("kube-proxy rules are in BOTH iptables backends (%s): the kernel runs both sets; one is stale — remove it (iptables-legacy -F -t nat, or switch the node's iptables alternative)", strings.Join(kubeIn, " and ")))
	}
	if strings.Contains(n.KubeProxyMode, "+") {
		n.Warnings = append(n.Warnings, "kube-proxy rules of both modes are present (iptables and nftables): one is stale; run kube-proxy --cleanup for the mode not in use")
	}
	if len(errs) > 0 {
		n.Error = strings.TrimPrefix(n.Error+"; "+strings.Join(errs, "; "), "; ")
	}
}

// readIPSets reads the namespace's ipsets with `ipset save`, when the
// kernel has ipsets at all: without the ip_set module loaded there are
// none, and asking would load it (netx changes nothing on a node). Without
// the ipset program, rules that look sets up are evaluated as unknown; the
// error says so.
func readIPSets(path, root string, rules []*netfilter.Ruleset) ([]netfilter.IPSet, error) {
	if _, err := os.Stat("/sys/module/ip_set"); err != nil {
		return nil, nil
	}
	prog, err := lookProg(root, "ipset")
	if err != nil {
		if usesMatch(rules, netfilter.MatchIPSet) {
			return nil, fmt.Errorf("rules look packets up in ipsets (-m set) but the ipset program is not installed (apt-get install ipset): their members are unknown")
		}
		return nil, nil
	}
	out, err := nsenter.Output(nsenter.Target{Net: path, Root: root}, nil, prog, "save")
	if err != nil {
		return nil, fmt.Errorf("ipset save: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return netfilter.ParseIPSetSave(bytes.NewReader(out))
}

// readRecent reads the namespace's xt_recent lists (the addresses -m
// recent remembers: kube-proxy's session affinity clients) from
// /proc/net/xt_recent, which is per network namespace, aged with the
// kernel's jiffies at the read.
func readRecent(path string) ([]netfilter.RecentTable, error) {
	now, hz, err := jiffies()
	if err != nil {
		return nil, fmt.Errorf("xt_recent lists not aged: %v", err)
	}
	var tables []netfilter.RecentTable
	err = nsenter.Do(nsenter.Net(path), func() error {
		// /proc/thread-self: this thread is the one in the namespace.
		dir := "/proc/thread-self/net/xt_recent"
		ents, err := os.ReadDir(dir)
		if err != nil {
			if os.IsNotExist(err) {
				return nil // no list yet
			}
			return err
		}
		for _, e := range ents {
			f, err := os.Open(dir + "/" + e.Name())
			if err != nil {
				return err
			}
			t, err := netfilter.ParseXTRecent(e.Name(), f, now, hz)
			f.Close()
			if err != nil {
				return err
			}
			tables = append(tables, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("xt_recent: %v", err)
	}
	return tables, nil
}

// jiffies reads the kernel's jiffies (/proc/timer_list, root only) and
// works out their rate: a 64-bit kernel starts them at 2^32 - 300*HZ, so
// of the rates Linux builds with, the one whose count since boot fits
// /proc/uptime is it.
func jiffies() (now, hz uint64, err error) {
	tl, err := os.ReadFile("/proc/timer_list")
	if err != nil {
		return 0, 0, err
	}
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, 0, err
	}
	return jiffiesFrom(tl, up)
}

// lazyChains says whether a chain's rules were left unread (Chain.Lazy).
func lazyChains(rules []*netfilter.Ruleset) bool {
	for _, rs := range rules {
		for _, t := range rs.Tables {
			if slices.ContainsFunc(t.Chains, func(c *netfilter.Chain) bool { return c.Lazy }) {
				return true
			}
		}
	}
	return false
}

// usesMatch says whether a rule has a match of kind: -m set (ipsets),
// -m recent (xt_recent lists, kube-proxy's session affinity).
func usesMatch(rules []*netfilter.Ruleset, kind netfilter.MatchKind) bool {
	for _, rs := range rules {
		for _, t := range rs.Tables {
			for _, c := range t.Chains {
				for _, r := range c.Rules {
					if slices.ContainsFunc(r.Matches, func(m netfilter.Match) bool { return m.Kind == kind }) {
						return true
					}
				}
			}
		}
	}
	return false
}

func appendMode(cur, m string) string {
	if cur == "" {
		return m
	}
	return cur + "+" + m
}

// hasKubeRules says whether a ruleset holds kube-proxy's chains with rules.
func hasKubeRules(rs *netfilter.Ruleset) bool {
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			if c.Name == "KUBE-SERVICES" && len(c.Rules) > 0 {
				return true
			}
		}
	}
	return false
}

// hasKubeNFTRules says whether an nftables ruleset holds kube-proxy's
// nftables mode: its table "kube-proxy" (ip, ip6 or inet) with rules. The
// table's chains have fixed names (services, service-endpoints-check ...);
// an empty leftover table is not a running proxier.
func hasKubeNFTRules(rs *netfilter.Ruleset) bool {
	for _, t := range rs.Tables {
		if t.Name != "kube-proxy" || (t.Family != netfilter.FamilyIP && t.Family != netfilter.FamilyIP6 && t.Family != netfilter.FamilyInet) {
			continue
		}
		for _, c := range t.Chains {
			if len(c.Rules) > 0 {
				return true
			}
		}
	}
	return false
}

// lookProg finds a program of the node: in PATH when root is empty (netx
// runs on the node), else in the usual directories under root, returned
// as the path inside root (it runs chrooted there).
func lookProg(root, prog string) (string, error) {
	if root == "" {
		return exec.LookPath(prog)
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := dir + "/" + prog
		// Lstat: a symlink there (Debian's alternatives) is absolute, and
		// resolves only inside root, where it runs.
		if st, err := os.Lstat(root + p); err == nil && (st.Mode().IsRegular() || st.Mode()&os.ModeSymlink != 0) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in the node's root", prog)
}

// ReadChain reads the rules of c, a chain of table t in ruleset rs of
// namespace n that a lazy read left unread (netfilter.Chain.Lazy), into
// the model: over netlink (nftnl.ReadChain), or for an iptables-nft chain
// with a rule netx does not decode, from iptables-save of that table, the
// rule named in n's warnings as the whole read names it. root is
// Options.HostRoot.
func ReadChain(n *Netns, root string, rs *netfilter.Ruleset, t *netfilter.Table, c *netfilter.Chain) error {
	err := nftnl.ReadChain(n.Path, rs.Source, t, c)
	var p *nftnl.IPTablesProblem
	if !errors.As(err, &p) {
		return err
	}
	path, lerr := lookProg(root, "iptables-save")
	if lerr != nil {
		return fmt.Errorf("%v, and iptables-save: %v", err, lerr)
	}
	out, serr := nsenter.Output(nsenter.Target{Net: n.Path, Root: root}, nil, path, "-t", t.Name)
	if serr != nil {
		return fmt.Errorf("%v, and iptables-save: %v", err, serr)
	}
	saved, serr := netfilter.ParseIPTablesSave(bytes.NewReader(out), rs.Source)
	if serr != nil {
		return fmt.Errorf("%v, and parse iptables-save: %v", err, serr)
	}
	st := saved.Table(t.Family, t.Name)
	if st == nil || st.Chain(c.Name) == nil {
		return fmt.Errorf("%v, and iptables-save has no chain %s in table %s", err, c.Name, t.Name)
	}
	c.Rules, c.Lazy = st.Chain(c.Name).Rules, false
	n.Warnings = append(n.Warnings, p.String()+": chain "+c.Name+" read from iptables-save")
	return nil
}
