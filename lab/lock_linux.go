package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/netx-project/netx/lab/labstate"
)

// Lock serialises lab commands (netx datapath up, down) on this machine with flock(2); it is
// released when the process exits, however it exits.
type Lock struct{ f *os.File }

// AcquireLock blocks until the lock is free; waiting is called once so the
// caller can say why it is waiting.
func AcquireLock(waiting func()) (*Lock, error) {
	if err := os.MkdirAll(labstate.Root, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", labstate.Root, err)
	}
	f, err := os.OpenFile(filepath.Join(labstate.Root, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if waiting != nil {
			waiting()
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
	}
	return &Lock{f: f}, nil
}

// Release unlocks.
func (l *Lock) Release() { l.f.Close() }
