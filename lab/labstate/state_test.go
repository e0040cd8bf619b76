package labstate

import "testing"

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

func TestValidName(t *testing.T) {
	for _, ok := range []string{"seeds", "t0a1b2c", "lab-2"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", "../..", "t*", "a/b", "Seeds", "-x", "a-very-long-lab-name-indeed"} {
		if err := ValidName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
