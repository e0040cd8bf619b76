package cmd

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/netx-project/netx/cluster"
	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/printers"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// InspectOptions is `netx inspect`.
type InspectOptions struct {
	streams   genericiooptions.IOStreams
	Output    string
	HostNetns string
	Attached  bool
	CRI       string
	Snapshot  string
	What      string // node | pod | netns; "" when the arguments say none
	Ref       string
	Agent     agentFlags
	kube      *kubeFlags
	mode      cluster.Decision
	modeErr   error
	args      []string
	root      bool
}

// NewInspectCommand shows a node's pod networking.
func NewInspectCommand(streams genericiooptions.IOStreams, kube *kubeFlags) *cobra.Command {
	o := &InspectOptions{streams: streams, kube: kube}
	c := &cobra.Command{
		Use:   "inspect [node | node/NAME | pod/NAME | netns REF]",
		Short: "Show a node's pod networking as it really is (read-only)",
		Long: `inspect finds every network namespace on the node (through /proc, /run/netns
and netx lab state) and shows, read-only, what each holds: interfaces, veth
peers and their bridge, routes, rules, neighbours and listening sockets with
their owning process and container.

With no argument: the node view, with every pod found on it.

Where the state comes from follows trace's rule: --snapshot or --host-netns
is that local state; else a usable kubeconfig is the cluster — node/NAME or
pod/NAME (in -n's or the context's namespace) is read through an agent pod
on that node; else this machine's node (root).`,
		Annotations: map[string]string{usesKubeconfig: "true"},
		Example: `  netx inspect                      # the node and its pods
  netx inspect pod/pod-a            # one pod: pause, processes, eth0 and its veth peer, sockets
  netx inspect netns pid:1234       # any namespace: /proc/PID/ns/net, /run/netns/NAME, pid:N, name:N, inode:N
  netx inspect --host-netns /run/netns/netx.seeds.node1 -o json
  netx inspect --snapshot node1.json.gz pod/pod-a   # a snapshot taken elsewhere
  kubectl netx inspect node/node1                    # through the cluster, from a laptop`,
		Args: cobra.MaximumNArgs(2),
		RunE: runE(o),
	}
	c.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text, json or yaml")
	c.Flags().StringVar(&o.HostNetns, "host-netns", "", "namespace to treat as the node (default: the host)")
	c.Flags().BoolVar(&o.Attached, "attached-only", false, attachedOnlyHelp)
	c.Flags().StringVar(&o.Snapshot, "snapshot", "", "show a saved snapshot (netx snapshot -o FILE) instead of this machine")
	c.Flags().StringVar(&o.CRI, "cri-endpoint", "", "container runtime socket (default: containerd's or CRI-O's if present)")
	o.Agent.addTo(c)
	return c
}

// inspectLocalFlags are inspect's and snapshot's local-state flags given.
func inspectLocalFlags(c *cobra.Command) []string {
	var out []string
	for _, n := range []string{"snapshot", "host-netns"} {
		if f := c.Flags().Lookup(n); f != nil && f.Changed {
			out = append(out, "--"+n)
		}
	}
	return out
}

// Complete reads the target from the arguments, decides the mode, and
// notes whether netx runs as root.
func (o *InspectOptions) Complete(c *cobra.Command, args []string) error {
	o.args, o.root = args, os.Geteuid() == 0
	o.mode, o.modeErr = cluster.Decide(o.kube.modeInput(c, inspectLocalFlags(c)))
	switch {
	case len(args) == 0 || (len(args) == 1 && args[0] == "node"):
		o.What = "node"
	case len(args) == 1 && strings.HasPrefix(args[0], "node/"):
		o.What, o.Ref = "node", strings.TrimPrefix(args[0], "node/")
	case len(args) == 1 && strings.HasPrefix(args[0], "pod/"):
		o.What, o.Ref = "pod", strings.TrimPrefix(args[0], "pod/")
	case len(args) == 2 && (args[0] == "netns" || args[0] == "pod"):
		o.What, o.Ref = args[0], args[1]
	}
	return nil
}

