package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/netx-project/netx/cluster"
	"github.com/netx-project/netx/printers"
	"github.com/spf13/cobra"
)

// agentFlags say how cluster mode reaches the nodes: the agent pods'
// image, pull secrets and namespace, and whether they stay.
type agentFlags struct {
	Image       string
	PullSecrets []string
	Namespace   string
	Keep        bool
	given       []string
}

func (a *agentFlags) addTo(c *cobra.Command) {
	c.Flags().StringVar(&a.Image, "image", "", "cluster mode: the agent pods' image (default "+cluster.DefaultImageRepo+":VERSION, this binary's version)")
	c.Flags().StringArrayVar(&a.PullSecrets, "image-pull-secret", nil, "cluster mode: an image pull secret for the agent pods, in their namespace (repeatable)")
	c.Flags().StringVar(&a.Namespace, "agent-namespace", "", "cluster mode: where this run's agent pods go (default: the namespace of -n or the context); it must allow privileged pods")
	c.Flags().BoolVar(&a.Keep, "keep-agents", false, "cluster mode: leave this run's agent pods in place (for bug reports; the cleanup command removes them)")
	c.PreRun = func(c *cobra.Command, _ []string) {
		for _, n := range []string{"image", "image-pull-secret", "agent-namespace", "keep-agents"} {
			if c.Flags().Changed(n) {
				a.given = append(a.given, "--"+n)
			}
		}
	}
}

// validate refuses the agent flags outside cluster mode.
func (a *agentFlags) validate(d cluster.Decision) error {
	if len(a.given) > 0 && d.Mode != cluster.ModeCluster {
		return fmt.Errorf("%s is for cluster mode (agent pods), but this run reads %s; drop it", a.given[0], map[cluster.Mode]string{cluster.ModeLocal: "local state", cluster.ModeNode: "this machine's node"}[d.Mode])
	}
	return nil
}

// clusterRun is one command's session with the cluster: the API, the
// agents, the context Ctrl-C cancels, and done, which removes the run's
// pods however the command ends.
type clusterRun struct {
	*cluster.Session
	agents *cluster.Agents
	ctx    context.Context
	stop   context.CancelFunc
	errOut io.Writer
}

// start opens the session; progress lines go to errOut when it is a
// terminal and the output is for people.
func (a *agentFlags) start(ctx context.Context, kube *kubeFlags, d cluster.Decision, errOut io.Writer, forPeople bool) (*clusterRun, error) {
	cfg, err := kube.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cs, err := cluster.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	image := a.Image
	if image == "" {
		image = cluster.DefaultImage(Version)
	}
	ns := a.Namespace
	if ns == "" {
		ns = d.Namespace
	}
	var progress func(string)
	if forPeople {
		progress = printers.Progress(errOut)
	}
	r := &clusterRun{errOut: errOut}
	r.ctx, r.stop = signalContext(ctx)
	r.agents = cluster.NewAgents(cfg, cs, cluster.AgentOptions{Image: image, PullSecrets: a.PullSecrets, Namespace: ns, Keep: a.Keep, Progress: progress,
		// --request-timeout bounds the wait for the agents too (else 2m).
		Start: cfg.Timeout})
	r.Session = cluster.NewSession(cluster.NewAPI(cs, d.Namespace), r.agents)
	return r, nil
}

// done removes the run's agent pods, with a context of its own: the
// run's may be cancelled (Ctrl-C) by now.
func (r *clusterRun) done() {
	r.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.agents.Close(ctx); err != nil {
		fmt.Fprintf(r.errOut, "warning: %v\n", err)
	}
}

// interrupted turns a cancelled run's error into what happened.
func (r *clusterRun) interrupted(err error) error {
	if err != nil && r.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted: this run's agent pods are being removed")
	}
	return err
}
