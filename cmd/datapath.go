package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/netx-project/netx/lab"
	"github.com/netx-project/netx/lab/labstate"
	"github.com/netx-project/netx/lab/topologies"
	"github.com/netx-project/netx/printers"
	"github.com/spf13/cobra"
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
		newDatapathServeCommand(streams),
		newDatapathForwardCommand(streams),
		newDatapathGetCommand(streams),
	)
	return c
}

// self is this binary, which the lab runs again as its pause processes
// and built-in containers.
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
		RunE: runE(o),
	}
	c.Flags().StringVarP(&o.File, "filename", "f", "", "topology file, or a built-in topology: "+strings.Join(topologies.Names(), ", ")+" (default seeds)")
	c.Flags().BoolVar(&o.Explain, "explain", false, "narrate each step as the equivalent ip / iptables command")
	c.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "print nothing but errors")
	return c
}

// Complete reads the topology -f names.
func (o *UpOptions) Complete(*cobra.Command, []string) error {
	t, src, err := topologies.Load(o.File)
	if err != nil {
		return err
	}
	o.topology, o.source = t, src
	return nil
}

// Validate resolves the topology into the plan, which checks all of it:
// nothing is built if it fails.
func (o *UpOptions) Validate() error {
	plan, err := o.topology.Resolve()
	if err != nil {
		return err
	}
	o.plan = plan
	return nil
}

// Run builds the lab, stopping cleanly on Ctrl-C.
func (o *UpOptions) Run(ctx context.Context) error {
	exe, err := self()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
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

// DownOptions is `datapath down`.
type DownOptions struct {
	streams genericiooptions.IOStreams
	All     bool
	Name    string
}

func newDatapathDownCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &DownOptions{streams: streams}
	c := &cobra.Command{
		Use:   "down [NAME]",
		Short: "Remove everything a lab made (also after an interrupted up)",
		Args:  cobra.MaximumNArgs(1),
		RunE:  runE(o),
	}
	c.Flags().BoolVar(&o.All, "all", false, "remove every lab on this machine")
	return c
}

// Complete takes the lab's name, if given.
func (o *DownOptions) Complete(_ *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.Name = args[0]
	}
	return nil
}

// Validate checks the name could be a lab's (--all ignores it).
func (o *DownOptions) Validate() error {
	if o.All || o.Name == "" {
		return nil
	}
	return labstate.ValidName(o.Name)
}

// Run removes the lab named, every lab (--all), or the only one up.
func (o *DownOptions) Run(ctx context.Context) error {
	names := []string{o.Name}
	switch {
	case o.All:
		names = labstate.Labs()
	case o.Name == "":
		n, err := labstate.ResolveName("")
		var nu *labstate.NotUpError
		if errors.As(err, &nu) {
			printers.LabRemoved(o.streams.ErrOut, printers.LabDown{})
			return nil
		}
		if err != nil {
			return err
		}
		names = []string{n}
	}
	for _, n := range names {
		rep, err := lab.Down(ctx, n)
		if err != nil {
			return err
		}
		printers.LabRemoved(o.streams.ErrOut, printers.LabDown{Lab: n, Found: rep.Found, Processes: rep.Processes, Namespaces: rep.Namespaces})
	}
	return nil
}

// StatusOptions is `datapath status`.
type StatusOptions struct {
	streams genericiooptions.IOStreams
	Name    string
	Output  string
}

func newDatapathStatusCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &StatusOptions{streams: streams}
	c := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show a lab: nodes, pods, services and clients, with namespace paths",
		Args:  cobra.MaximumNArgs(1),
		RunE:  runE(o),
	}
	c.Flags().StringVar(&o.Name, "name", "", "lab name (default: the only lab that is up)")
	c.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text, json or yaml")
	return c
}

// Complete takes the lab's name from the argument, which wins over --name.
func (o *StatusOptions) Complete(_ *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.Name = args[0]
	}
	return nil
}

