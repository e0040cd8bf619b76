package netfilter

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Where a Ruleset was read from. iptables-nft and iptables-legacy print the
// same iptables-save text but program different kernel subsystems; a node
// can carry rules in both, which inspect reports loudly.
const (
	SourceIPTablesNFT    = "iptables-nft"
	SourceIPTablesLegacy = "iptables-legacy"
	SourceNFTables       = "nftables"
)

// Family is a netfilter address family, spelled as nft spells it.
// iptables-save fills ip, ip6tables-save ip6.
type Family string

const (
	FamilyIP     Family = "ip"
	FamilyIP6    Family = "ip6"
	FamilyInet   Family = "inet" // both ip and ip6 packets
	FamilyBridge Family = "bridge"
	FamilyARP    Family = "arp"
	FamilyNetdev Family = "netdev"
)

// Hook is the netfilter hook a base chain is attached to.
type Hook string

const (
	HookPrerouting  Hook = "prerouting"
	HookInput       Hook = "input"
	HookForward     Hook = "forward"
	HookOutput      Hook = "output"
	HookPostrouting Hook = "postrouting"
	HookIngress     Hook = "ingress"
	HookEgress      Hook = "egress"
)

// ChainType is a base chain's nftables type.
type ChainType string

const (
	ChainFilter ChainType = "filter"
	ChainNAT    ChainType = "nat"
	ChainRoute  ChainType = "route" // mangle OUTPUT: re-routes when the mark or addresses change
)

// Standard hook priorities (the kernel's NF_IP_PRI_*, nft's named
// priorities). Lower runs first at the same hook.
const (
	PriorityRaw      = -300
	PriorityMangle   = -150
	PriorityDstNAT   = -100
	PriorityFilter   = 0
	PrioritySecurity = 50
	PrioritySrcNAT   = 100
)

// Ruleset is every table of one netfilter source on one node: the whole of
// an iptables-save (or ip6tables-save) dump, or the nftables ruleset read
// over netlink. iptables and nftables share this one model so that trace
// evaluates, and kubeproxy writes, a single representation.
type Ruleset struct {
	Source string   `json:"source"`
	Tables []*Table `json:"tables"`
}

// Table returns the table family/name, or nil.
func (r *Ruleset) Table(family Family, name string) *Table {
	for _, t := range r.Tables {
		if t.Family == family && t.Name == name {
			return t
		}
	}
	return nil
}

// HookedChain is a base chain with the table that holds it.
type HookedChain struct {
	Table *Table
	Chain *Chain
}

