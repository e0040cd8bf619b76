// Package labtest builds netx labs for tests: a built-in topology under a
// unique name, taken down when the test ends.
package labtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/lab"
	"github.com/netx-project/netx/lab/topologies"
)

// Unique is prefix and six random hex digits: a lab (or namespace) name
// no other test run uses.
func Unique(prefix string) string {
	b := make([]byte, 3)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Up builds the built-in topology file under a unique name starting with
// prefix. edit, when set, changes the topology first; resolved, when
// set, changes the resolved lab before it is built (what a topology
// cannot say). The lab is taken down when the test ends.
func Up(t testing.TB, file, prefix string, edit func(*lab.Topology), resolved func(*lab.Lab)) *lab.Lab {
	t.Helper()
	top, err := topologies.Builtin(file)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(top)
	}
	top.Name = Unique(prefix)
	plan, err := top.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if resolved != nil {
		resolved(plan)
	}
	t.Cleanup(func() { lab.Down(context.Background(), plan.Name) })
	if _, err := lab.Up(context.Background(), plan, lab.UpOptions{Self: testenv.NetxBinary(t), Source: "test"}); err != nil {
		t.Fatal(err)
	}
	return plan
}

// NodeNetns lists the lab's node namespaces, in the lab's order.
func NodeNetns(plan *lab.Lab) []string {
	var out []string
	for _, n := range plan.Nodes {
		out = append(out, n.Netns)
	}
	return out
}
