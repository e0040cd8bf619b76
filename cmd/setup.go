package cmd

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/netx-project/netx/cluster"
	"github.com/netx-project/netx/printers"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// SetupOptions is `kubectl netx setup`.
type SetupOptions struct {
	streams     genericiooptions.IOStreams
	kube        *kubeFlags
	Image       string
	PullSecrets []string
	DryRun      string
	Output      string
	Timeout     time.Duration
	CNI         bool
	CNIBinDir   string
	CNIConfDir  string
	Force       bool
	ClusterCIDR string
	Overlay     string
	mode        cluster.Decision
	modeErr     error
}

// NewSetupCommand installs the node agent in a cluster.
func NewSetupCommand(streams genericiooptions.IOStreams, kube *kubeFlags) *cobra.Command {
	o := &SetupOptions{streams: streams, kube: kube}
	c := &cobra.Command{
		Use:   "setup",
		Short: "Install the netx node agent in the cluster (a DaemonSet), for fast traces",
		Long: `setup installs netx's node agent: the namespace ` + cluster.SetupNamespace + ` (Pod Security
"privileged": the agent shares each node's network and PID namespaces), a
ServiceAccount with no token and no role, the DaemonSet ` + cluster.AgentName + ` (one pod per
node, every taint tolerated, only the capabilities it uses, no listening port:
clients reach it by pods/exec) and the ClusterRole ` + cluster.UserRole + ` for the people
who run traces (bind it to them). Objects are applied server-side (field
manager ` + cluster.FieldManager + `); setup waits until an agent is ready on every node.
Run it again to change nothing, or to move to another image. With the agents
there, trace, inspect, snapshot and tui make no pod per run. teardown removes
it all. You need rights to create namespaces, DaemonSets and ClusterRoles
(cluster-admin, in a lab cluster).

With --cni (lab clusters), the agents also make netx's datapath the cluster's
pod network: an init container installs netx-cni into the node's CNI bin
directory and 05-netx.conflist into its configuration directory (refusing a
node that has another network's configuration, naming it, unless --force),
and the agent keeps the node's pod CIDR (from the Node object) and a route to
every other node's pod CIDR via its address (host-gw), through a
ServiceAccount bound to a ClusterRole that reads nodes. teardown first has
each agent remove all of it from its node.`,
		Example: `  netx setup
  netx setup --cni                        # and netx's CNI plugin as the cluster's pod network
  netx setup --dry-run=client -o yaml     # every object, nothing sent
  netx setup --image registry.example/netx:v0.3.0 --image-pull-secret regcred`,
		Annotations: map[string]string{usesKubeconfig: "true"},
		Args:        cobra.NoArgs,
		RunE:        runE(o),
	}
	c.Flags().StringVar(&o.Image, "image", "", "the agent image (default "+cluster.DefaultImageRepo+":VERSION, this binary's version)")
	c.Flags().StringArrayVar(&o.PullSecrets, "image-pull-secret", nil, "an image pull secret in "+cluster.SetupNamespace+" for the agent image (repeatable)")
	c.Flags().StringVar(&o.DryRun, "dry-run", "none", "none; client (print the objects, send nothing: with -o); server (the API server checks, nothing persists)")
	c.Flags().Lookup("dry-run").NoOptDefVal = "client"
	c.Flags().StringVarP(&o.Output, "output", "o", "", "with --dry-run=client: yaml or json")
	c.Flags().DurationVar(&o.Timeout, "timeout", 3*time.Minute, "how long to wait for an agent to be ready on every node")
	c.Flags().BoolVar(&o.CNI, "cni", false, "also install netx's CNI plugin as the cluster's pod network (lab clusters)")
	c.Flags().StringVar(&o.CNIBinDir, "cni-bin-dir", "/opt/cni/bin", "with --cni: the nodes' CNI bin directory")
	c.Flags().StringVar(&o.CNIConfDir, "cni-conf-dir", "/etc/cni/net.d", "with --cni: the nodes' CNI configuration directory")
	c.Flags().BoolVar(&o.Force, "force", false, "with --cni: install where a node already has another network's configuration")
	c.Flags().StringVar(&o.Overlay, "cni-overlay", "host-gw", "with --cni: how pods reach other nodes: host-gw (a route per node; the nodes share a link) or vxlan (a tunnel, as flannel's vxlan backend)")
	c.Flags().StringVar(&o.ClusterCIDR, "cluster-cidr", "", "with --cni: the cluster's pod network, whose leaving traffic is masqueraded (default: read from kube-system's kube-proxy or kubeadm-config ConfigMap)")
	return c
}

