//go:build !linux

package trace

import "errors"

var errUnsupported = errors.New("reading a live node needs Linux; trace a saved state with --snapshot FILE")

// LoadNode needs Linux.
func LoadNode(string, string, bool) (*World, error) { return nil, errUnsupported }

// LoadLab needs Linux.
func LoadLab(string, string, bool) (*World, error) { return nil, errUnsupported }
