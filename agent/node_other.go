//go:build !linux

package agent

import "errors"

// Node is what the agent found out about the node it runs on.
type Node struct {
	KubeletPID  int
	Root        string
	CRIEndpoint string
	Kubelets    int
}

// Locate needs Linux: the agent runs on a node.
func Locate() (*Node, error) {
	return nil, errors.New("agent: the node agent runs on Linux nodes only")
}
