package limiter

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// The window: the hard bound of the account-wide limit, whatever the network does.
//
// The GCRA buckets space grants on Redis's clock, but the service counts requests by
// their arrival, and a request can leave a little later than its grant (scheduling, a
// busy machine, a new connection): a few delayed grants followed by punctual ones can
// put rate+1 arrivals into one second at the service, which answers 429. No spacing
// margin rules that out, so the window bounds arrivals directly. Each call is an entry
// of a sorted set scored by the time by which its request has surely reached the
// service: the end of its lease while in flight, its reply time once released. A call
// is admitted only while fewer than WindowLimit entries score at or after now−1s.
//
// Why that suffices: take any 1 s window of arrivals at the service and, among its
// calls, the one admitted last, k. Every other call j of the window arrived at
// a_j > a_k − 1 s ≥ s_k − 1 s (s: admission time; a call arrives after its admission),
// and its reply came after its arrival, so when k was admitted, j's entry (in flight, or
// released at r_j ≥ a_j) was still in the set. Hence the window holds at most
// WindowLimit calls. Admission and release both read Redis's clock, which orders them
// against the real arrival times: admission happens before the request leaves, release
// after its reply came back.
//
// A worker killed mid-call leaves its entry until the lease ends (WindowLease, longer
// than any attempt), so a crash costs a place for a while and never breaks the bound.
// A call's first try is part of its buckets' attempt (attempt.lua, once they granted);
// window_acquire.lua tries again while the window is full.

var (
	//go:embed window_admit.lua
	windowAdmitLua string
	//go:embed window_acquire.lua
	windowAcquireLua string
	//go:embed window_release.lua
	windowReleaseLua string
)

// limiterWindow is the in-process side of the window.
type limiterWindow struct {
	rdb     redis.UniversalClient
	key     string
	limit   int
	lease   time.Duration
	timeout time.Duration // of each Redis call
	acquire *redis.Script
	release *redis.Script
	log     *zap.Logger

	idPrefix string // unique per process, so call ids never collide across workers
	seq      atomic.Uint64
	delayed  atomic.Int64
}

func newLimiterWindow(rdb redis.UniversalClient, key string, limit int, lease, timeout time.Duration, log *zap.Logger) *limiterWindow {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return &limiterWindow{
		rdb: rdb, key: key, limit: limit, lease: lease, timeout: timeout, log: log,
		acquire:  redis.NewScript(windowAdmitLua + windowAcquireLua),
		release:  redis.NewScript(windowReleaseLua),
		idPrefix: hex.EncodeToString(b[:]) + ":",
	}
}

// newID is a new call's id in the window.
func (w *limiterWindow) newID() string {
	return w.idPrefix + strconv.FormatUint(w.seq.Add(1), 36)
}

// admit waits for a place for call id, which its first try found full for wait (a
// call the window held back: WindowDelayed).
func (w *limiterWindow) admit(ctx context.Context, id string, wait time.Duration, sleep func(context.Context, time.Duration) error) error {
	for wait > 0 {
		if err := sleep(ctx, max(wait, limiterMinWait)); err != nil {
			return err
		}
		var err error
		if wait, err = w.try(ctx, id); err != nil {
			return err
		}
	}
	w.delayed.Add(1)
	return nil
}

// try admits id and returns 0, or returns how long to wait before trying again.
func (w *limiterWindow) try(ctx context.Context, id string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	us, err := w.acquire.Run(ctx, w.rdb, []string{w.key}, w.limit, w.lease.Microseconds(), id).Int64()
	if err != nil {
		return 0, fmt.Errorf("limiter: window: %w", err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// releaser returns an idempotent release of id. It runs on a fresh context: the call's
// own may be over, and a release that fails only keeps the place until the lease ends.
func (w *limiterWindow) releaser(id string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
			defer cancel()
			if err := w.release.Run(ctx, w.rdb, []string{w.key}, id).Err(); err != nil {
				w.log.Warn("limiter: window release failed; the place frees when its lease ends",
					zap.Duration("lease", w.lease), zap.Error(err))
			}
		})
	}
}
