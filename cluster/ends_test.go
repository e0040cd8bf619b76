package cluster

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestEndsArguments: which lists Ends reads for a prefix and namespace,
// and what it makes of them. The clientset is a fake, so this holds the
// argument handling only; the e2e suite (TestE2EKubectl) holds Ends to a
// real API server and RBAC.
func TestEndsArguments(t *testing.T) {
	pod := func(ns, name string, phase corev1.PodPhase) runtime.Object {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Status: corev1.PodStatus{Phase: phase}}
	}
	objs := []runtime.Object{
		pod("default", "pod-a", corev1.PodRunning), pod("default", "b-1", corev1.PodPending), pod("default", "job-x", corev1.PodSucceeded),
		pod("kube-system", "dns", corev1.PodRunning),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "svc-b"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node2"}}, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}},
	}
	for _, c := range []struct {
		ns, prefix string
		source     bool
		want       []string
		reads      []string // resources listed
	}{
		{"default", "", true, []string{"b-1", "pod-a", "svc/svc-b", "node/node1", "node/node2", "internet"}, []string{"pods", "services", "nodes"}},
		{"default", "", false, []string{"b-1", "pod-a", "svc/svc-b", "node/node1", "node/node2"}, []string{"pods", "services", "nodes"}},
		{"kube-system", "", false, []string{"dns", "svc/kube-dns", "node/node1", "node/node2"}, []string{"pods", "services", "nodes"}},
		{"default", "p", false, []string{"pod-a"}, []string{"pods"}},
		{"default", "s", false, []string{"svc/svc-b"}, []string{"pods", "services"}},
		{"default", "svc/", false, []string{"svc/svc-b"}, []string{"services"}},
		{"default", "node/n", false, []string{"node/node1", "node/node2"}, []string{"nodes"}},
		{"default", "i", true, []string{"internet"}, []string{"pods"}},
		{"default", "i", false, nil, []string{"pods"}},
		{"default", "10.96.0.10", false, nil, []string{"pods"}},
	} {
		cs := fake.NewClientset(objs...)
		got := Ends(context.Background(), cs, c.ns, c.prefix, c.source)
		if !slices.Equal(got, c.want) {
			t.Errorf("Ends(%s, %q, source %v) = %q, want %q", c.ns, c.prefix, c.source, got, c.want)
		}
		var reads []string
		for _, a := range cs.Actions() {
			reads = append(reads, a.GetResource().Resource)
		}
		slices.Sort(reads)
		want := slices.Clone(c.reads)
		slices.Sort(want)
		if !slices.Equal(reads, want) {
			t.Errorf("Ends(%s, %q) listed %q, want %q", c.ns, c.prefix, reads, want)
		}
	}

	// A list the user may not read is left out; the others are offered.
	cs := fake.NewClientset(objs...)
	cs.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", nil)
	})
	if got, want := Ends(context.Background(), cs, "default", "", true), []string{"b-1", "pod-a", "svc/svc-b", "internet"}; !slices.Equal(got, want) {
		t.Errorf("nodes forbidden: %q, want %q", got, want)
	}
	// Nothing readable: nothing at all, not even internet.
	cs.PrependReactor("list", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", nil)
	})
	if got := Ends(context.Background(), cs, "default", "", true); got != nil {
		t.Errorf("everything forbidden: %q, want nothing", got)
	}
}
