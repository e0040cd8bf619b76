package printers

import (
	"encoding/json"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Objects prints objects as kubectl does: a YAML stream ("---" between
// documents), or a JSON List.
func Objects(w io.Writer, objs []runtime.Object, format string) error {
	switch format {
	case "json":
		list := map[string]any{"apiVersion": "v1", "kind": "List", "items": objs}
		b, err := json.MarshalIndent(list, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		for i, o := range objs {
			b, err := yaml.Marshal(o)
			if err != nil {
				return err
			}
			if i > 0 {
				fmt.Fprintln(w, "---")
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("-o %q: use yaml or json", format)
}

// Applied prints what applying each object did, a line each, as kubectl
// apply does ("daemonset/netx-agent unchanged").
func Applied(w io.Writer, lines []string, serverDryRun bool) {
	suffix := ""
	if serverDryRun {
		suffix = " (server dry run)"
	}
	for _, l := range lines {
		fmt.Fprintf(w, "%s%s\n", l, suffix)
	}
}

// SetupDone says where setup left the cluster; role is the ClusterRole
// for the people who run traces; cni says netx-cni is the pod network.
func SetupDone(w io.Writer, changed bool, role string, cni bool) {
	ready := "its agents are ready on every node"
	if cni {
		ready += ", and every node is Ready on netx's pod network"
	}
	if !changed {
		fmt.Fprintf(w, "nothing changed: netx was already set up; %s\n", ready)
		return
	}
	fmt.Fprintf(w, "netx is set up: %s; kubectl netx trace uses the agents (no pod per run)\n"+
		"people who run traces need the ClusterRole %s: kubectl create clusterrolebinding netx-users --clusterrole %s --user NAME\n", ready, role, role)
}

// Removed says what teardown removed.
func Removed(w io.Writer, removed []string) {
	if len(removed) == 0 {
		fmt.Fprintln(w, "nothing to remove: netx is not set up in this cluster")
		return
	}
	for _, r := range removed {
		fmt.Fprintf(w, "%s deleted\n", r)
	}
}
