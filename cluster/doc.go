// Package cluster is netx's client side: what it learns about a cluster
// through the API server, with the user's kubeconfig. Today that is which
// mode a command runs in (Decide: local state, this machine's node, or the
// cluster) and the names a shell completes (Ends); the agent pods, the exec
// transport and the API lookups of cluster mode come next (issue 12).
//
// It takes client-go's types (a clientcmd.ClientConfig, a
// kubernetes.Interface), never cobra's or cli-runtime's: cmd turns the
// kubectl flags into them.
package cluster
