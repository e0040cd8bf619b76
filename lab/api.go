package lab

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Types of the operations on a running lab (Up, Down, Exec), shared by
// every platform so callers compile everywhere; the operations need Linux.

// UpOptions say how to build a lab.
type UpOptions struct {
	// Self is the netx binary, re-executed as each pod's pause process and
	// as the built-in containers (serve, forward), unless PodBinary sits
	// next to it: that small binary starts them faster.
	Self string
	// Source is the topology file, remembered for status.
	Source string
	// Explain, when set, receives each step as the equivalent ip/iptables
	// command, for learning.
	Explain io.Writer
	// Progress, when set, receives one line per phase.
	Progress io.Writer
}

// UpReport says what up did.
type UpReport struct {
	// Reused is true when the lab was already (partly) up and up only
	// completed it.
	Reused bool
	// Resumed is true when an earlier up had been interrupted and this one
	// finished its work.
	Resumed    bool
	Containers []ContainerStart
	Elapsed    time.Duration
}

// ContainerStart is the outcome of starting one container.
type ContainerStart struct {
	Pod       string
	Container string
	PID       int
	// Error is why the container failed, e.g. "listen tcp :80: bind:
	// address already in use"; Expected marks a pod that asked for it
	// (allowPortConflict).
	Error    string
	Expected bool
}

// ConflictError says a lab of this name is up with a different plan.
type ConflictError struct {
	Lab, Source string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("lab %q is already up from %s with a different topology; run `netx datapath down %s` first", e.Lab, e.Source, e.Lab)
}

// NotPrivilegedError says the caller lacks the privileges to build a lab.
type NotPrivilegedError struct{ Op string }

func (e *NotPrivilegedError) Error() string {
	return e.Op + " needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); run it with sudo"
}

// DownReport says what down removed.
type DownReport struct {
	Processes  int
	Namespaces int
	// Found is false when there was nothing of the lab left to remove.
	Found bool
}

// ExecOptions say what to run in a pod and with which streams.
type ExecOptions struct {
	Lab, Pod, Container string
	Argv                []string
	// Self replaces a leading "netx" or "kubectl-netx" in Argv, so the lab's
	// built-in client is always at hand (netx datapath get ...).
	Self           string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// PodNotFoundError says a pod is not part of the lab.
type PodNotFoundError struct {
	Lab, Pod string
	Known    []string
}

func (e *PodNotFoundError) Error() string {
	return fmt.Sprintf("pod %q is not in lab %s; pods are: %s", e.Pod, e.Lab, strings.Join(e.Known, ", "))
}