// Complete decides the mode.
func (o *SetupOptions) Complete(c *cobra.Command, _ []string) error {
	o.mode, o.modeErr = cluster.Decide(o.kube.modeInput(c, nil))
	if o.Image == "" {
		o.Image = cluster.DefaultImage(Version)
	}
	return nil
}

// Validate checks the flags; a client dry run needs no cluster.
func (o *SetupOptions) Validate() error {
	if err := o.cniFlags(); err != nil {
		return err
	}
	switch o.DryRun {
	case "none", "server":
		if o.Output != "" {
			return fmt.Errorf("-o %s prints the objects of --dry-run=client; drop -o, or add --dry-run=client", o.Output)
		}
	case "client":
		if o.Output != "yaml" && o.Output != "json" {
			return fmt.Errorf("--dry-run=client prints the objects: add -o yaml or -o json")
		}
		return nil
	default:
		return fmt.Errorf("--dry-run %q: use none, client or server", o.DryRun)
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout %v: give a positive duration", o.Timeout)
	}
	return clusterOnly("setup", o.mode, o.modeErr)
}

// cniFlags checks the CNI flags (also for a client dry run).
func (o *SetupOptions) cniFlags() error {
	if !o.CNI && (o.Force || o.CNIBinDir != "/opt/cni/bin" || o.CNIConfDir != "/etc/cni/net.d" || o.ClusterCIDR != "" || o.Overlay != "host-gw") {
		return fmt.Errorf("--force, --cni-bin-dir, --cni-conf-dir, --cni-overlay and --cluster-cidr are for --cni: add it, or drop them")
	}
	if o.Overlay != "host-gw" && o.Overlay != "vxlan" {
		return fmt.Errorf("--cni-overlay %q: use host-gw or vxlan", o.Overlay)
	}
	if o.ClusterCIDR != "" {
		if p, err := netip.ParsePrefix(o.ClusterCIDR); err != nil || !p.Addr().Is4() || p != p.Masked() {
			return fmt.Errorf("--cluster-cidr %q: give the cluster's IPv4 pod network like 10.244.0.0/16", o.ClusterCIDR)
		}
	} else if o.CNI && o.DryRun == "client" {
		return fmt.Errorf("--dry-run=client --cni reads no cluster, so it cannot find the pod network: add --cluster-cidr")
	}
	for _, d := range []string{o.CNIBinDir, o.CNIConfDir} {
		if !strings.HasPrefix(d, "/") {
			return fmt.Errorf("%q: give the node's directory as an absolute path", d)
		}
	}
	return nil
}

// Run applies the objects and waits for the agents.
func (o *SetupOptions) Run(ctx context.Context) error {
	so := cluster.SetupOptions{Image: o.Image, PullSecrets: o.PullSecrets}
	if o.CNI {
		so.CNI = &cluster.CNISetup{BinDir: o.CNIBinDir, ConfDir: o.CNIConfDir, Force: o.Force, Overlay: o.Overlay}
		if o.ClusterCIDR != "" {
			so.CNI.ClusterCIDR = netip.MustParsePrefix(o.ClusterCIDR)
		}
	}
	if o.DryRun == "client" {
		return printers.Objects(o.streams.Out, cluster.SetupObjects(so), o.Output)
	}
	cs, err := o.kube.clientset()
	if err != nil {
		return err
	}
	ctx, stop := signalContext(ctx)
	defer stop()
	if so.CNI != nil {
		if !so.CNI.ClusterCIDR.IsValid() {
			cidr, from, err := cluster.ClusterCIDR(ctx, cs)
			if err != nil {
				return err
			}
			so.CNI.ClusterCIDR = cidr
			fmt.Fprintf(o.streams.ErrOut, "the cluster's pod network: %s (from %s)\n", cidr, from)
		}
		if err := cluster.CheckPodCIDRs(ctx, cs, so.CNI.ClusterCIDR); err != nil {
			return err
		}
	}
	objs := cluster.SetupObjects(so)
	applied, err := cluster.Apply(ctx, cs, objs, cluster.ApplyOptions{DryRun: o.DryRun == "server"})
	var lines []string
	changed := false
	for _, a := range applied {
		lines = append(lines, a.String())
		changed = changed || a.Action != "unchanged"
	}
	printers.Applied(o.streams.Out, lines, o.DryRun == "server")
	if err != nil {
		return interruptedSetup(ctx, err)
	}
	if o.DryRun == "server" {
		return nil
	}
	t0 := time.Now()
	if err := cluster.WaitAgents(ctx, cs, o.Timeout, printers.Progress(o.streams.ErrOut)); err != nil {
		return interruptedSetup(ctx, err)
	}
	if so.CNI != nil {
		// The runtimes load the configuration the agents installed; the
		// nodes turn Ready once their network is.
		if err := cluster.WaitNodesReady(ctx, cs, o.Timeout-time.Since(t0), printers.Progress(o.streams.ErrOut)); err != nil {
			return interruptedSetup(ctx, err)
		}
	}
	printers.SetupDone(o.streams.Out, changed, cluster.UserRole, so.CNI != nil)
	return nil
}

