package procfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"testing"
)

// TestReadFile: what it reads equals os.ReadFile's, byte for byte, for
// small files and for one past its first buffer (limits, which nothing
// changes between the reads); files that change as they are read (maps,
// status, mountinfo) agree in their first lines and come whole past the
// first buffer; a missing file is fs.ErrNotExist.
func TestReadFile(t *testing.T) {
	for _, f := range []string{"comm", "cmdline", "stat", "limits", "status", "maps", "environ", "cgroup", "mountinfo"} {
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
	for _, f := range []string{"limits", "maps"} {
		big, err := ReadFile("/proc/self/" + f)
		if err != nil || len(big) <= 512 || !bytes.HasSuffix(big, []byte("\n")) {
			t.Errorf("/proc/self/%s: %d bytes, %v: want more than one buffer, to its last line", f, len(big), err)
		}
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
