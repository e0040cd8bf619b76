package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/netx-project/netx/e2e/cluster"
	"github.com/netx-project/netx/internal/nsenter"
)

// The fidelity matrix (issue 11): for every kube-proxy feature a row, the
// node-local prediction (netx trace over fresh snapshots of both nodes)
// against what a real connection from the same source observes, and
// against a --live probe where one can be sent. Any disagreement fails the
// test, naming the row and both sides; the matrix is printed at the end.
// A new kube-proxy feature gets a row here (and its objects in
// manifests/fidelity.yaml). See docs/e2e.md.

const fidNS = "fidelity"

// Addresses outside the cluster that the matrix routes (in the lab's
// fabric, to node1) while it runs; manifests/fidelity.yaml uses them.
const (
	fidExternalNet = "198.51.100.0/24"
	fidLBAdmit     = "198.51.100.10"
	fidLBRefuse    = "198.51.100.11"
	fidExternalIP  = "198.51.100.20"
	fidEntryNode   = "node1"
)

// fidCase is one row of the matrix.
type fidCase struct {
	name string
	// src and dst are netx trace's SRC and DST: a pod of the fidelity
	// namespace (ns/name), node/NAME or internet; svc/ns/NAME[:PORT],
	// node/NAME:PORT or IP:PORT.
	src, dst string
	// real is the IP:PORT the real connection goes to.
	real string
	// args are more trace flags (--node, --protocol udp).
	args []string
	udp  bool
	// conns is how many real connections are made (default 1).
	conns int
	// setup changes the cluster before the row (the snapshots are taken
	// again after it).
	setup func(f *fid) error
	// check adds the row's own requirements; it returns why the row
	// disagrees, or "".
	check func(f *fid, p *fidPrediction, real []fidObserved) string
	// reason is what the prediction's verdict detail must say (the
	// kube-proxy feature that decided), when the row has one.
	reason string
	// noLive says why no live probe is sent.
	noLive string
	// skip says why the row cannot run yet ("" runs it).
	skip func(f *fid) string
}

// fid is the matrix's state: the cluster, the pods' addresses and the
// current snapshots.
type fid struct {
	t      *testing.T
	s      *cluster.Spec
	self   string
	dir    string
	podIP  map[string]string // pod name → IP
	ipPod  map[string]string // IP → pod name
	snaps  []string          // --snapshot FILE ...
	gen    int
	pinned string // the pod the affinity row's first connection reached
}

// fidPrediction is what netx trace -o json says, the parts the matrix
// compares.
type fidPrediction struct {
	Packet struct {
		Src string `json:"src"`
	} `json:"packet"`
	Verdict struct {
		Kind   string `json:"kind"`
		Detail string `json:"detail"`
		Node   string `json:"node"`
		Netns  string `json:"netns"`
		Rule   *struct {
			Table string `json:"table"`
			Chain string `json:"chain"`
			Num   int    `json:"num"`
			Text  string `json:"text"`
		} `json:"rule"`
	} `json:"verdict"`
	Hops []struct {
		Node   string `json:"node"`
		Kind   string `json:"kind"`
		Detail string `json:"detail"`
		Packet struct {
			Dst   string `json:"dst"`
			DPort uint16 `json:"dport"`
		} `json:"packet"`
		Rules []struct {
			Table string `json:"table"`
			Chain string `json:"chain"`
			Num   int    `json:"num"`
			Text  string `json:"text"`
			Note  string `json:"note"`
		} `json:"rules"`
	} `json:"hops"`
	Branches []struct {
		Node        string  `json:"node"`
		Endpoint    string  `json:"endpoint"`
		Verdict     string  `json:"verdict"`
		Probability float64 `json:"probability"`
		Chosen      bool    `json:"chosen"`
	} `json:"branches"`
	Warnings []string `json:"warnings"`
	Affinity *struct {
		State    string `json:"state"`
		Endpoint string `json:"endpoint"`
		Store    string `json:"store"`
		Detail   string `json:"detail"`
		Rule     *struct {
			Chain string `json:"chain"`
			Num   int    `json:"num"`
		} `json:"rule"`
	} `json:"affinity"`
	Live *struct {
		Probe      string `json:"probe"`
		Outcome    string `json:"outcome"`
		Agrees     bool   `json:"agrees"`
		Divergence string `json:"divergence"`
		Endpoint   string `json:"endpoint"`
	} `json:"live"`
	raw []byte
}

