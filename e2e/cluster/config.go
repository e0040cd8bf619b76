package cluster

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
)

// Spec is the whole cluster: where it lives, what runs, and its addresses.
// Everything else (files, flags) is derived from it.
type Spec struct {
	// Lab names the netx lab that is the cluster's network, and prefixes
	// everything the cluster makes.
	Lab string
	// Dir holds certificates, configs, data and logs.
	Dir string
	// Bin holds the Kubernetes binaries (e2e/build-k8s.sh).
	Bin     string
	Version string
	// ProxyMode is kube-proxy's --proxy-mode: iptables or nftables.
	ProxyMode string
	// CNI is the pod network the nodes start with: CNIBridge (the
	// reference bridge plugin, host-gw routes and masquerading built by
	// the lab) or CNINone (no pod network: nodes stay NotReady until one
	// is installed, e.g. by kubectl netx setup --cni).
	CNI         string
	ClusterCIDR netip.Prefix
	ServiceCIDR netip.Prefix
	Control     Node
	Workers     []Node
	// HostPort is where the API server is served on the host's loopback.
	HostPort int
}

// Node is one machine of the cluster: a network namespace of the lab.
type Node struct {
	Name    string
	IP      netip.Addr
	PodCIDR netip.Prefix
	Netns   string
}

// The pod networks a cluster can start with.
const (
	CNIBridge = "bridge"
	CNINone   = "none"
)

// NoCNI says the cluster starts without a pod network.
func (s *Spec) NoCNI() bool { return s.CNI == CNINone }

// The external client on the underlay.
const (
	ClientName = "internet"
	ClientIP   = "192.168.77.101"
)

// ClientNetns is the external client's network namespace.
func (s *Spec) ClientNetns() string {
	return "/run/netns/netx." + s.Lab + "." + ClientName
}

// APIPort is the API server's port on the control node.
const APIPort = 6443

// Images the cluster runs, built by e2e/images.sh.
const (
	PauseImage  = "registry.k8s.io/pause:3.10.1"
	NetboxImage = "netx.local/netbox:1"
)

// Paths of one worker's files.
func (s *Spec) nodeDir(n Node) string { return filepath.Join(s.Dir, "nodes", n.Name) }
func (s *Spec) containerdSock(n Node) string {
	return filepath.Join(s.nodeDir(n), "containerd", "containerd.sock")
}
func (s *Spec) containerdConfig(n Node) string {
	return filepath.Join(s.nodeDir(n), "containerd", "config.toml")
}
func (s *Spec) cniConfDir(n Node) string      { return filepath.Join(s.nodeDir(n), "cni", "net.d") }
func (s *Spec) kubeletDir(n Node) string      { return filepath.Join(s.nodeDir(n), "kubelet") }
func (s *Spec) kubeProxyConfig(n Node) string { return filepath.Join(s.nodeDir(n), "kube-proxy.yaml") }
func (s *Spec) logFile(component string) string {
	return filepath.Join(s.Dir, "logs", component+".log")
}

// ContainerdSocket is a worker's CRI endpoint.
func (s *Spec) ContainerdSocket(n Node) string { return s.containerdSock(n) }

// ServiceIP is the API server's own service address (first of the range).
func (s *Spec) ServiceIP() netip.Addr { return s.ServiceCIDR.Addr().Next() }

// APIServerURL is how components in the cluster reach the API server.
func (s *Spec) APIServerURL() string { return fmt.Sprintf("https://%s:%d", s.Control.IP, APIPort) }

