package trace

import (
	"path/filepath"
	"strings"

	"github.com/netx-project/netx/inspect"
)

// LoadSnapshots builds a world from saved snapshots, one per node. A node
// is named as its snapshot says, or else after its file (node1.json.gz is
// node1), so snapshots saved without --node-name still tell nodes apart.
func LoadSnapshots(files []string) (*World, error) {
	var nodes []*Node
	for _, f := range files {
		s, err := inspect.ReadSnapshotFile(f)
		if err != nil {
			return nil, err
		}
		name := s.NodeName
		if name == "" {
			name = strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".gz"), ".json")
		}
		nodes = append(nodes, &Node{Name: name, Snap: s})
	}
	return NewWorld(nodes)
}
