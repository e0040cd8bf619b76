package cluster

import (
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
)

// Mode is where a command's state comes from.
type Mode string

const (
	// ModeLocal is state a local flag names: a netx lab (--lab), saved
	// snapshots (--snapshot), a namespace of this machine as the node
	// (--host-netns).
	ModeLocal Mode = "local"
	// ModeNode is this machine as the node, read as root: what netx does
	// when there is no kubeconfig.
	ModeNode Mode = "node"
	// ModeCluster is the cluster a usable kubeconfig points at, through its
	// API server.
	ModeCluster Mode = "cluster"
)

// ModeInput is what decides the mode: the flags given and the kubeconfig
// they load.
type ModeInput struct {
	// Local are the local-state flags given, as "--lab", "--snapshot",
	// "--host-netns".
	Local []string
	// Kube are the kubeconfig flags given, as "--context", "--namespace",
	// "--kubeconfig", ...
	Kube []string
	// Config loads the kubeconfig the way the flags say
	// (--kubeconfig, else KUBECONFIG, else ~/.kube/config).
	Config clientcmd.ClientConfig
	// Context, Cluster and Server are the --context, --cluster and --server
	// overrides, "" when not given (Config applies them, but does not say
	// which it applied).
	Context, Cluster, Server string
}

// Decision is the mode chosen and what chose it.
type Decision struct {
	Mode Mode
	// Flag is the local flag that chose ModeLocal.
	Flag string
	// Kubeconfig is the file (or files, joined with the path list
	// separator) that made ModeCluster, Context its context, and Namespace
	// the one bare names are in: -n, else the context's, else default.
	Kubeconfig, Context, Namespace string
}

// Decide applies the mode rule:
//
//   - a local flag (--lab, --snapshot, --host-netns) means that local state,
//     and only one may be given;
//   - otherwise a usable kubeconfig (a context whose cluster has a server)
//     means the cluster;
//   - otherwise this machine is the node, as before netx spoke to clusters.
//
// A local flag together with a kubeconfig flag is ambiguous and refused,
// as is a kubeconfig flag that names what the kubeconfig does not hold. A
// kubeconfig that cannot be loaded, when no kubeconfig flag asked for it,
// is no kubeconfig: the node stays what it is.
func Decide(in ModeInput) (Decision, error) {
	switch {
	case len(in.Local) > 1:
		return Decision{}, fmt.Errorf("--lab, --snapshot and --host-netns each name where the state comes from: give one of them")
	case len(in.Local) == 1 && len(in.Kube) > 0:
		hint := ""
		if in.Kube[0] == "--namespace" {
			hint = " (with local state, put the namespace in the name: ns/pod-a, svc/ns/svc-b)"
		}
		return Decision{}, fmt.Errorf("%s reads local state but %s is for a cluster's API: give one of them%s", in.Local[0], in.Kube[0], hint)
	case len(in.Local) == 1:
		return Decision{Mode: ModeLocal, Flag: in.Local[0]}, nil
	}

	asked := len(in.Kube) > 0
	files := kubeconfigFiles(in.Config)
	raw, err := in.Config.RawConfig()
	if err != nil {
		if asked {
			return Decision{}, fmt.Errorf("kubeconfig: %v", err)
		}
		return Decision{Mode: ModeNode}, nil
	}
	where := "the kubeconfig (" + strings.Join(files, ", ") + ")"
	if len(files) == 0 {
		where = "the kubeconfig (none found: --kubeconfig FILE, KUBECONFIG or ~/.kube/config)"
	}
	context := raw.CurrentContext
	if in.Context != "" {
		if raw.Contexts[in.Context] == nil {
			return Decision{}, fmt.Errorf("--context %q: no such context in %s; kubectl config get-contexts lists them", in.Context, where)
		}
		context = in.Context
	}
	if in.Cluster != "" && raw.Clusters[in.Cluster] == nil {
		return Decision{}, fmt.Errorf("--cluster %q: no such cluster in %s", in.Cluster, where)
	}
	server := in.Server
	if server == "" {
		name := in.Cluster
		if c := raw.Contexts[context]; name == "" && c != nil {
			name = c.Cluster
		}
		if c := raw.Clusters[name]; c != nil {
			server = c.Server
		}
	}
	if server == "" {
		if asked {
			return Decision{}, fmt.Errorf("%s: no cluster to talk to in %s: give --kubeconfig FILE or --context NAME", in.Kube[0], where)
		}
		return Decision{Mode: ModeNode}, nil
	}
	ns, _, err := in.Config.Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	return Decision{Mode: ModeCluster, Kubeconfig: strings.Join(files, string(os.PathListSeparator)), Context: context, Namespace: ns}, nil
}

// kubeconfigFiles are the kubeconfig files the loader reads that exist:
// --kubeconfig's, else KUBECONFIG's list, else ~/.kube/config.
func kubeconfigFiles(c clientcmd.ClientConfig) []string {
	access := c.ConfigAccess()
	if f := access.GetExplicitFile(); f != "" {
		return []string{f}
	}
	var files []string
	for _, f := range access.GetLoadingPrecedence() {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	return files
}
