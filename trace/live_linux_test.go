package trace

import (
	"slices"
	"testing"

	"github.com/netx-project/netx/inspect"
)

// udpDelivered is a UDP request delivered to a socket of comm, its reply
// ending in reply.
func udpDelivered(comm, reply string) Result {
	ns := &inspect.Netns{Listeners: []inspect.Listener{{Proto: "udp", Addr: "0.0.0.0", Port: 53, PID: 7, Comm: comm}}}
	pkt := PacketView{Proto: "udp", Src: "10.244.1.2", Dst: "10.244.1.3", SPort: 40000, DPort: 53}
	return Result{Packet: pkt, Verdict: Verdict{Kind: Delivered},
		Hops:  []Hop{{Kind: HopSend, Packet: pkt}, {Kind: HopDeliver, Packet: pkt, at: Where{NS: ns}}},
		Reply: &Reply{Verdict: Verdict{Kind: reply}, Hops: []Hop{{Kind: HopSend, taps: []tap{{dev: "eth0", out: true}}}}}}
}

// TestExpectedOutcome: what the probe's sender must see for a prediction,
// the reply's fate included.
func TestExpectedOutcome(t *testing.T) {
	tcp := PacketView{Proto: "tcp"}
	udp := PacketView{Proto: "udp"}
	for _, c := range []struct {
		name string
		res  Result
		want []string
	}{
		{"delivered, reply delivered", Result{Packet: tcp, Verdict: Verdict{Kind: Delivered}, Reply: &Reply{Verdict: Verdict{Kind: Delivered}}}, []string{"connected"}},
		{"delivered, reply dropped", Result{Packet: tcp, Verdict: Verdict{Kind: Delivered}, Reply: &Reply{Verdict: Verdict{Kind: Dropped}}}, []string{"timeout"}},
		{"delivered, reply asymmetric", Result{Packet: tcp, Verdict: Verdict{Kind: Delivered}, Reply: &Reply{Verdict: Verdict{Kind: Asymmetric}}}, []string{"timeout"}},
		{"delivered, reply undecided", Result{Packet: tcp, Verdict: Verdict{Kind: Delivered}, Reply: &Reply{Verdict: Verdict{Kind: Unknown}}}, nil},
		{"delivered, reply leaves the traced nodes", Result{Packet: tcp, Verdict: Verdict{Kind: Delivered}, Reply: &Reply{Verdict: Verdict{Kind: Left}}}, nil},
		{"icmp, reply dropped", Result{Packet: PacketView{Proto: "icmp"}, Verdict: Verdict{Kind: Delivered}, Reply: &Reply{Verdict: Verdict{Kind: Dropped}}}, []string{"timeout"}},
		{"refused", Result{Packet: tcp, Verdict: Verdict{Kind: Refused}}, []string{"refused", "unreachable"}},
		// UDP: netx's own server answers every datagram; another program
		// may stay silent, which is no fault of the path.
		{"udp to netx's server, reply delivered", udpDelivered("netx", Delivered), []string{"answered"}},
		{"udp to kubectl-netx's server, reply delivered", udpDelivered("kubectl-netx", Delivered), []string{"answered"}},
		{"udp to another program, reply delivered", udpDelivered("coredns", Delivered), []string{"answered", "timeout"}},
		{"udp, reply dropped", udpDelivered("netx", Dropped), []string{"timeout"}},
		{"udp to another program, reply dropped", udpDelivered("coredns", Dropped), []string{"timeout"}},
		{"udp, reply asymmetric", udpDelivered("netx", Asymmetric), []string{"timeout"}},
		{"udp, reply undecided", udpDelivered("netx", Unknown), nil},
		{"udp, nothing listens", Result{Packet: udp, Verdict: Verdict{Kind: Refused}}, []string{"refused"}},
		{"udp, rejected", Result{Packet: udp, Verdict: Verdict{Kind: Rejected}}, []string{"refused", "unreachable"}},
		{"udp, no endpoints", Result{Packet: udp, Verdict: Verdict{Kind: NoEndpoints}}, []string{"refused", "unreachable"}},
		{"udp, dropped", Result{Packet: udp, Verdict: Verdict{Kind: Dropped}}, []string{"timeout"}},
		{"udp, rp-filter", Result{Packet: udp, Verdict: Verdict{Kind: RPFilter}}, []string{"timeout"}},
		{"udp, forwarding disabled", Result{Packet: udp, Verdict: Verdict{Kind: ForwardingDisabled}}, []string{"timeout"}},
		{"sctp cannot be probed", Result{Packet: PacketView{Proto: "sctp"}, Verdict: Verdict{Kind: Delivered}, Reply: &Reply{Verdict: Verdict{Kind: Dropped}}}, nil},
	} {
		if got := expectedOutcome(&c.res); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestReplySent: a UDP reply is judged hop by hop when the answer came,
// was seen on its way, or the program answers every datagram; a silent
// other program leaves it unjudged. TCP's and ICMP's are always judged.
func TestReplySent(t *testing.T) {
	seen := func(tap) bool { return true }
	unseen := func(tap) bool { return false }
	tcp := Result{Packet: PacketView{Proto: "tcp"}, Verdict: Verdict{Kind: Delivered}, Reply: &Reply{Verdict: Verdict{Kind: Delivered}}}
	for _, c := range []struct {
		name    string
		res     Result
		outcome string
		seenAt  func(tap) bool
		want    bool
	}{
		{"tcp connected", tcp, "connected", seen, true},
		{"tcp timeout, nothing seen", tcp, "timeout", unseen, true},
		{"udp answered", udpDelivered("coredns", Delivered), "answered", seen, true},
		{"udp to another program: silent", udpDelivered("coredns", Delivered), "timeout", unseen, false},
		{"udp to another program: answer seen, then lost", udpDelivered("coredns", Delivered), "timeout", seen, true},
		{"udp to netx's server: no answer is the path's fault", udpDelivered("netx", Delivered), "timeout", unseen, true},
	} {
		if got := replySent(&c.res, c.outcome, c.seenAt); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
