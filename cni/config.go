// Package cni is netx's CNI plugin (kubectl-netx cni, installed on a node
// as netx-cni): a pod network built from the same datapath blocks as the
// lab — a bridge on the node, a veth pair per pod, the pod's address from
// the node's pod CIDR and its default route via the bridge. It implements
// the CNI spec through containernetworking/cni's skel: ADD, DEL, CHECK,
// STATUS, GC and VERSION.
package cni

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// PluginName is the plugin's type in a network configuration, and the
// name its binary is installed under in the CNI bin directory.
const PluginName = "netx-cni"

// DefaultDataDir keeps the plugin's state on the node: the pod CIDR the
// agent learnt from the Node object, and the addresses handed out.
const DefaultDataDir = "/var/lib/netx-cni"

// PodCIDRFile, in the data directory, holds the node's pod CIDR when the
// network configuration does not name one (the agent writes it from the
// Node's spec.podCIDR).
const PodCIDRFile = "podcidr"

// Supported are the CNI versions the plugin speaks.
var Supported = version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

// NetConf is the plugin's network configuration.
type NetConf struct {
	types.PluginConf
	// Bridge is the node's bridge for pods (default cni0).
	Bridge string `json:"bridge,omitempty"`
	// PodCIDR is the node's pod network; empty: read from the data
	// directory (written by the agent).
	PodCIDR string `json:"podCIDR,omitempty"`
	// MTU of the pods' interfaces and the bridge (0: the kernel's 1500).
	MTU int `json:"mtu,omitempty"`
	// DataDir holds the plugin's state (default DefaultDataDir).
	DataDir string `json:"dataDir,omitempty"`
	// ClusterCIDR, when set, is the cluster's pod network: pod traffic
	// leaving it is masqueraded (kubeproxy.Masquerade, the lab's rule).
	ClusterCIDR string `json:"clusterCIDR,omitempty"`
	// RuntimeConfig is what the runtime passes for the capabilities the
	// configuration declares: the pod's hostPorts.
	RuntimeConfig struct {
		PortMappings []PortMapping `json:"portMappings,omitempty"`
	} `json:"runtimeConfig,omitempty"`
}

// PortMapping is one entry of the runtime's portMappings capability: a
// pod's hostPort.
type PortMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// loadConf reads the configuration from stdin's bytes, with defaults.
func loadConf(b []byte) (*NetConf, error) {
	c := &NetConf{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "netx-cni: the network configuration is not JSON", err.Error())
	}
	if c.Bridge == "" {
		c.Bridge = "cni0"
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Name == "" || strings.ContainsAny(c.Name, "/\x00") {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("netx-cni: network name %q: give the network a name without /", c.Name), "")
	}
	if len(c.Bridge) > 15 {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("netx-cni: bridge %q: an interface name has at most 15 characters", c.Bridge), "")
	}
	for _, m := range c.RuntimeConfig.PortMappings {
		if m.HostPort < 1 || m.HostPort > 65535 || m.ContainerPort < 1 || m.ContainerPort > 65535 {
			return nil, types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("netx-cni: port mapping %d:%d/%s: want two ports", m.HostPort, m.ContainerPort, m.Protocol), "")
		}
	}
	if c.MTU < 0 || c.MTU > 65535 {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("netx-cni: mtu %d is not an MTU", c.MTU), "")
	}
	return c, nil
}

// podCIDR is the node's pod network: the configuration's, else the one
// the agent wrote.
func (c *NetConf) podCIDR() (netip.Prefix, error) {
	raw, from := c.PodCIDR, "podCIDR in the network configuration"
	if raw == "" {
		b, err := os.ReadFile(filepath.Join(c.DataDir, PodCIDRFile))
		if err != nil {
			return netip.Prefix{}, types.NewError(types.ErrPluginNotAvailable,
				"netx-cni: the node's pod CIDR is not known yet: the netx agent writes it from the Node's spec.podCIDR to "+filepath.Join(c.DataDir, PodCIDRFile)+" (is the agent running, and does the controller manager allocate node CIDRs?)", err.Error())
		}
		raw, from = strings.TrimSpace(string(b)), filepath.Join(c.DataDir, PodCIDRFile)
	}
	p, err := netip.ParsePrefix(raw)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return netip.Prefix{}, types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("netx-cni: pod CIDR %q (%s): want an IPv4 network of /30 or more addresses", raw, from), "")
	}
	return p.Masked(), nil
}

// gateway is the bridge's address: the pod network's first.
func gateway(cidr netip.Prefix) netip.Prefix {
	return netip.PrefixFrom(cidr.Addr().Next(), cidr.Bits())
}
