package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// ClusterCIDR finds the cluster's pod network, which netx-cni masquerades
// traffic leaving: kube-proxy's clusterCIDR in kube-system/kube-proxy
// (kubeadm writes it there), else kubeadm's networking.podSubnet in
// kube-system/kubeadm-config. It returns the network and where it was
// read; an error when neither says, naming the flag that does.
func ClusterCIDR(ctx context.Context, cs kubernetes.Interface) (netip.Prefix, string, error) {
	sources := []struct {
		configMap, key string
		field          func([]byte) (string, error)
	}{
		{"kube-proxy", "config.conf", func(b []byte) (string, error) {
			var c struct {
				ClusterCIDR string `json:"clusterCIDR"`
			}
			err := yaml.Unmarshal(b, &c)
			return c.ClusterCIDR, err
		}},
		{"kubeadm-config", "ClusterConfiguration", func(b []byte) (string, error) {
			var c struct {
				Networking struct {
					PodSubnet string `json:"podSubnet"`
				} `json:"networking"`
			}
			err := yaml.Unmarshal(b, &c)
			return c.Networking.PodSubnet, err
		}},
	}
	var tried []string
	for _, src := range sources {
		where := "kube-system/" + src.configMap
		cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, src.configMap, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			tried = append(tried, "no ConfigMap "+where)
			continue
		case err != nil:
			return netip.Prefix{}, "", apiError(err, "get", "configmaps", "kube-system", src.configMap)
		}
		raw, err := src.field([]byte(cm.Data[src.key]))
		if err != nil || raw == "" {
			tried = append(tried, fmt.Sprintf("ConfigMap %s names no pod network", where))
			continue
		}
		// Dual stack: "10.244.0.0/16,fd00::/48"; netx-cni is IPv4.
		for _, f := range strings.Split(raw, ",") {
			if p, err := netip.ParsePrefix(strings.TrimSpace(f)); err == nil && p.Addr().Is4() {
				return p.Masked(), "ConfigMap " + where, nil
			}
		}
		tried = append(tried, fmt.Sprintf("ConfigMap %s names %q, no IPv4 network", where, raw))
	}
	return netip.Prefix{}, "", fmt.Errorf("the cluster's pod network is not known (%s): give it with --cluster-cidr, as the controller manager's --cluster-cidr", strings.Join(tried, "; "))
}

// CheckPodCIDRs refuses a cluster netx-cni cannot serve: a node without
// an IPv4 spec.podCIDR (netx-cni hands out its pods' addresses from it),
// or one outside clusterCIDR (its pods' traffic would be masqueraded as
// if it left the cluster).
func CheckPodCIDRs(ctx context.Context, cs kubernetes.Interface, clusterCIDR netip.Prefix) error {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return apiError(err, "list", "nodes", "", "")
	}
	var none, outside []string
	for i := range list.Items {
		n := nodeOf(&list.Items[i])
		var v4 netip.Prefix
		for _, p := range n.PodCIDRs {
			if p.Addr().Is4() {
				v4 = p
				break
			}
		}
		switch {
		case !v4.IsValid():
			none = append(none, n.Name)
		case !clusterCIDR.Contains(v4.Addr()) || v4.Bits() < clusterCIDR.Bits():
			outside = append(outside, fmt.Sprintf("%s (%s)", n.Name, v4))
		}
	}
	sort.Strings(none)
	sort.Strings(outside)
	switch {
	case len(list.Items) == 0:
		return fmt.Errorf("the cluster has no nodes to install netx's CNI on")
	case len(none) > 0:
		return fmt.Errorf("node %s has no IPv4 spec.podCIDR, and netx-cni hands out pod addresses from it: run the controller manager with --allocate-node-cidrs --cluster-cidr, or set the nodes' podCIDR", strings.Join(none, ", node "))
	case len(outside) > 0:
		return fmt.Errorf("the pod CIDR of node %s is outside the cluster's pod network %s: give --cluster-cidr the network that holds every node's", strings.Join(outside, ", node "), clusterCIDR)
	}
	return nil
}

// WaitNodesReady waits until every node is Ready (with a CNI installed,
// the runtime reports its network ready and the kubelet the node),
// telling progress how many are as that changes. When limit passes first,
// the error names each node that is not, with the kubelet's reason.
func WaitNodesReady(ctx context.Context, cs kubernetes.Interface, limit time.Duration, progress func(string)) error {
	var why []string
	return poll(ctx, limit, progress, func(ctx context.Context) (string, bool, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", false, apiError(err, "list", "nodes", "", "")
		}
		why = why[:0]
		for i := range list.Items {
			if msg, ok := nodeReady(&list.Items[i]); !ok {
				why = append(why, list.Items[i].Name+": "+msg)
			}
		}
		sort.Strings(why)
		return fmt.Sprintf("nodes Ready: %d of %d", len(list.Items)-len(why), len(list.Items)), len(why) == 0, nil
	}, func(context.Context) error {
		return fmt.Errorf("nodes not Ready within %v: %s; kubectl netx teardown removes what setup made", limit, strings.Join(why, "; "))
	})
}

// nodeReady is the node's Ready condition: whether it holds, and the
// kubelet's message when not.
func nodeReady(n *corev1.Node) (string, bool) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				return "", true
			}
			msg := strings.TrimSpace(c.Message)
			if msg == "" {
				msg = c.Reason
			}
			return msg, false
		}
	}
	return "no Ready condition yet", false
}
