package labstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Status is what `datapath status -o json` prints: the lab as built, with
// live process state. Every netns is a path usable with nsenter --net=PATH.
type Status struct {
	Lab      string          `json:"lab"`
	Source   string          `json:"source"`
	Overlay  string          `json:"overlay"`
	Proxy    string          `json:"proxy"`
	Complete bool            `json:"complete"` // up finished
	Nodes    []NodeStatus    `json:"nodes"`
	Pods     []PodStatus     `json:"pods"`
	Services []ServiceStatus `json:"services"`
	Clients  []ClientStatus  `json:"clients"`
}

// NodeStatus is one node.
type NodeStatus struct {
	Name    string `json:"name"`
	IP      string `json:"ip"`
	PodCIDR string `json:"podCIDR"`
	Netns   string `json:"netns"`
}

// PodStatus is one pod; PID is its pause process.
type PodStatus struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Node        string            `json:"node"`
	IP          string            `json:"ip"`
	Netns       string            `json:"netns"`
	PID         int               `json:"pid"`
	HostNetwork bool              `json:"hostNetwork"`
	Running     bool              `json:"running"`
	Containers  []ContainerStatus `json:"containers"`
}

// Key is namespace/name, the way kubectl names a pod.
func (p PodStatus) Key() string { return p.Namespace + "/" + p.Name }

// ContainerStatus is one container process.
type ContainerStatus struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	State string `json:"state"` // running | error | exited | not started
	Error string `json:"error,omitempty"`
	Log   string `json:"log,omitempty"`
	// Ports are the ports the topology declares for it (serve: PORT
	// declares its own).
	Ports []ContainerPort `json:"ports,omitempty"`
}

// ContainerPort is a port a container declares.
type ContainerPort struct {
	Name     string `json:"name,omitempty"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"` // TCP, UDP or SCTP
}

// ServiceStatus is one service.
type ServiceStatus struct {
	Name      string       `json:"name"`
	Namespace string       `json:"namespace"`
	Type      string       `json:"type"`
	ClusterIP string       `json:"clusterIP"`
	Ports     []PortStatus `json:"ports"`
	Endpoints []string     `json:"endpoints"`
}

// PortStatus is one service port.
type PortStatus struct {
	Name       string `json:"name,omitempty"`
	Port       int    `json:"port"`
	TargetPort string `json:"targetPort"`
	NodePort   int    `json:"nodePort,omitempty"`
	Protocol   string `json:"protocol"`
}

// ClientStatus is one external client.
type ClientStatus struct {
	Name  string `json:"name"`
	IP    string `json:"ip"`
	Netns string `json:"netns"`
}

// NotUpError says a lab has no state on this machine.
type NotUpError struct {
	Lab  string
	Labs []string
}

func (e *NotUpError) Error() string {
	if e.Lab == "" {
		return "no lab is up; start one with `netx datapath up` (the built-in seeds lab)"
	}
	msg := fmt.Sprintf("lab %q is not up", e.Lab)
	if len(e.Labs) > 0 {
		return msg + "; labs that are: " + strings.Join(e.Labs, ", ")
	}
	return msg + "; start it with `netx datapath up -f FILE`"
}

// ResolveName picks the lab a command means: the one named, or the only
// one that is up.
func ResolveName(name string) (string, error) {
	if name != "" {
		return name, ValidName(name)
	}
	labs := Labs()
	switch len(labs) {
	case 0:
		return "", &NotUpError{}
	case 1:
		return labs[0], nil
	}
	return "", fmt.Errorf("several labs are up (%s); name one with --name", strings.Join(labs, ", "))
}

// saved is lab.json as a reader needs it: where the plan came from and
// the parts of the plan a status shows. lab writes the whole plan; the
// field names are the same.
type saved struct {
	Source string `json:"source"`
	Lab    struct {
		Name    string `json:"name"`
		Overlay string `json:"overlay"`
		Proxy   string `json:"proxy"`
		Nodes   []struct {
			Name    string       `json:"name"`
			IP      netip.Addr   `json:"ip"`
			PodCIDR netip.Prefix `json:"podCIDR"`
			Netns   string       `json:"netns"`
		} `json:"nodes"`
		Pods []struct {
			Name        string     `json:"name"`
			Namespace   string     `json:"namespace"`
			Node        string     `json:"node"`
			IP          netip.Addr `json:"ip"`
			HostNetwork bool       `json:"hostNetwork"`
			Containers  []struct {
				Name string `json:"name"`
				// lab.ContainerPort has no JSON names of its own: its
				// fields are written as Go spells them.
				Ports []struct {
					Name          string
					ContainerPort int
					Protocol      string
				} `json:"ports"`
			} `json:"containers"`
		} `json:"pods"`
		Services []struct {
			Name      string     `json:"name"`
			Namespace string     `json:"namespace"`
			Type      string     `json:"type"`
			ClusterIP netip.Addr `json:"clusterIP"`
			Ports     []struct {
				Name       string `json:"name"`
				Port       int    `json:"port"`
				Protocol   string `json:"protocol"`
				TargetPort string `json:"targetPort"`
				NodePort   int    `json:"nodePort"`
				Endpoints  []struct {
					IP netip.AddrPort `json:"ip"`
				} `json:"endpoints"`
			} `json:"ports"`
		} `json:"services"`
		Clients []struct {
			Name  string     `json:"name"`
			IP    netip.Addr `json:"ip"`
			Netns string     `json:"netns"`
		} `json:"clients"`
	} `json:"lab"`
}

// Get reads the named lab's state and checks its processes.
func Get(name string) (*Status, error) { return ReadStatus(Dir(name)) }

