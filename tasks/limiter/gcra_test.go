package limiter

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream"
)

// redisRateScript is redis_rate v10.0.1's AllowN script (testdata), the one earlier
// releases run; with fixedTime, its clock is ARGV[5] s and ARGV[6] µs instead of TIME.
func redisRateScript(t *testing.T, fixedTime bool) *redis.Script {
	t.Helper()
	b, err := os.ReadFile("testdata/redis_rate_allown.lua")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	if fixedTime {
		const clock = `redis.call("TIME")`
		if strings.Count(src, clock) != 1 {
			t.Fatalf("testdata/redis_rate_allown.lua reads %s %d times, want once", clock, strings.Count(src, clock))
		}
		src = strings.Replace(src, clock, "{ARGV[5], ARGV[6]}", 1)
	}
	return redis.NewScript(src)
}

// gcra.lua's allow_n does what redis_rate's AllowN does, to the bit: on the same
// arguments at the same time, the same verdict, retry, stored time and expiry. Buckets
// of every shape the limiter uses, at rates from its floor to far above its usual ones.
func TestGCRAIsRedisRates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := redistest.Start(t, redistest.Options{})
	rdb := srv.Client(t)
	theirs := redisRateScript(t, true)
	ours := redis.NewScript(gcraLua + `
local ok, retry = allow_n(KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), {ARGV[5], ARGV[6]})
if ok then return {1, '-1'} end
return {0, retry}`)

	rng := rand.New(rand.NewPCG(1, 2))
	denied := 0
	for c := range 30 {
		eff := 0.97 * limiterMinFloor * math.Pow(10, 6*rng.Float64()) // 0.00097 to 970 req/s
		interval := time.Duration(float64(time.Second) / eff)
		lim, cost := limitAt(eff*[]float64{0.1, 0.9, rng.Float64()}[c%3], 2), 1
		if c%2 == 0 {
			l := &Limiter{tolerance: min(interval, limiterMaxTolerance)}
			lim, cost = l.accountLimit(eff), gcraScale
		}
		keyA, keyB := fmt.Sprintf("theirs:%d", c), fmt.Sprintf("ours:%d", c)
		sec, us := 1_750_000_000+rng.Int64N(1e8), rng.Int64N(1e6)
		for step := range 40 {
			us += rng.Int64N(lim.period.Microseconds() * 3 / 2) // a call costs one period: some denied
			sec, us = sec+us/1e6, us%1e6
			args := []any{lim.burst, lim.rate, lim.period.Seconds(), cost, sec, us}
			what := fmt.Sprintf("case %d (%+v, cost %d), step %d", c, lim, cost, step)

			a, err := theirs.Run(ctx, rdb, []string{keyA}, args...).Slice()
			if err != nil {
				t.Fatalf("%s: redis_rate: %v", what, err)
			}
			b, err := ours.Run(ctx, rdb, []string{keyB}, args...).Slice()
			if err != nil {
				t.Fatalf("%s: allow_n: %v", what, err)
			}
			if (a[0].(int64) > 0) != (b[0].(int64) == 1) || a[2] != b[1] {
				t.Fatalf("%s: redis_rate says %v, allow_n %v", what, a, b)
			}
			if b[0].(int64) == 0 {
				denied++
			}
			var getA, getB *redis.StringCmd
			var ttlA, ttlB *redis.DurationCmd
			if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				getA, getB, ttlA, ttlB = p.Get(ctx, keyA), p.Get(ctx, keyB), p.PTTL(ctx, keyA), p.PTTL(ctx, keyB)
				// The simulated clock runs ahead of the real one: no key may expire in
				// between (a stale stored time counts as now anyway, like a missing one).
				p.Persist(ctx, keyA)
				p.Persist(ctx, keyB)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if getA.Val() != getB.Val() {
				t.Fatalf("%s: stored %q by redis_rate, %q by allow_n", what, getA.Val(), getB.Val())
			}
			// Whole seconds apart if the expiries differ; the time between the two
			// scripts' runs if not.
			if d := ttlA.Val() - ttlB.Val(); d.Abs() > 500*time.Millisecond {
				t.Fatalf("%s: expiry %v by redis_rate, %v by allow_n", what, ttlA.Val(), ttlB.Val())
			}
		}
	}
	if denied == 0 {
		t.Error("no call denied: the denials' retries were not compared")
	}
}

// Workers of an earlier release, which call redis_rate, and of this one share the
// buckets during a rolling upgrade: a slot either takes holds the other.
func TestLimiterSharesBucketsWithRedisRate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := redistest.Start(t, redistest.Options{})
	rdb := srv.Client(t)
	old := redisRateScript(t, false)
	keys := limiterTestKeys()
	l, err := New(rdb, Options{Rate: 2, Keys: keys}) // one call per 515 ms
	if err != nil {
		t.Fatal(err)
	}
	account := l.accountLimit(l.opts.Margin * l.opts.Rate)
	// As redis_rate's AllowN sends it; its key prefix spelled out.
	takeOld := func() bool {
		t.Helper()
		v, err := old.Run(ctx, rdb, []string{"rate:" + keys.RateLimit(BucketAll)},
			account.burst, account.rate, account.period.Seconds(), gcraScale).Slice()
		if err != nil {
			t.Fatal(err)
		}
		return v[0].(int64) > 0
	}

	if !takeOld() {
		t.Fatal("the earlier release's first call was denied")
	}
	start := time.Now()
	if err := waitRelease(ctx, l, upstream.ActionGetJob); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats().Poll; st.Delayed != 1 {
		t.Errorf("granted at once after the earlier release's call (stats %+v), want it delayed", st)
	}
	if waited := time.Since(start); waited < 400*time.Millisecond {
		t.Errorf("granted %v after the earlier release's call, want about 515ms", waited)
	}
	if takeOld() {
		t.Error("the earlier release's call granted right after this release's")
	}
}

// A bucket's retry reads as redis_rate read it.
func TestBucketRetry(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]time.Duration{
		"":                   math.MaxInt64,
		"0.0051546391752577": 5154639,
		"1.2e-05":            12 * time.Microsecond,
		"2.5":                2500 * time.Millisecond,
	} {
		if got, err := bucketRetry(s); got != want || err != nil {
			t.Errorf("bucketRetry(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := bucketRetry("soon"); err == nil {
		t.Error(`bucketRetry("soon") succeeded`)
	}
}
