//go:build unix

package testenv

import (
	"os"
	"syscall"
	"testing"
)

// lockRootTests holds an flock on a file under /run for the test.
func lockRootTests(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile("/run/netx-root-tests.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("root test lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("root test lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })
}
