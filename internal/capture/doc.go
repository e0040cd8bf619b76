// Package capture watches for packets at several points of a node's
// datapath at once, for `netx trace --live`: one AF_PACKET socket per point
// (a device in a network namespace), opened inside that namespace through
// internal/nsenter and read from ordinary goroutines, so the caller never
// changes namespace. The trace engine predicts the hops a probe takes;
// capture says at which of them the probe was really seen, in which
// direction and as which 5-tuple (NAT rewrites it on the way, VXLAN wraps
// it), and writes everything it kept into one pcapng file with one interface
// per point.
//
// Captures are cheap on a busy node by design: a classic BPF filter keeps
// only IPv4 in the kernel, the caller's keep function drops everything but
// the probe's flows in user space, and each point stores a bounded number of
// packets. Decoding and pcapng writing are pure and work on any OS; opening
// sockets is Linux-only.
package capture
