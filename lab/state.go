package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/netx-project/netx/lab/labstate"
)

// State is a lab's directory on disk (labstate.Dir): lab writes it,
// labstate reads it.
type State struct {
	Name string
	Dir  string
}

// StateFor is the state of the named lab.
func StateFor(lab string) State { return State{Name: lab, Dir: labstate.Dir(lab)} }

// The files of a lab's state: labstate reads them by the same names.
func (s State) labFile() string     { return filepath.Join(s.Dir, "lab.json") }
func (s State) journalFile() string { return filepath.Join(s.Dir, "journal") }

// LogFile is where a container's stdout and stderr go.
func (s State) LogFile(pod, container string) string {
	return filepath.Join(s.Dir, "logs", strings.ReplaceAll(pod, "/", "_")+"_"+container+".log")
}

// Exists says whether the lab has any state at all.
func (s State) Exists() bool {
	_, err := os.Stat(s.Dir)
	return err == nil
}

// netnsDirMarker records that netx made NetnsDir a mount point (it was a
// plain directory before), so the last down can undo it.
const netnsDirMarker = labstate.Root + "/netns-dir-mounted"

// Lab reads the saved plan, with the topology file it came from.
func (s State) Lab() (*SavedLab, error) {
	b, err := os.ReadFile(s.labFile())
	if err != nil {
		return nil, err
	}
	var sl SavedLab
	if err := json.Unmarshal(b, &sl); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.labFile(), err)
	}
	return &sl, nil
}

// SavedLab is lab.json: the plan and where it came from.
type SavedLab struct {
	Source string `json:"source"`
	Lab    *Lab   `json:"lab"`
}

func (s State) saveLab(sl *SavedLab) error {
	if err := os.MkdirAll(filepath.Join(s.Dir, "logs"), 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	b, err := json.MarshalIndent(sl, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.labFile() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	return os.Rename(tmp, s.labFile())
}

// Records reads the journal (see labstate.Records).
func (s State) Records() ([]labstate.Record, error) {
	return labstate.ReadJournal(s.journalFile())
}

// Journal appends records; every Append is one write(2) of a whole line,
// which survives the writer being killed (the page cache keeps it).
type Journal struct {
	mu sync.Mutex
	f  *os.File
}

func (s State) openJournal() (*Journal, error) {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	f, err := os.OpenFile(s.journalFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	return &Journal{f: f}, nil
}

// Append writes one record.
func (j *Journal) Append(r labstate.Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}

// Close closes the journal file.
func (j *Journal) Close() error { return j.f.Close() }

// labNetnsPath says whether path is a namespace name of lab:
// NetnsDir/netx.<lab>.<object>.
func labNetnsPath(lab, path string) bool {
	if filepath.Dir(path) != labstate.NetnsDir {
		return false
	}
	obj, ok := strings.CutPrefix(filepath.Base(path), "netx."+lab+".")
	return ok && labstate.IsDNSLabel(obj)
}

// isLabProcess says whether a NUL-separated command line is `netx datapath
// <pause|serve|forward> ... --lab lab`.
func isLabProcess(cmdline, lab string) bool {
	args := strings.Split(strings.TrimRight(cmdline, "\x00"), "\x00")
	if len(args) < 3 || args[1] != "datapath" {
		return false
	}
	switch args[2] {
	case "pause", "serve", "forward":
	default:
		return false
	}
	for i := 3; i+1 < len(args); i++ {
		if args[i] == "--lab" && args[i+1] == lab {
			return true
		}
	}
	return false
}