// ReadStatus reads the lab state in dir (Dir(name) for a lab of this
// machine) and checks its processes.
func ReadStatus(dir string) (*Status, error) {
	name := filepath.Base(dir)
	plan := filepath.Join(dir, "lab.json")
	b, err := os.ReadFile(plan)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &NotUpError{Lab: name, Labs: Labs()}
	}
	if err != nil {
		return nil, err
	}
	var sl saved
	if err := json.Unmarshal(b, &sl); err != nil {
		return nil, fmt.Errorf("read %s: %w", plan, err)
	}
	recs, err := ReadJournal(filepath.Join(dir, "journal"))
	if err != nil {
		return nil, err
	}
	lab := sl.Lab
	s := &Status{Lab: lab.Name, Source: sl.Source, Overlay: lab.Overlay, Proxy: lab.Proxy}
	pauses := map[string]Record{}
	conts := map[string]Record{}
	for _, r := range recs {
		switch {
		case r.Op == RecProc && r.Role == RolePause:
			pauses[r.Pod] = r
		case r.Op == RecProc && r.Role == RoleContainer:
			k := r.Pod + "\x00" + r.Container
			if old, ok := conts[k]; ok && r.Error != "" && old.PID == r.PID {
				old.Error = r.Error
				r = old
			}
			conts[k] = r
		}
	}
	s.Complete = LastRunComplete(recs)
	var procs []Record
	for _, r := range pauses {
		procs = append(procs, r)
	}
	for _, r := range conts {
		if r.Error == "" {
			procs = append(procs, r)
		}
	}
	alive := aliveAll(procs)
	nodeNetns := map[string]string{}
	for _, n := range lab.Nodes {
		nodeNetns[n.Name] = n.Netns
		s.Nodes = append(s.Nodes, NodeStatus{Name: n.Name, IP: n.IP.String(), PodCIDR: n.PodCIDR.String(), Netns: n.Netns})
	}
	for _, p := range lab.Pods {
		ps := PodStatus{Name: p.Name, Namespace: p.Namespace, Node: p.Node, IP: p.IP.String(), HostNetwork: p.HostNetwork}
		pr, ok := pauses[ps.Key()]
		if ok {
			ps.PID = pr.PID
			ps.Running = alive[pr.proc()]
		}
		switch {
		case p.HostNetwork:
			ps.Netns = nodeNetns[p.Node]
		case ps.Running:
			// Only a live pause: after PID reuse the path would lead elsewhere.
			ps.Netns = PodNetns(ps.PID)
		}
		for _, c := range p.Containers {
			cs := ContainerStatus{Name: c.Name, State: "not started", Log: logFile(dir, ps.Key(), c.Name)}
			for _, cp := range c.Ports {
				cs.Ports = append(cs.Ports, ContainerPort{Name: cp.Name, Port: cp.ContainerPort, Protocol: cp.Protocol})
			}
			if r, ok := conts[ps.Key()+"\x00"+c.Name]; ok {
				cs.PID = r.PID
				switch {
				case r.Error != "":
					cs.State, cs.Error = "error", r.Error
				case alive[r.proc()]:
					cs.State = "running"
				default:
					cs.State = "exited"
					cs.Error = lastLine(cs.Log)
				}
			}
			ps.Containers = append(ps.Containers, cs)
		}
		s.Pods = append(s.Pods, ps)
	}
	for _, svc := range lab.Services {
		ss := ServiceStatus{Name: svc.Name, Namespace: svc.Namespace, Type: svc.Type, ClusterIP: svc.ClusterIP.String()}
		seen := map[string]bool{}
		for _, p := range svc.Ports {
			ss.Ports = append(ss.Ports, PortStatus{Name: p.Name, Port: p.Port, TargetPort: p.TargetPort, NodePort: p.NodePort, Protocol: p.Protocol})
			for _, e := range p.Endpoints {
				if !seen[e.IP.String()] {
					seen[e.IP.String()] = true
					ss.Endpoints = append(ss.Endpoints, e.IP.String())
				}
			}
		}
		sort.Strings(ss.Endpoints)
		s.Services = append(s.Services, ss)
	}
	for _, c := range lab.Clients {
		s.Clients = append(s.Clients, ClientStatus{Name: c.Name, IP: c.IP.String(), Netns: c.Netns})
	}
	return s, nil
}

// proc is a process record's identity: its PID and start time.
func (r Record) proc() [2]uint64 { return [2]uint64{uint64(r.PID), r.Start} }

// aliveAll checks which of the recorded processes still run, on a few
// goroutines: a lab of a thousand pods is a thousand /proc/PID/stat reads
// (about 30 µs each).
func aliveAll(recs []Record) map[[2]uint64]bool {
	out := make(map[[2]uint64]bool, len(recs))
	if len(recs) < 64 {
		for _, r := range recs {
			out[r.proc()] = r.Alive()
		}
		return out
	}
	workers := min(runtime.NumCPU(), 8)
	got := make([]bool, len(recs))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += workers {
				got[i] = recs[i].Alive()
			}
		}()
	}
	wg.Wait()
	for i, r := range recs {
		out[r.proc()] = got[i]
	}
	return out
}

func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// Ready counts running containers, as kubectl's READY column does.
func (p PodStatus) Ready() (ready, total int) {
	for _, c := range p.Containers {
		if c.State == "running" {
			ready++
		}
	}
	return ready, len(p.Containers)
}

// Phase is a one-word summary in kubectl's style.
func (p PodStatus) Phase() string {
	if !p.Running {
		return "NotRunning"
	}
	r, t := p.Ready()
	if r == t {
		return "Running"
	}
	for _, c := range p.Containers {
		if c.State == "error" || c.State == "exited" {
			return "Error"
		}
	}
	return "Pending"
}
