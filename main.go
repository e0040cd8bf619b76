// Command kubectl-netx debugs Kubernetes pod networking on the node. It also
// runs as `netx` through a symlink.
package main

import (
	"os"

	"github.com/netx-project/netx/cmd"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func main() {
	os.Exit(cmd.Main(os.Args, genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
