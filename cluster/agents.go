package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/netx-project/netx/inspect"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
)

// The labels every agent pod carries. LabelRun tells a run's own pods
// from the DaemonSet's (kubectl netx setup), which have none.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelRun       = "netx.io/run"
	AgentName      = "netx-agent"
	ManagedBy      = "netx"
	// SetupNamespace is where kubectl netx setup puts the agent DaemonSet.
	SetupNamespace = "netx-system"
	// AgentContainer is the agent pod's one container.
	AgentContainer = "netx"
)

// DefaultImageRepo is the netx image's repository; the tag is the
// binary's version (make image builds it; --image overrides both).
const DefaultImageRepo = "ghcr.io/netx-project/netx"

// DefaultImage is the agent image of a netx built as version.
func DefaultImage(version string) string { return DefaultImageRepo + ":" + version }

// AgentDeadline bounds an agent pod's life: the kubelet stops it after
// this long even if its run was killed before deleting it, and the next
// run deletes what is left.
const AgentDeadline = 10 * time.Minute

// AgentCapabilities are what the agent's container is given, all others
// dropped; each with the reason, which the README's Permissions section
// repeats.
var AgentCapabilities = []struct{ Name, Why string }{
	{"SYS_PTRACE", "read other processes' namespaces and root (/proc/PID/ns, /proc/PID/root): the pods' network namespaces and the node's files"},
	{"SYS_ADMIN", "enter a pod's network namespace (setns) to read its links, routes and sockets"},
	{"NET_ADMIN", "dump netfilter (nf_tables, iptables), conntrack and xt_recent over netlink"},
	{"NET_RAW", "iptables-legacy-save's raw socket"},
	{"SYS_CHROOT", "run the node's own iptables-save (the version that wrote its rules) chrooted into the node's root"},
}

// AgentOptions say how agent pods are made.
type AgentOptions struct {
	// Image is the agent image (DefaultImage by default).
	Image string
	// PullSecrets are image pull secrets in Namespace.
	PullSecrets []string
	// Namespace is where a run's own agent pods go.
	Namespace string
	// Keep leaves a run's pods in place (for bug reports).
	Keep bool
	// Start bounds the wait for the pods to run.
	Start time.Duration
	// Progress, when set, is told what is happening (for a TTY).
	Progress func(string)
}

// Agent is the agent pod serving one node.
type Agent struct {
	Node      string
	Namespace string
	Pod       string
	// Own is a pod this run made (and deletes); false for the DaemonSet's.
	Own bool
}

// Agents reach the nodes a trace reads: an agent pod per node, the
// DaemonSet's when it is there, else one made for this run, and pods/exec
// into it.
type Agents struct {
	cs  kubernetes.Interface
	cfg *rest.Config
	o   AgentOptions
	// RunID labels this run's pods.
	RunID string

	mu    sync.Mutex
	nodes map[string]*Agent
	made  []*Agent
}

// NewAgents makes no pod yet; Start does.
func NewAgents(cfg *rest.Config, cs kubernetes.Interface, o AgentOptions) *Agents {
	if o.Namespace == "" {
		o.Namespace = metav1.NamespaceDefault
	}
	if o.Start == 0 {
		o.Start = 2 * time.Minute
	}
	b := make([]byte, 4)
	rand.Read(b)
	return &Agents{cs: cs, cfg: cfg, o: o, RunID: hex.EncodeToString(b), nodes: map[string]*Agent{}}
}

func (a *Agents) progress(format string, args ...any) {
	if a.o.Progress != nil {
		a.o.Progress(fmt.Sprintf(format, args...))
	}
}

// Start finds or makes an agent on each node and waits until every one
// runs. The DaemonSet's ready pods are used where they are; elsewhere a
// pod is made for this run. Leftovers of killed runs are removed first.
// On error, the pods made so far stay listed for Close.
func (a *Agents) Start(ctx context.Context, nodes []string) error {
	a.removeLeftovers(ctx)
	if ds, err := a.cs.CoreV1().Pods(SetupNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{LabelName: AgentName, LabelManagedBy: ManagedBy}.String(),
	}); err == nil {
		for i := range ds.Items {
			p := &ds.Items[i]
			if p.Labels[LabelRun] == "" && podReady(p) && a.nodes[p.Spec.NodeName] == nil {
				a.nodes[p.Spec.NodeName] = &Agent{Node: p.Spec.NodeName, Namespace: p.Namespace, Pod: p.Name}
			}
		}
	}
	var want []*Agent
	for _, n := range nodes {
		if a.nodes[n] != nil {
			continue
		}
		ag, err := a.create(ctx, n)
		if err != nil {
			return err
		}
		want = append(want, ag)
	}
	if len(want) == 0 {
		return nil
	}
	names := make([]string, len(want))
	for i, w := range want {
		names[i] = w.Node
	}
	a.progress("starting agent pods on %s", strings.Join(names, ", "))
	return a.wait(ctx, want)
}

