package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// FieldManager owns the fields kubectl netx setup applies (server-side
// apply).
const FieldManager = "kubectl-netx"

// LabelSetup marks every object setup makes, cluster-scoped ones too:
// teardown removes what carries it.
const LabelSetup = "netx.io/setup"

// UserRole is the ClusterRole setup installs for the people who run
// traces (bind it to a user or group); its rules are UserRules.
const UserRole = "netx-user"

// UserRules are the least a user needs to run kubectl netx trace, inspect,
// snapshot and tui: read the ends (pods, services, EndpointSlices, nodes);
// make, exec into and delete the short-lived agent pods (exec alone where
// setup's agents run). The README's Permissions section is this list.
var UserRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "create", "delete"}},
	{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create", "get"}},
	{APIGroups: []string{""}, Resources: []string{"services", "nodes"}, Verbs: []string{"get", "list"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list"}},
}

// SetupOptions say what setup installs.
type SetupOptions struct {
	// Image is the agent image (DefaultImage of the binary's version).
	Image string
	// PullSecrets are image pull secrets in SetupNamespace.
	PullSecrets []string
	// CNI installs netx's CNI plugin through the agents too.
	CNI *CNISetup
}

// CNISetup says where the nodes' runtimes find CNI plugins and their
// configuration.
type CNISetup struct {
	BinDir, ConfDir string // on the node: /opt/cni/bin, /etc/cni/net.d
	// Force installs netx's configuration where another network's is.
	Force bool
	// ClusterCIDR is the cluster's pod network: pod traffic leaving it is
	// masqueraded.
	ClusterCIDR netip.Prefix
	// Overlay is how pods reach other nodes: host-gw (default: a route
	// per node via its address; the nodes share a link) or vxlan.
	Overlay string
}

// AgentRole is the ClusterRole of the agent's ServiceAccount with the CNI:
// it reads the nodes (their pod CIDRs and addresses, for the routes).
const AgentRole = "netx-agent"

// CNIDataDir is the plugin's data directory on every node.
const CNIDataDir = "/var/lib/netx-cni"

// CNIAnnotation marks the DaemonSet of a setup with the CNI: teardown has
// each agent uninstall it first.
const CNIAnnotation = "netx.io/cni"

// SetupObjects are the objects setup applies, in the order they are
// applied: the namespace (Pod Security privileged: the agent shares the
// node's network and PID namespaces), the agent's ServiceAccount (no
// token, no role: the agent never calls the API), the agent DaemonSet
// (one pod per node, every taint tolerated, no listening port — clients
// reach it by pods/exec — and ready once it has found its node's
// kubelet), and the ClusterRole for the people who run traces.
func SetupObjects(o SetupOptions) []runtime.Object {
	meta := func(name, namespace string, extra map[string]string) metav1.ObjectMeta {
		l := map[string]string{LabelName: AgentName, LabelManagedBy: ManagedBy, LabelSetup: "true"}
		for k, v := range extra {
			l[k] = v
		}
		return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: l}
	}
	no := false
	ns := &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: meta(SetupNamespace, "", map[string]string{
			"pod-security.kubernetes.io/enforce": "privileged",
			"pod-security.kubernetes.io/audit":   "privileged",
			"pod-security.kubernetes.io/warn":    "privileged",
		}),
	}
	sa := &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   meta(AgentName, SetupNamespace, nil),
		AutomountServiceAccountToken: &no,
	}
	spec := agentPodSpec(o.Image, o.PullSecrets, []string{"kubectl-netx", "agent", "idle", "--for", "0"})
	spec.ServiceAccountName = AgentName
	spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"kubectl-netx", "agent", "ready"}}},
		PeriodSeconds:    10,
		TimeoutSeconds:   5,
		FailureThreshold: 3,
	}
	selector := map[string]string{LabelName: AgentName, LabelManagedBy: ManagedBy}
	ds := &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: meta(AgentName, SetupNamespace, nil),
		Spec: appsv1.DaemonSetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: selector},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      map[string]string{LabelName: AgentName, LabelManagedBy: ManagedBy, LabelSetup: "true"},
					Annotations: map[string]string{"netx.io/purpose": "kubectl netx: reads this node's network state (read-only) when a client execs a trace; listens on no port"},
				},
				Spec: spec,
			},
		},
	}
	role := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: meta(UserRole, "", nil),
		Rules:      UserRules,
	}
	// The DaemonSet last, as Helm orders an install: its pods start with
	// what they use (the CNI agent's RBAC) in place, and a setup stopped
	// while it waits for them has applied everything else.
	objs := []runtime.Object{ns, sa, role}
	if o.CNI != nil {
		objs = append(objs, withCNI(o, sa, ds, meta)...)
	}
	return append(objs, ds)
}

