package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// API reads what a trace needs from the cluster.
type API struct {
	cs kubernetes.Interface
	// Namespace is the default namespace: the context's, or -n.
	Namespace string
}

// NewAPI reads through clientset cs, with namespace the default one.
func NewAPI(cs kubernetes.Interface, namespace string) *API {
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	return &API{cs: cs, Namespace: namespace}
}

// Pod is a pod as a trace needs it.
type Pod struct {
	Namespace   string       `json:"namespace"`
	Name        string       `json:"name"`
	Node        string       `json:"node,omitempty"`
	Phase       string       `json:"phase"`
	IPs         []netip.Addr `json:"ips,omitempty"`
	HostNetwork bool         `json:"hostNetwork,omitempty"`
	Containers  []Container  `json:"containers"`
}

// Key is namespace/name.
func (p *Pod) Key() string { return p.Namespace + "/" + p.Name }

// Container is one of a pod's containers and the ports it declares.
type Container struct {
	Name  string `json:"name"`
	Ports []Port `json:"ports,omitempty"`
}

// Port is a declared container port.
type Port struct {
	Name     string `json:"name,omitempty"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"` // TCP, UDP, SCTP
	HostPort int32  `json:"hostPort,omitempty"`
}

// Service is a service with the endpoints kube-proxy programs for it.
type Service struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Type      string `json:"type"` // ClusterIP, NodePort, LoadBalancer, ExternalName
	// ClusterIPs are the service's IPs; empty for a headless service.
	ClusterIPs   []netip.Addr `json:"clusterIPs,omitempty"`
	Headless     bool         `json:"headless,omitempty"`
	ExternalName string       `json:"externalName,omitempty"`
	ExternalIPs  []netip.Addr `json:"externalIPs,omitempty"`
	// LoadBalancerIPs are status.loadBalancer.ingress's IPs.
	LoadBalancerIPs       []netip.Addr   `json:"loadBalancerIPs,omitempty"`
	Ports                 []ServicePort  `json:"ports"`
	Endpoints             []Endpoint     `json:"endpoints,omitempty"`
	ExternalTrafficPolicy string         `json:"externalTrafficPolicy,omitempty"`
	InternalTrafficPolicy string         `json:"internalTrafficPolicy,omitempty"`
	SessionAffinity       string         `json:"sessionAffinity,omitempty"`
	SourceRanges          []netip.Prefix `json:"loadBalancerSourceRanges,omitempty"`
}

// Key is namespace/name.
func (s *Service) Key() string { return s.Namespace + "/" + s.Name }

// ServicePort is one port of a service.
type ServicePort struct {
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
	NodePort int32  `json:"nodePort,omitempty"`
	// TargetPort as declared: a number or a container port's name.
	TargetPort string `json:"targetPort"`
}

// Endpoint is one address of a service's EndpointSlices, with the port
// each service port reaches there (named target ports resolved on the
// endpoint's own pod, as the EndpointSlice controller does and kube-proxy
// reads them).
type Endpoint struct {
	Addr netip.Addr `json:"addr"`
	// Ports maps a service port's name to the port number on this
	// endpoint.
	Ports       map[string]int32 `json:"ports"`
	Node        string           `json:"node,omitempty"`
	Pod         string           `json:"pod,omitempty"` // namespace/name
	Ready       bool             `json:"ready"`
	Serving     bool             `json:"serving"`
	Terminating bool             `json:"terminating,omitempty"`
}

// Node is a node's addresses and pod ranges.
type Node struct {
	Name       string         `json:"name"`
	InternalIP netip.Addr     `json:"internalIP,omitzero"`
	ExternalIP netip.Addr     `json:"externalIP,omitzero"`
	PodCIDRs   []netip.Prefix `json:"podCIDRs,omitempty"`
	Ready      bool           `json:"ready"`
}

