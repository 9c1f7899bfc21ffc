package tasks

import (
	"math"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream/sim"
)

// aheadClock is the real clock, ahead by a fixed offset: a service whose clock is
// not ours.
type aheadClock struct{ by time.Duration }

func (c aheadClock) Now() time.Time { return time.Now().Add(c.by) }
func (c aheadClock) AfterFunc(d time.Duration, f func()) sim.Timer {
	return time.AfterFunc(d, f)
}

// The report's per-item durations come from the service's timings alone, even when
// its clock runs minutes ahead of the worker's, and its calls add up to what the
// service was sent.
func TestReportDurationsAreTheServicesAndCallsAddUp(t *testing.T) {
	t.Parallel()
	const ahead = 10 * time.Minute
	b := newBundle(t, func(c *bundleConfig) { c.sim.Clock = aheadClock{ahead} })
	b.addManifest("b", songsManifest("s", 4))
	b.enqueueAll("b")
	b.start()
	b.waitDone("b", 30*time.Second)
	var calls int64
	err := b.store.Items(t.Context(), "b", nil, func(r batch.ItemRecord) error {
		row := batch.NewReportRow(r)
		calls += row.Calls
		job, ok := b.sim.Job(r.JobID)
		if r.State != batch.StateCompleted || !ok {
			t.Errorf("%s: %s, job %q known to the service: %v", r.ID, r.State, r.JobID, ok)
			return nil
		}
		tm := job.Timing
		for _, c := range []struct {
			name string
			got  *float64
			from int64
			to   int64
		}{
			{"queued", row.QueuedSeconds, int64(tm.CreatedAt), int64(tm.StartedAt)},
			{"at the service", row.ProcessingSeconds, int64(tm.StartedAt), int64(tm.CompletedAt)},
			{"total", row.TotalSeconds, int64(tm.CreatedAt), int64(tm.CompletedAt)},
		} {
			want := float64(c.to-c.from) / 1000
			if c.got == nil {
				t.Errorf("%s: no %s seconds, want %.3f", r.ID, c.name, want)
			} else if math.Abs(*c.got-want) > 0.001 {
				t.Errorf("%s: %s seconds %.3f, want %.3f from the service's timings", r.ID, c.name, *c.got, want)
			}
		}
		if row.Calls < 2 {
			t.Errorf("%s: %d calls; a CreateJob and a poll at least", r.ID, row.Calls)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := b.sim.Stats().Requests; int64(n) != calls {
		t.Errorf("the items' calls add up to %d; the service was sent %d", calls, n)
	}
}
