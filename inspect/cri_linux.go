package inspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// The CRI is gRPC over HTTP/2 on a unix socket. netx speaks the two calls
// it needs (ListPodSandbox, PodSandboxStatus) directly: the generated gRPC
// and protobuf packages would add milliseconds of start-up to every netx
// process, and the lab starts one per pod as its pause.

// DefaultCRIEndpoints are tried, in order, when no endpoint is given.
func DefaultCRIEndpoints() []string {
	return []string{"/run/containerd/containerd.sock", "/run/crio/crio.sock"}
}

// criSandbox is what the runtime says about one pod sandbox.
type criSandbox struct {
	ID       string
	Pod      PodRef
	PausePID int
	Netns    string // the runtime's namespace path, when it reports it
	// HostNetwork: the sandbox has no network namespace of its own.
	HostNetwork bool
}

type criClient struct {
	http *http.Client
}

func newCRIClient(endpoint string) *criClient {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols: &protos,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", endpoint)
		},
	}
	return &criClient{http: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

// call makes one unary gRPC call with a protobuf-encoded request.
func (c *criClient) call(ctx context.Context, method string, req []byte) ([]byte, error) {
	frame := make([]byte, 5+len(req))
	binary.BigEndian.PutUint32(frame[1:5], uint32(len(req)))
	copy(frame[5:], req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://localhost/runtime.v1.RuntimeService/"+method, bytes.NewReader(frame))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/grpc")
	hr.Header.Set("TE", "trailers")
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	status := resp.Trailer.Get("Grpc-Status")
	if status == "" {
		status = resp.Header.Get("Grpc-Status")
	}
	if status != "" && status != "0" {
		return nil, fmt.Errorf("%s: grpc status %s: %s", method, status, resp.Trailer.Get("Grpc-Message"))
	}
	if len(body) < 5 {
		return nil, fmt.Errorf("%s: short reply (%d bytes, HTTP %d)", method, len(body), resp.StatusCode)
	}
	n := binary.BigEndian.Uint32(body[1:5])
	if body[0] != 0 || int(n) > len(body)-5 {
		return nil, fmt.Errorf("%s: unexpected reply framing", method)
	}
	return body[5 : 5+n], nil
}

// criSandboxes lists the ready pod sandboxes of a CRI runtime, with the
// pause PID and network namespace from the verbose status (containerd and
// CRI-O both report "pid" there).
func criSandboxes(endpoint string) ([]criSandbox, error) {
	if _, err := os.Stat(endpoint); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := newCRIClient(endpoint)
	// ListPodSandboxRequest{filter: {state: {state: SANDBOX_READY (0)}}}:
	// field 1 (filter) { field 2 (state) { field 1 = 0 } }.
	req := pbBytes(1, pbBytes(2, pbVarint(1, 0)))
	reply, err := c.call(ctx, "ListPodSandbox", req)
	if err != nil {
		return nil, fmt.Errorf("list pod sandboxes from %s: %w", endpoint, err)
	}
	var out []criSandbox
	for _, item := range pbRepeated(reply, 1) { // repeated PodSandbox items = 1
		sb := criSandbox{ID: string(pbField(item, 1))} // id = 1
		meta := pbField(item, 2)                       // metadata = 2
		sb.Pod = PodRef{Name: string(pbField(meta, 1)), UID: string(pbField(meta, 2)), Namespace: string(pbField(meta, 3))}
		// PodSandboxStatusRequest{pod_sandbox_id = 1, verbose = 2}
		if st, err := c.call(ctx, "PodSandboxStatus", append(pbBytes(1, []byte(sb.ID)), pbVarint(2, 1)...)); err == nil {
			sb.PausePID, sb.Netns, sb.HostNetwork = sandboxStatus(st)
		}
		out = append(out, sb)
	}
	return out, nil
}

// Network namespace modes of the CRI (NamespaceMode): NODE is the node's
// own namespace, a hostNetwork pod's.
const criNamespaceNode = 2

// sandboxStatus reads a PodSandboxStatusResponse: the network mode the
// sandbox was made with (status.linux.namespaces.options.network), and
// the pause PID and namespace path of the verbose info. Either the mode
// or a runtime spec without a network namespace makes it hostNetwork.
func sandboxStatus(st []byte) (pid int, netns string, hostNetwork bool) {
	// PodSandboxStatusResponse{status = 1 {linux = 6 {namespaces = 1 {options = 2 {network = 1}}}}}
	opts := pbField(pbField(pbField(pbField(st, 1), 6), 1), 2)
	mode, _ := pbVarintField(opts, 1)
	for _, kv := range pbRepeated(st, 2) { // map<string,string> info = 2
		if string(pbField(kv, 1)) == "info" {
			pid, netns, hostNetwork = verboseInfo(pbField(kv, 2))
		}
	}
	return pid, netns, hostNetwork || mode == criNamespaceNode
}

// criContainer is what the runtime says about one container.
type criContainer struct {
	ID, SandboxID, Name string
	Running             bool
	// Ports are the ports the pod spec declares for it, from kubelet's
	// annotation.
	Ports []ContainerPort
}

// kubeletPortsAnnotation is where kubelet writes a container's declared
// ports (its spec's ports, as JSON) on the runtime's container.
const kubeletPortsAnnotation = "io.kubernetes.container.ports"

// criContainers lists the runtime's containers (ListContainers, every
// state). Nil without a runtime.
func criContainers(endpoint string) []criContainer {
	ep := criEndpoint(endpoint)
	if ep == "" {
		return nil
	}
	if _, err := os.Stat(ep); err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// ListContainersRequest{}: every container.
	reply, err := newCRIClient(ep).call(ctx, "ListContainers", nil)
	if err != nil {
		return nil
	}
	return parseContainers(reply)
}

// parseContainers reads a ListContainersResponse.
func parseContainers(reply []byte) []criContainer {
	var out []criContainer
	for _, item := range pbRepeated(reply, 1) { // repeated Container containers = 1
		c := criContainer{
			ID:        string(pbField(item, 1)),             // id = 1
			SandboxID: string(pbField(item, 2)),             // pod_sandbox_id = 2
			Name:      string(pbField(pbField(item, 3), 1)), // metadata = 3 { name = 1 }
		}
		state, _ := pbVarintField(item, 6) // state = 6: CONTAINER_RUNNING = 1
		c.Running = state == 1
		for _, kv := range pbRepeated(item, 9) { // map<string,string> annotations = 9
			if string(pbField(kv, 1)) == kubeletPortsAnnotation {
				c.Ports = declaredPorts(pbField(kv, 2))
			}
		}
		out = append(out, c)
	}
	return out
}

// declaredPorts reads kubelet's ports annotation:
// [{"name":"http","containerPort":8090,"protocol":"TCP"}].
func declaredPorts(raw []byte) []ContainerPort {
	var ps []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
		Protocol      string `json:"protocol"`
	}
	if json.Unmarshal(raw, &ps) != nil {
		return nil
	}
	var out []ContainerPort
	for _, p := range ps {
		if p.ContainerPort == 0 {
			continue
		}
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, ContainerPort{Name: p.Name, Port: p.ContainerPort, Protocol: proto})
	}
	return out
}

