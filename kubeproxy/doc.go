// Package kubeproxy writes the rules a Kubernetes node's datapath holds,
// as netfilter.Ruleset values, from plain data: Services with their
// endpoints, the node and kube-proxy's configuration. It is netx's single
// writer of rules: the lab loads what it writes, the benchmarks' synthetic
// nodes are made of it, and netx's CNI plugin will be.
//
// It follows the upstream components rule for rule, so a lab node reads
// like a real one and a test can hold the two to each other (the dumps
// under testdata/cluster, from a real kube-proxy v1.34):
//
//   - kube-proxy v1.34 in iptables mode (pkg/proxy/iptables, IPTables)
//     and in nftables mode (pkg/proxy/nftables, NFTables), for ClusterIP
//     and NodePort services with the Cluster traffic policies, services
//     without endpoints, and large-cluster mode;
//   - the chains kubelet itself creates (KUBE-FIREWALL, the canaries,
//     KUBE-IPTABLES-HINT; Kubelet);
//   - the CNI portmap plugin's hostPort layout (Portmap);
//   - masquerading of pod traffic leaving the cluster, flannel's job
//     (Masquerade).
//
// Rules are written as the upstream code writes them — iptables-restore
// words, nft rule text — into netfilter's builders, which turn them into
// the model at once; chain names come from one hash (ServicePortChain and
// friends). Nothing here touches a node: callers render the result once
// (one iptables-restore, one nft transaction) where they load it.
package kubeproxy
