package tasks

import (
	"testing"
	"time"
)

func TestPollTimingDelays(t *testing.T) {
	t.Parallel()
	p, err := PollTiming{Jitter: -1}.withDefaults() // no jitter: exact values
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.FirstDelay(100*time.Second), 115*time.Second; got != want {
		t.Errorf("FirstDelay(100s) = %v, want %v (1.15 × expected)", got, want)
	}
	q := p
	q.FirstFactor, q.FirstOffset = 1, -10*time.Second
	if got := q.FirstDelay(100 * time.Second); got != 90*time.Second {
		t.Errorf("FirstDelay with an offset = %v, want 90s", got)
	}
	if got := q.FirstDelay(5 * time.Second); got != 0 {
		t.Errorf("FirstDelay never negative: %v", got)
	}
	// Second poll: max(5s, 0.25 × 100s) = 25s, then ×1.5 each, capped at 10 min.
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{2, 25 * time.Second}, {3, 37500 * time.Millisecond}, {4, 56250 * time.Millisecond}, {30, 10 * time.Minute}} {
		if got := p.NextDelay(100*time.Second, c.n, 0.3); got != c.want {
			t.Errorf("NextDelay(100s, %d) = %v, want %v", c.n, got, c.want)
		}
	}
	if got := p.NextDelay(time.Second, 2, 0.3); got != p.MinInterval {
		t.Errorf("NextDelay of a short job = %v, want MinInterval %v", got, p.MinInterval)
	}
	j, _ := PollTiming{}.withDefaults()
	for _, u := range []float64{0, 0.5, 0.9999} {
		got := j.NextDelay(100*time.Second, 2, u)
		if got < 20*time.Second || got > 30*time.Second {
			t.Errorf("NextDelay with jitter u=%v = %v, want within ±20%% of 25s", u, got)
		}
	}
}

func TestPollTimingValidation(t *testing.T) {
	t.Parallel()
	for _, bad := range []PollTiming{
		{FirstFactor: -1},
		{Growth: 0.5},
		{Jitter: 1},
		{MinInterval: time.Minute, MaxInterval: time.Second},
		{MinSamples: -2},
		{DefaultSong: -time.Second},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := (Settings{RetryBase: time.Minute, RetryCap: time.Second}).withDefaults(); err == nil {
		t.Error("RetryCap below RetryBase accepted")
	}
	s, err := Settings{}.withDefaults()
	if err != nil || s != DefaultSettings() {
		t.Errorf("zero Settings = %+v, %v; want the defaults", s, err)
	}
}
