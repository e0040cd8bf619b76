package cmd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"time"

	"github.com/netx-project/netx/cluster"
	"github.com/netx-project/netx/printers"
	"github.com/netx-project/netx/trace"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
)

// TraceOptions is `netx trace`.
type TraceOptions struct {
	streams   genericiooptions.IOStreams
	kube      *kubeFlags
	Output    string
	Port      uint16
	Protocol  string
	Endpoint  string
	Node      string
	ClientIP  string
	Lab       string
	Snapshots []string
	HostNetns string
	CRI       string
	Rules     bool
	Color     string
	Live      bool
	Pcap      string
	Timeout   time.Duration
	Agent     agentFlags

	req     trace.Request
	root    bool
	mode    cluster.Decision
	modeErr error
}

// NewTraceCommand traces the path between two ends.
func NewTraceCommand(streams genericiooptions.IOStreams, kube *kubeFlags) *cobra.Command {
	o := &TraceOptions{streams: streams, kube: kube}
	c := &cobra.Command{
		Use:   "trace SRC DST",
		Short: "Follow a packet from SRC to DST hop by hop: routes, veths, bridges, netfilter, NAT, overlay",
		Long: `trace says which way a packet goes from SRC to DST through the node's (and the
next node's) datapath, what rewrites it, and where and why it stops — predicted
from the nodes' real state (routes, links, kube-proxy's iptables or nftables
rules), read-only. Then it walks the reply back.

SRC and DST: a pod (pod-a, ns/pod-a, pod/pod-a), a service (svc/svc-b; a bare
name is a pod, else a service), IP[:PORT], node/NAME[:PORT] (NodePort,
hostPort), internet (SRC only: an outside client arriving at a node) and
localhost:PORT (DST only: inside the source pod).

Where the state comes from (the mode), the first that applies:
  1. --lab NAME, --snapshot FILE or --host-netns PATH: that local state —
     a netx lab, saved snapshots (one per node, no root needed), or a
     namespace of this machine as the node. Give one of them.
  2. a usable kubeconfig (--kubeconfig, else KUBECONFIG, else
     ~/.kube/config; its context's cluster has a server): cluster mode,
     through the API, names in the context's namespace or -n. netx finds
     both ends in the API and reads the nodes the path crosses through an
     agent pod on each (the setup command's DaemonSet when installed, else
     a pod made for this run and deleted after it; --image, --agent-namespace).
  3. this machine's node (root), as on a node with no kubeconfig.
A local flag together with a kubectl flag (--context, -n, --kubeconfig, ...)
is ambiguous and refused.

With a usable kubeconfig, the shell completes SRC and DST from the API:
pods, svc/NAME, node/NAME (and internet for SRC).`,
		Annotations:       map[string]string{usesKubeconfig: "true"},
		ValidArgsFunction: o.completeEnds,
		Example: `  netx trace pod-a svc/svc-b --lab seeds             # ClusterIP: which endpoint, with what probability
  netx trace pod-a b-2:8080 --lab seeds              # across nodes
  netx trace mc3 localhost:5000 --lab seeds          # container to container
  netx trace internet node/node2:30080 --lab seeds   # NodePort from outside
  netx trace pod-a svc/svc-b --snapshot node1.json.gz --snapshot node2.json.gz -o json`,
		Args: cobra.ExactArgs(2),
		RunE: runE(o),
	}
	c.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text, json, yaml, mermaid or dot")
	c.Flags().Uint16Var(&o.Port, "port", 0, "destination port when DST has none (default: the service's first port, the pod's first listening port)")
	c.Flags().StringVar(&o.Protocol, "protocol", "tcp", "tcp, udp, icmp or sctp")
	c.Flags().StringVar(&o.Endpoint, "endpoint", "", "the service endpoint IP to follow (default: the most likely)")
	c.Flags().StringVar(&o.Node, "node", "", "the node an internet client arrives at (default: the node owning DST)")
	c.Flags().StringVar(&o.ClientIP, "client-ip", "", "an internet client's address, as source matches (loadBalancerSourceRanges) see it (default: the lab's client, else 203.0.113.10)")
	c.Flags().StringVar(&o.Lab, "lab", "", "trace a netx datapath lab (its nodes, pods and services)")
	c.Flags().StringArrayVar(&o.Snapshots, "snapshot", nil, "a node's saved snapshot (netx snapshot -o FILE); repeat, one per node")
	c.Flags().StringVar(&o.HostNetns, "host-netns", "", "namespace to treat as the node (default: the host)")
	c.Flags().StringVar(&o.CRI, "cri-endpoint", "", "container runtime socket (default: containerd's or CRI-O's if present)")
	c.Flags().BoolVar(&o.Rules, "rules", false, "show every rule a netfilter hop matched, not only the deciding ones")
	c.Flags().StringVar(&o.Color, "color", "auto", "colour the text output: auto, always or never")
	c.Flags().BoolVar(&o.Live, "live", false, "then send a real probe and check every hop with packet captures and the kernel's netfilter trace")
	c.Flags().StringVar(&o.Pcap, "pcap", "", "with --live: write every capture to this pcapng file (an interface per hop)")
	c.Flags().DurationVar(&o.Timeout, "timeout", 2*time.Second, "with --live: how long to wait for the probe's answer")
	o.Agent.addTo(c)
	return c
}

