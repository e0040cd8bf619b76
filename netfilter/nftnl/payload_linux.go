package nftnl

// Payload fields as nft names them (nft's proto.c templates): a payload
// load of a header's bytes prints as "PROTO FIELD" when its offset and
// length (and mask, for fields narrower than a byte) are those of a
// field; otherwise nft prints it raw, @base,offset,length in bits.

// Payload bases (NFT_PAYLOAD_*_HEADER).
const (
	baseLink      = 0
	baseNetwork   = 1
	baseTransport = 2
)

// pfield is one header field: bit offset and length within the header.
type pfield struct {
	name   string
	bitOff int
	bitLen int
	typ    *nftType
}

// pproto is a header: its nft name and fields.
type pproto struct {
	name   string
	fields []pfield
}

func fld(name string, byteOff, byteLen int, t *nftType) pfield {
	return pfield{name: name, bitOff: byteOff * 8, bitLen: byteLen * 8, typ: t}
}

var (
	protoEther = &pproto{"ether", []pfield{
		fld("daddr", 0, 6, typeEtherAddr), fld("saddr", 6, 6, typeEtherAddr), fld("type", 12, 2, typeEtherType)}}
	protoIP = &pproto{"ip", []pfield{
		{"version", 0, 4, typeInteger}, {"hdrlength", 4, 4, typeInteger},
		{"dscp", 8, 6, typeDSCP}, {"ecn", 14, 2, typeECN},
		fld("length", 2, 2, typeInteger), fld("id", 4, 2, typeInteger), fld("frag-off", 6, 2, typeInteger),
		fld("ttl", 8, 1, typeInteger), fld("protocol", 9, 1, typeInetProto), fld("checksum", 10, 2, typeInteger),
		fld("saddr", 12, 4, typeIPv4), fld("daddr", 16, 4, typeIPv4)}}
	protoIP6 = &pproto{"ip6", []pfield{
		{"version", 0, 4, typeInteger}, {"dscp", 4, 6, typeDSCP}, {"ecn", 10, 2, typeECN},
		{"flowlabel", 12, 20, typeInteger},
		fld("length", 4, 2, typeInteger), fld("nexthdr", 6, 1, typeInetProto), fld("hoplimit", 7, 1, typeInteger),
		fld("saddr", 8, 16, typeIPv6), fld("daddr", 24, 16, typeIPv6)}}
	protoTH = &pproto{"th", []pfield{
		fld("sport", 0, 2, typeService), fld("dport", 2, 2, typeService)}}
	protoTCP = &pproto{"tcp", []pfield{
		fld("sport", 0, 2, typeService), fld("dport", 2, 2, typeService), fld("sequence", 4, 4, typeInteger),
		fld("ackseq", 8, 4, typeInteger), {"doff", 96, 4, typeInteger}, fld("flags", 13, 1, typeTCPFlag),
		fld("window", 14, 2, typeInteger), fld("checksum", 16, 2, typeInteger), fld("urgptr", 18, 2, typeInteger)}}
	protoUDP = &pproto{"udp", []pfield{
		fld("sport", 0, 2, typeService), fld("dport", 2, 2, typeService), fld("length", 4, 2, typeInteger),
		fld("checksum", 6, 2, typeInteger)}}
	protoUDPLite = &pproto{"udplite", []pfield{
		fld("sport", 0, 2, typeService), fld("dport", 2, 2, typeService), fld("checksum", 6, 2, typeInteger)}}
	protoSCTP = &pproto{"sctp", []pfield{
		fld("sport", 0, 2, typeService), fld("dport", 2, 2, typeService), fld("vtag", 4, 4, typeInteger),
		fld("checksum", 8, 4, typeInteger)}}
	protoDCCP = &pproto{"dccp", []pfield{
		fld("sport", 0, 2, typeService), fld("dport", 2, 2, typeService)}}
	protoICMP = &pproto{"icmp", []pfield{
		fld("type", 0, 1, typeICMPType), fld("code", 1, 1, typeICMPCode), fld("checksum", 2, 2, typeInteger),
		fld("id", 4, 2, typeInteger), fld("sequence", 6, 2, typeInteger)}}
	protoICMP6 = &pproto{"icmpv6", []pfield{
		fld("type", 0, 1, typeICMP6Type), fld("code", 1, 1, typeICMPv6Code), fld("checksum", 2, 2, typeInteger),
		fld("id", 4, 2, typeInteger), fld("sequence", 6, 2, typeInteger)}}
)

// l4Proto is the transport header for IP protocol number p; nil if nft
// has none in this table.
func l4Proto(p int) *pproto {
	switch p {
	case 6:
		return protoTCP
	case 17:
		return protoUDP
	case 136:
		return protoUDPLite
	case 132:
		return protoSCTP
	case 33:
		return protoDCCP
	case 1:
		return protoICMP
	case 58:
		return protoICMP6
	}
	return nil
}

// field finds the field spanning exactly bits [off, off+n) of the header.
func (p *pproto) field(off, n int) *pfield {
	for i := range p.fields {
		if p.fields[i].bitOff == off && p.fields[i].bitLen == n {
			return &p.fields[i]
		}
	}
	return nil
}

// prefixOf finds the address field whose leading n bits start at off: a
// load of only part of an address is a prefix match.
func (p *pproto) prefixOf(off, n int) *pfield {
	for i := range p.fields {
		fl := &p.fields[i]
		if fl.bitOff == off && n < fl.bitLen && fl.typ.prefix {
			return fl
		}
	}
	return nil
}
