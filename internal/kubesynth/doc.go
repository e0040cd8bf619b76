// Package kubesynth writes the rules kube-proxy v1.34 programs on a node
// holding many services, in either of its modes: iptables-save text for
// iptables mode (which iptables-restore loads as is) and an nft script for
// nftables mode (which nft -f loads, and which reads like nft list
// ruleset). The layouts are those of the real dumps under
// testdata/cluster, chain names included (kube-proxy derives them from
// hashes of the service and endpoint names, and so does this package);
// a test holds them to those dumps so they cannot drift.
//
// It exists for benchmarks: the netfilter parsers' benchmarks and
// hack/bench, which loads the rules into a throwaway namespace and times
// netx snapshot against iptables-save and nft list ruleset.
package kubesynth
