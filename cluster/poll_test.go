package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestPoll: each new message is told once; done ends the wait; a step's
// error ends it with that error; the limit ends it with late's; a
// cancelled context with its own error.
func TestPoll(t *testing.T) {
	var told []string
	n := 0
	err := poll(context.Background(), time.Minute, func(m string) { told = append(told, m) }, func(context.Context) (string, bool, error) {
		n++
		return map[bool]string{false: "1 of 2", true: "2 of 2"}[n >= 3], n >= 3, nil
	}, nil)
	if err != nil || !slices.Equal(told, []string{"1 of 2", "2 of 2"}) {
		t.Errorf("done after 3 steps: %v, told %q", err, told)
	}

	boom := errors.New("boom")
	if err := poll(context.Background(), time.Minute, nil, func(context.Context) (string, bool, error) { return "", false, boom }, nil); !errors.Is(err, boom) {
		t.Errorf("a failing step: %v", err)
	}

	late := errors.New("late")
	if err := poll(context.Background(), 100*time.Millisecond, nil, func(context.Context) (string, bool, error) { return "0 of 1", false, nil },
		func(ctx context.Context) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return late
		}); !errors.Is(err, late) {
		t.Errorf("past the limit: %v, want late's error with a live context", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := poll(ctx, time.Minute, nil, func(ctx context.Context) (string, bool, error) { return "", false, ctx.Err() }, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
