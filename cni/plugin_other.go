//go:build !linux

package cni

import (
	"fmt"
	"os"
)

// Main: a CNI plugin runs on a Linux node only.
func Main(string) int {
	fmt.Fprintln(os.Stderr, "netx-cni: the CNI plugin runs on Linux nodes only")
	return 1
}
