// Package krew holds netx's krew plugin manifest template and kubectl's
// completion shim; its test builds a release and installs it with the
// real krew.
package krew

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/testenv"
)

// TestReleaseInstallsWithKrew: make krew's script builds an archive per
// krew platform — each with the LICENSE, the binary and (but on Windows)
// the completion shim — and a manifest whose sha256 sums are the
// archives'; the real krew validates the manifest and installs netx from
// it and the linux/amd64 archive into a throwaway KREW_ROOT; the installed
// kubectl-netx runs and says the release's version.
func TestReleaseInstallsWithKrew(t *testing.T) {
	krew := testenv.GoTool(t, "krew")
	const version = "v0.0.0-krewtest"
	out := t.TempDir()
	script := exec.Command("bash", "hack/krew.sh", version, out)
	script.Dir = ".."
	if b, err := script.CombinedOutput(); err != nil {
		t.Fatalf("hack/krew.sh: %v\n%s", err, b)
	}
	manifest, err := os.ReadFile(filepath.Join(out, "netx.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	license, err := os.ReadFile("../LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(license), "Apache License") || !strings.Contains(string(license), "Version 2.0") {
		t.Error("LICENSE is not the Apache License 2.0")
	}
	for _, p := range []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64"} {
		archive := filepath.Join(out, "kubectl-netx_"+p+".tar.gz")
		files, sum := readArchive(t, archive)
		bin := "kubectl-netx"
		want := []string{"LICENSE", "kubectl-netx", "kubectl_complete-netx"}
		if strings.HasPrefix(p, "windows") {
			bin, want = "kubectl-netx.exe", []string{"LICENSE", "kubectl-netx.exe"}
		}
		var names []string
		for n := range files {
			names = append(names, n)
		}
		slices.Sort(names)
		if !slices.Equal(names, want) {
			t.Errorf("%s holds %v, want %v", archive, names, want)
		}
		if files["LICENSE"] != string(license) {
			t.Errorf("%s: its LICENSE is not the repository's", archive)
		}
		if len(files[bin]) < 1<<20 {
			t.Errorf("%s: %s is %d bytes", archive, bin, len(files[bin]))
		}
		if !strings.Contains(string(manifest), `sha256: "`+sum+`"`) {
			t.Errorf("the manifest lacks %s's sha256 %s", archive, sum)
		}
	}

	root := t.TempDir()
	install := exec.Command(krew, "install", "--manifest", filepath.Join(out, "netx.yaml"), "--archive", filepath.Join(out, "kubectl-netx_linux_amd64.tar.gz"))
	install.Env = append(os.Environ(), "KREW_ROOT="+root, "KREW_NO_UPGRADE_CHECK=1")
	if b, err := install.CombinedOutput(); err != nil {
		t.Fatalf("krew install: %v\n%s", err, b)
	}
	got, err := exec.Command(filepath.Join(root, "bin", "kubectl-netx"), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(got), "netx "+version+" ") {
		t.Errorf("the installed kubectl-netx version: %v: %q, want netx %s …", err, got, version)
	}
	// krew's record of the install (krew list needs the index, fetched
	// from the network).
	if receipt, err := os.ReadFile(filepath.Join(root, "receipts", "netx.yaml")); err != nil || !strings.Contains(string(receipt), "version: "+version) {
		t.Errorf("krew's receipt for netx: %v\n%s", err, receipt)
	}
}

// readArchive returns a .tar.gz's regular files by name, and its sha256.
func readArchive(t *testing.T, path string) (map[string]string, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	files := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[strings.TrimPrefix(h.Name, "./")] = string(body)
		}
	}
	return files, hex.EncodeToString(sum[:])
}
