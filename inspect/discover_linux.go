package inspect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/procfs"
	"github.com/netx-project/netx/lab/labstate"
	"golang.org/x/sys/unix"
)

// selfNetns is a path to netx's own network namespace that means the same
// from every thread: an fd held open for the process's life, seen through
// /proc/PID/fd. /proc/self/ns/net is the main thread's, and the main
// thread may be one that nsenter has moved into a pod's namespace while
// other goroutines read.
var selfNetns = sync.OnceValue(func() string {
	// This goroutine is not locked to a thread, so its thread is in the
	// process's own namespace (nsenter only moves locked threads).
	fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "/proc/self/ns/net"
	}
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd)
})

// Discover finds every network namespace on the machine and reads the
// node's and each pod's networking. It only reads: netlink dumps through
// handles opened in each namespace, /proc, and the lab's state files.
func Discover(o Options) (*Snapshot, error) {
	self := o.HostNetns == ""
	if self {
		o.HostNetns = selfNetns()
	}
	hostID, err := nsenter.IDOf(o.HostNetns)
	if err != nil {
		return nil, fmt.Errorf("node namespace: %w", err)
	}
	snap := &Snapshot{Version: SchemaVersion, Taken: time.Now().UTC(), NodeName: o.NodeName}
	if snap.NodeName == "" && self {
		snap.NodeName, _ = os.Hostname()
	}
	all := map[uint64]*Netns{}
	get := func(id nsenter.ID, path string) *Netns {
		n := all[id.Ino]
		if n == nil {
			n = &Netns{Dev: id.Dev, Inode: id.Ino, Path: path}
			all[id.Ino] = n
		}
		return n
	}

	type labRead struct {
		found []labNetns
		err   error
	}
	labs := make(chan labRead, 1)
	if !o.NoLab {
		go func() {
			found, err := readLabs()
			labs <- labRead{found, err}
		}()
	}
	procs, perr := scanProc(hostID.Dev)
	snap.Sources = append(snap.Sources, sourceStatus(SourceProc, perr))
	for ino, ps := range procs {
		n := get(nsenter.ID{Dev: hostID.Dev, Ino: ino}, fmt.Sprintf("/proc/%d/ns/net", ps[0].PID))
		n.FoundBy = appendOnce(n.FoundBy, SourceProc)
		n.Processes = ps
	}

	netnsDir := filepath.Join(o.HostRoot, labstate.NetnsDir)
	names, nerr := os.ReadDir(netnsDir)
	if errors.Is(nerr, os.ErrNotExist) {
		nerr = nil
	}
	snap.Sources = append(snap.Sources, sourceStatus(SourceNetnsDir, nerr))
	for _, e := range names {
		p := filepath.Join(netnsDir, e.Name())
		id, err := nsenter.IDOf(p)
		if err != nil {
			continue // a file that is not (any longer) a namespace
		}
		n := get(id, p)
		n.Path = p // a bind mount outlives any process: the better path
		n.Names = append(n.Names, e.Name())
		n.FoundBy = appendOnce(n.FoundBy, SourceNetnsDir)
	}

	var hostPods []*HostNetworkPod
	if !o.NoLab {
		lr := <-labs
		labPods(lr.found, get, hostID, &hostPods)
		snap.Sources = append(snap.Sources, sourceStatus(SourceLab, lr.err))
	}
	ctrs := criContainers(o.CRIEndpoint)
	snap.Sources = append(snap.Sources, sourceStatus(SourceCRI, criPods(o.CRIEndpoint, hostID, get, ctrs, &hostPods)))

	ctrNames := map[string]string{}
	for _, c := range ctrs {
		if c.Name != "" {
			ctrNames[shortID(c.ID)] = c.Name
		}
	}
	node := all[hostID.Ino]
	if node == nil {
		node = get(hostID, o.HostNetns)
	}
	node.Path = o.HostNetns
	snap.Node = node
	for ino, n := range all {
		if ino != hostID.Ino {
			snap.Namespaces = append(snap.Namespaces, n)
		}
	}
	// Who a namespace's processes are and its networking are its own:
	// read each namespace whole on one of a few workers (each entering
	// its namespace on its own locked thread).
	work := make(chan *Netns)
	var wg sync.WaitGroup
	for range max(2, runtime.NumCPU()*2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, recvBufSize)
			for n := range work {
				identify(n, n == node, ctrNames)
				if n == node {
					// Before its read: listeners name their containers.
					snap.HostNetworkPods = hostPodProcesses(node, hostPods)
				}
				readNetns(n, n == node, o, buf)
			}
		}()
	}
	work <- node
	for _, n := range snap.Namespaces {
		work <- n
	}
	close(work)
	wg.Wait()
	sort.Slice(snap.Namespaces, func(i, j int) bool { return nsLess(snap.Namespaces[i], snap.Namespaces[j]) })
	resolvePeers(snap)
	if o.AttachedOnly {
		keepAttached(snap)
	}
	return snap, nil
}

