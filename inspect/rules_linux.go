package inspect

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"

	"github.com/google/nftables"
	"github.com/netx-project/netx/inspect/netfilter"
	"github.com/netx-project/netx/internal/nsenter"
	"golang.org/x/sys/unix"
)

// readNetfilter reads the node's rules: iptables-save of both backends
// (nf_tables and legacy), parsed into the netfilter model, and the nft
// tables present (through netlink, in the namespace). From them it tells
// kube-proxy's mode and warns when kube rules sit in both backends.
func readNetfilter(n *Netns) {
	var errs []string
	for _, b := range []struct{ prog, source string }{{"iptables-save", "iptables-nft"}, {"iptables-legacy-save", "iptables-legacy"}} {
		path, err := exec.LookPath(b.prog)
		if err != nil {
			continue
		}
		out, err := nsenter.Output(nsenter.Net(n.Path), nil, path)
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
		if len(rs.Tables) > 0 {
			n.Netfilter = append(n.Netfilter, rs)
		}
	}
	tables, err := nftTables(n.Path)
	if err != nil {
		errs = append(errs, "nftables: "+err.Error())
	}
	n.NFTables = tables

	var kubeIn []string
	for _, rs := range n.Netfilter {
		if hasKubeRules(rs) {
			kubeIn = append(kubeIn, rs.Source)
		}
	}
	for _, t := range tables {
		if strings.HasSuffix(t, " kube-proxy") {
			n.KubeProxyMode = appendMode(n.KubeProxyMode, "nftables")
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

// nftTables lists "family name" of every nft table, through a netlink
// socket opened in the namespace (no nft CLI, nothing switched).
func nftTables(netnsPath string) ([]string, error) {
	fd, err := unix.Open(netnsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return nil, err
	}
	defer c.CloseLasting()
	ts, err := c.ListTables()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range ts {
		out = append(out, familyName(t.Family)+" "+t.Name)
	}
	return out, nil
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprint(uint8(f))
}
