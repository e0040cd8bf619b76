package nftnl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/google/nftables/xt"
	"github.com/netx-project/netx/internal/nlmsg"
	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/netfilter"
	"golang.org/x/sys/unix"
)

// This file reads a namespace's nftables ruleset over the nf_tables
// netlink interface, the way nft itself does but without nft: one dump per
// object kind for all tables (tables, chains, sets, rules, objects,
// flowtables), then one dump per set for its elements. The socket is
// opened inside the namespace (nsenter switches a dedicated thread for
// that instant) and used from here. Expressions are decoded attribute by
// attribute into github.com/google/nftables/expr types; an expression or
// attribute this reader does not know becomes an UnknownExpr, so
// its rule is reported unknown instead of silently reading as something
// else. The ruleset generation is read before and after: a ruleset that
// changed while being read is read again.

// Read reads the nftables ruleset of the network namespace at
// netnsPath and translates it into the model (ToModel). It
// also returns the raw objects, whose table list holds every table. A
// table that does not translate is left out of the ruleset and named in
// the error; the others are returned with it.
func Read(netnsPath string) (*netfilter.Ruleset, *Ruleset, error) {
	return ReadSkipping(netnsPath, nil, false)
}

// skipTable says, from a table's family and name, that it need not be
// read (another source has it).
type SkipTable func(family, name string) bool

// ReadSkipping reads all but the tables skip names; with lazy,
// anonymous sets' elements are not read (netfilter.Set.Lazy; FetchSet
// reads one when needed).
func ReadSkipping(netnsPath string, skip SkipTable, lazy bool) (*netfilter.Ruleset, *Ruleset, error) {
	nl, err := readNetlink(netnsPath, skip, lazy)
	if err != nil {
		return nil, nil, err
	}
	rs, err := ToModel(nl)
	return rs, nl, err
}

// Split is a namespace's nf_tables ruleset read once (ReadSplit): the
// tables iptables-nft made as iptables-save's text, and the others in
// the model.
type Split struct {
	// NFT is the model of every table that is not iptables-nft's.
	NFT *netfilter.Ruleset
	// Raw is what was read; its Names list every table.
	Raw *Ruleset
	// IPTablesSave holds the iptables-nft tables rendered (IPTablesSave),
	// IPTables their names ("ip nat").
	IPTablesSave []byte
	IPTables     []string
	// Problems are the rules of iptables-nft tables that could not be
	// rendered: those tables are in neither NFT nor IPTablesSave (read
	// them with iptables-save).
	Problems []IPTablesProblem
}

// ReadSplit reads the namespace's nf_tables ruleset over netlink once,
// with lazy as in ReadSkipping, and splits it: iptables-nft's tables are
// rendered as iptables-save would print them — with no iptables-save
// run — and the rest translated into the model. A table that does not
// translate is left out and named in the error, as in Read.
func ReadSplit(netnsPath string, lazy bool) (*Split, error) {
	nl, err := readNetlink(netnsPath, nil, lazy)
	if err != nil {
		return nil, err
	}
	sp := &Split{Raw: nl}
	var b bytes.Buffer
	if sp.IPTables, sp.Problems, err = nl.IPTablesSave(&b); err != nil {
		return nil, err
	}
	sp.IPTablesSave = b.Bytes()
	rest := *nl
	rest.Tables = slices.DeleteFunc(slices.Clone(nl.Tables), func(t *Table) bool {
		if slices.Contains(sp.IPTables, "ip "+t.Name) && t.Family == nftables.TableFamilyIPv4 {
			return true
		}
		return t.Family == nftables.TableFamilyIPv4 && slices.ContainsFunc(sp.Problems, func(p IPTablesProblem) bool { return p.Table == t.Name })
	})
	sp.NFT, err = ToModel(&rest)
	return sp, err
}

// ReadNetlink reads the nftables ruleset of the network namespace
// at netnsPath as netlink objects.
func ReadNetlink(netnsPath string) (*Ruleset, error) {
	return readNetlink(netnsPath, nil, false)
}

func readNetlink(netnsPath string, skip SkipTable, lazy bool) (*Ruleset, error) {
	open := func() (*nftSock, error) { return openNFTSock(netnsPath) }
	s, err := open()
	if err != nil {
		return nil, err
	}
	defer s.close()
	for try := 0; ; try++ {
		before, err := s.genID()
		if err != nil {
			return nil, fmt.Errorf("read nftables generation in %s: %w", netnsPath, err)
		}
		nl, err := readNFT(s, open, skip, lazy)
		if err != nil && !errors.Is(err, nlmsg.ErrDumpInterrupted) {
			return nil, fmt.Errorf("read nftables in %s: %w", netnsPath, err)
		}
		after, gerr := s.genID()
		if gerr != nil {
			return nil, fmt.Errorf("read nftables generation in %s: %w", netnsPath, gerr)
		}
		if err == nil && before == after {
			if usesIfIndex(nl) {
				nl.IfNames = linkNames(netnsPath)
			}
			return nl, nil
		}
		if try == 4 {
			return nil, fmt.Errorf("read nftables in %s: the ruleset kept changing while it was read", netnsPath)
		}
	}
}

// nf_tables netlink constants that x/sys/unix lacks.
const (
	nftaTableUserdata         = 6
	nftaChainFlags            = 10
	nftaChainUserdata         = 12
	nftaHookDevs              = 4
	nftaSetDescConcat         = 2
	nftaSetElemKeyEnd         = 10
	nftaSetElemExprs          = 11
	nftaObjUserdata           = 8
	nftaFlowtableTable        = 1
	nftaFlowtableName         = 2
	nftaFlowtableHook         = 3
	nftaFlowtableFlags        = 7
	nftaFlowtableHookNum      = 1
	nftaFlowtableHookPriority = 2
	nftaFlowtableHookDevs     = 3
	nftaSetFieldLen           = 1
	nftaSetExpr               = 17
	nftSetElemCatchall        = 2
	nftaSetExpressions        = 18
	nftaDynsetExprs           = 10
	nftaBitwiseOp             = 6
	nftaNATRegProtoBase       = 8
	nftaObjrefImmType         = 1
	nftaObjrefImmName         = 2
	nftSetPolicyAttr          = 8
	nftaDeviceName            = 1
	udataComment              = 0 // NFTNL_UDATA_{TABLE,CHAIN,OBJ}_COMMENT
	nftNetlinkBufferSize      = 1 << 20
)

