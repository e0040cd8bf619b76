package lab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Topology is what a lab file declares. Everything left empty is filled in
// deterministically by Resolve, so the same file always builds the same lab.
type Topology struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	// Name names the lab's namespaces (netx.<name>.<node>) and state.
	Name string `yaml:"name"`
	// Underlay is the node network shared by nodes and external clients.
	Underlay    string `yaml:"underlay"`
	ClusterCIDR string `yaml:"clusterCIDR"`
	ServiceCIDR string `yaml:"serviceCIDR"`
	// Overlay is how pod CIDRs reach other nodes: host-gw (routes via node
	// IPs) or vxlan (flannel-style VTEPs); none builds no pod network at
	// all (no bridges, routes or masquerading: a CNI installed later does,
	// as on a cluster before its network add-on).
	Overlay string `yaml:"overlay"`
	// Proxy is the kube-proxy mode whose rules are written: iptables,
	// nftables, or none (a real kube-proxy will write them).
	Proxy    string     `yaml:"proxy"`
	Nodes    []Node     `yaml:"nodes"`
	Pods     []Pod      `yaml:"pods"`
	Services []Service  `yaml:"services"`
	Clients  []Client   `yaml:"clients"`
	file     string     // where it was read from, for messages
	root     *yaml.Node // for line numbers
}

// Node is one worker: a network namespace with an uplink on the underlay.
type Node struct {
	Name    string `yaml:"name"`
	IP      string `yaml:"ip"`
	PodCIDR string `yaml:"podCIDR"`
}

// Pod is a pause process owning net, uts and ipc namespaces, plus the
// containers that join them.
type Pod struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Node        string            `yaml:"node"`
	IP          string            `yaml:"ip"`
	Labels      map[string]string `yaml:"labels"`
	HostNetwork bool              `yaml:"hostNetwork"`
	// AllowPortConflict lets two containers declare one port, to reproduce
	// the "address in use" failure of the second one deliberately.
	AllowPortConflict bool        `yaml:"allowPortConflict"`
	Containers        []Container `yaml:"containers"`
}

// Container is a process joined to its pod's namespaces. Exactly one of
// Serve, Forward and Command says what it runs.
type Container struct {
	Name string `yaml:"name"`
	// Serve runs netx's built-in TCP/HTTP server on this port.
	Serve int `yaml:"serve"`
	// ServeUDP makes that server answer UDP datagrams on the same port
	// too (netx datapath serve --udp), for UDP services.
	ServeUDP bool `yaml:"serveUDP"`
	// Forward runs netx's built-in TCP forwarder.
	Forward *Forward `yaml:"forward"`
	// Command runs any program; "netx" as the first word means this binary.
	Command []string        `yaml:"command"`
	Ports   []ContainerPort `yaml:"ports"`
}

// Forward relays TCP connections from Listen to To (host:port).
type Forward struct {
	Listen int    `yaml:"listen"`
	To     string `yaml:"to"`
}

// ContainerPort mirrors the Kubernetes field of the same name.
type ContainerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	HostPort      int    `yaml:"hostPort"`
	Protocol      string `yaml:"protocol"`
}

// Service mirrors the parts of a Kubernetes Service kube-proxy acts on.
type Service struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Type      string            `yaml:"type"`
	ClusterIP string            `yaml:"clusterIP"`
	Selector  map[string]string `yaml:"selector"`
	Ports     []ServicePort     `yaml:"ports"`
	// SessionAffinity is None (the default) or ClientIP: a client goes
	// to the endpoint it went to first, for SessionAffinityConfig's
	// clientIP.timeoutSeconds (default 10800), as on Kubernetes.
	SessionAffinity       string                 `yaml:"sessionAffinity"`
	SessionAffinityConfig *SessionAffinityConfig `yaml:"sessionAffinityConfig"`
}

// SessionAffinityConfig mirrors core/v1 SessionAffinityConfig.
type SessionAffinityConfig struct {
	ClientIP struct {
		TimeoutSeconds int `yaml:"timeoutSeconds"`
	} `yaml:"clientIP"`
}

