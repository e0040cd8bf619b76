package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/lab/labstate"
	"golang.org/x/sys/unix"
)

// Down removes everything up made for the named lab: every process in the
// lab's namespaces (pauses, containers, and anything a user started there
// with exec), the named namespaces, and the state. It works from the
// journal and also sweeps by name, so it cleans up after an up that was
// killed at any point, and a second Down finds nothing and succeeds.
func Down(ctx context.Context, name string) (*DownReport, error) {
	if err := labstate.ValidName(name); err != nil {
		return nil, err
	}
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
	// Only paths of the lab's own form are ever touched.
	named := map[string]bool{}
	for _, r := range recs {
		if r.Op == labstate.RecNetns && labNetnsPath(name, r.Path) {
			named[r.Path] = true
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(NetnsDir, NetnsName(name, "*")))
	for _, p := range leftovers {
		if labNetnsPath(name, p) {
			named[p] = true
		}
	}

	// Every network namespace of the lab, by device and inode: the named
	// ones and the pods' (recorded when each pause started).
	ids := map[nsenter.ID]string{}
	for p := range named {
		if id, err := nsenter.IDOf(p); err == nil {
			ids[id] = p
		}
	}
	for _, r := range recs {
		if r.Op == labstate.RecProc && r.Role == labstate.RolePause && r.NetnsIno != 0 {
			ids[nsenter.ID{Dev: r.NetnsDev, Ino: r.NetnsIno}] = "pod " + r.Pod
		}
	}
	for _, h := range nsenter.HostNetIDs() {
		if what, ok := ids[h]; ok {
			return rep, fmt.Errorf("refusing to take down lab %s: its %s is the host's network namespace; nothing was removed", name, what)
		}
	}

	// Kill until a sweep finds nothing: a process may fork while we look.
	spare := map[int]bool{1: true, os.Getpid(): true, os.Getppid(): true}
	killed := map[int]bool{}
	for pass := 0; pass < 10; pass++ {
		victims := sweep(name, ids)
		if pass == 0 {
			for _, r := range recs {
				if r.Op == labstate.RecProc && r.Alive() {
					victims = append(victims, r.PID)
				}
			}
		}
		n := 0
		for _, pid := range victims {
			if spare[pid] {
				continue
			}
			if err := unix.Kill(pid, unix.SIGKILL); err == nil {
				n++
				killed[pid] = true
			}
		}
		if n == 0 {
			break
		}
		waitGone(ctx, killed, 5*time.Second)
	}
	rep.Processes = len(killed)

	for p := range named {
		switch {
		case nsenter.IsNamespace(p):
			if err := nsenter.RemoveNamed(p); err != nil {
				return rep, fmt.Errorf("lab %s: %w", name, err)
			}
		case exists(p):
			// The empty file a killed up made before it could mount.
			if err := os.Remove(p); err != nil {
				return rep, fmt.Errorf("lab %s: remove %s: %w", name, p, err)
			}
		default:
			continue
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

// sweep finds processes that belong to the lab: those living in one of its
// network namespaces, and netx processes started for it (--lab NAME) whose
// journal record may have been lost when up was killed.
func sweep(lab string, ids map[nsenter.ID]string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if id, err := nsenter.IDOf("/proc/" + e.Name() + "/ns/net"); err == nil {
			if _, ok := ids[id]; ok {
				out = append(out, pid)
				continue
			}
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && isLabProcess(string(b), lab) {
			out = append(out, pid)
		}
	}
	return out
}

// waitGone polls until the processes have exited (killed processes are
// reaped by init, or by us for our own children).
func waitGone(ctx context.Context, pids map[int]bool, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		left := 0
		for pid := range pids {
			if labstate.Running(pid) {
				left++
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
