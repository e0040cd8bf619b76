//go:build !linux

package trace

import (
	"context"

	"github.com/netx-project/netx/internal/capture"
)

// LiveRun needs Linux: captures and the kernel's trace run in namespaces.
type LiveRun struct{}

// StartLive needs Linux.
func StartLive(*LivePlan, func(capture.Packet)) (*LiveRun, error) { return nil, errUnsupported }

// Probe needs Linux.
func (*LiveRun) Probe(context.Context) string { return "" }

// Stop needs Linux.
func (*LiveRun) Stop() *LiveEvidence { return &LiveEvidence{} }

// AddConntrack needs Linux.
func (w *World) AddConntrack(*Result) {}