// Validate checks --output.
func (o *StatusOptions) Validate() error {
	return printers.CheckFormat(o.Output, "text", "json", "yaml")
}

// Run reads the lab's state and prints it.
func (o *StatusOptions) Run(context.Context) error {
	n, err := labstate.ResolveName(o.Name)
	if err != nil {
		return err
	}
	s, err := labstate.Get(n)
	if err != nil {
		return err
	}
	if o.Output != "text" {
		return printers.Write(o.streams.Out, o.Output, s)
	}
	printers.LabStatus(o.streams.Out, s)
	return nil
}

// ExecOptions is `datapath exec`.
type ExecOptions struct {
	streams   genericiooptions.IOStreams
	Name      string
	Container string
	Pod       string
	Argv      []string
	// dash is where -- was among the arguments (-1: nowhere).
	dash int
}

func newDatapathExecCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &ExecOptions{streams: streams}
	c := &cobra.Command{
		Use:   "exec POD [-c CONTAINER] -- COMMAND [ARGS...]",
		Short: "Run a command inside a pod's namespaces (like kubectl exec)",
		Example: `  netx datapath exec pod-a -- netx datapath get 10.96.0.10:80
  netx datapath exec mc3 -c nginx -- netx datapath get 127.0.0.1:5000
  netx datapath exec pod-a -- ip addr      # any program installed on this machine`,
		Args: cobra.MinimumNArgs(1),
		RunE: runE(o),
	}
	c.Flags().StringVar(&o.Name, "name", "", "lab name (default: the only lab that is up)")
	c.Flags().StringVarP(&o.Container, "container", "c", "", "container to run as (all containers of a pod share its namespaces)")
	return c
}

// Complete takes the pod and the command after --.
func (o *ExecOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Pod, o.Argv, o.dash = args[0], args[1:], cmd.ArgsLenAtDash()
	return nil
}

// Validate checks the command comes after -- and the pod alone before it,
// so flags meant for the command are not taken as exec's.
func (o *ExecOptions) Validate() error {
	if o.dash != 1 {
		return errors.New("put the command after --, e.g. netx datapath exec pod-a -- hostname")
	}
	return nil
}

// Run runs the command in the pod and exits with its status.
func (o *ExecOptions) Run(context.Context) error {
	n, err := labstate.ResolveName(o.Name)
	if err != nil {
		return err
	}
	exe, err := self()
	if err != nil {
		return err
	}
	code, err := lab.Exec(lab.ExecOptions{Lab: n, Pod: o.Pod, Container: o.Container, Argv: o.Argv,
		Self: exe, Stdin: o.streams.In, Stdout: o.streams.Out, Stderr: o.streams.ErrOut})
	if err != nil {
		return err
	}
	if code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

// ValidateOptions is `datapath validate`.
type ValidateOptions struct {
	streams genericiooptions.IOStreams
	File    string
	Output  string
}

func newDatapathValidateCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &ValidateOptions{streams: streams}
	c := &cobra.Command{
		Use:   "validate [-f TOPOLOGY.yaml] [-o yaml|json]",
		Short: "Check a topology and print the plan (addresses, endpoints) without building anything",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	c.Flags().StringVarP(&o.File, "filename", "f", "", "topology file or built-in name")
	c.Flags().StringVarP(&o.Output, "output", "o", "yaml", "output format: yaml or json")
	return c
}

// Complete has nothing to add to the flags: reading the topology is the
// command's work (Run), whose errors are its output.
func (o *ValidateOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate checks --output.
func (o *ValidateOptions) Validate() error {
	return printers.CheckFormat(o.Output, "yaml", "json")
}

// Run reads and resolves the topology and prints the plan.
func (o *ValidateOptions) Run(context.Context) error {
	t, _, err := topologies.Load(o.File)
	if err != nil {
		return err
	}
	plan, err := t.Resolve()
	if err != nil {
		return err
	}
	return printers.Write(o.streams.Out, o.Output, plan)
}