// nftSock is a netlink socket of the NETLINK_NETFILTER family that lives
// in one network namespace.
type nftSock struct {
	nlmsg.Conn
}

func openNFTSock(netnsPath string) (*nftSock, error) {
	fd := -1
	err := nsenter.Do(nsenter.Net(netnsPath), func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink socket in %s: %w", netnsPath, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind nftables netlink socket in %s: %w", netnsPath, err)
	}
	// A large receive buffer lets the kernel fill each dump step fully.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, nftNetlinkBufferSize)
	return &nftSock{nlmsg.Conn{FD: fd, Buf: make([]byte, nftNetlinkBufferSize)}}, nil
}

func (s *nftSock) close() { unix.Close(s.FD) }

// request sends one nf_tables request (msg is NFT_MSG_GET*) for family
// with the given attributes and calls fn with each answer's attributes
// (after the nfgenmsg header, a copy of its own) and family, until the
// dump ends.
func (s *nftSock) request(msg uint16, family byte, dump bool, attrs []byte, fn func(fam byte, data []byte) error) error {
	flags := uint16(unix.NLM_F_ACK)
	if dump {
		flags = unix.NLM_F_DUMP
	}
	body := make([]byte, 4+len(attrs)) // struct nfgenmsg, then the attributes
	body[0] = family
	body[1] = unix.NFNETLINK_V0
	copy(body[4:], attrs)
	return s.Request(unix.NFNL_SUBSYS_NFTABLES<<8|msg, flags, body, func(_ uint16, p []byte) error {
		if len(p) < 4 {
			return nil
		}
		// The buffer is reused by the next receive: what the callback
		// keeps (element keys, rule userdata) must not alias it.
		return fn(p[0], bytes.Clone(p[4:]))
	})
}

// genID reads the ruleset generation, which every change increments.
func (s *nftSock) genID() (uint32, error) {
	var id uint32
	err := s.request(unix.NFT_MSG_GETGEN, unix.AF_UNSPEC, false, nil, func(_ byte, data []byte) error {
		return nlmsg.Attrs(data, func(t uint16, v []byte) error {
			if t == unix.NFTA_GEN_ID && len(v) == 4 {
				id = binary.BigEndian.Uint32(v)
			}
			return nil
		})
	})
	return id, err
}

