package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInspectSnapshot: `netx inspect --snapshot` prints the node view of
// every CNI shape exactly as its golden file holds it (the goldens are
// printers', which renders the view: go test ./printers -run TestNodeGolden).
func TestInspectSnapshot(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "snapshots", "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no snapshot fixtures (make testdata-snapshots): %v", err)
	}
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + "-" + strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			code, out, errOut := run(t, "netx", "inspect", "--snapshot", f)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			want, err := os.ReadFile(filepath.Join("..", "testdata", "golden", "inspect", name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("inspect --snapshot %s differs from its golden:\n%s", f, out)
			}
		})
	}
}
