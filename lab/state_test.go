package lab

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/netx-project/netx/lab/labstate"
)

func TestIsLabProcess(t *testing.T) {
	cases := []struct {
		cmdline string
		want    bool
	}{
		{"/usr/bin/netx\x00datapath\x00pause\x00--lab\x00seeds\x00--pod\x00default/a\x00", true},
		{"/x/kubectl-netx\x00datapath\x00serve\x00--listen\x00:80\x00--lab\x00seeds\x00", true},
		{"/usr/bin/netx\x00datapath\x00pause\x00--lab\x00seeds2\x00", false}, // another lab
		{"/usr/bin/netx\x00datapath\x00up\x00--lab\x00seeds\x00", false},     // not a lab process
		{"/usr/bin/sleep\x00--lab\x00seeds\x00", false},
		{"", false},
	}
	for _, c := range cases {
		if got := isLabProcess(c.cmdline, "seeds"); got != c.want {
			t.Errorf("isLabProcess(%q) = %v", c.cmdline, got)
		}
	}
}

func TestDownRejectsBadNamesFirst(t *testing.T) {
	// Checked before privileges or the lock: no path is ever built from it.
	for _, bad := range []string{"../..", "t*", ""} {
		if _, err := Down(t.Context(), bad); err == nil {
			t.Errorf("Down(%q) accepted", bad)
		}
	}
}

func TestLabNetnsPath(t *testing.T) {
	cases := map[string]bool{
		"/run/netns/netx.seeds.node1":       true,
		"/run/netns/netx.seeds.fabric":      true,
		"/run/netns/netx.seeds-2.node1":     false, // lab seeds-2, not seeds
		"/run/netns/netx.seeds.node1/../..": false,
		"/etc/passwd":                       false,
		"/run/netns/netx.seeds.":            false,
		"/run/netns/cni-1234":               false,
	}
	for p, want := range cases {
		if got := labNetnsPath("seeds", p); got != want {
			t.Errorf("labNetnsPath(seeds, %q) = %v", p, got)
		}
	}
}

func TestJournalTornLineAndRuns(t *testing.T) {
	st := State{Dir: t.TempDir()}
	j, err := st.openJournal()
	if err != nil {
		t.Fatal(err)
	}
	j.Append(labstate.Record{Op: labstate.RecStart})
	j.Append(labstate.Record{Op: labstate.RecProc, Role: labstate.RolePause, Pod: "default/a", PID: 10, Start: 5})
	j.Append(labstate.Record{Op: labstate.RecDone})
	j.Append(labstate.Record{Op: labstate.RecStart})
	j.Close()
	// A writer killed mid-line leaves half a record.
	f, _ := os.OpenFile(filepath.Join(st.Dir, "journal"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"proc","pid":1`)
	f.Close()
	recs, err := st.Records()
	if err != nil || len(recs) != 4 {
		t.Fatalf("records: %d %v, want 4 (torn line skipped)", len(recs), err)
	}
	if labstate.LastRunComplete(recs) {
		t.Error("a second up that never finished reads as complete")
	}
	if !labstate.LastRunComplete(recs[:3]) {
		t.Error("a finished up reads as incomplete")
	}
}

// TestSavedPlanReadByLabstate holds lab.json as lab writes it to what
// labstate, the read-only side, decodes from it: every node, pod,
// container, service port, endpoint and client of the seeds plan shows in
// the status (no process runs, so none is running).
func TestSavedPlanReadByLabstate(t *testing.T) {
	top, err := LoadFile("topologies/seeds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := top.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	st := State{Name: plan.Name, Dir: t.TempDir()}
	if err := st.saveLab(&SavedLab{Source: "test", Lab: plan}); err != nil {
		t.Fatal(err)
	}
	s, err := labstate.ReadStatus(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Lab != plan.Name || s.Source != "test" || s.Overlay != plan.Overlay || s.Proxy != plan.Proxy || s.Complete {
		t.Errorf("status head %+v, want lab %s from test, %s, %s, incomplete", s, plan.Name, plan.Overlay, plan.Proxy)
	}
	if len(s.Nodes) != len(plan.Nodes) || len(s.Pods) != len(plan.Pods) || len(s.Services) != len(plan.Services) || len(s.Clients) != len(plan.Clients) {
		t.Fatalf("status has %d nodes, %d pods, %d services, %d clients; plan %d, %d, %d, %d",
			len(s.Nodes), len(s.Pods), len(s.Services), len(s.Clients), len(plan.Nodes), len(plan.Pods), len(plan.Services), len(plan.Clients))
	}
	for i, n := range plan.Nodes {
		if got := s.Nodes[i]; got.Name != n.Name || got.IP != n.IP.String() || got.PodCIDR != n.PodCIDR.String() || got.Netns != n.Netns {
			t.Errorf("node %d: %+v, plan %+v", i, got, n)
		}
	}
	for i, p := range plan.Pods {
		got := s.Pods[i]
		if got.Key() != p.Key() || got.Node != p.Node || got.IP != p.IP.String() || got.HostNetwork != p.HostNetwork || got.Running || len(got.Containers) != len(p.Containers) {
			t.Errorf("pod %d: %+v, plan %+v", i, got, p)
			continue
		}
		for j, c := range p.Containers {
			if got.Containers[j].Name != c.Name || got.Containers[j].Log != st.LogFile(p.Key(), c.Name) || len(got.Containers[j].Ports) != len(c.Ports) {
				t.Errorf("pod %s container %d: %+v, plan %s", p.Key(), j, got.Containers[j], c.Name)
				continue
			}
			for k, cp := range c.Ports {
				if g := got.Containers[j].Ports[k]; g.Name != cp.Name || g.Port != cp.ContainerPort || g.Protocol != cp.Protocol {
					t.Errorf("pod %s container %s port %d: %+v, plan %+v", p.Key(), c.Name, k, g, cp)
				}
			}
		}
	}
	for i, svc := range plan.Services {
		got := s.Services[i]
		if got.Name != svc.Name || got.Namespace != svc.Namespace || got.Type != svc.Type || got.ClusterIP != svc.ClusterIP.String() || len(got.Ports) != len(svc.Ports) {
			t.Errorf("service %d: %+v, plan %+v", i, got, svc)
			continue
		}
		eps := map[string]bool{}
		for j, p := range svc.Ports {
			if g := got.Ports[j]; g.Name != p.Name || g.Port != p.Port || g.TargetPort != p.TargetPort || g.NodePort != p.NodePort || g.Protocol != p.Protocol {
				t.Errorf("service %s port %d: %+v, plan %+v", svc.Key(), j, g, p)
			}
			for _, e := range p.Endpoints {
				eps[e.IP.String()] = true
			}
		}
		if len(got.Endpoints) != len(eps) {
			t.Errorf("service %s endpoints %v, plan %v", svc.Key(), got.Endpoints, eps)
		}
		for _, e := range got.Endpoints {
			if !eps[e] {
				t.Errorf("service %s endpoint %s not in the plan", svc.Key(), e)
			}
		}
	}
	for i, c := range plan.Clients {
		if got := s.Clients[i]; got.Name != c.Name || got.IP != c.IP.String() || got.Netns != c.Netns {
			t.Errorf("client %d: %+v, plan %+v", i, got, c)
		}
	}
}
