package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// End is one end of a trace as the API knows it. Kind says which of the
// fields is set: pod (Pod), service (Service, ServicePort), node (Node),
// ip (Addr, and Node when an address of one or inside its pod range),
// internet, or localhost (the source pod itself).
type End struct {
	Ref         string       `json:"ref"`
	Kind        string       `json:"kind"`
	Pod         *Pod         `json:"pod,omitempty"`
	Service     *Service     `json:"service,omitempty"`
	ServicePort *ServicePort `json:"servicePort,omitempty"`
	Node        *Node        `json:"node,omitempty"`
	Addr        netip.Addr   `json:"addr,omitzero"`
	Port        int32        `json:"port,omitempty"`
}

// Plan is what a trace through the cluster needs: its two ends and the
// nodes whose state decides the path, each with why.
type Plan struct {
	Src   End        `json:"src"`
	Dst   End        `json:"dst"`
	Nodes []PlanNode `json:"nodes"`
}

// PlanNode is a node a trace reads.
type PlanNode struct {
	Name string `json:"name"`
	Why  string `json:"why"`
}

func (p *Plan) need(node, why string) {
	if node == "" || slices.ContainsFunc(p.Nodes, func(n PlanNode) bool { return n.Name == node }) {
		return
	}
	p.Nodes = append(p.Nodes, PlanNode{Name: node, Why: why})
}

// Resolve finds both ends of a trace in the API, in trace's syntax: a pod
// (NAME, NAMESPACE/NAME, pod/NAME), a service (svc/NAME[:PORT],
// svc/NAMESPACE/NAME[:PORT]), node/NAME[:PORT], IP[:PORT], internet
// (source only) or localhost:PORT (destination only). A bare NAME is a
// pod, else a service. entry is the node an internet client arrives at
// ("" lets the destination decide).
func (a *API) Resolve(ctx context.Context, src, dst, entry string) (*Plan, error) {
	p := &Plan{}
	var err error
	if p.Src, err = a.end(ctx, src, true); err != nil {
		return nil, err
	}
	if p.Dst, err = a.end(ctx, dst, false); err != nil {
		return nil, err
	}
	switch p.Src.Kind {
	case "pod":
		p.need(p.Src.Pod.Node, "the source pod runs there")
	case "node":
		p.need(p.Src.Node.Name, "the source node")
	case "ip":
		if p.Src.Node != nil {
			p.need(p.Src.Node.Name, "the source address is its")
		}
	case "internet":
		if entry != "" {
			if _, err := a.node(ctx, entry); err != nil {
				return nil, err
			}
			p.need(entry, "the outside client arrives there (--node)")
		}
	}
	switch p.Dst.Kind {
	case "pod":
		p.need(p.Dst.Pod.Node, "the destination pod runs there")
	case "node":
		p.need(p.Dst.Node.Name, "the destination node")
	case "ip":
		if p.Dst.Node != nil {
			p.need(p.Dst.Node.Name, "the destination address is its")
		}
	case "service":
		for _, e := range usedEndpoints(p.Dst.Service) {
			p.need(e.Node, "an endpoint of "+p.Dst.Service.Key()+" ("+e.Addr.String()+") runs there")
		}
	case "localhost":
		if p.Src.Kind != "pod" {
			return nil, badf("destination %q: localhost is inside the source pod; trace from a pod", dst)
		}
	}
	if p.Src.Kind == "internet" && len(p.Nodes) == 0 {
		return nil, badf("destination %q: no node to arrive at; name one with --node NAME", dst)
	}
	return p, nil
}

