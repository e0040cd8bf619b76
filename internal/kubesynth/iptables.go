package kubesynth

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Per-service chains of iptables mode. KUBE-SVC-<h> is a service port's:
// <h> is hash(ServicePortName + protocol, 16), e.g. "default/svc-b:http" +
// "tcp". KUBE-SEP-<h> is one endpoint's: hash(ServicePortName + protocol +
// "ip:port", 16).
const (
	SvcChainPrefix = "KUBE-SVC-"
	SepChainPrefix = "KUBE-SEP-"
)

// SvcChain is the service port's KUBE-SVC chain.
func (s *Service) SvcChain() string {
	return SvcChainPrefix + hash(s.String()+s.Protocol, 16)
}

// SepChain is the KUBE-SEP chain of one of the service's endpoints.
func (s *Service) SepChain(ep netip.AddrPort) string {
	return SepChainPrefix + hash(s.String()+s.Protocol+ep.String(), 16)
}

// Accounting objects (nfacct) kube-proxy creates when it starts and its
// iptables rules count into. iptables-restore refuses a rule naming one
// that does not exist, so whoever loads IPTables output creates them
// first (in the same network namespace).
const (
	NFAcctInvalidDropped     = "ct_state_invalid_dropped_pkts"
	NFAcctLocalhostNodePorts = "localhost_nps_accepted_pkts"
)

// stamp is the date iptables-save wrote on testdata/cluster's dumps.
const stamp = "Sun Nov 22 02:46:18 2026"

// The tables as iptables-save prints them on a kube-proxy node in
// iptables mode: mangle and filter do not depend on the services (their
// KUBE-SERVICES and KUBE-EXTERNAL-SERVICES stay empty while every
// service has endpoints; KUBE-FIREWALL and the canaries are kubelet's).
const (
	iptMangle = `*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-IPTABLES-HINT - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-PROXY-CANARY - [0:0]
COMMIT
`
	iptFilter = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-CANARY - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name  ` + NFAcctInvalidDropped + ` -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
`
	iptNATBuiltins = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
`
	iptNATBuiltinRules = `-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
`
)

// iptNATFixed are kube-proxy's and kubelet's own nat chains and their
// rules (KUBE-SERVICES' are written per service).
func iptNATFixed() map[string]string {
	return map[string]string{
		"KUBE-KUBELET-CANARY": "",
		"KUBE-MARK-MASQ":      "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n",
		"KUBE-NODEPORTS":      "",
		"KUBE-POSTROUTING": `-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
`,
		"KUBE-PROXY-CANARY": "",
		"KUBE-SERVICES":     "",
	}
}

// IPTables is the node's iptables-save output in kube-proxy's iptables
// mode: the mangle, filter and nat tables, chains declared and their
// rules listed in the order iptables-save prints them (built-in chains,
// then the others by name). iptables-restore loads it as is, once the
// NFAcct* objects exist.
func (c *Cluster) IPTables() []byte {
	var b bytes.Buffer
	b.Grow(256*1024 + len(c.Services)*2048)
	table := func(body func()) {
		fmt.Fprintf(&b, "# Generated by iptables-save v1.8.9 (nf_tables) on %s\n", stamp)
		body()
		fmt.Fprintf(&b, "# Completed on %s\n", stamp)
	}
	table(func() { b.WriteString(iptMangle) })
	table(func() { b.WriteString(iptFilter) })
	table(func() { c.iptNAT(&b) })
	return b.Bytes()
}

// iptChain is a nat chain to write: a fixed one (svc < 0), a service's
// KUBE-SVC (ep < 0) or one of its KUBE-SEPs.
type iptChain struct {
	name    string
	svc, ep int
}

func (c *Cluster) iptNAT(b *bytes.Buffer) {
	fixed := iptNATFixed()
	var chains []iptChain
	for name := range fixed {
		chains = append(chains, iptChain{name, -1, -1})
	}
	for i := range c.Services {
		s := &c.Services[i]
		chains = append(chains, iptChain{s.SvcChain(), i, -1})
		for e, ep := range s.Endpoints {
			chains = append(chains, iptChain{s.SepChain(ep), i, e})
		}
	}
	slices.SortFunc(chains, func(a, b iptChain) int { return strings.Compare(a.name, b.name) })

	b.WriteString(iptNATBuiltins)
	for _, ch := range chains {
		fmt.Fprintf(b, ":%s - [0:0]\n", ch.name)
	}
	b.WriteString(iptNATBuiltinRules)
	masq := "! -s " + c.ClusterCIDR.String() + " "
	for _, ch := range chains {
		switch {
		case ch.name == "KUBE-SERVICES":
			for i := range c.Services {
				s := &c.Services[i]
				fmt.Fprintf(b, "-A KUBE-SERVICES -d %s/32 -p %s -m comment --comment \"%s cluster IP\" -m %s --dport %d -j %s\n",
					s.ClusterIP, s.Protocol, s, s.Protocol, s.Port, s.SvcChain())
			}
			b.WriteString("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n")
		case ch.svc < 0:
			b.WriteString(fixed[ch.name])
		case ch.ep < 0:
			s := &c.Services[ch.svc]
			fmt.Fprintf(b, "-A %s %s-d %s/32 -p %s -m comment --comment \"%s cluster IP\" -m %s --dport %d -j KUBE-MARK-MASQ\n",
				ch.name, masq, s.ClusterIP, s.Protocol, s, s.Protocol, s.Port)
			n := len(s.Endpoints)
			for e, ep := range s.Endpoints {
				// Endpoint e of n takes 1/(n-e) of what the ones before
				// left; iptables-save prints the probability with 11
				// decimals.
				stat := ""
				if e < n-1 {
					stat = fmt.Sprintf(" -m statistic --mode random --probability %.11f", 1/float64(n-e))
				}
				fmt.Fprintf(b, "-A %s -m comment --comment \"%s -> %s\"%s -j %s\n", ch.name, s, ep, stat, s.SepChain(ep))
			}
		default:
			s := &c.Services[ch.svc]
			ep := s.Endpoints[ch.ep]
			fmt.Fprintf(b, "-A %s -s %s/32 -m comment --comment \"%s\" -j KUBE-MARK-MASQ\n", ch.name, ep.Addr(), s)
			fmt.Fprintf(b, "-A %s -p %s -m comment --comment \"%s\" -m %s -j DNAT --to-destination %s\n", ch.name, s.Protocol, s, s.Protocol, ep)
		}
	}
	b.WriteString("COMMIT\n")
}
