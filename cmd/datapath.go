package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/netx-project/netx/lab"
	"github.com/netx-project/netx/lab/labstate"
	"github.com/netx-project/netx/lab/topologies"
	"github.com/netx-project/netx/printers"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewDatapathCommand groups the lab commands.
func NewDatapathCommand(streams genericiooptions.IOStreams) *cobra.Command {
	c := &cobra.Command{
		Use:   "datapath",
		Short: "Build a Kubernetes pod network on this machine (a lab: nodes, pods, services)",
		Long: `datapath builds the path Kubernetes traffic takes — pod namespaces held by a
pause process, veth pairs, the node bridge (cni0), routes between nodes
(host-gw or VXLAN) and kube-proxy's service NAT (iptables or nftables) — in
network namespaces on this machine, from a topology file.

With no -f it builds the built-in "seeds" topology: the scenarios of the
tutorials netx grew from (pod to pod on one node and across nodes, ClusterIP,
NodePort, hostPort, hostNetwork, two containers talking over localhost).`,
	}
	c.AddCommand(
		newDatapathUpCommand(streams),
		newDatapathDownCommand(streams),
		newDatapathStatusCommand(streams),
		newDatapathExecCommand(streams),
		newDatapathValidateCommand(streams),
		newDatapathServeCommand(),
		newDatapathForwardCommand(),
		newDatapathGetCommand(streams),
	)
	return c
}

func self() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the netx binary: %w", err)
	}
	return p, nil
}

// UpOptions is `datapath up`.
type UpOptions struct {
	streams  genericiooptions.IOStreams
	File     string
	Explain  bool
	Quiet    bool
	topology *lab.Topology
	plan     *lab.Lab
	source   string
}

func newDatapathUpCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &UpOptions{streams: streams}
	c := &cobra.Command{
		Use:   "up [-f TOPOLOGY.yaml]",
		Short: "Build a lab from a topology (idempotent)",
		Example: `  netx datapath up                      # the built-in seeds lab
  netx datapath up -f my-lab.yaml --explain`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	c.Flags().StringVarP(&o.File, "filename", "f", "", "topology file, or a built-in topology: "+strings.Join(topologies.Names(), ", ")+" (default seeds)")
	c.Flags().BoolVar(&o.Explain, "explain", false, "narrate each step as the equivalent ip / iptables command")
	c.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "print nothing but errors")
	return c
}

// Complete reads and validates the topology; nothing is built if it fails.
func (o *UpOptions) Complete() error {
	t, src, err := topologies.Load(o.File)
	if err != nil {
		return err
	}
	plan, err := t.Resolve()
	if err != nil {
		return err
	}
	o.topology, o.plan, o.source = t, plan, src
	return nil
}

// Run builds the lab.
func (o *UpOptions) Run(ctx context.Context) error {
	exe, err := self()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(orBackground(ctx), os.Interrupt, syscall.SIGTERM)
	defer stop()
	uo := lab.UpOptions{Self: exe, Source: o.source}
	if !o.Quiet {
		uo.Progress = o.streams.ErrOut
		printers.LabBuilding(o.streams.ErrOut, printers.LabPlan{Lab: o.plan.Name, Source: o.source, Overlay: o.plan.Overlay, Proxy: o.plan.Proxy,
			Nodes: len(o.plan.Nodes), Pods: len(o.plan.Pods), Services: len(o.plan.Services), Clients: len(o.plan.Clients)})
	}
	if o.Explain {
		uo.Explain = o.streams.Out
	}
	rep, err := lab.Up(ctx, o.plan, uo)
	if err != nil {
		return err
	}
	if o.Quiet {
		return nil
	}
	up := printers.LabUp{Lab: o.plan.Name, Reused: rep.Reused, Resumed: rep.Resumed, Elapsed: rep.Elapsed,
		ExamplePod: o.plan.ExamplePod(), ExampleTarget: o.plan.ExampleTarget()}
	for _, c := range rep.Containers {
		up.Containers = append(up.Containers, printers.ContainerStart{Pod: c.Pod, Container: c.Container, Error: c.Error, Expected: c.Expected})
	}
	printers.LabBuilt(o.streams.ErrOut, up)
	return nil
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

func newDatapathDownCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "down [NAME]",
		Short: "Remove everything a lab made (also after an interrupted up)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var names []string
			switch {
			case all:
				names = labstate.Labs()
			case len(args) == 1:
				if err := labstate.ValidName(args[0]); err != nil {
					return err
				}
				names = args
			default:
				n, err := labstate.ResolveName("")
				var nu *labstate.NotUpError
				if errors.As(err, &nu) {
					printers.LabRemoved(streams.ErrOut, printers.LabDown{})
					return nil
				}
				if err != nil {
					return err
				}
				names = []string{n}
			}
			for _, n := range names {
				rep, err := lab.Down(orBackground(cmd.Context()), n)
				if err != nil {
					return err
				}
				printers.LabRemoved(streams.ErrOut, printers.LabDown{Lab: n, Found: rep.Found, Processes: rep.Processes, Namespaces: rep.Namespaces})
			}
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "remove every lab on this machine")
	return c
}

func newDatapathStatusCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var name, output string
	c := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show a lab: nodes, pods, services and clients, with namespace paths",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				name = args[0]
			}
			if err := printers.CheckFormat(output, "text", "json", "yaml"); err != nil {
				return err
			}
			n, err := labstate.ResolveName(name)
			if err != nil {
				return err
			}
			s, err := labstate.Get(n)
			if err != nil {
				return err
			}
			if output != "text" {
				return printers.Write(streams.Out, output, s)
			}
			printers.LabStatus(streams.Out, s)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name (default: the only lab that is up)")
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json or yaml")
	return c
}

func newDatapathExecCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var name, container string
	c := &cobra.Command{
		Use:   "exec POD [-c CONTAINER] -- COMMAND [ARGS...]",
		Short: "Run a command inside a pod's namespaces (like kubectl exec)",
		Example: `  netx datapath exec pod-a -- netx datapath get 10.96.0.10:80
  netx datapath exec mc3 -c nginx -- netx datapath get 127.0.0.1:5000
  netx datapath exec pod-a -- ip addr      # any program installed on this machine`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 {
				return errors.New("put the command after --, e.g. netx datapath exec pod-a -- hostname")
			}
			n, err := labstate.ResolveName(name)
			if err != nil {
				return err
			}
			exe, err := self()
			if err != nil {
				return err
			}
			code, err := lab.Exec(lab.ExecOptions{Lab: n, Pod: args[0], Container: container, Argv: args[1:],
				Self: exe, Stdin: streams.In, Stdout: streams.Out, Stderr: streams.ErrOut})
			if err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "lab name (default: the only lab that is up)")
	c.Flags().StringVarP(&container, "container", "c", "", "container to run as (all containers of a pod share its namespaces)")
	return c
}

func newDatapathValidateCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var file, output string
	c := &cobra.Command{
		Use:   "validate [-f TOPOLOGY.yaml] [-o yaml|json]",
		Short: "Check a topology and print the plan (addresses, endpoints) without building anything",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := printers.CheckFormat(output, "yaml", "json"); err != nil {
				return err
			}
			t, _, err := topologies.Load(file)
			if err != nil {
				return err
			}
			plan, err := t.Resolve()
			if err != nil {
				return err
			}
			return printers.Write(streams.Out, output, plan)
		},
	}
	c.Flags().StringVarP(&file, "filename", "f", "", "topology file or built-in name")
	c.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	return c
}

// Hidden commands: the lab's pause and built-in "images".

type workloadFlags struct {
	labName, pod, container string
}

func (w *workloadFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&w.labName, "lab", "", "lab this process belongs to")
	c.Flags().StringVar(&w.pod, "pod", "", "pod this process belongs to")
	c.Flags().StringVar(&w.container, "container", "", "container name")
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// runPause is `datapath pause` without cobra (see Main).
func runPause(args []string, streams genericiooptions.IOStreams) int {
	fs := pflag.NewFlagSet("pause", pflag.ContinueOnError)
	var w workloadFlags
	var hostname string
	fs.StringVar(&w.labName, "lab", "", "")
	fs.StringVar(&w.pod, "pod", "", "")
	fs.StringVar(&w.container, "container", "", "")
	fs.StringVar(&hostname, "hostname", "", "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return 2
	}
	ctx, stop := signalContext()
	defer stop()
	if err := lab.Pause(ctx, hostname); err != nil {
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return 1
	}
	return 0
}

// startedOn reports readiness to whoever started the process (up, on fd 3)
// and, once listening, says so in the log: a container's first line.
func startedOn(cmd *cobra.Command, what, listen string) func(error) {
	return func(err error) {
		lab.Report(err)
		if err == nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s %s\n", what, listen)
		}
	}
}

func newDatapathServeCommand() *cobra.Command {
	var w workloadFlags
	var listen string
	c := &cobra.Command{
		Use:    "serve --listen [IP]:PORT",
		Short:  "Answer TCP/HTTP with who answered (the lab's web server)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			id := lab.IdentityFromEnv()
			return lab.RunServe(ctx, listen, id, startedOn(cmd, "serving", listen))
		},
	}
	w.add(c)
	c.Flags().StringVar(&listen, "listen", ":8080", "address to listen on")
	return c
}

func newDatapathForwardCommand() *cobra.Command {
	var w workloadFlags
	var listen, to, toNetns string
	c := &cobra.Command{
		Use:   "forward --listen [IP]:PORT --to IP:PORT [--to-netns PATH]",
		Short: "Relay TCP connections: the lab's nginx in front of a webapp, or a lab address served on the host (--to-netns)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			logf := func(format string, args ...any) { fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...) }
			var dial lab.Dialer
			if toNetns != "" {
				dial = func(a string) (net.Conn, error) { return lab.DialIn(toNetns, a) }
			}
			return lab.RunForward(ctx, listen, to, dial, startedOn(cmd, "forwarding "+to+" on", listen), logf)
		},
	}
	w.add(c)
	c.Flags().StringVar(&listen, "listen", ":80", "address to listen on")
	c.Flags().StringVar(&to, "to", "127.0.0.1:5000", "address to relay to")
	c.Flags().StringVar(&toNetns, "to-netns", "", "reach --to from inside this network namespace (e.g. /run/netns/netx.seeds.node1), so a lab address is served on the host")
	return c
}

func newDatapathGetCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var count int
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "get IP:PORT",
		Short: "Connect to IP:PORT, send an HTTP GET and print the reply (a client for the lab)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			for i := 0; i < count; i++ {
				body, err := lab.Get(orBackground(cmd.Context()), args[0], timeout)
				if err != nil {
					fmt.Fprintf(streams.ErrOut, "get %s: %v\n", args[0], err)
					failed++
					continue
				}
				fmt.Fprint(streams.Out, body)
			}
			if failed > 0 {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	c.Flags().IntVarP(&count, "count", "n", 1, "number of requests, each on a new connection")
	c.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "connect and read timeout")
	return c
}
