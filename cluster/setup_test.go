package cluster

import (
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestUserRulesAreTheDocumentedRole: setup's ClusterRole is the one the
// e2e suite binds its trace user to (and the README lists).
func TestUserRulesAreTheDocumentedRole(t *testing.T) {
	b, err := os.ReadFile("../e2e/manifests/netx-user-rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal([]byte(strings.Split(string(b), "\n---\n")[0]), &role); err != nil {
		t.Fatal(err)
	}
	if role.Name != UserRole || !reflect.DeepEqual(role.Rules, UserRules) {
		t.Errorf("the manifest's %s rules:\n%+v\nsetup's:\n%+v", role.Name, role.Rules, UserRules)
	}
}

// TestSetupObjects: every object is labelled for teardown; the namespace
// admits the agent (Pod Security privileged); the DaemonSet's pods are a
// run's agent pods in what they may do (the same capabilities, no
// privileged, no host port), restart instead of ending, run with a
// tokenless ServiceAccount and are ready when they find their node.
func TestSetupObjects(t *testing.T) {
	objs := SetupObjects(SetupOptions{Image: "example/netx:v1", PullSecrets: []string{"regcred"}})
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
		m, err := metaOf(o)
		if err != nil {
			t.Fatal(err)
		}
		if m.GetLabels()[LabelSetup] != "true" || m.GetLabels()[LabelManagedBy] != ManagedBy {
			t.Errorf("%s %s labels %v", kinds[len(kinds)-1], m.GetName(), m.GetLabels())
		}
	}
	if !slices.Equal(kinds, []string{"Namespace", "ServiceAccount", "ClusterRole", "DaemonSet"}) {
		t.Fatalf("kinds %v", kinds)
	}
	ns := objs[0].(*corev1.Namespace)
	if ns.Name != SetupNamespace || ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("namespace %s labels %v", ns.Name, ns.Labels)
	}
	if sa := objs[1].(*corev1.ServiceAccount); sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("the agent's ServiceAccount mounts a token")
	}
	ds := objs[3].(*appsv1.DaemonSet)
	spec := ds.Spec.Template.Spec
	run := AgentPod("node1", "default", "example/netx:v1", "abc", []string{"regcred"}).Spec
	c, rc := spec.Containers[0], run.Containers[0]
	if !reflect.DeepEqual(c.SecurityContext, rc.SecurityContext) || !reflect.DeepEqual(spec.Tolerations, run.Tolerations) ||
		spec.HostPID != run.HostPID || spec.HostNetwork != run.HostNetwork || !reflect.DeepEqual(spec.ImagePullSecrets, run.ImagePullSecrets) {
		t.Errorf("the DaemonSet's pods differ from a run's agent pods in what they may do:\n%+v\n%+v", spec, run)
	}
	if len(c.Ports) > 0 || c.SecurityContext.Privileged != nil || c.Image != "example/netx:v1" {
		t.Errorf("container: ports %v, privileged %v, image %s", c.Ports, c.SecurityContext.Privileged, c.Image)
	}
	if spec.RestartPolicy != "" || spec.ActiveDeadlineSeconds != nil || spec.NodeName != "" || spec.ServiceAccountName != AgentName {
		t.Errorf("restart %q, deadline %v, node %q, service account %q", spec.RestartPolicy, spec.ActiveDeadlineSeconds, spec.NodeName, spec.ServiceAccountName)
	}
	if p := c.ReadinessProbe; p == nil || p.Exec == nil || !slices.Equal(p.Exec.Command, []string{"kubectl-netx", "agent", "ready"}) {
		t.Errorf("readiness probe %+v", c.ReadinessProbe)
	}
	if !reflect.DeepEqual(ds.Spec.Selector.MatchLabels, map[string]string{LabelName: AgentName, LabelManagedBy: ManagedBy}) {
		t.Errorf("selector %v", ds.Spec.Selector.MatchLabels)
	}
	for k, v := range ds.Spec.Selector.MatchLabels {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("the template lacks the selector's %s=%s", k, v)
		}
	}
}

