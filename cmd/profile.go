package cmd

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// profiling is kubectl's --profile and --profile-output: a Go profile of
// the command, for a slow trace or snapshot reported by a user (read with
// `go tool pprof`). Hidden, as in kubectl.
type profiling struct {
	name, output string
	file         *os.File
}

func (p *profiling) addTo(fs *pflag.FlagSet) {
	fs.StringVar(&p.name, "profile", "none", "name of the profile to capture: none, cpu, heap, allocs, goroutine")
	fs.StringVar(&p.output, "profile-output", "profile.pprof", "file to write the profile to")
	for _, f := range []string{"profile", "profile-output"} {
		_ = fs.MarkHidden(f)
	}
}

// start begins a CPU profile; the others are written by stop.
func (p *profiling) start(*cobra.Command, []string) error {
	switch p.name {
	case "none":
		return nil
	case "cpu", "heap", "allocs", "goroutine":
	default:
		return fmt.Errorf("--profile %q: say none, cpu, heap, allocs or goroutine", p.name)
	}
	f, err := os.Create(p.output)
	if err != nil {
		return fmt.Errorf("--profile-output: %w", err)
	}
	p.file = f
	if p.name == "cpu" {
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			p.file = nil
			return fmt.Errorf("--profile cpu: %w", err)
		}
	}
	return nil
}

// stop writes the profile, whether the command succeeded or not.
func (p *profiling) stop() error {
	if p.file == nil {
		return nil
	}
	defer func() { p.file = nil }()
	switch p.name {
	case "cpu":
		pprof.StopCPUProfile()
	case "heap":
		runtime.GC()
		fallthrough
	default:
		if err := pprof.Lookup(p.name).WriteTo(p.file, 0); err != nil {
			p.file.Close()
			return fmt.Errorf("--profile %s: %w", p.name, err)
		}
	}
	return p.file.Close()
}
