package lab

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseStat(t *testing.T) {
	// A command name may hold spaces and parentheses.
	line := "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 0 0 0"
	st, start := parseStat(line)
	if st != "S" || start != 987654 {
		t.Errorf("parseStat: state %q start %d, want S 987654", st, start)
	}
	if st, start := parseStat("garbage"); st != "" || start != 0 {
		t.Errorf("garbage: %q %d", st, start)
	}
}

func TestIsLabProcess(t *testing.T) {
	cases := []struct {
		cmdline string
		want    bool
	}{
		{"/usr/bin/netx\x00datapath\x00pause\x00--lab\x00seeds\x00--pod\x00default/a\x00", true},
		{"/x/kubectl-netx\x00datapath\x00serve\x00--listen\x00:80\x00--lab\x00seeds\x00", true},
		{"/usr/bin/netx\x00datapath\x00pause\x00--lab\x00seeds2\x00", false}, // another lab
		{"/usr/bin/netx\x00datapath\x00up\x00--lab\x00seeds\x00", false},     // not a lab process
		{"/usr/bin/sleep\x00--lab\x00seeds\x00", false},
		{"", false},
	}
	for _, c := range cases {
		if got := isLabProcess(c.cmdline, "seeds"); got != c.want {
			t.Errorf("isLabProcess(%q) = %v", c.cmdline, got)
		}
	}
}

func TestValidLabName(t *testing.T) {
	for _, ok := range []string{"seeds", "t0a1b2c", "lab-2"} {
		if err := ValidLabName(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", "../..", "t*", "a/b", "Seeds", "-x", "a-very-long-lab-name-indeed"} {
		if err := ValidLabName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDownRejectsBadNamesFirst(t *testing.T) {
	// Checked before privileges or the lock: no path is ever built from it.
	for _, bad := range []string{"../..", "t*", ""} {
		if _, err := Down(t.Context(), bad); err == nil {
			t.Errorf("Down(%q) accepted", bad)
		}
	}
}

func TestLabNetnsPath(t *testing.T) {
	cases := map[string]bool{
		"/run/netns/netx.seeds.node1":       true,
		"/run/netns/netx.seeds.fabric":      true,
		"/run/netns/netx.seeds-2.node1":     false, // lab seeds-2, not seeds
		"/run/netns/netx.seeds.node1/../..": false,
		"/etc/passwd":                       false,
		"/run/netns/netx.seeds.":            false,
		"/run/netns/cni-1234":               false,
	}
	for p, want := range cases {
		if got := labNetnsPath("seeds", p); got != want {
			t.Errorf("labNetnsPath(seeds, %q) = %v", p, got)
		}
	}
}

func TestJournalTornLineAndRuns(t *testing.T) {
	st := State{Dir: t.TempDir()}
	j, err := st.openJournal()
	if err != nil {
		t.Fatal(err)
	}
	j.Append(Record{Op: recStart})
	j.Append(Record{Op: recProc, Role: rolePause, Pod: "default/a", PID: 10, Start: 5})
	j.Append(Record{Op: recDone})
	j.Append(Record{Op: recStart})
	j.Close()
	// A writer killed mid-line leaves half a record.
	f, _ := os.OpenFile(filepath.Join(st.Dir, "journal"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"proc","pid":1`)
	f.Close()
	recs, err := st.Records()
	if err != nil || len(recs) != 4 {
		t.Fatalf("records: %d %v, want 4 (torn line skipped)", len(recs), err)
	}
	if lastRunComplete(recs) {
		t.Error("a second up that never finished reads as complete")
	}
	if !lastRunComplete(recs[:3]) {
		t.Error("a finished up reads as incomplete")
	}
}
