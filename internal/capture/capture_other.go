//go:build !linux

package capture

import (
	"errors"
	"runtime"
)

// Set is a running capture; captures need Linux.
type Set struct{}

// Start fails: packet capture uses Linux AF_PACKET sockets.
func Start(points []Point, keep func(Packet) bool) (*Set, error) {
	return nil, errors.New("packet capture needs Linux, not " + runtime.GOOS)
}

// Stop returns nothing: no capture ran.
func (s *Set) Stop() []Packet { return nil }

// Stats returns nothing: no capture ran.
func (s *Set) Stats() []Stats { return nil }

// Err returns nil: no capture ran.
func (s *Set) Err() error { return nil }
