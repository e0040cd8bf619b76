package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netx-project/netx/lab"
	"github.com/netx-project/netx/lab/topologies"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func run(t *testing.T, argv ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(argv, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errb})
	return code, out.String(), errb.String()
}

func TestCommandName(t *testing.T) {
	for argv0, want := range map[string]string{
		"/usr/local/bin/netx": "netx",
		"netx":                "netx",
		"/x/kubectl-netx":     "kubectl netx",
		"kubectl-netx.exe":    "kubectl netx",
	} {
		if got := commandName([]string{argv0}); got != want {
			t.Errorf("commandName(%q) = %q, want %q", argv0, got, want)
		}
	}
}

// TestHelpNamesItself: as kubectl-netx (how kubectl runs the plugin),
// usage and examples say "kubectl netx ..."; as netx, "netx ...".
func TestHelpNamesItself(t *testing.T) {
	code, out, _ := run(t, "/x/kubectl-netx", "trace", "--help")
	if code != 0 || !strings.Contains(out, "kubectl netx trace SRC DST [flags]") || !strings.Contains(out, "  kubectl netx trace pod-a svc/svc-b --lab seeds") {
		t.Errorf("help as kubectl-netx (exit %d):\n%s", code, out)
	}
	code, out, _ = run(t, "/x/kubectl-netx", "datapath", "--help")
	if code != 0 || !strings.Contains(out, "kubectl netx datapath [command]") {
		t.Errorf("datapath help as kubectl-netx (exit %d):\n%s", code, out)
	}
	code, out, _ = run(t, "/x/netx", "trace", "--help")
	if code != 0 || !strings.Contains(out, "netx trace SRC DST [flags]") || strings.Contains(out, "kubectl netx") {
		t.Errorf("help as netx (exit %d):\n%s", code, out)
	}
}

// TestKubectlFlags: kubectl's flags are on every command, as kubectl has
// them; a command that talks to no cluster refuses them in one line, and
// datapath get keeps -n for --count.
func TestKubectlFlags(t *testing.T) {
	_, out, _ := run(t, "netx", "trace", "--help")
	for _, f := range []string{"--kubeconfig string", "--context string", "--cluster string", "--user string", "-n, --namespace string",
		"--as string", "--as-group stringArray", "--request-timeout string"} {
		if !strings.Contains(out, f) {
			t.Errorf("trace --help lacks %s", f)
		}
	}
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"datapath", "status", "--context", "prod"}, "--context: netx datapath status works on this machine and talks to no cluster; drop --context"},
		{[]string{"completion", "bash", "-n", "kube-system"}, "--namespace: netx completion works on this machine and talks to no cluster; drop --namespace"},
		{[]string{"inspect", "-n", "kube-system", "--kubeconfig", "/nonexistent"}, "kubeconfig: stat /nonexistent: no such file or directory"},
		{[]string{"inspect", "--snapshot", "x.json", "--context", "prod"}, "--snapshot reads local state but --context is for a cluster's API: give one of them"},
		{[]string{"snapshot", "--image", "x"}, "--image is for cluster mode (agent pods), but this run reads this machine's node; drop it"},
		{[]string{"datapath", "get", "--namespace", "x", "127.0.0.1:1"}, "--namespace: netx datapath get works on this machine and talks to no cluster; drop --namespace"},
		{[]string{"version", "--kubeconfig", "/dev/null"}, "--kubeconfig: netx version works on this machine and talks to no cluster; drop --kubeconfig"},
	} {
		code, out, errOut := run(t, append([]string{"netx"}, c.argv...)...)
		if code != 1 || out != "" || errOut != "error: "+c.want+"\n" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", strings.Join(c.argv, " "), code, out, errOut, c.want)
		}
	}
	_, out, _ = run(t, "netx", "datapath", "get", "--help")
	if !strings.Contains(out, "-n, --count int") || strings.Contains(out, "--namespace") {
		t.Errorf("datapath get: -n is --count, and --namespace is not offered:\n%s", out)
	}
	// -n really counts: three refused connections, three lines.
	code, _, errOut := run(t, "netx", "datapath", "get", "-n", "3", "--timeout", "1s", "127.0.0.1:1")
	if code != 1 || strings.Count(errOut, "connection refused") != 3 {
		t.Errorf("datapath get -n 3 to a closed port: exit %d %q", code, errOut)
	}
}