// Validate checks --output, the target, and that a live node is read as
// root.
func (o *InspectOptions) Validate() error {
	if err := printers.CheckFormat(o.Output, "text", "json", "yaml"); err != nil {
		return err
	}
	if o.What == "" {
		return fmt.Errorf("inspect %s: say node, pod/NAME, or netns REF", strings.Join(o.args, " "))
	}
	if o.modeErr != nil {
		return o.modeErr
	}
	if err := o.Agent.validate(o.mode); err != nil {
		return err
	}
	if o.mode.Mode == cluster.ModeCluster {
		switch {
		case o.What == "netns":
			return fmt.Errorf("inspect netns REF names a namespace of this machine; through the cluster, say node/NAME or pod/NAME")
		case o.What == "node" && o.Ref == "":
			return fmt.Errorf("inspect through the cluster (kubeconfig context %q): name the node, node/NAME (kubectl get nodes lists them)", o.mode.Context)
		}
		return nil
	}
	if o.What == "node" && o.Ref != "" {
		return fmt.Errorf("inspect node/%s reads a node through the cluster, but no kubeconfig is in use here: inspect (no argument) reads this machine's node", o.Ref)
	}
	if o.Snapshot == "" && !o.root {
		return fmt.Errorf("inspect reads every network namespace of the node and needs root; run it with sudo (or read a saved one with --snapshot FILE)")
	}
	return nil
}

// Run reads the node (or the snapshot), finds the target and prints it.
func (o *InspectOptions) Run(ctx context.Context) error {
	var snap *inspect.Snapshot
	var err error
	if o.mode.Mode == cluster.ModeCluster {
		run, err := o.Agent.start(ctx, o.kube, o.mode, o.streams.ErrOut, o.Output == "text")
		if err != nil {
			return err
		}
		defer run.done()
		if o.What == "node" {
			snap, err = run.NodeSnapshot(run.ctx, o.Ref)
		} else {
			snap, o.Ref, err = run.PodSnapshot(run.ctx, o.Ref)
		}
		if err != nil {
			return run.interrupted(err)
		}
	} else if o.Snapshot != "" {
		snap, err = inspect.ReadSnapshotFile(o.Snapshot)
	} else {
		snap, err = inspect.Discover(inspect.Options{HostNetns: o.HostNetns, CRIEndpoint: o.CRI, AttachedOnly: o.Attached})
	}
	if err != nil {
		return err
	}
	var n *inspect.Netns
	var hostPod *inspect.HostNetworkPod
	switch o.What {
	case "pod":
		n, hostPod, err = snap.FindPod(o.Ref)
	case "netns":
		n, err = snap.FindNetns(o.Ref)
	}
	if err != nil {
		return err
	}
	switch {
	case hostPod != nil && o.Output != "text":
		return printers.Write(o.streams.Out, o.Output, printers.HostNetworkPodDoc(snap, hostPod))
	case hostPod != nil:
		printers.HostNetworkPod(o.streams.Out, snap, hostPod)
	case o.Output != "text" && n != nil:
		return printers.Write(o.streams.Out, o.Output, n)
	case o.Output != "text":
		return printers.Write(o.streams.Out, o.Output, snap)
	case n != nil:
		printers.Netns(o.streams.Out, snap, n)
	default:
		printers.Node(o.streams.Out, snap)
	}
	return nil
}

// SnapshotOptions is `netx snapshot`.
type SnapshotOptions struct {
	streams   genericiooptions.IOStreams
	File      string
	HostNetns string
	CRI       string
	NodeName  string
	Attached  bool
	Node      string
	Agent     agentFlags
	kube      *kubeFlags
	mode      cluster.Decision
	modeErr   error
	root      bool
}

