// Package cmd wires netx's commands to cobra: one constructor per command,
// each with an Options type whose Complete, Validate and Run are called in
// that order (as kubectl's sample-cli-plugin does). It holds no logic and
// no formatting: Run calls the domain packages (lab, inspect, trace), which
// return data, and printers, which renders it.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/netx-project/netx/cni"
	"github.com/netx-project/netx/lab"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Main runs netx with the full argv (argv[0] decides how it names itself)
// and returns the process exit code.
func Main(argv []string, streams genericiooptions.IOStreams) int {
	// The lab starts one pause per pod: it skips building the command
	// tree (the lab runs netx-pod, the same code, when it is installed).
	if len(argv) > 2 && argv[1] == "datapath" && argv[2] == "pause" {
		return lab.RunWorkload(argv[1:], streams.ErrOut)
	}
	// The CNI plugin: the runtime runs netx-cni (a copy the agent
	// installs) with CNI_COMMAND set; kubectl-netx cni is the same.
	if isCNI(argv) {
		return cni.Main("netx-cni " + Version + ": netx's pod network (bridge, veth, host-local addresses from the node's pod CIDR)")
	}
	name := commandName(argv)
	root, prof := newRootCommand(name, streams)
	root.SetArgs(argv[1:])
	err := root.Execute()
	if perr := prof.stop(); perr != nil && err == nil {
		err = perr
	}
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(streams.ErrOut, "error: %v\n", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
	return 1
}

// options is what every command's Options type does: Complete fills the
// options from the arguments, flags and environment; Validate checks them
// and returns one error naming the flag or object and the fix; Run does the
// work.
type options interface {
	Complete(cmd *cobra.Command, args []string) error
	Validate() error
	Run(ctx context.Context) error
}

// runE runs a command's options as its cobra RunE.
func runE(o options) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// ExitError carries a specific exit code (e.g. the exit status of a command
// run by `datapath exec`). A nil Err prints nothing.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// commandName is how netx names itself in help and usage: "kubectl netx"
// when run as kubectl-netx (kubectl runs plugins by that name, and so does
// a user who calls it directly), otherwise the name it was invoked by (netx
// through the symlink).
func commandName(argv []string) string {
	base := "netx"
	if len(argv) > 0 {
		base = strings.TrimSuffix(filepath.Base(argv[0]), ".exe")
	}
	if plugin, ok := strings.CutPrefix(base, "kubectl-"); ok {
		return "kubectl " + plugin
	}
	return base
}

// NewRootCommand builds the command tree; nothing is global.
func NewRootCommand(name string, streams genericiooptions.IOStreams) *cobra.Command {
	root, _ := newRootCommand(name, streams)
	return root
}

// newRootCommand is NewRootCommand and its profiling flags, which Main
// stops after the command.
func newRootCommand(name string, streams genericiooptions.IOStreams) (*cobra.Command, *profiling) {
	root := &cobra.Command{
		Use:   strings.TrimPrefix(name, "kubectl "),
		Short: "Debug Kubernetes pod networking on the node",
		Long: name + ` walks the path a packet takes between pods, services and the outside
world on a node — veth, bridge, routes, kube-proxy NAT, overlay — and can
build that whole path itself as a lab on one machine.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	kube := newKubeFlags()
	kube.addTo(root)
	prof := &profiling{}
	prof.addTo(root.PersistentFlags())
	root.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if err := kube.refuseUnused(c, args); err != nil {
			return err
		}
		return prof.start(c, args)
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	if strings.HasPrefix(name, "kubectl ") {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: name}
	}
	root.AddCommand(
		NewVersionCommand(streams),
		NewCompletionCommand(streams),
		NewDatapathCommand(streams),
		NewInspectCommand(streams, kube),
		NewSnapshotCommand(streams, kube),
		NewTraceCommand(streams, kube),
		NewTUICommand(streams, kube),
		NewCleanupCommand(streams, kube),
		NewSetupCommand(streams, kube),
		NewTeardownCommand(streams, kube),
		NewAgentCommand(streams),
		NewCNICommand(streams),
	)
	if name != "netx" {
		nameExamples(root, name)
	}
	return root, prof
}

// nameExamples makes every example say the name netx runs under
// ("kubectl netx trace ..." for the plugin), as usage lines do.
func nameExamples(c *cobra.Command, name string) {
	lines := strings.Split(c.Example, "\n")
	for i, l := range lines {
		rest := strings.TrimLeft(l, " ")
		if after, ok := strings.CutPrefix(rest, "netx "); ok {
			lines[i] = l[:len(l)-len(rest)] + name + " " + after
		}
	}
	c.Example = strings.Join(lines, "\n")
	for _, sub := range c.Commands() {
		nameExamples(sub, name)
	}
}
