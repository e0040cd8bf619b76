// Package cluster is netx's client side in a Kubernetes cluster: it finds
// a trace's two ends through the API — pods, services of every type with
// their EndpointSlices, nodes — as kube-proxy and the kubelet see them,
// and says which nodes a trace must read. It only reads the API; it never
// enters a namespace or reads a node itself.
package cluster
