package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/testenv"
)

// TestRootTraceClusterModeFallsBack: as root on a machine whose kubeconfig
// picks cluster mode, trace says on stderr that cluster mode is not built
// yet and reads this machine's node, as it does with no kubeconfig.
func TestRootTraceClusterModeFallsBack(t *testing.T) {
	testenv.RequireRoot(t)
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: lab, context: {cluster: c, user: u}}]
current-context: lab
`), 0o600)
	note := `note: the kubeconfig (context "lab") picks cluster mode, which is not built yet: tracing this machine's node; --host-netns, --lab or --snapshot name local state explicitly`
	// A pod no node has: the node is read, and says so.
	argv := []string{"netx", "trace", "netx-no-such-pod", "10.0.0.1:80"}
	for _, env := range []string{kc, filepath.Join(dir, "missing")} {
		t.Setenv("KUBECONFIG", env)
		code, out, errOut := run(t, argv...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		wantLines := 1
		if env == kc {
			wantLines = 2
			if lines[0] != note {
				t.Errorf("KUBECONFIG=%s: first line %q, want the note %q", env, lines[0], note)
			}
		}
		if code != 1 || out != "" || len(lines) != wantLines || !strings.Contains(lines[len(lines)-1], `source pod "netx-no-such-pod" not found`) {
			t.Errorf("KUBECONFIG=%s: exit %d, stdout %q, stderr %q; want the node read and the pod not found", env, code, out, errOut)
		}
	}
}