// withCNI turns the agent into the CNI's node part: an init container
// installs the plugin and its configuration into the node's directories
// (refusing another network's unless forced), and the main process keeps
// the node's pod CIDR and the routes to the other nodes' pods in step with
// the API, through the ServiceAccount's token and a ClusterRole that reads
// nodes. It returns the extra objects.
func withCNI(o SetupOptions, sa *corev1.ServiceAccount, ds *appsv1.DaemonSet, meta func(name, namespace string, extra map[string]string) metav1.ObjectMeta) []runtime.Object {
	yes := true
	sa.AutomountServiceAccountToken = &yes
	spec := &ds.Spec.Template.Spec
	spec.AutomountServiceAccountToken = &yes
	ds.Annotations = map[string]string{CNIAnnotation: "true"}
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	hostPath := func(name, path string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: &dirOrCreate}}}
	}
	spec.Volumes = append(spec.Volumes, hostPath("cni-bin", o.CNI.BinDir), hostPath("cni-conf", o.CNI.ConfDir), hostPath("cni-data", CNIDataDir))
	mounts := []corev1.VolumeMount{
		{Name: "cni-bin", MountPath: "/host/opt/cni/bin"},
		{Name: "cni-conf", MountPath: "/host/etc/cni/net.d"},
		{Name: "cni-data", MountPath: CNIDataDir},
	}
	paths := []string{"--bin-dir", "/host/opt/cni/bin", "--conf-dir", "/host/etc/cni/net.d", "--data-dir", CNIDataDir}
	overlay := o.CNI.Overlay
	if overlay == "" {
		overlay = "host-gw"
	}
	main := &spec.Containers[0]
	main.Command = append(append([]string{"kubectl-netx", "agent", "cni", "run"}, paths...), "--overlay", overlay)
	main.VolumeMounts = mounts
	install := *main.DeepCopy()
	install.Name = "install-cni"
	install.Command = append([]string{"kubectl-netx", "agent", "cni", "install"}, paths...)
	install.Command = append(install.Command, "--node-conf-dir", o.CNI.ConfDir, "--overlay", overlay)
	// Under vxlan the pods' MTU is the underlay's less the tunnel's: the
	// link holding the node's address.
	install.Env = append(install.Env, corev1.EnvVar{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}})
	if o.CNI.ClusterCIDR.IsValid() {
		install.Command = append(install.Command, "--cluster-cidr", o.CNI.ClusterCIDR.String())
	}
	if o.CNI.Force {
		install.Command = append(install.Command, "--force")
	}
	install.ReadinessProbe = nil
	install.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	spec.InitContainers = []corev1.Container{install}
	role := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: meta(AgentRole, "", nil),
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch"}}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: meta(AgentRole, "", nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: AgentRole},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: AgentName, Namespace: SetupNamespace}},
	}
	return []runtime.Object{role, binding}
}

// Applied is what applying one object did.
type Applied struct {
	Kind, Name string
	// Action is created, configured or unchanged.
	Action string
}

func (a Applied) String() string {
	return strings.ToLower(a.Kind) + "/" + a.Name + " " + a.Action
}

