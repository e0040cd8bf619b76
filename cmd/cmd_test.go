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
	if got := commandName([]string{"/usr/local/bin/netx"}); got != "netx" {
		t.Errorf("netx symlink: %q", got)
	}
	t.Setenv("KUBECTL_PLUGINS_CALLER", "")
	os.Unsetenv("KUBECTL_PLUGINS_CALLER")
	if got := commandName([]string{"/x/kubectl-netx"}); got != "kubectl-netx" {
		t.Errorf("plain kubectl-netx: %q", got)
	}
	t.Setenv("KUBECTL_PLUGINS_CALLER", "/usr/bin/kubectl")
	if got := commandName([]string{"/x/kubectl-netx"}); got != "kubectl netx" {
		t.Errorf("through kubectl: %q", got)
	}
}

func TestHelpNamesItself(t *testing.T) {
	t.Setenv("KUBECTL_PLUGINS_CALLER", "/usr/bin/kubectl")
	code, out, _ := run(t, "/x/kubectl-netx", "datapath", "--help")
	if code != 0 || !strings.Contains(out, "kubectl netx datapath [command]") {
		t.Errorf("help through kubectl (exit %d):\n%s", code, out)
	}
	os.Unsetenv("KUBECTL_PLUGINS_CALLER")
	code, out, _ = run(t, "/x/netx", "datapath", "--help")
	if code != 0 || !strings.Contains(out, "netx datapath [command]") || strings.Contains(out, "kubectl netx") {
		t.Errorf("help as netx (exit %d):\n%s", code, out)
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
