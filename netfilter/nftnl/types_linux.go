package nftnl

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/netx-project/netx/netfilter"
)

// This file formats the values netlink carries as raw bytes the way nft
// 1.0.6 prints them, per nft data type: an address dotted, a protocol by
// its /etc/protocols name, a mark in 8 hex digits, a conntrack state as
// its flag names. A value's bytes are in network order for packet fields
// (addresses, ports) and in host order for what the kernel computes
// itself (marks, meta and ct keys, numgen).

// nftType is an nft data type (nft's include/datatype.h): its number as
// set key types carry it, name, size in bytes (0: variable), byte order,
// and how a value prints.
type nftType struct {
	id   uint32
	name string
	size int
	host bool // host byte order, else big endian
	// prefix types print interval set elements as address/len.
	prefix bool
	// bitmask types test flags: "ct state new" is (state & new) != 0.
	bitmask bool
	// syms names values; a value without a name prints in decimal.
	syms map[uint64]string
	// print formats a value when syms does not apply.
	print func(b []byte, host bool) string
}

// nft data type numbers (enum datatypes in nft's datatype.h).
const (
	nftTypeVerdict     = 1
	nftTypeNFProto     = 2
	nftTypeBitmask     = 3
	nftTypeInteger     = 4
	nftTypeString      = 5
	nftTypeLLAddr      = 6
	nftTypeIPv4        = 7
	nftTypeIPv6        = 8
	nftTypeEtherAddr   = 9
	nftTypeEtherType   = 10
	nftTypeARPOp       = 11
	nftTypeInetProto   = 12
	nftTypeInetService = 13
	nftTypeICMPType    = 14
	nftTypeTCPFlag     = 15
	nftTypeDCCPPktType = 16
	nftTypeMHType      = 17
	nftTypeTime        = 18
	nftTypeMark        = 19
	nftTypeIfIndex     = 20
	nftTypeARPHRD      = 21
	nftTypeRealm       = 22
	nftTypeClassID     = 23
	nftTypeUID         = 24
	nftTypeGID         = 25
	nftTypeCTState     = 26
	nftTypeCTDir       = 27
	nftTypeCTStatus    = 28
	nftTypeICMP6Type   = 29
	nftTypeCTLabel     = 30
	nftTypePktType     = 31
	nftTypeICMPCode    = 32
	nftTypeICMPv6Code  = 33
	nftTypeICMPXCode   = 34
	nftTypeDevGroup    = 35
	nftTypeDSCP        = 36
	nftTypeECN         = 37
	nftTypeFIBAddr     = 38
	nftTypeBoolean     = 39
	nftTypeCTEvent     = 40
	nftTypeIfName      = 41
	nftTypeIGMPType    = 42
	nftTypeTimeDate    = 43
	nftTypeTimeHour    = 44
	nftTypeTimeDay     = 45
	nftTypeCgroupV2    = 46
)

// nftVerdictType is the data type number of a verdict map's data
// (NFT_DATA_VERDICT).
const nftVerdictType = 0xffffff00

// nftConcatBits is how many bits of a set's key type number each part of
// a concatenation takes (nft's TYPE_BITS).
const nftConcatBits = 6

