package tasks

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// With the service allowing fewer requests than UPSTREAM_RATE, the shared rate adapts
// to its 429s and every item still completes, each with one job.
func TestWorkerAdaptsToThrottling(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(c *bundleConfig) {
		c.sim.Rate = 4 // per second
		c.rate = 20
	})
	const n = 10
	var m strings.Builder
	for i := range n {
		fmt.Fprintf(&m, `{"id":"s%02d","kind":"song","text":"la %d","contentId":"repo1"}`+"\n", i, i)
	}
	b.addManifest("b", m.String())
	b.enqueueAll("b")
	b.start()
	rec := b.waitDone("b", 40*time.Second)
	if rec.Counts[batch.StateCompleted] != n {
		b.dumpItems("b")
		t.Fatalf("counts %v, want %d completed", rec.Counts, n)
	}
	st := b.sim.Stats()
	if st.Throttled == 0 || b.limiter.Stats().Throttled == 0 {
		t.Errorf("the service never throttled (%d) or the limiter never heard (%d): the test proves nothing",
			st.Throttled, b.limiter.Stats().Throttled)
	}
	if d := st.PaidTwice; len(d) > 0 || st.JobsCreated != n {
		t.Errorf("jobs created %d, duplicates %v; want %d, none", st.JobsCreated, d, n)
	}
	if b.limiter.Stats().Decreases == 0 {
		t.Errorf("the limiter never lowered its rate")
	}
	t.Logf("calls %v, throttled %d, limiter %+v", st.Calls, st.Throttled, b.limiter.Stats())
}
