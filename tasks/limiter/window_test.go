package limiter

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/singbatch/singbatch/internal/ctxtime"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream"
)

// runJitteredBacklog keeps every limiter busy for d with calls whose requests reach the
// "service" after a random delay in [0, maxDelay) (a busy machine, a slow network) and
// are answered 2 ms later. It returns the arrival times in order.
func runJitteredBacklog(tb testing.TB, ls []*Limiter, workers int, maxDelay, d time.Duration) []limiterGrant {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu       sync.Mutex
		arrivals []limiterGrant
		wg       sync.WaitGroup
	)
	for _, l := range ls {
		for _, action := range limAllActions {
			for range workers {
				wg.Go(func() {
					for ctx.Err() == nil {
						release, err := l.Wait(ctx, action)
						if err != nil {
							if ctx.Err() == nil {
								tb.Errorf("Wait: %v", err)
							}
							return
						}
						time.Sleep(rand.N(maxDelay))
						mu.Lock()
						arrivals = append(arrivals, limiterGrant{at: time.Now()})
						mu.Unlock()
						time.Sleep(2 * time.Millisecond)
						release()
					}
				})
			}
		}
	}
	wg.Wait()
	slices.SortFunc(arrivals, func(a, b limiterGrant) int { return a.at.Compare(b.at) })
	return arrivals
}

// Grants spaced at 97 % of the rate still bunch up at the service when some requests
// leave late: the window must keep every 1 s of arrivals within the rate anyway.
func TestLimiterWindowBoundsJitteredArrivals(t *testing.T) {
	t.Parallel()
	const rate, d = 20, 3 * time.Second
	srv := redistest.Start(t, redistest.Options{})
	ls := newLimiters(t, srv, 3, Options{Rate: rate})

	arrivals := runJitteredBacklog(t, ls, 3, 150*time.Millisecond, d)

	if got := maxGrantsInWindow(arrivals, time.Second); got > rate {
		t.Errorf("%d arrivals in one 1 s window, want at most %d", got, rate)
	}
	var held int64
	for _, l := range ls {
		held += l.Stats().WindowDelayed
	}
	t.Logf("%d arrivals, %d held back by the window", len(arrivals), held)
}

// A window narrower than the buckets' rate is what binds: the spacing alone would let
// 20 a second through.
func TestLimiterWindowIsTheHardCap(t *testing.T) {
	t.Parallel()
	const rate, limit, d = 20, 5, 3 * time.Second
	srv := redistest.Start(t, redistest.Options{})
	ls := newLimiters(t, srv, 2, Options{Rate: rate, WindowLimit: limit})

	arrivals := runJitteredBacklog(t, ls, 2, 20*time.Millisecond, d)

	if got := maxGrantsInWindow(arrivals, time.Second); got > limit {
		t.Errorf("%d arrivals in one 1 s window, want at most %d", got, limit)
	}
	// Each place frees 1 s after its reply, so about limit per second get through.
	if n := len(arrivals); n < limit*2 || n > limit*int(d.Seconds()+1) {
		t.Errorf("%d arrivals in %v, want about %d a second", n, d, limit)
	}
	var held int64
	for _, l := range ls {
		held += l.Stats().WindowDelayed
	}
	if held == 0 {
		t.Errorf("the window held back no call")
	}
}

// A place is free again 1 s after its call's reply, not 1 s after its grant: a request
// still on its way may arrive at any moment until then.
func TestLimiterWindowCountsFromTheReply(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	var mu sync.Mutex
	var slept time.Duration
	l, err := New(srv.Client(t), Options{
		Rate: 1000, WindowLimit: 1, Keys: limiterTestKeys(),
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			slept += d
			mu.Unlock()
			return ctxtime.Sleep(ctx, d)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	release, err := l.Wait(t.Context(), upstream.ActionGetJob)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the call is in flight
	// Read before release: the window stamps the reply with Redis's clock during
	// release, so a clock read after it returns may come later than the stamp.
	released := time.Now()
	release()
	if err := waitRelease(t.Context(), l, upstream.ActionGetJob); err != nil {
		t.Fatal(err)
	}
	if since := time.Since(released); since < time.Second {
		t.Errorf("second call granted %v after the first one's reply, want at least 1s", since)
	}
	if got := l.Stats().WindowDelayed; got != 1 {
		t.Errorf("WindowDelayed = %d, want 1", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if slept < 900*time.Millisecond {
		t.Errorf("slept %v in all, want about 1s", slept)
	}
}

// A worker killed mid-call never releases: its place frees when the lease ends, not
// never, and not before.
func TestLimiterWindowLeaseEndsForCrashedCalls(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	keys := limiterTestKeys()
	opts := Options{Rate: 1000, WindowLimit: 1, WindowLease: 500 * time.Millisecond, Keys: keys}
	crashed, err := New(srv.Client(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(srv.Client(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crashed.Wait(t.Context(), upstream.ActionCreateJob); err != nil { // never released
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
	defer cancel()
	if err := waitRelease(short, other, upstream.ActionGetJob); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait while the place is leased: %v, want DeadlineExceeded", err)
	}
	long, cancel := context.WithTimeout(t.Context(), 10*time.Second) // a liveness guard
	defer cancel()
	if err := waitRelease(long, other, upstream.ActionGetJob); err != nil {
		t.Fatalf("Wait after the lease: %v", err)
	}
}