// TestTraceMode: the mode rule at the command line. Every case has its own
// KUBECONFIG, so the machine's own kubeconfig never decides.
func TestTraceMode(t *testing.T) {
	kc, dir := deadKubeconfig(t)
	snap := "--snapshot=../testdata/snapshots/cni-bridge/node1.json"
	t.Setenv("KUBECONFIG", kc)
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"trace", "a", "b", snap, "--context", "lab"}, "--snapshot reads local state but --context is for a cluster's API: give one of them"},
		{[]string{"trace", "a", "b", "--lab", "seeds", "-n", "web"}, "--lab reads local state but --namespace is for a cluster's API: give one of them (with local state, put the namespace in the name: ns/pod-a, svc/ns/svc-b)"},
		{[]string{"trace", "a", "b", "--context", "prod"}, `--context "prod": no such context in the kubeconfig (` + kc + `); kubectl config get-contexts lists them`},
		{[]string{"trace", "a", "b", "--kubeconfig", filepath.Join(dir, "missing")}, "kubeconfig: stat " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{[]string{"trace", "internet", "node/node1:30080", "--live"}, "--live from internet: the probe would have to come from outside the cluster, where netx is not; trace it without --live, or --live from a pod or node/NAME"},
	} {
		code, out, errOut := run(t, append([]string{"netx"}, c.argv...)...)
		if code != 1 || out != "" || errOut != "error: "+c.want+"\n" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", strings.Join(c.argv, " "), code, out, errOut, c.want)
		}
	}
	// A snapshot is read whatever the kubeconfig says.
	if code, out, errOut := run(t, "netx", "trace", "client", "web", snap, "-o", "json"); code != 0 || !strings.Contains(out, `"verdict"`) || errOut != "" {
		t.Errorf("trace --snapshot with a kubeconfig: exit %d %q %q", code, out, errOut)
	}
	if os.Geteuid() != 0 {
		code, _, errOut := run(t, "netx", "trace", "a", "b")
		if want := `error: source: get pods "a" in namespace "default": the API server https://127.0.0.1:1 does not answer`; code != 1 || !strings.HasPrefix(errOut, want) {
			t.Errorf("trace with a kubeconfig, not root: exit %d %q, want %q", code, errOut, want)
		}
	}
}

// TestTraceCompletionWithoutACluster: with no kubeconfig, or one whose API
// server does not answer, SRC and DST complete to nothing, and nothing but
// cobra's directive is written.
func TestTraceCompletionWithoutACluster(t *testing.T) {
	kc, dir := deadKubeconfig(t)
	for _, env := range []string{filepath.Join(dir, "missing"), kc} {
		t.Setenv("KUBECONFIG", env)
		for _, argv := range [][]string{{"__complete", "trace", ""}, {"__complete", "trace", "pod-a", "svc/"}, {"__complete", "trace", "-n", "x", "--context", "lab", ""}} {
			code, out, _ := run(t, append([]string{"netx"}, argv...)...)
			if code != 0 || out != ":4\n" {
				t.Errorf("KUBECONFIG=%s %s: exit %d, stdout %q; want only the directive", env, strings.Join(argv, " "), code, out)
			}
		}
	}
	code, out, _ := run(t, "netx", "__complete", "trace", "a", "b", "")
	if code != 0 || out != ":4\n" {
		t.Errorf("a third argument: exit %d %q", code, out)
	}
}

