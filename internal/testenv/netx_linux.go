package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/netx-project/netx/internal/nsenter"
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
	// The lab's pod processes run netx-pod when it is next to netx, as
	// in a build of the project.
	cmd = exec.Command("go", "build", "-o", filepath.Join(dir, "netx-pod"), "./lab/cmd/netx-pod")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build netx-pod: %v: %s", err, out)
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

// NamedNetns makes a throwaway network namespace bound at path (under
// /run/netns, made a mount point for the test if it was not one) and
// removes it when the test ends, leaving /run/netns as it was found.
// Cleanups run last-first: one registered after this runs before the
// namespace goes (a CNI DEL, a process to stop).
func NamedNetns(t testing.TB, path string) {
	t.Helper()
	made, err := nsenter.PrepareNetnsDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nsenter.RemoveNamed(path)
		if made {
			nsenter.ReleaseNetnsDir(filepath.Dir(path))
		}
	})
	if err := nsenter.CreateNamed(path, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// ThrowawayNetns makes an empty named network namespace for the test,
// /run/netns/netx.t<random>.<object> (named like a lab's, so `netx
// datapath down --all` would find a leftover), and removes it when the
// test ends (see NamedNetns).
func ThrowawayNetns(t testing.TB, object string) string {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	path := "/run/netns/netx.t" + hex.EncodeToString(b) + "." + object
	NamedNetns(t, path)
	return path
}
