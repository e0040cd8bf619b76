package cmd

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/netx-project/netx/lab"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// The lab's own processes (pause, and the built-in "images" serve and
// forward) and its client (get).

func signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// WorkloadOptions is `datapath serve` (the lab's web server) or `datapath
// forward` (its TCP relay): the lab's own flags (lab.Workload, shared
// with netx-pod).
type WorkloadOptions struct {
	streams  genericiooptions.IOStreams
	Workload lab.Workload
}

func newDatapathServeCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &WorkloadOptions{streams: streams, Workload: lab.Workload{Kind: "serve"}}
	c := &cobra.Command{
		Use:    "serve --listen [IP]:PORT [--udp]",
		Short:  "Answer TCP/HTTP (and UDP with --udp) with who answered (the lab's web server)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE:   runE(o),
	}
	o.Workload.AddFlags(c.Flags())
	return c
}

func newDatapathForwardCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &WorkloadOptions{streams: streams, Workload: lab.Workload{Kind: "forward"}}
	c := &cobra.Command{
		Use:   "forward --listen [IP]:PORT --to IP:PORT [--to-netns PATH]",
		Short: "Relay TCP connections: the lab's nginx in front of a webapp, or a lab address served on the host (--to-netns)",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	o.Workload.AddFlags(c.Flags())
	return c
}

// Complete has nothing to add to the flags.
func (o *WorkloadOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate leaves the addresses to the listener and the dialer, whose
// errors name them.
func (o *WorkloadOptions) Validate() error { return nil }

// Run serves or relays until SIGINT or SIGTERM, logging to stderr.
func (o *WorkloadOptions) Run(ctx context.Context) error {
	ctx, stop := signalContext(ctx)
	defer stop()
	return o.Workload.Run(ctx, o.streams.ErrOut)
}

// GetOptions is `datapath get`, the lab's client.
type GetOptions struct {
	streams genericiooptions.IOStreams
	Address string
	Count   int
	Timeout time.Duration
	// UDP sends a datagram and waits for the one that answers it.
	UDP bool
}

func newDatapathGetCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &GetOptions{streams: streams}
	c := &cobra.Command{
		Use:   "get [--udp] IP:PORT",
		Short: "Connect to IP:PORT, send an HTTP GET (or, with --udp, a datagram) and print the reply (a client for the lab)",
		Args:  cobra.ExactArgs(1),
		RunE:  runE(o),
	}
	c.Flags().IntVarP(&o.Count, "count", "n", 1, "number of requests, each on a new connection (with --udp, a new socket)")
	// -n is --count here, as it always was: get runs inside lab and e2e
	// pods and talks to no API server. A local --namespace (hidden, refused
	// by the root when given) keeps kubectl's -n/--namespace off this one
	// command; cobra would otherwise find two flags for -n.
	c.Flags().String("namespace", "", "")
	c.Flags().MarkHidden("namespace")
	c.Flags().DurationVar(&o.Timeout, "timeout", 3*time.Second, "connect and read timeout (with --udp, how long to wait for the answer)")
	c.Flags().BoolVar(&o.UDP, "udp", false, "send one UDP datagram and print the datagram that answers it; an ICMP port unreachable is \"connection refused\"")
	return c
}

// Complete takes the address.
func (o *GetOptions) Complete(_ *cobra.Command, args []string) error {
	o.Address = args[0]
	return nil
}

// Validate checks the counts; the address is left to the dialer, whose
// error names it.
func (o *GetOptions) Validate() error {
	if o.Count < 1 {
		return fmt.Errorf("--count %d: send at least one request", o.Count)
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout %s: give a positive duration, e.g. 3s", o.Timeout)
	}
	return nil
}

// Run sends the requests, printing each reply as it comes and each
// failure as it happens; it fails if any did.
func (o *GetOptions) Run(ctx context.Context) error {
	failed := 0
	for i := 0; i < o.Count; i++ {
		get := lab.Get
		if o.UDP {
			get = lab.GetUDP
		}
		body, err := get(ctx, o.Address, o.Timeout)
		if err != nil {
			fmt.Fprintf(o.streams.ErrOut, "get %s: %v\n", o.Address, err)
			failed++
			continue
		}
		fmt.Fprint(o.streams.Out, body)
	}
	if failed > 0 {
		return &ExitError{Code: 1}
	}
	return nil
}
