package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

// PodBinary is the small binary the lab runs as each pod's pause and as
// the built-in containers when it sits next to the netx binary
// (UpOptions.Self): it links only this package, so a pod's processes
// start without the full binary's package initialisation (the packet
// decoders, client-go's API types), which costs milliseconds per process.
const PodBinary = "netx-pod"

// Workload is one of the lab's own processes as its command line names
// it: `datapath pause|serve|forward FLAGS`, in netx-pod and in the full
// binary alike (one set of flags, AddFlags).
type Workload struct {
	Kind string // pause, serve or forward
	// Lab, Pod and Container name the process for ps (the identity it
	// answers with comes from the environment).
	Lab, Pod, Container string
	Hostname            string // pause: the pod's hostname
	Listen              string // serve, forward
	UDP                 bool   // serve
	To, ToNetns         string // forward
}

// AddFlags adds the flags of w.Kind to fs; it says false for a kind the
// lab does not run.
func (w *Workload) AddFlags(fs *pflag.FlagSet) bool {
	fs.StringVar(&w.Lab, "lab", "", "lab this process belongs to")
	fs.StringVar(&w.Pod, "pod", "", "pod this process belongs to")
	fs.StringVar(&w.Container, "container", "", "container name")
	switch w.Kind {
	case "pause":
		fs.StringVar(&w.Hostname, "hostname", "", "the pod's hostname")
	case "serve":
		fs.StringVar(&w.Listen, "listen", ":8080", "address to listen on")
		fs.BoolVar(&w.UDP, "udp", false, "also answer each UDP datagram on the same address with one datagram saying who answered")
	case "forward":
		fs.StringVar(&w.Listen, "listen", ":80", "address to listen on")
		fs.StringVar(&w.To, "to", "127.0.0.1:5000", "address to relay to")
		fs.StringVar(&w.ToNetns, "to-netns", "", "reach --to from inside this network namespace (e.g. /run/netns/netx.seeds.node1), so a lab address is served on the host")
	default:
		return false
	}
	return true
}

// Run runs the process until ctx ends: the pause holds its namespaces,
// serve answers as the pod and container the environment names, forward
// relays (dialling from inside ToNetns when given). log gets a server's
// start line and each relay that fails.
func (w *Workload) Run(ctx context.Context, log io.Writer) error {
	switch w.Kind {
	case "pause":
		return Pause(ctx, w.Hostname)
	case "serve":
		what := w.Listen
		if w.UDP {
			what += " (tcp and udp)"
		}
		return RunServe(ctx, w.Listen, w.UDP, IdentityFromEnv(), startedOn(log, "serving", what))
	case "forward":
		logf := func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
		var dial Dialer
		if w.ToNetns != "" {
			dial = func(a string) (net.Conn, error) { return DialIn(w.ToNetns, a) }
		}
		return RunForward(ctx, w.Listen, w.To, dial, startedOn(log, "forwarding "+w.To+" on", w.Listen), logf)
	}
	return fmt.Errorf("unknown lab process %q: want pause, serve or forward", w.Kind)
}

// RunWorkload runs one of the lab's own processes from its command line,
// args after the program name ("datapath pause|serve|forward FLAGS"),
// until SIGINT or SIGTERM. It returns the exit code: 2 for a command line
// it cannot parse, 1 when the process fails. netx-pod is this; the full
// binary runs pause through it too, skipping its command tree.
func RunWorkload(args []string, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "datapath" {
		fmt.Fprintf(stderr, "error: usage: %s datapath pause|serve|forward [flags] (started by netx datapath up)\n", PodBinary)
		return 2
	}
	w := &Workload{Kind: args[1]}
	fs := pflag.NewFlagSet(args[1], pflag.ContinueOnError)
	fs.SetOutput(stderr)
	if !w.AddFlags(fs) {
		fmt.Fprintf(stderr, "error: %s: unknown lab process %q: want pause, serve or forward\n", PodBinary, args[1])
		return 2
	}
	if err := fs.Parse(args[2:]); err != nil {
		fmt.Fprintf(stderr, "error: datapath %s: %v\n", args[1], err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := w.Run(ctx, stderr); err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

// startedOn reports readiness to whoever started the process (up, on fd
// 3) and, once listening, says so in the log: a container's first line.
func startedOn(log io.Writer, what, listen string) func(error) {
	return func(err error) {
		Report(err)
		if err == nil {
			fmt.Fprintf(log, "%s %s\n", what, listen)
		}
	}
}
