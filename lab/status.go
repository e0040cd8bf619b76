package lab

import (
	"fmt"
	"os"
	"strings"
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

// ContainerStatus is one container process.
type ContainerStatus struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	State string `json:"state"` // running | error | exited | not started
	Error string `json:"error,omitempty"`
	Log   string `json:"log,omitempty"`
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
		return "no lab is up; start one with `netx datapath up -f testdata/topologies/seeds.yaml`"
	}
	msg := fmt.Sprintf("lab %q is not up", e.Lab)
	if len(e.Labs) > 0 {
		return msg + "; labs that are: " + strings.Join(e.Labs, ", ")
	}
	return msg + "; start it with `netx datapath up -f FILE`"
}

// ResolveLabName picks the lab a command means: the one named, or the only
// one that is up.
func ResolveLabName(name string) (string, error) {
	if name != "" {
		return name, ValidLabName(name)
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
