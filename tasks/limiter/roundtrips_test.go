package limiter

import (
	"context"
	"testing"
	"time"

	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream"
)

// An uncontended grant costs one round trip to Redis before the call (the whole
// decision, window included, is one script) and one after it (the window's release).
// The shared state is read at most once per RefreshEvery, not per grant, so it is read
// before counting starts; so are the scripts loaded, which Redis keeps.
func TestLimiterUncontendedGrantIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := t.Context()

	// Another key set on the same server loads every script into Redis's cache.
	warm, err := New(srv.Client(t), Options{Rate: 100, Keys: limiterTestKeys()})
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{upstream.ActionCreateJob, upstream.ActionGetJob} {
		if err := waitRelease(ctx, warm, action); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name   string
		ctx    context.Context
		action string
	}{
		{"submit at normal priority", WithPriority(ctx, PriorityNormal), upstream.ActionCreateJob},
		{"poll", ctx, upstream.ActionGetJob},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hook := &redistest.RoundTrips{}
			rdb := srv.Client(t)
			rdb.AddHook(hook)
			// Fresh keys: no other grant's spacing to wait for.
			l, err := New(rdb, Options{Rate: 100, Keys: limiterTestKeys(), RefreshEvery: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Rate(ctx); err != nil {
				t.Fatal(err)
			}
			hook.Take()

			release, err := l.Wait(tc.ctx, tc.action)
			if err != nil {
				t.Fatal(err)
			}
			if got := hook.Take(); len(got) != 1 {
				t.Errorf("Wait: %d round trips %v, want 1", len(got), got)
			}
			release()
			if got := hook.Take(); len(got) != 1 {
				t.Errorf("release: %d round trips %v, want 1", len(got), got)
			}
			if st := l.Stats(); st.Submit.Delayed+st.Poll.Delayed+st.WindowDelayed != 0 {
				t.Errorf("the grant waited (stats %+v): not the uncontended case", st)
			}
		})
	}
}
