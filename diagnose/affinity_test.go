package diagnose

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/netfilter"
)

func TestPins(t *testing.T) {
	ipt, err := netfilter.ParseIPTablesSave(strings.NewReader(`*nat
:KUBE-SVC-X - [0:0]
:KUBE-SEP-A - [0:0]
:KUBE-SEP-B - [0:0]
-A KUBE-SVC-X -m comment --comment "lab/sticky:http -> 10.244.1.5:8080" -m recent --rcheck --seconds 600 --reap --name KUBE-SEP-A --mask 255.255.255.255 --rsource -j KUBE-SEP-A
-A KUBE-SVC-X -m comment --comment "lab/sticky:http -> 10.244.2.5:8080" -m recent --rcheck --seconds 600 --reap --name KUBE-SEP-B --mask 255.255.255.255 --rsource -j KUBE-SEP-B
-A KUBE-SEP-A -p tcp -m comment --comment "lab/sticky:http" -m recent --set --name KUBE-SEP-A --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.1.5:8080
-A KUBE-SEP-B -p tcp -m comment --comment "lab/sticky:http" -m recent --set --name KUBE-SEP-B --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.2.5:8080
COMMIT
`), netfilter.SourceIPTablesNFT)
	if err != nil {
		t.Fatal(err)
	}
	nft, err := netfilter.ParseNFT(strings.NewReader(`table ip kube-proxy {
	set affinity-4PT7ZO7K-default/svc-sticky/tcp/http__10.244.2.2/8080 {
		type ipv4_addr
		size 65535
		flags dynamic,timeout
		timeout 10m
		elements = { 10.244.1.2 expires 9m59s }
	}
}
`))
	if err != nil {
		t.Fatal(err)
	}
	node := &inspect.Netns{Netfilter: []*netfilter.Ruleset{ipt, nft}, Recent: []netfilter.RecentTable{
		{Name: "KUBE-SEP-A", Entries: []netfilter.RecentEntry{{Addr: netip.MustParseAddr("10.244.1.9"), LastSeen: time.Minute}, {Addr: netip.MustParseAddr("10.244.1.8"), LastSeen: time.Hour}}},
		{Name: "KUBE-SEP-B"},
	}}
	got := Pins(node)
	want := []Pin{
		{Client: netip.MustParseAddr("10.244.1.2"), Endpoint: netip.MustParseAddrPort("10.244.2.2:8080"), Service: "default/svc-sticky:http", Left: 9*time.Minute + 59*time.Second, Store: "set affinity-4PT7ZO7K-default/svc-sticky/tcp/http__10.244.2.2/8080"},
		// 10.244.1.8 was seen an hour ago: past the 600 s, not pinned.
		{Client: netip.MustParseAddr("10.244.1.9"), Endpoint: netip.MustParseAddrPort("10.244.1.5:8080"), Service: "lab/sticky:http", Left: 9 * time.Minute, Store: "recent list KUBE-SEP-A"},
	}
	if len(got) != len(want) {
		t.Fatalf("pins %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pin %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
