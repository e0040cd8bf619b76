// Package inspect is netx's read-only view of a node: pod namespaces and how
// they were found, links, veth peers, bridges, routes, netfilter rulesets and
// sysctls, gathered into a Snapshot. It never changes the node.
package inspect
