// Command kubectl-netx debugs Kubernetes pod networking on the node. It also
// runs as `netx` through a symlink.
package main

import (
	"flag"
	"io"
	"os"

	"github.com/netx-project/netx/cmd"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
)

func main() {
	quietKlog()
	os.Exit(cmd.Main(os.Args, genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}

// quietKlog silences klog: client-go reports some stream errors on its
// own through it (an exec stream cut on Ctrl-C, a response body read
// after its context was canceled); netx says what went wrong in one line
// of its own. Errors would still reach stderr through klog's threshold
// even with no output set: it is raised past them.
func quietKlog() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.Set("logtostderr", "false")
	fs.Set("alsologtostderr", "false")
	fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}