// ServicePort mirrors core/v1 ServicePort; TargetPort is a number or a
// container port name.
type ServicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort string `yaml:"targetPort"`
	NodePort   int    `yaml:"nodePort"`
	Protocol   string `yaml:"protocol"`
}

// Client is a machine outside the cluster on the underlay ("the Internet").
type Client struct {
	Name string `yaml:"name"`
	IP   string `yaml:"ip"`
}

// Defaults applied by Resolve when a topology leaves a field empty.
const (
	DefaultUnderlay    = "192.168.77.0/24"
	DefaultClusterCIDR = "10.244.0.0/16"
	DefaultServiceCIDR = "10.96.0.0/16"
	OverlayHostGW      = "host-gw"
	OverlayVXLAN       = "vxlan"
	OverlayNone        = "none"
	ProxyIPTables      = "iptables"
	ProxyNFTables      = "nftables"
	// ProxyNone writes no service rules: for a lab whose services a real
	// kube-proxy programs (the e2e cluster's network).
	ProxyNone    = "none"
	APIVersion   = "netx.dev/v1alpha1"
	KindTopology = "Topology"
)

// InputError is a problem in a topology file the user can fix. Each problem
// is one line naming file:line, the object, and what to change.
type InputError struct {
	Problems []string
}

func (e *InputError) Error() string { return strings.Join(e.Problems, "\n") }

// LoadFile reads and validates a topology file.
func LoadFile(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a topology strictly (unknown fields are errors) and
// validates it. name is used in messages only.
func Parse(name string, data []byte) (*Topology, error) {
	t := &Topology{file: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(t); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &InputError{[]string{name + ": empty topology; declare at least one node under nodes:"}}
		}
		return nil, &InputError{yamlProblems(name, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		return nil, &InputError{[]string{fmt.Sprintf("%s:%d: a topology is one YAML document; remove everything from the second document (---) on, or put it in its own file", name, line)}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil && len(root.Content) > 0 {
		t.root = root.Content[0]
	}
	t.file = name
	if err := t.validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// yamlProblems rewrites yaml.v3's messages ("line 7: field foo not found in
// type lab.Pod") into file:line form with the fix.
func yamlProblems(file string, err error) []string {
	// Compiled here, not at package level: only the error path needs them,
	// and netx starts once per pod (as the pause), so init work counts.
	yamlLine := regexp.MustCompile(`^\s*(?:yaml: )?line (\d+): (.*)$`)
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "yaml: unmarshal errors:") {
			continue
		}
		m := yamlLine.FindStringSubmatch(l)
		if m == nil {
			out = append(out, fmt.Sprintf("%s: %s", file, strings.TrimPrefix(l, "yaml: ")))
			continue
		}
		msg := m[2]
		if f, typ, ok := unknownField(msg); ok {
			msg = fmt.Sprintf("unknown field %q in %s; remove it or fix its spelling (see netx's built-in seeds topology, lab/topologies/seeds.yaml in its source)", f, typ)
		}
		out = append(out, fmt.Sprintf("%s:%s: %s", file, m[1], msg))
	}
	return out
}

func unknownField(msg string) (field, typ string, ok bool) {
	m := regexp.MustCompile(`field (\S+) not found in type \w+\.(\w+)`).FindStringSubmatch(msg)
	if m == nil {
		return "", "", false
	}
	return m[1], strings.ToLower(m[2]), true
}

// line returns the source line of the value at path (keys and indexes)
// in the document, or 0 when unknown.
func (t *Topology) line(path ...any) int {
	n := t.root
	for _, p := range path {
		if n == nil {
			return 0
		}
		switch p := p.(type) {
		case string:
			var next *yaml.Node
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
						break
					}
				}
			}
			if next == nil {
				return n.Line
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || p >= len(n.Content) {
				return n.Line
			}
			n = n.Content[p]
		}
	}
	if n == nil {
		return 0
	}
	return n.Line
}

// at formats "file:line: " for a path in the document.
func (t *Topology) at(path ...any) string {
	if l := t.line(path...); l > 0 {
		return t.file + ":" + strconv.Itoa(l) + ": "
	}
	return t.file + ": "
}
