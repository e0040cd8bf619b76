//go:build !linux

package cni

import "errors"

var errLinux = errors.New("netx's CNI runs on Linux nodes only")

// SyncRoutes needs Linux.
func SyncRoutes(string, []Peer) ([]string, error) { return nil, errLinux }

// RemoveHostState needs Linux.
func RemoveHostState(string, string, string) error { return errLinux }
