//go:build !linux

package cni

import (
	"errors"
	"net/netip"
)

var errLinux = errors.New("netx's CNI runs on Linux nodes only")

// SyncRoutes needs Linux.
func SyncRoutes(string, []Peer) ([]string, error) { return nil, errLinux }

// RemoveHostState needs Linux.
func RemoveHostState(string, string, string) error { return errLinux }

// Underlay needs Linux.
func Underlay(string, netip.Addr) (string, int, error) { return "", 0, errLinux }

// SyncVXLAN needs Linux.
func SyncVXLAN(string, Peer, []Peer) ([]string, error) { return nil, errLinux }
