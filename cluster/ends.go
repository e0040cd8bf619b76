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
	"k8s.io/client-go/tools/clientcmd"
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
// not answer before ctx ends) adds nothing, and when none can be read there
// is nothing at all: completion offers what it can and never an error.
func Ends(ctx context.Context, c kubernetes.Interface, ns, prefix string, source bool) []string {
	could := func(kind string) bool { return strings.HasPrefix(kind, prefix) || strings.HasPrefix(prefix, kind) }
	var pods, svcs, nodes []string
	var podsRead bool
	var wg sync.WaitGroup
	if !strings.Contains(prefix, "/") {
		wg.Go(func() {
			l, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return
			}
			podsRead = true
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
	// internet needs no list, but the pods' list read says the cluster
	// answers this user: without it, a shell offering internet alone would
	// hide that nothing could be read.
	if source && podsRead && strings.HasPrefix("internet", prefix) {
		out = append(out, "internet")
	}
	return out
}

// Contexts are the kubeconfig's contexts that begin with prefix, for
// --context; read from the files, no API call.
func Contexts(c clientcmd.ClientConfig, prefix string) []string {
	raw, err := c.RawConfig()
	if err != nil {
		return nil
	}
	var out []string
	for name := range raw.Contexts {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Namespaces are the cluster's namespaces that begin with prefix, for
// -n; nothing when the user may not list them.
func Namespaces(ctx context.Context, c kubernetes.Interface, prefix string) []string {
	l, err := c.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range l.Items {
		if strings.HasPrefix(n.Name, prefix) {
			out = append(out, n.Name)
		}
	}
	slices.Sort(out)
	return out
}
