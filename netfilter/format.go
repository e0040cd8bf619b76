package netfilter

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteIPTablesSave writes the ruleset in iptables-save syntax, which
// iptables-restore reads back: one block per table, chain headers, then
// rules, with counters when counters is set. Rules are written from the
// model, not copied from Rule.Text, in the order and spelling
// iptables-save uses, so a dump read and written again compares equal word
// for word; it is how the lab programs a node and how tests check that
// parsing lost nothing. nftables-only constructs (lookups, verdict maps)
// have no iptables spelling and are an error.
func (r *Ruleset) WriteIPTablesSave(w io.Writer, counters bool) error {
	bw := bufio.NewWriter(w)
	var words []string
	for _, t := range r.Tables {
		fmt.Fprintf(bw, "*%s\n", t.Name)
		for _, c := range t.Chains {
			pol := c.Policy
			if pol == "" {
				pol = "-"
			}
			fmt.Fprintf(bw, ":%s %s [%d:%d]\n", c.Name, pol, c.Counters.Packets, c.Counters.Bytes)
		}
		for _, c := range t.Chains {
			for _, rule := range c.Rules {
				var err error
				words, err = rule.AppendIPTablesArgs(words[:0])
				if err != nil {
					return fmt.Errorf("write rule %d of chain %s in table %s: %w", rule.Num, c.Name, t.Name, err)
				}
				if counters {
					fmt.Fprintf(bw, "[%d:%d] ", rule.Counters.Packets, rule.Counters.Bytes)
				}
				bw.WriteString("-A ")
				bw.WriteString(c.Name)
				writeWords(bw, words)
				bw.WriteByte('\n')
			}
		}
		bw.WriteString("COMMIT\n")
	}
	return bw.Flush()
}

// writeWords writes words with a leading blank each, quoting as
// iptables-save does: comments always, other words when they must be.
func writeWords(bw *bufio.Writer, words []string) {
	for i, w := range words {
		bw.WriteByte(' ')
		if i > 0 && words[i-1] == "--nfacct-name" {
			// libxt_nfacct prints the name after two blanks.
			bw.WriteByte(' ')
		}
		if (i > 0 && words[i-1] == "--comment") || w == "" || strings.ContainsAny(w, " \t\"\\'") {
			bw.WriteByte('"')
			for j := 0; j < len(w); j++ {
				if w[j] == '"' || w[j] == '\\' {
					bw.WriteByte('\\')
				}
				bw.WriteByte(w[j])
			}
			bw.WriteByte('"')
			continue
		}
		bw.WriteString(w)
	}
}

// AppendIPTablesArgs appends the rule's words after "-A CHAIN", unquoted,
// in iptables-save's spelling: matches in order, -m before each module's
// options, then the target.
func (r *Rule) AppendIPTablesArgs(dst []string) ([]string, error) {
	prevMod := ""
	for i := range r.Matches {
		m := &r.Matches[i]
		if m.Kind == MatchLookup {
			return dst, fmt.Errorf("nftables lookup has no iptables form")
		}
		if m.Kind == MatchUnknown && m.Module != "" && !knownModule(m.Module) {
			dst = append(dst, "-m", m.Module)
			dst = append(dst, m.Args...)
			prevMod = ""
			continue
		}
		if m.Module != "" && (m.Module != prevMod || m.Kind == MatchModule) {
			dst = append(dst, "-m", m.Module)
		}
		prevMod = m.Module
		if m.Kind == MatchModule {
			continue
		}
		if m.Negate {
			dst = append(dst, "!")
		}
		switch m.Kind {
		case MatchSource:
			dst = append(dst, "-s", m.Prefix.String())
		case MatchDestination:
			dst = append(dst, "-d", m.Prefix.String())
		case MatchProtocol:
			dst = append(dst, "-p", m.Value)
		case MatchInInterface:
			dst = append(dst, "-i", m.Value)
		case MatchOutInterface:
			dst = append(dst, "-o", m.Value)
		case MatchFragment:
			dst = append(dst, "-f")
		case MatchSrcPort, MatchDstPort, MatchPort:
			dst = append(dst, portOption(m), formatPorts(m.Ports))
		case MatchComment:
			dst = append(dst, "--comment", m.Value)
		case MatchAddrType:
			opt := "--src-type"
			if m.AddrType.Dst {
				opt = "--dst-type"
			}
			dst = append(dst, opt, strings.Join(m.AddrType.Types, ","))
			// iptables-save prints the interface limits once, after the
			// block's types.
			if i+1 == len(r.Matches) || r.Matches[i+1].Kind != MatchAddrType || r.Matches[i+1].Module != m.Module {
				if m.AddrType.LimitIfaceIn {
					dst = append(dst, "--limit-iface-in")
				}
				if m.AddrType.LimitIfaceOut {
					dst = append(dst, "--limit-iface-out")
				}
			}
		case MatchMark, MatchConnMark:
			dst = append(dst, "--mark", formatMark(m.Mark, m.Mask, false))
		case MatchCTState:
			opt := "--ctstate"
			if m.Module == "state" {
				opt = "--state"
			}
			dst = append(dst, opt, strings.Join(m.Values, ","))
		case MatchCTStatus:
			dst = append(dst, "--ctstatus", strings.Join(m.Values, ","))
		case MatchCTDirection:
			dst = append(dst, "--ctdir", m.Value)
		case MatchStatistic:
			st := m.Statistic
			dst = append(dst, "--mode", st.Mode)
			if st.Mode == "nth" {
				dst = append(dst, "--every", strconv.FormatUint(uint64(st.Every), 10), "--packet", strconv.FormatUint(uint64(st.Packet), 10))
			} else {
				dst = append(dst, "--probability", strconv.FormatFloat(st.Probability, 'f', 11, 64))
			}
		case MatchIPSet:
			dst = append(dst, "--match-set", m.Value, strings.Join(m.Values, ","))
		case MatchPhysDevIn:
			dst = append(dst, "--physdev-in", m.Value)
		case MatchPhysDevOut:
			dst = append(dst, "--physdev-out", m.Value)
		case MatchPhysDevIsIn:
			dst = append(dst, "--physdev-is-in")
		case MatchPhysDevIsOut:
			dst = append(dst, "--physdev-is-out")
		case MatchPhysDevIsBr:
			dst = append(dst, "--physdev-is-bridged")
		case MatchMACSource:
			dst = append(dst, "--mac-source", m.Value)
		case MatchICMPType:
			opt := "--icmp-type"
			if m.Module == "icmp6" {
				opt = "--icmpv6-type"
			}
			dst = append(dst, opt, m.Value)
		case MatchTCPFlags:
			dst = append(dst, "--tcp-flags", strings.Join(m.TCPFlags.Mask, ","), strings.Join(m.TCPFlags.Comp, ","))
		case MatchLimit:
			dst = append(dst, "--limit", m.Limit.Rate)
			if m.Limit.Burst != 0 {
				dst = append(dst, "--limit-burst", strconv.FormatUint(uint64(m.Limit.Burst), 10))
			}
		case MatchNFAcct:
			dst = append(dst, "--nfacct-name", m.Value)
		case MatchRecent:
			dst = appendRecent(dst, m.Recent)
		case MatchUnknown:
			dst = append(dst, m.Args...)
		default:
			return dst, fmt.Errorf("match kind %q has no iptables form", m.Kind)
		}
	}
	return r.Target.appendIPTablesArgs(dst)
}