// usedEndpoints are the endpoints kube-proxy sends to: the ready ones,
// else (its fallback) the serving terminating ones.
func usedEndpoints(s *Service) []Endpoint {
	var ready, serving []Endpoint
	for _, e := range s.Endpoints {
		switch {
		case e.Ready:
			ready = append(ready, e)
		case e.Serving && e.Terminating:
			serving = append(serving, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return serving
}

// BadRefError is a reference that does not resolve.
type BadRefError struct{ msg string }

func (e *BadRefError) Error() string { return e.msg }

func badf(format string, args ...any) error { return &BadRefError{fmt.Sprintf(format, args...)} }

// end resolves one reference.
func (a *API) end(ctx context.Context, ref string, isSrc bool) (End, error) {
	role := "destination"
	if isSrc {
		role = "source"
	}
	e := End{Ref: ref}
	switch {
	case ref == "":
		return e, badf("no %s: give a pod, svc/NAME, node/NAME, an IP or internet", role)
	case ref == "internet":
		if !isSrc {
			return e, badf("destination %q: internet is only a source; trace to a NodePort (node/NAME:PORT), a LoadBalancer or external IP", ref)
		}
		e.Kind = "internet"
		return e, nil
	case strings.HasPrefix(ref, "localhost"):
		if isSrc {
			return e, badf("source %q: localhost is only a destination (localhost:PORT inside the source pod)", ref)
		}
		_, port, err := splitPort(ref)
		if err != nil {
			return e, err
		}
		e.Kind, e.Port = "localhost", port
		return e, nil
	case strings.HasPrefix(ref, "svc/") || strings.HasPrefix(ref, "service/") || strings.HasPrefix(ref, "services/"):
		if isSrc {
			return e, badf("source %q: a service cannot send; trace from a pod, a node or internet to it", ref)
		}
		_, rest, _ := strings.Cut(ref, "/")
		return a.serviceEnd(ctx, e, rest)
	case strings.HasPrefix(ref, "node/") || strings.HasPrefix(ref, "nodes/"):
		_, rest, _ := strings.Cut(ref, "/")
		name, port, err := splitPort(rest)
		if err != nil {
			return e, err
		}
		n, err := a.node(ctx, name)
		if err != nil {
			return e, err
		}
		e.Kind, e.Node, e.Port = "node", n, port
		e.Addr = n.InternalIP
		return e, nil
	}
	if host, port, err := splitPort(ref); err == nil {
		if addr, perr := netip.ParseAddr(host); perr == nil {
			e.Kind, e.Addr, e.Port = "ip", addr, port
			n, err := a.nodeOwning(ctx, addr)
			if err != nil {
				return e, err
			}
			e.Node = n
			return e, nil
		}
	}
	if ip, err := netip.ParseAddr(ref); err == nil {
		e.Kind, e.Addr = "ip", ip
		n, err := a.nodeOwning(ctx, ip)
		if err != nil {
			return e, err
		}
		e.Node = n
		return e, nil
	}
	// A pod: pod/NAME, NAMESPACE/NAME or NAME; a bare name may be a
	// service.
	name, port, err := splitPort(strings.TrimPrefix(strings.TrimPrefix(ref, "pods/"), "pod/"))
	if err != nil {
		return e, err
	}
	ns, pname := a.Namespace, name
	if i := strings.Index(name, "/"); i >= 0 {
		ns, pname = name[:i], name[i+1:]
	}
	pod, err := a.Pod(ctx, ns, pname)
	var nf *NotFoundError
	if errors.As(err, &nf) && !isSrc && !strings.Contains(ref, "pod/") {
		// A bare name: a service, when it is one.
		if se, serr := a.serviceEnd(ctx, End{Ref: ref}, name); serr == nil {
			return se, nil
		}
		return e, badf("%s %q: no pod or service %q in namespace %q; kubectl get pods,services -n %s lists them (another namespace: -n NAMESPACE or NAMESPACE/NAME)", role, ref, pname, ns, ns)
	}
	if err != nil {
		return e, fmt.Errorf("%s: %w", role, err)
	}
	if why := pod.Running(); why != "" {
		return e, badf("%s: %s", role, why)
	}
	e.Kind, e.Pod, e.Port, e.Addr = "pod", pod, port, pod.IPs[0]
	return e, nil
}

// serviceEnd resolves "NAME[:PORT]" or "NAMESPACE/NAME[:PORT]".
func (a *API) serviceEnd(ctx context.Context, e End, ref string) (End, error) {
	name, portRef, _ := strings.Cut(ref, ":")
	ns := a.Namespace
	if i := strings.Index(name, "/"); i >= 0 {
		ns, name = name[:i], name[i+1:]
	}
	if name == "" {
		return e, badf("destination %q: name the service (svc/NAME)", e.Ref)
	}
	s, err := a.Service(ctx, ns, name)
	if err != nil {
		return e, fmt.Errorf("destination: %w", err)
	}
	if s.Type == "ExternalName" {
		return e, badf("service %s is ExternalName (%s): a DNS name the cluster's DNS answers, not an address the datapath routes; trace to the address %s resolves to", s.Key(), s.ExternalName, s.ExternalName)
	}
	sp, err := s.Port(portRef)
	if err != nil {
		return e, badf("%v", err)
	}
	e.Kind, e.Service, e.ServicePort, e.Port = "service", s, sp, sp.Port
	if len(s.ClusterIPs) > 0 {
		e.Addr = s.ClusterIPs[0]
	}
	return e, nil
}

// node reads one node.
func (a *API) node(ctx context.Context, name string) (*Node, error) {
	n, err := a.cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, apiError(err, "get", "nodes", "", name)
	}
	out := nodeOf(n)
	return &out, nil
}

// nodeOwning finds the node an address belongs to: one of its own, or
// inside its pod range. None: an address outside the cluster.
func (a *API) nodeOwning(ctx context.Context, addr netip.Addr) (*Node, error) {
	nodes, err := a.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	for i := range nodes {
		n := &nodes[i]
		if n.InternalIP == addr || n.ExternalIP == addr || slices.ContainsFunc(n.PodCIDRs, func(p netip.Prefix) bool { return p.Contains(addr) }) {
			return n, nil
		}
	}
	return nil, nil
}

// splitPort splits "NAME:PORT" (PORT optional, 1-65535).
func splitPort(s string) (string, int32, error) {
	i := strings.LastIndex(s, ":")
	if i < 0 || strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
		return s, 0, nil // no port, or a bare IPv6 address
	}
	host := strings.Trim(s[:i], "[]")
	p, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil || p == 0 {
		return "", 0, badf("%q: port %q is not a number in 1-65535", s, s[i+1:])
	}
	return host, int32(p), nil
}

// TraceRef is the end in trace's syntax with its namespace made explicit,
// for the engine that traces over the nodes' snapshots: NAMESPACE/NAME for
// a pod, svc/NAMESPACE/NAME[:PORT] for a service; other kinds as given.
func (e End) TraceRef() string {
	port := ""
	if _, p, ok := strings.Cut(e.Ref[strings.LastIndex(e.Ref, "/")+1:], ":"); ok {
		port = ":" + p
	}
	switch e.Kind {
	case "pod":
		return e.Pod.Key() + port
	case "service":
		return fmt.Sprintf("svc/%s:%d", e.Service.Key(), e.Port)
	}
	return e.Ref
}
