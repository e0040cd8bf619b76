// Package nftnl is nf_tables netlink and the rule model: it reads a
// network namespace's nftables ruleset over the kernel's nf_tables netlink
// interface (Read, ReadSkipping, and FetchSet for one set a trace reaches
// later), as nft itself does but without running nft, and translates it
// into package netfilter's model (ToModel).
//
// Translation goes through text: every rule is decompiled from the
// kernel's register machine into what `nft list ruleset` prints for it,
// and netfilter.ParseNFT builds the model from that, so one parser makes
// Matches and Targets whichever way a ruleset was read, and Rule.Text
// reads as nft would print it. The decompiler is pure (tested on
// expression lists without root); the reader is the only part that opens
// a socket, inside the namespace through internal/nsenter.
//
// It is read-only: it sends only dump and get requests.
package nftnl