// apiError turns an API error into one line naming the object and the
// fix: RBAC refusals name the verb and the resource the user lacks.
func apiError(err error, verb, resource, namespace, name string) error {
	what := resource
	if name != "" {
		what += " " + strconv.Quote(name)
	}
	where := ""
	if namespace != "" {
		where = " in namespace " + strconv.Quote(namespace)
	}
	var ue *url.Error
	switch {
	case apierrors.IsNotFound(err):
		return &NotFoundError{Resource: resource, Namespace: namespace, Name: name}
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%s %s%s: forbidden: your user may not %q %s (RBAC); the Role netx needs is in the README (section \"Permissions\")", verb, what, where, verb, resource)
	case errors.As(err, &ue):
		return fmt.Errorf("%s %s%s: the API server %s does not answer (%v); check the kubeconfig's context (kubectl cluster-info)", verb, what, where, serverOf(ue.URL), ue.Err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%s %s%s: the cluster does not accept your credentials (401); check the kubeconfig's user (kubectl auth whoami)", verb, what, where)
	}
	return fmt.Errorf("%s %s%s: %w", verb, what, where, err)
}

// serverOf is the scheme and host of an API URL.
func serverOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// NotFoundError is an object the API does not have.
type NotFoundError struct {
	Resource, Namespace, Name string
}

func (e *NotFoundError) Error() string {
	if e.Namespace == "" {
		return fmt.Sprintf("%s %q not found; kubectl get %s lists them", strings.TrimSuffix(e.Resource, "s"), e.Name, e.Resource)
	}
	return fmt.Sprintf("%s %q not found in namespace %q; kubectl get %s -n %s lists them (another namespace: -n NAMESPACE or NAMESPACE/NAME)",
		strings.TrimSuffix(e.Resource, "s"), e.Name, e.Namespace, e.Resource, e.Namespace)
}

// Pod reads one pod.
func (a *API) Pod(ctx context.Context, namespace, name string) (*Pod, error) {
	p, err := a.cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, apiError(err, "get", "pods", namespace, name)
	}
	return podOf(p), nil
}

func podOf(p *corev1.Pod) *Pod {
	out := &Pod{Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, Phase: string(p.Status.Phase), HostNetwork: p.Spec.HostNetwork}
	for _, ip := range p.Status.PodIPs {
		if a, err := netip.ParseAddr(ip.IP); err == nil {
			out.IPs = append(out.IPs, a)
		}
	}
	if len(out.IPs) == 0 {
		if a, err := netip.ParseAddr(p.Status.PodIP); err == nil {
			out.IPs = append(out.IPs, a)
		}
	}
	for _, c := range p.Spec.Containers {
		oc := Container{Name: c.Name}
		for _, cp := range c.Ports {
			proto := string(cp.Protocol)
			if proto == "" {
				proto = "TCP"
			}
			oc.Ports = append(oc.Ports, Port{Name: cp.Name, Port: cp.ContainerPort, Protocol: proto, HostPort: cp.HostPort})
		}
		out.Containers = append(out.Containers, oc)
	}
	return out
}

// Running says why a pod cannot be traced from or to, or "" when it can:
// it must run on a node and have an address.
func (p *Pod) Running() string {
	switch {
	case p.Phase != string(corev1.PodRunning):
		return fmt.Sprintf("pod %s is %s, not Running: its network exists only while it runs (kubectl describe pod -n %s %s)", p.Key(), p.Phase, p.Namespace, p.Name)
	case p.Node == "":
		return fmt.Sprintf("pod %s is not scheduled to a node", p.Key())
	case len(p.IPs) == 0:
		return fmt.Sprintf("pod %s has no IP yet (its sandbox's network is not set up: kubectl describe pod -n %s %s)", p.Key(), p.Namespace, p.Name)
	}
	return ""
}

// Service reads a service and its EndpointSlices.
func (a *API) Service(ctx context.Context, namespace, name string) (*Service, error) {
	s, err := a.cs.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, apiError(err, "get", "services", namespace, name)
	}
	out := serviceOf(s)
	if out.Type == string(corev1.ServiceTypeExternalName) {
		return out, nil
	}
	slices, err := a.cs.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
	if err != nil {
		return nil, apiError(err, "list", "endpointslices", namespace, "")
	}
	out.Endpoints = endpointsOf(slices.Items)
	return out, nil
}