// Kubeconfig renders a kubeconfig for a client certificate.
func (s *Spec) Kubeconfig(server, user string) string {
	p := func(n string) string { return filepath.Join(s.Dir, "pki", n) }
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority: %[3]s
users:
- name: %[4]s
  user:
    client-certificate: %[5]s
    client-key: %[6]s
contexts:
- name: %[1]s
  context: {cluster: %[1]s, user: %[4]s}
current-context: %[1]s
`, s.Lab, server, p("ca.crt"), user, p(user+".crt"), p(user+".key"))
}

// ContainerdConfig is a worker's containerd 1.6 configuration: its own
// socket, root and state, the local pause image, and the CNI config dir.
// restrict_oom_score_adj keeps runc from setting a negative oom_score_adj,
// which this kind of VM refuses.
func (s *Spec) ContainerdConfig(n Node) string {
	d := filepath.Join(s.nodeDir(n), "containerd")
	return fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[ttrpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
`, filepath.Join(d, "root"), filepath.Join(d, "state"), s.containerdSock(n), s.containerdSock(n)+".ttrpc",
		filepath.Join(d, "opt"), PauseImage, filepath.Join(d, "runc"))
}

// CNIConfig is the reference bridge plugin with host-local IPAM on the
// node's pod CIDR, and portmap for hostPorts. ipMasq stays off: masquerade
// of traffic leaving the cluster is the lab's rule, so pod-to-pod traffic
// across nodes keeps its source, as with flannel.
func (s *Spec) CNIConfig(n Node) string {
	gw := n.PodCIDR.Addr().Next()
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "netx-e2e",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": n.PodCIDR.String(), "gateway": gw.String()}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": filepath.Join(s.nodeDir(n), "cni", "ipam"),
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return string(b) + "\n"
}

// KubeletConfig is a worker's kubelet configuration. Each kubelet has its
// own cgroup root, so two kubelets share the machine's cgroup tree.
func (s *Spec) KubeletConfig(n Node) string {
	pki := filepath.Join(s.Dir, "pki")
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
cgroupDriver: cgroupfs
cgroupRoot: /netx-%s-%s
failSwapOn: false
containerRuntimeEndpoint: unix://%s
enforceNodeAllocatable: []
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
staticPodPath: ""
podLogsDir: %s
resolvConf: ""
serializeImagePulls: false
tlsCertFile: %s
tlsPrivateKeyFile: %s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %s}
authorization:
  mode: AlwaysAllow
`, n.IP, s.Lab, n.Name, s.containerdSock(n), filepath.Join(s.kubeletDir(n), "pod-logs"),
		filepath.Join(pki, "kubelet-"+n.Name+"-serving.crt"), filepath.Join(pki, "kubelet-"+n.Name+"-serving.key"),
		filepath.Join(pki, "ca.crt"))
}

// KubeProxyConfig leaves the machine-wide conntrack sysctls alone
// (maxPerCore 0, no timeouts): the nodes share one kernel with the host.
func (s *Spec) KubeProxyConfig(n Node) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %s
mode: %s
clusterCIDR: %s
hostnameOverride: %s
bindAddress: %s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, filepath.Join(s.nodeDir(n), "kube-proxy.kubeconfig"), s.ProxyMode, s.ClusterCIDR, n.Name, n.IP)
}

// NetworkTopology is the netx lab the cluster runs on: the control node
// and the workers on one underlay, host-gw routes between pod CIDRs (none
// without a CNI), and no service rules (the real kube-proxy writes them).
func (s *Spec) NetworkTopology() string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nproxy: none\nclusterCIDR: %s\nserviceCIDR: %s\n", s.Lab, s.ClusterCIDR, s.ServiceCIDR)
	if s.NoCNI() {
		b.WriteString("overlay: none\n")
	}
	b.WriteString("nodes:\n")
	for _, n := range append([]Node{s.Control}, s.Workers...) {
		fmt.Fprintf(&b, "  - {name: %s, ip: %s, podCIDR: %s}\n", n.Name, n.IP, n.PodCIDR)
	}
	// A machine outside the cluster, for Internet -> NodePort.
	fmt.Fprintf(&b, "clients:\n  - {name: %s, ip: %s}\n", ClientName, ClientIP)
	return b.String()
}
