package printers

import (
	"fmt"
	"io"
)

// VersionInfo is what `version -o json` prints.
type VersionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Version prints v on one line, the commit shortened to 12 characters as
// git abbreviates it.
func Version(w io.Writer, v VersionInfo) {
	commit := v.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if commit == "" {
		commit = "unknown"
	}
	fmt.Fprintf(w, "netx %s (commit %s, %s, %s)\n", v.Version, commit, v.GoVersion, v.Platform)
}
