// Package tui is netx's terminal UI (netx tui): a node explored in
// views — the node (bridges, their ports and the pods behind them,
// overlays, routes, kube-proxy's mode, findings), its pods, the services
// kube-proxy programs, the netfilter rules — and traces started from any
// pod or service, with the live probe on a live node. It reads what trace
// reads, through a Source, off the UI loop; like trace it changes nothing
// on the node, except the live probe's packets and temporary trace rules.
// Each line is formatted by printers, as the CLI prints it.
package tui

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/spinner"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/netx-project/netx/trace"
)

// Source is what the TUI explores.
type Source struct {
	// Name says where the state comes from, for the title: "node node1",
	// "lab seeds", "snapshot node1.json".
	Name string
	// Load reads the state; r calls it again.
	Load func(ctx context.Context) (*trace.World, error)
	// Trace traces req; nil traces over w (the state read). A cluster's
	// reads the other nodes the path reaches through their agents.
	Trace func(ctx context.Context, w *trace.World, req trace.Request) (*trace.Result, error)
	// Live sends a live probe for req over w's nodes, handing progress
	// the hops seen so far as the captures see them (trace.LiveOptions's
	// Progress); nil where there is no live node to probe (a snapshot).
	// Cancelling ctx stops the probe, its trace rules removed.
	Live func(ctx context.Context, w *trace.World, req trace.Request, progress func(*trace.LiveReport)) (*trace.Result, error)
}

// Options shape the UI.
type Options struct {
	// Color enables colours; selection and headings show without them.
	Color bool
}

// The views tab cycles through, and the detail screens enter opens.
type screenKind int

const (
	nodeView screenKind = iota
	podsView
	servicesView
	rulesView
	podView
	serviceView
	traceView
	hopView
)

var topNames = []string{"node", "pods", "services", "rules"}

// A screen is a list of lines with a title; detail screens stack on the
// views.
type screen struct {
	kind  screenKind
	title string
	list  *list
	// jumps are the cursor positions a rules screen followed jumps from
	// (esc goes back to the last).
	jumps []int
	req   trace.Request
	res   *trace.Result
	// liveShown: the view was brought to the live probe's lines once, as
	// they first came; after that it stays where the user scrolls.
	liveShown bool
}

// Model is the bubbletea model of netx tui.
type Model struct {
	ctx  context.Context
	src  Source
	opt  Options
	st   styles
	keys keyMap
	help help.Model
	spin spinner.Model

	w     *trace.World
	node  int       // the node the views show, in w.Nodes
	top   int       // the view tab shows, into tops
	tops  []*screen // node, pods, services, rules; nil until first shown
	keep  [4]string // each view's line under the cursor, kept over a re-read
	stack []*screen // detail screens over the view

	width, height int
	showHelp      bool
	input         textinput.Model
	inputFor      string // "", "filter" or "trace"
	traceFrom     string // the trace's source while its destination is asked
	status        string
	statusErr     bool
	busy          string // what runs off the loop, with the spinner
	reads         int    // reads done, for the status line
	// work counts what runs off the loop and must end before the program
	// does (a live probe removes its trace rules): Wait waits for it.
	work *sync.WaitGroup
	// probing is the live probe's progress while it is out; closed (and
	// nil) once its result came.
	probing chan *trace.LiveReport
	probed  chan struct{}
}

// New makes the model; nothing is read until it runs (Init).
func New(ctx context.Context, src Source, opt Options) *Model {
	m := &Model{ctx: ctx, src: src, opt: opt, st: newStyles(opt.Color), keys: newKeys(), help: help.New(), width: 80, height: 24, work: &sync.WaitGroup{}}
	m.spin = spinner.New(spinner.WithSpinner(spinner.Line))
	m.input = textinput.New()
	m.input.ShowSuggestions = true
	m.help.ShowAll = false
	if !opt.Color {
		m.help.Styles = help.Styles{}
	}
	return m
}

// Messages from work done off the loop.
type (
	loadedMsg struct {
		w   *trace.World
		err error
	}
	tracedMsg struct {
		req  trace.Request
		res  *trace.Result
		err  error
		live bool
	}
	serviceMsg struct {
		svc   *trace.Service
		items []item
	}
	// liveProgressMsg is the live probe's hops seen so far.
	liveProgressMsg struct {
		req    trace.Request
		report *trace.LiveReport
	}
)

