package limiter

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream"
)

// roundTripHook counts a client's round trips to Redis: each command sent alone and
// each pipeline is one.
type roundTripHook struct {
	mu   sync.Mutex
	sent []string // one entry per round trip: its commands' names
}

func (h *roundTripHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd.Name())
		return next(ctx, cmd)
	}
}

func (h *roundTripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
		}
		h.record("[" + strings.Join(names, " ") + "]")
		return next(ctx, cmds)
	}
}

func (h *roundTripHook) record(name string) {
	h.mu.Lock()
	h.sent = append(h.sent, name)
	h.mu.Unlock()
}

// take returns the round trips since the last take, and forgets them.
func (h *roundTripHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.sent
	h.sent = nil
	return out
}

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
			hook := &roundTripHook{}
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
			hook.take()

			release, err := l.Wait(tc.ctx, tc.action)
			if err != nil {
				t.Fatal(err)
			}
			if got := hook.take(); len(got) != 1 {
				t.Errorf("Wait: %d round trips %v, want 1", len(got), got)
			}
			release()
			if got := hook.take(); len(got) != 1 {
				t.Errorf("release: %d round trips %v, want 1", len(got), got)
			}
			if st := l.Stats(); st.Submit.Delayed+st.Poll.Delayed+st.WindowDelayed != 0 {
				t.Errorf("the grant waited (stats %+v): not the uncontended case", st)
			}
		})
	}
}
