package labstate

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

	"github.com/netx-project/netx/internal/procfs"
)

// Root holds one directory per lab: the resolved plan (lab.json), the
// journal of everything up made, and container logs. It is on /run, so a
// reboot clears it together with the namespaces it describes.
const Root = "/run/netx"

// NetnsDir is where named network namespaces live, as with `ip netns add`;
// a lab's are NetnsDir/netx.<lab>.<object>.
const NetnsDir = "/run/netns"

// Dir is the state directory of the named lab.
func Dir(lab string) string { return filepath.Join(Root, lab) }

// LogFile is where a container's stdout and stderr go.
func LogFile(lab, pod, container string) string { return logFile(Dir(lab), pod, container) }

func logFile(dir, pod, container string) string {
	return filepath.Join(dir, "logs", strings.ReplaceAll(pod, "/", "_")+"_"+container+".log")
}

// Journal record kinds. up appends a record before it makes the object, so
// an up killed at any point leaves a journal that names everything down has
// to remove.
const (
	RecStart = "start" // an up began
	RecNetns = "netns" // a bind-mounted namespace under /run/netns
	RecProc  = "proc"  // a process: pause or container
	RecDone  = "done"  // that up finished
)

// Roles of the processes in the journal.
const (
	RolePause     = "pause"
	RoleContainer = "container"
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

// Alive says whether the process recorded in r still runs (and is not a
// zombie, and is the same process: same start time).
func (r Record) Alive() bool {
	if r.PID <= 0 {
		return false
	}
	s, start := procStat(r.PID)
	return start != 0 && start == r.Start && s != "" && s != "Z" && s != "X"
}

// Records reads the lab's journal; a torn last line (writer killed
// mid-write) is ignored. No journal is no records.
func Records(lab string) ([]Record, error) { return ReadJournal(filepath.Join(Dir(lab), "journal")) }

// ReadJournal reads a journal file (see Records).
func ReadJournal(path string) ([]Record, error) {
	f, err := os.Open(path)
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

// LastRunComplete says whether the latest up recorded in the journal
// finished (a "done" after the last "start").
func LastRunComplete(recs []Record) bool {
	done := false
	for _, r := range recs {
		switch r.Op {
		case RecStart:
			done = false
		case RecDone:
			done = true
		}
	}
	return done
}

// Labs lists the labs with state on this machine.
func Labs() []string {
	ents, _ := os.ReadDir(Root)
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

// IsDNSLabel is RFC 1123's label: lowercase alphanumerics and '-', not
// starting or ending with '-' (length is checked by callers). Lab names
// and the objects in a lab's namespace names are labels.
func IsDNSLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidName checks a lab name given on the command line before it is
// used in paths and patterns (/run/netx/NAME, /run/netns/netx.NAME.*).
func ValidName(name string) error {
	if !IsDNSLabel(name) || len(name) > 20 {
		return fmt.Errorf("%q is not a lab name (lab names are lowercase DNS labels of at most 20 characters); see `netx datapath status`", name)
	}
	return nil
}

// PodNetns is the network namespace of a pod's pause process.
func PodNetns(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/ns/net" }

// procStat returns the one-letter state (R, S, Z, ...) and start time of
// pid from /proc/PID/stat, or "" and 0 if it does not exist.
func procStat(pid int) (state string, start uint64) {
	b, err := procfs.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
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

// ProcessStart is the start time of pid (clock ticks after boot), 0 if it
// does not exist: with the PID it names one process, never a later one.
func ProcessStart(pid int) uint64 {
	_, start := procStat(pid)
	return start
}

// ProcessRunning says whether pid runs with this start time.
func ProcessRunning(pid int, start uint64) bool {
	return Record{PID: pid, Start: start}.Alive()
}

// Running says whether pid exists and is not a zombie, whoever it is.
func Running(pid int) bool {
	s, _ := procStat(pid)
	return s != "" && s != "Z" && s != "X"
}
