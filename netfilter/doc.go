// Package netfilter is netx's one model of a node's packet filter: the
// iptables tables of either backend (iptables-nft, iptables-legacy) and the
// nftables ruleset, as plain data that trace evaluates hop by hop and
// package kubeproxy writes (through IPTablesBuilder and NFTBuilder).
//
// A Ruleset holds Tables; a Table holds Chains (base chains carry their
// hook, type and priority, so iptables' built-in chains and nftables' base
// chains order the same way) and, for nftables, Sets and maps; a Chain
// holds Rules; a Rule is a list of Matches, all of which must hold, and
// one Target. Each Match is a single typed condition (a prefix, a port
// range, a conntrack state list, a mark and mask ...), which is how both
// iptables modules and nftables expressions decompose.
//
// What netx does not model is kept, never dropped: an unknown match module
// or option becomes a MatchUnknown with its words as written, an unknown
// target a TargetUnknown, so an evaluator can say "this rule may or may not
// match" instead of guessing.
//
// ParseIPTablesSave reads iptables-save text (every table, counters
// optional) or iptables-restore input; WriteIPTablesSave writes it back.
// ParseNFT reads `nft list ruleset` output and `nft -f` scripts into the
// same model; WriteNFT writes a ruleset as one `nft -f` transaction
// (adding to or replacing its tables), each rule spelled by
// Rule.AppendNFT as nft lists it. A live node's nftables ruleset is read
// over netlink by package nftnl, which decompiles it into the text nft
// prints and then ParseNFT's model. Diff compares two rulesets field for
// field. Nothing here runs a command or touches the kernel, so it is
// tested, fuzzed and benchmarked on saved dumps.
package netfilter
