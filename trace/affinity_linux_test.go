package trace

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/lab"
)

// TestRootTraceSessionAffinity: a service with sessionAffinity ClientIP
// in both kube-proxy modes (xt_recent lists; nftables dynamic sets). A
// first connection is predicted through the random pick, with the rule
// that will pin the client named; after a real connection, the node's
// state is read and the trace says where the client is pinned and for
// how long, with one path only, and real connections and a live probe
// all go there.
func TestRootTraceSessionAffinity(t *testing.T) {
	testenv.RequireRoot(t)
	for _, file := range []string{"seeds.yaml", "vxlan-nftables.yaml"} {
		t.Run(strings.TrimSuffix(file, ".yaml"), func(t *testing.T) {
			plan := upLab(t, file, sticky)
			w, err := LoadLab(plan.Name, "", true)
			if err != nil {
				t.Fatal(err)
			}
			req := Request{Src: "pod-a", Dst: "svc/svc-sticky"}
			res, err := w.Trace(req)
			if err != nil {
				t.Fatal(err)
			}
			a := res.Affinity
			if res.Verdict.Kind != Delivered || len(res.Branches) != 2 || a == nil || a.State != "first-connection" || a.TimeoutSeconds != 600 ||
				a.Rule == nil || !strings.Contains(a.Detail, "pins it to") || len(res.Warnings) > 0 {
				t.Fatalf("first connection: verdict %s, %d branches, affinity %+v, warnings %v\n%s", res.Verdict.Kind, len(res.Branches), a, res.Warnings, describe(res))
			}

			// A real connection pins pod-a to whichever endpoint answers.
			src, _, _, err := w.findPod("pod-a")
			if err != nil {
				t.Fatal(err)
			}
			addr := "10.96.0.98:80"
			first := answeredBy(t, src.NS.Path, addr)
			for range 3 {
				if again := answeredBy(t, src.NS.Path, addr); again != first {
					t.Fatalf("sessionAffinity ClientIP: pod-a answered by %s, then by %s", first, again)
				}
			}
			var ep string
			for _, p := range plan.Pods {
				if p.Key() == first {
					ep = p.IP.String() + ":8080"
				}
			}

			if w, err = LoadLab(plan.Name, "", true); err != nil {
				t.Fatal(err)
			}
			if res, err = w.Trace(req); err != nil {
				t.Fatal(err)
			}
			a = res.Affinity
			if res.Verdict.Kind != Delivered || res.Verdict.Netns != "pod "+first || len(res.Branches) != 0 || a == nil || a.State != "pinned" ||
				a.Endpoint != ep || a.LeftSeconds < 500 || a.LeftSeconds > 600 || !strings.Contains(a.Detail, "is pinned to "+ep+" for ") {
				t.Fatalf("after a connection answered by %s (%s): verdict %s in %s, %d branches, affinity %+v\n%s", first, ep, res.Verdict.Kind, res.Verdict.Netns, len(res.Branches), a, describe(res))
			}
			// The probe is a connection from pod-a too: the kernel sends
			// it where the trace says.
			res, live, err := w.Live(context.Background(), req, LiveOptions{Pcap: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if !live.Agrees || res.Verdict.Netns != "pod "+first {
				t.Errorf("--live on a pinned client: %s\n%s", res.Verdict.Netns, describe(res))
			}
		})
	}
}

// sticky adds svc-sticky to a topology: svc-b's pods behind a service
// with sessionAffinity ClientIP and a 600 s timeout.
func sticky(top *lab.Topology) {
	c := &lab.SessionAffinityConfig{}
	c.ClientIP.TimeoutSeconds = 600
	top.Services = append(top.Services, lab.Service{Name: "svc-sticky", ClusterIP: "10.96.0.98", Selector: map[string]string{"app": "b"},
		SessionAffinity: "ClientIP", SessionAffinityConfig: c, Ports: []lab.ServicePort{{Name: "http", Port: 80, TargetPort: "8080"}}})
}

// answeredBy connects from inside netns to addr and returns the pod
// (namespace/name) the built-in server says it is.
func answeredBy(t *testing.T, netns, addr string) string {
	t.Helper()
	c, err := lab.DialIn(netns, addr)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "hello\n")
	b, _ := io.ReadAll(c)
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "pod="); ok {
			return v
		}
	}
	t.Fatalf("%s answered %q", addr, b)
	return ""
}