var (
	typeInteger     = &nftType{id: nftTypeInteger, name: "integer", print: printDecimal}
	typeHostInteger = &nftType{id: nftTypeInteger, name: "integer", host: true, print: printDecimal}
	typeString      = &nftType{id: nftTypeString, name: "string", host: true, print: printQuoted}
	typeIPv4        = &nftType{id: nftTypeIPv4, name: "ipv4_addr", size: 4, prefix: true, print: printAddr}
	typeIPv6        = &nftType{id: nftTypeIPv6, name: "ipv6_addr", size: 16, prefix: true, print: printAddr}
	typeEtherAddr   = &nftType{id: nftTypeEtherAddr, name: "ether_addr", size: 6, print: printMAC}
	typeLLAddr      = &nftType{id: nftTypeLLAddr, name: "ll_addr", print: printMAC}
	typeEtherType   = &nftType{id: nftTypeEtherType, name: "ether_type", size: 2, syms: map[uint64]string{
		0x0800: "ip", 0x0806: "arp", 0x86dd: "ip6", 0x8100: "8021q", 0x88a8: "8021ad", 0x8035: "rarp"}, print: printHex}
	typeARPOp     = &nftType{id: nftTypeARPOp, name: "arp_op", size: 2, syms: map[uint64]string{1: "request", 2: "reply", 3: "rrequest", 4: "rreply", 8: "inrequest", 9: "inreply", 10: "nak"}, print: printDecimal}
	typeInetProto = &nftType{id: nftTypeInetProto, name: "inet_proto", size: 1, syms: protocolNames, print: printDecimal}
	typeService   = &nftType{id: nftTypeInetService, name: "inet_service", size: 2, print: printDecimal}
	typeICMPType  = &nftType{id: nftTypeICMPType, name: "icmp_type", size: 1, syms: map[uint64]string{
		0: "echo-reply", 3: "destination-unreachable", 4: "source-quench", 5: "redirect", 8: "echo-request",
		9: "router-advertisement", 10: "router-solicitation", 11: "time-exceeded", 12: "parameter-problem",
		13: "timestamp-request", 14: "timestamp-reply", 15: "info-request", 16: "info-reply",
		17: "address-mask-request", 18: "address-mask-reply"}, print: printDecimal}
	typeTCPFlag = &nftType{id: nftTypeTCPFlag, name: "tcp_flag", size: 1, bitmask: true, syms: map[uint64]string{
		0x01: "fin", 0x02: "syn", 0x04: "rst", 0x08: "psh", 0x10: "ack", 0x20: "urg", 0x40: "ecn", 0x80: "cwr"}, print: printHex}
	typeTime      = &nftType{id: nftTypeTime, name: "time", host: true, print: printTime}
	typeMark      = &nftType{id: nftTypeMark, name: "mark", size: 4, host: true, print: printMark}
	typeIfIndex   = &nftType{id: nftTypeIfIndex, name: "iface_index", size: 4, host: true, print: printDecimal}
	typeIfaceType = &nftType{id: nftTypeARPHRD, name: "iface_type", size: 2, host: true, syms: map[uint64]string{
		1: "ether", 512: "ppp", 768: "ipip", 769: "ipip6", 772: "loopback", 776: "sit", 778: "ipgre"}, print: printDecimal}
	typeRealm    = &nftType{id: nftTypeRealm, name: "realm", size: 4, host: true, print: printDecimal}
	typeClassID  = &nftType{id: nftTypeClassID, name: "classid", size: 4, host: true, print: printClassID}
	typeUID      = &nftType{id: nftTypeUID, name: "uid", size: 4, host: true, print: printDecimal}
	typeGID      = &nftType{id: nftTypeGID, name: "gid", size: 4, host: true, print: printDecimal}
	typeCTState  = &nftType{id: nftTypeCTState, name: "ct_state", size: 4, host: true, bitmask: true, syms: map[uint64]string{1: "invalid", 2: "established", 4: "related", 8: "new", 64: "untracked"}, print: printHex}
	typeCTDir    = &nftType{id: nftTypeCTDir, name: "ct_dir", size: 1, host: true, syms: map[uint64]string{0: "original", 1: "reply"}, print: printDecimal}
	typeCTStatus = &nftType{id: nftTypeCTStatus, name: "ct_status", size: 4, host: true, bitmask: true, syms: map[uint64]string{
		1: "expected", 2: "seen-reply", 4: "assured", 8: "confirmed", 16: "snat", 32: "dnat", 512: "dying"}, print: printHex}
	typeICMP6Type = &nftType{id: nftTypeICMP6Type, name: "icmpv6_type", size: 1, syms: map[uint64]string{
		1: "destination-unreachable", 2: "packet-too-big", 3: "time-exceeded", 4: "parameter-problem",
		128: "echo-request", 129: "echo-reply", 130: "mld-listener-query", 131: "mld-listener-report",
		132: "mld-listener-done", 133: "nd-router-solicit", 134: "nd-router-advert", 135: "nd-neighbor-solicit",
		136: "nd-neighbor-advert", 137: "nd-redirect", 138: "router-renumbering", 141: "ind-neighbor-solicit",
		142: "ind-neighbor-advert", 143: "mld2-listener-report"}, print: printDecimal}
	typeCTLabel  = &nftType{id: nftTypeCTLabel, name: "ct_label", size: 16, host: true, print: printHex}
	typePktType  = &nftType{id: nftTypePktType, name: "pkt_type", size: 1, host: true, syms: map[uint64]string{0: "host", 1: "broadcast", 2: "multicast", 3: "other"}, print: printDecimal}
	typeICMPCode = &nftType{id: nftTypeICMPCode, name: "icmp_code", size: 1, syms: map[uint64]string{
		0: "net-unreachable", 1: "host-unreachable", 2: "prot-unreachable", 3: "port-unreachable",
		4: "frag-needed", 9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited"}, print: printDecimal}
	typeICMPv6Code = &nftType{id: nftTypeICMPv6Code, name: "icmpv6_code", size: 1, syms: map[uint64]string{
		0: "no-route", 1: "admin-prohibited", 3: "addr-unreachable", 4: "port-unreachable", 5: "policy-fail", 6: "reject-route"}, print: printDecimal}
	typeICMPXCode = &nftType{id: nftTypeICMPXCode, name: "icmpx_code", size: 1, syms: map[uint64]string{
		0: "no-route", 1: "port-unreachable", 2: "host-unreachable", 3: "admin-prohibited"}, print: printDecimal}
	typeDevGroup = &nftType{id: nftTypeDevGroup, name: "devgroup", size: 4, host: true, print: printDecimal}
	typeDSCP     = &nftType{id: nftTypeDSCP, name: "dscp", size: 1, syms: map[uint64]string{
		0: "cs0", 8: "cs1", 16: "cs2", 24: "cs3", 32: "cs4", 40: "cs5", 48: "cs6", 56: "cs7", 10: "af11", 12: "af12",
		14: "af13", 18: "af21", 20: "af22", 22: "af23", 26: "af31", 28: "af32", 30: "af33", 34: "af41", 36: "af42",
		38: "af43", 44: "va", 46: "ef", 1: "le"}, print: printHex}
	typeECN     = &nftType{id: nftTypeECN, name: "ecn", size: 1, syms: map[uint64]string{0: "not-ect", 1: "ect1", 2: "ect0", 3: "ce"}, print: printHex}
	typeFIBAddr = &nftType{id: nftTypeFIBAddr, name: "fib_addrtype", size: 4, host: true, syms: map[uint64]string{
		0: "unspec", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole",
		7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat", 11: "xresolve"}, print: printDecimal}
	typeBoolean = &nftType{id: nftTypeBoolean, name: "boolean", size: 1, host: true, syms: map[uint64]string{0: "missing", 1: "exists"}, print: printDecimal}
	typeIfName  = &nftType{id: nftTypeIfName, name: "ifname", size: 16, host: true, print: printQuoted}
	typeNFProto = &nftType{id: nftTypeNFProto, name: "nf_proto", size: 1, host: true, syms: map[uint64]string{2: "ipv4", 10: "ipv6"}, print: printDecimal}
	typeCTEvent = &nftType{id: nftTypeCTEvent, name: "ct_event", size: 4, host: true, bitmask: true, syms: map[uint64]string{
		1: "new", 2: "related", 4: "destroy", 8: "reply", 16: "assured", 32: "protoinfo", 64: "helper", 128: "mark",
		256: "seqadj", 512: "secmark", 1024: "label"}, print: printHex}
)

func registerTypes(ts ...*nftType) map[uint32]*nftType {
	m := make(map[uint32]*nftType, len(ts))
	for _, t := range ts {
		m[t.id] = t
	}
	return m
}

// nftTypeByID returns the type numbered id.
func nftTypeByID(id uint32) *nftType {
	switch id {
	case nftTypeInteger:
		// A set of integers (numgen, hash, meta keys) holds them in host
		// order; the key byte order nft records says otherwise for the
		// rare payload integer, which prints the same below 2^8.
		return typeHostInteger
	}
	if t := nftTypeTable[id]; t != nil {
		return t
	}
	return nil
}

var nftTypeTable = registerTypes(typeString, typeIPv4, typeIPv6, typeEtherAddr, typeLLAddr, typeEtherType, typeARPOp,
	typeInetProto, typeService, typeICMPType, typeTCPFlag, typeTime, typeMark, typeIfIndex, typeIfaceType, typeRealm,
	typeClassID, typeUID, typeGID, typeCTState, typeCTDir, typeCTStatus, typeICMP6Type, typeCTLabel, typePktType,
	typeICMPCode, typeICMPv6Code, typeICMPXCode, typeDevGroup, typeDSCP, typeECN, typeFIBAddr, typeBoolean,
	typeIfName, typeNFProto, typeCTEvent)

// splitConcatType splits a set key type number into its parts, in order.
// A part nft does not know comes back nil.
func splitConcatType(id uint32) []*nftType {
	if id == 0 {
		return nil
	}
	var parts []*nftType
	for id != 0 {
		parts = append(parts, nftTypeByID(id&(1<<nftConcatBits-1)))
		id >>= nftConcatBits
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return parts
}

// uintOf reads b as an unsigned integer in the given byte order; values
// wider than 8 bytes keep their low 8 bytes.
func uintOf(b []byte, host bool) uint64 {
	var v uint64
	if host && hostLE {
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		return v
	}
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// putUint writes v into n bytes in the given byte order.
func putUint(v uint64, n int, host bool) []byte {
	b := make([]byte, n)
	for i := range n {
		if host && hostLE {
			b[i] = byte(v >> (8 * i))
		} else {
			b[n-1-i] = byte(v >> (8 * i))
		}
	}
	return b
}

func printDecimal(b []byte, host bool) string {
	if len(b) > 8 {
		return printHex(b, host)
	}
	return strconv.FormatUint(uintOf(b, host), 10)
}

func printHex(b []byte, host bool) string {
	if len(b) > 8 {
		c := append([]byte(nil), b...)
		if host && hostLE {
			for i, j := 0, len(c)-1; i < j; i, j = i+1, j-1 {
				c[i], c[j] = c[j], c[i]
			}
		}
		return "0x" + new(big.Int).SetBytes(c).Text(16)
	}
	return "0x" + strconv.FormatUint(uintOf(b, host), 16)
}

func printMark(b []byte, host bool) string { return fmt.Sprintf("0x%08x", uintOf(b, host)) }

func printAddr(b []byte, _ bool) string {
	if a, ok := netip.AddrFromSlice(b); ok {
		return a.String()
	}
	return printHex(b, false)
}

func printMAC(b []byte, _ bool) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}

// printQuoted prints a NUL-padded string in double quotes, as nft prints
// interface names and helper names. A literal * is escaped: unescaped it
// would read back as a wildcard.
func printQuoted(b []byte, _ bool) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return nftQuote(strings.ReplaceAll(string(b), `*`, `\*`))
}

func printClassID(b []byte, host bool) string {
	v := uint32(uintOf(b, host))
	switch v {
	case 0:
		return "none"
	case 0xffffffff:
		return "root"
	}
	return fmt.Sprintf("%x:%x", v>>16, v&0xffff)
}

// printTime prints milliseconds as nft prints times: 1d2h3m4s5ms.
func printTime(b []byte, host bool) string { return nftDuration(uintOf(b, host)) }

// nftDuration prints milliseconds as nft prints times (1d2h3m4s5ms).
func nftDuration(ms uint64) string {
	return netfilter.FormatNFTDuration(time.Duration(ms) * time.Millisecond)
}

// format prints one value of type t (nil: an integer in network order).
func (t *nftType) format(b []byte) string {
	if t == nil {
		return printHex(b, false)
	}
	if t.bitmask {
		return t.flags(uintOf(b, t.host))
	}
	if t.syms != nil {
		if s, ok := t.syms[uintOf(b, t.host)]; ok {
			return s
		}
	}
	return t.print(b, t.host)
}

// flags prints a bitmask value as nft does: its flag names joined by
// commas, lowest bit first.
func (t *nftType) flags(v uint64) string {
	if v == 0 {
		return t.print(putUint(0, 1, t.host), t.host)
	}
	var names []string
	for bit := uint64(1); bit != 0 && bit <= v; bit <<= 1 {
		if v&bit == 0 {
			continue
		}
		if s, ok := t.syms[bit]; ok {
			names = append(names, s)
		} else {
			names = append(names, fmt.Sprintf("0x%x", bit))
		}
	}
	return strings.Join(names, ",")
}

// protocolNames are the names getprotobynumber gives with Debian's
// /etc/protocols (netbase), which nft prints for inet_proto values.
var protocolNames = func() map[uint64]string {
	const list = "0 ip;1 icmp;2 igmp;3 ggp;4 ipencap;5 st;6 tcp;8 egp;9 igp;12 pup;17 udp;20 hmp;22 xns-idp;27 rdp;" +
		"29 iso-tp4;33 dccp;36 xtp;37 ddp;38 idpr-cmtp;41 ipv6;43 ipv6-route;44 ipv6-frag;45 idrp;46 rsvp;47 gre;" +
		"50 esp;51 ah;57 skip;58 ipv6-icmp;59 ipv6-nonxt;60 ipv6-opts;73 rspf;81 vmtp;88 eigrp;89 ospf;93 ax.25;" +
		"94 ipip;97 etherip;98 encap;103 pim;108 ipcomp;112 vrrp;115 l2tp;124 isis;132 sctp;133 fc;" +
		"135 mobility-header;136 udplite;137 mpls-in-ip;138 manet;139 hip;140 shim6;141 wesp;142 rohc;143 ethernet"
	m := map[uint64]string{}
	for _, e := range strings.Split(list, ";") {
		n, name, _ := strings.Cut(e, " ")
		v, _ := strconv.ParseUint(n, 10, 8)
		m[v] = name
	}
	return m
}()

// hostLE says host-order values are little endian: the kernel's byte
// order is the machine's own, since the ruleset is read from the local
// kernel.
var hostLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
