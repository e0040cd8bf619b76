// Package nsenter is the only place in netx that changes a thread's
// namespaces. Work runs on a fresh goroutine locked to its OS thread; the
// thread's own namespaces are saved first and restored afterwards, and the
// thread is unlocked only if every restore succeeded, so a thread left in a
// foreign namespace dies with its goroutine instead of running other code.
package nsenter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Target names the namespaces to enter by path (/proc/PID/ns/net,
// /run/netns/NAME, ...). Empty fields are left as they are.
type Target struct {
	Net string
	UTS string
	IPC string
	// Root is the root directory a program started in t sees (chroot; its
	// path is then one inside Root): the node's root seen through
	// /proc/PID/root when netx runs in a container. Do ignores it.
	Root string
}

// Net is a Target for a network namespace only.
func Net(path string) Target { return Target{Net: path} }

type nsKind struct {
	file string
	flag int
}

type entry struct {
	path string
	kind nsKind
}

func (t Target) entries() []entry {
	var out []entry
	add := func(p, file string, flag int) {
		if p != "" {
			out = append(out, entry{p, nsKind{file, flag}})
		}
	}
	add(t.Net, "net", unix.CLONE_NEWNET)
	add(t.UTS, "uts", unix.CLONE_NEWUTS)
	add(t.IPC, "ipc", unix.CLONE_NEWIPC)
	return out
}

// Do runs fn on a dedicated OS thread that has entered t's namespaces.
func Do(t Target, fn func() error) error {
	return onThread(func() (restore func() error, err error) {
		var saved []int
		var kinds []nsKind
		restore = func() error {
			var errs []error
			for i := len(saved) - 1; i >= 0; i-- {
				if err := unix.Setns(saved[i], kinds[i].flag); err != nil {
					errs = append(errs, fmt.Errorf("restore %s namespace: %w", kinds[i].file, err))
				}
				unix.Close(saved[i])
			}
			return errors.Join(errs...)
		}
		for _, e := range t.entries() {
			self, err := unix.Open("/proc/thread-self/ns/"+e.kind.file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return restore, fmt.Errorf("open own %s namespace: %w", e.kind.file, err)
			}
			target, err := unix.Open(e.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				unix.Close(self)
				return restore, fmt.Errorf("open %s namespace %s: %w", e.kind.file, e.path, err)
			}
			err = unix.Setns(target, e.kind.flag)
			unix.Close(target)
			if err != nil {
				unix.Close(self)
				return restore, fmt.Errorf("enter %s namespace %s: %w", e.kind.file, e.path, err)
			}
			saved = append(saved, self)
			kinds = append(kinds, e.kind)
		}
		return restore, nil
	}, fn)
}

// onThread runs enter, fn and the restore enter returned on one locked
// thread, unlocking it only when the restore succeeded.
func onThread(enter func() (func() error, error), fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restore, err := enter()
		if err == nil {
			err = fn()
		}
		rerr := restore()
		if rerr == nil {
			runtime.UnlockOSThread()
		} // else: the goroutine exits locked and the runtime kills the thread
		done <- errors.Join(err, rerr)
	}()
	return <-done
}

// CreateNamed makes a new network namespace, pins it with a bind mount at
// path (as `ip netns add` does under /run/netns), and runs fn inside it.
// If path exists already and is a namespace, fn runs inside that one.
func CreateNamed(path string, fn func() error) error {
	if IsNamespace(path) {
		// Reusing is for re-runs; never "reuse" the host's namespace (a
		// bind mount of it placed at path would otherwise be configured).
		if err := NotHost(path); err != nil {
			return err
		}
		return Do(Net(path), fn)
	}
	if _, err := PrepareNetnsDir(filepath.Dir(path)); err != nil {
		return err
	}
	return onThread(func() (func() error, error) {
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return func() error { return nil }, fmt.Errorf("open own net namespace: %w", err)
		}
		restore := func() error {
			defer unix.Close(self)
			if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("restore net namespace: %w", err)
			}
			return nil
		}
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return restore, fmt.Errorf("create net namespace for %s: %w", path, err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
		if err != nil {
			return restore, fmt.Errorf("create %s: %w", path, err)
		}
		f.Close()
		if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
			os.Remove(path)
			return restore, fmt.Errorf("bind-mount net namespace on %s: %w", path, err)
		}
		return restore, nil
	}, fn)
}

// PrepareNetnsDir prepares dir as `ip netns add` prepares /run/netns: a
// mount point of its own with shared propagation, so namespace mounts made
// in it are seen in every mount namespace and iproute2 and netx agree on
// what is mounted where. made says it was not a mount point before, so the
// caller can undo it (ReleaseNetnsDir) and leave the host as it found it.
func PrepareNetnsDir(dir string) (made bool, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	err = unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return false, fmt.Errorf("make %s a shared mount: %w", dir, err)
	}
	// Not a mount point yet: bind it onto itself, then share it.
	if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return false, fmt.Errorf("bind-mount %s: %w", dir, err)
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return true, fmt.Errorf("make %s a shared mount: %w", dir, err)
	}
	return true, nil
}

