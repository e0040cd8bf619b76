package cmd

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/testenv"
)

// TestRootTraceModeRule: as root, a usable kubeconfig still picks cluster
// mode (an API server that does not answer is one line saying so, and no
// node is read), and with no kubeconfig the node is read as before.
func TestRootTraceModeRule(t *testing.T) {
	testenv.RequireRoot(t)
	kc, dir := deadKubeconfig(t)
	// A pod no node has.
	argv := []string{"netx", "trace", "netx-no-such-pod", "10.0.0.1:80"}
	for env, want := range map[string]string{
		kc:                            `error: source: get pods "netx-no-such-pod" in namespace "default": the API server https://127.0.0.1:1 does not answer`,
		filepath.Join(dir, "missing"): `source pod "netx-no-such-pod" not found`,
	} {
		t.Setenv("KUBECONFIG", env)
		code, out, errOut := run(t, argv...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 1 || out != "" || len(lines) != 1 || !strings.Contains(lines[0], want) {
			t.Errorf("KUBECONFIG=%s: exit %d, stdout %q, stderr %q; want one line with %q", env, code, out, errOut, want)
		}
	}
}
