package cmd

import (
	"context"

	"github.com/netx-project/netx/cluster"
	"github.com/netx-project/netx/printers"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// CleanupOptions is `kubectl netx cleanup`.
type CleanupOptions struct {
	streams       genericiooptions.IOStreams
	kube          *kubeFlags
	AllNamespaces bool
	mode          cluster.Decision
	modeErr       error
}

// NewCleanupCommand removes the agent pods runs left behind.
func NewCleanupCommand(streams genericiooptions.IOStreams, kube *kubeFlags) *cobra.Command {
	o := &CleanupOptions{streams: streams, kube: kube}
	c := &cobra.Command{
		Use:   "cleanup",
		Short: "Delete the agent pods runs left behind (killed runs, --keep-agents)",
		Long: `cleanup deletes the agent pods trace, inspect and snapshot made in the cluster
and did not remove: those of a run that was killed (every run also removes
them itself once their 10-minute deadline has passed) and those kept with
--keep-agents. The setup command's DaemonSet is not touched.`,
		Example: `  kubectl netx cleanup                 # in the namespace of -n or the context
  kubectl netx cleanup -A              # in every namespace`,
		Annotations: map[string]string{usesKubeconfig: "true"},
		Args:        cobra.NoArgs,
		RunE:        runE(o),
	}
	c.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "in every namespace")
	return c
}

// Complete decides the mode.
func (o *CleanupOptions) Complete(c *cobra.Command, _ []string) error {
	o.mode, o.modeErr = cluster.Decide(o.kube.modeInput(c, nil))
	return nil
}

// Validate needs a cluster.
func (o *CleanupOptions) Validate() error {
	return clusterOnly("cleanup", o.mode, o.modeErr)
}

// Run deletes them and says how many.
func (o *CleanupOptions) Run(ctx context.Context) error {
	cs, err := o.kube.clientset()
	if err != nil {
		return err
	}
	ns := o.mode.Namespace
	if o.AllNamespaces {
		ns = ""
	}
	n, err := cluster.Cleanup(ctx, cs, ns, 0)
	printers.CleanedUp(o.streams.Out, n, ns)
	return err
}
