package cmd

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Version is set at build time with -ldflags "-X github.com/netx-project/netx/cmd.Version=v0.1.0".
var Version = "dev"

// VersionInfo is what `version -o json` prints.
type VersionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

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
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			case "", "text":
				commit := v.Commit
				if len(commit) > 12 {
					commit = commit[:12]
				}
				if commit == "" {
					commit = "unknown"
				}
				fmt.Fprintf(streams.Out, "netx %s (commit %s, %s, %s)\n", v.Version, commit, v.GoVersion, v.Platform)
				return nil
			}
			return fmt.Errorf("unknown output format %q; use text or json", output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return c
}
