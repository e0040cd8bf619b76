package procfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"testing"
)

// TestReadFile: what it reads equals os.ReadFile's, for small files and
// ones past its first buffer (status, maps, a seq_file's several
// records), and a missing file is fs.ErrNotExist.
func TestReadFile(t *testing.T) {
	for _, f := range []string{"comm", "cmdline", "stat", "status", "maps", "environ", "cgroup", "mountinfo"} {
		path := "/proc/self/" + f
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		// maps, status and mountinfo may change between the two reads
		// (reading allocates): compare their first lines.
		if f == "maps" || f == "status" || f == "mountinfo" {
			got, want = firstLines(got, 5), firstLines(want, 5)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: read %q, os.ReadFile %q", path, got, want)
		}
	}
	big, err := ReadFile("/proc/self/maps")
	if err != nil || len(big) <= 512 {
		t.Errorf("/proc/self/maps: %d bytes, %v: want more than one buffer", len(big), err)
	}
	if _, err := ReadFile("/proc/self/no-such-file"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func firstLines(b []byte, n int) []byte {
	lines := bytes.SplitAfterN(b, []byte("\n"), n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return bytes.Join(lines, nil)
}