// create makes this run's agent pod on node.
func (a *Agents) create(ctx context.Context, node string) (*Agent, error) {
	pod := AgentPod(node, a.o.Namespace, a.o.Image, a.RunID, a.o.PullSecrets)
	made, err := a.cs.CoreV1().Pods(a.o.Namespace).Create(ctx, pod, metav1.CreateOptions{FieldManager: "kubectl-netx"})
	if err != nil {
		if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "PodSecurity") {
			return nil, fmt.Errorf("create pod %s in namespace %q: the namespace's Pod Security level forbids the agent (it needs hostNetwork, hostPID and capabilities: the privileged level); give --agent-namespace NS for a namespace labelled pod-security.kubernetes.io/enforce=privileged, or install the agents with kubectl netx setup", pod.Name, a.o.Namespace)
		}
		return nil, apiError(err, "create", "pods", a.o.Namespace, pod.Name)
	}
	ag := &Agent{Node: node, Namespace: made.Namespace, Pod: made.Name, Own: true}
	a.mu.Lock()
	a.nodes[node] = ag
	a.made = append(a.made, ag)
	a.mu.Unlock()
	return ag, nil
}

// AgentPod is the pod a run makes on node, as kubectl debug node does:
// pinned to the node, every taint tolerated, never restarted, stopped by
// the kubelet after AgentDeadline, in the node's network and PID
// namespaces with only AgentCapabilities.
func AgentPod(node, namespace, image, run string, pullSecrets []string) *corev1.Pod {
	name := AgentName + "-" + node + "-" + run
	if len(name) > 253 {
		name = name[:244] + "-" + run
	}
	deadline := int64(AgentDeadline / time.Second)
	spec := agentPodSpec(image, pullSecrets, []string{"kubectl-netx", "agent", "idle", "--for", AgentDeadline.String()})
	spec.NodeName = node
	spec.RestartPolicy = corev1.RestartPolicyNever
	spec.ActiveDeadlineSeconds = &deadline
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: namespace,
			Labels:      map[string]string{LabelName: AgentName, LabelManagedBy: ManagedBy, LabelRun: run},
			Annotations: map[string]string{"netx.io/purpose": "kubectl netx: reads this node's network state (read-only) for a trace; deleted when the run ends"},
		},
		Spec: spec,
	}
}

// agentPodSpec is what every agent pod is, a run's or the DaemonSet's:
// the node's network and PID namespaces, every taint tolerated, no
// service account token, one container running command with only
// AgentCapabilities, a read-only root and no privilege escalation.
func agentPodSpec(image string, pullSecrets []string, command []string) corev1.PodSpec {
	var caps []corev1.Capability
	for _, c := range AgentCapabilities {
		caps = append(caps, corev1.Capability(c.Name))
	}
	grace := int64(1)
	no, yes := false, true
	var secrets []corev1.LocalObjectReference
	for _, s := range pullSecrets {
		secrets = append(secrets, corev1.LocalObjectReference{Name: s})
	}
	return corev1.PodSpec{
		TerminationGracePeriodSeconds: &grace,
		HostNetwork:                   true,
		HostPID:                       true,
		DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
		AutomountServiceAccountToken:  &no,
		EnableServiceLinks:            &no,
		Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		ImagePullSecrets:              secrets,
		Containers: []corev1.Container{{
			Name:            AgentContainer,
			Image:           image,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         command,
			Env: []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"},
			}}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
			},
			SecurityContext: &corev1.SecurityContext{
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: caps},
				ReadOnlyRootFilesystem:   &yes,
				AllowPrivilegeEscalation: &no,
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		}},
	}
}

