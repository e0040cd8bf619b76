//go:build linux

// Command hostdump prints the host's full network state (the dump the root
// tests compare), so CI can prove the e2e cluster left the machine as found:
//
//	go run ./hack/hostdump > before; make e2e; go run ./hack/hostdump > after
package main

import (
	"fmt"
	"os"

	"github.com/netx-project/netx/internal/testenv"
)

func main() {
	d, err := testenv.HostDump()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostdump:", err)
		os.Exit(1)
	}
	fmt.Print(d)
}