// Wait waits for the work still off the loop once the program has ended
// (its context cancelled): a live probe removing its trace rules.
func (m *Model) Wait() { m.work.Wait() }

// Init starts the first read.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.load(), m.spin.Tick)
}

func (m *Model) load() tea.Cmd {
	m.busy = "reading " + m.src.Name
	return func() tea.Msg {
		w, err := m.src.Load(m.ctx)
		return loadedMsg{w, err}
	}
}

// current is the screen in front.
func (m *Model) current() *screen {
	if n := len(m.stack); n > 0 {
		return m.stack[n-1]
	}
	return m.view(m.top)
}

func (m *Model) bodyHeight() int {
	return max(1, m.height-3) // title, status, footer
}

func (m *Model) push(s *screen) {
	s.list.height = m.bodyHeight()
	s.list.scroll()
	m.stack = append(m.stack, s)
}

func (m *Model) setStatus(err bool, format string, args ...any) {
	m.status, m.statusErr = fmt.Sprintf(format, args...), err
}

// Update handles keys, the mouse, resizes and the results of reads.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		m.resize()
		return m, nil
	case spinner.TickMsg:
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case loadedMsg:
		m.busy = ""
		if msg.err != nil {
			m.setStatus(true, "read %s: %v", m.src.Name, msg.err)
			return m, nil
		}
		m.w = msg.w
		m.reads++
		m.node = min(m.node, len(m.w.Nodes)-1)
		m.rebuild()
		m.setStatus(false, "read %s: %s", m.src.Name, m.summary())
		return m, nil
	case liveProgressMsg:
		if cur := m.current(); cur != nil && cur.kind == traceView && cur.req == msg.req && cur.res != nil {
			res := *cur.res
			res.Live = msg.report
			m.refresh(cur, m.traceScreen(msg.req, &res))
			m.showLive(cur)
		}
		return m, m.nextProgress(msg.req)
	case tracedMsg:
		m.busy = ""
		if msg.live && m.probed != nil {
			close(m.probed)
			m.probing, m.probed = nil, nil
		}
		if msg.err != nil {
			m.setStatus(true, "trace %s → %s: %v", msg.req.Src, msg.req.Dst, msg.err)
			return m, nil
		}
		if cur := m.current(); msg.live && cur != nil && cur.kind == traceView && cur.req == msg.req {
			// The result may follow another endpoint than the
			// prediction did (the kernel's choice): its lines move.
			m.refresh(cur, m.traceScreen(msg.req, msg.res))
			cur.liveShown = false
			m.showLive(cur)
		} else {
			m.push(m.traceScreen(msg.req, msg.res))
		}
		m.setStatus(false, "%s", verdictLine(msg.res))
		return m, nil
	case serviceMsg:
		m.busy = ""
		m.push(&screen{kind: serviceView, title: "service " + msg.svc.Key() + portSuffix(msg.svc), list: newList(msg.items)})
		return m, nil
	case tea.MouseMsg:
		if s := m.current(); s != nil && msg.Action == tea.MouseActionPress {
			switch msg.Button {
			case tea.MouseButtonWheelUp:
				s.list.move(-3)
			case tea.MouseButtonWheelDown:
				s.list.move(3)
			}
		}
		return m, nil
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

