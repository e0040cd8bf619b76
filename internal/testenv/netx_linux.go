package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var netxBuild = sync.OnceValues(func() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	dir, err := os.MkdirTemp("", "netx-test-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "netx")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
})

// NetxBinary builds the netx binary once per test process (the lab runs
// it as each pod's pause and as the built-in containers) and returns it.
func NetxBinary(t testing.TB) string {
	t.Helper()
	bin, err := netxBuild()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
