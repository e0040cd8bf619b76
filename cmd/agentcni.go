package cmd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/netx-project/netx/agent"
	"github.com/netx-project/netx/cluster"
	"github.com/netx-project/netx/cni"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
)

// cniPaths are the node's CNI directories as the agent pod mounts them.
type cniPaths struct {
	BinDir, ConfDir, DataDir string
}

func (p *cniPaths) addTo(c *cobra.Command) {
	c.Flags().StringVar(&p.BinDir, "bin-dir", "/host/opt/cni/bin", "the node's CNI bin directory, as mounted in the agent pod")
	c.Flags().StringVar(&p.ConfDir, "conf-dir", "/host/etc/cni/net.d", "the node's CNI configuration directory, as mounted")
	c.Flags().StringVar(&p.DataDir, "data-dir", cni.DefaultDataDir, "the plugin's data directory (the same path on the node and in the pod)")
}

// newAgentCNICommand is what setup --cni's agent runs: install (its init
// container), run (its main process) and uninstall (teardown execs it).
func newAgentCNICommand(streams genericiooptions.IOStreams) *cobra.Command {
	c := &cobra.Command{Use: "cni", Short: "netx's CNI on this node: install, keep in step with the cluster, uninstall"}
	c.AddCommand(newAgentCNIInstallCommand(streams), newAgentCNIRunCommand(streams), newAgentCNIUninstallCommand(streams))
	return c
}

// AgentCNIInstallOptions is `agent cni install`.
type AgentCNIInstallOptions struct {
	streams genericiooptions.IOStreams
	cniPaths
	Plugin      string
	Force       bool
	ClusterCIDR string
	NodeConfDir string
	Overlay     string
	HostIP      string
}

func newAgentCNIInstallCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &AgentCNIInstallOptions{streams: streams}
	c := &cobra.Command{
		Use:   "install",
		Short: "Put netx-cni and its network configuration on the node (the agent's init container)",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	o.addTo(c)
	c.Flags().StringVar(&o.Plugin, "plugin", "/bin/netx-cni", "the plugin binary in the image")
	c.Flags().BoolVar(&o.Force, "force", false, "install even where another network's configuration is")
	c.Flags().StringVar(&o.ClusterCIDR, "cluster-cidr", "", "the cluster's pod network: pod traffic leaving it is masqueraded (empty: none)")
	c.Flags().StringVar(&o.NodeConfDir, "node-conf-dir", "", "the configuration directory as the node names it, for messages (default: --conf-dir)")
	c.Flags().StringVar(&o.Overlay, "overlay", "host-gw", "how pods reach other nodes: host-gw, or vxlan (the pods' MTU is then the underlay's less 50)")
	c.Flags().StringVar(&o.HostIP, "host-ip", "", "with --overlay vxlan: the node's address, whose link's MTU the tunnel takes (default: $HOST_IP)")
	return c
}

// Complete takes the node's address from the pod's environment.
func (o *AgentCNIInstallOptions) Complete(*cobra.Command, []string) error {
	if o.HostIP == "" {
		o.HostIP = os.Getenv("HOST_IP")
	}
	return nil
}

const (
	overlayHostGW = "host-gw"
	overlayVXLAN  = "vxlan"
)

func validOverlay(o string) error {
	if o != overlayHostGW && o != overlayVXLAN {
		return fmt.Errorf("--overlay %q: use %s or %s", o, overlayHostGW, overlayVXLAN)
	}
	return nil
}

// Validate checks the cluster CIDR and the overlay; Run says what else
// is missing.
func (o *AgentCNIInstallOptions) Validate() error {
	if err := validOverlay(o.Overlay); err != nil {
		return err
	}
	if o.ClusterCIDR == "" {
		return nil
	}
	if p, err := netip.ParsePrefix(o.ClusterCIDR); err != nil || !p.Addr().Is4() {
		return fmt.Errorf("--cluster-cidr %q: give an IPv4 network like 10.244.0.0/16", o.ClusterCIDR)
	}
	return nil
}

// Run installs; its error is the init container's last words, which setup
// shows.
func (o *AgentCNIInstallOptions) Run(context.Context) error {
	mtu := 0
	if o.Overlay == overlayVXLAN {
		ip, err := netip.ParseAddr(o.HostIP)
		if err != nil {
			return fmt.Errorf("agent cni install --overlay vxlan: the node's address %q: give --host-ip (the pod sets HOST_IP)", o.HostIP)
		}
		_, under, err := cni.Underlay("/proc/self/ns/net", ip)
		if err != nil {
			return err
		}
		mtu = under - cni.VXLANOverhead
	}
	if err := cni.Install(o.Plugin, o.BinDir, o.ConfDir, cni.Conflist(o.DataDir, o.ClusterCIDR, mtu), o.Force); err != nil {
		var conflict *cni.ConflictError
		if errors.As(err, &conflict) && o.NodeConfDir != "" {
			conflict.Dir = o.NodeConfDir
		}
		return err
	}
	fmt.Fprintf(o.streams.Out, "installed %s in %s and %s in %s\n", cni.PluginName, o.BinDir, cni.ConfFile, o.ConfDir)
	return nil
}