// key handles a key: the input line's first when it is open.
func (m *Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if msg.String() == "ctrl+c" {
		return m, tea.Quit
	}
	// Keys typed faster than the terminal is read arrive as one message
	// ("/b-"): each is its own key ("/" opens the filter, the rest is
	// typed into it).
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
		var cmds []tea.Cmd
		for _, r := range msg.Runes {
			_, cmd := m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt})
			cmds = append(cmds, cmd)
		}
		return m, tea.Batch(cmds...)
	}
	if m.inputFor != "" {
		return m.inputKey(msg)
	}
	if m.showHelp {
		if key.Matches(msg, m.keys.Help, m.keys.Back) {
			m.showHelp = false
		} else if key.Matches(msg, m.keys.Quit) {
			return m, tea.Quit
		}
		return m, nil
	}
	s := m.current()
	switch {
	case key.Matches(msg, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(msg, m.keys.Help):
		m.showHelp = true
		return m, nil
	case key.Matches(msg, m.keys.Reread):
		if m.busy == "" {
			return m, m.load()
		}
		return m, nil
	}
	if s == nil {
		return m, nil
	}
	switch {
	case key.Matches(msg, m.keys.Up):
		s.list.move(-1)
	case key.Matches(msg, m.keys.Down):
		s.list.move(1)
	case key.Matches(msg, m.keys.PageUp):
		s.list.move(-s.list.height)
	case key.Matches(msg, m.keys.PageDown):
		s.list.move(s.list.height)
	case key.Matches(msg, m.keys.Top):
		s.list.move(-len(s.list.shown))
	case key.Matches(msg, m.keys.Bottom):
		s.list.move(len(s.list.shown))
	case key.Matches(msg, m.keys.Tab), key.Matches(msg, m.keys.BackTab):
		if len(m.tops) > 0 {
			d := 1
			if key.Matches(msg, m.keys.BackTab) {
				d = len(m.tops) - 1
			}
			m.stack = nil
			m.top = (m.top + d) % len(m.tops)
		}
	case key.Matches(msg, m.keys.NextNode):
		if m.w != nil && len(m.w.Nodes) > 1 && len(m.stack) == 0 {
			m.node = (m.node + 1) % len(m.w.Nodes)
			m.rebuild()
			m.setStatus(false, "node %s", m.w.Nodes[m.node].Name)
		}
	case key.Matches(msg, m.keys.Back):
		switch {
		case s.list.filter != "":
			s.list.setFilter("")
		case len(s.jumps) > 0:
			s.list.cursor = s.jumps[len(s.jumps)-1]
			s.jumps = s.jumps[:len(s.jumps)-1]
			s.list.scroll()
		case len(m.stack) > 0:
			m.stack = m.stack[:len(m.stack)-1]
		}
	case key.Matches(msg, m.keys.Filter):
		m.openInput("filter", "/", s.list.filter, nil)
	case key.Matches(msg, m.keys.Enter):
		return m, m.open(s)
	case key.Matches(msg, m.keys.Trace):
		m.askTrace(s)
	case key.Matches(msg, m.keys.Live):
		return m, m.live(s)
	}
	return m, nil
}

// openInput opens the input line for a filter or a trace's destination.
func (m *Model) openInput(what, prompt, value string, suggestions []string) {
	m.inputFor = what
	m.input.Prompt = prompt
	m.input.SetValue(value)
	m.input.SetSuggestions(suggestions)
	m.input.CursorEnd()
	m.input.Width = max(10, m.width-len(prompt)-2)
	m.input.Focus()
}

func (m *Model) inputKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	s := m.current()
	switch msg.String() {
	case "esc":
		if m.inputFor == "filter" && s != nil {
			s.list.setFilter("")
		}
		m.inputFor = ""
		m.input.Blur()
		return m, nil
	case "enter":
		what, value := m.inputFor, strings.TrimSpace(m.input.Value())
		m.inputFor = ""
		m.input.Blur()
		if what == "trace" && value != "" {
			if m.busy != "" {
				m.setStatus(true, "%s: still running; trace again when it is done", m.busy)
				return m, nil
			}
			req := trace.Request{Src: m.traceFrom, Dst: value}
			// "SRC DST" traces from elsewhere: internet to a NodePort.
			switch f := strings.Fields(value); len(f) {
			case 1:
			case 2:
				req.Src, req.Dst = f[0], f[1]
			default:
				m.setStatus(true, "trace %q: type DST, or SRC DST (internet node/NAME:PORT)", value)
				return m, nil
			}
			return m, m.runTrace(req, false)
		}
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if m.inputFor == "filter" && s != nil {
		s.list.setFilter(m.input.Value())
	}
	return m, cmd
}

// resize gives every screen the body's height.
func (m *Model) resize() {
	for _, s := range append(append([]*screen{}, m.tops...), m.stack...) {
		if s == nil {
			continue
		}
		s.list.height = m.bodyHeight()
		s.list.scroll()
	}
	m.input.Width = max(10, m.width-len(m.input.Prompt)-2)
}

