//go:build !linux

package lab

import (
	"context"
	"errors"
	"net"
	"runtime"
)

// ErrUnsupported is returned by everything that needs Linux namespaces.
var ErrUnsupported = errors.New("netx datapath builds Linux network namespaces and runs only on Linux (this is " + runtime.GOOS + ")")

// Up needs Linux.
func Up(context.Context, *Lab, UpOptions) (*UpReport, error) { return nil, ErrUnsupported }

// Down needs Linux.
func Down(context.Context, string) (*DownReport, error) { return nil, ErrUnsupported }

// Exec needs Linux.
func Exec(ExecOptions) (int, error) { return 0, ErrUnsupported }

// Pause needs Linux.
func Pause(context.Context, string) error { return ErrUnsupported }

// DialIn needs Linux.
func DialIn(string, string) (net.Conn, error) { return nil, ErrUnsupported }
