package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// CompletionOptions is `netx completion SHELL`.
type CompletionOptions struct {
	streams genericiooptions.IOStreams
	Shell   string
	root    *cobra.Command
}

// NewCompletionCommand prints shell completion scripts.
func NewCompletionCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &CompletionOptions{streams: streams}
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a shell completion script. For bash: source <(netx completion bash)

As a kubectl plugin, kubectl (1.26+) completes "kubectl netx ..." by running
kubectl_complete-netx from PATH, a script that calls
"kubectl netx __complete"; it is shipped as krew/kubectl_complete-netx.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE:      runE(o),
	}
}

// Complete takes the shell and the command tree the script completes.
func (o *CompletionOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Shell, o.root = args[0], cmd.Root()
	return nil
}

// Validate checks the shell is one cobra writes scripts for.
func (o *CompletionOptions) Validate() error {
	switch o.Shell {
	case "bash", "zsh", "fish", "powershell":
		return nil
	}
	return fmt.Errorf("unknown shell %q; use bash, zsh, fish or powershell", o.Shell)
}

// Run prints the script.
func (o *CompletionOptions) Run(context.Context) error {
	switch o.Shell {
	case "bash":
		return o.root.GenBashCompletionV2(o.streams.Out, true)
	case "zsh":
		return o.root.GenZshCompletion(o.streams.Out)
	case "fish":
		return o.root.GenFishCompletion(o.streams.Out, true)
	}
	return o.root.GenPowerShellCompletionWithDesc(o.streams.Out)
}