// View draws the title with the view tabs, the screen, the status line
// and the keys that apply.
func (m *Model) View() string {
	var b strings.Builder
	where := ""
	if m.w != nil && len(m.w.Nodes) > 0 {
		where = "node " + m.w.Nodes[m.node].Name
		if len(m.w.Nodes) > 1 {
			where += fmt.Sprintf(" (%d of %d)", m.node+1, len(m.w.Nodes))
		}
		where += " · "
	}
	where += m.src.Name
	var tabs []string
	for i, name := range topNames {
		if i == m.top && len(m.stack) == 0 {
			tabs = append(tabs, m.st.tabOn.Render("["+name+"]"))
		} else {
			tabs = append(tabs, m.st.tab.Render(" "+name+" "))
		}
	}
	head := m.st.title.Render("netx") + " " + strings.Join(tabs, "") + "  " + where
	if s := m.current(); s != nil && len(m.stack) > 0 {
		head = m.st.title.Render("netx") + " " + m.st.tabOn.Render(s.title) + "  " + where
	}
	b.WriteString(ansi.Truncate(head, m.width, "…"))
	b.WriteByte('\n')

	body := ""
	switch {
	case m.showHelp:
		body = "keys\n\n" + m.help.FullHelpView(m.fullKeys())
	case m.current() != nil:
		body = m.current().list.view(m.width, m.st)
	case m.busy != "":
		body = "  reading…"
	}
	lines := strings.Split(body, "\n")
	h := m.bodyHeight()
	for i := 0; i < h; i++ {
		if i < len(lines) {
			b.WriteString(ansi.Truncate(lines[i], m.width, "…"))
		}
		b.WriteByte('\n')
	}

	switch {
	case m.inputFor != "":
		b.WriteString(m.input.View())
	case m.busy != "":
		b.WriteString(ansi.Truncate(m.spin.View()+" "+m.busy, m.width, "…"))
	default:
		st := m.status
		if s := m.current(); s != nil && s.list.filter != "" {
			st = fmt.Sprintf("filter %q: %d of %d lines (esc clears)", s.list.filter, len(s.list.shown), len(s.list.items))
		}
		style := m.st.status
		if m.statusErr {
			style = m.st.error
		}
		b.WriteString(style.Render(ansi.Truncate(st, m.width, "…")))
	}
	b.WriteByte('\n')
	b.WriteString(ansi.Truncate(m.help.ShortHelpView(m.shortKeys()), m.width, "…"))
	return b.String()
}

// shortKeys are the keys that apply to the screen in front.
func (m *Model) shortKeys() []key.Binding {
	if m.inputFor != "" {
		ks := []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "done")),
			key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "complete")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		}
		if m.inputFor == "trace" {
			ks = append(ks, key.NewBinding(key.WithKeys("internet"), key.WithHelp("SRC DST", "from elsewhere (internet node/NAME:PORT)")))
		}
		return ks
	}
	// In the order they matter: what does not fit a narrow terminal is
	// left off the end, never ? and q.
	ks := []key.Binding{m.keys.Help, m.keys.Quit}
	s := m.current()
	if s != nil {
		if it := s.list.selected(); it != nil && opens(s.kind, it.ref) {
			ks = append(ks, m.keys.Enter)
		}
		if it := s.list.selected(); it != nil && traceable(it.ref) {
			ks = append(ks, m.keys.Trace)
		}
		if s.kind == traceView && m.src.Live != nil {
			ks = append(ks, m.keys.Live)
		}
		if len(m.stack) > 0 || len(s.jumps) > 0 || s.list.filter != "" {
			ks = append(ks, m.keys.Back)
		}
		ks = append(ks, m.keys.Filter)
	}
	ks = append(ks, m.keys.Tab)
	if m.w != nil && len(m.w.Nodes) > 1 && len(m.stack) == 0 {
		ks = append(ks, m.keys.NextNode)
	}
	return append(ks, m.keys.Reread)
}

// fullKeys is the help screen: every key, in columns.
func (m *Model) fullKeys() [][]key.Binding {
	k := m.keys
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Enter, k.Back, k.Tab, k.BackTab, k.Filter},
		{k.Trace, k.Live, k.NextNode, k.Reread, k.Help, k.Quit},
	}
}
