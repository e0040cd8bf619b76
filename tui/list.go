package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// An item is one line of a list: what is shown (it may hold colour), the
// plain text a filter matches, and what the line is about (a pod, a
// service, a chain, a hop), for enter and t.
type item struct {
	text  string
	plain string // "" when text is plain already
	// also is more text the filter matches (a rule's chain).
	also string
	// head marks a heading, styled when drawn (only the lines in view
	// are).
	head bool
	ref  any
}

// match is the text a filter looks in.
func (it *item) match() string {
	p := it.plain
	if p == "" {
		p = it.text
	}
	if it.also != "" {
		return it.also + " " + p
	}
	return p
}

// list is a virtualised list of lines: only the rows in view are
// rendered, so a node with thousands of pods or services stays as quick
// as one with ten. A filter keeps the lines that hold it.
type list struct {
	items  []item
	shown  []int // indexes into items, after the filter
	cursor int   // into shown
	offset int   // first shown row in view
	height int
	filter string
}

func newList(items []item) *list {
	l := &list{items: items}
	l.setFilter("")
	return l
}

// setFilter keeps the lines whose plain text holds f (case-insensitive),
// keeping the cursor on the same line when it stays.
func (l *list) setFilter(f string) {
	cur := -1
	if l.cursor < len(l.shown) {
		cur = l.shown[l.cursor]
	}
	l.filter = f
	l.shown = l.shown[:0]
	needle := strings.ToLower(f)
	for i := range l.items {
		if needle == "" || strings.Contains(strings.ToLower(l.items[i].match()), needle) {
			l.shown = append(l.shown, i)
		}
	}
	l.cursor = 0
	for i, idx := range l.shown {
		if idx == cur {
			l.cursor = i
			break
		}
	}
	l.scroll()
}

// selected is the line under the cursor, nil in an empty list.
func (l *list) selected() *item {
	if l.cursor >= len(l.shown) {
		return nil
	}
	return &l.items[l.shown[l.cursor]]
}

// move moves the cursor by d lines, within the list.
func (l *list) move(d int) {
	l.cursor = max(0, min(l.cursor+d, len(l.shown)-1))
	l.scroll()
}

// goTo puts the cursor on items[i] when it is shown.
func (l *list) goTo(i int) bool {
	for k, idx := range l.shown {
		if idx == i {
			l.cursor = k
			// The target at the top, with what follows it in view.
			l.offset = k
			l.scroll()
			return true
		}
	}
	return false
}

// scroll keeps the cursor in view.
func (l *list) scroll() {
	h := max(l.height, 1)
	if l.cursor < l.offset {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+h {
		l.offset = l.cursor - h + 1
	}
	l.offset = max(0, min(l.offset, len(l.shown)-h))
}

// view renders the rows in view, width columns each: the cursor's row
// marked with "›" (and, with colour, reversed), so the selection never
// rests on colour alone.
func (l *list) view(width int, st styles) string {
	var b strings.Builder
	h := max(l.height, 1)
	for row := 0; row < h; row++ {
		k := l.offset + row
		if k >= len(l.shown) {
			break
		}
		if row > 0 {
			b.WriteByte('\n')
		}
		it := l.items[l.shown[k]]
		mark := "  "
		if k == l.cursor {
			mark = "› "
		}
		text := it.text
		if it.head {
			text = st.title.Render(text)
		}
		line := ansi.Truncate(mark+text, width, "…")
		if k == l.cursor {
			line = st.selected.Render(ansi.Strip(line))
		}
		b.WriteString(line)
	}
	return b.String()
}