// shortID is a container ID as cgroups and crictl show it: 12 characters.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// verboseInfo digs the pause PID and netns path out of the runtime's
// verbose "info" JSON ({"pid": N, "runtimeSpec": {... namespaces ...}}).
// A spec listing namespaces but no network one is a hostNetwork pod.
func verboseInfo(raw []byte) (pid int, netns string, hostNetwork bool) {
	var v struct {
		PID         int `json:"pid"`
		RuntimeSpec struct {
			Linux struct {
				Namespaces []struct{ Type, Path string } `json:"namespaces"`
			} `json:"linux"`
		} `json:"runtimeSpec"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return 0, "", false
	}
	hostNetwork = len(v.RuntimeSpec.Linux.Namespaces) > 0
	for _, ns := range v.RuntimeSpec.Linux.Namespaces {
		if ns.Type == "network" {
			netns, hostNetwork = ns.Path, false
		}
	}
	return v.PID, netns, hostNetwork
}

// criEndpoint picks the socket: the one given, or the first default that
// exists. "" means no runtime here, which is not an error.
func criEndpoint(given string) string {
	if given != "" {
		return strings.TrimPrefix(given, "unix://")
	}
	for _, e := range DefaultCRIEndpoints() {
		if _, err := os.Stat(e); err == nil {
			return e
		}
	}
	return ""
}

var errNoRuntime = errors.New("no container runtime socket found (tried " + strings.Join(DefaultCRIEndpoints(), ", ") + "; set --cri-endpoint)")

// Protocol buffers wire format, the little of it the CRI calls need.

func pbVarintBytes(v uint64) []byte {
	return binary.AppendUvarint(nil, v)
}

func pbVarint(field int, v uint64) []byte {
	return append(pbVarintBytes(uint64(field)<<3|0), pbVarintBytes(v)...)
}

func pbBytes(field int, b []byte) []byte {
	out := append(pbVarintBytes(uint64(field)<<3|2), pbVarintBytes(uint64(len(b)))...)
	return append(out, b...)
}

// pbEach calls fn for every field of a message; it stops on malformed
// input.
func pbEach(msg []byte, fn func(field int, wire int, val []byte, num uint64)) {
	for len(msg) > 0 {
		key, n := binary.Uvarint(msg)
		if n <= 0 {
			return
		}
		msg = msg[n:]
		field, wire := int(key>>3), int(key&7)
		switch wire {
		case 0:
			v, n := binary.Uvarint(msg)
			if n <= 0 {
				return
			}
			fn(field, wire, nil, v)
			msg = msg[n:]
		case 1:
			if len(msg) < 8 {
				return
			}
			fn(field, wire, msg[:8], 0)
			msg = msg[8:]
		case 2:
			l, n := binary.Uvarint(msg)
			if n <= 0 || uint64(len(msg)-n) < l {
				return
			}
			fn(field, wire, msg[n:n+int(l)], 0)
			msg = msg[n+int(l):]
		case 5:
			if len(msg) < 4 {
				return
			}
			fn(field, wire, msg[:4], 0)
			msg = msg[4:]
		default:
			return
		}
	}
}

// pbField returns the last length-delimited value of a field.
func pbField(msg []byte, field int) []byte {
	var out []byte
	pbEach(msg, func(f, w int, val []byte, _ uint64) {
		if f == field && w == 2 {
			out = val
		}
	})
	return out
}

// pbVarintField returns the last varint value of a field.
func pbVarintField(msg []byte, field int) (uint64, bool) {
	var out uint64
	found := false
	pbEach(msg, func(f, w int, _ []byte, num uint64) {
		if f == field && w == 0 {
			out, found = num, true
		}
	})
	return out, found
}

// pbRepeated returns every length-delimited value of a field.
func pbRepeated(msg []byte, field int) [][]byte {
	var out [][]byte
	pbEach(msg, func(f, w int, val []byte, _ uint64) {
		if f == field && w == 2 {
			out = append(out, val)
		}
	})
	return out
}
