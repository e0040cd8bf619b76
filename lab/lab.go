package lab

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/netip"

	"github.com/netx-project/netx/lab/labstate"
)

// Lab is a topology with every name, address and port decided: the plan
// that up builds, status prints and NodeRules writes rules from. It is pure
// data, derived only from the Topology, so it can be recomputed any time.
type Lab struct {
	Name     string       `json:"name"`
	Overlay  string       `json:"overlay"`
	Proxy    string       `json:"proxy"`
	Underlay netip.Prefix `json:"underlay"`
	// UnderlayGateway is the fabric's own address (the underlay's first
	// host): the default gateway of nodes and clients.
	UnderlayGateway netip.Addr    `json:"underlayGateway"`
	ClusterCIDR     netip.Prefix  `json:"clusterCIDR"`
	ServiceCIDR     netip.Prefix  `json:"serviceCIDR"`
	Fabric          string        `json:"fabric"`
	Nodes           []*LabNode    `json:"nodes"`
	Pods            []*LabPod     `json:"pods"`
	Services        []*LabService `json:"services"`
	Clients         []*LabClient  `json:"clients"`
}

// LabNode is a node namespace and what lives in it.
type LabNode struct {
	Name    string       `json:"name"`
	IP      netip.Addr   `json:"ip"`
	PodCIDR netip.Prefix `json:"podCIDR"`
	// Gateway is the bridge address, the first host of PodCIDR.
	Gateway netip.Addr `json:"gateway"`
	Netns   string     `json:"netns"`
	// FabricPort is the uplink's peer in the fabric namespace; the node side
	// is always eth0, as on a real machine.
	FabricPort string `json:"fabricPort"`
	UplinkMAC  MAC    `json:"uplinkMAC"`
	// VTEPMAC is the flannel.1 address other nodes put in their FDB.
	VTEPMAC MAC `json:"vtepMAC,omitempty"`
}

// LabPod is a pod with its address and the names of its links.
type LabPod struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Node        string            `json:"node"`
	IP          netip.Addr        `json:"ip"`
	MAC         MAC               `json:"mac,omitempty"`
	HostNetwork bool              `json:"hostNetwork"`
	Labels      map[string]string `json:"labels,omitempty"`
	// HostVeth is the node end of the pod's eth0 (empty for hostNetwork).
	HostVeth          string         `json:"hostVeth,omitempty"`
	Hostname          string         `json:"hostname"`
	AllowPortConflict bool           `json:"allowPortConflict,omitempty"`
	Containers        []LabContainer `json:"containers"`
}

// Key is namespace/name, the way kubectl names a pod.
func (p *LabPod) Key() string { return p.Namespace + "/" + p.Name }

// LabContainer is a process to start in the pod's namespaces. Builtin says
// Argv runs through this binary (netx datapath serve/forward/...).
type LabContainer struct {
	Name    string          `json:"name"`
	Argv    []string        `json:"argv"`
	Builtin bool            `json:"builtin"`
	Ports   []ContainerPort `json:"ports,omitempty"`
}

// LabService is a service with its cluster IP and resolved endpoints.
type LabService struct {
	Name      string           `json:"name"`
	Namespace string           `json:"namespace"`
	Type      string           `json:"type"`
	ClusterIP netip.Addr       `json:"clusterIP"`
	Ports     []LabServicePort `json:"ports"`
	// AffinitySeconds is sessionAffinity ClientIP's timeout; 0: None.
	AffinitySeconds int `json:"affinitySeconds,omitempty"`
}

// Key is namespace/name.
func (s *LabService) Key() string { return s.Namespace + "/" + s.Name }

// LabServicePort is one port of a service and the endpoints behind it.
type LabServicePort struct {
	Name     string `json:"name"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	// TargetPort is the declared target (number or name); each endpoint
	// carries the number it resolved to on its pod.
	TargetPort string        `json:"targetPort"`
	NodePort   int           `json:"nodePort,omitempty"`
	Endpoints  []LabEndpoint `json:"endpoints"`
}

// LabEndpoint is one backend of a service port.
type LabEndpoint struct {
	IP   netip.AddrPort `json:"ip"`
	Pod  string         `json:"pod"`
	Node string         `json:"node"`
}

// LabClient is an external machine on the underlay.
type LabClient struct {
	Name       string     `json:"name"`
	IP         netip.Addr `json:"ip"`
	Netns      string     `json:"netns"`
	FabricPort string     `json:"fabricPort"`
}

// Kernel names used inside every node, as real clusters name them.
const (
	BridgeName   = "cni0"      // the CNI bridge plugin's default
	VXLANName    = "flannel.1" // flannel's VTEP: "flannel." + VNI
	VXLANVNI     = 1
	VXLANPort    = 8472 // flannel's (Linux's historic) VXLAN port
	VXLANMTU     = 1450
	UplinkName   = "eth0"
	PodIfName    = "eth0"
	FabricBridge = "fabric0"
	// NetnsDir is where named namespaces live, as with `ip netns add`.
	NetnsDir = labstate.NetnsDir
)

// NetnsName is the name under NetnsDir of a lab's node, client or fabric
// namespace: netx.<lab>.<object>. Lab and object names are DNS labels, so
// the dots keep "lab a-b, node c" and "lab a, node b-c" apart.
func NetnsName(lab, object string) string { return "netx." + lab + "." + object }

// hostVethName is deterministic per pod, in the CNI bridge plugin's
// "veth" + 8 hex style, so re-running up finds the same link.
func hostVethName(lab, key string) string {
	sum := sha256.Sum256([]byte(lab + "/" + key))
	return "veth" + hex.EncodeToString(sum[:4])
}

// macFromIP is how the CNI bridge plugin derives a pod MAC: 0a:58 + IPv4.
func macFromIP(ip netip.Addr) MAC {
	b := ip.As4()
	return MAC{0x0a, 0x58, b[0], b[1], b[2], b[3]}
}

// macFor gives a stable locally administered MAC for a lab object.
func macFor(parts ...string) MAC {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	s := h.Sum(nil)
	return MAC{0x02, s[0], s[1], s[2], s[3], s[4]}
}

// MAC is a hardware address that reads and writes as aa:bb:cc:dd:ee:ff.
type MAC net.HardwareAddr

func (m MAC) String() string { return net.HardwareAddr(m).String() }

// MarshalText implements encoding.TextMarshaler.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MAC) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*m = nil
		return nil
	}
	hw, err := net.ParseMAC(string(b))
	*m = MAC(hw)
	return err
}

// sameLab says whether two plans are identical.
func sameLab(a, b *Lab) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
