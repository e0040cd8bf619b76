package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/trace"
)

// A Session is one command's work with the cluster: the API for the ends,
// the agents for the nodes, and the snapshots read so far.
type Session struct {
	API    *API
	Agents *Agents
	snaps  map[string]*inspect.Snapshot
	order  []string
}

// NewSession reads through api and agents.
func NewSession(api *API, agents *Agents) *Session {
	return &Session{API: api, Agents: agents, snaps: map[string]*inspect.Snapshot{}}
}

// maxNodes bounds how many nodes one trace follows a packet through.
const maxNodes = 8

// Trace traces req through the cluster. Both ends are found in the API
// (req's Src and Dst in the namespace of -n or the context; req.Node is an
// internet client's arrival node), the nodes the plan names are read
// through their agents, and the engine walks the path over their
// snapshots with the ends named with their namespaces. A packet that
// leaves the nodes read toward another node of the cluster (a NodePort's
// endpoint elsewhere, the next hop of a route) has that node read too, and
// the trace runs again.
func (s *Session) Trace(ctx context.Context, req trace.Request) (*trace.Result, *Plan, error) {
	_, _, plan, res, err := s.follow(ctx, req)
	if err != nil {
		return nil, plan, err
	}
	res.Findings = append(res.Findings, s.CheckEndpoints(ctx, plan, res)...)
	return res, plan, nil
}

// follow resolves req's ends and reads nodes until the packet stays
// within them: it returns the world over the nodes read, the request with
// the ends as the engine names them, the plan and the result.
func (s *Session) follow(ctx context.Context, req trace.Request) (*trace.World, trace.Request, *Plan, *trace.Result, error) {
	plan, err := s.API.Resolve(ctx, req.Src, req.Dst, req.Node)
	if err != nil {
		return nil, req, nil, nil, err
	}
	req.Src, req.Dst = plan.Src.TraceRef(), plan.Dst.TraceRef()
	var nodes []string
	for _, n := range plan.Nodes {
		nodes = append(nodes, n.Name)
	}
	for {
		w, err := s.World(ctx, nodes)
		if err != nil {
			return nil, req, plan, nil, err
		}
		res, err := w.Trace(req)
		if err != nil {
			return nil, req, plan, nil, err
		}
		next := s.toward(ctx, res, nodes)
		if next == "" || len(nodes) >= maxNodes {
			return w, req, plan, res, nil
		}
		nodes = append(nodes, next)
		plan.need(next, "the packet goes there ("+res.Verdict.Toward+")")
	}
}

// toward is the node a packet that left the traced nodes went to, when it
// is one of the cluster's not read yet.
func (s *Session) toward(ctx context.Context, res *trace.Result, read []string) string {
	if res.Verdict.Kind != trace.Left || res.Verdict.Toward == "" {
		return ""
	}
	addr, err := netip.ParseAddr(res.Verdict.Toward)
	if err != nil {
		return ""
	}
	n, err := s.API.nodeOwning(ctx, addr)
	if err != nil || n == nil || slices.Contains(read, n.Name) {
		return ""
	}
	return n.Name
}

// World is the engine's world over nodes, each read once per session
// (the agents start where needed, the snapshots stream in parallel).
func (s *Session) World(ctx context.Context, nodes []string) (*trace.World, error) {
	var missing []string
	for _, n := range nodes {
		if s.snaps[n] == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		if err := s.Agents.Start(ctx, missing); err != nil {
			return nil, err
		}
		got, err := s.Agents.Snapshots(ctx, missing)
		if err != nil {
			return nil, err
		}
		for _, n := range missing {
			s.snaps[n] = got[n]
			s.order = append(s.order, n)
		}
	}
	var tn []*trace.Node
	for _, n := range nodes {
		tn = append(tn, &trace.Node{Name: n, Snap: s.snaps[n]})
	}
	return trace.NewWorld(tn)
}

// NodeSnapshot reads the node named name through its agent.
func (s *Session) NodeSnapshot(ctx context.Context, name string) (*inspect.Snapshot, error) {
	if _, err := s.API.node(ctx, name); err != nil {
		return nil, err
	}
	if _, err := s.World(ctx, []string{name}); err != nil {
		return nil, err
	}
	return s.snaps[name], nil
}

// PodSnapshot finds the pod ref (NAME or NAMESPACE/NAME) in the API and
// reads its node; it returns the snapshot and the pod's NAMESPACE/NAME.
func (s *Session) PodSnapshot(ctx context.Context, ref string) (*inspect.Snapshot, string, error) {
	ns, name := s.API.Namespace, ref
	if i := strings.Index(ref, "/"); i >= 0 {
		ns, name = ref[:i], ref[i+1:]
	}
	p, err := s.API.Pod(ctx, ns, name)
	if err != nil {
		return nil, "", err
	}
	if p.Node == "" {
		return nil, "", fmt.Errorf("pod %s is not scheduled to a node yet", p.Key())
	}
	snap, err := s.NodeSnapshot(ctx, p.Node)
	return snap, p.Key(), err
}
