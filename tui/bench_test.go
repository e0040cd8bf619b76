package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/kubeproxy"
	"github.com/netx-project/netx/netfilter"
	"github.com/netx-project/netx/printers"
	"github.com/netx-project/netx/trace"
)

// bigNode is the e2e cluster's node1 grown to pods pod namespaces (each a
// copy of pod-a's, its veth a port of cni0) and kube-proxy's iptables
// layout for services ClusterIP services (kubeproxy.Synthetic, read back
// through iptables-save's text as on a node).
func bigNode(tb testing.TB, pods, services int) *inspect.Snapshot {
	tb.Helper()
	b, err := os.ReadFile(clusterSnapshots[0])
	if err != nil {
		tb.Fatal(err)
	}
	var s inspect.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		tb.Fatal(err)
	}
	var tmpl *inspect.Netns
	for _, ns := range s.Namespaces {
		if ns.PodName() == "default/pod-a" {
			tmpl = ns
		}
	}
	raw, _ := json.Marshal(tmpl)
	s.Namespaces = nil
	for i := range pods {
		var ns inspect.Netns
		json.Unmarshal(raw, &ns)
		ns.Inode = 5_000_000 + uint64(i)
		ns.Path = fmt.Sprintf("/run/netns/bench-%d", i)
		ns.Pod.Name = fmt.Sprintf("bench-%04d", i)
		ns.Pod.Namespace = fmt.Sprintf("ns%d", i%50)
		ip := fmt.Sprintf("10.244.%d.%d/16", 1+i/250, 2+i%250)
		veth := fmt.Sprintf("veth%08x", i)
		for k := range ns.Links {
			if ns.Links[k].Name == "eth0" {
				ns.Links[k].Addrs = []string{ip}
				ns.Links[k].Peer = &inspect.PeerRef{Name: veth, Inode: s.Node.Inode}
			}
		}
		s.Namespaces = append(s.Namespaces, &ns)
		s.Node.Links = append(s.Node.Links, inspect.Link{Name: veth, Kind: "veth", Master: "cni0", Up: true, MTU: 1500,
			Peer: &inspect.PeerRef{Name: "eth0", Inode: ns.Inode}})
	}
	node, err := kubeproxy.Build(kubeproxy.ModeIPTables, kubeproxy.SyntheticConfig(), kubeproxy.Synthetic(services))
	if err != nil {
		tb.Fatal(err)
	}
	ipt, _, err := node.Render(false)
	if err != nil {
		tb.Fatal(err)
	}
	rs, err := netfilter.ParseIPTablesSave(bytes.NewReader(ipt), netfilter.SourceIPTablesNFT)
	if err != nil {
		tb.Fatal(err)
	}
	s.Node.Netfilter = []*netfilter.Ruleset{rs}
	return &s
}

func worldOf(tb testing.TB, s *inspect.Snapshot) *trace.World {
	w, err := trace.NewWorld([]*trace.Node{{Name: s.NodeName, Snap: s}})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// firstFrame is what a user waits for once the node is read: the world
// indexed (services from the rules), the four views built, the first
// screen drawn.
func firstFrame(tb testing.TB, s *inspect.Snapshot) string {
	m := New(context.Background(), Source{Name: "bench"}, Options{})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.Update(loadedMsg{w: worldOf(tb, s)})
	return m.View()
}

var sizes = []struct{ pods, services int }{{1000, 100}, {100, 10000}}

// BenchmarkFirstFrame: from the node's snapshot in memory to the first
// screen, at 1000 pods and at 10k services; beside it, netx inspect's
// text for the same node (printers.Node), the CLI's way to see it.
func BenchmarkFirstFrame(b *testing.B) {
	for _, sz := range sizes {
		s := bigNode(b, sz.pods, sz.services)
		b.Run(fmt.Sprintf("pods=%d,services=%d/tui", sz.pods, sz.services), func(b *testing.B) {
			for b.Loop() {
				firstFrame(b, s)
			}
		})
		b.Run(fmt.Sprintf("pods=%d,services=%d/inspect-text", sz.pods, sz.services), func(b *testing.B) {
			for b.Loop() {
				worldOf(b, s)
				printers.Node(io.Discard, s)
			}
		})
	}
}

// BenchmarkOpenRules: tab to the rules view the first time, at 10k
// services (80k lines, built when first shown).
func BenchmarkOpenRules(b *testing.B) {
	s := bigNode(b, 100, 10000)
	w := worldOf(b, s)
	for b.Loop() {
		m := New(context.Background(), Source{Name: "bench"}, Options{})
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		m.Update(loadedMsg{w: w})
		m.View()
		m.top = int(rulesView)
		m.View()
	}
}

// BenchmarkKeystroke: one key to one frame while scrolling the pods
// (1000) and the services (10k) lists, and typing into a filter there.
func BenchmarkKeystroke(b *testing.B) {
	for _, c := range []struct {
		name            string
		pods, services  int
		tabs            int
		key             tea.KeyMsg
		filterFirst     bool
		pods1000orSvc10 string
	}{
		{name: "scroll pods=1000", pods: 1000, services: 100, tabs: 1, key: tea.KeyMsg{Type: tea.KeyDown}},
		{name: "scroll services=10000", pods: 100, services: 10000, tabs: 2, key: tea.KeyMsg{Type: tea.KeyDown}},
		{name: "filter services=10000", pods: 100, services: 10000, tabs: 2, key: tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("9")}, filterFirst: true},
	} {
		s := bigNode(b, c.pods, c.services)
		b.Run(c.name, func(b *testing.B) {
			m := New(context.Background(), Source{Name: "bench"}, Options{})
			m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
			m.Update(loadedMsg{w: worldOf(b, s)})
			for range c.tabs {
				m.Update(tea.KeyMsg{Type: tea.KeyTab})
			}
			m.View() // the view is built when first shown
			for b.Loop() {
				if c.filterFirst {
					b.StopTimer()
					m.Update(tea.KeyMsg{Type: tea.KeyEsc})
					m.Update(tea.KeyMsg{Type: tea.KeyEsc})
					m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/")})
					b.StartTimer()
				}
				m.Update(c.key)
				m.View()
			}
		})
	}
}

// TestBigNode: the benchmark's node is what it says — every pod listed,
// every service read from the rules — and scrolling reaches the end.
func TestBigNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 10k services")
	}
	s := bigNode(t, 1000, 10000)
	m := New(context.Background(), Source{Name: "bench"}, Options{})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.Update(loadedMsg{w: worldOf(t, s)})
	if n := len(m.view(int(podsView)).list.items); n != 1000+1 { // and the hostNetwork pod
		t.Errorf("%d pods listed", n)
	}
	if n := len(m.view(int(servicesView)).list.items); n != 10000 {
		t.Errorf("%d services listed", n)
	}
	m.Update(tea.KeyMsg{Type: tea.KeyTab})
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("G")})
	if v := m.View(); !bytes.Contains([]byte(v), []byte("› default/webapp-hostnet")) || !bytes.Contains([]byte(v), []byte("ns49/bench-0999")) {
		t.Errorf("G on the pods does not reach the last:\n%s", v)
	}
}