// wait watches this run's pods until each runs; a pod that cannot (its
// image not pulled, it failed) is one line naming it and why.
func (a *Agents) wait(ctx context.Context, want []*Agent) error {
	ctx, cancel := context.WithTimeout(ctx, a.o.Start)
	defer cancel()
	pending := map[string]*Agent{}
	for _, w := range want {
		pending[w.Pod] = w
	}
	sel := labels.Set{LabelRun: a.RunID}.String()
	pods := a.cs.CoreV1().Pods(a.o.Namespace)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return apiError(err, "list", "pods", a.o.Namespace, "")
	}
	check := func(p *corev1.Pod) error {
		if pending[p.Name] == nil {
			return nil
		}
		done, err := agentRunning(p)
		if done {
			delete(pending, p.Name)
			a.progress("agent %s runs on %s", p.Name, p.Spec.NodeName)
		}
		return err
	}
	for i := range list.Items {
		if err := check(&list.Items[i]); err != nil {
			return err
		}
	}
	rv := list.ResourceVersion
	for len(pending) > 0 {
		w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv})
		if err != nil {
			if ctx.Err() != nil {
				return a.timeout(ctx, pending)
			}
			return apiError(err, "watch", "pods", a.o.Namespace, "")
		}
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rv = p.ResourceVersion
			if ev.Type == watch.Deleted && pending[p.Name] != nil {
				w.Stop()
				return fmt.Errorf("agent pod %s on node %s was deleted before it ran", p.Name, p.Spec.NodeName)
			}
			if err := check(p); err != nil {
				w.Stop()
				return err
			}
			if len(pending) == 0 {
				break
			}
		}
		w.Stop()
		if ctx.Err() != nil && len(pending) > 0 {
			return a.timeout(ctx, pending)
		}
	}
	return nil
}

func (a *Agents) timeout(ctx context.Context, pending map[string]*Agent) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	for name, ag := range pending {
		// Why, as far as the API tells: the node's readiness, the pod's
		// own state.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		why := ""
		if n, err := a.cs.CoreV1().Nodes().Get(lctx, ag.Node, metav1.GetOptions{}); err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
					why = fmt.Sprintf("; node %s is NotReady (%s: %s)", ag.Node, c.Reason, c.Message)
				}
			}
		}
		if p, err := a.cs.CoreV1().Pods(a.o.Namespace).Get(lctx, name, metav1.GetOptions{}); err == nil {
			for _, c := range p.Status.ContainerStatuses {
				if w := c.State.Waiting; w != nil && w.Reason != "" {
					why += fmt.Sprintf("; its container waits (%s: %s)", w.Reason, w.Message)
				}
			}
			if why == "" && p.Status.Phase == corev1.PodPending && len(p.Status.ContainerStatuses) == 0 {
				why = "; the node's kubelet has not started it"
			}
		}
		return fmt.Errorf("agent pod %s on node %s did not start within %v%s (kubectl describe pod -n %s %s says more)", name, ag.Node, a.o.Start, why, a.o.Namespace, name)
	}
	return nil
}

// agentRunning says whether the agent container runs; an error when it
// never will.
func agentRunning(p *corev1.Pod) (bool, error) {
	switch p.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		return false, fmt.Errorf("agent pod %s on node %s ended (%s) before it was used: %s", p.Name, p.Spec.NodeName, p.Status.Phase, podReason(p))
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running != nil {
			return true, nil
		}
		if w := c.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
				return false, fmt.Errorf("agent pod %s on node %s: image %s cannot be pulled (%s: %s); give --image with one the node can pull, and --image-pull-secret if the registry needs one", p.Name, p.Spec.NodeName, c.Image, w.Reason, w.Message)
			case "CreateContainerError", "CreateContainerConfigError", "RunContainerError", "CrashLoopBackOff":
				return false, fmt.Errorf("agent pod %s on node %s cannot start its container (%s: %s)", p.Name, p.Spec.NodeName, w.Reason, w.Message)
			}
		}
		if t := c.State.Terminated; t != nil {
			return false, fmt.Errorf("agent pod %s on node %s: its container exited (%s, code %d): %s", p.Name, p.Spec.NodeName, t.Reason, t.ExitCode, t.Message)
		}
	}
	return false, nil
}

func podReason(p *corev1.Pod) string {
	if p.Status.Message != "" {
		return p.Status.Reason + ": " + p.Status.Message
	}
	for _, c := range p.Status.ContainerStatuses {
		if t := c.State.Terminated; t != nil {
			return fmt.Sprintf("%s, exit code %d", t.Reason, t.ExitCode)
		}
	}
	return p.Status.Reason
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Agent is the agent serving node, once Start has run.
func (a *Agents) Agent(node string) *Agent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nodes[node]
}