// ApplyOptions shape Apply.
type ApplyOptions struct {
	// DryRun asks the API server to check and not persist (--dry-run=server).
	DryRun bool
}

// Apply applies objs with server-side apply as FieldManager (taking over
// fields another manager set: setup is the owner of its objects) and says
// for each whether it was created, changed or already so.
func Apply(ctx context.Context, cs kubernetes.Interface, objs []runtime.Object, o ApplyOptions) ([]Applied, error) {
	var out []Applied
	force := true
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	if o.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	for _, obj := range objs {
		m, err := metaOf(obj)
		if err != nil {
			return out, err
		}
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		body, err := json.Marshal(obj)
		if err != nil {
			return out, err
		}
		r := resourceOf(cs, kind, m.GetNamespace())
		if r == nil {
			return out, fmt.Errorf("apply %s %s: netx does not apply this kind", kind, m.GetName())
		}
		before := ""
		if cur, err := r.get(ctx, m.GetName()); err == nil {
			before = cur
		} else if !apierrors.IsNotFound(err) {
			return out, setupError(err, "get", r.resource, m.GetNamespace(), m.GetName())
		}
		after, err := r.apply(ctx, m.GetName(), body, opts)
		if err != nil {
			return out, setupError(err, "patch", r.resource, m.GetNamespace(), m.GetName())
		}
		a := Applied{Kind: kind, Name: m.GetName(), Action: "configured"}
		switch {
		case before == "":
			a.Action = "created"
		case before == after:
			a.Action = "unchanged"
		}
		out = append(out, a)
	}
	return out, nil
}

// setupError is apiError for setup and teardown, whose rights are an
// installer's, not the trace user's Role.
func setupError(err error, verb, resource, namespace, name string) error {
	if apierrors.IsForbidden(err) {
		what := resource + " " + strconv.Quote(name)
		if name == "" {
			what = resource
		}
		return fmt.Errorf("%s %s: forbidden: your user may not %q %s (RBAC); setup and teardown install cluster-wide objects (a namespace, a DaemonSet, a ClusterRole): run them as a cluster admin", verb, what, verb, resource)
	}
	return apiError(err, verb, resource, namespace, name)
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	return m, nil
}

// applier is one kind's get (its resourceVersion) and apply.
type applier struct {
	resource string
	get      func(ctx context.Context, name string) (string, error)
	apply    func(ctx context.Context, name string, body []byte, o metav1.PatchOptions) (string, error)
}

// client is what a typed client of one kind offers Apply.
type client[T interface{ GetResourceVersion() string }] interface {
	Get(ctx context.Context, name string, o metav1.GetOptions) (T, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, o metav1.PatchOptions, sub ...string) (T, error)
}

// applierOf gets and applies one kind through its typed client,
// returning resourceVersions.
func applierOf[T interface{ GetResourceVersion() string }](resource string, c client[T]) *applier {
	rv := func(v T, err error) (string, error) {
		if err != nil {
			return "", err
		}
		return v.GetResourceVersion(), nil
	}
	return &applier{resource,
		func(ctx context.Context, n string) (string, error) { return rv(c.Get(ctx, n, metav1.GetOptions{})) },
		func(ctx context.Context, n string, b []byte, o metav1.PatchOptions) (string, error) {
			return rv(c.Patch(ctx, n, types.ApplyPatchType, b, o))
		}}
}

func resourceOf(cs kubernetes.Interface, kind, ns string) *applier {
	switch kind {
	case "Namespace":
		return applierOf[*corev1.Namespace]("namespaces", cs.CoreV1().Namespaces())
	case "ServiceAccount":
		return applierOf[*corev1.ServiceAccount]("serviceaccounts", cs.CoreV1().ServiceAccounts(ns))
	case "DaemonSet":
		return applierOf[*appsv1.DaemonSet]("daemonsets", cs.AppsV1().DaemonSets(ns))
	case "ClusterRole":
		return applierOf[*rbacv1.ClusterRole]("clusterroles", cs.RbacV1().ClusterRoles())
	case "ClusterRoleBinding":
		return applierOf[*rbacv1.ClusterRoleBinding]("clusterrolebindings", cs.RbacV1().ClusterRoleBindings())
	}
	return nil
}