// endpoints are the IP:PORTs the prediction says may answer: every
// branch's endpoint when a choice is random, else where the packet is
// delivered.
func (p *fidPrediction) endpoints() []string {
	var eps []string
	for _, b := range p.Branches {
		if b.Endpoint != "" && !slices.Contains(eps, b.Endpoint) {
			eps = append(eps, b.Endpoint)
		}
	}
	if len(eps) == 0 && p.Verdict.Kind == "delivered" {
		for i := len(p.Hops) - 1; i >= 0; i-- {
			if h := p.Hops[i]; h.Kind == "deliver" {
				eps = append(eps, fmt.Sprintf("%s:%d", h.Packet.Dst, h.Packet.DPort))
				break
			}
		}
	}
	return eps
}

// outcomes are the real outcomes the prediction allows: answered (by one
// of endpoints()), refused or timeout; a branch that drops or rejects adds
// its own.
func (p *fidPrediction) outcomes() []string {
	var out []string
	add := func(kind string) {
		switch kind {
		case "delivered":
			kind = "answered"
		case "refused", "rejected", "no-endpoints", "reject":
			kind = "refused"
		case "dropped", "drop":
			kind = "timeout"
		case "no-route":
			kind = "unreachable"
		default:
			kind = "(" + kind + ")" // left, unknown, ...: nothing real matches
		}
		if !slices.Contains(out, kind) {
			out = append(out, kind)
		}
	}
	add(p.Verdict.Kind)
	for _, b := range p.Branches {
		if b.Verdict != "" {
			add(b.Verdict)
		}
	}
	return out
}

// rule names the deciding rule of a drop or reject.
func (p *fidPrediction) rule() string {
	r := p.Verdict.Rule
	if r == nil {
		return ""
	}
	if r.Num == 0 {
		return fmt.Sprintf("%s %s policy", r.Table, r.Chain)
	}
	return fmt.Sprintf("%s %s #%d", r.Table, r.Chain, r.Num)
}

// String is the prediction as the matrix prints it.
func (p *fidPrediction) String(f *fid) string {
	s := p.Verdict.Kind
	switch eps := p.endpoints(); {
	case p.Verdict.Kind == "delivered" && len(eps) > 1:
		s += " " + strings.Join(f.podsOf(eps), "|")
	case p.Verdict.Kind == "delivered" && len(eps) == 1:
		s += " " + f.podsOf(eps)[0]
	case p.Verdict.Rule != nil:
		s += " by " + p.rule()
	case p.Verdict.Netns != "":
		s += " in " + p.Verdict.Netns
	}
	for _, b := range p.Branches {
		if b.Verdict != "" {
			s += fmt.Sprintf(" (or %s %.0f%%)", b.Verdict, b.Probability*100)
		}
	}
	if a := p.Affinity; a != nil {
		s += " [affinity " + a.State + "]"
	}
	return s
}

