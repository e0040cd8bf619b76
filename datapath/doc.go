// Package datapath builds a Kubernetes pod network on one machine: node and
// pod network namespaces, veth pairs, bridges, routes between nodes (host-gw
// or VXLAN) and kube-proxy's service NAT (iptables or nftables), from a
// topology file. Resolve and the rule generators are pure; Up, Down and Exec
// act on the kernel and keep a journal so every run can be cleaned up.
package datapath
