package cmd

import (
	"bytes"
	"encoding/json"

	"gopkg.in/yaml.v3"
)

// toYAML renders v as YAML with the field names and order of its JSON
// form (one schema for both), without a second YAML library: JSON is YAML,
// so it is parsed into nodes and re-emitted in block style.
func toYAML(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return nil, err
	}
	blockStyle(&n)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	return out.Bytes(), enc.Close()
}

func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
