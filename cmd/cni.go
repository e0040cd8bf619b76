package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/netx-project/netx/cni"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// isCNI says whether netx runs as the CNI plugin: under the plugin's name
// (as the container runtime runs it), or as `kubectl-netx cni` with the
// runtime's CNI_COMMAND set.
func isCNI(argv []string) bool {
	if strings.TrimSuffix(filepath.Base(argv[0]), ".exe") == cni.PluginName {
		return true
	}
	return len(argv) == 2 && argv[1] == "cni" && os.Getenv("CNI_COMMAND") != ""
}

// CNIOptions is `kubectl-netx cni` without CNI_COMMAND: it says how the
// plugin is run.
type CNIOptions struct{}

// NewCNICommand documents the CNI plugin; the runtime's calls never reach
// cobra (isCNI).
func NewCNICommand(genericiooptions.IOStreams) *cobra.Command {
	o := &CNIOptions{}
	return &cobra.Command{
		Use:    "cni",
		Short:  "netx's CNI plugin (the container runtime runs it as " + cni.PluginName + ")",
		Hidden: true,
		Long: `The CNI plugin: a bridge on the node (cni0), a veth pair per pod, the pod's
address from the node's pod CIDR (host-local style, kept under /var/lib/netx-cni)
and its default route via the bridge. The container runtime runs it as
` + cni.PluginName + ` from its CNI bin directory, with CNI_COMMAND (ADD, DEL, CHECK,
STATUS, GC, VERSION) and the other CNI_ variables set and the network
configuration on stdin; kubectl netx setup --cni installs it.`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
}

// Complete has nothing to fill.
func (o *CNIOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate refuses a call without the runtime's variables.
func (o *CNIOptions) Validate() error {
	return fmt.Errorf("cni is run by the container runtime with CNI_COMMAND set (ADD, DEL, CHECK, STATUS, GC or VERSION) and the network configuration on stdin; see kubectl netx cni --help")
}

// Run is never reached.
func (o *CNIOptions) Run(context.Context) error { return nil }
