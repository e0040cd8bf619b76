// Package lab builds a Kubernetes pod network on one machine from a
// topology file: node and pod network namespaces, veth pairs, bridges,
// routes between nodes (host-gw or VXLAN) and kube-proxy's service NAT
// (iptables or nftables), with pause processes and built-in containers.
// Parse and Resolve are pure (a topology becomes a Lab, the plan); Up,
// Down and Exec act on the kernel and keep a journal under /run/netx so
// every run can be cleaned up, also after an interrupted up.
package lab