// WaitAgents waits until the agent DaemonSet has a ready, up-to-date pod
// on every node it schedules to, telling progress how many are ready as
// that changes. When limit passes first, the error names each node whose
// agent is not ready and why.
func WaitAgents(ctx context.Context, cs kubernetes.Interface, limit time.Duration, progress func(string)) error {
	return poll(ctx, limit, progress, func(ctx context.Context) (string, bool, error) {
		ds, err := cs.AppsV1().DaemonSets(SetupNamespace).Get(ctx, AgentName, metav1.GetOptions{})
		if err != nil {
			return "", false, apiError(err, "get", "daemonsets", SetupNamespace, AgentName)
		}
		st := ds.Status
		msg := fmt.Sprintf("agents ready on %d of %d nodes", st.NumberReady, st.DesiredNumberScheduled)
		if st.ObservedGeneration >= ds.Generation && st.DesiredNumberScheduled > 0 &&
			st.UpdatedNumberScheduled == st.DesiredNumberScheduled && st.NumberReady == st.DesiredNumberScheduled {
			return msg, true, nil
		}
		return msg, false, initFailed(ctx, cs)
	}, func(ctx context.Context) error { return notReady(ctx, cs, limit) })
}

// poll runs step every half second until it says done, or returns an
// error, or limit passes, telling progress each new message step gives.
// When limit passes, late says why (with a context of its own); when ctx
// is cancelled, its error is returned.
func poll(ctx context.Context, limit time.Duration, progress func(string), step func(context.Context) (msg string, done bool, err error), late func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	last := ""
	for {
		msg, done, err := step(ctx)
		if msg != "" && msg != last && progress != nil {
			progress(msg)
			last = msg
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil && done {
			return nil
		}
		select {
		case <-ctx.Done():
			if context.Cause(ctx) == context.Canceled {
				return ctx.Err()
			}
			return late(context.WithoutCancel(ctx))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// initFailed stops the wait at once when an agent's init container (setup
// --cni's install) has failed: what it found (another network's
// configuration, a read-only directory) does not go away by waiting. It
// names each such node and why.
func initFailed(ctx context.Context, cs kubernetes.Interface) error {
	pods, err := cs.CoreV1().Pods(SetupNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{LabelName: AgentName, LabelManagedBy: ManagedBy}.String(),
	})
	if err != nil {
		return nil // the wait goes on; its end says why
	}
	var why []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if msg := initFailure(p); msg != "" {
			why = append(why, p.Spec.NodeName+": "+msg)
		}
	}
	if len(why) == 0 {
		return nil
	}
	sort.Strings(why)
	return fmt.Errorf("the agents cannot start: %s; kubectl netx teardown removes what setup made", strings.Join(why, "; "))
}

// initFailure says how an init container of p failed (now, or before
// and waiting to be restarted), "" when none did.
func initFailure(p *corev1.Pod) string {
	for _, c := range p.Status.InitContainerStatuses {
		for _, t := range []*corev1.ContainerStateTerminated{c.State.Terminated, c.LastTerminationState.Terminated} {
			if t != nil && t.ExitCode != 0 {
				return fmt.Sprintf("agent pod %s: its %s init container failed: %s", p.Name, c.Name, strings.TrimPrefix(strings.TrimSpace(t.Message), "error: "))
			}
		}
	}
	return ""
}

// notReady names the nodes whose agent is not ready after limit, and why.
func notReady(ctx context.Context, cs kubernetes.Interface, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("the agents were not ready within %v (and the nodes could not be listed: %v)", limit, err)
	}
	pods, err := cs.CoreV1().Pods(SetupNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{LabelName: AgentName, LabelManagedBy: ManagedBy}.String(),
	})
	if err != nil {
		return apiError(err, "list", "pods", SetupNamespace, "")
	}
	byNode := map[string]*corev1.Pod{}
	for i := range pods.Items {
		byNode[pods.Items[i].Spec.NodeName] = &pods.Items[i]
	}
	var why []string
	for _, n := range nodes.Items {
		p := byNode[n.Name]
		switch {
		case p == nil:
			why = append(why, n.Name+": no agent pod scheduled (kubectl -n "+SetupNamespace+" describe daemonset "+AgentName+")")
		case !podReady(p):
			why = append(why, n.Name+": "+agentWhy(p))
		}
	}
	sort.Strings(why)
	if len(why) == 0 {
		return fmt.Errorf("the agent DaemonSet did not finish its rollout within %v", limit)
	}
	return fmt.Errorf("the agents were not ready within %v: %s; kubectl netx teardown removes what setup made", limit, strings.Join(why, "; "))
}