// NewSnapshotCommand writes the whole node view as one JSON document.
func NewSnapshotCommand(streams genericiooptions.IOStreams, kube *kubeFlags) *cobra.Command {
	o := &SnapshotOptions{streams: streams, kube: kube}
	c := &cobra.Command{
		Use:   "snapshot [node/NAME] [-o FILE]",
		Short: "Save the node's whole networking view as one versioned JSON document (FILE.gz compresses)",
		Long: `snapshot saves a node's whole networking view — what inspect shows and trace
reads — as one versioned JSON document.

With --host-netns, or no usable kubeconfig: this machine's node (root).
With a usable kubeconfig: node/NAME, read through an agent pod on it.`,
		Example: `  netx snapshot -o node1.json.gz                     # this machine, as root
  kubectl netx snapshot node/node1 -o node1.json.gz   # through the cluster, from a laptop`,
		Annotations: map[string]string{usesKubeconfig: "true"},
		Args:        cobra.MaximumNArgs(1),
		RunE:        runE(o),
	}
	c.Flags().StringVarP(&o.File, "output", "o", "", "file to write (default stdout; .gz compresses)")
	c.Flags().StringVar(&o.HostNetns, "host-netns", "", "namespace to treat as the node (default: the host)")
	c.Flags().BoolVar(&o.Attached, "attached-only", false, attachedOnlyHelp)
	c.Flags().StringVar(&o.CRI, "cri-endpoint", "", "container runtime socket (default: containerd's or CRI-O's if present)")
	c.Flags().StringVar(&o.NodeName, "node-name", "", "the node's name in the snapshot, which trace --snapshot uses (default: the hostname when the node is the host)")
	o.Agent.addTo(c)
	return c
}

// Complete reads the node argument, decides the mode and notes whether
// netx runs as root; "-" is stdout, as no file.
func (o *SnapshotOptions) Complete(c *cobra.Command, args []string) error {
	if o.File == "-" {
		o.File = ""
	}
	if len(args) == 1 {
		o.Node = args[0]
	}
	o.mode, o.modeErr = cluster.Decide(o.kube.modeInput(c, inspectLocalFlags(c)))
	o.root = os.Geteuid() == 0
	return nil
}

// Validate checks the mode and its argument, and that a node read here
// is read as root.
func (o *SnapshotOptions) Validate() error {
	if o.modeErr != nil {
		return o.modeErr
	}
	if err := o.Agent.validate(o.mode); err != nil {
		return err
	}
	name, isNode := strings.CutPrefix(o.Node, "node/")
	switch {
	case o.Node != "" && (!isNode || name == ""):
		return fmt.Errorf("snapshot %s: name a node as node/NAME", o.Node)
	case o.mode.Mode == cluster.ModeCluster && o.Node == "":
		return fmt.Errorf("snapshot through the cluster (kubeconfig context %q): name the node, node/NAME (kubectl get nodes lists them)", o.mode.Context)
	case o.mode.Mode == cluster.ModeCluster:
		o.Node = name
		return nil
	case o.Node != "":
		return fmt.Errorf("snapshot %s reads a node through the cluster, but no kubeconfig is in use here: snapshot (no argument) reads this machine's node", o.Node)
	}
	if !o.root {
		return fmt.Errorf("snapshot reads every network namespace of the node and needs root; run it with sudo")
	}
	return nil
}

// Run reads the node and writes the snapshot to stdout or the file.
func (o *SnapshotOptions) Run(ctx context.Context) error {
	var snap *inspect.Snapshot
	var err error
	if o.mode.Mode == cluster.ModeCluster {
		run, err := o.Agent.start(ctx, o.kube, o.mode, o.streams.ErrOut, true)
		if err != nil {
			return err
		}
		defer run.done()
		if snap, err = run.NodeSnapshot(run.ctx, o.Node); err != nil {
			return run.interrupted(err)
		}
	} else if snap, err = inspect.Discover(inspect.Options{HostNetns: o.HostNetns, CRIEndpoint: o.CRI, AttachedOnly: o.Attached, NodeName: o.NodeName}); err != nil {
		return err
	}
	if o.File == "" {
		return inspect.WriteSnapshot(o.streams.Out, snap)
	}
	if err := inspect.WriteSnapshotFile(o.File, snap); err != nil {
		return err
	}
	printers.SnapshotWritten(o.streams.ErrOut, snap, o.File)
	return nil
}

// attachedOnlyHelp explains --attached-only, for inspect and snapshot.
const attachedOnlyHelp = "keep only the node's own pods: namespaces joined to the node by a veth and to nothing else (with --host-netns on a machine holding several nodes)"
