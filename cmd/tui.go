package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/netx-project/netx/cluster"
	"github.com/netx-project/netx/printers"
	"github.com/netx-project/netx/trace"
	"github.com/netx-project/netx/tui"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TUIOptions is `netx tui`.
type TUIOptions struct {
	streams   genericiooptions.IOStreams
	kube      *kubeFlags
	Lab       string
	Snapshots []string
	HostNetns string
	CRI       string
	Color     string
	Agent     agentFlags

	node    string // node/NAME in cluster mode
	root    bool
	mode    cluster.Decision
	modeErr error
	args    []string
}

// NewTUICommand explores a node in a terminal UI.
func NewTUICommand(streams genericiooptions.IOStreams, kube *kubeFlags) *cobra.Command {
	o := &TUIOptions{streams: streams, kube: kube}
	c := &cobra.Command{
		Use:   "tui [node/NAME]",
		Short: "Explore a node in a terminal UI: the node, pods, services, rules, and traces from any of them",
		Long: `tui shows a node's pod networking in views — the node (bridges, their ports
and the pods behind them, overlays, routes, kube-proxy's mode, findings), the
pods, the services kube-proxy programs, the netfilter rules (enter follows a
jump, esc comes back) — and traces from any pod or service (t), with the live
probe (L) on a live node. ? lists every key.

The state comes from where trace reads it: --lab NAME, --snapshot FILE (one
per node, no root needed), --host-netns PATH, this machine's node (root), or,
with a usable kubeconfig, node/NAME through a node agent pod. Read-only, like
trace: only L's probe packets and temporary trace rules touch the node, and
they are removed.`,
		Annotations: map[string]string{usesKubeconfig: "true"},
		Example: `  sudo netx tui --lab seeds                      # the built-in lab
  netx tui --snapshot node1.json.gz              # a saved node, no root
  kubectl netx tui node/node1                    # a cluster's node, through its agent`,
		Args: cobra.MaximumNArgs(1),
		RunE: runE(o),
	}
	c.Flags().StringVar(&o.Lab, "lab", "", "explore a netx datapath lab (its nodes, pods and services)")
	c.Flags().StringArrayVar(&o.Snapshots, "snapshot", nil, "a node's saved snapshot (netx snapshot -o FILE); repeat, one per node")
	c.Flags().StringVar(&o.HostNetns, "host-netns", "", "namespace to treat as the node (default: the host)")
	c.Flags().StringVar(&o.CRI, "cri-endpoint", "", "container runtime socket (default: containerd's or CRI-O's if present)")
	c.Flags().StringVar(&o.Color, "color", "auto", "colours: auto (a terminal without NO_COLOR), always or never")
	o.Agent.addTo(c)
	return c
}

// Complete decides the mode, as trace does.
func (o *TUIOptions) Complete(c *cobra.Command, args []string) error {
	o.args = args
	o.mode, o.modeErr = cluster.Decide(o.kube.modeInput(c, localFlags(c)))
	if len(args) == 1 {
		o.node, _ = strings.CutPrefix(args[0], "node/")
	}
	o.root = os.Geteuid() == 0
	return nil
}

