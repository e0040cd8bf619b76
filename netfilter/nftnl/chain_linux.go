package nftnl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/netx-project/netx/internal/nlmsg"
	"github.com/netx-project/netx/netfilter"
	"golang.org/x/sys/unix"
)

// ReadChain reads the rules of c, a chain of table t that a lazy read left
// unread (Chain.Lazy), from the namespace at netnsPath into the model,
// translated as the whole read translates them: iptables-nft's (source
// netfilter.SourceIPTablesNFT) rendered as iptables-save prints them and
// parsed into t, the others decompiled with the sets they name. A rule of
// iptables-nft's that is not decoded is an *IPTablesProblem error (read
// the table with iptables-save instead); c is left unread on any error.
func ReadChain(netnsPath, source string, t *netfilter.Table, c *netfilter.Chain) error {
	fam, ok := tableFamily(t.Family)
	if !ok {
		return fmt.Errorf("chain %s in table %s %s: unknown family", c.Name, t.Family, t.Name)
	}
	s, err := openNFTSock(netnsPath)
	if err != nil {
		return err
	}
	defer s.close()
	raw := &Table{}
	raw.Family, raw.Name = fam, t.Name
	rc := &Chain{}
	rc.Name = c.Name
	if err := readChainRules(s, raw, rc); err != nil {
		if errors.Is(err, nlmsg.ErrDumpInterrupted) {
			return fmt.Errorf("chain %s in table %s %s: gone", c.Name, t.Family, t.Name)
		}
		return err
	}
	if source == netfilter.SourceIPTablesNFT {
		var b strings.Builder
		for i, r := range rc.Rules {
			args, err := IPTablesRule(r)
			if err != nil {
				return &IPTablesProblem{Table: t.Name, Chain: c.Name, Rule: i + 1, Why: err.Error()}
			}
			b.WriteString("-A " + c.Name + args + "\n")
		}
		if err := t.ParseIPTablesRules(b.String()); err != nil {
			return fmt.Errorf("chain %s in table %s: %w", c.Name, t.Name, err)
		}
		c.Lazy = false
		return nil
	}
	// The chain alone in its table, with the sets its rules look up (an
	// anonymous map with its elements) and the chains they jump to.
	raw.Chains = []*Chain{rc}
	named := map[string]bool{c.Name: true}
	stub := func(name string) {
		if name != "" && !named[name] {
			named[name] = true
			sc := &Chain{}
			sc.Name = name
			raw.Chains = append(raw.Chains, sc)
		}
	}
	sets := map[string]bool{}
	for _, r := range rc.Rules {
		for _, e := range r.Exprs {
			switch e := e.(type) {
			case *expr.Verdict:
				stub(e.Chain)
			case *expr.Lookup:
				sets[e.SetName] = true
			case *expr.Dynset:
				sets[e.SetName] = true
			}
		}
	}
	for name := range sets {
		st, err := getSet(s, raw, name)
		if err != nil {
			return fmt.Errorf("chain %s in table %s %s: %w", c.Name, t.Family, t.Name, err)
		}
		if err := readSetElements(s, raw, st); err != nil {
			return fmt.Errorf("chain %s in table %s %s: %w", c.Name, t.Family, t.Name, err)
		}
		for _, el := range st.Elements {
			if v := el.VerdictData; v != nil {
				stub(v.Chain)
			}
		}
		raw.Sets = append(raw.Sets, st)
	}
	err = s.request(unix.NFT_MSG_GETOBJ, byte(fam), true, putAttr(nil, unix.NFTA_OBJ_TABLE, cstr(t.Name)), func(f byte, data []byte) error {
		o, table, err := decodeObject(f, data)
		if err == nil && table == t.Name {
			raw.Objects = append(raw.Objects, o)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("chain %s in table %s %s: objects: %w", c.Name, t.Family, t.Name, err)
	}
	rs, err := ToModel(&Ruleset{Tables: []*Table{raw}, IfNames: ifNamesFor(netnsPath, raw)})
	if err != nil {
		return fmt.Errorf("chain %s in table %s %s: %w", c.Name, t.Family, t.Name, err)
	}
	mc := rs.Table(t.Family, t.Name).Chain(c.Name)
	if mc == nil {
		return fmt.Errorf("chain %s in table %s %s: not translated", c.Name, t.Family, t.Name)
	}
	c.Rules, c.Lazy = mc.Rules, false
	return nil
}

// getSet reads one set's definition (not its elements) by name.
func getSet(s *nftSock, t *Table, name string) (*Set, error) {
	attrs := putAttr(nil, unix.NFTA_SET_TABLE, cstr(t.Name))
	attrs = putAttr(attrs, unix.NFTA_SET_NAME, cstr(name))
	var found *Set
	err := s.request(unix.NFT_MSG_GETSET, byte(t.Family), false, attrs, func(fam byte, data []byte) error {
		st, _, err := decodeSet(fam, data)
		found = st
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set %s: %w", name, err)
	}
	if found == nil {
		return nil, fmt.Errorf("set %s: gone", name)
	}
	return found, nil
}

// ifNamesFor names interfaces when t's rules compare an index.
func ifNamesFor(netnsPath string, t *Table) map[uint32]string {
	if usesIfIndex(&Ruleset{Tables: []*Table{t}}) {
		return linkNames(netnsPath)
	}
	return nil
}

// tableFamily is the nf_tables family of a model family.
func tableFamily(f netfilter.Family) (nftables.TableFamily, bool) {
	fam, ok := map[netfilter.Family]nftables.TableFamily{netfilter.FamilyIP: nftables.TableFamilyIPv4, netfilter.FamilyIP6: nftables.TableFamilyIPv6,
		netfilter.FamilyInet: nftables.TableFamilyINet, netfilter.FamilyBridge: nftables.TableFamilyBridge, netfilter.FamilyNetdev: nftables.TableFamilyNetdev, netfilter.FamilyARP: nftables.TableFamilyARP}[f]
	return fam, ok
}
