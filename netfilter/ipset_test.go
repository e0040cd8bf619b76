package netfilter

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// ipsetSave is `ipset save` output of the types hosts and Calico use
// (written by ipset 7.17: options after the entry, comments quoted).
const ipsetSave = `create allow hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x5e8f0a31
add allow 10.244.0.0/16
add allow 10.244.2.2 nomatch
create svc hash:ip,port family inet hashsize 1024 maxelem 65536 comment
add svc 10.96.0.10,tcp:80 comment "default/svc-b"
add svc 10.96.0.11,udp:53
create ports bitmap:port range 0-65535
add ports 30000-30100
create host hash:ip family inet hashsize 1024 maxelem 65536 timeout 600
add host 192.168.77.11 timeout 598
create ifaces hash:net,iface family inet hashsize 1024 maxelem 65536
add ifaces 10.244.1.0/24,cni0
add ifaces 0.0.0.0/1,eth wildcard
add ifaces 128.0.0.0/1,physdev:veth1
create masked hash:ip family inet hashsize 1024 maxelem 65536 netmask 24
add masked 10.1.1.0
create nets hash:net,net family inet hashsize 1024 maxelem 65536
add nets 10.0.0.0/8,1.2.3.4 nomatch
add nets 10.1.0.0/16,1.2.0.0/16
create both list:set size 8
add both host
add both svc
create v6 hash:ip family inet6 hashsize 1024 maxelem 65536
`

