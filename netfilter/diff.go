package netfilter

import (
	"encoding/json"
	"fmt"
	"slices"
)

// DiffOptions say what Diff leaves out.
type DiffOptions struct {
	// Handles: nftables rule handles (a ruleset built in memory has none
	// until the kernel assigns them).
	Handles bool
	// Counters: packet and byte counters of chains and rules.
	Counters bool
	// ElementOrder: the order of set and map elements, which nft lists in
	// the kernel's order rather than the order they were added in.
	ElementOrder bool
}

// Diff lists where got differs from want, one line per difference:
// tables (in order), their comments, flags and objects; sets with their
// elements; chains with their hooks, policies and comments; and every
// rule field for field (text, matches, statements, target). An empty
// result means the two are the same ruleset. It is how a written model is
// checked against what the kernel holds afterwards.
func Diff(got, want *Ruleset, o DiffOptions) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if got.Source != want.Source {
		add("source %q, want %q", got.Source, want.Source)
	}
	names := func(rs *Ruleset) []string {
		var s []string
		for _, t := range rs.Tables {
			s = append(s, string(t.Family)+" "+t.Name)
		}
		return s
	}
	if g, w := names(got), names(want); !slices.Equal(g, w) {
		add("tables %v, want %v", g, w)
		return out
	}
	for i, wt := range want.Tables {
		gt := got.Tables[i]
		name := string(wt.Family) + " " + wt.Name
		if gt.Comment != wt.Comment || jsonText(gt.Flags) != jsonText(wt.Flags) || jsonText(gt.Objects) != jsonText(wt.Objects) {
			add("table %s: comment %q flags %v objects %q, want %q %v %q", name, gt.Comment, gt.Flags, gt.Objects, wt.Comment, wt.Flags, wt.Objects)
		}
		if g, w := setNames(gt), setNames(wt); !slices.Equal(g, w) {
			add("table %s: sets %v, want %v", name, g, w)
		} else {
			for j, ws := range wt.Sets {
				if g, w := setText(gt.Sets[j], o), setText(ws, o); g != w {
					add("table %s set %s:\n   got %s\n  want %s", name, ws.Name, g, w)
				}
			}
		}
		if g, w := chainNames(gt), chainNames(wt); !slices.Equal(g, w) {
			add("table %s: chains %v, want %v", name, g, w)
			continue
		}
		for j, wc := range wt.Chains {
			gc := gt.Chains[j]
			hg, hw := *gc, *wc
			hg.Rules, hw.Rules = nil, nil
			if o.Counters {
				hg.Counters, hw.Counters = Counters{}, Counters{}
			}
			if g, w := jsonText(hg), jsonText(hw); g != w {
				add("table %s chain %s:\n   got %s\n  want %s", name, wc.Name, g, w)
			}
			if len(gc.Rules) != len(wc.Rules) {
				add("table %s chain %s: %d rules, want %d", name, wc.Name, len(gc.Rules), len(wc.Rules))
				for k := range max(len(gc.Rules), len(wc.Rules)) {
					switch {
					case k >= len(gc.Rules):
						add("  missing: %s", wc.Rules[k].Text)
					case k >= len(wc.Rules):
						add("  extra:   %s", gc.Rules[k].Text)
					case gc.Rules[k].Text != wc.Rules[k].Text:
						add("  rule %d: %q, want %q", k+1, gc.Rules[k].Text, wc.Rules[k].Text)
					}
				}
				continue
			}
			for k, wr := range wc.Rules {
				if g, w := ruleText(gc.Rules[k], o), ruleText(wr, o); g != w {
					add("table %s chain %s rule %d:\n   got %q\n  want %q\n   got %s\n  want %s",
						name, wc.Name, k+1, gc.Rules[k].Text, wr.Text, g, w)
				}
			}
		}
	}
	return out
}

func setNames(t *Table) []string {
	s := make([]string, len(t.Sets))
	for i, x := range t.Sets {
		s[i] = x.Name
	}
	return s
}

func chainNames(t *Table) []string {
	s := make([]string, len(t.Chains))
	for i, c := range t.Chains {
		s[i] = c.Name
	}
	return s
}

func setText(s *Set, o DiffOptions) string {
	c := *s
	if o.ElementOrder {
		els := make([]string, len(s.Elements))
		for i, e := range s.Elements {
			els[i] = jsonText(e)
		}
		slices.Sort(els)
		c.Elements = nil
		return jsonText(c) + " elements " + jsonText(els)
	}
	return jsonText(c)
}

func ruleText(r *Rule, o DiffOptions) string {
	c := *r
	if o.Handles {
		c.Handle = 0
	}
	if o.Counters {
		c.Counters = Counters{}
	}
	return jsonText(c)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