// ReleaseNetnsDir undoes PrepareNetnsDir once dir holds no namespace any
// more; with namespaces still in it (someone else's), it does nothing.
func ReleaseNetnsDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) > 0 {
		return nil
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}

// ID identifies a namespace by device and inode of its nsfs file, which is
// what stays the same however the namespace is reached (/proc/PID/ns/net,
// a bind mount under /run/netns, ...).
type ID struct {
	Dev, Ino uint64
}

// IDOf returns the ID of the namespace at path; a path that is not a
// namespace (a plain file, a torn-down mount) is an error.
func IDOf(path string) (ID, error) {
	if !IsNamespace(path) {
		return ID{}, fmt.Errorf("%s is not a namespace", path)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return ID{}, fmt.Errorf("stat %s: %w", path, err)
	}
	return ID{Dev: st.Dev, Ino: st.Ino}, nil
}

// HostNetIDs are the network namespaces of init and of this process: the
// ones a lab must never configure or empty.
func HostNetIDs() []ID {
	var out []ID
	for _, p := range []string{"/proc/1/ns/net", "/proc/self/ns/net"} {
		if id, err := IDOf(p); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// NotHost fails if path is the host's (or this process's) network namespace.
func NotHost(path string) error {
	id, err := IDOf(path)
	if err != nil {
		return err
	}
	for _, h := range HostNetIDs() {
		if id == h {
			return fmt.Errorf("refusing to use %s: it is the host's network namespace", path)
		}
	}
	return nil
}

// IsNamespace says whether path is (a bind mount of) a namespace.
func IsNamespace(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// RemoveNamed unmounts and removes a namespace pinned by CreateNamed. A
// path that is already gone is not an error, so removal can be repeated.
func RemoveNamed(path string) error {
	// A path can carry several stacked mounts (e.g. made before and after
	// its directory became a mount point); remove them all.
	for i := 0; i < 8 && IsNamespace(path); i++ {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// Start starts cmd so that the new process lives in t's namespaces: the
// fork happens on a thread that has entered them, and the child inherits
// them. Namespaces cmd.SysProcAttr.Cloneflags asks for are created on top.
func Start(t Target, cmd *exec.Cmd) error {
	if t.Root != "" {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Chroot = t.Root
		cmd.Dir = "/"
	}
	return Do(t, cmd.Start)
}

// Output runs a program inside t's namespaces with stdin (nil: none) and
// returns its standard output. A failure carries the program's standard
// error, trimmed, so the caller's message says why.
func Output(t Target, stdin io.Reader, prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(prog, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := Start(t, cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", prog, err)
	}
	if err := cmd.Wait(); err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w: %s", filepath.Base(prog), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// Netlink opens a netlink handle whose socket lives in the network
// namespace at path; it is used from any goroutine without switching.
// Close it when done.
func Netlink(path string) (*netlink.Handle, error) {
	return NetlinkAfter(path, nil)
}

// NetlinkAfter is Netlink that first writes sysctls in the namespace, in
// the same visit.
func NetlinkAfter(path string, sysctls [][2]string) (*netlink.Handle, error) {
	var h *netlink.Handle
	err := Do(Net(path), func() error {
		if err := SetSysctls(sysctls); err != nil {
			return err
		}
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", path, err)
	}
	return h, nil
}

// WriteSysctl writes value to /proc/sys/<key> as seen from the network
// namespace at path (net.* sysctls are per namespace).
func WriteSysctl(path, key, value string) error {
	return Do(Net(path), func() error { return writeProcSys(key, value) })
}

func writeProcSys(key, value string) error {
	p := "/proc/sys/" + key
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("set %s=%s: %w", key, value, err)
	}
	return nil
}

// SetSysctls writes several sysctls; it is meant to be called inside Do or
// CreateNamed, where the thread is already in the right namespace.
func SetSysctls(kv [][2]string) error {
	for _, e := range kv {
		if err := writeProcSys(e[0], e[1]); err != nil {
			return err
		}
	}
	return nil
}

// Dial connects from inside the network namespace at path: the socket is
// created on a thread in that namespace and belongs to it for its life, so
// the returned connection is used from anywhere. This is how a process in
// the host namespace reaches an address that only exists in a lab.
func Dial(path, network, address string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := Do(Net(path), func() error {
		var err error
		c, err = net.DialTimeout(network, address, timeout)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s in %s: %w", address, path, err)
	}
	return c, nil
}