func TestParseIPSetSave(t *testing.T) {
	sets, err := ParseIPSetSave(strings.NewReader(ipsetSave))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range sets {
		names = append(names, s.Name+" "+s.Type+" "+s.Family)
	}
	if want := []string{"allow hash:net inet", "svc hash:ip,port inet", "ports bitmap:port ", "host hash:ip inet", "ifaces hash:net,iface inet", "masked hash:ip inet", "nets hash:net,net inet", "both list:set ", "v6 hash:ip inet6"}; !reflect.DeepEqual(names, want) {
		t.Errorf("sets:\n%q\nwant\n%q", names, want)
	}
	if m := sets[0].Members; !reflect.DeepEqual(m, []string{"10.244.0.0/16", "10.244.2.2 nomatch"}) {
		t.Errorf("allow: %q", m)
	}
	if m := sets[1].Members; !reflect.DeepEqual(m, []string{"10.96.0.10,tcp:80", "10.96.0.11,udp:53"}) {
		t.Errorf("svc (comments dropped): %q", m)
	}
	if m := sets[4].Members; !reflect.DeepEqual(m, []string{"10.244.1.0/24,cni0", "0.0.0.0/1,eth wildcard", "128.0.0.0/1,physdev:veth1"}) {
		t.Errorf("ifaces (wildcard kept): %q", m)
	}
	if sets[5].Netmask != 24 {
		t.Errorf("netmask: %d", sets[5].Netmask)
	}
	if m := sets[8].Members; m == nil || len(m) != 0 {
		t.Errorf("an empty set has no members, not null: %#v", m)
	}

	for _, bad := range []string{
		"add nowhere 1.2.3.4\n",
		"create x hash:ip\ncreate x hash:ip\n",
		"create x hash:ip netmask 33x\n",
		"create x\n",
		"flush\n",
	} {
		if _, err := ParseIPSetSave(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestIPSetMatch(t *testing.T) {
	sets, err := ParseIPSetSave(strings.NewReader(ipsetSave))
	if err != nil {
		t.Fatal(err)
	}
	byName := func(n string) *IPSet {
		for i := range sets {
			if sets[i].Name == n {
				return &sets[i]
			}
		}
		return nil
	}
	a := netip.MustParseAddr
	pkt := func(proto, src string, sport uint16, dst string, dport uint16) IPSetPacket {
		return IPSetPacket{Proto: proto, Src: a(src), Dst: a(dst), SPort: sport, DPort: dport, InIface: "cni0", OutIface: "eth0"}
	}
	for _, c := range []struct {
		set   string
		flags string
		p     IPSetPacket
		hit   bool
		why   string
	}{
		{"allow", "dst", pkt("tcp", "1.1.1.1", 1, "10.244.1.3", 80), true, ""},
		{"allow", "dst", pkt("tcp", "1.1.1.1", 1, "10.244.2.2", 80), false, ""}, // nomatch, more specific
		{"allow", "src", pkt("tcp", "10.244.2.2", 1, "10.244.1.3", 80), false, ""},
		{"allow", "src", pkt("tcp", "10.244.2.3", 1, "10.244.1.3", 80), true, ""},
		{"allow", "dst", pkt("tcp", "1.1.1.1", 1, "10.245.0.1", 80), false, ""},
		{"svc", "dst,dst", pkt("tcp", "10.244.1.2", 40000, "10.96.0.10", 80), true, ""},
		{"svc", "dst,dst", pkt("udp", "10.244.1.2", 40000, "10.96.0.10", 80), false, ""}, // the protocol is part of the entry
		{"svc", "dst,dst", pkt("udp", "10.244.1.2", 40000, "10.96.0.11", 53), true, ""},
		{"svc", "dst,src", pkt("tcp", "10.244.1.2", 80, "10.96.0.10", 9), true, ""},
		{"ports", "dst", pkt("tcp", "1.1.1.1", 1, "2.2.2.2", 30080), true, ""},
		{"ports", "dst", pkt("udp", "1.1.1.1", 1, "2.2.2.2", 30100), true, ""},
		{"ports", "dst", pkt("tcp", "1.1.1.1", 1, "2.2.2.2", 30101), false, ""},
		{"host", "src", pkt("tcp", "192.168.77.11", 1, "2.2.2.2", 1), true, ""},
		{"ifaces", "dst,src", pkt("tcp", "1.1.1.1", 1, "10.244.1.9", 1), true, ""},                         // in cni0
		{"ifaces", "dst,dst", pkt("tcp", "1.1.1.1", 1, "10.244.1.9", 1), true, ""},                         // out eth0: eth, wildcard
		{"ifaces", "dst,dst", pkt("tcp", "1.1.1.1", 1, "100.64.0.1", 1), true, ""},                         // out eth0: eth, wildcard
		{"ifaces", "dst,src", pkt("tcp", "1.1.1.1", 1, "100.64.0.1", 1), false, ""},                        // in cni0: not eth*
		{"ifaces", "dst,src", IPSetPacket{Proto: "tcp", Dst: a("200.0.0.1"), InIface: "veth1"}, false, ""}, // physdev: never by -m set
		{"masked", "dst", pkt("tcp", "1.1.1.1", 1, "10.1.1.77", 80), true, ""},
		{"masked", "dst", pkt("tcp", "1.1.1.1", 1, "10.1.2.77", 80), false, ""},
		// The first dimension's longer prefix wins before the second's.
		{"nets", "src,dst", pkt("tcp", "10.1.1.1", 1, "1.2.3.4", 80), true, ""},
		{"nets", "src,dst", pkt("tcp", "10.2.1.1", 1, "1.2.3.4", 80), false, ""},
		{"both", "dst,dst", pkt("tcp", "1.1.1.1", 1, "10.96.0.10", 80), true, ""},
		{"both", "src,dst", pkt("tcp", "192.168.77.11", 1, "10.96.0.10", 81), true, ""},
		{"both", "src,dst", pkt("tcp", "192.168.77.12", 1, "10.96.0.10", 81), false, ""},
		// The kernel answers no, not "unknown": another family, or fewer
		// directions than dimensions.
		{"v6", "src", pkt("tcp", "1.1.1.1", 1, "2.2.2.2", 1), false, ""},
		{"svc", "dst", pkt("tcp", "1.1.1.1", 1, "10.96.0.10", 80), false, ""},
	} {
		hit, why := IPSetMatch(byName(c.set), strings.Split(c.flags, ","), c.p, byName)
		if hit != c.hit || why != c.why {
			t.Errorf("%s %s %+v: %v %q, want %v %q", c.set, c.flags, c.p, hit, why, c.hit, c.why)
		}
	}
	// A list holding an IPv6 set goes on to the next member.
	mixed := IPSet{Name: "mixed", Type: "list:set", Members: []string{"v6", "host"}}
	if hit, why := IPSetMatch(&mixed, []string{"src"}, pkt("tcp", "192.168.77.11", 1, "2.2.2.2", 1), byName); !hit || why != "" {
		t.Errorf("list of v6 and v4 sets: %v %q", hit, why)
	}
	// A list naming a set that is not there cannot be answered.
	broken := IPSet{Name: "l", Type: "list:set", Members: []string{"gone"}}
	if hit, why := IPSetMatch(&broken, []string{"src"}, pkt("tcp", "1.1.1.1", 1, "2.2.2.2", 1), byName); hit || !strings.Contains(why, "gone") {
		t.Errorf("list with a missing member set: %v %q", hit, why)
	}
	// So cannot a type netx does not model.
	mac := IPSet{Name: "m", Type: "hash:mac", Members: []string{"00:11:22:33:44:55"}}
	if hit, why := IPSetMatch(&mac, []string{"src"}, pkt("tcp", "1.1.1.1", 1, "2.2.2.2", 1), byName); hit || !strings.Contains(why, "mac") {
		t.Errorf("hash:mac: %v %q", hit, why)
	}
}
