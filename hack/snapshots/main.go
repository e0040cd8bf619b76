//go:build linux

// Command snapshots regenerates testdata/snapshots: for each node shape a
// real CNI leaves behind (the reference bridge plugin with portmap, the
// reference ptp plugin as kindnet uses it, calico's routed veths, flannel's
// VXLAN), it builds the nodes and their pods in throwaway network
// namespaces, takes each node's snapshot with netx's own inspect.Discover,
// normalises what changes from run to run, writes
// testdata/snapshots/<shape>/<node>.json and removes everything it built.
// It needs root and never touches the host's own namespace.
//
//	make testdata-snapshots              # every shape, as root
//	go run ./hack/snapshots -shape calico -out /tmp/snaps
//
// Each pod has two processes, started from this program under other
// names: "pause", holding the pod's uts and ipc namespaces with the pod's
// hostname, and "app", listening on the pod's ports.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/netx-project/netx/inspect"
)

func main() {
	switch filepath.Base(os.Args[0]) {
	case rolePause:
		os.Exit(pause(os.Args[1:]))
	case roleApp:
		os.Exit(app(os.Args[1:]))
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "snapshots:", err)
		os.Exit(1)
	}
}

func run() error {
	out := flag.String("out", filepath.Join("testdata", "snapshots"), "directory to write <shape>/<node>.json into")
	only := flag.String("shape", "", "build only this shape ("+strings.Join(shapeNames(), ", ")+"); default all")
	flag.Parse()
	if os.Geteuid() != 0 {
		return fmt.Errorf("the shapes are built in network namespaces: run as root (make testdata-snapshots)")
	}
	if *only != "" && !slices.Contains(shapeNames(), *only) {
		return fmt.Errorf("unknown shape %q; shapes: %s", *only, strings.Join(shapeNames(), ", "))
	}
	for _, s := range shapes() {
		if *only != "" && s.name != *only {
			continue
		}
		if err := generate(s, filepath.Join(*out, s.name)); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// generate builds one shape, snapshots its nodes, tears it down, and
// writes the normalised snapshots.
func generate(s shape, dir string) (err error) {
	l, err := newLab(s.name)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := l.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	nodes := s.build(l)
	if l.err != nil {
		return l.err
	}
	var snaps []*inspect.Snapshot
	for _, nd := range nodes {
		snap, err := inspect.Discover(inspect.Options{HostNetns: l.path(nd), NodeName: nd, NoLab: true, AttachedOnly: true})
		if err != nil {
			return fmt.Errorf("inspect %s: %w", nd, err)
		}
		snaps = append(snaps, snap)
	}
	docs, err := normalise(snaps, l.pods, l.fixedMACs, s.name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range old {
		os.Remove(f)
	}
	for i, nd := range nodes {
		f := filepath.Join(dir, nd+".json")
		if err := os.WriteFile(f, docs[i], 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: %d pods, %d bytes\n", f, len(snaps[i].Namespaces), len(docs[i]))
	}
	return nil
}

// encode writes a snapshot as `netx snapshot` does.
func encode(s *inspect.Snapshot) ([]byte, error) {
	var b bytes.Buffer
	if err := inspect.WriteSnapshot(&b, s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
