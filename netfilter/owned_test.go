package netfilter

import (
	"strings"
	"testing"
)

// TestWriteOwnedRestore: only the owned chains and the jumps into them
// are written; what is already so writes nothing; a chain no longer
// wanted is emptied, unhooked and deleted; other rules are never named.
func TestWriteOwnedRestore(t *testing.T) {
	owned := func(_, c string) bool { return strings.HasPrefix(c, "NETX-") }
	want := NewIPTablesBuilder(FamilyIP, SourceIPTablesNFT)
	want.Chain("nat", "NETX-A")
	want.Ensure("nat", "POSTROUTING", First, "-j", "NETX-A")
	want.Append("nat", "NETX-A", "-s", "10.0.0.0/8", "-j", "MASQUERADE")
	wrs, err := want.Ruleset()
	if err != nil {
		t.Fatal(err)
	}
	parse := func(s string) *Ruleset {
		rs, err := ParseIPTablesSave(strings.NewReader(s), SourceIPTablesNFT)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	live := parse("*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-POSTROUTING - [0:0]\n:NETX-OLD - [0:0]\n-A POSTROUTING -j KUBE-POSTROUTING\n-A POSTROUTING -j NETX-OLD\n-A NETX-OLD -j RETURN\nCOMMIT\n")
	var b strings.Builder
	changed, err := wrs.WriteOwnedRestore(&b, live, owned)
	if err != nil || !changed {
		t.Fatalf("changed %v, %v", changed, err)
	}
	wantText := "*nat\n:NETX-A - [0:0]\n-D POSTROUTING -j NETX-OLD\n-F NETX-OLD\n-A NETX-A -s 10.0.0.0/8 -j MASQUERADE\n-I POSTROUTING 1 -j NETX-A\n-X NETX-OLD\nCOMMIT\n"
	if b.String() != wantText {
		t.Errorf("restore text:\n%s\nwant:\n%s", b.String(), wantText)
	}
	if strings.Contains(b.String(), "KUBE-") {
		t.Error("a chain netx does not own is named")
	}
	done := parse("*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-POSTROUTING - [0:0]\n:NETX-A - [0:0]\n-A POSTROUTING -j NETX-A\n-A POSTROUTING -j KUBE-POSTROUTING\n-A NETX-A -s 10.0.0.0/8 -j MASQUERADE\nCOMMIT\n")
	b.Reset()
	if changed, err := wrs.WriteOwnedRestore(&b, done, owned); err != nil || changed || b.Len() != 0 {
		t.Errorf("nothing to change: changed %v, %v, %q", changed, err, b.String())
	}
}
