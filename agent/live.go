package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/netx-project/netx/internal/capture"
	"github.com/netx-project/netx/trace"
)

// maxLive bounds a live part beyond its probe's timeout: a client that
// vanished without closing the stream cannot leave trace rules behind
// longer than this.
const maxLive = 2 * time.Minute

var errClientGone = errors.New("the client went away; the trace rules and captures were removed")

// Live carries out this node's part of a live probe for the client, one
// line at a time over the exec stream (trace.LivePlan's protocol): it
// reads the part (a JSON trace.LivePlan), starts the kernel traces and
// the captures and answers "ready"; "probe" sends the probe and answers
// "outcome WHAT"; "stop" stops and answers with the evidence (JSON). The
// client closing the stream, SIGTERM (ctx) or maxLive stops the part
// early: the trace rules are removed and captures closed whichever way
// it ends.
func Live(ctx context.Context, in io.Reader, out io.Writer) error {
	// The stream closing ends whatever runs, a probe waiting for its
	// answer too.
	ctx, gone := context.WithCancelCause(ctx)
	defer gone(nil)
	lines := make(chan string)
	go func() {
		defer close(lines)
		defer gone(errClientGone)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	next := func(ctx context.Context) (string, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				return "", errClientGone
			}
			return l, nil
		case <-ctx.Done():
			return "", fmt.Errorf("stopped: %v; the trace rules and captures were removed", context.Cause(ctx))
		}
	}
	first, err := next(ctx)
	if err != nil {
		return err
	}
	var plan trace.LivePlan
	if err := json.Unmarshal([]byte(first), &plan); err != nil {
		return fmt.Errorf("agent live: read the plan: %w", err)
	}
	limit := maxLive
	if plan.Probe != nil {
		limit += plan.Probe.Timeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, limit, fmt.Errorf("no stop within %v", limit))
	defer cancel()

	n, err := Locate()
	if err != nil {
		return err
	}
	back := n.localize(&plan)
	// Lines go out one at a time: the captures' goroutines write too.
	out = &lockedWriter{w: out}
	var seen func(capture.Packet)
	if plan.Watch {
		seen = func(p capture.Packet) {
			if b, err := json.Marshal(p); err == nil {
				fmt.Fprintf(out, "%s %s\n", trace.LiveSeen, b)
			}
		}
	}
	run, err := trace.StartLive(&plan, seen)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			run.Stop()
		}
	}()
	if _, err := fmt.Fprintln(out, trace.LiveReady); err != nil {
		return err
	}
	outcome := ""
	for {
		l, err := next(ctx)
		if err != nil {
			return err
		}
		switch l {
		case trace.LiveSend:
			outcome = run.Probe(ctx)
			if _, err := fmt.Fprintln(out, trace.LiveOutcome, outcome); err != nil {
				return err
			}
		case trace.LiveStop:
			trace.Settle(ctx)
			ev := run.Stop()
			stopped = true
			ev.Outcome = outcome
			for i := range ev.Traces {
				ev.Traces[i].Netns = back[ev.Traces[i].Netns]
			}
			return json.NewEncoder(out).Encode(ev)
		default:
			return fmt.Errorf("agent live: unknown command %q", l)
		}
	}
}

// lockedWriter writes whole lines from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// localize turns the plan's namespace paths, which the snapshot gave as
// the node's own, into paths the agent can open (under the node's root;
// /proc paths are the agent's already: hostPID). It returns the way back.
func (n *Node) localize(p *trace.LivePlan) map[string]string {
	back := map[string]string{}
	loc := func(path string) string {
		if strings.HasPrefix(path, "/proc/") || n.Root == "" {
			back[path] = path
			return path
		}
		l := n.Root + path
		back[l] = path
		return l
	}
	for i := range p.Points {
		p.Points[i].Path = loc(p.Points[i].Path)
	}
	for i := range p.Traces {
		p.Traces[i].Path = loc(p.Traces[i].Path)
	}
	if p.Probe != nil {
		p.Probe.Netns = loc(p.Probe.Netns)
	}
	return back
}
