// Package cluster is netx's client side in a Kubernetes cluster: what it
// learns through the API server with the user's kubeconfig. It decides
// which mode a command runs in (Decide: local state, this machine's node,
// or the cluster), lists the names a shell completes (Ends), and finds a
// trace's two ends — pods, services of every type with their
// EndpointSlices, nodes — as kube-proxy and the kubelet see them, and which
// nodes a trace must read (API.Resolve). It only reads the API; it never
// enters a namespace or reads a node itself.
//
// It takes client-go's types (a clientcmd.ClientConfig, a
// kubernetes.Interface), never cobra's or cli-runtime's: cmd turns the
// kubectl flags into them.
package cluster