// Validate checks the flags and that the source of state is one netx can
// read.
func (o *TUIOptions) Validate() error {
	if !printers.ColorMode(o.Color).Valid() {
		return fmt.Errorf("--color %q: use auto, always or never", o.Color)
	}
	if o.modeErr != nil {
		return o.modeErr
	}
	if err := o.Agent.validate(o.mode); err != nil {
		return err
	}
	switch {
	case o.mode.Mode == cluster.ModeCluster:
		if len(o.args) != 1 || !strings.HasPrefix(o.args[0], "node/") || o.node == "" {
			return fmt.Errorf("in a cluster, tui explores one node: kubectl netx tui node/NAME (kubectl get nodes lists them)")
		}
	case len(o.args) > 0:
		return fmt.Errorf("%s: a node is named only in a cluster; here tui explores --lab NAME, --snapshot FILE or this node", o.args[0])
	case len(o.Snapshots) > 0 || o.root:
	default:
		return fmt.Errorf("tui reads the node's namespaces and rules and needs root; run it with sudo, or explore a saved state with --snapshot FILE")
	}
	f, ok := o.streams.Out.(*os.File)
	if fi, err := os.Stdin.Stat(); !ok || err != nil || fi.Mode()&os.ModeCharDevice == 0 || !isTerminal(f) {
		return fmt.Errorf("tui needs a terminal; for text use netx inspect, for a trace netx trace")
	}
	return nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Run builds the source and runs the UI until q.
func (o *TUIOptions) Run(ctx context.Context) error {
	src := tui.Source{}
	if o.mode.Mode == cluster.ModeCluster {
		run, err := o.Agent.start(ctx, o.kube, o.mode, o.streams.ErrOut, false)
		if err != nil {
			return err
		}
		defer run.done()
		ctx = run.ctx
		src = clusterSource(run, o.node)
	} else {
		src = o.localSource()
	}
	opts := tui.Options{Color: printers.ColorMode(o.Color).Enabled(o.streams.Out)}
	// Quitting ends what still runs off the loop: a live probe stops and
	// removes its trace rules before tui returns (and agents go after).
	ctx, cancel := context.WithCancel(ctx)
	m := tui.New(ctx, src, opts)
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithMouseCellMotion(), tea.WithContext(ctx),
		tea.WithInput(o.streams.In), tea.WithOutput(o.streams.Out))
	_, err := p.Run()
	interrupted := ctx.Err() != nil // SIGINT or SIGTERM, not q
	cancel()
	m.Wait()
	if err != nil && !interrupted {
		return fmt.Errorf("tui: %w", err)
	}
	return nil
}

// localSource reads as trace does on this machine.
func (o *TUIOptions) localSource() tui.Source {
	src := tui.Source{}
	switch {
	case len(o.Snapshots) > 0:
		var names []string
		for _, s := range o.Snapshots {
			names = append(names, filepath.Base(s))
		}
		src.Name = "snapshot " + strings.Join(names, ", ")
		src.Load = func(context.Context) (*trace.World, error) { return trace.LoadSnapshots(o.Snapshots) }
		return src // no live node behind a snapshot
	case o.Lab != "":
		src.Name = "lab " + o.Lab
		src.Load = func(context.Context) (*trace.World, error) { return trace.LoadLab(o.Lab, o.CRI, false) }
	default:
		src.Name = "this node"
		if o.HostNetns != "" {
			src.Name = "netns " + o.HostNetns
		}
		src.Load = func(context.Context) (*trace.World, error) { return trace.LoadNode(o.HostNetns, o.CRI, false) }
	}
	src.Live = func(ctx context.Context, w *trace.World, req trace.Request, progress func(*trace.LiveReport)) (*trace.Result, error) {
		req.SPort = liveSourcePort()
		res, _, err := w.Live(ctx, req, trace.LiveOptions{Progress: progress})
		return res, err
	}
	return src
}

// clusterSource reads node through its agent; its traces follow the path
// to the other nodes it reaches, and its live probe goes through the
// agents of the nodes it crosses. The nodes read are kept until r reads
// again (the UI runs one of these at a time).
func clusterSource(run *clusterRun, node string) tui.Source {
	var mu sync.Mutex
	sess := run.Session
	current := func() *cluster.Session {
		mu.Lock()
		defer mu.Unlock()
		return sess
	}
	return tui.Source{
		Name: "node/" + node,
		Load: func(ctx context.Context) (*trace.World, error) {
			fresh := cluster.NewSession(run.API, run.Agents)
			w, err := fresh.World(ctx, []string{node})
			if err == nil {
				mu.Lock()
				sess = fresh
				mu.Unlock()
			}
			return w, err
		},
		Trace: func(ctx context.Context, _ *trace.World, req trace.Request) (*trace.Result, error) {
			res, _, err := current().Trace(ctx, req)
			return res, err
		},
		Live: func(ctx context.Context, _ *trace.World, req trace.Request, progress func(*trace.LiveReport)) (*trace.Result, error) {
			req.SPort = liveSourcePort()
			res, _, err := current().Live(ctx, req, trace.LiveOptions{Progress: progress})
			return res, err
		},
	}
}
