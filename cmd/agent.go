package cmd

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/netx-project/netx/agent"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewAgentCommand is what runs inside the node agent pod: the client
// (cluster mode) starts the pod with `agent idle` and execs `agent
// snapshot` in it. Hidden: people run kubectl netx trace, not this.
func NewAgentCommand(streams genericiooptions.IOStreams) *cobra.Command {
	c := &cobra.Command{
		Use:    "agent",
		Short:  "What runs in the node agent pod (cluster mode execs it)",
		Hidden: true,
	}
	c.AddCommand(newAgentIdleCommand(streams), newAgentReadyCommand(streams), newAgentSnapshotCommand(streams), newAgentLiveCommand(streams), newAgentCNICommand(streams))
	return c
}

// AgentIdleOptions is `netx agent idle`: the agent pod's main process.
type AgentIdleOptions struct {
	For time.Duration
}

func newAgentIdleCommand(genericiooptions.IOStreams) *cobra.Command {
	o := &AgentIdleOptions{}
	c := &cobra.Command{
		Use:   "idle",
		Short: "Wait for the client's execs, then exit (the pod's deadline is the last guard)",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	c.Flags().DurationVar(&o.For, "for", 10*time.Minute, "exit after this long (0: until the pod is stopped, as setup's DaemonSet runs it)")
	return c
}

// Complete has nothing to fill.
func (o *AgentIdleOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate checks --for.
func (o *AgentIdleOptions) Validate() error {
	if o.For < 0 {
		return fmt.Errorf("--for %v: give a positive duration, or 0 for no end", o.For)
	}
	return nil
}

// Run sleeps until --for passes or the pod is stopped (SIGTERM).
func (o *AgentIdleOptions) Run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.For == 0 {
		<-ctx.Done()
		return nil
	}
	select {
	case <-ctx.Done():
	case <-time.After(o.For):
	}
	return nil
}

// AgentReadyOptions is `netx agent ready`: the DaemonSet's readiness
// probe. The agent is ready when it finds its node: the kubelet in its
// network namespace, its root and its namespaces readable.
type AgentReadyOptions struct {
	streams genericiooptions.IOStreams
}

func newAgentReadyCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &AgentReadyOptions{streams: streams}
	return &cobra.Command{
		Use:   "ready",
		Short: "Exit 0 when this agent can read its node (the readiness probe)",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
}

// Complete has nothing to fill.
func (o *AgentReadyOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate has nothing to check.
func (o *AgentReadyOptions) Validate() error { return nil }

// Run finds the node; its error is the probe's message.
func (o *AgentReadyOptions) Run(context.Context) error {
	n, err := agent.Locate()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.streams.Out, "node found: kubelet pid %d\n", n.KubeletPID)
	return nil
}

// AgentSnapshotOptions is `netx agent snapshot`.
type AgentSnapshotOptions struct {
	streams  genericiooptions.IOStreams
	NodeName string
}

func newAgentSnapshotCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &AgentSnapshotOptions{streams: streams}
	c := &cobra.Command{
		Use:   "snapshot",
		Short: "Write this node's snapshot, gzip-compressed, to stdout",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	c.Flags().StringVar(&o.NodeName, "node-name", "", "the node's name (default: $NODE_NAME, which the agent pod sets from spec.nodeName)")
	return c
}

// Complete takes the node name from the pod's environment.
func (o *AgentSnapshotOptions) Complete(*cobra.Command, []string) error {
	if o.NodeName == "" {
		o.NodeName = os.Getenv("NODE_NAME")
	}
	return nil
}

// Validate needs the node's name.
func (o *AgentSnapshotOptions) Validate() error {
	if o.NodeName == "" {
		return fmt.Errorf("agent snapshot: give --node-name (the agent pod sets NODE_NAME)")
	}
	return nil
}

// Run reads the node and streams the snapshot.
func (o *AgentSnapshotOptions) Run(context.Context) error {
	return agent.Snapshot(o.streams.Out, o.NodeName)
}

// AgentLiveOptions is `netx agent live`: this node's part of a live probe,
// driven by the client over the exec stream.
type AgentLiveOptions struct {
	streams genericiooptions.IOStreams
}

func newAgentLiveCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &AgentLiveOptions{streams: streams}
	return &cobra.Command{
		Use:   "live",
		Short: "Carry out this node's part of a live probe, as the client says on stdin",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
}

// Complete has nothing to fill.
func (o *AgentLiveOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate has nothing to check: the plan comes on stdin.
func (o *AgentLiveOptions) Validate() error { return nil }

// Run serves the client until it says stop or goes away; SIGTERM (the pod
// stopping) also ends it, the trace rules removed.
func (o *AgentLiveOptions) Run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return agent.Live(ctx, o.streams.In, o.streams.Out)
}
