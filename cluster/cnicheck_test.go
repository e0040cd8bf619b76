package cluster

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// TestClusterCIDR: kube-proxy's ConfigMap first (its IPv4 network of a
// dual-stack list), kubeadm's next, else one error naming the flag.
func TestClusterCIDR(t *testing.T) {
	cm := func(name, key, body string) runtime.Object {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"}, Data: map[string]string{key: body}}
	}
	cases := []struct {
		name    string
		objs    []runtime.Object
		want    string
		from    string
		wantErr string
	}{
		{"kube-proxy", []runtime.Object{cm("kube-proxy", "config.conf", "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: fd00::/48,10.244.0.0/16\n")}, "10.244.0.0/16", "ConfigMap kube-system/kube-proxy", ""},
		{"kubeadm", []runtime.Object{cm("kube-proxy", "config.conf", "mode: iptables\n"), cm("kubeadm-config", "ClusterConfiguration", "networking:\n  podSubnet: 10.32.0.0/12\n")}, "10.32.0.0/12", "ConfigMap kube-system/kubeadm-config", ""},
		{"neither", nil, "", "", "no ConfigMap kube-system/kube-proxy; no ConfigMap kube-system/kubeadm-config): give it with --cluster-cidr"},
	}
	for _, c := range cases {
		got, from, err := ClusterCIDR(context.Background(), fake.NewClientset(c.objs...))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: %v, want an error with %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || got.String() != c.want || from != c.from {
			t.Errorf("%s: %v from %q (%v), want %s from %q", c.name, got, from, err, c.want, c.from)
		}
	}
}

// TestCheckPodCIDRs: every node needs a pod CIDR inside the cluster's.
func TestCheckPodCIDRs(t *testing.T) {
	node := func(name, cidr string) runtime.Object {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: cidr}}
	}
	cl := netip.MustParsePrefix("10.244.0.0/16")
	cases := []struct {
		objs []runtime.Object
		want string
	}{
		{[]runtime.Object{node("n1", "10.244.1.0/24"), node("n2", "10.244.2.0/24")}, ""},
		{[]runtime.Object{node("n1", "10.244.1.0/24"), node("n2", "")}, "node n2 has no IPv4 spec.podCIDR"},
		{[]runtime.Object{node("n1", "10.245.1.0/24")}, "the pod CIDR of node n1 (10.245.1.0/24) is outside the cluster's pod network 10.244.0.0/16"},
		{nil, "no nodes"},
	}
	for _, c := range cases {
		err := CheckPodCIDRs(context.Background(), fake.NewClientset(c.objs...), cl)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%v: %v, want %q", c.objs, err, c.want)
		}
	}
}
