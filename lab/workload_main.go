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

// RunWorkload runs one of the lab's own processes from its command line,
// args after the program name: "datapath pause|serve|forward FLAGS" with
// the flags the lab passes (--lab, --pod, --container name the process for
// ps; pause: --hostname; serve: --listen, --udp; forward: --listen, --to,
// --to-netns). It returns the exit code: 2 for a command line it cannot
// parse, 1 when the process fails. Pause runs through here in both
// binaries, skipping the command tree; serve and forward are also
// commands of the full binary, which call RunServer and RunRelay.
func RunWorkload(args []string, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "datapath" {
		fmt.Fprintf(stderr, "error: usage: %s datapath pause|serve|forward [flags] (started by netx datapath up)\n", PodBinary)
		return 2
	}
	fs := pflag.NewFlagSet(args[1], pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var labName, pod, container, hostname, listen, to, toNetns string
	var udp bool
	fs.StringVar(&labName, "lab", "", "lab this process belongs to")
	fs.StringVar(&pod, "pod", "", "pod this process belongs to")
	fs.StringVar(&container, "container", "", "container name")
	var run func(context.Context) error
	switch args[1] {
	case "pause":
		fs.StringVar(&hostname, "hostname", "", "the pod's hostname")
		run = func(ctx context.Context) error { return Pause(ctx, hostname) }
	case "serve":
		fs.StringVar(&listen, "listen", ":8080", "address to listen on")
		fs.BoolVar(&udp, "udp", false, "also answer UDP datagrams")
		run = func(ctx context.Context) error { return RunServer(ctx, listen, udp, stderr) }
	case "forward":
		fs.StringVar(&listen, "listen", ":80", "address to listen on")
		fs.StringVar(&to, "to", "127.0.0.1:5000", "address to relay to")
		fs.StringVar(&toNetns, "to-netns", "", "reach --to from inside this network namespace")
		run = func(ctx context.Context) error { return RunRelay(ctx, listen, to, toNetns, stderr) }
	default:
		fmt.Fprintf(stderr, "error: %s: unknown lab process %q: want pause, serve or forward\n", PodBinary, args[1])
		return 2
	}
	if err := fs.Parse(args[2:]); err != nil {
		fmt.Fprintf(stderr, "error: datapath %s: %v\n", args[1], err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
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

// RunServer is the lab's web server (`datapath serve`): RunServe on listen,
// answering as the pod and container the environment names, until ctx
// ends; log gets the start line.
func RunServer(ctx context.Context, listen string, udp bool, log io.Writer) error {
	what := listen
	if udp {
		what += " (tcp and udp)"
	}
	return RunServe(ctx, listen, udp, IdentityFromEnv(), startedOn(log, "serving", what))
}

// RunRelay is the lab's TCP relay (`datapath forward`): RunForward from
// listen to to, dialled from inside toNetns when given, until ctx ends;
// log gets the start line and each relay that fails.
func RunRelay(ctx context.Context, listen, to, toNetns string, log io.Writer) error {
	logf := func(format string, args ...any) { fmt.Fprintf(log, format+"\n", args...) }
	var dial Dialer
	if toNetns != "" {
		dial = func(a string) (net.Conn, error) { return DialIn(toNetns, a) }
	}
	return RunForward(ctx, listen, to, dial, startedOn(log, "forwarding "+to+" on", listen), logf)
}
