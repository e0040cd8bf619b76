package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/netx-project/netx/internal/capture"
	"github.com/netx-project/netx/trace"
)

// Live traces req through the cluster as Trace does, then proves the path
// with one real probe: each node's agent carries out its part of the plan
// (the sender in the source's namespace, captures on that node's hops,
// the kernel's trace in the namespaces whose rules the path crosses), and
// the evidence of all nodes is held to the prediction as one: every hop
// on every node, the first divergence wherever it is.
func (s *Session) Live(ctx context.Context, req trace.Request, o trace.LiveOptions) (*trace.Result, *Plan, error) {
	w, req, plan, _, err := s.follow(ctx, req)
	if err != nil {
		return nil, plan, err
	}
	l, err := w.PrepareLive(req, o)
	if err != nil {
		return nil, plan, err
	}
	ev, err := s.Agents.Live(ctx, l.Plan, l.Watch())
	if err != nil {
		return nil, plan, err
	}
	res, _, err := l.Judge(ev)
	if err != nil {
		return nil, plan, err
	}
	res.Findings = append(res.Findings, s.CheckEndpoints(ctx, plan, res)...)
	return res, plan, nil
}

// liveGrace is how long the agents get to remove their trace rules and
// exit once their stream is closed, before the client moves on (and
// deletes its pods).
const liveGrace = 5 * time.Second

// agentLink is the exec stream to one node's `agent live`.
type agentLink struct {
	node  string
	in    *io.PipeWriter
	lines chan string
	done  chan error
	err   error // the exec's error, once done
}

// send writes one line to the agent.
func (l *agentLink) send(line string) error {
	_, err := io.WriteString(l.in, line+"\n")
	return err
}

// next is the agent's next line; the exec's error (the agent's last words
// on stderr) when the stream ended instead.
func (l *agentLink) next(ctx context.Context) (string, error) {
	select {
	case line, ok := <-l.lines:
		if ok {
			return line, nil
		}
		if l.err == nil {
			l.err = <-l.done
			if l.err == nil {
				l.err = fmt.Errorf("node %s: the agent ended its live part early", l.node)
			}
		}
		return "", l.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Live has each node's agent carry out its part of plan (trace.LivePlan's
// protocol over pods/exec): all start their traces and captures, the
// probe's node sends the probe, all stop and send their evidence, merged
// here; seen (when the plan asks to Watch) is given each packet an agent
// keeps as the agent reports it. However it ends — an agent's error, Ctrl-C (ctx) — every stream is
// closed, so that each agent removes its trace rules, and the agents get
// liveGrace to finish before Live returns.
func (a *Agents) Live(ctx context.Context, plan *trace.LivePlan, seen func(capture.Packet)) (*trace.LiveEvidence, error) {
	nodes := plan.Nodes()
	if plan.Probe == nil || len(nodes) == 0 {
		return nil, errors.New("live: nothing to probe")
	}
	// The streams outlive ctx a little: closing stdin, not cutting the
	// connection, is what tells an agent to clean up.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var links []*agentLink
	defer func() {
		for _, l := range links {
			l.in.Close()
		}
		deadline := time.After(liveGrace)
		for _, l := range links {
			if l.err != nil {
				continue
			}
			select {
			case <-l.done:
			case <-deadline:
			}
		}
	}()
	for _, n := range nodes {
		part, err := json.Marshal(plan.ForNode(n))
		if err != nil {
			return nil, err
		}
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		l := &agentLink{node: n, in: inW, lines: make(chan string), done: make(chan error, 1)}
		links = append(links, l)
		go func() {
			err := a.Exec(sctx, n, []string{"kubectl-netx", "agent", "live"}, inR, outW)
			outW.Close()
			l.done <- err
		}()
		go func() {
			defer close(l.lines)
			r := bufio.NewReaderSize(outR, 64<<10)
			for {
				line, err := r.ReadString('\n')
				if rest, ok := strings.CutPrefix(line, trace.LiveSeen+" "); ok {
					var p capture.Packet
					if json.Unmarshal([]byte(rest), &p) == nil && seen != nil {
						seen(p)
					}
					continue
				}
				if line != "" {
					select {
					case l.lines <- strings.TrimSuffix(line, "\n"):
					case <-sctx.Done():
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go l.send(string(part))
	}
	a.progress("starting captures and the kernel's trace on %s", strings.Join(nodes, ", "))
	for _, l := range links {
		line, err := l.next(ctx)
		if err != nil {
			return nil, err
		}
		if line != trace.LiveReady {
			return nil, fmt.Errorf("node %s: the agent said %q, not %s", l.node, line, trace.LiveReady)
		}
	}
	a.progress("sending the probe %s", plan.Probe.Describe())
	sender := links[0] // plan.Nodes puts the probe's node first
	if err := sender.send(trace.LiveSend); err != nil {
		return nil, fmt.Errorf("node %s: %w", sender.node, err)
	}
	line, err := sender.next(ctx)
	if err != nil {
		return nil, err
	}
	outcome, ok := strings.CutPrefix(line, trace.LiveOutcome+" ")
	if !ok {
		return nil, fmt.Errorf("node %s: the agent said %q, not the probe's outcome", sender.node, line)
	}
	for _, l := range links {
		if err := l.send(trace.LiveStop); err != nil {
			return nil, fmt.Errorf("node %s: %w", l.node, err)
		}
	}
	ev := &trace.LiveEvidence{}
	for _, l := range links {
		line, err := l.next(ctx)
		if err != nil {
			return nil, err
		}
		var part trace.LiveEvidence
		if err := json.Unmarshal([]byte(line), &part); err != nil {
			return nil, fmt.Errorf("node %s: the agent's evidence: %w", l.node, err)
		}
		ev.Merge(&part)
	}
	ev.Outcome = outcome
	return ev, nil
}
