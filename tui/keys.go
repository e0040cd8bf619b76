package tui

import (
	"io"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// keyMap holds the keys, in k9s's habits.
type keyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Enter, Back, Tab, BackTab               key.Binding
	Filter, Trace, Live, Reread, NextNode   key.Binding
	Help, Quit                              key.Binding
}

func newKeys() keyMap {
	return keyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", " "), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
		Enter:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Tab:      key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next view")),
		BackTab:  key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous view")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Trace:    key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "trace from here")),
		Live:     key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "live probe")),
		Reread:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "re-read")),
		NextNode: key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next node")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// styles are the few the screens use; with no colour they only bold and
// reverse, which a monochrome terminal shows.
type styles struct {
	title, tab, tabOn, selected, status, error, dim lipgloss.Style
	color                                           bool
}

func newStyles(color bool) styles {
	r := lipgloss.NewRenderer(io.Discard)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	s := styles{color: color}
	s.title = r.NewStyle().Bold(true)
	s.tab = r.NewStyle()
	s.tabOn = r.NewStyle().Bold(true).Underline(true)
	s.selected = r.NewStyle().Reverse(true)
	s.status = r.NewStyle()
	s.error = r.NewStyle().Bold(true)
	s.dim = r.NewStyle()
	if color {
		s.title = s.title.Foreground(lipgloss.Color("39"))
		s.tabOn = s.tabOn.Foreground(lipgloss.Color("39"))
		s.error = s.error.Foreground(lipgloss.Color("196"))
		s.dim = s.dim.Foreground(lipgloss.Color("245"))
	}
	return s
}
