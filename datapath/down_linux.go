package datapath

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"golang.org/x/sys/unix"
)

// Down removes everything up made for the named lab: every process in the
// lab's namespaces (pauses, containers, and anything a user started there
// with exec), the named namespaces, and the state. It works from the
// journal and also sweeps by name, so it cleans up after an up that was
// killed at any point, and a second Down finds nothing and succeeds.
func Down(ctx context.Context, name string) (*DownReport, error) {
	if os.Geteuid() != 0 {
		return nil, &NotPrivilegedError{Op: "datapath down"}
	}
	lock, err := AcquireLock(nil)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	st := StateFor(name)
	recs, err := st.Records()
	if err != nil {
		return nil, fmt.Errorf("read journal of lab %s: %w", name, err)
	}
	rep := &DownReport{Found: st.Exists()}

	// The lab's named namespaces: journalled ones, and any left by name.
	named := map[string]bool{}
	for _, r := range recs {
		if r.Op == recNetns {
			named[r.Path] = true
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(NetnsDir, NetnsName(name, "*")))
	for _, p := range leftovers {
		named[p] = true
	}

	// Every network namespace of the lab, by inode: the named ones and
	// those of the pause processes still alive.
	inodes := map[uint64]bool{}
	for p := range named {
		if ino, ok := nsInode(p); ok {
			inodes[ino] = true
		}
	}
	victims := map[int]bool{}
	for _, r := range recs {
		if r.Op == recProc && r.alive() {
			victims[r.PID] = true
			if ino, ok := nsInode(PodNetns(r.PID)); ok {
				inodes[ino] = true
			}
		}
	}
	for _, pid := range sweep(name, inodes) {
		victims[pid] = true
	}
	for pid := range victims {
		if pid == os.Getpid() || pid == os.Getppid() || pid <= 1 {
			continue
		}
		if err := unix.Kill(pid, unix.SIGKILL); err == nil {
			rep.Processes++
		}
	}
	waitGone(ctx, victims, 5*time.Second)

	for p := range named {
		if !exists(p) {
			continue
		}
		if err := nsenter.RemoveNamed(p); err != nil {
			return rep, fmt.Errorf("lab %s: %w", name, err)
		}
		rep.Namespaces++
	}
	if err := os.RemoveAll(st.Dir); err != nil {
		return rep, fmt.Errorf("remove state of lab %s: %w", name, err)
	}
	if exists(netnsDirMarker) {
		if err := nsenter.ReleaseNetnsDir(NetnsDir); err != nil {
			return rep, err
		}
		if ents, _ := os.ReadDir(NetnsDir); len(ents) == 0 {
			os.Remove(netnsDirMarker)
		}
	}
	rep.Found = rep.Found || rep.Processes > 0 || rep.Namespaces > 0
	return rep, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// nsInode identifies a namespace by its nsfs inode.
func nsInode(path string) (uint64, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}

// sweep finds processes that belong to the lab: those living in one of its
// network namespaces, and netx processes started for it (--lab NAME) whose
// journal record may have been lost when up was killed.
func sweep(lab string, inodes map[uint64]bool) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ino, ok := nsInode("/proc/" + e.Name() + "/ns/net"); ok && inodes[ino] {
			out = append(out, pid)
			continue
		}
		if isLabProcess(pid, lab) {
			out = append(out, pid)
		}
	}
	return out
}

// isLabProcess says whether pid is `netx datapath <pause|serve|forward>
// ... --lab lab`.
func isLabProcess(pid int, lab string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if len(args) < 3 || args[1] != "datapath" {
		return false
	}
	switch args[2] {
	case "pause", "serve", "forward":
	default:
		return false
	}
	for i := 3; i+1 < len(args); i++ {
		if args[i] == "--lab" && args[i+1] == lab {
			return true
		}
	}
	return false
}

// waitGone polls until the processes have exited (killed processes are
// reaped by init, or by us for our own children).
func waitGone(ctx context.Context, pids map[int]bool, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		left := 0
		for pid := range pids {
			if s := procState(pid); s != "" && s != "Z" && s != "X" {
				left++
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