// agentWhy says why a DaemonSet agent pod is not ready, as far as its
// status tells.
func agentWhy(p *corev1.Pod) string {
	if msg := initFailure(p); msg != "" {
		return msg
	}
	if _, err := agentRunning(p); err != nil {
		return err.Error()
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.State.Running != nil {
			return fmt.Sprintf("agent pod %s runs but is not ready: its readiness probe (kubectl-netx agent ready) does not find the node's kubelet (kubectl -n %s describe pod %s)", p.Name, SetupNamespace, p.Name)
		}
		if w := c.State.Waiting; w != nil && w.Reason != "" {
			return fmt.Sprintf("agent pod %s: its container is waiting (%s %s)", p.Name, w.Reason, w.Message)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			return fmt.Sprintf("agent pod %s: %s: %s", p.Name, c.Type, c.Message)
		}
	}
	if r := podReason(p); r != "" {
		return fmt.Sprintf("agent pod %s: %s", p.Name, r)
	}
	return fmt.Sprintf("agent pod %s is %s; the kubelet has not started it", p.Name, p.Status.Phase)
}

// TeardownOptions shape Teardown.
type TeardownOptions struct {
	// Force removes the objects even where an agent could not remove the
	// CNI from its node (the node keeps netx's files and bridge).
	Force bool
	// Progress, when set, is told what is happening.
	Progress func(string)
}

