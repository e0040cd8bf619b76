package nsenter_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"golang.org/x/sys/unix"
)

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestRootCreateDoRemove(t *testing.T) {
	testenv.RequireRoot(t)
	host := inode(t, "/proc/self/ns/net")
	path := filepath.Join("/run/netns", "netx.nsenter-test."+strings.ReplaceAll(t.Name(), "/", "-"))
	made, err := nsenter.PrepareNetnsDir("/run/netns")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nsenter.RemoveNamed(path)
		if made { // leave the host's mount table as found
			nsenter.ReleaseNetnsDir("/run/netns")
		}
	})

	var inside uint64
	if err := nsenter.CreateNamed(path, func() error {
		inside = inode(t, "/proc/thread-self/ns/net")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !nsenter.IsNamespace(path) || inside == host || inside != inode(t, path) {
		t.Fatalf("created namespace: mounted=%v inside=%d host=%d path=%d", nsenter.IsNamespace(path), inside, host, inode(t, path))
	}
	// Many entries in a row must always come back to the host namespace.
	for range 50 {
		if err := nsenter.Do(nsenter.Net(path), func() error {
			if got := inode(t, "/proc/thread-self/ns/net"); got != inside {
				t.Errorf("inside Do: namespace %d, want %d", got, inside)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got := inode(t, "/proc/thread-self/ns/net"); got != host {
		t.Fatalf("caller's thread moved: %d, host %d", got, host)
	}
	// A process started through Start lives in the namespace.
	out, err := exec.Command("readlink", "/proc/self/ns/net").Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("readlink", "/proc/self/ns/net")
	var b strings.Builder
	cmd.Stdout = &b
	if err := nsenter.Start(nsenter.Net(path), cmd); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if b.String() == string(out) || !strings.Contains(b.String(), "net:[") {
		t.Errorf("Start: child in %q, host %q", b.String(), out)
	}
	// Removal is repeatable.
	for range 2 {
		if err := nsenter.RemoveNamed(path); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s still exists", path)
	}
}

func TestRootDoErrors(t *testing.T) {
	testenv.RequireRoot(t)
	host := inode(t, "/proc/self/ns/net")
	err := nsenter.Do(nsenter.Net("/nonexistent/ns"), func() error { t.Error("fn ran"); return nil })
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/ns") {
		t.Errorf("want an error naming the path, got %v", err)
	}
	if err := nsenter.Do(nsenter.Net("/proc/self/ns/uts"), func() error { return nil }); err == nil {
		t.Error("entering a uts namespace file as net must fail")
	}
	if got := inode(t, "/proc/thread-self/ns/net"); got != host {
		t.Fatalf("thread left in another namespace after errors")
	}
}
