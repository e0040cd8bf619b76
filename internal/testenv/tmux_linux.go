package testenv

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tmux drives a program in a real terminal: a tmux session of its own,
// on a server of its own (its socket in a directory of the test's), so
// that what the program draws is read back as a person would see it.
type Tmux struct {
	t       testing.TB
	Session string
	socket  string
	// command makes each tmux command; it runs tmux as another user
	// when the test needs one (a user holding only a kubeconfig).
	command func(args ...string) *exec.Cmd
}

// NewTmux starts a w×h terminal running shell (a sh -c line) on a
// server whose socket is in dir; command makes the tmux commands (nil:
// tmux as this process). The server is killed when the test ends. It
// skips without tmux, and fails without it when privileged tests must
// run (hack/setup.sh installs it).
func NewTmux(t testing.TB, dir string, w, h int, shell string, command func(args ...string) *exec.Cmd) *Tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv(PrivilegedEnv) == "1" {
			t.Fatal("tmux is not installed (hack/setup.sh installs it)")
		}
		t.Skip("needs tmux")
	}
	if command == nil {
		command = func(args ...string) *exec.Cmd { return exec.Command("tmux", args...) }
	}
	x := &Tmux{t: t, Session: "netx", socket: dir + "/tmux.sock", command: command}
	x.Run("new-session", "-d", "-s", x.Session, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h), shell)
	t.Cleanup(func() { x.command("-S", x.socket, "kill-server").Run() })
	return x
}

// Run runs one tmux command against the test's server.
func (x *Tmux) Run(args ...string) string {
	x.t.Helper()
	out, err := x.command(append([]string{"-S", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Keys types keys: tmux key names (Enter, Escape, Tab) or text.
func (x *Tmux) Keys(ks ...string) {
	x.t.Helper()
	x.Run(append([]string{"send-keys", "-t", x.Session}, ks...)...)
}

// Screen is what the terminal shows now.
func (x *Tmux) Screen() string {
	x.t.Helper()
	return x.Run("capture-pane", "-p", "-t", x.Session)
}

// WaitFor waits up to limit for the screen to show s, and returns it.
func (x *Tmux) WaitFor(s string, limit time.Duration) string {
	x.t.Helper()
	var scr string
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if scr = x.Screen(); strings.Contains(scr, s) {
			return scr
		}
	}
	x.t.Fatalf("the screen never showed %q:\n%s", s, scr)
	return ""
}

// Resize makes the terminal w×h.
func (x *Tmux) Resize(w, h int) {
	x.t.Helper()
	x.Run("resize-window", "-t", x.Session, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h))
}
