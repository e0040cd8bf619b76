package inspect

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// jiffiesFrom reads the kernel's jiffies from /proc/timer_list's text
// and tells their rate from /proc/uptime's: a 64-bit kernel starts the
// count at 2^32 - 300*HZ (INITIAL_JIFFIES), so of the rates Linux is
// built with, the one that fits the count since boot best is it.
func jiffiesFrom(timerList, uptime []byte) (now, hz uint64, err error) {
	for _, l := range strings.Split(string(timerList), "\n") {
		if v, ok := strings.CutPrefix(l, "jiffies: "); ok {
			now, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			break
		}
	}
	if now == 0 || err != nil {
		return 0, 0, fmt.Errorf("no jiffies in /proc/timer_list")
	}
	f := strings.Fields(string(uptime))
	if len(f) == 0 {
		return 0, 0, fmt.Errorf("bad /proc/uptime %q", uptime)
	}
	up, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, 0, fmt.Errorf("bad /proc/uptime %q", uptime)
	}
	best := math.Inf(1)
	for _, rate := range []uint64{100, 250, 300, 1000} {
		want := float64(uint64(1)<<32) + (up-300)*float64(rate)
		if d := math.Abs(float64(now) - want); d < best {
			best, hz = d, rate
		}
	}
	return now, hz, nil
}