// excerpt is the part of the prediction's JSON a disagreement shows: the
// verdict, the branches and the warnings.
func (p *fidPrediction) excerpt() string {
	var full map[string]json.RawMessage
	if json.Unmarshal(p.raw, &full) != nil {
		return string(p.raw)
	}
	var parts []string
	for _, k := range []string{"verdict", "branches", "affinity", "warnings"} {
		if v, ok := full[k]; ok {
			parts = append(parts, fmt.Sprintf("%q: %s", k, v))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// fidObserved is one real connection's outcome.
type fidObserved struct {
	Outcome string // answered, refused, timeout, unreachable, error
	Pod     string // who answered
	Server  string // the address it answered on
	Client  string // the client address it saw
	Detail  string
}

func (o fidObserved) String() string {
	switch o.Outcome {
	case "answered":
		return fmt.Sprintf("answered by %s (%s)", o.Pod, o.Server)
	case "error":
		return "error: " + o.Detail
	}
	return o.Outcome
}

var fidFailure = regexp.MustCompile(`get \S+: (.*)`)

// observe classifies the output of netx datapath get (one line per
// connection on stdout, one per failure in the error).
func observe(stdout string, err error) []fidObserved {
	var obs []fidObserved
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if p := field(l, "pod"); p != "" {
			obs = append(obs, fidObserved{Outcome: "answered", Pod: p, Server: field(l, "server"), Client: field(l, "client")})
		}
	}
	if err == nil {
		return obs
	}
	msgs := fidFailure.FindAllStringSubmatch(err.Error(), -1)
	if len(msgs) == 0 {
		return append(obs, fidObserved{Outcome: "error", Detail: err.Error()})
	}
	for _, m := range msgs {
		o := fidObserved{Detail: m[1]}
		switch {
		case strings.Contains(m[1], "connection refused"):
			o.Outcome = "refused"
		case strings.Contains(m[1], "i/o timeout"), strings.Contains(m[1], "timeout"):
			o.Outcome = "timeout"
		case strings.Contains(m[1], "no route to host"), strings.Contains(m[1], "network is unreachable"):
			o.Outcome = "unreachable"
		default:
			o.Outcome = "error"
		}
		obs = append(obs, o)
	}
	return obs
}

// podsOf names endpoints (IP:PORT) as pod:port.
func (f *fid) podsOf(eps []string) []string {
	var out []string
	for _, ep := range eps {
		ip, port, _ := strings.Cut(ep, ":")
		if p, ok := f.ipPod[ip]; ok {
			out = append(out, p+":"+port)
		} else {
			out = append(out, ep)
		}
	}
	return out
}

// snapshot takes fresh snapshots of both nodes.
func (f *fid) snapshot() {
	f.t.Helper()
	f.gen++
	f.snaps = nil
	for _, n := range f.s.Workers {
		file := filepath.Join(f.dir, fmt.Sprintf("%s.%d.json", n.Name, f.gen))
		if out, err := f.s.NodeCommand(n, f.self, "snapshot", "--host-netns", n.Netns, "--cri-endpoint", f.s.ContainerdSocket(n),
			"--node-name", n.Name, "--attached-only", "-o", file).CombinedOutput(); err != nil {
			f.t.Fatalf("netx snapshot of %s: %v: %s", n.Name, err, out)
		}
		f.snaps = append(f.snaps, "--snapshot", file)
	}
}

// trace runs netx trace over the current snapshots (or with extra, e.g.
// --lab e2e --live).
func (f *fid) trace(c fidCase, state []string, extra ...string) (*fidPrediction, error) {
	args := append([]string{"trace", c.src, c.dst, "-o", "json"}, c.args...)
	if c.src == "internet" {
		// The outside client's own address, which source ranges see.
		args = append(args, "--client-ip", cluster.ClientIP)
	}
	args = append(append(args, state...), extra...)
	cmd := exec.Command(f.self, args...)
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg += ": " + strings.TrimSpace(string(ee.Stderr))
		}
		return nil, fmt.Errorf("netx %s: %s", strings.Join(args, " "), msg)
	}
	p := &fidPrediction{raw: out}
	if err := json.Unmarshal(out, p); err != nil {
		return nil, fmt.Errorf("netx %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return p, nil
}

// connect makes the real connections from the row's source.
func (f *fid) connect(c fidCase) []fidObserved {
	n := c.conns
	if n == 0 {
		n = 1
	}
	get := []string{"datapath", "get", "--timeout", "2s", "-n", strconv.Itoa(n)}
	if c.udp {
		get = append(get, "--udp")
	}
	get = append(get, c.real)
	switch {
	case c.src == "internet":
		out, err := nsenter.Output(nsenter.Net(f.s.ClientNetns()), nil, f.self, get...)
		return observe(string(out), err)
	case strings.HasPrefix(c.src, "node/"):
		for _, w := range f.s.Workers {
			if "node/"+w.Name == c.src {
				out, err := nsenter.Output(nsenter.Net(w.Netns), nil, f.self, get...)
				return observe(string(out), err)
			}
		}
		f.t.Fatalf("row %q: no node %s", c.name, c.src)
	}
	ns, pod, _ := strings.Cut(c.src, "/")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := f.s.Kubectl(ctx, append([]string{"exec", "-n", ns, pod, "--", "kubectl-netx"}, get...)...)
	return observe(string(out), err)
}

// agree compares the prediction with the real connections: delivered ↔
// answered by a predicted endpoint, dropped ↔ timeout, rejected /
// no-endpoints / refused ↔ refused.
func (f *fid) agree(p *fidPrediction, real []fidObserved) string {
	allowed := p.outcomes()
	eps := p.endpoints()
	for _, o := range real {
		if !slices.Contains(allowed, o.Outcome) {
			return fmt.Sprintf("predicted %s, real %s", strings.Join(allowed, " or "), o)
		}
		if o.Outcome == "answered" && !slices.Contains(eps, o.Server) {
			return fmt.Sprintf("predicted an answer from %s, real %s", strings.Join(f.podsOf(eps), " or "), o)
		}
	}
	return ""
}

// summarize is the real connections as the matrix prints them: each
// outcome once, with its count ("answered by web-1:8080 ×2, web-2:8080").
func (f *fid) summarize(real []fidObserved) string {
	var order []string
	count := map[string]int{}
	for _, o := range real {
		s := o.String()
		if o.Outcome == "answered" {
			s = f.podsOf([]string{o.Server})[0]
		}
		if count[s] == 0 {
			order = append(order, s)
		}
		count[s]++
	}
	var parts []string
	for _, s := range order {
		if count[s] > 1 {
			s = fmt.Sprintf("%s ×%d", s, count[s])
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "nothing"
	}
	if real[0].Outcome == "answered" {
		return "answered by " + strings.Join(parts, ", ")
	}
	return strings.Join(parts, ", ")
}

// fidRow is one printed line of the matrix.
type fidRow struct {
	name, prediction, real, live, agree string
}

func TestE2EFidelity(t *testing.T) {
	s := spec(t)
	// The components' logs help when the cluster misbehaves, not when a
	// row disagrees: the rows say everything themselves.
	matrix := false
	t.Cleanup(func() {
		if !matrix {
			dumpLogs(t, s)
		}
	})
	self, err := filepath.Abs(filepath.Join("..", "bin", "netx"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fid{t: t, s: s, self: self, dir: t.TempDir(), podIP: map[string]string{}, ipPod: map[string]string{}}
	manifest := filepath.Join("manifests", "fidelity.yaml")

	t0 := time.Now()
	kubectl(t, s, "apply", "-f", manifest)
	t.Cleanup(func() { f.teardown(manifest) })
	kubectl(t, s, "wait", "-n", fidNS, "--for=condition=Ready", "pod", "--all", "--timeout=120s")
	// No cloud controller: the LoadBalancer IPs are the test's to write.
	for svc, ip := range map[string]string{"lb-admit": fidLBAdmit, "lb-refuse": fidLBRefuse} {
		kubectl(t, s, "patch", "svc", svc, "-n", fidNS, "--subresource=status", "--type=merge",
			"-p", fmt.Sprintf(`{"status":{"loadBalancer":{"ingress":[{"ip":%q}]}}}`, ip))
	}
	// The outside addresses lead to node1, as a cloud's load balancer or a
	// router announcing them would send them: a route in the lab's fabric,
	// everyone's default gateway.
	if out, err := nsenter.Output(nsenter.Net(fabricNetns(s)), nil, "ip", "route", "replace", fidExternalNet, "via", nodeByName(s, fidEntryNode).IP.String()); err != nil {
		t.Fatalf("route %s in the fabric: %v: %s", fidExternalNet, err, out)
	}
	pods := kubectl(t, s, "get", "pods", "-n", fidNS, "-o", `jsonpath={range .items[*]}{.metadata.name} {.status.podIP}{"\n"}{end}`)
	for _, l := range strings.Split(strings.TrimSpace(pods), "\n") {
		if name, ip, ok := strings.Cut(l, " "); ok && ip != "" {
			f.podIP[name], f.ipPod[ip] = ip, name
		}
	}
	f.waitProgrammed()
	t.Logf("fidelity objects programmed on both nodes %s after apply", time.Since(t0).Round(10*time.Millisecond))
	if os.Getenv("NETX_E2E_SAVE_DUMPS") == "1" {
		f.saveDumps("")
	}

	n1, n2 := nodeByName(s, "node1").IP.String(), nodeByName(s, "node2").IP.String()
	client := fidNS + "/client"
	cases := []fidCase{
		{name: "ClusterIP, endpoints on both nodes", src: client, dst: "svc/fidelity/web", real: "10.96.100.10:80", conns: 3},
		{name: "NodePort from a pod", src: client, dst: "node/node2:31011", real: n2 + ":31011", conns: 3},
		{name: "NodePort from a node (its own)", src: "node/node1", dst: "node/node1:31011", real: n1 + ":31011", conns: 3},
		{name: "NodePort from a node (the other)", src: "node/node2", dst: "node/node1:31011", real: n1 + ":31011", conns: 3},
		{name: "NodePort from outside", src: "internet", dst: "node/node2:31011", real: n2 + ":31011", conns: 3},
		{name: "eTP Local, node with a local endpoint", src: "internet", dst: "node/node1:31012", real: n1 + ":31012"},
		{name: "eTP Local, node without one", src: "internet", dst: "node/node2:31012", real: n2 + ":31012", reason: "externalTrafficPolicy is Local"},
		{name: "iTP Local, from a node with one", src: "node/node1", dst: "svc/fidelity/itp-local", real: "10.96.100.13:80"},
		{name: "iTP Local, from a node without one", src: "node/node2", dst: "svc/fidelity/itp-local", real: "10.96.100.13:80", reason: "internalTrafficPolicy is Local"},
		{name: "no endpoints", src: client, dst: "svc/fidelity/no-endpoints", real: "10.96.100.15:80", reason: "fidelity/no-endpoints:http has no endpoints"},
		{name: "LB IP, source range admits", src: "internet", dst: fidLBAdmit + ":80", args: []string{"--node", fidEntryNode}, real: fidLBAdmit + ":80"},
		{name: "LB IP, source range refuses", src: "internet", dst: fidLBRefuse + ":80", args: []string{"--node", fidEntryNode}, real: fidLBRefuse + ":80", reason: "loadBalancerSourceRanges"},
		{name: "externalIP from outside", src: "internet", dst: fidExternalIP + ":80", args: []string{"--node", fidEntryNode}, real: fidExternalIP + ":80", conns: 3},
		{name: "externalIP from a pod", src: client, dst: fidExternalIP + ":80", real: fidExternalIP + ":80", conns: 3},
		{name: "hairpin (a pod via its own service)", src: client, dst: "svc/fidelity/hairpin", real: "10.96.100.19:80",
			check: func(f *fid, p *fidPrediction, real []fidObserved) string {
				for _, o := range real {
					if o.Outcome == "answered" && strings.HasPrefix(o.Client, f.podIP["client"]+":") {
						return fmt.Sprintf("the hairpin connection kept its source %s (kube-proxy masquerades it)", o.Client)
					}
				}
				return ""
			}},
		{name: "named targetPort", src: client, dst: "svc/fidelity/named-port", real: "10.96.100.21:8000", conns: 3},
		{name: "multi-port service, 2nd port", src: client, dst: "svc/fidelity/multi-port:81", real: "10.96.100.22:81", conns: 3},
		{name: "multi-port service, 1st port", src: client, dst: "svc/fidelity/multi-port:80", real: "10.96.100.22:80", conns: 3},
		{name: "UDP service", src: client, dst: "svc/fidelity/udp", args: []string{"--protocol", "udp"}, udp: true, real: "10.96.100.23:53", conns: 3},
		{name: "terminating endpoint (fallback)", src: client, dst: "svc/fidelity/terminating", real: "10.96.100.20:80",
			setup: func(f *fid) error { return f.terminate("term", "terminating") }},
		{name: "session affinity, first connection", src: client, dst: "svc/fidelity/affinity", real: "10.96.100.14:80",
			noLive: "a probe would be the first connection",
			check: func(f *fid, p *fidPrediction, real []fidObserved) string {
				if len(real) > 0 && real[0].Outcome == "answered" {
					f.pinned = real[0].Server
				}
				if os.Getenv("NETX_E2E_SAVE_DUMPS") == "1" {
					f.saveDumps("after-affinity.")
				}
				if a := p.Affinity; a == nil || a.State != "first-connection" || a.Rule == nil {
					return fmt.Sprintf("want a first connection's path with the rule that pins it named, got affinity %+v", a)
				}
				return ""
			}},
		{name: "session affinity, repeated connection", src: client, dst: "svc/fidelity/affinity", real: "10.96.100.14:80", conns: 5,
			setup: func(f *fid) error { return nil }, // a new snapshot: the first connection pinned the client
			check: func(f *fid, p *fidPrediction, real []fidObserved) string {
				if f.pinned == "" {
					return "the first connection reached no endpoint"
				}
				if eps := p.endpoints(); len(eps) != 1 || eps[0] != f.pinned {
					return fmt.Sprintf("predicted %s, want exactly the pinned %s", strings.Join(f.podsOf(eps), " or "), f.podsOf([]string{f.pinned})[0])
				}
				if a := p.Affinity; a == nil || a.State != "pinned" || a.Endpoint != f.pinned {
					return fmt.Sprintf("want the client pinned to %s, got affinity %+v", f.pinned, a)
				}
				for _, o := range real {
					if o.Server != f.pinned {
						return fmt.Sprintf("a repeated connection was %s, not the pinned %s", o, f.podsOf([]string{f.pinned})[0])
					}
				}
				return ""
			}},
	}

	var rows []fidRow
	matrix = true
	f.snapshot()
	for _, c := range cases {
		row := fidRow{name: c.name}
		if c.skip != nil {
			if why := c.skip(f); why != "" {
				row.prediction, row.real, row.live, row.agree = "-", "-", "-", "waits"
				rows = append(rows, row)
				t.Logf("row %q waits for %s", c.name, why)
				continue
			}
		}
		if c.setup != nil {
			if err := c.setup(f); err != nil {
				t.Errorf("row %q: setup: %v", c.name, err)
				row.agree = "setup failed"
				rows = append(rows, row)
				continue
			}
			f.snapshot()
		}
		var fails []string
		p, err := f.trace(c, f.snaps)
		if err != nil {
			t.Errorf("row %q: %v", c.name, err)
			row.prediction, row.agree = "trace failed", "NO"
			rows = append(rows, row)
			continue
		}
		row.prediction = p.String(f)
		real := f.connect(c)
		row.real = f.summarize(real)
		if why := f.agree(p, real); why != "" {
			fails = append(fails, why)
		}
		if c.reason != "" && !strings.Contains(p.Verdict.Detail, c.reason) {
			fails = append(fails, fmt.Sprintf("the verdict does not say %q: %s", c.reason, p.Verdict.Detail))
		}
		if c.check != nil {
			if why := c.check(f, p, real); why != "" {
				fails = append(fails, why)
			}
		}
		row.live = f.live(c, &fails)
		row.agree = "yes"
		if len(fails) > 0 {
			row.agree = "NO"
			t.Errorf("row %q disagrees: %s\n  prediction: %s\n  real:       %s\n  live:       %s\n  prediction JSON: %s",
				c.name, strings.Join(fails, "; "), row.prediction, row.real, row.live, p.excerpt())
		}
		rows = append(rows, row)
	}

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CASE\tPREDICTION\tREAL\tLIVE\tAGREE\n")
	agreed, waiting := 0, 0
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.name, r.prediction, r.real, r.live, r.agree)
		switch r.agree {
		case "yes":
			agreed++
		case "waits":
			waiting++
		}
	}
	tw.Flush()
	t.Logf("fidelity matrix, kube-proxy %s mode: %d of %d rows agree, %d waiting\n%s", s.ProxyMode, agreed, len(rows)-waiting, waiting, b.String())
}

// live runs the row with --live where a probe can be sent: over the
// snapshots from a pod or node, and over the lab (which knows the outside
// client's namespace) from the internet. It returns the matrix's cell and
// adds a disagreement to fails.
func (f *fid) live(c fidCase, fails *[]string) string {
	if c.noLive != "" {
		return "n/a (" + c.noLive + ")"
	}
	// The nodes are machines of their own: a probe goes through their
	// agents (cluster mode), as from a laptop.
	state, via := []string{"--kubeconfig", f.s.HostKubeconfig()}, ""
	if c.src == "internet" {
		// The outside client is the lab's, not the cluster's.
		state, via = []string{"--lab", f.s.Lab}, " (--lab)"
	}
	p, err := f.trace(c, state, "--live")
	if err != nil {
		*fails = append(*fails, "live: "+err.Error())
		return "error"
	}
	if p.Live == nil {
		*fails = append(*fails, "live: no live report")
		return "no report"
	}
	cell := p.Live.Outcome
	if ep := p.Live.Endpoint; ep != "" {
		cell += " " + f.podsOf([]string{ep})[0]
	}
	if p.Live.Agrees {
		return cell + ", agrees" + via
	}
	*fails = append(*fails, fmt.Sprintf("live probe disagrees with its prediction (%s %s): %s", p.Verdict.Kind, p.Verdict.Netns, p.Live.Divergence))
	d := p.Live.Divergence
	if i := strings.Index(d, ": "); i > 0 {
		d = d[:i] // the hop; the failure message has the rest
	}
	return cell + ", DISAGREES" + via + " at " + d
}

// terminate deletes pod (its preStop hook sleeps, so it keeps serving)
// and waits until service's only endpoint is serving and terminating,
// which kube-proxy falls back to.
func (f *fid) terminate(pod, service string) error {
	if _, err := f.s.Kubectl(context.Background(), "delete", "pod", "-n", fidNS, pod, "--wait=false"); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		out, err := f.s.Kubectl(context.Background(), "get", "endpointslices", "-n", fidNS, "-l", "kubernetes.io/service-name="+service,
			"-o", `jsonpath={range .items[*].endpoints[*]}{.addresses[0]} ready={.conditions.ready} serving={.conditions.serving} terminating={.conditions.terminating}{"\n"}{end}`)
		last = strings.TrimSpace(string(out))
		if err == nil && last == f.podIP[pod]+" ready=false serving=true terminating=true" {
			// kube-proxy's rules for a serving-terminating fallback are
			// those of a ready endpoint; give it a sync to have seen it.
			time.Sleep(2 * time.Second)
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("%s's endpoint did not become serving and terminating: %q", service, last)
}

// rules is a node's kube-proxy state as text: iptables-save and, in
// nftables mode, the ruleset.
func (f *fid) rules(n cluster.Node) string {
	ipt, _ := inNodeErr(n, "iptables-save")
	nft, _ := inNodeErr(n, "nft", "list", "ruleset")
	return ipt + nft
}

// waitProgrammed waits until both nodes' kube-proxy rules have every
// fidelity address: service IPs, outside IPs, the pods' endpoints.
func (f *fid) waitProgrammed() {
	f.t.Helper()
	want := []string{fidLBAdmit, fidLBRefuse, fidExternalIP}
	for i := 10; i <= 23; i++ {
		want = append(want, fmt.Sprintf("10.96.100.%d", i))
	}
	for _, p := range []string{"web-1", "web-2", "solo", "client", "term"} {
		want = append(want, f.podIP[p])
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var missing []string
		for _, n := range f.s.Workers {
			r := f.rules(n)
			for _, w := range want {
				if !strings.Contains(r, w) {
					missing = append(missing, n.Name+":"+w)
				}
			}
		}
		if len(missing) == 0 {
			time.Sleep(time.Second) // the last sync's other half
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("kube-proxy did not program %v within 60s", missing)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// teardown removes everything the matrix made and waits until kube-proxy
// has removed its rules, so the next test's dumps do not see them.
func (f *fid) teardown(manifest string) {
	ctx := context.Background()
	f.s.Kubectl(ctx, "delete", "pod", "-n", fidNS, "term", "--grace-period=0", "--force", "--ignore-not-found")
	nsenter.Output(nsenter.Net(fabricNetns(f.s)), nil, "ip", "route", "del", fidExternalNet)
	if out, err := f.s.Kubectl(ctx, "delete", "-f", manifest, "--ignore-not-found", "--wait=true", "--timeout=120s"); err != nil {
		f.t.Errorf("delete the fidelity objects: %v: %s", err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		left := false
		for _, n := range f.s.Workers {
			left = left || strings.Contains(f.rules(n), fidNS+"/")
		}
		if !left {
			return
		}
		if i%10 == 9 {
			// nftables mode flushes a service's chains at once but
			// deletes them at a later sync, a second on; a service made
			// and removed is one.
			f.s.Kubectl(ctx, "create", "service", "clusterip", "netx-fidelity-sync", "-n", "default", "--tcp=1:1")
			time.Sleep(1500 * time.Millisecond)
			f.s.Kubectl(ctx, "delete", "service", "netx-fidelity-sync", "-n", "default", "--ignore-not-found")
		}
		time.Sleep(500 * time.Millisecond)
	}
	f.t.Errorf("kube-proxy still has fidelity rules 60s after the objects were deleted")
}

func fabricNetns(s *cluster.Spec) string { return "/run/netns/netx." + s.Lab + ".fabric" }

func nodeByName(s *cluster.Spec, name string) cluster.Node {
	for _, n := range s.Workers {
		if n.Name == name {
			return n
		}
	}
	panic("no node " + name)
}

// saveDumps writes the real dumps with the fidelity objects applied into
// testdata/cluster/fidelity-<mode>/ (NETX_E2E_SAVE_DUMPS=1), for trace's
// unit tests: both nodes' rules (iptables-save; nft in nftables mode),
// routes, links and netx snapshot, and the objects. With prefix
// "after-affinity." (right after the affinity row's first connection)
// the rules, the snapshot and the xt_recent lists, which hold the pin.
func (f *fid) saveDumps(prefix string) {
	t := f.t
	dir := filepath.Join("..", "testdata", "cluster", "fidelity-"+f.s.ProxyMode)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	if prefix == "" {
		files["objects.yaml"] = kubectl(t, f.s, "get", "nodes", "-o", "yaml") + "---\n" +
			kubectl(t, f.s, "get", "pods,services,endpointslices", "-n", fidNS, "-o", "yaml")
	}
	for _, n := range f.s.Workers {
		p := n.Name + "." + prefix
		if f.s.ProxyMode == "nftables" {
			files[p+"nft"] = inNode(t, n, "nft", "list", "ruleset")
		}
		files[p+"iptables-save"] = inNode(t, n, "iptables-save")
		if prefix == "" {
			files[p+"routes"] = inNode(t, n, "ip", "route", "show", "table", "all")
			files[p+"links"] = inNode(t, n, "ip", "-d", "link", "show")
		} else if f.s.ProxyMode == "iptables" {
			// The xt_recent lists of the node's namespace (its
			// /proc/net): "src=IP ttl: … last_seen: JIFFIES …", after
			// the kernel's jiffies and uptime at the time, so a test can
			// tell how old an entry is.
			files[p+"xt_recent"] = inNode(t, n, "sh", "-c", `echo "# now: $(grep -m1 '^jiffies' /proc/timer_list), uptime $(cut -d' ' -f1 /proc/uptime)s"; for l in /proc/net/xt_recent/*; do [ -e "$l" ] || continue; echo "== $l"; cat "$l"; done`)
		}
		snap, err := f.s.NodeCommand(n, f.self, "snapshot", "--host-netns", n.Netns, "--cri-endpoint", f.s.ContainerdSocket(n),
			"--node-name", n.Name, "--attached-only").Output()
		if err != nil {
			t.Fatalf("netx snapshot of %s: %v", n.Name, err)
		}
		files[p+"snapshot.json"] = string(snap)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("saved %d dumps to %s", len(files), dir)
}