func sourceStatus(name string, err error) SourceStatus {
	s := SourceStatus{Name: name, Used: err == nil}
	if err != nil {
		s.Error = err.Error()
	}
	return s
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// identify names a namespace's processes — their commands, the lab
// container (from its environment) or the runtime's (from the cgroup),
// oldest first — and, but for the node's, the pod the cgroups name and
// its pause (the oldest process, for a pod no source named).
func identify(n *Netns, isNode bool, ctrNames map[string]string) {
	for i := range n.Processes {
		p := &n.Processes[i]
		p.Comm = readTrim(fmt.Sprintf("/proc/%d/comm", p.PID))
		if n.labPod && p.PID != n.PausePID {
			// A container the lab started, or one of its children
			// (from the environment it inherited).
			var ok bool
			if p.Container, ok = n.labContainers[p.PID]; !ok {
				p.Container = labContainer(p.PID)
			}
		}
	}
	if !isNode && !n.labPod {
		// The node is nobody's pod, even when all its processes are one
		// hostNetwork pod's. A lab pod is named by its lab: its
		// processes' cgroups are whoever ran the lab's (a kubelet pod's
		// when the lab runs in one).
		identifyPod(n)
	}
	orderProcesses(n)
	for i := range n.Processes {
		if name, ok := ctrNames[n.Processes[i].Container]; ok {
			n.Processes[i].Container = name
		}
	}
	if !isNode && n.PausePID == 0 && len(n.Processes) > 0 {
		n.PausePID = n.Processes[0].PID
	}
}

// nsLess orders pods first (by namespace/name), then other namespaces.
func nsLess(a, b *Netns) bool {
	switch {
	case a.Pod != nil && b.Pod == nil:
		return true
	case a.Pod == nil && b.Pod != nil:
		return false
	case a.Pod != nil:
		if a.Pod.Namespace != b.Pod.Namespace {
			return a.Pod.Namespace < b.Pod.Namespace
		}
		if a.Pod.Name != b.Pod.Name {
			return a.Pod.Name < b.Pod.Name
		}
	}
	if len(a.Names) > 0 && len(b.Names) > 0 && a.Names[0] != b.Names[0] {
		return a.Names[0] < b.Names[0]
	}
	return a.Inode < b.Inode
}

// scanProc groups processes by network namespace inode. readlink of
// /proc/PID/ns/net ("net:[INODE]") is one syscall per process; every
// namespace file lives on the one nsfs device.
func scanProc(dev uint64) (map[uint64][]Process, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := map[uint64][]Process{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ino, ok := nsLinkInode(fmt.Sprintf("/proc/%d/ns/net", pid))
		if !ok {
			continue // exited, or a kernel thread we may not read
		}
		out[ino] = append(out[ino], Process{PID: pid}) // the rest: identify
	}
	return out, nil
}

// nsLinkInode reads "net:[4026531840]" from a namespace symlink.
func nsLinkInode(path string) (uint64, bool) {
	l, err := os.Readlink(path)
	if err != nil {
		return 0, false
	}
	i := strings.IndexByte(l, '[')
	if i < 0 || !strings.HasSuffix(l, "]") {
		return 0, false
	}
	v, err := strconv.ParseUint(l[i+1:len(l)-1], 10, 64)
	return v, err == nil
}

func readTrim(path string) string {
	b, _ := procfs.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// labNetns is a namespace the lab state names: a running pod's (its
// own, or the node's for a hostNetwork pod) or a node's.
type labNetns struct {
	id   nsenter.ID
	path string
	pod  *labstate.PodStatus // nil: a node's
}

// readLabs reads every lab's state on this machine (which checks each
// recorded process is still the one started): apart from the /proc scan,
// which it does not need.
func readLabs() ([]labNetns, error) {
	var out []labNetns
	var errs []error
	for _, plan := range labstate.Labs() {
		st, err := labstate.Get(plan)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i := range st.Pods {
			p := &st.Pods[i]
			if !p.Running || p.Netns == "" {
				continue
			}
			if id, err := nsenter.IDOf(p.Netns); err == nil {
				out = append(out, labNetns{id: id, path: p.Netns, pod: p})
			}
		}
		for _, nd := range st.Nodes {
			if id, err := nsenter.IDOf(nd.Netns); err == nil {
				out = append(out, labNetns{id: id, path: nd.Netns})
			}
		}
	}
	return out, errors.Join(errs...)
}

// labPods names the namespaces of netx lab pods and nodes.
func labPods(found []labNetns, get func(nsenter.ID, string) *Netns, host nsenter.ID, hostPods *[]*HostNetworkPod) {
	for _, f := range found {
		n := get(f.id, f.path)
		n.FoundBy = appendOnce(n.FoundBy, SourceLab)
		p := f.pod
		if p == nil {
			continue
		}
		if p.HostNetwork {
			if f.id == host {
				*hostPods = append(*hostPods, labHostPod(*p))
			}
			continue // the node's namespace, not the pod's own
		}
		n.Pod = &PodRef{Namespace: p.Namespace, Name: p.Name, Node: p.Node}
		n.PausePID = p.PID
		n.labPod = true // its processes' containers: identify
		for _, c := range p.Containers {
			if c.State == "running" {
				if n.labContainers == nil {
					n.labContainers = map[int]string{}
				}
				n.labContainers[c.PID] = c.Name
			}
			if c.State == "error" && strings.Contains(c.Error, "address already in use") {
				n.Warnings = append(n.Warnings, fmt.Sprintf("container %s could not listen: %s (containers of a pod share one port space)", c.Name, c.Error))
			}
		}
	}
}

// labHostPod is a lab's hostNetwork pod with the processes the lab
// started for it and the ports its topology declares.
func labHostPod(p labstate.PodStatus) *HostNetworkPod {
	hp := &HostNetworkPod{PodRef: PodRef{Namespace: p.Namespace, Name: p.Name, Node: p.Node}, PausePID: p.PID, FoundBy: []string{SourceLab}}
	for _, c := range p.Containers {
		ct := Container{Name: c.Name}
		if c.State == "running" && c.PID > 0 {
			ct.PIDs = []int{c.PID}
		}
		for _, cp := range c.Ports {
			ct.Ports = append(ct.Ports, ContainerPort{Name: cp.Name, Port: cp.Port, Protocol: strings.ToLower(cp.Protocol)})
		}
		hp.Containers = append(hp.Containers, ct)
	}
	return hp
}

// criPods names namespaces after the runtime's pod sandboxes, found by
// their pause process, and collects the hostNetwork ones with their
// running containers.
func criPods(endpoint string, host nsenter.ID, get func(nsenter.ID, string) *Netns, ctrs []criContainer, hostPods *[]*HostNetworkPod) error {
	ep := criEndpoint(endpoint)
	if ep == "" {
		return errNoRuntime
	}
	sbs, err := criSandboxes(ep)
	if err != nil {
		return err
	}
	for _, sb := range sbs {
		if sb.HostNetwork {
			// It lives in the node's namespace, not one of its own: a pod
			// of this node only if its pause shares this node's (or, the
			// runtime giving no pause, if one of the node's processes is
			// the pod's: hostPodProcesses decides).
			if sb.PausePID > 0 {
				if id, err := nsenter.IDOf(fmt.Sprintf("/proc/%d/ns/net", sb.PausePID)); err != nil || id != host {
					continue
				}
			}
			hp := &HostNetworkPod{PodRef: sb.Pod, PausePID: sb.PausePID, FoundBy: []string{SourceCRI}}
			for _, c := range ctrs {
				if c.SandboxID == sb.ID && c.Running {
					hp.Containers = append(hp.Containers, Container{Name: c.Name, ID: shortID(c.ID), Ports: c.Ports})
				}
			}
			sort.Slice(hp.Containers, func(i, j int) bool { return hp.Containers[i].Name < hp.Containers[j].Name })
			*hostPods = append(*hostPods, hp)
			continue
		}
		path := sb.Netns
		if sb.PausePID > 0 {
			path = fmt.Sprintf("/proc/%d/ns/net", sb.PausePID)
		}
		if path == "" {
			continue
		}
		id, err := nsenter.IDOf(path)
		if err != nil {
			continue
		}
		n := get(id, path)
		n.FoundBy = appendOnce(n.FoundBy, SourceCRI)
		pod := sb.Pod
		n.Pod = &pod
		if sb.PausePID > 0 {
			n.PausePID = sb.PausePID
		}
	}
	return nil
}

// labContainer reads the container name netx gives a lab process.
func labContainer(pid int) string {
	b, err := procfs.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return ""
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, "NETX_CONTAINER="); ok {
			return v
		}
	}
	return ""
}

