package trace

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netx-project/netx/inspect"
)

// loadFidelity loads the e2e fidelity matrix's real node snapshots
// (testdata/cluster/fidelity-<mode>, make testdata-cluster): prefix ""
// as the objects were programmed, "after-affinity." right after a first
// connection to the session affinity service.
func loadFidelity(t *testing.T, mode, prefix string) *World {
	t.Helper()
	var nodes []*Node
	for _, n := range []string{"node1", "node2"} {
		s, err := inspect.ReadSnapshotFile(filepath.Join("..", "testdata", "cluster", "fidelity-"+mode, n+"."+prefix+"snapshot.json"))
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, &Node{Name: n, Snap: s})
	}
	w, err := NewWorld(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestTraceFidelityVerdicts: on real kube-proxy rules of both modes, a
// verdict is the deciding rule's own — a drop for a Local traffic policy
// without a local endpoint and for a source outside
// loadBalancerSourceRanges, a reject for a service without endpoints —
// with kube-proxy's reason; and session affinity is read from the node's
// state. The e2e matrix compares the same predictions with real
// connections.
func TestTraceFidelityVerdicts(t *testing.T) {
	for _, mode := range []string{"iptables", "nftables"} {
		t.Run(mode, func(t *testing.T) {
			w := loadFidelity(t, mode, "")
			for _, c := range []struct {
				name, src, dst, node, kind, detail string
			}{
				{"iTP Local, no local endpoint", "node/node2", "svc/fidelity/itp-local", "", Dropped, "fidelity/itp-local:http has no endpoint on this node and its internalTrafficPolicy is Local — the client times out"},
				{"iTP Local, a local endpoint", "node/node1", "svc/fidelity/itp-local", "", Delivered, "pod fidelity/solo"},
				{"eTP Local, no local endpoint", "internet", "node/node2:31012", "", Dropped, "fidelity/etp-local:http has no endpoint on this node and its externalTrafficPolicy is Local"},
				{"eTP Local, a local endpoint", "internet", "node/node1:31012", "", Delivered, "pod fidelity/solo"},
				{"no endpoints", "fidelity/client", "svc/fidelity/no-endpoints", "", NoEndpoints, "fidelity/no-endpoints:http has no endpoints: kube-proxy rejects it"},
				{"LB source range refuses", "internet", "198.51.100.11:80", "node1", Dropped, "the source is not in fidelity/lb-refuse:http's loadBalancerSourceRanges"},
			} {
				t.Run(c.name, func(t *testing.T) {
					req := Request{Src: c.src, Dst: c.dst, Node: c.node}
					if c.src == "internet" {
						req.ClientIP = netip.MustParseAddr("192.168.77.101")
					}
					res, err := w.Trace(req)
					if err != nil {
						t.Fatal(err)
					}
					if res.Verdict.Kind != c.kind || !strings.Contains(res.Verdict.Detail, c.detail) && !strings.Contains(res.Verdict.Netns, strings.TrimPrefix(c.detail, "pod ")) {
						t.Fatalf("verdict %s — %s, want %s saying %q\n%s", res.Verdict.Kind, res.Verdict.Detail, c.kind, c.detail, describe(res))
					}
					if (c.kind == Dropped || c.kind == NoEndpoints) && res.Verdict.Rule == nil {
						t.Errorf("no deciding rule: %+v", res.Verdict)
					}
					if len(res.Warnings) > 0 {
						t.Errorf("warnings: %v", res.Warnings)
					}
				})
			}
			// The admitted client: the same LoadBalancer IP, another source.
			res, err := w.Trace(Request{Src: "internet", Dst: "198.51.100.10:80", Node: "node1", ClientIP: netip.MustParseAddr("192.168.77.101")})
			if err != nil || res.Verdict.Kind != Delivered {
				t.Errorf("LB source range admits 192.168.77.101: %v %+v", err, res.Verdict)
			}

			// Session affinity: before any connection, the first
			// connection's path; after one, the pin the node holds.
			res, err = w.Trace(Request{Src: "fidelity/client", Dst: "svc/fidelity/affinity"})
			if err != nil {
				t.Fatal(err)
			}
			if a := res.Affinity; a == nil || a.State != "first-connection" || len(res.Branches) != 2 || a.TimeoutSeconds != 600 {
				t.Errorf("first connection: affinity %+v, %d branches", a, len(res.Branches))
			}
			after := loadFidelity(t, mode, "after-affinity.")
			res, err = after.Trace(Request{Src: "fidelity/client", Dst: "svc/fidelity/affinity"})
			if err != nil {
				t.Fatal(err)
			}
			a := res.Affinity
			if a == nil || a.State != "pinned" || len(res.Branches) != 0 || a.LeftSeconds <= 0 || a.LeftSeconds > 600 ||
				!strings.HasSuffix(res.Verdict.Netns, strings.SplitN(a.Endpoint, ":", 2)[0]) && !strings.Contains(describe(res), a.Endpoint) {
				t.Errorf("after a connection: affinity %+v, verdict %+v, %d branches\n%s", a, res.Verdict, len(res.Branches), describe(res))
			}
		})
	}
}
