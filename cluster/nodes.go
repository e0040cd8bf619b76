package cluster

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// resyncNodes is how often WatchNodes hands the nodes over even when
// none changed, so that what the callback keeps (routes) is repaired
// when someone removed it by hand.
const resyncNodes = time.Minute

// WatchNodes hands f every node (Node's view: addresses, pod CIDRs,
// readiness) at once, then again whenever one is added, changed or
// removed, and at least every minute, until ctx ends. A watch the API
// server closes is opened again from a fresh list. What the user may not
// do is returned as one line naming the verb.
func WatchNodes(ctx context.Context, cs kubernetes.Interface, f func([]Node)) error {
	for {
		l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return apiError(err, "list", "nodes", "", "")
		}
		nodes := map[string]*corev1.Node{}
		for i := range l.Items {
			nodes[l.Items[i].Name] = &l.Items[i]
		}
		hand := func() {
			out := make([]Node, 0, len(nodes))
			for _, n := range nodes {
				out = append(out, nodeOf(n))
			}
			f(out)
		}
		hand()
		w, err := cs.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{ResourceVersion: l.ResourceVersion})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return apiError(err, "watch", "nodes", "", "")
		}
		tick := time.NewTicker(resyncNodes)
	events:
		for {
			select {
			case <-ctx.Done():
				w.Stop()
				tick.Stop()
				return nil
			case <-tick.C:
				hand()
			case ev, ok := <-w.ResultChan():
				if !ok {
					break events
				}
				n, isNode := ev.Object.(*corev1.Node)
				switch {
				case !isNode:
					break events // an error event: list again
				case ev.Type == watch.Deleted:
					delete(nodes, n.Name)
				default:
					nodes[n.Name] = n
				}
				hand()
			}
		}
		w.Stop()
		tick.Stop()
	}
}