// Exec runs command in node's agent through pods/exec — the WebSocket
// protocol, falling back to SPDY on API servers without it, as kubectl
// exec does — streaming stdin (when not nil) to the command and its
// standard output to stdout. A failure carries the command's standard
// error.
func (a *Agents) Exec(ctx context.Context, node string, command []string, stdin io.Reader, stdout io.Writer) error {
	ag := a.Agent(node)
	if ag == nil {
		return fmt.Errorf("no agent on node %s", node)
	}
	req := a.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ag.Namespace).Name(ag.Pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: AgentContainer, Command: command, Stdin: stdin != nil, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	spdy, err := remotecommand.NewSPDYExecutor(a.cfg, "POST", req.URL())
	if err != nil {
		return err
	}
	ws, err := remotecommand.NewWebSocketExecutor(a.cfg, "GET", req.URL().String())
	if err != nil {
		return err
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	var stderr strings.Builder
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: &stderr})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if apierrors.IsForbidden(err) || strings.Contains(err.Error(), "forbidden") {
			return fmt.Errorf("exec in pod %s (namespace %q): forbidden: your user may not \"create\" pods/exec (RBAC); the Role netx needs is in the README (section \"Permissions\")", ag.Pod, ag.Namespace)
		}
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndex(msg, "\n"); i >= 0 {
			msg = msg[i+1:]
		}
		if msg != "" {
			return fmt.Errorf("node %s: %s: %s", node, strings.Join(command[1:], " "), strings.TrimPrefix(msg, "error: "))
		}
		return fmt.Errorf("node %s: exec in agent pod %s: %w", node, ag.Pod, err)
	}
	return nil
}

// Snapshot reads node through its agent: the snapshot streams,
// compressed, straight into the reader.
func (a *Agents) Snapshot(ctx context.Context, node string) (*inspect.Snapshot, error) {
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := a.Exec(ctx, node, []string{"kubectl-netx", "agent", "snapshot"}, nil, pw)
		pw.CloseWithError(err)
		errc <- err
	}()
	s, rerr := inspect.ReadSnapshot(pr)
	pr.CloseWithError(io.ErrUnexpectedEOF)
	if err := <-errc; err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, fmt.Errorf("node %s: %w", node, rerr)
	}
	return s, nil
}

// Snapshots reads every node in parallel.
func (a *Agents) Snapshots(ctx context.Context, nodes []string) (map[string]*inspect.Snapshot, error) {
	type res struct {
		node string
		s    *inspect.Snapshot
		err  error
	}
	ch := make(chan res, len(nodes))
	for _, n := range nodes {
		go func() {
			a.progress("reading node %s", n)
			s, err := a.Snapshot(ctx, n)
			ch <- res{n, s, err}
		}()
	}
	out := map[string]*inspect.Snapshot{}
	var errs []error
	for range nodes {
		r := <-ch
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		out[r.node] = r.s
	}
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return out, nil
}

// Close deletes this run's pods, unless Keep; it is meant to run
// however the run ends (success, error, Ctrl-C), with a context of its own.
func (a *Agents) Close(ctx context.Context) error {
	a.mu.Lock()
	made := a.made
	a.made = nil
	a.mu.Unlock()
	if a.o.Keep {
		for _, ag := range made {
			a.progress("kept agent pod %s/%s (--keep-agents): kubectl delete pod -n %s %s", ag.Namespace, ag.Pod, ag.Namespace, ag.Pod)
		}
		return nil
	}
	var errs []error
	grace := int64(0)
	for _, ag := range made {
		err := a.cs.CoreV1().Pods(ag.Namespace).Delete(ctx, ag.Pod, metav1.DeleteOptions{GracePeriodSeconds: &grace})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete agent pod %s/%s: %w (kubectl netx cleanup removes it)", ag.Namespace, ag.Pod, err))
		}
	}
	return errors.Join(errs...)
}

// removeLeftovers deletes agent pods of earlier runs in the namespace
// that were killed before they cleaned up: ended, or older than the
// deadline. Best effort: a run that may not list or delete them goes on.
func (a *Agents) removeLeftovers(ctx context.Context) {
	n, _ := Cleanup(ctx, a.cs, a.o.Namespace, AgentDeadline+time.Minute)
	if n > 0 {
		a.progress("removed %d agent pod(s) left by earlier runs", n)
	}
}

// Cleanup deletes the agent pods runs made in namespace ("" is every
// namespace) that are older than age or have ended; age 0 deletes them
// all. The DaemonSet's pods are not a run's and stay. It returns how many
// it deleted.
func Cleanup(ctx context.Context, cs kubernetes.Interface, namespace string, age time.Duration) (int, error) {
	sel := labels.Set{LabelName: AgentName, LabelManagedBy: ManagedBy}.AsSelector().String() + "," + LabelRun
	list, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel, FieldSelector: fields.Everything().String()})
	if err != nil {
		return 0, apiError(err, "list", "pods", namespace, "")
	}
	n := 0
	grace := int64(0)
	var errs []error
	for _, p := range list.Items {
		ended := p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
		if age > 0 && !ended && time.Since(p.CreationTimestamp.Time) < age {
			continue
		}
		err := cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
		switch {
		case err == nil:
			n++
		case !apierrors.IsNotFound(err):
			errs = append(errs, apiError(err, "delete", "pods", p.Namespace, p.Name))
		}
	}
	return n, errors.Join(errs...)
}
