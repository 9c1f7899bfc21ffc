package progress

import (
	"math"
	"testing"
	"time"
)

func TestProgressRendering(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p         Progress
		bar, line string
	}{
		{
			p:    Progress{Name: "b1", Done: 11, Total: 16, Failed: 1, Rate: 0.5},
			bar:  "b1 [#############-------]  11/16   68.8%  1 failed  0.50/s  ETA 10s",
			line: "b1  11/16 done (68.8%)  1 failed  0.50/s  ETA 10s",
		},
		{
			p:    Progress{Name: "big", Done: 0, Total: 1_000_000, Rate: 0},
			bar:  "big [--------------------]  0/1000000    0.0%  0/s  ETA unknown",
			line: "big  0/1000000 done (0.0%)  0/s  ETA unknown",
		},
		{
			p:    Progress{Name: "fast", Done: 250_000, Total: 1_000_000, Rate: 123.4},
			bar:  "fast [#####---------------]  250000/1000000   25.0%  123/s  ETA 1h41m",
			line: "fast  250000/1000000 done (25.0%)  123/s  ETA 1h41m",
		},
		{
			p:    Progress{Name: "done", Done: 7, Total: 7, Failed: 7, Rate: 3},
			bar:  "done [####################]  7/7  100.0%  7 failed  finished",
			line: "done  7/7 done (100.0%)  7 failed  finished",
		},
		{
			p:    Progress{Name: "empty"},
			bar:  "empty [####################]  0/0  100.0%  finished",
			line: "empty  0/0 done (100.0%)  finished",
		},
		{
			p:    Progress{Name: "slow", Done: 1, Total: 3, Rate: 1e-300},
			bar:  "slow [######--------------]  1/3   33.3%  0.00/s  ETA unknown",
			line: "slow  1/3 done (33.3%)  0.00/s  ETA unknown",
		},
		{
			p:    Progress{Name: "nan", Done: 1, Total: 3, Rate: math.NaN()},
			bar:  "nan [######--------------]  1/3   33.3%  0/s  ETA unknown",
			line: "nan  1/3 done (33.3%)  0/s  ETA unknown",
		},
	} {
		if got := Bar(tc.p, 20); got != tc.bar {
			t.Errorf("Bar(%+v):\n got %q\nwant %q", tc.p, got, tc.bar)
		}
		if got := Line(tc.p); got != tc.line {
			t.Errorf("Line(%+v):\n got %q\nwant %q", tc.p, got, tc.line)
		}
	}
	if got := Bar(Progress{Name: "x", Done: 1, Total: 2}, 0); got != "x [-]  1/2   50.0%  0/s  ETA unknown" {
		t.Errorf("width 0: %q", got)
	}
}

func TestProgressETA(t *testing.T) {
	t.Parallel()
	if d, ok := (Progress{Done: 10, Total: 70, Rate: 2}).ETA(); !ok || d != 30*time.Second {
		t.Errorf("ETA %v %v, want 30s", d, ok)
	}
	if _, ok := (Progress{Done: 1, Total: 2, Rate: math.Inf(1)}).ETA(); ok {
		t.Error("an infinite rate has no ETA")
	}
}

func TestRateMeter(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	m := Meter{Window: time.Minute}
	steps := []struct {
		after time.Duration
		done  int64
		want  float64
	}{
		{0, 100, 0},                // one observation: no rate yet
		{10 * time.Second, 120, 2}, // 20 in 10 s
		{30 * time.Second, 160, 2}, // 60 in 30 s
		{60 * time.Second, 160, 1}, // 60 in 60 s
		// The window keeps the newest sample at or before its start (30 s):
		// (220-160)/(90-30).
		{90 * time.Second, 220, 1},
	}
	for _, s := range steps {
		if got := m.Observe(t0.Add(s.after), s.done); math.Abs(got-s.want) > 1e-9 {
			t.Errorf("after %v (done %d): rate %v, want %v", s.after, s.done, got, s.want)
		}
	}
	if len(m.samples) != 3 {
		t.Errorf("%d samples kept, want 3 (30 s, 60 s, 90 s)", len(m.samples))
	}
	// A count going down (a retry) never makes the rate negative.
	if got := m.Observe(t0.Add(100*time.Second), 100); got != 0 {
		t.Errorf("rate %v after a decrease, want 0", got)
	}
}
