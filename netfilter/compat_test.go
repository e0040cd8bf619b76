package netfilter

import (
	"strings"
	"testing"
)

func TestIPTablesNFT(t *testing.T) {
	for _, tc := range []struct {
		name, nft string
		want      bool
	}{
		{"xt match", "table ip nat {\n chain KUBE-SERVICES {\n  ip daddr 10.96.0.10 tcp dport 80 xt match \"comment\" accept\n }\n}\n", true},
		{"xt target in an odd table", "table ip6 t {\n chain c {\n  xt target \"LOG\"\n }\n}\n", true},
		{"kube-proxy's hint table", "table ip mangle {\n chain KUBE-IPTABLES-HINT {\n }\n\n chain KUBE-KUBELET-CANARY {\n }\n}\n", true},
		{"iptables built-ins", "table ip filter {\n chain INPUT {\n  type filter hook input priority filter; policy accept;\n  jump KUBE-FIREWALL\n }\n chain KUBE-FIREWALL {\n }\n}\n", true},
		{"ebtables", "table bridge filter {\n chain FORWARD {\n  type filter hook forward priority -200; policy accept;\n }\n}\n", true},
		{"kube-proxy nftables", "table ip kube-proxy {\n chain nat-prerouting {\n  type nat hook prerouting priority dstnat; policy accept;\n }\n}\n", false},
		{"native nat table", "table ip nat {\n chain prerouting {\n  type nat hook prerouting priority dstnat; policy accept;\n }\n}\n", false},
		{"built-in name on the wrong hook", "table ip filter {\n chain INPUT {\n  type filter hook output priority filter; policy accept;\n }\n}\n", false},
		{"a set", "table ip filter {\n set s {\n  type ipv4_addr\n }\n chain INPUT {\n  type filter hook input priority filter; policy accept;\n }\n}\n", false},
		{"inet", "table inet filter {\n chain INPUT {\n  type filter hook input priority filter; policy accept;\n }\n}\n", false},
	} {
		rs, err := ParseNFT(strings.NewReader(tc.nft))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := IPTablesNFT(rs.Tables[0]); got != tc.want {
			t.Errorf("%s: IPTablesNFT = %v, want %v", tc.name, got, tc.want)
		}
	}
}
