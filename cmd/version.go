package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/netx-project/netx/printers"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Version is set at build time with -ldflags "-X github.com/netx-project/netx/cmd.Version=v0.1.0".
var Version = "dev"

// VersionInfo is what `version -o json` prints; the type is printers', the
// name stays here for callers that decode the output.
type VersionInfo = printers.VersionInfo

func versionInfo() VersionInfo {
	v := VersionInfo{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v.Commit = s.Value
			}
		}
	}
	return v
}

// NewVersionCommand prints the build's version.
func NewVersionCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version of netx",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := versionInfo()
			switch output {
			case "json":
				return printers.Write(streams.Out, output, v)
			case "", "text":
				printers.Version(streams.Out, v)
				return nil
			}
			return fmt.Errorf("unknown output format %q; use text or json", output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}
