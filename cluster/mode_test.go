package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// kubeconfig is a kubeconfig with two contexts: lab (the current one, no
// namespace) and other (namespace kube-system), both on one cluster.
const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:16443"}
- name: empty
  cluster: {}
users:
- name: u
  user: {token: t}
contexts:
- name: lab
  context: {cluster: lab, user: u}
- name: other
  context: {cluster: lab, user: u, namespace: kube-system}
- name: nowhere
  context: {cluster: empty, user: u}
current-context: lab
`

// flags are the kubeconfig flags of one command line, loaded the way
// cli-runtime's ConfigFlags loads them (KUBECONFIG read from the
// environment; home stands in for ~/.kube/config).
type flags struct {
	kubeconfig, context, cluster, namespace string
	home                                    string
	local, kube                             []string
}

func (f flags) input() ModeInput {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if os.Getenv(clientcmd.RecommendedConfigPathEnvVar) == "" {
		rules.Precedence = []string{filepath.Join(f.home, ".kube", "config")}
	}
	rules.ExplicitPath = f.kubeconfig
	over := &clientcmd.ConfigOverrides{CurrentContext: f.context}
	over.Context.Cluster = f.cluster
	over.Context.Namespace = f.namespace
	return ModeInput{
		Local: f.local, Kube: f.kube,
		Config:  clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, over),
		Context: f.context, Cluster: f.cluster,
	}
}

func write(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDecide: the mode rule of `trace --help`, on real kubeconfig files
// found through --kubeconfig, KUBECONFIG and the home directory.
func TestDecide(t *testing.T) {
	dir := t.TempDir()
	good := write(t, filepath.Join(dir, "good"), kubeconfig)
	broken := write(t, filepath.Join(dir, "broken"), "apiVersion: v1\nclusters: [\n")
	noCurrent := write(t, filepath.Join(dir, "no-current"), strings.Replace(kubeconfig, "current-context: lab", "", 1))
	home := filepath.Join(dir, "home")
	write(t, filepath.Join(home, ".kube", "config"), kubeconfig)
	emptyHome := filepath.Join(dir, "empty-home")
	missing := filepath.Join(dir, "missing")

	for _, c := range []struct {
		name string
		env  string // KUBECONFIG; "" unsets it
		f    flags
		want Decision
		err  string
	}{
		{name: "no kubeconfig anywhere: the node", f: flags{home: emptyHome}, want: Decision{Mode: ModeNode}},
		{name: "KUBECONFIG naming a missing file: the node", env: missing, f: flags{home: home}, want: Decision{Mode: ModeNode}},
		{name: "~/.kube/config: the cluster", f: flags{home: home},
			want: Decision{Mode: ModeCluster, Kubeconfig: filepath.Join(home, ".kube", "config"), Context: "lab", Namespace: "default"}},
		{name: "KUBECONFIG: the cluster", env: good, f: flags{home: emptyHome},
			want: Decision{Mode: ModeCluster, Kubeconfig: good, Context: "lab", Namespace: "default"}},
		{name: "KUBECONFIG list with a missing file", env: missing + string(os.PathListSeparator) + good, f: flags{home: emptyHome},
			want: Decision{Mode: ModeCluster, Kubeconfig: good, Context: "lab", Namespace: "default"}},
		{name: "--kubeconfig: the cluster", f: flags{home: emptyHome, kubeconfig: good, kube: []string{"--kubeconfig"}},
			want: Decision{Mode: ModeCluster, Kubeconfig: good, Context: "lab", Namespace: "default"}},
		{name: "--context: its namespace", env: good, f: flags{home: emptyHome, context: "other", kube: []string{"--context"}},
			want: Decision{Mode: ModeCluster, Kubeconfig: good, Context: "other", Namespace: "kube-system"}},
		{name: "-n over the context's namespace", env: good, f: flags{home: emptyHome, context: "other", namespace: "web", kube: []string{"--context", "--namespace"}},
			want: Decision{Mode: ModeCluster, Kubeconfig: good, Context: "other", Namespace: "web"}},
		{name: "--cluster over the context's", env: noCurrent, f: flags{home: emptyHome, context: "nowhere", cluster: "lab", kube: []string{"--context", "--cluster"}},
			want: Decision{Mode: ModeCluster, Kubeconfig: noCurrent, Context: "nowhere", Namespace: "default"}},
		{name: "--lab wins over a kubeconfig", env: good, f: flags{local: []string{"--lab"}}, want: Decision{Mode: ModeLocal, Flag: "--lab"}},
		{name: "--snapshot wins over ~/.kube/config", f: flags{home: home, local: []string{"--snapshot"}}, want: Decision{Mode: ModeLocal, Flag: "--snapshot"}},
		{name: "--host-netns with no kubeconfig", f: flags{home: emptyHome, local: []string{"--host-netns"}}, want: Decision{Mode: ModeLocal, Flag: "--host-netns"}},
		{name: "no current context: the node", env: noCurrent, f: flags{home: emptyHome}, want: Decision{Mode: ModeNode}},
		{name: "a context without a server: the node", env: good, f: flags{home: emptyHome, context: "nowhere"}, want: Decision{Mode: ModeNode}},
		{name: "a broken ~/.kube/config nobody asked for: the node", env: broken, f: flags{home: emptyHome}, want: Decision{Mode: ModeNode}},

		{name: "--snapshot and --context", env: good, f: flags{context: "lab", local: []string{"--snapshot"}, kube: []string{"--context"}},
			err: "--snapshot reads local state but --context is for a cluster's API: give one of them"},
		{name: "--lab and -n", f: flags{home: emptyHome, namespace: "x", local: []string{"--lab"}, kube: []string{"--namespace"}},
			err: "--lab reads local state but --namespace is for a cluster's API: give one of them (with local state, put the namespace in the name: ns/pod-a, svc/ns/svc-b)"},
		{name: "two local flags", f: flags{home: emptyHome, local: []string{"--lab", "--snapshot"}},
			err: "--lab, --snapshot and --host-netns each name where the state comes from: give one of them"},
		{name: "--context not in the kubeconfig", env: good, f: flags{home: emptyHome, context: "prod", kube: []string{"--context"}},
			err: `--context "prod": no such context in the kubeconfig (` + good + `); kubectl config get-contexts lists them`},
		{name: "--cluster not in the kubeconfig", env: good, f: flags{home: emptyHome, cluster: "prod", kube: []string{"--cluster"}},
			err: `--cluster "prod": no such cluster in the kubeconfig (` + good + `)`},
		{name: "--kubeconfig missing", f: flags{home: emptyHome, kubeconfig: missing, kube: []string{"--kubeconfig"}},
			err: "kubeconfig: stat " + missing + ": no such file or directory"},
		{name: "-n with no kubeconfig", f: flags{home: emptyHome, namespace: "x", kube: []string{"--namespace"}},
			err: "--namespace: no cluster to talk to in the kubeconfig (none found: --kubeconfig FILE, KUBECONFIG or ~/.kube/config): give --kubeconfig FILE or --context NAME"},
		{name: "a broken KUBECONFIG asked for", env: broken, f: flags{home: emptyHome, namespace: "x", kube: []string{"--namespace"}},
			err: "kubeconfig: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(clientcmd.RecommendedConfigPathEnvVar, c.env)
			got, err := Decide(c.f.input())
			switch {
			case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
				t.Errorf("error %v, want %q", err, c.err)
			case c.err != "" && strings.Contains(err.Error(), "\n"):
				t.Errorf("error of more than one line: %q", err)
			case c.err == "" && err != nil:
				t.Errorf("error %v, want %+v", err, c.want)
			case c.err == "" && got != c.want:
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