// AgentCNIRunOptions is `agent cni run`.
type AgentCNIRunOptions struct {
	streams genericiooptions.IOStreams
	cniPaths
	NodeName string
	Overlay  string
}

func newAgentCNIRunCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &AgentCNIRunOptions{streams: streams}
	c := &cobra.Command{
		Use:   "run",
		Short: "Keep the node's pod CIDR and the routes to the other nodes' pods in step with the API (the agent's main process)",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	o.addTo(c)
	c.Flags().StringVar(&o.NodeName, "node-name", "", "this node's name (default: $NODE_NAME)")
	c.Flags().StringVar(&o.Overlay, "overlay", overlayHostGW, "how pods reach other nodes: host-gw (a route per node via its address) or vxlan (a tunnel, as flannel's vxlan backend)")
	return c
}

// Complete takes the node name from the pod's environment.
func (o *AgentCNIRunOptions) Complete(*cobra.Command, []string) error {
	if o.NodeName == "" {
		o.NodeName = os.Getenv("NODE_NAME")
	}
	return nil
}

// Validate needs the node's name.
func (o *AgentCNIRunOptions) Validate() error {
	if o.NodeName == "" {
		return fmt.Errorf("agent cni run: give --node-name (the agent pod sets NODE_NAME)")
	}
	return validOverlay(o.Overlay)
}

// Run watches the nodes through the pod's service account until the pod
// stops: this node's pod CIDR goes to the plugin's data directory, every
// other node's pod CIDR gets a route via its address.
func (o *AgentCNIRunOptions) Run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return fmt.Errorf("agent cni run: no in-cluster API access (%v): the agent's ServiceAccount token is mounted in setup --cni's DaemonSet", err)
	}
	cs, err := cluster.NewClient(cfg)
	if err != nil {
		return err
	}
	written := netip.Prefix{}
	conf := filepath.Join(o.ConfDir, cni.ConfFile)
	stopped := false
	return cluster.WatchNodes(ctx, cs, func(nodes []cluster.Node) {
		// Once teardown has uninstalled the CNI (its configuration gone
		// first), nothing is put back while this pod is on its way out.
		if _, err := os.Stat(conf); errors.Is(err, os.ErrNotExist) {
			if !stopped {
				fmt.Fprintf(o.streams.Out, "%s is gone: netx's CNI was uninstalled from this node; keeping nothing in step any more\n", conf)
				stopped = true
			}
			return
		}
		var peers []cni.Peer
		var self cni.Peer
		for _, n := range nodes {
			i := slices.IndexFunc(n.PodCIDRs, func(p netip.Prefix) bool { return p.Addr().Is4() })
			if i < 0 {
				continue
			}
			if n.Name == o.NodeName {
				self = cni.Peer{Name: n.Name, PodCIDR: n.PodCIDRs[i], IP: n.InternalIP}
				if n.PodCIDRs[i] != written {
					if err := cni.WritePodCIDR(o.DataDir, n.PodCIDRs[i]); err != nil {
						fmt.Fprintf(o.streams.ErrOut, "pod CIDR %s: %v\n", n.PodCIDRs[i], err)
						continue
					}
					written = n.PodCIDRs[i]
					fmt.Fprintf(o.streams.Out, "this node's pod CIDR: %s\n", written)
				}
				continue
			}
			peers = append(peers, cni.Peer{Name: n.Name, PodCIDR: n.PodCIDRs[i], IP: n.InternalIP})
		}
		var did []string
		var err error
		if o.Overlay == overlayVXLAN {
			if !self.PodCIDR.IsValid() || !self.IP.Is4() {
				return // this node's pod CIDR and address are not known yet
			}
			did, err = cni.SyncVXLAN("/proc/self/ns/net", self, peers)
		} else {
			did, err = cni.SyncRoutes("/proc/self/ns/net", peers)
		}
		for _, d := range did {
			fmt.Fprintln(o.streams.Out, d)
		}
		if err != nil {
			fmt.Fprintln(o.streams.ErrOut, err)
		}
	})
}

// AgentCNIUninstallOptions is `agent cni uninstall`.
type AgentCNIUninstallOptions struct {
	streams genericiooptions.IOStreams
	cniPaths
}

func newAgentCNIUninstallCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &AgentCNIUninstallOptions{streams: streams}
	c := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove netx-cni, its configuration, its data and its host state (bridge, routes) from the node (teardown runs it)",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	o.addTo(c)
	return c
}

// Complete has nothing to fill.
func (o *AgentCNIUninstallOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate has nothing to check.
func (o *AgentCNIUninstallOptions) Validate() error { return nil }

// Run removes; the files first, so that no new pod is attached while the
// bridge goes.
func (o *AgentCNIUninstallOptions) Run(context.Context) error {
	if err := cni.Uninstall(o.BinDir, o.ConfDir, o.DataDir); err != nil {
		return err
	}
	// The node's iptables, run in its root: the agent's image has none.
	n, err := agent.Locate()
	if err != nil {
		return err
	}
	if err := cni.RemoveHostState("/proc/self/ns/net", n.Root, "cni0"); err != nil {
		return err
	}
	fmt.Fprintln(o.streams.Out, "removed netx's CNI from this node")
	return nil
}
