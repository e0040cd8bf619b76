package lab

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/lab/labstate"
)

// Exec runs a command in a pod's namespaces (net, uts, ipc of its pause,
// the seeds' "Join Namespace"), like kubectl exec, and returns its exit code.
func Exec(o ExecOptions) (int, error) {
	s, err := labstate.Get(o.Lab)
	if err != nil {
		return 0, err
	}
	pod, err := findPod(s, o.Pod)
	if err != nil {
		return 0, err
	}
	if o.Container != "" {
		found := false
		var names []string
		for _, c := range pod.Containers {
			names = append(names, c.Name)
			found = found || c.Name == o.Container
		}
		if !found {
			return 0, fmt.Errorf("pod %s/%s has no container %q; containers are: %s", pod.Namespace, pod.Name, o.Container, strings.Join(names, ", "))
		}
	}
	if !pod.Running {
		return 0, fmt.Errorf("pod %s/%s is not running (its pause process is gone); run `netx datapath up` again", pod.Namespace, pod.Name)
	}
	argv := o.Argv
	if len(argv) == 0 {
		return 0, errors.New("no command given; add one after --, e.g. -- netx datapath get 10.96.0.10:80")
	}
	prog := argv[0]
	if (prog == "netx" || prog == "kubectl-netx") && o.Self != "" {
		prog = o.Self
	} else if prog, err = exec.LookPath(prog); err != nil {
		return 0, fmt.Errorf("command %q not found on this machine", argv[0])
	}
	cmd := exec.Command(prog, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	target := podTarget(pod.PID, pod.Netns)
	cmd.Env = append(cmd.Environ(), "NETX_LAB="+o.Lab, "NETX_POD="+pod.Namespace+"/"+pod.Name, "NETX_CONTAINER="+o.Container, "NETX_NODE="+pod.Node)
	if err := nsenter.Start(target, cmd); err != nil {
		return 0, fmt.Errorf("exec in pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

// findPod finds "name" or "namespace/name" in a lab.
func findPod(s *labstate.Status, ref string) (*labstate.PodStatus, error) {
	ns, name := "", ref
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		ns, name = ref[:i], ref[i+1:]
	}
	var known []string
	var match []*labstate.PodStatus
	for i := range s.Pods {
		p := &s.Pods[i]
		known = append(known, p.Namespace+"/"+p.Name)
		if p.Name == name && (ns == "" || p.Namespace == ns) {
			match = append(match, p)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, &PodNotFoundError{Lab: s.Lab, Pod: ref, Known: known}
	}
	return nil, fmt.Errorf("pod name %q is in several namespaces; write it as NAMESPACE/%s", name, name)
}

// podTarget is what a container joins: the pause's uts and ipc namespaces,
// and its network namespace (or netns, for a hostNetwork pod, its node's).
func podTarget(pausePID int, netns string) nsenter.Target {
	p := "/proc/" + strconv.Itoa(pausePID) + "/ns/"
	if netns == "" {
		netns = p + "net"
	}
	return nsenter.Target{Net: netns, UTS: p + "uts", IPC: p + "ipc"}
}

// DialIn opens a TCP connection from inside the network namespace at netns
// (a lab node, pod or client), for use from this one.
func DialIn(netns, address string) (net.Conn, error) {
	return nsenter.Dial(netns, "tcp", address, 5*time.Second)
}