// uninstallCNI has each agent of a setup with the CNI remove it from its
// node — the configuration first (no new pod is attached), the binary,
// the plugin's data, the bridge and the routes — before the objects go.
// A node whose agent does not run stops the teardown (naming it) unless
// forced: without its agent nothing could clean that node any more.
func uninstallCNI(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config, o TeardownOptions) ([]string, error) {
	ds, err := cs.AppsV1().DaemonSets(SetupNamespace).Get(ctx, AgentName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, setupError(err, "get", "daemonsets", SetupNamespace, AgentName)
	}
	if ds.Annotations[CNIAnnotation] != "true" {
		return nil, nil
	}
	// An install running right now may yet put the CNI on its node: wait
	// (a little) until none is, so each node is either installed or not.
	var pods *corev1.PodList
	for deadline := time.Now().Add(20 * time.Second); ; {
		pods, err = cs.CoreV1().Pods(SetupNamespace).List(ctx, metav1.ListOptions{
			LabelSelector: labels.Set{LabelName: AgentName, LabelManagedBy: ManagedBy}.String(),
		})
		if err != nil {
			return nil, setupError(err, "list", "pods", SetupNamespace, "")
		}
		installing := slices.ContainsFunc(pods.Items, func(p corev1.Pod) bool {
			return p.Status.Phase == corev1.PodPending && slices.ContainsFunc(p.Status.InitContainerStatuses, func(c corev1.ContainerStatus) bool { return c.State.Running != nil })
		})
		if !installing || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, setupError(err, "list", "nodes", "", "")
	}
	a := NewAgents(cfg, cs, AgentOptions{Namespace: SetupNamespace})
	// A node whose agent is still pending, its install init container
	// neither running nor done (not started, or failed and waiting to
	// retry), got nothing: install refuses before it writes, and takes
	// back the binary when the configuration cannot be written.
	never := map[string]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			a.nodes[p.Spec.NodeName] = &Agent{Node: p.Spec.NodeName, Namespace: p.Namespace, Pod: p.Name}
		} else if p.Status.Phase == corev1.PodPending && !slices.ContainsFunc(p.Status.InitContainerStatuses, func(c corev1.ContainerStatus) bool {
			return c.State.Running != nil || (c.State.Terminated != nil && c.State.Terminated.ExitCode == 0)
		}) {
			never[p.Spec.NodeName] = true
		}
	}
	var done, missing []string
	var errs []error
	for _, n := range nodes.Items {
		if never[n.Name] {
			if o.Progress != nil {
				o.Progress("netx's CNI is not installed on " + n.Name + " (its install has not run or failed): nothing to remove there")
			}
			continue
		}
		if a.nodes[n.Name] == nil {
			missing = append(missing, n.Name)
			continue
		}
		if o.Progress != nil {
			o.Progress("removing netx's CNI from " + n.Name)
		}
		cmd := []string{"kubectl-netx", "agent", "cni", "uninstall", "--bin-dir", "/host/opt/cni/bin", "--conf-dir", "/host/etc/cni/net.d", "--data-dir", CNIDataDir}
		if err := a.Exec(ctx, n.Name, cmd, nil, io.Discard); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, "netx-cni on node/"+n.Name)
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("no running agent on %s to remove netx's CNI there", strings.Join(missing, ", ")))
	}
	if err := errors.Join(errs...); err != nil && !o.Force {
		return done, fmt.Errorf("%s; nothing else was removed: run kubectl netx teardown again once the agents run, or with --force to remove the objects anyway (the node keeps netx's CNI files, bridge and routes)", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return done, nil
}

// Teardown deletes what setup made — the namespace with the DaemonSet and
// its pods, and the cluster-scoped objects carrying LabelSetup — and
// waits until they are gone. It says what it removed; nothing (and no
// error) when there was nothing.
func Teardown(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config, o TeardownOptions) ([]string, error) {
	var removed []string
	progress := o.Progress
	sel := labels.Set{LabelSetup: "true"}.String()
	cleaned, err := uninstallCNI(ctx, cs, cfg, o)
	removed = append(removed, cleaned...)
	if err != nil {
		return removed, err
	}
	bindings, err := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return removed, setupError(err, "list", "clusterrolebindings", "", "")
	}
	for _, b := range bindings.Items {
		if err := cs.RbacV1().ClusterRoleBindings().Delete(ctx, b.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return removed, setupError(err, "delete", "clusterrolebindings", "", b.Name)
		}
		removed = append(removed, "clusterrolebinding/"+b.Name)
	}
	roles, err := cs.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return removed, setupError(err, "list", "clusterroles", "", "")
	}
	for _, r := range roles.Items {
		if err := cs.RbacV1().ClusterRoles().Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return removed, setupError(err, "delete", "clusterroles", "", r.Name)
		}
		removed = append(removed, "clusterrole/"+r.Name)
	}
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return removed, setupError(err, "list", "namespaces", "", "")
	}
	var gone []string
	for _, ns := range nss.Items {
		if ns.DeletionTimestamp == nil {
			if err := cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return removed, setupError(err, "delete", "namespaces", "", ns.Name)
			}
		}
		removed = append(removed, "namespace/"+ns.Name)
		gone = append(gone, ns.Name)
	}
	// The namespace goes once its pods have stopped.
	for len(gone) > 0 {
		if progress != nil {
			progress("waiting for namespace " + strings.Join(gone, ", ") + " to go")
		}
		gone = slices.DeleteFunc(gone, func(n string) bool {
			_, err := cs.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
		if len(gone) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return removed, fmt.Errorf("namespace %s is still terminating (%v); run kubectl netx teardown again to wait for it", strings.Join(gone, ", "), ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	return removed, nil
}
