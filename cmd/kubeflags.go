package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/netx-project/netx/cluster"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
)

// kubeFlags are kubectl's own flags (--kubeconfig, --context, -n, --as,
// --request-timeout, ...: cli-runtime's ConfigFlags), persistent on the
// root as kubectl has them. A command that talks to a cluster says so with
// the usesKubeconfig annotation; every other command refuses them, so a
// --context never goes silently unheeded.
type kubeFlags struct {
	*genericclioptions.ConfigFlags
	names []string
}

// usesKubeconfig marks a command that reads the kubeconfig flags.
const usesKubeconfig = "netx/uses-kubeconfig"

// completionTimeout bounds the API calls of one shell completion: an API
// server that does not answer completes nothing, soon.
const completionTimeout = 5 * time.Second

func newKubeFlags() *kubeFlags {
	k := &kubeFlags{ConfigFlags: genericclioptions.NewConfigFlags(true)}
	fs := pflag.NewFlagSet("kubectl", pflag.ContinueOnError)
	k.AddFlags(fs)
	fs.VisitAll(func(f *pflag.Flag) { k.names = append(k.names, f.Name) })
	return k
}

// addTo puts the flags on the root, with completion of --context (from the
// kubeconfig) and -n (from the API).
func (k *kubeFlags) addTo(root *cobra.Command) {
	k.AddFlags(root.PersistentFlags())
	root.RegisterFlagCompletionFunc("context", func(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return cluster.Contexts(k.ToRawKubeConfigLoader(), prefix), cobra.ShellCompDirectiveNoFileComp
	})
	root.RegisterFlagCompletionFunc("namespace", func(c *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []string
		k.withClient(c, nil, func(ctx context.Context, cl kubernetes.Interface, _ cluster.Decision) {
			out = cluster.Namespaces(ctx, cl, prefix)
		})
		return out, cobra.ShellCompDirectiveNoFileComp
	})
}

// given lists the kubeconfig flags set on c's command line, as "--name".
func (k *kubeFlags) given(c *cobra.Command) []string {
	var out []string
	for _, n := range k.names {
		if c.Flags().Changed(n) {
			out = append(out, "--"+n)
		}
	}
	return out
}

// refuseUnused is the root's PersistentPreRunE: a kubeconfig flag on a
// command that talks to no cluster is one clear line, not ignored.
func (k *kubeFlags) refuseUnused(c *cobra.Command, _ []string) error {
	if c.Annotations[usesKubeconfig] != "" {
		return nil
	}
	if g := k.given(c); len(g) > 0 {
		return fmt.Errorf("%s: %s works on this machine and talks to no cluster; drop %s", g[0], c.CommandPath(), g[0])
	}
	return nil
}

// modeInput is what cluster.Decide needs from c's command line; local are
// the local-state flags given.
func (k *kubeFlags) modeInput(c *cobra.Command, local []string) cluster.ModeInput {
	return cluster.ModeInput{
		Local: local, Kube: k.given(c), Config: k.ToRawKubeConfigLoader(),
		Context: *k.Context, Cluster: *k.ClusterName, Server: *k.APIServer,
	}
}

// withClient runs f with a clientset when the mode rule picks the cluster
// (a usable kubeconfig, no local flag), under the completion timeout;
// otherwise, or when no client can be made, f is not run.
func (k *kubeFlags) withClient(c *cobra.Command, local []string, f func(context.Context, kubernetes.Interface, cluster.Decision)) {
	d, err := cluster.Decide(k.modeInput(c, local))
	if err != nil || d.Mode != cluster.ModeCluster {
		return
	}
	cfg, err := k.ToRESTConfig()
	if err != nil {
		return
	}
	cl, err := cluster.NewClient(cfg)
	if err != nil {
		return
	}
	ctx := c.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	f(ctx, cl, d)
}