// TestSetupObjectsWithCNI: with the CNI, an init container installs it
// into the node's directories (mounted from the paths given; --force
// passed on), the main process keeps it in step through a token of the
// agent's ServiceAccount, bound to a ClusterRole that only reads nodes,
// and the DaemonSet is marked for teardown to uninstall first.
func TestSetupObjectsWithCNI(t *testing.T) {
	objs := SetupObjects(SetupOptions{Image: "example/netx:v1", CNI: &CNISetup{BinDir: "/usr/libexec/cni", ConfDir: "/etc/cni/net.d", Force: true, ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16")}})
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind().Kind)
	}
	if !slices.Equal(kinds, []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRole", "ClusterRoleBinding", "DaemonSet"}) {
		t.Fatalf("kinds %v", kinds)
	}
	sa, ds := objs[1].(*corev1.ServiceAccount), objs[5].(*appsv1.DaemonSet)
	role, binding := objs[3].(*rbacv1.ClusterRole), objs[4].(*rbacv1.ClusterRoleBinding)
	if sa.AutomountServiceAccountToken == nil || !*sa.AutomountServiceAccountToken || ds.Annotations[CNIAnnotation] != "true" {
		t.Errorf("service account token %v, annotations %v", sa.AutomountServiceAccountToken, ds.Annotations)
	}
	spec := ds.Spec.Template.Spec
	if len(spec.InitContainers) != 1 {
		t.Fatalf("init containers: %d", len(spec.InitContainers))
	}
	ic := spec.InitContainers[0]
	if !slices.Equal(ic.Command[:5], []string{"kubectl-netx", "agent", "cni", "install", "--bin-dir"}) || !slices.Equal(ic.Command[len(ic.Command)-5:], []string{"--overlay", "host-gw", "--cluster-cidr", "10.244.0.0/16", "--force"}) ||
		ic.SecurityContext.Privileged != nil || ic.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
		t.Errorf("init container %+v", ic)
	}
	paths := map[string]string{}
	for _, v := range spec.Volumes {
		paths[v.Name] = v.HostPath.Path
	}
	if paths["cni-bin"] != "/usr/libexec/cni" || paths["cni-conf"] != "/etc/cni/net.d" || paths["cni-data"] != CNIDataDir {
		t.Errorf("host paths %v", paths)
	}
	if c := spec.Containers[0]; !slices.Equal(c.Command[:4], []string{"kubectl-netx", "agent", "cni", "run"}) || len(c.VolumeMounts) != 3 {
		t.Errorf("main container %v mounts %v", c.Command, c.VolumeMounts)
	}
	if role.Name != AgentRole || len(role.Rules) != 1 || !slices.Equal(role.Rules[0].Resources, []string{"nodes"}) || !slices.Equal(role.Rules[0].Verbs, []string{"get", "list", "watch"}) {
		t.Errorf("agent role %+v", role)
	}
	if binding.RoleRef.Name != AgentRole || len(binding.Subjects) != 1 || binding.Subjects[0].Name != AgentName || binding.Subjects[0].Namespace != SetupNamespace {
		t.Errorf("binding %+v", binding)
	}
}

// TestAgentWhy: an init container that failed — now, or before and
// waiting to be restarted — is named with its last words; a running
// container that is not ready points at the readiness probe.
func TestAgentWhy(t *testing.T) {
	failed := &corev1.ContainerStateTerminated{ExitCode: 1, Message: "error: the node already has a CNI network configuration, /etc/cni/net.d/10-bridge.conflist\n"}
	for name, st := range map[string]corev1.ContainerStatus{
		"now":    {Name: "install-cni", State: corev1.ContainerState{Terminated: failed}},
		"before": {Name: "install-cni", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}, LastTerminationState: corev1.ContainerState{Terminated: failed}},
	} {
		p := &corev1.Pod{Status: corev1.PodStatus{InitContainerStatuses: []corev1.ContainerStatus{st}}}
		p.Name = "netx-agent-x"
		if got, want := agentWhy(p), "agent pod netx-agent-x: its install-cni init container failed: the node already has a CNI network configuration, /etc/cni/net.d/10-bridge.conflist"; got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	p := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
	p.Name = "netx-agent-y"
	if got := agentWhy(p); !strings.Contains(got, "runs but is not ready: its readiness probe (kubectl-netx agent ready)") {
		t.Errorf("running, not ready: %q", got)
	}
}