// localFlags are the local-state flags given on c's command line.
func localFlags(c *cobra.Command) []string {
	var out []string
	for _, n := range []string{"lab", "snapshot", "host-netns"} {
		if c.Flags().Changed(n) {
			out = append(out, "--"+n)
		}
	}
	return out
}

// completeEnds completes SRC and DST from the API when the mode rule
// picks the cluster; otherwise, or when the API does not answer, nothing.
func (o *TraceOptions) completeEnds(c *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []string
	if len(args) < 2 {
		o.kube.withClient(c, localFlags(c), func(ctx context.Context, cl kubernetes.Interface, d cluster.Decision) {
			out = cluster.Ends(ctx, cl, d.Namespace, prefix, len(args) == 0)
		})
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// Complete builds the request from the arguments and flags, decides the
// mode, and notes whether netx runs as root.
func (o *TraceOptions) Complete(c *cobra.Command, args []string) error {
	o.mode, o.modeErr = cluster.Decide(o.kube.modeInput(c, localFlags(c)))
	o.req = trace.Request{Src: args[0], Dst: args[1], Port: o.Port, Protocol: o.Protocol, Node: o.Node}
	if a, err := netip.ParseAddr(o.Endpoint); err == nil {
		o.req.Endpoint = a
	}
	if a, err := netip.ParseAddr(o.ClientIP); err == nil {
		o.req.ClientIP = a
	}
	if o.Live {
		// A source port of its own, so the captures and the kernel's trace
		// pick out this probe.
		o.req.SPort = liveSourcePort()
	}
	o.root = os.Geteuid() == 0
	return nil
}

// Validate checks each flag, that one source of state is named, and that
// a live node is read as root.
func (o *TraceOptions) Validate() error {
	if err := printers.CheckFormat(o.Output, "text", "json", "yaml", "mermaid", "dot"); err != nil {
		return err
	}
	switch o.Protocol {
	case "tcp", "udp", "icmp", "sctp":
	default:
		return fmt.Errorf("--protocol %q: use tcp, udp, icmp or sctp", o.Protocol)
	}
	if !printers.ColorMode(o.Color).Valid() {
		return fmt.Errorf("--color %q: use auto, always or never", o.Color)
	}
	if o.modeErr != nil {
		return o.modeErr
	}
	if o.Pcap != "" && !o.Live {
		return fmt.Errorf("--pcap writes the live probe's captures: add --live")
	}
	if o.Endpoint != "" && !o.req.Endpoint.IsValid() {
		return fmt.Errorf("--endpoint %q: give the endpoint's IP address", o.Endpoint)
	}
	if o.ClientIP != "" && (!o.req.ClientIP.IsValid() || !o.req.ClientIP.Is4()) {
		return fmt.Errorf("--client-ip %q: give the internet client's IPv4 address", o.ClientIP)
	}
	if err := o.Agent.validate(o.mode); err != nil {
		return err
	}
	switch {
	case o.mode.Mode == cluster.ModeCluster:
		if o.Live && o.req.Src == "internet" {
			return fmt.Errorf("--live from internet: the probe would have to come from outside the cluster, where netx is not; trace it without --live, or --live from a pod or node/NAME")
		}
	case len(o.Snapshots) > 0 || o.root:
	default:
		return fmt.Errorf("trace reads the node's namespaces and rules and needs root; run it with sudo, or trace a saved state with --snapshot FILE")
	}
	return nil
}

// Run loads the state, traces and prints.
func (o *TraceOptions) Run(ctx context.Context) error {
	var res *trace.Result
	if o.mode.Mode == cluster.ModeCluster {
		run, err := o.Agent.start(ctx, o.kube, o.mode, o.streams.ErrOut, o.Output == "text")
		if err != nil {
			return err
		}
		defer run.done()
		if o.Live {
			res, err = o.live(run.ctx, func(ctx context.Context, lo trace.LiveOptions) (*trace.Result, error) {
				res, _, err := run.Live(ctx, o.req, lo)
				return res, err
			})
		} else {
			res, _, err = run.Trace(run.ctx, o.req)
		}
		if err != nil {
			if o.Live && run.ctx.Err() != nil {
				return fmt.Errorf("interrupted: the agents removed the probe's trace rules and captures; this run's agent pods are being removed")
			}
			return run.interrupted(err)
		}
		return o.print(res)
	}
	w, err := o.world()
	if err != nil {
		return err
	}
	if o.Live {
		res, err = o.live(ctx, func(ctx context.Context, lo trace.LiveOptions) (*trace.Result, error) {
			res, _, err := w.Live(ctx, o.req, lo)
			return res, err
		})
		if err != nil {
			return err
		}
	} else {
		if res, err = w.Trace(o.req); err != nil {
			return err
		}
		// On a live node, the flow's existing connections are evidence
		// too (which endpoint they went to).
		w.AddConntrack(res)
	}
	return o.print(res)
}

// print writes the result in the chosen format.
func (o *TraceOptions) print(res *trace.Result) error {
	switch o.Output {
	case "mermaid":
		printers.TraceMermaid(o.streams.Out, res)
	case "dot":
		printers.TraceDot(o.streams.Out, res)
	case "text":
		printers.Trace(o.streams.Out, res, printers.TraceOptions{Color: printers.ColorMode(o.Color).Enabled(o.streams.Out), Rules: o.Rules})
	default:
		return printers.Write(o.streams.Out, o.Output, res)
	}
	return nil
}

// live runs the prediction and the probe (on this machine, or through the
// cluster's agents), cleaning up on Ctrl-C.
func (o *TraceOptions) live(ctx context.Context, probe func(context.Context, trace.LiveOptions) (*trace.Result, error)) (*trace.Result, error) {
	ctx, stop := signalContext(ctx)
	defer stop()
	lo := trace.LiveOptions{Timeout: o.Timeout}
	var f *os.File
	if o.Pcap != "" {
		var err error
		if f, err = os.Create(o.Pcap); err != nil {
			return nil, fmt.Errorf("--pcap: %w", err)
		}
		defer f.Close()
		lo.Pcap = f
	}
	res, err := probe(ctx, lo)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted: the probe's trace rules and captures were removed")
		}
		return nil, err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("--pcap: %w", err)
		}
		printers.CapturesWritten(o.streams.ErrOut, o.Pcap)
	}
	return res, nil
}

// world loads the nodes to trace over from the chosen source of state.
func (o *TraceOptions) world() (*trace.World, error) {
	switch {
	case len(o.Snapshots) > 0:
		return trace.LoadSnapshots(o.Snapshots)
	case o.Lab != "":
		return trace.LoadLab(o.Lab, o.CRI, true)
	}
	return trace.LoadNode(o.HostNetns, o.CRI, true)
}

// liveSourcePort is a live probe's source port, its own so that the
// captures and the kernel's trace pick out this probe.
func liveSourcePort() uint16 { return uint16(20000 + rand.IntN(30000)) }
