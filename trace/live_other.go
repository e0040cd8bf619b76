//go:build !linux

package trace

import "context"

// Live needs Linux: it sends a real probe and captures it in namespaces.
func (w *World) Live(context.Context, Request, LiveOptions) (*Result, *LiveReport, error) {
	return nil, nil, errUnsupported
}

// AddConntrack needs Linux.
func (w *World) AddConntrack(*Result) {}
