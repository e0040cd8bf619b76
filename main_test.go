package main

import (
	"io"
	"os"
	"testing"

	"k8s.io/klog/v2"
)

// TestQuietKlog: after quietKlog, client-go's klog errors print nothing
// (a Ctrl-C during setup once added such a line before netx's own).
func TestQuietKlog(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	quietKlog()
	klog.ErrorS(io.ErrUnexpectedEOF, "Unexpected error when reading response body")
	klog.Error("an error")
	klog.Warning("a warning")
	klog.Flush()
	os.Stderr = stderr
	w.Close()
	out, _ := io.ReadAll(r)
	if len(out) != 0 {
		t.Errorf("klog wrote to stderr: %q", out)
	}
}
