package batch

import (
	"slices"
	"testing"
	"time"
)

func TestJobTimings(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()

	if got, err := s.JobTimings(ctx, "song"); len(got) != 0 || err != nil {
		t.Fatalf("before any sample: %v %v", got, err)
	}
	for i := 1; i <= TimingWindow+10; i++ {
		if _, err := s.RecordJobTiming(ctx, "song", JobTiming{Total: time.Duration(i) * time.Second, Processing: time.Duration(i) * time.Second / 2}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.JobTimings(ctx, "song")
	if err != nil || len(got) != TimingWindow {
		t.Fatalf("%d timings (%v), want the newest %d", len(got), err, TimingWindow)
	}
	if newest := got[0]; newest.Total != (TimingWindow+10)*time.Second || newest.Processing != newest.Total/2 {
		t.Errorf("newest = %+v", newest)
	}
	// A write returns the window as it then is: what a read would give.
	after, err := s.RecordJobTiming(ctx, "song", JobTiming{Total: time.Second})
	if err != nil || len(after) != TimingWindow || after[0] != (JobTiming{Total: time.Second}) || !slices.Equal(after[1:], got[:TimingWindow-1]) {
		t.Fatalf("window after a write: %d timings, %v", len(after), err)
	}
	if got, err = s.JobTimings(ctx, "song"); err != nil || !slices.Equal(got, after) {
		t.Errorf("read after the write = %+v (%v), want what the write returned", got, err)
	}
	// Another class is apart; an entry of an older version (no processing) or a foreign
	// one is read as well as it can be, or skipped.
	b.rdb.LPush(ctx, s.Keys().Durations("train-e5"), "90000", "junk", "1000:5000", "-3:0")
	got, err = s.JobTimings(ctx, "train-e5")
	want := []JobTiming{{Total: time.Second}, {Total: 90 * time.Second}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("train-e5 timings = %+v (%v), want %+v", got, err, want)
	}
	classes, _ := s.TimingClasses(ctx)
	if !slices.Equal(classes, []string{"song"}) {
		t.Errorf("classes = %v", classes)
	}
	if _, err := s.RecordJobTiming(ctx, "song", JobTiming{Total: -time.Second}); err == nil {
		t.Error("a negative duration was recorded")
	}
}

// Scout slots: at most N holders, each keeps its own while it renews, a lapsed one is
// taken over, a released one is free at once.
func TestScoutSlots(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	claim := func(member string, until time.Duration) int {
		t.Helper()
		n, err := s.ClaimScout(ctx, "song", member, 2, b.clock.Now().Add(until))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if a, b, c := claim("a", time.Minute), claim("b", time.Minute), claim("c", time.Minute); a != 0 || b != 1 || c != -1 {
		t.Fatalf("slots a=%d b=%d c=%d, want 0 1 -1", a, b, c)
	}
	if a := claim("a", time.Minute); a != 0 {
		t.Errorf("a renewing got slot %d", a)
	}
	b.clock.Advance(30 * time.Second)
	if b := claim("b", time.Hour); b != 1 {
		t.Errorf("b renewing got slot %d", b)
	}
	b.clock.Advance(time.Minute) // a lapsed, b did not
	if c := claim("c", time.Minute); c != 0 {
		t.Errorf("c after a lapsed got slot %d, want 0", c)
	}
	if err := s.ReleaseScout(ctx, "song", "b"); err != nil {
		t.Fatal(err)
	}
	if d := claim("d|x", time.Minute); d != 1 {
		t.Errorf("d after b released got slot %d, want 1", d)
	}
	if d := claim("d|x", time.Minute); d != 1 {
		t.Errorf("d (a member with '|') renewing got slot %d, want 1", d)
	}
}

func TestTryOnce(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	first, err := s.TryOnce(ctx, "x", time.Minute)
	second, _ := s.TryOnce(ctx, "x", time.Minute)
	other, _ := s.TryOnce(ctx, "y", time.Minute)
	if err != nil || !first || second || !other {
		t.Errorf("TryOnce: first %v second %v other %v (%v)", first, second, other, err)
	}
}