func TestVersionJSON(t *testing.T) {
	code, out, _ := run(t, "netx", "version", "-o", "json")
	var v VersionInfo
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" || v.GoVersion == "" {
		t.Fatalf("version -o json: exit %d %q", code, out)
	}
	if code, _, errOut := run(t, "netx", "version", "-o", "xml"); code == 0 || !strings.Contains(errOut, "use text or json") {
		t.Errorf("bad format accepted: %d %q", code, errOut)
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, _ := run(t, "netx", "completion", sh)
		if code != 0 || len(out) < 100 {
			t.Errorf("completion %s: exit %d, %d bytes", sh, code, len(out))
		}
	}
}

// TestBadTopologyIsOneLineAndBuildsNothing: a bad file is refused before
// anything is made, with one line naming file:line and the fix.
func TestBadTopologyIsOneLineAndBuildsNothing(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "broken.yaml")
	os.WriteFile(f, []byte("name: brokenlab\nnodes:\n  - name: node1\npods:\n  - name: a\n    node: node7\n    containers: [{name: c, serve: 80}]\n"), 0o644)
	code, out, errOut := run(t, "netx", "datapath", "up", "-f", f)
	if code == 0 {
		t.Fatal("bad topology accepted")
	}
	if out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("want one line on stderr and nothing on stdout, got stdout %q stderr %q", out, errOut)
	}
	if !strings.Contains(errOut, "broken.yaml:6:") || !strings.Contains(errOut, `node "node7", which is not declared`) {
		t.Errorf("error does not name file:line and the problem: %q", errOut)
	}
	if lab.StateFor("brokenlab").Exists() {
		t.Error("a refused topology left state behind")
	}
	if _, err := os.Stat(lab.NetnsPath(lab.NetnsName("brokenlab", "node1"))); err == nil {
		t.Error("a refused topology created a namespace")
	}
}

func TestUnknownTopology(t *testing.T) {
	code, _, errOut := run(t, "netx", "datapath", "validate", "-f", "no-such-lab")
	if code == 0 || !strings.Contains(errOut, "seeds") || !strings.Contains(errOut, "minimal") {
		t.Errorf("unknown topology: exit %d %q (should list the built-in ones)", code, errOut)
	}
}

func TestValidateBuiltins(t *testing.T) {
	for _, name := range topologies.Names() {
		code, out, errOut := run(t, "netx", "datapath", "validate", "-f", name)
		if code != 0 || !strings.Contains(out, "nodes:") {
			t.Errorf("validate %s: exit %d %s", name, code, errOut)
		}
	}
	_, out, _ := run(t, "netx", "datapath", "validate")
	if !strings.Contains(out, "clusterIP: 10.96.0.10") || !strings.Contains(out, "ip: 10.244.2.2:8080") {
		t.Errorf("default topology is not seeds, or its plan changed:\n%s", out)
	}
}

func TestExecNeedsDash(t *testing.T) {
	code, _, errOut := run(t, "netx", "datapath", "exec", "pod-a", "hostname")
	if code == 0 || !strings.Contains(errOut, "after --") {
		t.Errorf("exec without --: exit %d %q", code, errOut)
	}
}

// deadKubeconfig writes a kubeconfig whose context "lab" points at a
// loopback port nobody listens on (refused at once); it returns the file
// and its directory.
func deadKubeconfig(t *testing.T) (string, string) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: lab, context: {cluster: c, user: u}}]
current-context: lab
`), 0o600)
	return kc, dir
}

// TestProfile: --profile writes a Go profile pprof reads (gzip) after the
// command, and a wrong name is one line and no file.
func TestProfile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"cpu", "heap"} {
		out := filepath.Join(dir, name+".pprof")
		if code, _, errOut := run(t, "netx", "version", "--profile", name, "--profile-output", out); code != 0 {
			t.Fatalf("--profile %s: exit %d: %s", name, code, errOut)
		}
		b, err := os.ReadFile(out)
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("--profile %s wrote %d bytes (%v), want a gzipped profile", name, len(b), err)
		}
	}
	bad := filepath.Join(dir, "bad.pprof")
	code, _, errOut := run(t, "netx", "version", "--profile", "cpux", "--profile-output", bad)
	if code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, `--profile "cpux"`) {
		t.Errorf("--profile cpux: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Errorf("--profile cpux wrote %s", bad)
	}
}
