package nftrace

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/google/nftables/expr"
)

func TestTraceRules(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	rules, err := traceRules([]Tuple{
		{Proto: "tcp", Src: a, Dst: b, SPort: 40000, DPort: 80},
		{Proto: "icmp", Dst: netip.MustParseAddr("::ffff:10.0.0.2")},
	})
	if err != nil {
		t.Fatal(err)
	}
	set := []expr.Any{
		&expr.Immediate{Register: 1, Data: []byte{1}},
		&expr.Meta{Key: expr.MetaKeyNFTRACE, SourceRegister: true, Register: 1},
	}
	load := func(base expr.PayloadBase, off uint32, data ...byte) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: base, Offset: off, Len: uint32(len(data))},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data},
		}
	}
	nh, th := expr.PayloadBaseNetworkHeader, expr.PayloadBaseTransportHeader
	var want0 []expr.Any
	for _, m := range [][]expr.Any{load(nh, 9, 6), load(nh, 12, 10, 0, 0, 1), load(nh, 16, 10, 0, 0, 2), load(th, 0, 0x9c, 0x40), load(th, 2, 0, 80), set} {
		want0 = append(want0, m...)
	}
	var want1 []expr.Any
	for _, m := range [][]expr.Any{load(nh, 9, 1), load(nh, 16, 10, 0, 0, 2), set} {
		want1 = append(want1, m...)
	}
	if !reflect.DeepEqual(rules, [][]expr.Any{want0, want1}) {
		t.Errorf("rules differ")
	}
	for _, tc := range []struct {
		tuples []Tuple
		err    string
	}{
		{nil, "no packet tuple"},
		{[]Tuple{{Proto: "gre"}}, "not tcp, udp"},
		{[]Tuple{{Proto: "icmp", DPort: 1}}, "ports need"},
		{[]Tuple{{DPort: 1}}, "ports need"},
		{[]Tuple{{Proto: "udp", Dst: netip.MustParseAddr("fd00::1")}}, "only IPv4"},
		{[]Tuple{{Proto: "udp", Src: netip.MustParseAddr("fd00::1")}}, "only IPv4"},
	} {
		if _, err := traceRules(tc.tuples); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: error %v, want one saying %q", tc.tuples, err, tc.err)
		}
	}
}

func TestTablePID(t *testing.T) {
	for name, want := range map[string]int{
		"netx-trace-123-4259371897": 123,
		"netx-trace-1-0":            1,
		"netx-trace-x-1":            0,
		"netx-trace-12":             0,
		"netx-trace-12-":            0,
		"netx-trace-0-1":            0,
		"netx-trace-12-1-2":         0,
		"netx-tracer-12-1":          0,
		"filter":                    0,
	} {
		got, ok := tablePID(name)
		if got != want || ok != (want != 0) {
			t.Errorf("%s: %d %v, want %d", name, got, ok, want)
		}
	}
}
