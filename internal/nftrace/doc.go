// Package nftrace reads the kernel's own netfilter trace (nftrace) for a
// probe packet, which is how `netx trace --live` proves which rules a packet
// really hit rather than which ones the simulator expects it to hit.
//
// A Session adds a temporary nftables table to one network namespace whose
// base chains, at prerouting and output with priority -400 (before raw, so
// before conntrack and every NAT chain), set `meta nftrace set 1` on IPv4
// packets that match the probe's tuples. From then on the kernel sends an
// NFT_MSG_TRACE event to the NFNLGRP_NFTRACE netlink group for every base
// chain the packet enters and every rule that decides something about it,
// in nftables and iptables-nft tables alike (iptables-nft rules are nf_tables
// rules; legacy iptables rules produce nothing). The session reads those
// events from a socket opened in the same namespace until Stop.
//
// The trace flag lives on the packet, and the kernel clears it when the
// packet crosses a veth pair into another namespace (skb_scrub_packet; the
// tests check that the peer namespace's trace group gets nothing although
// its chains see the packet, and does once the peer traces too), so each
// namespace on a path needs its own Session with the tuple the packet has
// there (after NAT on the way).
//
// The table is removable in every case: it is created in one transaction
// (all or nothing) with the nftables "owner" flag, so the kernel deletes it
// by itself when the socket that made it closes, which includes the process
// being killed; Stop deletes it explicitly; and Cleanup removes tables of
// dead processes left by kernels without the owner flag (before 5.12).
// Callers should still Stop their sessions on SIGINT and SIGTERM.
//
// The event decoder is pure and tested from captured messages, without root.
package nftrace
