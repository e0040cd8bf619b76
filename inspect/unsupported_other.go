//go:build !linux

package inspect

import (
	"errors"
	"runtime"
)

// Discover needs Linux: it reads a node's network namespaces. (Saved
// snapshots are read anywhere.)
func Discover(Options) (*Snapshot, error) {
	return nil, errors.New("inspecting a node needs Linux (this is " + runtime.GOOS + "); run it on the node, or read a snapshot taken there")
}
