// Command netx-pod is the lab's own processes on their own: each pod's
// pause and the built-in containers (serve, forward), started as
// "netx-pod datapath pause|serve|forward FLAGS" by netx datapath up when
// it sits next to the netx binary. It links only package lab, so the
// hundreds of processes a big lab starts pay none of the full binary's
// package initialisation; kubectl-netx datapath pause|serve|forward is the
// same code.
package main

import (
	"os"

	"github.com/netx-project/netx/lab"
)

func main() {
	os.Exit(lab.RunWorkload(os.Args[1:], os.Stderr))
}
