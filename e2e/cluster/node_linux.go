package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/netx-project/netx/lab/labstate"
)

// A worker looks like a machine of its own to what runs on it, as kind's
// node containers do: its containerd and kubelet share a mount and a PID
// namespace of the node's (made by the node's init, a process that holds
// them), so a hostPID pod sees that node's processes only and a hostPath
// pod that node's files. In the node's mount namespace its own
// directories are bound over the paths a CNI install uses; the host keeps
// its own (empty mount points, made for the run and removed by Down when
// they were not there before).

// nodeMounts are a worker's own directories and where the node sees them.
func (s *Spec) nodeMounts(n Node) [][2]string {
	d := s.nodeDir(n)
	return [][2]string{
		{s.cniConfDir(n), "/etc/cni/net.d"},
		{filepath.Join(d, "cni", "bin"), "/opt/cni/bin"},
		{filepath.Join(d, "netx-cni"), "/var/lib/netx-cni"},
	}
}

// nodeInitName is the recorded name of a worker's init: PID 1 of its PID
// namespace, seen from the host.
func nodeInitName(n Node) string { return "node-" + n.Name + "-init" }

// startNode starts the worker's init in its network namespace: unshare
// makes the mount and PID namespaces (its /proc mounted afresh, mounts
// propagating from the host but not back), binds the node's directories
// and sleeps; killing it ends every process of the node. The reference
// CNI plugins are linked into the node's own bin directory.
func (s *Spec) startNode(n Node) (int, error) {
	var script strings.Builder
	script.WriteString("set -e; ")
	for _, m := range s.nodeMounts(n) {
		if err := os.MkdirAll(m[0], 0o755); err != nil {
			return 0, err
		}
		if err := os.MkdirAll(m[1], 0o755); err != nil {
			return 0, err
		}
		fmt.Fprintf(&script, "mount --bind %q %q; ", m[0], m[1])
	}
	script.WriteString("exec sleep infinity")
	bin := s.nodeMounts(n)[1][0]
	ents, _ := os.ReadDir("/usr/lib/cni")
	for _, e := range ents {
		os.Symlink(filepath.Join("/usr/lib/cni", e.Name()), filepath.Join(bin, e.Name()))
	}
	name := "node-" + n.Name
	if err := s.start(n.Netns, name, "unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "slave", "--", "/bin/sh", "-c", script.String()); err != nil {
		return 0, err
	}
	parent := s.pidOf(name)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		child := firstChild(parent)
		if child == 0 {
			continue
		}
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child)); strings.TrimSpace(string(comm)) == "sleep" {
			return child, s.record(proc{Name: nodeInitName(n), PID: child, Start: labstate.ProcessStart(child)})
		}
	}
	return 0, fmt.Errorf("node %s: its init did not start (see %s)", n.Name, s.logFile(name))
}

// startOnNode runs a component in the worker's network, mount and PID
// namespaces (nsenter into the init's), recording the component itself,
// not nsenter, under name: signals and kills reach it.
func (s *Spec) startOnNode(n Node, name, prog string, args ...string) error {
	init := s.pidOf(nodeInitName(n))
	if init == 0 {
		return fmt.Errorf("node %s has no init", n.Name)
	}
	wrapper := name + "-nsenter"
	if err := s.start(n.Netns, wrapper, "nsenter", append([]string{"--target", strconv.Itoa(init), "--mount", "--pid", "--", prog}, args...)...); err != nil {
		return err
	}
	parent := s.pidOf(wrapper)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if child := firstChild(parent); child != 0 {
			return s.record(proc{Name: name, PID: child, Start: labstate.ProcessStart(child)})
		}
	}
	return fmt.Errorf("start %s on %s: no process after nsenter (see %s)", name, n.Name, s.logFile(wrapper))
}

// NodeCommand is prog run as root on the worker would run it: in its
// network, mount and PID namespaces (so that what containerd reports —
// PIDs, /var/run/netns paths — means what it means on the node).
func (s *Spec) NodeCommand(n Node, prog string, args ...string) *exec.Cmd {
	init := s.pidOf(nodeInitName(n))
	return exec.Command("nsenter", append([]string{"--target", strconv.Itoa(init), "--mount", "--pid", "--net", "--", prog}, args...)...)
}

// pidOf is a recorded process's PID while it runs (0 otherwise).
func (s *Spec) pidOf(name string) int {
	for _, p := range s.procs() {
		if p.Name == name && labstate.ProcessRunning(p.PID, p.Start) {
			return p.PID
		}
	}
	return 0
}

// firstChild is a process's first child, 0 when it has none yet.
func firstChild(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	c, _ := strconv.Atoi(f[0])
	return c
}
