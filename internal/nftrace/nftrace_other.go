//go:build !linux

package nftrace

import (
	"errors"
	"runtime"
)

var errUnsupported = errors.New("the kernel's netfilter trace needs Linux (this is " + runtime.GOOS + ")")

// Session is a trace in progress; there are none off Linux.
type Session struct{}

// Start needs Linux.
func Start(string, []Tuple) (*Session, error) { return nil, errUnsupported }

// Stop needs Linux.
func (*Session) Stop() ([]Event, error) { return nil, errUnsupported }

// Cleanup needs Linux.
func Cleanup(string) error { return errUnsupported }
