// Package topologies holds the lab topologies shipped with netx, embedded
// so the binary alone builds its default lab on a fresh machine, and finds
// the topology a command names: a file, or a built-in by name.
package topologies

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/netx-project/netx/lab"
)

// files holds every *.yaml topology in this directory.
//
//go:embed *.yaml
var files embed.FS

// Default is the topology `netx datapath up` builds when given none.
const Default = "seeds"

// Names lists the built-in topologies.
func Names() []string {
	ents, _ := fs.Glob(files, "*.yaml")
	for i := range ents {
		ents[i] = strings.TrimSuffix(ents[i], ".yaml")
	}
	return ents
}

// Builtin parses the built-in topology called name (with or without
// .yaml).
func Builtin(name string) (*lab.Topology, error) {
	name = strings.TrimSuffix(name, ".yaml")
	b, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no built-in topology %q (%s)", name, strings.Join(Names(), ", "))
	}
	return lab.Parse(name+".yaml", b)
}

// Load reads the topology ref names: a file if one exists at that path,
// else a built-in by name; "" is Default. It also says where the topology
// came from (the path, or built-in:NAME), which status shows.
func Load(ref string) (*lab.Topology, string, error) {
	if ref == "" {
		ref = Default
	}
	if _, err := os.Stat(ref); err == nil {
		t, err := lab.LoadFile(ref)
		return t, ref, err
	}
	name := strings.TrimSuffix(ref, ".yaml")
	if _, err := files.ReadFile(name + ".yaml"); err == nil {
		t, err := Builtin(name)
		return t, "built-in:" + name, err
	}
	return nil, "", fmt.Errorf("topology %q: no such file, and not a built-in topology (%s)", ref, strings.Join(Names(), ", "))
}
