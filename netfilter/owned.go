package netfilter

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteOwnedRestore writes iptables-restore --noflush input that makes a
// node's live rules (current, as iptables-save reads them) hold what this
// ruleset says for the chains owned says are its writer's, and touches
// nothing else: each owned chain is declared (which empties it under
// --noflush) and filled; an owned chain current has and this ruleset does
// not is emptied and deleted; a rule of another chain (a built-in chain)
// that jumps to an owned chain is added when current lacks it — inserted
// first when it comes before every other rule of its chain here, appended
// otherwise — and removed when this ruleset no longer has it. It returns
// false, writing nothing, when there is nothing to change.
func (r *Ruleset) WriteOwnedRestore(w io.Writer, current *Ruleset, owned func(table, chain string) bool) (bool, error) {
	var out strings.Builder
	changed := false
	tables := map[string]bool{}
	for _, t := range r.Tables {
		tables[t.Name] = true
	}
	if current != nil {
		for _, t := range current.Tables {
			tables[t.Name] = true
		}
	}
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		want := r.Table(FamilyIP, name)
		var have *Table
		if current != nil {
			have = current.Table(FamilyIP, name)
		}
		text, err := ownedTable(want, have, name, owned)
		if err != nil {
			return false, err
		}
		if text != "" {
			changed = true
			out.WriteString(text)
		}
	}
	if !changed {
		return false, nil
	}
	_, err := io.WriteString(w, out.String())
	return true, err
}

// ownedTable is one table's part of WriteOwnedRestore, "" when nothing in
// it changes.
func ownedTable(want, have *Table, name string, owned func(table, chain string) bool) (string, error) {
	chain := func(t *Table, n string) *Chain {
		if t == nil {
			return nil
		}
		for _, c := range t.Chains {
			if c.Name == n {
				return c
			}
		}
		return nil
	}
	args := func(rule *Rule) (string, error) {
		words, err := rule.AppendIPTablesArgs(nil)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		bw := bufio.NewWriter(&b)
		writeWords(bw, words)
		bw.Flush()
		return b.String(), nil
	}
	ownedChain := func(n string) bool { return owned(name, n) }
	var decl, rules, jumps, drops, gone []string
	changed := false
	if want != nil {
		for _, c := range want.Chains {
			if !ownedChain(c.Name) {
				continue
			}
			var body []string
			for _, rule := range c.Rules {
				a, err := args(rule)
				if err != nil {
					return "", fmt.Errorf("chain %s in table %s: %w", c.Name, name, err)
				}
				body = append(body, "-A "+c.Name+a)
			}
			old := chain(have, c.Name)
			if old == nil || !sameRules(old, body, args) {
				changed = true
				decl = append(decl, ":"+c.Name+" - [0:0]")
				rules = append(rules, body...)
			}
		}
	}
	// Jumps into owned chains from the others (the built-in chains).
	jumpsOf := func(t *Table) (map[string][]string, error) {
		out := map[string][]string{}
		if t == nil {
			return out, nil
		}
		for _, c := range t.Chains {
			if ownedChain(c.Name) {
				continue
			}
			for _, rule := range c.Rules {
				if rule.Target.Chain == "" || !ownedChain(rule.Target.Chain) {
					continue
				}
				a, err := args(rule)
				if err != nil {
					return nil, err
				}
				out[c.Name] = append(out[c.Name], a)
			}
		}
		return out, nil
	}
	wantJumps, err := jumpsOf(want)
	if err != nil {
		return "", err
	}
	haveJumps, err := jumpsOf(have)
	if err != nil {
		return "", err
	}
	for c, js := range wantJumps {
		first := ""
		if wc := chain(want, c); wc != nil && len(wc.Rules) > 0 {
			first, _ = args(wc.Rules[0])
		}
		for _, j := range js {
			if slices.Contains(haveJumps[c], j) {
				continue
			}
			changed = true
			if j == first {
				jumps = append(jumps, "-I "+c+" 1"+j)
			} else {
				jumps = append(jumps, "-A "+c+j)
			}
		}
	}
	for c, js := range haveJumps {
		for _, j := range js {
			if !slices.Contains(wantJumps[c], j) {
				changed = true
				drops = append(drops, "-D "+c+j)
			}
		}
	}
	// Owned chains no longer wanted: emptied, then deleted once nothing
	// jumps to them.
	if have != nil {
		for _, c := range have.Chains {
			if ownedChain(c.Name) && chain(want, c.Name) == nil {
				changed = true
				gone = append(gone, c.Name)
			}
		}
	}
	if !changed {
		return "", nil
	}
	slices.Sort(jumps)
	slices.Sort(drops)
	var b strings.Builder
	b.WriteString("*" + name + "\n")
	for _, l := range decl {
		b.WriteString(l + "\n")
	}
	for _, l := range drops {
		b.WriteString(l + "\n")
	}
	for _, c := range gone {
		b.WriteString("-F " + c + "\n")
	}
	for _, l := range rules {
		b.WriteString(l + "\n")
	}
	for _, l := range jumps {
		b.WriteString(l + "\n")
	}
	for _, c := range gone {
		b.WriteString("-X " + c + "\n")
	}
	b.WriteString("COMMIT\n")
	return b.String(), nil
}

// sameRules says whether c holds exactly body ("-A CHAIN words" lines).
func sameRules(c *Chain, body []string, args func(*Rule) (string, error)) bool {
	if len(c.Rules) != len(body) {
		return false
	}
	for i, rule := range c.Rules {
		a, err := args(rule)
		if err != nil || "-A "+c.Name+a != body[i] {
			return false
		}
	}
	return true
}
