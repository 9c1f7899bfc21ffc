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
// Hand-written Lua, because redis_rate (GCRA) only spaces grants and knows nothing of
// replies.

var (
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
		acquire:  redis.NewScript(windowAcquireLua),
		release:  redis.NewScript(windowReleaseLua),
		idPrefix: hex.EncodeToString(b[:]) + ":",
	}
}

// take waits for a place in the window and returns the function that releases it.
func (w *limiterWindow) take(ctx context.Context, sleep func(context.Context, time.Duration) error) (func(), error) {
	id := w.idPrefix + strconv.FormatUint(w.seq.Add(1), 36)
	for waited := false; ; waited = true {
		wait, err := w.try(ctx, id)
		if err != nil {
			return nil, err
		}
		if wait == 0 {
			if waited {
				w.delayed.Add(1)
			}
			return w.releaser(id), nil
		}
		if err := sleep(ctx, max(wait, limiterMinWait)); err != nil {
			return nil, err
		}
	}
}

// try admits id and returns 0, or returns how long to wait before trying again.
func (w *limiterWindow) try(ctx context.Context, id string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	res, err := w.acquire.Run(ctx, w.rdb, []string{w.key}, w.limit, w.lease.Microseconds(), id).Int64Slice()
	if err != nil {
		return 0, fmt.Errorf("limiter: window: %w", err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("limiter: window: unexpected reply %v", res)
	}
	if res[0] == 1 {
		return 0, nil
	}
	return time.Duration(res[1]) * time.Microsecond, nil
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
