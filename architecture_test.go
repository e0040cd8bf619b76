package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The house rules of docs/architecture.md, held by the code itself: a
// package that breaks one fails here, named, with the rule it breaks.

const module = "github.com/netx-project/netx"

type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
	GoFiles    []string
	Dir        string
}

// packages lists every package of the module (for linux, as CI builds
// it) with its imports and transitive dependencies.
func packages(t *testing.T) map[string]*goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]*goPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if rel == "" {
			rel = "."
		}
		pkgs[rel] = &p
	}
	return pkgs
}

func local(imports []string) []string {
	var out []string
	for _, i := range imports {
		if rel, ok := strings.CutPrefix(i, module+"/"); ok {
			out = append(out, rel)
		}
	}
	return out
}

// TestReadOnlyPackagesImportNoBuilder: the packages that read a node, or
// render and interpret what was read, never depend on a package that
// builds or writes one (go list -deps).
func TestReadOnlyPackagesImportNoBuilder(t *testing.T) {
	pkgs := packages(t)
	builders := []string{"lab", "datapath", "kubeproxy"}
	for _, ro := range []string{"inspect", "trace", "printers", "diagnose", "netfilter", "netfilter/nftnl", "lab/labstate", "cluster", "agent", "tui"} {
		p := pkgs[ro]
		if p == nil {
			t.Errorf("package %s is gone: update this test and docs/architecture.md", ro)
			continue
		}
		for _, d := range local(p.Deps) {
			if slices.Contains(builders, d) {
				t.Errorf("read-only package %s depends on builder %s", ro, d)
			}
		}
	}
}

// TestArrowsPointDown: the layers of docs/architecture.md, each allowed to
// import only packages of the layers below it (and internal/).
func TestArrowsPointDown(t *testing.T) {
	layer := map[string]int{
		".":   8,
		"cmd": 7,
		"tui": 6,
		// what commands use
		"cluster": 5, "agent": 5, "printers": 5, "lab/topologies": 5,
		"diagnose": 4, "trace": 4, "lab": 4, "cni": 4,
		// what those use
		"inspect": 3, "kubeproxy": 3, "datapath": 3,
		"netfilter/nftnl": 2, "lab/labstate": 2,
		"netfilter": 1,
	}
	for rel, p := range packages(t) {
		l, ok := layer[rel]
		if !ok {
			continue
		}
		for _, imp := range local(p.Imports) {
			if strings.HasPrefix(imp, "internal/") {
				continue
			}
			if il, ok := layer[imp]; ok && il >= l {
				t.Errorf("%s (layer %d) imports %s (layer %d): arrows point down only", rel, l, imp, il)
			}
		}
	}
}

// TestArchitectureDocListsEveryPackage: docs/architecture.md names every
// package of the module (as `path/`), and no package that does not exist.
func TestArchitectureDocListsEveryPackage(t *testing.T) {
	doc, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9/._-]+)/?` \\|").FindAllSubmatch(doc, -1) {
		named[strings.TrimSuffix(string(m[1]), "/")] = true
	}
	pkgs := packages(t)
	for rel := range pkgs {
		if rel != "." && !named[rel] {
			t.Errorf("package %s is not in docs/architecture.md's package table", rel)
		}
	}
	for n := range named {
		if _, ok := pkgs[n]; !ok && n != "." {
			if _, err := os.Stat(filepath.FromSlash(n)); err != nil {
				t.Errorf("docs/architecture.md lists %s, which does not exist", n)
			}
		}
	}
}

// TestOnlyNsenterSwitchesNamespaces: no code outside internal/nsenter
// calls setns (directly or through vishvananda/netns).
func TestOnlyNsenterSwitchesNamespaces(t *testing.T) {
	re := regexp.MustCompile(`\b(unix\.Setns|netns\.Set|netns\.SetNamed)\(`)
	for rel, p := range packages(t) {
		if rel == "internal/nsenter" {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			if hits := grep(t, path, re); len(hits) > 0 {
				t.Errorf("%s switches namespaces (%s): only internal/nsenter may", path, strings.Join(hits, "; "))
			}
		}
	}
}

// TestOneChainNameHash: kube-proxy's chain-name hash (base32 of sha256)
// and portmap's (hex of sha512) are computed in one place, kubeproxy.
func TestOneChainNameHash(t *testing.T) {
	re := regexp.MustCompile(`base32\.StdEncoding|sha512\.Sum512`)
	for rel, p := range packages(t) {
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			if hits := grep(t, path, re); len(hits) > 0 && (rel != "kubeproxy" || f != "names.go") {
				t.Errorf("%s hashes chain names (%s): use package kubeproxy's", path, strings.Join(hits, "; "))
			}
		}
	}
}

// TestCommandsAreCobraOnly: cobra is cmd's alone, and main is a stub
// that only calls it.
func TestCommandsAreCobraOnly(t *testing.T) {
	for rel, p := range packages(t) {
		if rel != "cmd" && slices.ContainsFunc(p.Imports, func(i string) bool { return strings.HasPrefix(i, "github.com/spf13/cobra") }) {
			t.Errorf("%s imports cobra: commands live in cmd", rel)
		}
	}
	if got := local(packages(t)["."].Imports); !slices.Equal(got, []string{"cmd"}) {
		t.Errorf("main imports %v, want cmd only", got)
	}
}

func grep(t *testing.T, path string, re *regexp.Regexp) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hits []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "//") {
			continue
		}
		if re.MatchString(line) {
			hits = append(hits, filepath.Base(path)+":"+strconv.Itoa(n))
		}
	}
	return hits
}
