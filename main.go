// Command kubectl-netx debugs Kubernetes pod networking on the node. It also
// runs as `netx` through a symlink.
package main

import (
	"io"
	"os"

	"github.com/netx-project/netx/cmd"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
)

func main() {
	// client-go reports some stream errors on its own through klog (an
	// exec stream cut on Ctrl-C, say); netx says what went wrong in one
	// line of its own, so klog stays quiet.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	os.Exit(cmd.Main(os.Args, genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
