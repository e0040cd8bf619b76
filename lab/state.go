package lab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// StateRoot holds one directory per lab: the resolved plan (lab.json), the
// journal of everything up made, and container logs. It is on /run, so a
// reboot clears it together with the namespaces it describes.
const StateRoot = "/run/netx"

// Journal record kinds. up appends a record before it makes the object, so
// an up killed at any point leaves a journal that names everything down has
// to remove.
const (
	recStart = "start" // an up began
	recNetns = "netns" // a bind-mounted namespace under /run/netns
	recProc  = "proc"  // a process: pause or container
	recDone  = "done"  // that up finished
)

// Record is one line of the journal.
type Record struct {
	Op   string `json:"op"`
	Path string `json:"path,omitempty"`
	PID  int    `json:"pid,omitempty"`
	// Start is the process start time (clock ticks since boot, field 22 of
	// /proc/PID/stat): with the PID it identifies the process, so a reused
	// PID is never signalled.
	Start     uint64 `json:"start,omitempty"`
	Role      string `json:"role,omitempty"` // pause | container
	Pod       string `json:"pod,omitempty"`
	Container string `json:"container,omitempty"`
	// Error is set for a container that failed to start (e.g. address in use).
	Error string `json:"error,omitempty"`
	// NetnsDev and NetnsIno identify a pause's network namespace, so down
	// finds the processes left in it even after the pause itself died.
	NetnsDev uint64 `json:"netnsDev,omitempty"`
	NetnsIno uint64 `json:"netnsIno,omitempty"`
}

// State is a lab's directory on disk.
type State struct {
	Dir string
}

// StateFor is the state of the named lab.
func StateFor(lab string) State { return State{Dir: filepath.Join(StateRoot, lab)} }

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
const netnsDirMarker = StateRoot + "/netns-dir-mounted"

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
func (j *Journal) Append(r Record) error {
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

// Records reads the journal; a torn last line (writer killed mid-write) is
// ignored.
func (s State) Records() ([]Record, error) {
	f, err := os.Open(s.journalFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var r Record
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	return out, sc.Err()
}

// Labs lists the labs with state on this machine.
func Labs() []string {
	ents, _ := os.ReadDir(StateRoot)
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	// Namespaces left by an up whose state dir is gone still count.
	names, _ := filepath.Glob(filepath.Join(NetnsDir, "netx.*.*"))
	for _, n := range names {
		if parts := strings.Split(filepath.Base(n), "."); len(parts) == 3 && !slices.Contains(out, parts[1]) {
			out = append(out, parts[1])
		}
	}
	sort.Strings(out)
	return out
}

// procStat returns the one-letter state (R, S, Z, ...) and start time of
// pid from /proc/PID/stat, or "" and 0 if it does not exist.
func procStat(pid int) (state string, start uint64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0
	}
	return parseStat(string(b))
}

// parseStat reads fields 3 (state) and 22 (starttime) of a stat line. The
// command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(s string) (state string, start uint64) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", 0
	}
	start, _ = strconv.ParseUint(f[19], 10, 64)
	return f[0], start
}

// procStart returns the start time of pid, or 0 if it does not exist.
func procStart(pid int) uint64 {
	_, start := procStat(pid)
	return start
}

// running says whether pid exists and is not a zombie.
func running(pid int) bool {
	s, _ := procStat(pid)
	return s != "" && s != "Z" && s != "X"
}

// alive says whether the process recorded in r still runs (and is not a
// zombie, and is the same process: same start time).
func (r Record) alive() bool {
	if r.PID <= 0 {
		return false
	}
	s, start := procStat(r.PID)
	return start != 0 && start == r.Start && s != "" && s != "Z" && s != "X"
}

// ValidLabName checks a lab name given on the command line before it is
// used in paths and patterns (/run/netx/NAME, /run/netns/netx.NAME.*).
func ValidLabName(name string) error {
	if !isDNSLabel(name) || len(name) > 20 {
		return fmt.Errorf("%q is not a lab name (lab names are lowercase DNS labels of at most 20 characters); see `netx datapath status`", name)
	}
	return nil
}

// labNetnsPath says whether path is a namespace name of lab:
// NetnsDir/netx.<lab>.<object>.
func labNetnsPath(lab, path string) bool {
	if filepath.Dir(path) != NetnsDir {
		return false
	}
	obj, ok := strings.CutPrefix(filepath.Base(path), "netx."+lab+".")
	return ok && isDNSLabel(obj)
}

// lastRunComplete says whether the latest up recorded in the journal
// finished (a "done" after the last "start").
func lastRunComplete(recs []Record) bool {
	done := false
	for _, r := range recs {
		switch r.Op {
		case recStart:
			done = false
		case recDone:
			done = true
		}
	}
	return done
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

// ProcessStart is the start time of pid (clock ticks after boot), 0 if it
// does not exist: with the PID it names one process, never a later one.
func ProcessStart(pid int) uint64 { return procStart(pid) }

// ProcessRunning says whether pid runs with this start time.
func ProcessRunning(pid int, start uint64) bool {
	return Record{PID: pid, Start: start}.alive()
}
