// Package datapath holds the building blocks of a pod network on one Linux
// machine, each acting on one network namespace: named namespaces with
// their sysctls, bridges, veth pairs with one end born in another
// namespace, addresses, routes, and VXLAN tunnels with their neighbour and
// FDB entries. The lab builds whole clusters from them, and a CNI plugin
// calls the same blocks for one pod (a bridge port, the pod's eth0, its
// address and default route).
//
// Every block is idempotent where the kernel allows it (an existing link or
// address is kept), works through netlink handles opened inside the target
// namespace (internal/nsenter is the only package that switches
// namespaces), and touches nothing but the objects it is given. Decisions
// (names, addresses, which routes) are the caller's; narration of what is
// done, as ip commands, is the caller's too.
package datapath