// Hooked returns the base chains a packet of family traverses at hook, in
// the order the kernel runs them: by priority, then in table order (the
// kernel's order among equal priorities is registration order, which the
// dump does not carry). inet tables apply to ip and ip6 packets alike.
func (r *Ruleset) Hooked(family Family, hook Hook) []HookedChain {
	var out []HookedChain
	for _, t := range r.Tables {
		if t.Family != family && (t.Family != FamilyInet || (family != FamilyIP && family != FamilyIP6)) {
			continue
		}
		for _, c := range t.Chains {
			if c.Hook == hook {
				out = append(out, HookedChain{t, c})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b HookedChain) int { return a.Chain.Priority - b.Chain.Priority })
	return out
}

// Table is one netfilter table. For iptables, the table name (filter, nat,
// mangle, raw, security) fixes its built-in chains' hooks and priorities;
// nftables tables name their base chains' hooks themselves.
type Table struct {
	Family  Family   `json:"family"`
	Name    string   `json:"name"`
	Comment string   `json:"comment,omitempty"`
	Chains  []*Chain `json:"chains"`
	Sets    []*Set   `json:"sets,omitempty"` // nftables sets and maps; iptables has none (ipsets live outside)
	// Flags are an nftables table's flags (dormant: the table is
	// loaded but its base chains are not hooked).
	Flags []string `json:"flags,omitempty"`
	// Objects are nftables objects netx does not model (flowtables,
	// named counters and quotas, ct helpers ...), each as written, so a
	// reader sees they exist.
	Objects []string `json:"objects,omitempty"`

	// index maps chain names to Chains, and sets set names to Sets. The
	// parsers build them; a Table decoded from JSON has none until
	// Reindex, and Chain and Set fall back to a scan, so lookups stay
	// correct either way. (kube-proxy's nftables table holds 30k chains
	// and 10k anonymous maps, each looked up by name as rules refer to
	// them: scans would make reading it quadratic.)
	index map[string]*Chain
	sets  map[string]*Set
}

// Chain returns the chain called name, or nil.
func (t *Table) Chain(name string) *Chain {
	if t.index != nil {
		return t.index[name]
	}
	for _, c := range t.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Set returns the set or map called name, or nil.
func (t *Table) Set(name string) *Set {
	if t.sets != nil {
		return t.sets[name]
	}
	for _, s := range t.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Reindex rebuilds the chain and set indexes, for a Table built or
// decoded by hand. A kube-proxy table holds tens of thousands of chains,
// and trace looks one up at every jump.
func (t *Table) Reindex() {
	t.index = make(map[string]*Chain, len(t.Chains))
	for _, c := range t.Chains {
		t.index[c.Name] = c
	}
	t.sets = make(map[string]*Set, len(t.Sets))
	for _, s := range t.Sets {
		t.sets[s.Name] = s
	}
}

// addSet appends s and indexes it.
func (t *Table) addSet(s *Set) {
	t.Sets = append(t.Sets, s)
	if t.sets == nil {
		t.sets = make(map[string]*Set)
	}
	t.sets[s.Name] = s
}

// removeSet takes s out of the table and its index.
func (t *Table) removeSet(s *Set) {
	delete(t.sets, s.Name)
	t.Sets = slices.DeleteFunc(t.Sets, func(x *Set) bool { return x == s })
}

// removeChain takes c out of the table and its index.
func (t *Table) removeChain(c *Chain) {
	delete(t.index, c.Name)
	t.Chains = slices.DeleteFunc(t.Chains, func(x *Chain) bool { return x == c })
}

// Reindex rebuilds every table's indexes (see Table.Reindex).
func (r *Ruleset) Reindex() {
	for _, t := range r.Tables {
		t.Reindex()
	}
}

// Counters are a chain's or rule's packet and byte counters.
type Counters struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Chain is a base chain (Hook set) or a regular chain (Hook empty, entered
// only by jump or goto).
type Chain struct {
	Name     string    `json:"name"`
	Hook     Hook      `json:"hook,omitempty"`
	Type     ChainType `json:"type,omitempty"`
	Priority int       `json:"priority,omitempty"`
	// Policy is the base chain's verdict when no rule decides: ACCEPT or
	// DROP (nftables' accept/drop are upper-cased to match). Empty for a
	// regular chain, which returns to its caller instead.
	Policy   string   `json:"policy,omitempty"`
	Counters Counters `json:"counters,omitzero"`
	Rules    []*Rule  `json:"rules,omitempty"`
	Comment  string   `json:"comment,omitempty"` // nftables chain comment
	// Devices are the interfaces a netdev (or inet ingress) base chain is
	// attached to.
	Devices []string `json:"devices,omitempty"`
	// Lazy says the chain's rules were not read: a trace on a big node
	// reads the hooks' chains and the chains they jump to, and any other
	// chain when a packet reaches it (nftnl.ReadChain).
	Lazy bool `json:"lazy,omitempty"`
}

// Base reports whether the chain is attached to a hook.
func (c *Chain) Base() bool { return c.Hook != "" }

// Rule is one rule: every Match must hold (they are ANDed, in order), then
// the Target applies.
type Rule struct {
	Num  int    `json:"num"`  // 1-based position in its chain, as iptables -L --line-numbers counts
	Text string `json:"text"` // the line as read (iptables-save syntax), the evidence trace shows
	// Handle is the nftables rule handle, which nftrace reports for
	// nftables and iptables-nft rules alike; iptables-save does not print
	// it, so it is 0 for parsed iptables rules.
	Handle  uint64  `json:"handle,omitempty"`
	Matches []Match `json:"matches,omitempty"`
	// Statements are the actions an nftables rule runs before Target when
	// it has more than one (meta mark set ... log ... accept): Target is
	// always the rule's last action, so a rule with one action, like every
	// iptables rule, has none here.
	Statements []Target `json:"statements,omitempty"`
	Target     Target   `json:"target"`
	Comment    string   `json:"comment,omitempty"` // the first comment match's text, or the nftables rule comment
	Counters   Counters `json:"counters,omitzero"`
	// Counter says an nftables rule holds a counter statement, which
	// zero Counters cannot tell from having none ("counter packets 0
	// bytes 0" is printed, and written back, all the same). iptables
	// counts every rule and leaves it false.
	Counter bool `json:"counter,omitempty"`
}

// Unknown reports whether any match or the target is something netx does
// not model, so an evaluator cannot decide the rule by itself.
func (r *Rule) Unknown() bool {
	for i := range r.Matches {
		if r.Matches[i].Kind == MatchUnknown {
			return true
		}
	}
	for i := range r.Statements {
		if r.Statements[i].Kind == TargetUnknown {
			return true
		}
	}
	return r.Target.Kind == TargetUnknown
}

// MatchKind says which condition a Match tests and so which of its fields
// are set.
type MatchKind string

// Match kinds. One Match is one condition: an iptables -m block with two
// options (-m tcp --sport 1 --dport 2) gives two Matches, which is also how
// nftables writes them (th sport 1 th dport 2).
const (
	MatchSource       MatchKind = "source"        // Prefix
	MatchDestination  MatchKind = "destination"   // Prefix
	MatchProtocol     MatchKind = "protocol"      // Value: lower-case name (tcp, udp, icmp, all) or number
	MatchInInterface  MatchKind = "in-interface"  // Value: name; a trailing + matches any suffix (InterfaceMatches)
	MatchOutInterface MatchKind = "out-interface" // Value, as MatchInInterface
	MatchFragment     MatchKind = "fragment"      // second and later fragments (-f)
	MatchSrcPort      MatchKind = "src-port"      // Ports (tcp/udp/sctp: one range; multiport: a list)
	MatchDstPort      MatchKind = "dst-port"      // Ports
	MatchPort         MatchKind = "port"          // Ports: source or destination (multiport --ports)
	MatchComment      MatchKind = "comment"       // Value; always true
	MatchAddrType     MatchKind = "addrtype"      // AddrType
	MatchMark         MatchKind = "mark"          // Mark, Mask: packet mark & Mask == Mark
	MatchConnMark     MatchKind = "connmark"      // Mark, Mask on the conntrack mark
	MatchCTState      MatchKind = "ctstate"       // Values: NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED, SNAT, DNAT (any of)
	MatchCTStatus     MatchKind = "ctstatus"      // Values: EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED, SNAT, DNAT (any of; nft's ct status snat/dnat are ctstate SNAT/DNAT's bits)
	MatchCTDirection  MatchKind = "ctdir"         // Value: ORIGINAL or REPLY
	MatchStatistic    MatchKind = "statistic"     // Statistic
	MatchIPSet        MatchKind = "ipset"         // Value: ipset name; Values: the src/dst flags of each dimension
	MatchPhysDevIn    MatchKind = "physdev-in"    // Value: bridge port the packet came in on (+ wildcard)
	MatchPhysDevOut   MatchKind = "physdev-out"   // Value: bridge port it leaves by
	MatchPhysDevIsIn  MatchKind = "physdev-is-in" // entered through a bridge port
	MatchPhysDevIsOut MatchKind = "physdev-is-out"
	MatchPhysDevIsBr  MatchKind = "physdev-is-bridged"
	MatchMACSource    MatchKind = "mac-source" // Value: aa:bb:cc:dd:ee:ff
	MatchICMPType     MatchKind = "icmp-type"  // Value: type[/code] or a name, as written (icmp and icmpv6)
	MatchTCPFlags     MatchKind = "tcp-flags"  // TCPFlags
	MatchLimit        MatchKind = "limit"      // Limit
	MatchNFAcct       MatchKind = "nfacct"     // Value: accounting object; always true
	MatchNFProto      MatchKind = "nfproto"    // Value: ipv4 or ipv6 (nft meta nfproto, in inet tables)
	MatchRecent       MatchKind = "recent"     // Recent: xt_recent's list of recently seen addresses
	// MatchModule is an iptables -m block without options (kube-proxy's
	// "-p tcp -m tcp"): always true, kept so the rule reads back as written.
	MatchModule MatchKind = "module"
	// MatchLookup is an nftables set lookup (ip daddr @cluster-ips, or an
	// anonymous set { ... }): Lookup.
	MatchLookup MatchKind = "lookup"
	// MatchUnknown is a module or option netx does not model: Module and
	// the verbatim Args (a "!" stays in Args). An evaluator must report it,
	// never take it as a hit or a miss silently.
	MatchUnknown MatchKind = "unknown"
)

// Match is one condition of a rule. Which fields are set depends on Kind
// (see the MatchKind constants). The struct is flat with a few pointers for
// rare kinds rather than an interface: a 10k-service kube-proxy dump holds
// some 400k matches, and a flat slice per rule keeps parsing to a handful
// of allocations and JSON decoding free of type switches.
type Match struct {
	Kind   MatchKind `json:"kind"`
	Negate bool      `json:"negate,omitempty"`
	// Module is the iptables -m module the condition came from ("" for the
	// built-in -s -d -p -i -o -f; "tcp" for a --dport that iptables loaded
	// implicitly after -p tcp). For nftables it is the expression's
	// spelling where the kernel tells two apart: "tcp" for tcp dport
	// ("" for th dport) and for the protocol match tcp dport implies;
	// "ip" for ip protocol and "ip6" for ip6 nexthdr ("" for meta
	// l4proto); "iif" and "oif" for an interface index ("" for iifname,
	// oifname); "icmp6" for icmpv6 type.
	Module string       `json:"module,omitempty"`
	Prefix netip.Prefix `json:"prefix,omitzero"`
	Value  string       `json:"value,omitempty"`
	Values []string     `json:"values,omitempty"`
	Ports  []PortRange  `json:"ports,omitempty"`
	Mark   uint32       `json:"mark,omitempty"`
	Mask   uint32       `json:"mask,omitempty"`

	AddrType  *AddrType  `json:"addrtype,omitempty"`
	Statistic *Statistic `json:"statistic,omitempty"`
	TCPFlags  *TCPFlags  `json:"tcpFlags,omitempty"`
	Limit     *Limit     `json:"limit,omitempty"`
	Lookup    *Lookup    `json:"lookup,omitempty"`
	Recent    *Recent    `json:"recent,omitempty"`
	Args      []string   `json:"args,omitempty"`
}

// PortRange is an inclusive port range; a single port has First == Last.
type PortRange struct {
	First uint16 `json:"first"`
	Last  uint16 `json:"last"`
}

// Contains reports whether port is in the range.
func (p PortRange) Contains(port uint16) bool { return p.First <= port && port <= p.Last }

// AddrType is an addrtype test (iptables -m addrtype, nft fib ... type):
// the kernel's route type of the source or destination address.
type AddrType struct {
	Dst   bool     `json:"dst,omitempty"` // the destination address's type; else the source's
	Types []string `json:"types"`         // LOCAL, UNICAST, BROADCAST, MULTICAST, ... (any of)
	// LimitIfaceIn/Out restrict the lookup to the incoming or outgoing
	// interface instead of the whole routing table.
	LimitIfaceIn  bool `json:"limitIfaceIn,omitempty"`
	LimitIfaceOut bool `json:"limitIfaceOut,omitempty"`
}

// Statistic is iptables' statistic match, how kube-proxy spreads new
// connections over endpoints.
type Statistic struct {
	Mode        string  `json:"mode"`                  // random or nth
	Probability float64 `json:"probability,omitempty"` // random: chance of a hit
	Every       uint32  `json:"every,omitempty"`       // nth: hit one packet in Every
	Packet      uint32  `json:"packet,omitempty"`      // nth: starting counter
}

// Recent is iptables' -m recent: a named list of addresses the kernel
// keeps per network namespace (/proc/net/xt_recent/NAME). kube-proxy's
// iptables mode pins a client to an endpoint with it (sessionAffinity
// ClientIP): the service chain checks (--rcheck) the endpoint's list for
// the client, the endpoint chain adds (--set) the client to it.
type Recent struct {
	// Mode is set (add or refresh the address: always matches), rcheck
	// (is it listed?), update (rcheck, then refresh) or remove (rcheck,
	// then forget).
	Mode string `json:"mode"`
	Name string `json:"name"` // the list; DEFAULT when not given
	// Seconds limits rcheck and update to addresses seen in the last
	// Seconds (0: any age); HitCount to those seen at least that often.
	Seconds  uint32 `json:"seconds,omitempty"`
	HitCount uint32 `json:"hitCount,omitempty"`
	Reap     bool   `json:"reap,omitempty"` // forget entries older than Seconds
	RTTL     bool   `json:"rttl,omitempty"` // the TTL must also be the one seen
	// Mask is applied to the address first (--mask; 255.255.255.255 is
	// iptables-save's default for IPv4).
	Mask netip.Addr `json:"mask,omitzero"`
	// Dest says the list holds destination addresses (--rdest), not
	// source ones (--rsource, the default).
	Dest bool `json:"dest,omitempty"`
}

// RecentTable is one xt_recent list as the kernel holds it: the
// addresses seen, each with the time since it was last seen.
type RecentTable struct {
	Name    string        `json:"name"`
	Entries []RecentEntry `json:"entries,omitempty"`
}

// RecentEntry is one address of an xt_recent list, aged from the moment
// the list was read.
type RecentEntry struct {
	Addr netip.Addr `json:"addr"`
	TTL  uint8      `json:"ttl,omitempty"`
	// LastSeen is how long before the read the address was last seen;
	// Seen, how long before it each remembered packet was (the newest
	// ip_pkt_list_tot of them), which --hitcount counts.
	LastSeen time.Duration   `json:"lastSeen"`
	Seen     []time.Duration `json:"seen,omitempty"`
}

// TCPFlags tests that, of the flags in Mask, exactly those in Comp are set.
type TCPFlags struct {
	Mask []string `json:"mask"` // SYN, ACK, FIN, RST, URG, PSH, ALL, NONE
	Comp []string `json:"comp"`
}

// Limit is a token bucket (iptables -m limit, nft limit rate).
type Limit struct {
	Rate  string `json:"rate"` // as written: 3/hour, 5/sec
	Burst uint32 `json:"burst,omitempty"`
}

// Field names a packet or metadata field as nft writes it; Lookup keys are
// concatenations of these.
type Field string

const (
	FieldSAddr     Field = "saddr"      // ip saddr / ip6 saddr
	FieldDAddr     Field = "daddr"      // ip daddr / ip6 daddr
	FieldL4Proto   Field = "l4proto"    // meta l4proto
	FieldSPort     Field = "sport"      // th sport
	FieldDPort     Field = "dport"      // th dport
	FieldIIFName   Field = "iifname"    // meta iifname
	FieldOIFName   Field = "oifname"    // meta oifname
	FieldMark      Field = "mark"       // meta mark
	FieldCTState   Field = "ctstate"    // ct state
	FieldNumgen    Field = "numgen"     // numgen random mod N (Selector.Mod): kube-proxy's endpoint pick
	FieldNumgenInc Field = "numgen-inc" // numgen inc mod N
)

// Selector is one key of a lookup: a packet field, or a number generator
// with its modulus.
type Selector struct {
	Field Field  `json:"field"`
	Mod   uint32 `json:"mod,omitempty"` // numgen: values are 0..Mod-1
}

// Lookup is an nftables set or map lookup: the concatenation of Keys, read
// from the packet, is looked up in the table's set called Set, or in the
// anonymous Elements written inline in the rule. As a Match it tests
// membership; as a verdict-map Target it jumps where the element says.
type Lookup struct {
	Keys     []Selector `json:"keys"`
	Set      string     `json:"set,omitempty"`
	Elements []Element  `json:"elements,omitempty"`
}

// Set is an nftables set or map. A map has a DataType; a verdict map has
// DataType "verdict" and its elements carry a Verdict.
type Set struct {
	Name     string    `json:"name"`
	KeyType  []string  `json:"keyType"` // concatenated key types: ipv4_addr, inet_proto, inet_service
	DataType string    `json:"dataType,omitempty"`
	Flags    []string  `json:"flags,omitempty"` // interval, constant, timeout
	Comment  string    `json:"comment,omitempty"`
	Elements []Element `json:"elements,omitempty"`
	// Timeout is the set's default element timeout (flags timeout):
	// kube-proxy's session affinity sets keep a client for
	// sessionAffinityConfig's timeoutSeconds.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Args are properties netx does not model (size 65535, policy
	// memory ...), as written.
	Args []string `json:"args,omitempty"`
	// Lazy marks an anonymous set whose elements were not read (a trace
	// on a live node reads them when a packet reaches it): it stands in
	// the table under its kernel name (__map12) so rules can name it.
	Lazy bool `json:"lazy,omitempty"`
}

// Map reports whether s is a map rather than a plain set.
func (s *Set) Map() bool { return s.DataType != "" }

// Element is one set or map element. Key holds one part per concatenated
// key type, as nft writes it ("10.96.0.1", "tcp", "80"; intervals as
// "a-b", prefixes as "a/n").
type Element struct {
	Key     []string `json:"key"`
	Data    []string `json:"data,omitempty"`    // data maps
	Verdict *Target  `json:"verdict,omitempty"` // verdict maps: ACCEPT, DROP, JUMP, GOTO, ...
	// Comment is the element's comment: kube-proxy's nftables mode names
	// the service port of a no-endpoint-services element with it.
	Comment string `json:"comment,omitempty"`
	// Timeout is the element's own timeout when it differs from the
	// set's; Expires, the time it had left when read (a dynamic set's
	// element added by the packet path, such as a session affinity
	// entry). Zero: none, or not read.
	Timeout time.Duration `json:"timeout,omitempty"`
	Expires time.Duration `json:"expires,omitempty"`
}

// TargetKind is what a rule does once its matches hold.
type TargetKind string

const (
	// TargetNone: the rule has no target; it only counts, and evaluation
	// goes on with the next rule.
	TargetNone       TargetKind = ""
	TargetAccept     TargetKind = "ACCEPT"
	TargetDrop       TargetKind = "DROP"
	TargetReturn     TargetKind = "RETURN"
	TargetJump       TargetKind = "JUMP" // Chain; returns here at its end or on RETURN
	TargetGoto       TargetKind = "GOTO" // Chain; does not return here
	TargetDNAT       TargetKind = "DNAT" // To (ToDestination as written), Random, Persistent
	TargetSNAT       TargetKind = "SNAT" // To (ToSource as written), Random, RandomFully, Persistent
	TargetMasquerade TargetKind = "MASQUERADE"
	TargetRedirect   TargetKind = "REDIRECT"
	TargetMark       TargetKind = "MARK"     // mark = (mark &^ Mask) ^ SetMark; non-terminal
	TargetConnMark   TargetKind = "CONNMARK" // options in Args; non-terminal
	TargetReject     TargetKind = "REJECT"   // RejectWith
	TargetLog        TargetKind = "LOG"      // non-terminal
	TargetCT         TargetKind = "CT"       // options in Args; --notrack makes it NOTRACK's twin
	TargetNotrack    TargetKind = "NOTRACK"
	// TargetVerdictMap is an nftables vmap: Lookup picks the element whose
	// Verdict applies; no element, no verdict (the rule falls through).
	TargetVerdictMap TargetKind = "VMAP"
	// TargetSetUpdate is nftables' "update @set { key }" (and add,
	// delete): it writes the packet's key into a dynamic set and goes
	// on. Name is the operation, Lookup the set and the key's parts.
	// kube-proxy's nftables mode records an affinity client with it.
	TargetSetUpdate TargetKind = "SET"
	// TargetUnknown is an extension netx does not model: Name and Args.
	TargetUnknown TargetKind = "UNKNOWN"
)

// Target is a rule's action. Options netx does not model are kept verbatim
// in Args; an evaluator should report a NAT target that has any.
type Target struct {
	Kind  TargetKind `json:"kind,omitempty"`
	Chain string     `json:"chain,omitempty"` // JUMP, GOTO
	Name  string     `json:"name,omitempty"`  // UNKNOWN: the extension's name

	// NAT: the raw --to-destination / --to-source, and the parsed range
	// (MASQUERADE and REDIRECT --to-ports fill only its ports).
	ToDestination string   `json:"toDestination,omitempty"`
	ToSource      string   `json:"toSource,omitempty"`
	To            NATRange `json:"to,omitzero"`
	Random        bool     `json:"random,omitempty"`
	RandomFully   bool     `json:"randomFully,omitempty"`
	Persistent    bool     `json:"persistent,omitempty"`

	// MARK and CONNMARK, in the kernel's xmark form whatever the spelling
	// (--set-mark, --or-mark, --xor-mark ... all become one).
	SetMark uint32 `json:"setMark,omitempty"`
	Mask    uint32 `json:"mask,omitempty"`

	RejectWith string   `json:"rejectWith,omitempty"`
	LogPrefix  string   `json:"logPrefix,omitempty"`
	Lookup     *Lookup  `json:"lookup,omitempty"` // VMAP
	Args       []string `json:"args,omitempty"`
}

// Terminal reports whether the target ends the packet's walk through the
// current hook (a verdict) rather than continuing or moving to another
// chain. NAT targets are terminal in iptables: they accept the packet for
// the table.
func (t *Target) Terminal() bool {
	switch t.Kind {
	case TargetAccept, TargetDrop, TargetReject, TargetDNAT, TargetSNAT, TargetMasquerade, TargetRedirect:
		return true
	}
	return false
}

// NATRange is a NAT target's address and port range. Unset parts are zero:
// MASQUERADE --to-ports has no address; DNAT to an address keeps the port.
type NATRange struct {
	Addr    netip.Addr `json:"addr,omitzero"`
	AddrMax netip.Addr `json:"addrMax,omitzero"` // set for an address range a-b
	Port    uint16     `json:"port,omitempty"`
	PortMax uint16     `json:"portMax,omitempty"` // set for a port range
}

// InterfaceMatches reports whether interface name matches pattern as
// iptables compares them: a trailing + matches any suffix, so "veth+"
// matches every veth and "+" matches all.
func InterfaceMatches(pattern, name string) bool {
	if p, ok := strings.CutSuffix(pattern, "+"); ok {
		return strings.HasPrefix(name, p)
	}
	return pattern == name
}
