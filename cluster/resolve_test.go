package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// These tests check argument handling — references, ports, error lines —
// over a fake clientset. What the API really answers is the e2e suite's
// (e2e/cluster_api_linux_test.go, on the real cluster).

func ptr[T any](v T) *T { return &v }

func objects() []runtime.Object {
	pod := func(ns, name, node, ip string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{NodeName: node,
			Containers: []corev1.Container{{Name: "web", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
			Status: corev1.PodStatus{Phase: phase, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}
	}
	node := func(name, ip, cidr string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr, PodCIDRs: []string{cidr}},
			Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "svc-b"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}}}}
	multi := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "multi"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.11", Type: corev1.ServiceTypeLoadBalancer,
		Ports: []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080}, {Name: "admin", Port: 81}}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "198.51.100.10"}}}}}
	ext := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "svc-b-x", Labels: map[string]string{discoveryv1.LabelServiceName: "svc-b"}},
		AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.2.2"}, NodeName: ptr("node2"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "b-2"}},
			{Addresses: []string{"10.244.1.3"}, NodeName: ptr("node1"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}},
		}}
	return []runtime.Object{
		pod("default", "pod-a", "node1", "10.244.1.2", corev1.PodRunning), pod("default", "pending", "", "", corev1.PodPending), pod("other", "pod-o", "node2", "10.244.2.9", corev1.PodRunning),
		node("node1", "192.168.77.11", "10.244.1.0/24"), node("node2", "192.168.77.12", "10.244.2.0/24"), svc, multi, ext, slice,
	}
}

func TestResolve(t *testing.T) {
	a := NewAPI(fake.NewClientset(objects()...), "default")
	ctx := context.Background()
	for _, c := range []struct {
		src, dst, entry string
		kinds           string // src kind, dst kind
		nodes           string
		port            int32
	}{
		{"pod-a", "svc/svc-b", "", "pod service", "node1 node2", 80},
		{"default/pod-a", "svc/default/svc-b:http", "", "pod service", "node1 node2", 80},
		{"pod/pod-a", "svc-b", "", "pod service", "node1 node2", 80}, // a bare name that is no pod: the service
		{"pod-a", "other/pod-o:8080", "", "pod pod", "node1 node2", 8080},
		{"internet", "node/node2:30080", "", "internet node", "node2", 30080},
		{"internet", "198.51.100.10:80", "node1", "internet ip", "node1", 80},
		{"node/node1", "10.244.2.9:8080", "", "node ip", "node1 node2", 8080},
		{"pod-a", "svc/multi:admin", "", "pod service", "node1", 81},
		{"pod-a", "localhost:5000", "", "pod localhost", "node1", 5000},
	} {
		p, err := a.Resolve(ctx, c.src, c.dst, c.entry)
		if err != nil {
			t.Errorf("%s → %s: %v", c.src, c.dst, err)
			continue
		}
		var nodes []string
		for _, n := range p.Nodes {
			nodes = append(nodes, n.Name)
		}
		if got := p.Src.Kind + " " + p.Dst.Kind; got != c.kinds || strings.Join(nodes, " ") != c.nodes || p.Dst.Port != c.port {
			t.Errorf("%s → %s: %s, nodes %v, port %d; want %s, nodes %s, port %d", c.src, c.dst, got, nodes, p.Dst.Port, c.kinds, c.nodes, c.port)
		}
	}
	// Ready endpoints only: the terminating one is kube-proxy's fallback.
	p, _ := a.Resolve(ctx, "pod-a", "svc/svc-b", "")
	if len(p.Nodes) != 2 || !strings.Contains(p.Nodes[1].Why, "10.244.2.2") {
		t.Errorf("svc-b's nodes: %+v", p.Nodes)
	}
}

func TestResolveBadInput(t *testing.T) {
	a := NewAPI(fake.NewClientset(objects()...), "default")
	ctx := context.Background()
	for _, c := range []struct{ src, dst, want string }{
		{"nope", "svc/svc-b", `pod "nope" not found in namespace "default"; kubectl get pods -n default lists them`},
		{"pod-a", "nope", `no pod or service "nope" in namespace "default"`},
		{"pod-a", "svc/nope", `service "nope" not found in namespace "default"`},
		{"pod-a", "svc/ext", "service default/ext is ExternalName (db.example.com): a DNS name"},
		{"pod-a", "svc/multi", "service default/multi has 2 ports: name one (svc/multi:PORT): http (80/TCP), admin (81/TCP)"},
		{"pod-a", "svc/multi:99", `service default/multi has no port "99"`},
		{"pending", "svc/svc-b", "pod default/pending is Pending, not Running"},
		{"svc/svc-b", "pod-a", "a service cannot send"},
		{"pod-a", "internet", "internet is only a source"},
		{"node/node9", "pod-a", `node "node9" not found`},
		{"internet", "10.99.0.1:80", "no node to arrive at; name one with --node NAME"},
		{"pod-a", "pod-a:99999", "is not a number in 1-65535"},
	} {
		_, err := a.Resolve(ctx, c.src, c.dst, "")
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s → %s: %v, want one line with %q", c.src, c.dst, err, c.want)
		}
	}
}

// TestRBACLine: a refusal names the verb and the resource the user lacks.
func TestRBACLine(t *testing.T) {
	cs := fake.NewClientset(objects()...)
	cs.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "pod-a", errors.New(`User "viewer" cannot get resource "pods"`))
	})
	_, err := NewAPI(cs, "default").Resolve(context.Background(), "pod-a", "svc/svc-b", "")
	if err == nil || !strings.Contains(err.Error(), `forbidden: your user may not "get" pods (RBAC)`) {
		t.Errorf("forbidden: %v", err)
	}
}

func TestServiceAndEndpoints(t *testing.T) {
	a := NewAPI(fake.NewClientset(objects()...), "default")
	s, err := a.Service(context.Background(), "default", "svc-b")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Endpoints) != 2 || s.Endpoints[0].Addr.String() != "10.244.1.3" || !s.Endpoints[0].Terminating || s.Endpoints[0].Ready ||
		s.Endpoints[1].Ports["http"] != 8080 || s.Endpoints[1].Pod != "default/b-2" || s.Ports[0].TargetPort != "http" {
		t.Errorf("svc-b: %+v", s)
	}
	m, _ := a.Service(context.Background(), "default", "multi")
	if m.Type != "LoadBalancer" || len(m.LoadBalancerIPs) != 1 || m.LoadBalancerIPs[0].String() != "198.51.100.10" || m.Ports[0].NodePort != 30080 {
		t.Errorf("multi: %+v", m)
	}
}
