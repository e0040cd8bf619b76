package cmd

import (
	"context"
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

// VersionOptions is `netx version`.
type VersionOptions struct {
	streams genericiooptions.IOStreams
	Output  string
	info    VersionInfo
}

// NewVersionCommand prints the build's version.
func NewVersionCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{streams: streams}
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version of netx",
		Args:  cobra.NoArgs,
		RunE:  runE(o),
	}
	c.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	return c
}

// Complete reads the version: the one set at build time, the commit from
// the build's VCS stamp, the toolchain and the platform.
func (o *VersionOptions) Complete(*cobra.Command, []string) error {
	o.info = VersionInfo{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				o.info.Commit = s.Value
			}
		}
	}
	return nil
}

// Validate checks --output.
func (o *VersionOptions) Validate() error {
	switch o.Output {
	case "", "text", "json":
		return nil
	}
	return fmt.Errorf("unknown output format %q; use text or json", o.Output)
}

// Run prints the version.
func (o *VersionOptions) Run(context.Context) error {
	if o.Output == "json" {
		return printers.Write(o.streams.Out, o.Output, o.info)
	}
	printers.Version(o.streams.Out, o.info)
	return nil
}