func serviceOf(s *corev1.Service) *Service {
	out := &Service{Namespace: s.Namespace, Name: s.Name, Type: string(s.Spec.Type), ExternalName: s.Spec.ExternalName,
		ExternalTrafficPolicy: string(s.Spec.ExternalTrafficPolicy), SessionAffinity: string(s.Spec.SessionAffinity)}
	if out.Type == "" {
		out.Type = string(corev1.ServiceTypeClusterIP)
	}
	if p := s.Spec.InternalTrafficPolicy; p != nil {
		out.InternalTrafficPolicy = string(*p)
	}
	ips := s.Spec.ClusterIPs
	if len(ips) == 0 && s.Spec.ClusterIP != "" {
		ips = []string{s.Spec.ClusterIP}
	}
	for _, ip := range ips {
		if ip == corev1.ClusterIPNone {
			out.Headless = true
			continue
		}
		if a, err := netip.ParseAddr(ip); err == nil {
			out.ClusterIPs = append(out.ClusterIPs, a)
		}
	}
	for _, ip := range s.Spec.ExternalIPs {
		if a, err := netip.ParseAddr(ip); err == nil {
			out.ExternalIPs = append(out.ExternalIPs, a)
		}
	}
	for _, in := range s.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil {
			out.LoadBalancerIPs = append(out.LoadBalancerIPs, a)
		}
	}
	for _, r := range s.Spec.LoadBalancerSourceRanges {
		if p, err := netip.ParsePrefix(strings.TrimSpace(r)); err == nil {
			out.SourceRanges = append(out.SourceRanges, p)
		}
	}
	for _, p := range s.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = "TCP"
		}
		out.Ports = append(out.Ports, ServicePort{Name: p.Name, Protocol: proto, Port: p.Port, NodePort: p.NodePort, TargetPort: p.TargetPort.String()})
	}
	return out
}

// endpointsOf merges a service's EndpointSlices into one endpoint per
// address, each with the port every service port reaches there.
func endpointsOf(items []discoveryv1.EndpointSlice) []Endpoint {
	var out []Endpoint
	for _, sl := range items {
		if sl.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, e := range sl.Endpoints {
			for _, addr := range e.Addresses {
				a, err := netip.ParseAddr(addr)
				if err != nil {
					continue
				}
				i := slices.IndexFunc(out, func(x Endpoint) bool { return x.Addr == a })
				if i < 0 {
					ep := Endpoint{Addr: a, Ports: map[string]int32{}, Ready: cond(e.Conditions.Ready, true), Serving: cond(e.Conditions.Serving, cond(e.Conditions.Ready, true)),
						Terminating: cond(e.Conditions.Terminating, false)}
					if e.NodeName != nil {
						ep.Node = *e.NodeName
					}
					if r := e.TargetRef; r != nil && r.Kind == "Pod" {
						ep.Pod = r.Namespace + "/" + r.Name
					}
					out = append(out, ep)
					i = len(out) - 1
				}
				for _, p := range sl.Ports {
					if p.Port == nil {
						continue
					}
					name := ""
					if p.Name != nil {
						name = *p.Name
					}
					out[i].Ports[name] = *p.Port
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Endpoint) int { return a.Addr.Compare(b.Addr) })
	return out
}

// cond reads an EndpointConditions field: nil means def (ready: unknown
// is ready; serving: as ready; terminating: false).
func cond(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// Port picks a service's port: by number, by name, or its only one.
func (s *Service) Port(ref string) (*ServicePort, error) {
	var names []string
	for i := range s.Ports {
		p := &s.Ports[i]
		if ref == "" && len(s.Ports) == 1 || ref != "" && (p.Name == ref || strconv.Itoa(int(p.Port)) == ref) {
			return p, nil
		}
		n := strconv.Itoa(int(p.Port)) + "/" + p.Protocol
		if p.Name != "" {
			n = p.Name + " (" + n + ")"
		}
		names = append(names, n)
	}
	if ref == "" {
		return nil, fmt.Errorf("service %s has %d ports: name one (svc/%s:PORT): %s", s.Key(), len(s.Ports), s.Name, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("service %s has no port %q; its ports: %s", s.Key(), ref, strings.Join(names, ", "))
}

// Nodes reads every node.
func (a *API) Nodes(ctx context.Context) ([]Node, error) {
	l, err := a.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, apiError(err, "list", "nodes", "", "")
	}
	out := make([]Node, 0, len(l.Items))
	for i := range l.Items {
		out = append(out, nodeOf(&l.Items[i]))
	}
	return out, nil
}

func nodeOf(n *corev1.Node) Node {
	out := Node{Name: n.Name}
	for _, a := range n.Status.Addresses {
		ip, err := netip.ParseAddr(a.Address)
		if err != nil {
			continue
		}
		switch a.Type {
		case corev1.NodeInternalIP:
			if !out.InternalIP.IsValid() {
				out.InternalIP = ip
			}
		case corev1.NodeExternalIP:
			if !out.ExternalIP.IsValid() {
				out.ExternalIP = ip
			}
		}
	}
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out.PodCIDRs = append(out.PodCIDRs, p)
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	return out
}
