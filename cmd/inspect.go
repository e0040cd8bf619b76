package cmd

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"

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
	What      string // node | pod | netns
	Ref       string
}

// NewInspectCommand shows a node's pod networking.
func NewInspectCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &InspectOptions{streams: streams}
	c := &cobra.Command{
		Use:   "inspect [node | pod/NAME | netns REF]",
		Short: "Show a node's pod networking as it really is (read-only)",
		Long: `inspect finds every network namespace on the node (through /proc, /run/netns
and netx lab state) and shows, read-only, what each holds: interfaces, veth
peers and their bridge, routes, rules, neighbours and listening sockets with
their owning process and container.

With no argument: the node view, with every pod found on it.`,
		Example: `  netx inspect                      # the node and its pods
  netx inspect pod/pod-a            # one pod: pause, processes, eth0 and its veth peer, sockets
  netx inspect netns pid:1234       # any namespace: /proc/PID/ns/net, /run/netns/NAME, pid:N, name:N, inode:N
  netx inspect --host-netns /run/netns/netx.seeds.node1 -o json
  netx inspect --snapshot node1.json.gz pod/pod-a   # a snapshot taken elsewhere`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			return o.Run()
		},
	}
	c.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text, json or yaml")
	c.Flags().StringVar(&o.HostNetns, "host-netns", "", "namespace to treat as the node (default: the host)")
	c.Flags().BoolVar(&o.Attached, "attached-only", false, attachedOnlyHelp)
	c.Flags().StringVar(&o.Snapshot, "snapshot", "", "show a saved snapshot (netx snapshot -o FILE) instead of this machine")
	c.Flags().StringVar(&o.CRI, "cri-endpoint", "", "container runtime socket (default: containerd's or CRI-O's if present)")
	return c
}

// Complete parses the target.
func (o *InspectOptions) Complete(args []string) error {
	if err := printers.CheckFormat(o.Output, "text", "json", "yaml"); err != nil {
		return err
	}
	switch {
	case len(args) == 0 || (len(args) == 1 && args[0] == "node"):
		o.What = "node"
	case len(args) == 1 && strings.HasPrefix(args[0], "pod/"):
		o.What, o.Ref = "pod", strings.TrimPrefix(args[0], "pod/")
	case len(args) == 2 && (args[0] == "netns" || args[0] == "pod"):
		o.What, o.Ref = args[0], args[1]
	default:
		return fmt.Errorf("inspect %s: say node, pod/NAME, or netns REF", strings.Join(args, " "))
	}
	return nil
}

// Run discovers and prints.
func (o *InspectOptions) Run() error {
	var snap *inspect.Snapshot
	var err error
	switch {
	case o.Snapshot != "":
		snap, err = inspect.ReadSnapshotFile(o.Snapshot)
	case os.Geteuid() != 0:
		return fmt.Errorf("inspect reads every network namespace of the node and needs root; run it with sudo (or read a saved one with --snapshot FILE)")
	default:
		snap, err = inspect.Discover(inspect.Options{HostNetns: o.HostNetns, CRIEndpoint: o.CRI, AttachedOnly: o.Attached})
	}
	if err != nil {
		return err
	}
	var target any = snap
	var n *inspect.Netns
	switch o.What {
	case "pod":
		if n, err = snap.FindPod(o.Ref); err != nil {
			return err
		}
		target = n
	case "netns":
		if n, err = snap.FindNetns(o.Ref); err != nil {
			return err
		}
		target = n
	}
	if o.Output != "text" {
		return printers.Write(o.streams.Out, o.Output, target)
	}
	if n != nil {
		printers.Netns(o.streams.Out, snap, n)
		return nil
	}
	printers.Node(o.streams.Out, snap)
	return nil
}

// NewSnapshotCommand writes the whole node view as one JSON document.
func NewSnapshotCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var file, hostNetns, cri, nodeName string
	var attached bool
	c := &cobra.Command{
		Use:   "snapshot [-o FILE]",
		Short: "Save the node's whole networking view as one versioned JSON document (FILE.gz compresses)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return fmt.Errorf("snapshot reads every network namespace of the node and needs root; run it with sudo")
			}
			snap, err := inspect.Discover(inspect.Options{HostNetns: hostNetns, CRIEndpoint: cri, AttachedOnly: attached, NodeName: nodeName})
			if err != nil {
				return err
			}
			var w io.Writer = streams.Out
			if file != "" && file != "-" {
				f, err := os.Create(file)
				if err != nil {
					return fmt.Errorf("write snapshot: %w", err)
				}
				defer f.Close()
				w = f
				if strings.HasSuffix(file, ".gz") {
					gz := gzip.NewWriter(f)
					defer gz.Close()
					w = gz
				}
			}
			if err := inspect.WriteSnapshot(w, snap); err != nil {
				return err
			}
			if file != "" && file != "-" {
				printers.SnapshotWritten(streams.ErrOut, snap, file)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&file, "output", "o", "", "file to write (default stdout; .gz compresses)")
	c.Flags().StringVar(&hostNetns, "host-netns", "", "namespace to treat as the node (default: the host)")
	c.Flags().BoolVar(&attached, "attached-only", false, attachedOnlyHelp)
	c.Flags().StringVar(&cri, "cri-endpoint", "", "container runtime socket (default: containerd's or CRI-O's if present)")
	c.Flags().StringVar(&nodeName, "node-name", "", "the node's name in the snapshot, which trace --snapshot uses (default: the hostname when the node is the host)")
	return c
}

// attachedOnlyHelp explains --attached-only, for inspect and snapshot.
const attachedOnlyHelp = "keep only the node's own pods: namespaces joined to the node by a veth and to nothing else (with --host-netns on a machine holding several nodes)"
