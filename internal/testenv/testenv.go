// Package testenv holds helpers shared by netx's tests.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// PrivilegedEnv, set to 1, makes root-only tests mandatory: without root
// they fail instead of skipping, so CI cannot pass by skipping them.
const PrivilegedEnv = "NETX_PRIVILEGED_TESTS"

// RequireRoot skips t without root, or fails it when PrivilegedEnv=1.
// With root, it also takes the machine-wide lock of root tests for the
// test's duration: go test runs packages in parallel, and root tests
// compare whole-host dumps, so another package's lab must not appear in
// the middle of one.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		lockRootTests(t)
		return
	}
	if os.Getenv(PrivilegedEnv) == "1" {
		t.Fatalf("%s=1 but not running as root: root-only tests must run", PrivilegedEnv)
	}
	t.Skip("needs root (set " + PrivilegedEnv + "=1 and run as root to make this mandatory)")
}

// GoTool finds a program hack/setup.sh installs with go install (cnitool,
// krew): on PATH, else in GOPATH/bin. Missing, the test is skipped — or
// fails where every test must run (PrivilegedEnv=1, as CI sets).
func GoTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv(PrivilegedEnv) == "1" {
		t.Fatalf("%s is not installed (hack/setup.sh installs it)", name)
	}
	t.Skipf("needs %s (hack/setup.sh installs it)", name)
	return ""
}
