package trace

import (
	"slices"
	"testing"
)

// TestExpectedOutcome: what the probe's sender must see for a prediction,
// the reply's fate included.
func TestExpectedOutcome(t *testing.T) {
	tcp := PacketView{Proto: "tcp"}
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
	} {
		if got := expectedOutcome(&c.res); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