// appendRecent writes a -m recent block's options in iptables-save's
// order (libxt_recent's save): the mode (its "!" is written before the
// block), then --seconds, --reap, --hitcount, --rttl, --name, --mask and
// the side.
func appendRecent(dst []string, rc *Recent) []string {
	if rc.Mode != "" {
		dst = append(dst, "--"+rc.Mode)
	}
	if rc.Seconds != 0 {
		dst = append(dst, "--seconds", strconv.FormatUint(uint64(rc.Seconds), 10))
	}
	if rc.Reap {
		dst = append(dst, "--reap")
	}
	if rc.HitCount != 0 {
		dst = append(dst, "--hitcount", strconv.FormatUint(uint64(rc.HitCount), 10))
	}
	if rc.RTTL {
		dst = append(dst, "--rttl")
	}
	dst = append(dst, "--name", rc.Name)
	if rc.Mask.IsValid() {
		dst = append(dst, "--mask", rc.Mask.String())
	}
	if rc.Dest {
		return append(dst, "--rdest")
	}
	return append(dst, "--rsource")
}

func portOption(m *Match) string {
	multi := m.Module == "multiport"
	switch m.Kind {
	case MatchSrcPort:
		if multi {
			return "--sports"
		}
		return "--sport"
	case MatchDstPort:
		if multi {
			return "--dports"
		}
		return "--dport"
	}
	return "--ports"
}

func formatPorts(ps []PortRange) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(p.First), 10))
		if p.Last != p.First {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(p.Last), 10))
		}
	}
	return b.String()
}

// formatMark prints value[/mask] as iptables does: hex, the mask left out
// when it is all ones (unless always).
func formatMark(v, mask uint32, always bool) string {
	s := "0x" + strconv.FormatUint(uint64(v), 16)
	if mask != 0xffffffff || always {
		s += "/0x" + strconv.FormatUint(uint64(mask), 16)
	}
	return s
}

func (t *Target) appendIPTablesArgs(dst []string) ([]string, error) {
	switch t.Kind {
	case TargetNone:
		if len(t.Args) > 0 {
			return dst, fmt.Errorf("target options without a target")
		}
		return dst, nil
	case TargetJump:
		dst = append(dst, "-j", t.Chain)
	case TargetGoto:
		dst = append(dst, "-g", t.Chain)
	case TargetUnknown:
		dst = append(dst, "-j", t.Name)
	case TargetVerdictMap:
		return dst, fmt.Errorf("nftables verdict map has no iptables form")
	default:
		dst = append(dst, "-j", string(t.Kind))
	}
	switch t.Kind {
	case TargetDNAT:
		if t.ToDestination != "" {
			dst = append(dst, "--to-destination", t.ToDestination)
		}
	case TargetSNAT:
		if t.ToSource != "" {
			dst = append(dst, "--to-source", t.ToSource)
		}
	case TargetMasquerade, TargetRedirect:
		if t.To.Port != 0 {
			ports := strconv.FormatUint(uint64(t.To.Port), 10)
			if t.To.PortMax != 0 {
				ports += "-" + strconv.FormatUint(uint64(t.To.PortMax), 10)
			}
			dst = append(dst, "--to-ports", ports)
		}
	case TargetMark:
		dst = append(dst, "--set-xmark", formatMark(t.SetMark, t.Mask, true))
	case TargetReject:
		if t.RejectWith != "" {
			dst = append(dst, "--reject-with", t.RejectWith)
		}
	case TargetLog:
		if t.LogPrefix != "" {
			dst = append(dst, "--log-prefix", t.LogPrefix)
		}
	}
	if t.Random {
		dst = append(dst, "--random")
	}
	if t.RandomFully {
		dst = append(dst, "--random-fully")
	}
	if t.Persistent {
		dst = append(dst, "--persistent")
	}
	return append(dst, t.Args...), nil
}
