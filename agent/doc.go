// Package agent is what netx does inside its node agent pod: a container
// of its own on the node, with hostNetwork and hostPID, that the client
// reaches through pods/exec. It finds the node it runs on — the kubelet in
// its network namespace, the node's root through that process, the
// container runtime's socket the kubelet uses — and reads the node with
// inspect as netx would on the node itself, writing the snapshot to the
// exec stream. Read-only, like inspect and trace.
package agent