// podUID matches the pod UID kubelet puts in cgroup paths, with the
// cgroupfs driver (/kubepods/besteffort/pod<uid>/<container>) and the
// systemd one (kubepods-besteffort-pod<uid with _>.slice).
// (Compiled on first use: netx starts once per lab pod, as its pause.)
var (
	podUID = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})`)
	})
	containerID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`([0-9a-f]{64})`) })
)

// identifyPod finds the pod UID and container IDs in the processes'
// cgroups. A namespace is a pod's only if every process in it belongs to
// that one pod: the node's namespace also holds hostNetwork pods, next to
// kubelet and the rest.
func identifyPod(n *Netns) {
	uid := ""
	for i := range n.Processes {
		cg, err := procfs.ReadFile(fmt.Sprintf("/proc/%d/cgroup", n.Processes[i].PID))
		if err != nil {
			continue
		}
		m := podUID().FindSubmatch(cg)
		if m == nil {
			return
		}
		u := strings.ReplaceAll(string(m[1]), "_", "-")
		if uid != "" && u != uid {
			return
		}
		uid = u
		if c := containerID().FindSubmatch(cg); c != nil && n.Processes[i].Container == "" {
			n.Processes[i].Container = string(c[1])[:12]
		}
	}
	if uid == "" {
		return
	}
	if n.Pod == nil {
		n.Pod = &PodRef{UID: uid}
	} else if n.Pod.UID == "" {
		n.Pod.UID = uid
	}
}

// orderProcesses puts the oldest process first (the pause, for a pod)
// and records which of its other namespaces each process shares.
func orderProcesses(n *Netns) {
	if len(n.Processes) == 0 {
		return
	}
	if len(n.Processes) > 1 {
		start := map[int]uint64{}
		for _, p := range n.Processes {
			start[p.PID] = labstate.ProcessStart(p.PID)
		}
		sort.SliceStable(n.Processes, func(i, j int) bool {
			a, b := n.Processes[i], n.Processes[j]
			if start[a.PID] != start[b.PID] {
				return start[a.PID] < start[b.PID]
			}
			return a.PID < b.PID
		})
	}
	if n.PausePID == 0 && n.Pod != nil {
		n.PausePID = n.Processes[0].PID
	}
	ref := n.PausePID
	if ref == 0 {
		ref = n.Processes[0].PID
	}
	for i := range n.Processes {
		p := &n.Processes[i]
		p.Cmdline = strings.TrimSpace(strings.ReplaceAll(readTrim(fmt.Sprintf("/proc/%d/cmdline", p.PID)), "\x00", " "))
		if p.PID == ref {
			continue
		}
		for _, kind := range []string{"uts", "ipc", "pid"} {
			a, ok1 := nsLinkInode(fmt.Sprintf("/proc/%d/ns/%s", p.PID, kind))
			b, ok2 := nsLinkInode(fmt.Sprintf("/proc/%d/ns/%s", ref, kind))
			if ok1 && ok2 && a == b {
				p.Shares = append(p.Shares, kind)
			}
		}
	}
}

// hostPodProcesses gives the node's hostNetwork pods their processes and
// names those processes' containers. A process of the node's namespace is
// a pod's when its cgroup names the pod's UID (kubelet's
// …/pod<UID>/<container ID>: the pause under the sandbox's ID, each
// container under its own), or when the lab recorded it as the pod's pause
// or container. A pod the runtime gave no pause PID for is this node's only
// if one of the node's processes is its. A pod two sources name is one.
func hostPodProcesses(node *Netns, found []*HostNetworkPod) []HostNetworkPod {
	var pods []*HostNetworkPod
	byKey := map[string]*HostNetworkPod{}
	for _, p := range found {
		k := p.Namespace + "/" + p.Name
		have, ok := byKey[k]
		if !ok {
			byKey[k] = p
			pods = append(pods, p)
			continue
		}
		for _, f := range p.FoundBy {
			have.FoundBy = appendOnce(have.FoundBy, f)
		}
		if have.UID == "" {
			have.UID = p.UID
		}
		if have.PausePID == 0 {
			have.PausePID = p.PausePID
		}
		if len(have.Containers) == 0 {
			have.Containers = p.Containers
		}
	}
	if len(pods) == 0 {
		return nil
	}
	byUID := map[string]*HostNetworkPod{}
	for _, p := range pods {
		if p.UID != "" {
			byUID[p.UID] = p
		}
	}
	seen := map[*HostNetworkPod]bool{}
	for i := range node.Processes { // oldest first: a pod's pause before its containers
		proc := &node.Processes[i]
		pod, ct := recordedHostPod(pods, proc.PID)
		if pod == nil && len(byUID) > 0 {
			pod, ct = cgroupHostPod(byUID, proc.PID)
		}
		if pod == nil {
			continue
		}
		seen[pod] = true
		switch {
		case ct != nil:
			if !slices.Contains(ct.PIDs, proc.PID) {
				ct.PIDs = append(ct.PIDs, proc.PID)
			}
			proc.Container = ct.Name
		case pod.PausePID == 0:
			pod.PausePID = proc.PID
		}
	}
	var out []HostNetworkPod
	for _, p := range pods {
		if p.PausePID > 0 || seen[p] {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// recordedHostPod finds the pod a process was recorded for: its pause, or
// one of its containers (the lab's records).
func recordedHostPod(pods []*HostNetworkPod, pid int) (*HostNetworkPod, *Container) {
	for _, p := range pods {
		for j := range p.Containers {
			if slices.Contains(p.Containers[j].PIDs, pid) {
				return p, &p.Containers[j]
			}
		}
		if p.PausePID == pid {
			return p, nil
		}
	}
	return nil, nil
}

// cgroupHostPod finds the pod and container a process's cgroup names; the
// container is nil for the pause (the sandbox's own cgroup) or a container
// the runtime did not list as running.
func cgroupHostPod(byUID map[string]*HostNetworkPod, pid int) (*HostNetworkPod, *Container) {
	cg, err := procfs.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, nil
	}
	m := podUID().FindSubmatch(cg)
	if m == nil {
		return nil, nil
	}
	p := byUID[strings.ReplaceAll(string(m[1]), "_", "-")]
	if p == nil {
		return nil, nil
	}
	if c := containerID().FindSubmatch(cg); c != nil {
		id := string(c[1])[:12]
		for j := range p.Containers {
			if p.Containers[j].ID == id {
				return p, &p.Containers[j]
			}
		}
	}
	return p, nil
}
