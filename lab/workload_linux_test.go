package lab

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
)

// TestRootServeUDP runs `datapath serve --udp` on every address of a
// throwaway namespace and asks it with `datapath get --udp`: each
// datagram is answered from the address it was sent to (127.0.0.2 is
// local, but a route would answer a 127.0.0.1 client from 127.0.0.1,
// which the client's connected socket would not take), each request on a
// socket of its own; a port where nothing listens is refused.
func TestRootServeUDP(t *testing.T) {
	testenv.RequireRoot(t)
	before := hostDump(t)
	t.Cleanup(func() { requireSameHost(t, before) }) // after the namespace is gone
	ns := testenv.ThrowawayNetns(t, "udp")
	if out, err := nsenter.Output(nsenter.Net(ns), nil, "ip", "link", "set", "lo", "up"); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	serveIn(t, ns, ":9000", "--udp")
	getUDP := func(args ...string) (string, error) {
		out, err := nsenter.Output(nsenter.Net(ns), nil, buildNetx(t), append([]string{"datapath", "get", "--udp", "--timeout", "3s"}, args...)...)
		return string(out), err
	}
	for _, c := range []struct{ addr, server, client string }{
		{"127.0.0.2:9000", "127.0.0.2:9000", "127.0.0.1:"},
		{"[::1]:9000", "[::1]:9000", "[::1]:"},
	} {
		out, err := getUDP("-n", "3", c.addr)
		if err != nil {
			t.Fatalf("get --udp -n 3 %s: %v: %s", c.addr, err, out)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		clients := map[string]bool{}
		for _, l := range lines {
			if field(l, "server") != c.server || !strings.HasPrefix(field(l, "client"), c.client) {
				t.Errorf("get --udp %s: %q, want server=%s client=%s...", c.addr, l, c.server, c.client)
			}
			clients[field(l, "client")] = true
		}
		if len(lines) != 3 || len(clients) != 3 {
			t.Errorf("get --udp -n 3 %s: %d answers from %d client sockets, want 3 and 3:\n%s", c.addr, len(lines), len(clients), out)
		}
	}
	// nsenter.Output puts the client's stderr in its error.
	out, err := getUDP("127.0.0.1:9001")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || out != "" || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("get --udp where nothing listens: %v, stdout %q; want exit 1 saying connection refused", err, out)
	}
}
