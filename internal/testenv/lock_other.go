//go:build !unix

package testenv

import "testing"

// lockRootTests has nothing to lock where there is no root (Windows):
// RequireRoot never gets here, as Geteuid says -1.
func lockRootTests(testing.TB) {}
