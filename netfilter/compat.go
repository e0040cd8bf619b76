package netfilter

// xtablesTables are the tables the xtables tools create through their
// nf_tables backend (iptables-nft, ip6tables-nft, arptables-nft,
// ebtables-nft), with the hook of each built-in chain.
var xtablesTables = map[Family]map[string]map[string]Hook{
	FamilyIP:  iptablesBuiltins,
	FamilyIP6: iptablesBuiltins,
	FamilyARP: {
		"filter": {"INPUT": HookInput, "OUTPUT": HookOutput, "FORWARD": HookForward},
	},
	FamilyBridge: {
		"filter": {"INPUT": HookInput, "FORWARD": HookForward, "OUTPUT": HookOutput},
		"nat":    {"PREROUTING": HookPrerouting, "OUTPUT": HookOutput, "POSTROUTING": HookPostrouting},
		"broute": {"BROUTING": HookPrerouting},
	},
}

var iptablesBuiltins = map[string]map[string]Hook{
	"filter":   {"INPUT": HookInput, "FORWARD": HookForward, "OUTPUT": HookOutput},
	"nat":      {"PREROUTING": HookPrerouting, "INPUT": HookInput, "OUTPUT": HookOutput, "POSTROUTING": HookPostrouting},
	"mangle":   {"PREROUTING": HookPrerouting, "INPUT": HookInput, "FORWARD": HookForward, "OUTPUT": HookOutput, "POSTROUTING": HookPostrouting},
	"raw":      {"PREROUTING": HookPrerouting, "OUTPUT": HookOutput},
	"security": {"INPUT": HookInput, "FORWARD": HookForward, "OUTPUT": HookOutput},
}

// IPTablesNFT reports whether t, an nftables table, belongs to iptables-nft
// (or to ip6tables-, arptables- or ebtables-nft) rather than to a native
// nftables user such as kube-proxy's nftables mode.
//
// The xtables tools put no mark of their own on a table (iptables 1.8.9
// sets no flags, comment or userdata), so two signs are used:
//
//   - a rule holding an xt compat expression (an xtables match or target
//     nft can only print as "xt match NAME"): nothing but the xtables
//     tools writes those, and nft itself warns "table ... is managed by
//     iptables-nft" on exactly this;
//   - otherwise the table's shape: a name the tool uses for that family
//     (ip filter, nat, mangle, raw, security ...), no sets, and base
//     chains only with the tool's built-in names on their own hooks
//     (INPUT on input ...). kube-proxy's iptables mode leaves tables of
//     that shape holding only native expressions (ip mangle with
//     KUBE-IPTABLES-HINT, ip6 nat with KUBE-KUBELET-CANARY).
//
// A native table can have the same shape (a hand-written "table ip nat"
// with a PREROUTING chain); callers should drop a table as iptables-nft's
// only where an iptables-save of the nf_tables backend lists it too, so it
// is read there.
func IPTablesNFT(t *Table) bool {
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			if hasXT(r) {
				return true
			}
		}
	}
	builtins := xtablesTables[t.Family][t.Name]
	if builtins == nil || len(t.Sets) > 0 {
		return false
	}
	for _, c := range t.Chains {
		if c.Base() && builtins[c.Name] != c.Hook {
			return false
		}
	}
	return true
}

// hasXT reports whether a rule holds an xt compat match or target.
func hasXT(r *Rule) bool {
	for i := range r.Matches {
		if r.Matches[i].Kind == MatchUnknown && r.Matches[i].Module == "xt" {
			return true
		}
	}
	for i := range r.Statements {
		if r.Statements[i].Kind == TargetUnknown && r.Statements[i].Name == "xt" {
			return true
		}
	}
	return r.Target.Kind == TargetUnknown && r.Target.Name == "xt"
}