func be32(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func be16(v []byte) uint16 {
	if len(v) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func be64(v []byte) uint64 {
	if len(v) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// putAttr appends one attribute.
func putAttr(b []byte, typ uint16, v []byte) []byte {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(4+len(v)))
	binary.NativeEndian.PutUint16(h[2:], typ)
	b = append(b, h[:]...)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func cstr(s string) []byte { return append([]byte(s), 0) }

type tableKey struct {
	fam  byte
	name string
}

// readNFT reads every object of the ruleset. Set elements are read over
// several sockets in parallel: a kube-proxy ruleset holds one anonymous
// map per service, and each needs a dump of its own.
func readNFT(s *nftSock, open func() (*nftSock, error), skip SkipTable, lazy bool) (*Ruleset, error) {
	nl := &Ruleset{}
	tables := map[tableKey]*Table{}
	err := s.request(unix.NFT_MSG_GETTABLE, unix.AF_UNSPEC, true, nil, func(fam byte, data []byte) error {
		t := &Table{}
		t.Family = nftables.TableFamily(fam)
		err := nlmsg.Attrs(data, func(typ uint16, v []byte) error {
			switch typ {
			case unix.NFTA_TABLE_NAME:
				t.Name = nlmsg.String(v)
			case unix.NFTA_TABLE_FLAGS:
				t.Flags = be32(v)
			case nftaTableUserdata:
				if c, ok := userdata.GetString(v, udataComment); ok {
					t.Comment = c
				}
			}
			return nil
		})
		nl.Tables = append(nl.Tables, t)
		tables[tableKey{fam, t.Name}] = t
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	for _, t := range nl.Tables {
		nl.Names = append(nl.Names, string(Family(t.Family))+" "+t.Name)
	}
	if skip != nil {
		// Tables another source has (iptables-save lists iptables-nft's
		// own) are not read at all: at 10k services in iptables mode they
		// hold 30k chains and 80k rules, and the kernel's chain dump alone
		// costs a second.
		nl.Tables = slices.DeleteFunc(nl.Tables, func(t *Table) bool {
			fam := string(Family(t.Family))
			if !skip(fam, t.Name) {
				return false
			}
			nl.Skipped = append(nl.Skipped, fam+" "+t.Name)
			delete(tables, tableKey{byte(t.Family), t.Name})
			return true
		})
	}
	chains := map[tableKey]map[string]*Chain{}
	for _, d := range tableDumps(nl, unix.NFTA_CHAIN_TABLE) {
		err = s.request(unix.NFT_MSG_GETCHAIN, d.fam, true, d.attrs, func(fam byte, data []byte) error {
			c, table, err := decodeChain(data)
			if err != nil {
				return err
			}
			k := tableKey{fam, table}
			t := tables[k]
			if t == nil {
				return nil // made after the table dump; the generation check retries
			}
			t.Chains = append(t.Chains, c)
			if chains[k] == nil {
				chains[k] = map[string]*Chain{}
			}
			chains[k][c.Name] = c
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list chains: %w", err)
		}
	}
	var sets []*Set
	var setTables []*Table
	err = s.request(unix.NFT_MSG_GETSET, unix.AF_UNSPEC, true, nil, func(fam byte, data []byte) error {
		st, table, err := decodeSet(fam, data)
		if err != nil {
			return err
		}
		t := tables[tableKey{fam, table}]
		if t == nil {
			return nil
		}
		t.Sets = append(t.Sets, st)
		sets = append(sets, st)
		setTables = append(setTables, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sets: %w", err)
	}
	// Small rulesets are read in one rule dump. A big one is read chain by
	// chain, spread with the sets' elements over a socket per CPU: the
	// kernel resumes a rule dump by skipping every rule already sent, so
	// one dump of 60k rules costs the square of their number.
	var jobs []nftJob
	for i, st := range sets {
		if lazy && (st.Anonymous || st.Flags&nftSetAnonymous != 0) {
			st.Lazy = true // kube-proxy's 10k numgen maps: read when a packet gets there
			continue
		}
		jobs = append(jobs, nftJob{table: setTables[i], set: st})
	}
	nchains := 0
	for _, t := range nl.Tables {
		nchains += len(t.Chains)
	}
	// A lazy read of a big ruleset leaves chains unread (see below).
	lazyChains := lazy && nchains > perChainRules
	if nchains <= perChainRules {
		for _, d := range tableDumps(nl, unix.NFTA_RULE_TABLE) {
			err = s.request(unix.NFT_MSG_GETRULE, d.fam, true, d.attrs, func(fam byte, data []byte) error {
				r, table, chain, err := decodeRule(fam, data)
				if err != nil {
					return err
				}
				if c := chains[tableKey{fam, table}][chain]; c != nil {
					c.Rules = append(c.Rules, r)
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("list rules: %w", err)
			}
		}
	} else {
		for _, t := range nl.Tables {
			for _, c := range t.Chains {
				if !lazyChains || c.Hooknum != nil {
					jobs = append(jobs, nftJob{table: t, chain: c})
				}
			}
		}
	}
	if err := runJobs(s, open, jobs); err != nil {
		return nil, err
	}
	if lazyChains {
		// A trace reads the hooks' chains and the chains they jump or go
		// to (kube-proxy's KUBE-SERVICES, services, the firewall checks);
		// a chain further in (10k services' and 20k endpoints' chains) is
		// read when a packet reaches it (ReadChain).
		if err := runJobs(s, open, jumpedTo(nl)); err != nil {
			return nil, err
		}
		for _, t := range nl.Tables {
			for _, c := range t.Chains {
				c.Lazy = c.Hooknum == nil && c.Rules == nil && !c.read
			}
		}
	}
	err = s.request(unix.NFT_MSG_GETOBJ, unix.AF_UNSPEC, true, nil, func(fam byte, data []byte) error {
		o, table, err := decodeObject(fam, data)
		if t := tables[tableKey{fam, table}]; err == nil && t != nil {
			t.Objects = append(t.Objects, o)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list objects: %w", err)
	}
	err = s.request(unix.NFT_MSG_GETFLOWTABLE, unix.AF_UNSPEC, true, nil, func(fam byte, data []byte) error {
		f, table, err := decodeFlowtable(data)
		if t := tables[tableKey{fam, table}]; err == nil && t != nil {
			t.Flowtables = append(t.Flowtables, f)
		}
		return err
	})
	if err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		return nil, fmt.Errorf("list flowtables: %w", err)
	}
	return nl, nil
}

// dumpScope is one dump request's family and table filter.
type dumpScope struct {
	fam   byte
	attrs []byte
}

// tableDumps is how to dump chains or rules: once for every table, or,
// when tables were skipped, once per table kept (tableAttr names the
// table in the request; the kernel filters by it). An unfiltered dump
// would walk the skipped tables too — on a 10k-service iptables-mode node,
// 30k chains and 80k rules, quadratically as the kernel resumes a dump.
func tableDumps(nl *Ruleset, tableAttr uint16) []dumpScope {
	if len(nl.Skipped) == 0 {
		return []dumpScope{{unix.AF_UNSPEC, nil}}
	}
	var out []dumpScope
	for _, t := range nl.Tables {
		out = append(out, dumpScope{byte(t.Family), putAttr(nil, tableAttr, cstr(t.Name))})
	}
	return out
}

// perChainRules is the number of chains above which rules are read chain
// by chain.
const perChainRules = 256

// nftJob is one read after the first dumps: a set's elements, or a
// chain's rules.
type nftJob struct {
	table *Table
	set   *Set
	chain *Chain
}

// runJobs does the jobs, on s alone when they are few, else over one
// socket per CPU (up to 8). A kube-proxy ruleset holds one anonymous map
// per service, and the kernel finds a set by walking its table's list of
// sets, so reading them all costs the square of their number however it
// is done; parallel sockets divide it.
func runJobs(s *nftSock, open func() (*nftSock, error), jobs []nftJob) error {
	socks := []*nftSock{s}
	if len(jobs) > 256 {
		for len(socks) < min(max(runtime.NumCPU(), 2), 8) {
			extra, err := open()
			if err != nil {
				break
			}
			defer extra.close()
			socks = append(socks, extra)
		}
	}
	errs := make([]error, len(socks))
	var wg sync.WaitGroup
	for w, sock := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(jobs); i += len(socks) {
				j := jobs[i]
				var err error
				if j.set != nil {
					err = readSetElements(sock, j.table, j.set)
				} else {
					err = readChainRules(sock, j.table, j.chain)
				}
				if err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// jumpedTo is a job per regular chain a base chain's rule jumps or goes
// to, each once.
func jumpedTo(nl *Ruleset) []nftJob {
	var jobs []nftJob
	for _, t := range nl.Tables {
		byName := make(map[string]*Chain, len(t.Chains))
		for _, c := range t.Chains {
			byName[c.Name] = c
		}
		for _, c := range t.Chains {
			if c.Hooknum == nil {
				continue
			}
			for _, r := range c.Rules {
				for _, e := range r.Exprs {
					v, ok := e.(*expr.Verdict)
					if !ok || v.Chain == "" {
						continue
					}
					if tc := byName[v.Chain]; tc != nil && tc.Hooknum == nil && !tc.read {
						tc.read = true
						jobs = append(jobs, nftJob{table: t, chain: tc})
					}
				}
			}
		}
	}
	return jobs
}

func readChainRules(s *nftSock, t *Table, c *Chain) error {
	attrs := putAttr(nil, unix.NFTA_RULE_TABLE, cstr(t.Name))
	attrs = putAttr(attrs, unix.NFTA_RULE_CHAIN, cstr(c.Name))
	err := s.request(unix.NFT_MSG_GETRULE, byte(t.Family), true, attrs, func(fam byte, data []byte) error {
		r, _, _, err := decodeRule(fam, data)
		if err == nil {
			c.Rules = append(c.Rules, r)
		}
		return err
	})
	if errors.Is(err, unix.ENOENT) {
		return nlmsg.ErrDumpInterrupted // the chain went away after the chain dump
	}
	if err != nil {
		return fmt.Errorf("list rules of chain %s in table %s: %w", c.Name, t.Name, err)
	}
	return nil
}

// numgenMapMax bounds the anonymous maps read by key (see getByKeys).
const numgenMapMax = 4096

func readSetElements(s *nftSock, t *Table, st *Set) error {
	if st.Flags&(unix.NFT_SET_ANONYMOUS|unix.NFT_SET_CONSTANT|unix.NFT_SET_INTERVAL) == unix.NFT_SET_ANONYMOUS|unix.NFT_SET_CONSTANT &&
		st.KeyTypeID == 4 && st.KeyLen == 4 && st.Size > 0 && st.Size <= numgenMapMax {
		if ok, err := getByKeys(s, t, st); ok || err != nil {
			return err
		}
	}
	attrs := putAttr(nil, unix.NFTA_SET_ELEM_LIST_TABLE, cstr(t.Name))
	attrs = putAttr(attrs, unix.NFTA_SET_ELEM_LIST_SET, cstr(st.Name))
	err := s.request(unix.NFT_MSG_GETSETELEM, byte(t.Family), true, attrs, func(fam byte, data []byte) error {
		return eachElement(fam, data, func(e Element) { st.Elements = append(st.Elements, e) })
	})
	if errors.Is(err, unix.ENOENT) {
		return nlmsg.ErrDumpInterrupted // the set went away after the set dump
	}
	if err != nil {
		return fmt.Errorf("list elements of set %s in table %s: %w", st.Name, t.Name, err)
	}
	return nil
}

func eachElement(fam byte, data []byte, fn func(Element)) error {
	return nlmsg.Attrs(data, func(typ uint16, v []byte) error {
		if typ != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
			return nil
		}
		return nlmsg.Attrs(v, func(typ uint16, v []byte) error {
			if typ != unix.NFTA_LIST_ELEM {
				return nil
			}
			e, err := decodeElement(fam, v)
			if err != nil {
				return err
			}
			fn(e)
			return nil
		})
	})
}

// getByKeys reads an anonymous integer-keyed map the shape of
// kube-proxy's "numgen random mod N vmap { 0 : ..., N-1 : ... }" by asking
// for keys 0..size-1 and the catch-all element in one request, instead of
// dumping it: the kernel then walks its list of sets once rather than
// three times. A constant anonymous set holds at most size elements
// (the catch-all included), so if every key is there the set is exactly
// those keys (plus a catch-all, asked for last). ok is false when the
// set has another shape; the caller dumps it then.
func getByKeys(s *nftSock, t *Table, st *Set) (ok bool, err error) {
	var list []byte
	for k := range st.Size {
		key := putAttr(nil, unix.NFTA_DATA_VALUE, binary.NativeEndian.AppendUint32(nil, k))
		elem := putAttr(nil, unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_KEY, key)
		list = putAttr(list, unix.NLA_F_NESTED|unix.NFTA_LIST_ELEM, elem)
	}
	catchall := putAttr(nil, unix.NFTA_SET_ELEM_FLAGS, binary.BigEndian.AppendUint32(nil, nftSetElemCatchall))
	list = putAttr(list, unix.NLA_F_NESTED|unix.NFTA_LIST_ELEM, catchall)
	attrs := putAttr(nil, unix.NFTA_SET_ELEM_LIST_TABLE, cstr(t.Name))
	attrs = putAttr(attrs, unix.NFTA_SET_ELEM_LIST_SET, cstr(st.Name))
	attrs = putAttr(attrs, unix.NLA_F_NESTED|unix.NFTA_SET_ELEM_LIST_ELEMENTS, list)
	var els []Element
	err = s.request(unix.NFT_MSG_GETSETELEM, byte(t.Family), false, attrs, func(fam byte, data []byte) error {
		return eachElement(fam, data, func(e Element) { els = append(els, e) })
	})
	switch {
	case err == nil && len(els) == int(st.Size)+1, errors.Is(err, unix.ENOENT) && len(els) == int(st.Size):
		st.Elements = els
		return true, nil
	case err == nil || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP):
		return false, nil
	}
	return false, fmt.Errorf("get elements of set %s in table %s: %w", st.Name, t.Name, err)
}

func decodeChain(data []byte) (*Chain, string, error) {
	c := &Chain{}
	var table, dev string
	var devs []string
	err := nlmsg.Attrs(data, func(typ uint16, v []byte) error {
		switch typ {
		case unix.NFTA_CHAIN_TABLE:
			table = nlmsg.String(v)
		case unix.NFTA_CHAIN_NAME:
			c.Name = nlmsg.String(v)
		case unix.NFTA_CHAIN_TYPE:
			c.Type = nftables.ChainType(nlmsg.String(v))
		case unix.NFTA_CHAIN_POLICY:
			p := nftables.ChainPolicy(be32(v))
			c.Policy = &p
		case nftaChainFlags:
			c.Flags = be32(v)
		case nftaChainUserdata:
			if s, ok := userdata.GetString(v, udataComment); ok {
				c.Comment = s
			}
		case unix.NFTA_CHAIN_HOOK:
			return nlmsg.Attrs(v, func(typ uint16, v []byte) error {
				switch typ {
				case unix.NFTA_HOOK_HOOKNUM:
					h := nftables.ChainHook(be32(v))
					c.Hooknum = &h
				case unix.NFTA_HOOK_PRIORITY:
					p := nftables.ChainPriority(be32(v))
					c.Priority = &p
				case unix.NFTA_HOOK_DEV:
					dev = nlmsg.String(v)
				case nftaHookDevs:
					// The kernel reports a single device both ways.
					return nlmsg.Attrs(v, func(typ uint16, v []byte) error {
						if typ == nftaDeviceName {
							devs = append(devs, nlmsg.String(v))
						}
						return nil
					})
				}
				return nil
			})
		}
		return nil
	})
	c.Devices = devs
	if devs == nil && dev != "" {
		c.Devices = []string{dev}
	}
	if len(c.Devices) == 1 {
		c.Device = c.Devices[0]
	}
	return c, table, err
}

func decodeSet(fam byte, data []byte) (*Set, string, error) {
	s := &Set{}
	var table string
	err := nlmsg.Attrs(data, func(typ uint16, v []byte) error {
		switch typ {
		case unix.NFTA_SET_TABLE:
			table = nlmsg.String(v)
		case unix.NFTA_SET_NAME:
			s.Name = nlmsg.String(v)
		case unix.NFTA_SET_FLAGS:
			f := be32(v)
			s.Flags = f
			s.Anonymous = f&unix.NFT_SET_ANONYMOUS != 0
			s.Constant = f&unix.NFT_SET_CONSTANT != 0
			s.Interval = f&unix.NFT_SET_INTERVAL != 0
			s.IsMap = f&unix.NFT_SET_MAP != 0
			s.HasTimeout = f&unix.NFT_SET_TIMEOUT != 0
			s.Dynamic = f&unix.NFT_SET_EVAL != 0
			s.Concatenation = f&0x80 != 0
		case unix.NFTA_SET_KEY_TYPE:
			s.KeyTypeID = be32(v)
			s.KeyType.Name = typeName(s.KeyTypeID)
		case unix.NFTA_SET_KEY_LEN:
			s.KeyLen = be32(v)
			s.KeyType.Bytes = s.KeyLen
		case unix.NFTA_SET_DATA_TYPE:
			s.DataTypeID = be32(v)
			s.DataType.Name = typeName(s.DataTypeID)
		case unix.NFTA_SET_DATA_LEN:
			s.DataLen = be32(v)
			s.DataType.Bytes = s.DataLen
		case nftSetPolicyAttr:
			s.Policy = be32(v)
		case unix.NFTA_SET_TIMEOUT:
			s.Timeout = time.Duration(be64(v)) * time.Millisecond
		case unix.NFTA_SET_GC_INTERVAL:
			s.GCInterval = time.Duration(be32(v)) * time.Millisecond
		case unix.NFTA_SET_USERDATA:
			if c, ok := userdata.GetString(v, userdata.NFTNL_UDATA_SET_COMMENT); ok {
				s.Comment = c
			}
			if m, ok := userdata.GetUint32(v, userdata.NFTNL_UDATA_SET_MERGE_ELEMENTS); ok && m != 0 {
				s.AutoMerge = true
			}
		case unix.NFTA_SET_DESC:
			return nlmsg.Attrs(v, func(typ uint16, v []byte) error {
				switch typ {
				case unix.NFTA_SET_DESC_SIZE:
					s.Size = be32(v)
				case nftaSetDescConcat:
					return nlmsg.Attrs(v, func(typ uint16, v []byte) error {
						return nlmsg.Attrs(v, func(typ uint16, v []byte) error {
							if typ == nftaSetFieldLen {
								s.FieldLen = append(s.FieldLen, be32(v))
							}
							return nil
						})
					})
				}
				return nil
			})
		case nftaSetExpr:
			s.Exprs = append(s.Exprs, decodeExpr(fam, v))
		case nftaSetExpressions:
			return nlmsg.Attrs(v, func(typ uint16, v []byte) error {
				s.Exprs = append(s.Exprs, decodeExpr(fam, v))
				return nil
			})
		}
		return nil
	})
	return s, table, err
}

// typeName names a set key or data type number for nftables.SetDatatype.
func typeName(id uint32) string {
	if id == 0xffffff00 {
		return nftables.TypeVerdict.Name
	}
	return fmt.Sprintf("type %#x", id)
}

func decodeData(v []byte) ([]byte, *expr.Verdict, error) {
	var val []byte
	var verdict *expr.Verdict
	err := nlmsg.Attrs(v, func(typ uint16, v []byte) error {
		switch typ {
		case unix.NFTA_DATA_VALUE:
			val = v
		case unix.NFTA_DATA_VERDICT:
			verdict = &expr.Verdict{}
			return nlmsg.Attrs(v, func(typ uint16, v []byte) error {
				switch typ {
				case unix.NFTA_VERDICT_CODE:
					verdict.Kind = expr.VerdictKind(int32(be32(v)))
				case unix.NFTA_VERDICT_CHAIN:
					verdict.Chain = nlmsg.String(v)
				}
				return nil
			})
		}
		return nil
	})
	return val, verdict, err
}

func decodeElement(fam byte, data []byte) (Element, error) {
	var e Element
	err := nlmsg.Attrs(data, func(typ uint16, v []byte) error {
		var err error
		switch typ {
		case unix.NFTA_SET_ELEM_KEY:
			e.Key, _, err = decodeData(v)
		case nftaSetElemKeyEnd:
			e.KeyEnd, _, err = decodeData(v)
		case unix.NFTA_SET_ELEM_DATA:
			e.Val, e.VerdictData, err = decodeData(v)
		case unix.NFTA_SET_ELEM_FLAGS:
			f := be32(v)
			e.IntervalEnd = f&unix.NFT_SET_ELEM_INTERVAL_END != 0
			e.Catchall = f&nftSetElemCatchall != 0
		case unix.NFTA_SET_ELEM_TIMEOUT:
			e.Timeout = time.Duration(be64(v)) * time.Millisecond
		case unix.NFTA_SET_ELEM_EXPIRATION:
			e.Expires = time.Duration(be64(v)) * time.Millisecond
		case unix.NFTA_SET_ELEM_USERDATA:
			if c, ok := userdata.GetString(v, userdata.NFTNL_UDATA_SET_ELEM_COMMENT); ok {
				e.Comment = c
			}
		case unix.NFTA_SET_ELEM_EXPR:
			if c, ok := decodeExpr(fam, v).(*expr.Counter); ok {
				e.Counter = c
			}
		case nftaSetElemExprs:
			err = nlmsg.Attrs(v, func(typ uint16, v []byte) error {
				if c, ok := decodeExpr(fam, v).(*expr.Counter); ok {
					e.Counter = c
				}
				return nil
			})
		}
		return err
	})
	return e, err
}

func decodeRule(fam byte, data []byte) (*nftables.Rule, string, string, error) {
	r := &nftables.Rule{}
	var table, chain string
	err := nlmsg.Attrs(data, func(typ uint16, v []byte) error {
		switch typ {
		case unix.NFTA_RULE_TABLE:
			table = nlmsg.String(v)
		case unix.NFTA_RULE_CHAIN:
			chain = nlmsg.String(v)
		case unix.NFTA_RULE_HANDLE:
			r.Handle = be64(v)
		case unix.NFTA_RULE_USERDATA:
			r.UserData = v
		case unix.NFTA_RULE_EXPRESSIONS:
			return nlmsg.Attrs(v, func(typ uint16, v []byte) error {
				if typ == unix.NFTA_LIST_ELEM {
					r.Exprs = append(r.Exprs, decodeExpr(fam, v))
				}
				return nil
			})
		}
		return nil
	})
	return r, table, chain, err
}

func decodeObject(fam byte, data []byte) (*Object, string, error) {
	o := &Object{}
	var table string
	var body []byte
	err := nlmsg.Attrs(data, func(typ uint16, v []byte) error {
		switch typ {
		case unix.NFTA_OBJ_TABLE:
			table = nlmsg.String(v)
		case unix.NFTA_OBJ_NAME:
			o.Name = nlmsg.String(v)
		case unix.NFTA_OBJ_TYPE:
			o.Type = be32(v)
		case unix.NFTA_OBJ_DATA:
			body = v
		case nftaObjUserdata:
			if c, ok := userdata.GetString(v, udataComment); ok {
				o.Comment = c
			}
		}
		return nil
	})
	// A counter, quota or limit object's attributes are the expression's.
	switch o.Type {
	case unix.NFT_OBJECT_COUNTER:
		if c, ok := decodeExprData(fam, "counter", body).(*expr.Counter); ok {
			o.Counter = c
		}
	case unix.NFT_OBJECT_QUOTA:
		if q, ok := decodeExprData(fam, "quota", body).(*expr.Quota); ok {
			o.Quota = q
		}
	case unix.NFT_OBJECT_CT_HELPER:
		h := &expr.CtHelper{}
		_ = nlmsg.Attrs(body, func(typ uint16, v []byte) error {
			switch typ {
			case unix.NFTA_CT_HELPER_NAME:
				h.Name = nlmsg.String(v)
			case unix.NFTA_CT_HELPER_L3PROTO:
				h.L3Proto = be16(v)
			case unix.NFTA_CT_HELPER_L4PROTO:
				if len(v) > 0 {
					h.L4Proto = v[0]
				}
			}
			return nil
		})
		o.CtHelper = h
	case 4: // NFT_OBJECT_LIMIT
		if l, ok := decodeExprData(fam, "limit", body).(*expr.Limit); ok {
			o.Limit = l
		}
	}
	return o, table, err
}

func decodeFlowtable(data []byte) (*Flowtable, string, error) {
	f := &Flowtable{}
	var table string
	err := nlmsg.Attrs(data, func(typ uint16, v []byte) error {
		switch typ {
		case nftaFlowtableTable:
			table = nlmsg.String(v)
		case nftaFlowtableName:
			f.Name = nlmsg.String(v)
		case nftaFlowtableFlags:
			f.Flags = be32(v)
		case nftaFlowtableHook:
			return nlmsg.Attrs(v, func(typ uint16, v []byte) error {
				switch typ {
				case nftaFlowtableHookNum:
					f.Hook = be32(v)
				case nftaFlowtableHookPriority:
					f.Priority = int32(be32(v))
				case nftaFlowtableHookDevs:
					return nlmsg.Attrs(v, func(typ uint16, v []byte) error {
						f.Devices = append(f.Devices, nlmsg.String(v))
						return nil
					})
				}
				return nil
			})
		}
		return nil
	})
	return f, table, err
}

// decodeExpr decodes one NFTA_LIST_ELEM of an expression list.
func decodeExpr(fam byte, data []byte) expr.Any {
	var name string
	var body []byte
	if err := nlmsg.Attrs(data, func(typ uint16, v []byte) error {
		switch typ {
		case unix.NFTA_EXPR_NAME:
			name = nlmsg.String(v)
		case unix.NFTA_EXPR_DATA:
			body = v
		}
		return nil
	}); err != nil {
		return &UnknownExpr{Name: name, Data: data}
	}
	return decodeExprData(fam, name, body)
}

// exprAttrs lists, per expression, the attributes (as a bit set of their
// numbers) the expr type decodes; an expression carrying any other is
// kept as an UnknownExpr, since the expr type would drop it silently.
var exprAttrs = map[string]uint64{
	"payload":      attrBits(1, 2, 3, 4, 5, 6, 7, 8),
	"meta":         attrBits(1, 2, 3),
	"ct":           attrBits(1, 2, 3, 4),
	"cmp":          attrBits(1, 2, 3),
	"bitwise":      attrBits(1, 2, 3, 4, 5, nftaBitwiseOp),
	"immediate":    attrBits(1, 2),
	"lookup":       attrBits(1, 2, 3, 4, 5),
	"range":        attrBits(1, 2, 3, 4),
	"counter":      attrBits(1, 2, 3),
	"log":          attrBits(1, 2, 3, 4, 5, 6),
	"limit":        attrBits(1, 2, 3, 4, 5),
	"quota":        attrBits(1, 2, 3, 4),
	"reject":       attrBits(1, 2),
	"nat":          attrBits(1, 2, 3, 4, 5, 6, 7),
	"masq":         attrBits(1, 2, 3),
	"redir":        attrBits(1, 2, 3),
	"notrack":      0,
	"numgen":       attrBits(1, 2, 3, 4),
	"fib":          attrBits(1, 2, 3),
	"objref":       attrBits(nftaObjrefImmType, nftaObjrefImmName),
	"dynset":       attrBits(1, 2, 3, 4, 5, 6, 7, 8, 9, nftaDynsetExprs),
	"hash":         attrBits(1, 2, 3, 4, 5, 6, 7),
	"rt":           attrBits(1, 2),
	"socket":       attrBits(1, 2, 3),
	"exthdr":       attrBits(1, 2, 3, 4, 5, 6, 7),
	"queue":        attrBits(1, 2, 3),
	"connlimit":    attrBits(1, 2),
	"dup":          attrBits(1, 2),
	"tproxy":       attrBits(1, 2, 3),
	"synproxy":     attrBits(1, 2, 3),
	"flow_offload": attrBits(1),
	"byteorder":    attrBits(1, 2, 3, 4, 5),
	"match":        attrBits(1, 2, 3),
	"target":       attrBits(1, 2, 3),
}

func attrBits(ns ...int) uint64 {
	var m uint64
	for _, n := range ns {
		m |= 1 << n
	}
	return m
}

// newExpr returns an empty expression of a kind decodeExprData leaves to
// expr.Unmarshal.
func newExpr(name string) expr.Any {
	switch name {
	case "dynset":
		return &expr.Dynset{}
	case "hash":
		return &expr.Hash{}
	case "socket":
		return &expr.Socket{}
	case "exthdr":
		return &expr.Exthdr{}
	case "queue":
		return &expr.Queue{}
	case "connlimit":
		return &expr.Connlimit{}
	case "dup":
		return &expr.Dup{}
	case "tproxy":
		return &expr.TProxy{}
	case "synproxy":
		return &expr.SynProxy{}
	case "flow_offload":
		return &expr.FlowOffload{}
	}
	return nil
}

// decodeExprData decodes the NFTA_EXPR_DATA of an expression named name.
// The common expressions are decoded here attribute by attribute (the
// expr package cannot read some: a ct direction is one byte, rt and
// byteorder are not implemented); the rest go through expr.Unmarshal.
// Either way every attribute must be one the decoding knows, since the
// expr types skip what they do not.
func decodeExprData(fam byte, name string, body []byte) expr.Any {
	unknown := func() expr.Any { return &UnknownExpr{Name: name, Data: body} }
	allowed, ok := exprAttrs[name]
	if !ok {
		return unknown()
	}
	var a [64][]byte
	if nlmsg.Attrs(body, func(typ uint16, v []byte) error {
		if typ >= 64 || allowed&(1<<typ) == 0 {
			return errUnknownAttr
		}
		a[typ] = v
		return nil
	}) != nil {
		return unknown()
	}
	u32 := func(t int) uint32 { return be32(a[t]) }
	switch name {
	case "payload":
		e := &expr.Payload{DestRegister: u32(1), Base: expr.PayloadBase(u32(2)), Offset: u32(3), Len: u32(4)}
		if a[5] != nil {
			e.OperationType, e.SourceRegister = expr.PayloadWrite, u32(5)
			e.CsumType, e.CsumOffset, e.CsumFlags = expr.PayloadCsumType(u32(6)), u32(7), u32(8)
		}
		return e
	case "meta":
		e := &expr.Meta{Key: expr.MetaKey(u32(2)), Register: u32(1)}
		if a[3] != nil {
			e.Register, e.SourceRegister = u32(3), true
		}
		return e
	case "ct":
		e := &expr.Ct{Key: expr.CtKey(u32(2)), Register: u32(1)}
		if a[4] != nil {
			e.Register, e.SourceRegister = u32(4), true
		}
		if a[3] != nil {
			if len(a[3]) != 1 {
				return unknown()
			}
			e.Direction = uint32(a[3][0])
			switch e.Key {
			case expr.CtKeyPKTS, expr.CtKeyBYTES, expr.CtKeyAVGPKT, expr.CtKeyZONE:
				return &CtDirected{Ct: *e}
			}
		}
		return e
	case "cmp":
		v, _, err := decodeData(a[3])
		if err != nil {
			return unknown()
		}
		return &expr.Cmp{Register: u32(1), Op: expr.CmpOp(u32(2)), Data: v}
	case "range":
		from, _, err1 := decodeData(a[3])
		to, _, err2 := decodeData(a[4])
		if err1 != nil || err2 != nil {
			return unknown()
		}
		return &expr.Range{Register: u32(1), Op: expr.CmpOp(u32(2)), FromData: from, ToData: to}
	case "bitwise":
		if a[nftaBitwiseOp] != nil && u32(nftaBitwiseOp) != 0 {
			return unknown() // a shift, or a boolean of two registers: not a mask and xor
		}
		mask, _, err1 := decodeData(a[4])
		xor, _, err2 := decodeData(a[5])
		if err1 != nil || err2 != nil {
			return unknown()
		}
		return &expr.Bitwise{SourceRegister: u32(1), DestRegister: u32(2), Len: u32(3), Mask: mask, Xor: xor}
	case "byteorder":
		return &expr.Byteorder{SourceRegister: u32(1), DestRegister: u32(2), Op: expr.ByteorderOp(u32(3)), Len: u32(4), Size: u32(5)}
	case "immediate":
		v, verdict, err := decodeData(a[2])
		if err != nil {
			return unknown()
		}
		if u32(1) == unix.NFT_REG_VERDICT {
			if verdict == nil {
				return unknown()
			}
			return verdict
		}
		return &expr.Immediate{Register: u32(1), Data: v}
	case "lookup":
		e := &expr.Lookup{SetName: nlmsg.String(a[1]), SourceRegister: u32(2), SetID: u32(4), Invert: u32(5)&unix.NFT_LOOKUP_F_INV != 0}
		if a[3] != nil {
			e.DestRegister, e.IsDestRegSet = u32(3), true
		}
		return e
	case "counter":
		return &expr.Counter{Bytes: be64(a[1]), Packets: be64(a[2])}
	case "notrack":
		return &expr.Notrack{}
	case "numgen":
		return &expr.Numgen{Register: u32(1), Modulus: u32(2), Type: u32(3), Offset: u32(4)}
	case "rt":
		return &expr.Rt{Register: u32(1), Key: expr.RtKey(u32(2))}
	case "reject":
		e := &expr.Reject{Type: u32(1)}
		if len(a[2]) == 1 {
			e.Code = a[2][0]
		}
		return e
	case "nat":
		f := u32(7)
		return &expr.NAT{Type: expr.NATType(u32(1)), Family: u32(2), RegAddrMin: u32(3), RegAddrMax: u32(4),
			RegProtoMin: u32(5), RegProtoMax: u32(6),
			Random: f&unix.NF_NAT_RANGE_PROTO_RANDOM != 0, FullyRandom: f&unix.NF_NAT_RANGE_PROTO_RANDOM_FULLY != 0,
			Persistent: f&unix.NF_NAT_RANGE_PERSISTENT != 0, Prefix: f&unix.NF_NAT_RANGE_NETMAP != 0,
			Specified: f&unix.NF_NAT_RANGE_PROTO_SPECIFIED != 0}
	case "masq":
		f := u32(1)
		return &expr.Masq{ToPorts: a[2] != nil, RegProtoMin: u32(2), RegProtoMax: u32(3),
			Random: f&unix.NF_NAT_RANGE_PROTO_RANDOM != 0, FullyRandom: f&unix.NF_NAT_RANGE_PROTO_RANDOM_FULLY != 0,
			Persistent: f&unix.NF_NAT_RANGE_PERSISTENT != 0}
	case "redir":
		return &expr.Redir{RegisterProtoMin: u32(1), RegisterProtoMax: u32(2), Flags: u32(3)}
	case "fib":
		r, fl := u32(2), u32(3)
		return &expr.Fib{Register: u32(1),
			ResultOIF: r == unix.NFT_FIB_RESULT_OIF, ResultOIFNAME: r == unix.NFT_FIB_RESULT_OIFNAME, ResultADDRTYPE: r == unix.NFT_FIB_RESULT_ADDRTYPE,
			FlagSADDR: fl&unix.NFTA_FIB_F_SADDR != 0, FlagDADDR: fl&unix.NFTA_FIB_F_DADDR != 0, FlagMARK: fl&unix.NFTA_FIB_F_MARK != 0,
			FlagIIF: fl&unix.NFTA_FIB_F_IIF != 0, FlagOIF: fl&unix.NFTA_FIB_F_OIF != 0, FlagPRESENT: fl&unix.NFTA_FIB_F_PRESENT != 0}
	case "objref":
		return &expr.Objref{Type: int(u32(nftaObjrefImmType)), Name: nlmsg.String(a[nftaObjrefImmName])}
	case "log":
		e := &expr.Log{}
		for t := 1; t <= 6; t++ {
			if a[t] != nil {
				e.Key |= 1 << t
			}
		}
		e.Group = uint16(be16(a[1]))
		e.Data = []byte(nlmsg.String(a[2]))
		e.Snaplen, e.QThreshold = u32(3), uint16(be16(a[4]))
		e.Level, e.Flags = expr.LogLevel(u32(5)), expr.LogFlags(u32(6))
		return e
	case "limit":
		l := &expr.Limit{Rate: be64(a[1]), Unit: expr.LimitTime(be64(a[2])), Burst: u32(3), Type: expr.LimitType(u32(4)), Over: u32(5)&unix.NFT_LIMIT_F_INV != 0}
		if l.Type != expr.LimitTypePkts && l.Type != expr.LimitTypePktBytes {
			return unknown()
		}
		return l
	case "quota":
		return &expr.Quota{Bytes: be64(a[1]), Over: u32(2)&unix.NFT_QUOTA_F_INV != 0, Consumed: be64(a[4])}
	case "match":
		// The xtables info blob, decoded where google/nftables' xt knows
		// the structure, else kept as bytes (xt.Unknown): iptables-nft's
		// rules are read back from it (xtables.go).
		name := nlmsg.String(a[1])
		return &expr.Match{Name: name, Rev: u32(2), Info: xtInfo(name, fam, u32(2), a[3])}
	case "target":
		name := nlmsg.String(a[1])
		return &expr.Target{Name: name, Rev: u32(2), Info: xtInfo(name, fam, u32(2), a[3])}
	}
	e := newExpr(name)
	if e == nil {
		return unknown()
	}
	if err := expr.Unmarshal(fam, body, e); err != nil {
		return unknown()
	}
	return e
}

// xtInfo decodes an xtables match's or target's info blob: google/nftables'
// type for it, or the bytes (xt.Unknown) when it has none or they do not
// fit it.
func xtInfo(name string, fam byte, rev uint32, data []byte) xt.InfoAny {
	if i, err := xt.Unmarshal(name, xt.TableFamily(fam), rev, data); err == nil {
		return i
	}
	u := xt.Unknown(data)
	return &u
}

var errUnknownAttr = errors.New("unknown attribute")

// linkNames maps interface indexes to names in the namespace, for meta
// iif/oif; it is best effort.
func linkNames(netnsPath string) map[uint32]string {
	h, err := nsenter.Netlink(netnsPath)
	if err != nil {
		return nil
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil
	}
	m := make(map[uint32]string, len(links))
	for _, l := range links {
		m[uint32(l.Attrs().Index)] = l.Attrs().Name
	}
	return m
}

// usesIfIndex says whether a rule compares interface indexes (meta iif,
// oif), which print as names.
func usesIfIndex(nl *Ruleset) bool {
	for _, t := range nl.Tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				for _, e := range r.Exprs {
					if m, ok := e.(*expr.Meta); ok && (m.Key == expr.MetaKeyIIF || m.Key == expr.MetaKeyOIF) {
						return true
					}
				}
			}
		}
	}
	return false
}

// FetchSet reads one set's elements from the namespace at netnsPath,
// in the model's spelling: what a lazily read ruleset's anonymous set
// holds (netfilter.Set.Lazy).
func FetchSet(netnsPath string, family netfilter.Family, table, name string) ([]netfilter.Element, error) {
	s, err := openNFTSock(netnsPath)
	if err != nil {
		return nil, err
	}
	defer s.close()
	fam, ok := tableFamily(family)
	if !ok {
		return nil, fmt.Errorf("set %s in table %s %s: unknown family", name, family, table)
	}
	var found *Set
	err = s.request(unix.NFT_MSG_GETSET, byte(fam), true, putAttr(nil, unix.NFTA_SET_TABLE, cstr(table)), func(_ byte, data []byte) error {
		st, t, err := decodeSet(byte(fam), data)
		if err == nil && t == table && st.Name == name {
			found = st
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set %s in table %s %s: %w", name, family, table, err)
	}
	if found == nil {
		return nil, fmt.Errorf("set %s in table %s %s: gone", name, family, table)
	}
	t := &Table{}
	t.Family, t.Name = fam, table
	if err := readSetElements(s, t, found); err != nil {
		return nil, fmt.Errorf("set %s in table %s %s: %w", name, family, table, err)
	}
	// Translated alone, as a named set, with the chains its verdicts name.
	found.Anonymous, found.Flags, found.Lazy = false, found.Flags&^nftSetAnonymous, false
	t.Sets = []*Set{found}
	seen := map[string]bool{}
	for _, e := range found.Elements {
		if v := e.VerdictData; v != nil && v.Chain != "" && !seen[v.Chain] {
			seen[v.Chain] = true
			c := &Chain{}
			c.Name = v.Chain
			t.Chains = append(t.Chains, c)
		}
	}
	rs, err := ToModel(&Ruleset{Tables: []*Table{t}})
	if err != nil {
		return nil, fmt.Errorf("set %s in table %s %s: %w", name, family, table, err)
	}
	if mt := rs.Table(family, table); mt != nil {
		if ms := mt.Set(name); ms != nil {
			return ms.Elements, nil
		}
	}
	return nil, fmt.Errorf("set %s in table %s %s: not translated", name, family, table)
}
