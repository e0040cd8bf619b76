package cluster

import (
	"context"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// NewClient is a clientset for cfg that prints no API warnings: its
// callers (completion) write nothing but their answer.
func NewClient(cfg *rest.Config) (kubernetes.Interface, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{}
	return kubernetes.NewForConfig(cfg)
}

// Ends are the names a trace end can take that begin with prefix, read
// through the API: the pods of namespace ns that have not finished, by bare
// name; its services as svc/NAME; the cluster's nodes as node/NAME; and,
// for a source, internet. Only the lists prefix can match are read, at
// once. A list that cannot be read (RBAC forbids it, the API server does
// not answer before ctx ends) adds nothing: completion offers what it can
// and never an error.
func Ends(ctx context.Context, c kubernetes.Interface, ns, prefix string, source bool) []string {
	could := func(kind string) bool { return strings.HasPrefix(kind, prefix) || strings.HasPrefix(prefix, kind) }
	var pods, svcs, nodes []string
	var wg sync.WaitGroup
	if !strings.Contains(prefix, "/") {
		wg.Go(func() {
			l, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return
			}
			for _, p := range l.Items {
				if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
					pods = append(pods, p.Name)
				}
			}
		})
	}
	if could("svc/") {
		wg.Go(func() {
			l, err := c.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return
			}
			for _, s := range l.Items {
				svcs = append(svcs, "svc/"+s.Name)
			}
		})
	}
	if could("node/") {
		wg.Go(func() {
			l, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return
			}
			for _, n := range l.Items {
				nodes = append(nodes, "node/"+n.Name)
			}
		})
	}
	wg.Wait()
	var out []string
	for _, names := range [][]string{pods, svcs, nodes} {
		slices.Sort(names)
		for _, n := range names {
			if strings.HasPrefix(n, prefix) {
				out = append(out, n)
			}
		}
	}
	if source && strings.HasPrefix("internet", prefix) {
		out = append(out, "internet")
	}
	return out
}
