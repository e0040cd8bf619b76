package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/netx-project/netx/trace"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CheckEndpoints holds the datapath to the API: the endpoints the
// deciding node's kube-proxy rules sent the traced packet to (the choices
// at its DNAT, or its one DNAT) against the endpoints the service's
// EndpointSlices list for that port (ready, else serving terminating, as
// kube-proxy picks). Under a Local traffic policy the node's own
// endpoints are what its rules may hold. Each difference is a finding:
// kube-proxy on that node is behind the API (or not running).
func (s *Session) CheckEndpoints(ctx context.Context, plan *Plan, res *trace.Result) []string {
	svc, sp := s.API.serviceFor(ctx, plan.Dst)
	if svc == nil || svc.Headless {
		return nil
	}
	node, rules, ok := ruleEndpoints(res)
	if !ok {
		return nil
	}
	var want, local []netip.AddrPort
	for _, e := range usedEndpoints(svc) {
		p, ok := e.Ports[sp.Name]
		if !ok {
			continue
		}
		ap := netip.AddrPortFrom(e.Addr, uint16(p))
		want = append(want, ap)
		if e.Node == node {
			local = append(local, ap)
		}
	}
	slices.SortFunc(want, netip.AddrPort.Compare)
	slices.SortFunc(local, netip.AddrPort.Compare)
	if slices.Equal(rules, want) {
		return nil
	}
	if (svc.InternalTrafficPolicy == "Local" || svc.ExternalTrafficPolicy == "Local") && slices.Equal(rules, local) {
		return nil
	}
	name := svc.Key()
	if sp.Name != "" {
		name += ":" + sp.Name
	}
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(rules, w) {
			missing = append(missing, w.String())
		}
	}
	for _, r := range rules {
		if !slices.Contains(want, r) {
			extra = append(extra, r.String())
		}
	}
	f := fmt.Sprintf("the EndpointSlices of %s list %d ready endpoint(s), %s's rules have %d", name, len(want), node, len(rules))
	if len(missing) > 0 {
		f += " (missing " + strings.Join(missing, ", ") + ")"
	}
	if len(extra) > 0 {
		f += fmt.Sprintf(" (and still send to %s, which the EndpointSlices no longer list)", strings.Join(extra, ", "))
	}
	return []string{f + ": kube-proxy on " + node + " is behind the API (is it running? its logs say why)"}
}

// ruleEndpoints are the endpoints the first node that load-balanced the
// packet had in its rules: the choices of its DNAT, its one DNAT, or none
// when its rules only reject. ok is false when no node chose.
func ruleEndpoints(res *trace.Result) (string, []netip.AddrPort, bool) {
	if len(res.Branches) > 0 {
		node := res.Branches[0].Node
		var out []netip.AddrPort
		for _, b := range res.Branches {
			if b.Node == node && b.Hop == res.Branches[0].Hop && b.Verdict == "" && b.Endpoint.IsValid() {
				out = append(out, b.Endpoint)
			}
		}
		slices.SortFunc(out, netip.AddrPort.Compare)
		return node, slices.Compact(out), true
	}
	for _, h := range res.Hops {
		for _, n := range h.NAT {
			if n.Kind == "DNAT" {
				ap, err := netip.ParseAddrPort(n.To)
				if err != nil {
					return "", nil, false
				}
				return h.Node, []netip.AddrPort{ap}, true
			}
		}
	}
	switch res.Verdict.Kind {
	case trace.Rejected, trace.NoEndpoints:
		return res.Verdict.Node, nil, true
	}
	return "", nil, false
}

// serviceFor is the service a destination reaches and its port: the
// service named, or the one whose NodePort, cluster, external or load
// balancer IP and port the destination is. nil when none is.
func (a *API) serviceFor(ctx context.Context, dst End) (*Service, *ServicePort) {
	if dst.Kind == "service" {
		return dst.Service, dst.ServicePort
	}
	if dst.Port == 0 || dst.Kind != "node" && dst.Kind != "ip" {
		return nil, nil
	}
	list, err := a.cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil
	}
	for i := range list.Items {
		svc := serviceOf(&list.Items[i])
		for j := range svc.Ports {
			sp := &svc.Ports[j]
			hit := dst.Kind == "node" && sp.NodePort == dst.Port ||
				dst.Kind == "ip" && sp.Port == dst.Port && (slices.Contains(svc.ClusterIPs, dst.Addr) || slices.Contains(svc.ExternalIPs, dst.Addr) || slices.Contains(svc.LoadBalancerIPs, dst.Addr))
			if !hit {
				continue
			}
			full, err := a.Service(ctx, svc.Namespace, svc.Name)
			if err != nil {
				return nil, nil
			}
			for k := range full.Ports {
				if full.Ports[k].Port == sp.Port && full.Ports[k].Protocol == sp.Protocol {
					return full, &full.Ports[k]
				}
			}
		}
	}
	return nil, nil
}