// interruptedSetup says what Ctrl-C left: objects teardown removes.
func interruptedSetup(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: what setup applied so far stays; kubectl netx teardown removes it")
	}
	return err
}

// clusterOnly refuses a cluster command where there is no cluster.
func clusterOnly(what string, d cluster.Decision, err error) error {
	if err != nil {
		return err
	}
	if d.Mode != cluster.ModeCluster {
		return fmt.Errorf("%s works on a cluster, and no usable kubeconfig is here: give --kubeconfig FILE or --context NAME", what)
	}
	return nil
}

// clientset is the API client of the kubeconfig flags.
func (k *kubeFlags) clientset() (kubernetes.Interface, error) {
	_, cs, err := k.client()
	return cs, err
}

// client is the kubeconfig flags' REST configuration (for exec) and API
// client.
func (k *kubeFlags) client() (*rest.Config, kubernetes.Interface, error) {
	cfg, err := k.ToRESTConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cs, err := cluster.NewClient(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, cs, nil
}

// TeardownOptions is `kubectl netx teardown`.
type TeardownOptions struct {
	streams genericiooptions.IOStreams
	kube    *kubeFlags
	Timeout time.Duration
	Force   bool
	mode    cluster.Decision
	modeErr error
}

// NewTeardownCommand removes what setup installed.
func NewTeardownCommand(streams genericiooptions.IOStreams, kube *kubeFlags) *cobra.Command {
	o := &TeardownOptions{streams: streams, kube: kube}
	c := &cobra.Command{
		Use:   "teardown",
		Short: "Remove everything setup installed",
		Long: `teardown deletes what setup made — the namespace ` + cluster.SetupNamespace + ` (with the agent
DaemonSet and its pods) and the cluster-scoped objects labelled ` + cluster.LabelSetup + `
(the ClusterRoles and the binding) — and waits until they are gone. After
setup --cni it first has each node's agent remove netx's CNI from its node:
the configuration, the binary, the plugin's data, the bridge and the routes;
a node without a running agent stops it (naming the node) unless --force.
Run where nothing is installed, it says so and exits 0.`,
		Example:     `  netx teardown`,
		Annotations: map[string]string{usesKubeconfig: "true"},
		Args:        cobra.NoArgs,
		RunE:        runE(o),
	}
	c.Flags().DurationVar(&o.Timeout, "timeout", 3*time.Minute, "how long to wait for the objects to go")
	c.Flags().BoolVar(&o.Force, "force", false, "remove the objects even where a node's agent could not remove netx's CNI from it")
	return c
}

// Complete decides the mode.
func (o *TeardownOptions) Complete(c *cobra.Command, _ []string) error {
	o.mode, o.modeErr = cluster.Decide(o.kube.modeInput(c, nil))
	return nil
}

// Validate needs a cluster.
func (o *TeardownOptions) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout %v: give a positive duration", o.Timeout)
	}
	return clusterOnly("teardown", o.mode, o.modeErr)
}

// Run removes and says what.
func (o *TeardownOptions) Run(ctx context.Context) error {
	cfg, cs, err := o.kube.client()
	if err != nil {
		return err
	}
	ctx, stop := signalContext(ctx)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	removed, err := cluster.Teardown(ctx, cs, cfg, cluster.TeardownOptions{Force: o.Force, Progress: printers.Progress(o.streams.ErrOut)})
	printers.Removed(o.streams.Out, removed)
	return err
}
