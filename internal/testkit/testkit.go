// Package testkit is the shared world of singbatch's tests and benchmarks: a private
// redis-server with the batch store on it, the simulator of the service, a client of it
// behind the account-wide limiter, and an Asynq client. Everything stops when the test
// ends. It sits at the level of tasks (it imports tasks/limiter, never tasks), so that
// tasks' own tests can use it; a test builds its worker from these parts with
// tasks.NewWorker.
package testkit

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/tasks/limiter"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// Options shape a Kit. The zero value is a fast simulator (TimeScale 0.001) with no rate
// limit on Redis with the key prefix "test".
type Options struct {
	Prefix string           // REDIS_PREFIX; default "test"
	AOF    bool             // Redis survives a SIGKILL with nothing lost
	Clock  func() time.Time // the store's clock; default time.Now

	NoSim bool        // no simulator and no client
	Sim   sim.Options // Credentials default Credentials(), OutputDir a temp dir, TimeScale 0.001

	// Rate > 0 puts an account-wide limiter at that rate (req/s) before the client.
	Rate float64
	// WrapGate, when set, wraps the limiter before the client uses it (tasks.NewSubmitGate).
	WrapGate func(upstream.Gate) upstream.Gate
	// Client options; BaseURL, Gate and Logger are the kit's. Credentials default to
	// the simulator's, Timeout to 5 s.
	Client upstream.Options

	Logger *zap.Logger // default none
}

// Kit is one test's world.
type Kit struct {
	Redis   *redistest.Server
	RDB     *redis.Client
	Keys    keyspace.Keys
	Store   *batch.Store
	Queue   *asynq.Client
	Sim     *sim.Server      // nil with NoSim
	Client  *upstream.Client // nil with NoSim
	Limiter *limiter.Limiter // nil without Rate
	Gate    upstream.Gate    // what the client waits on: the limiter, wrapped; nil without Rate
}

// Credentials are the simulator's and the client's secretId and secretKey.
func Credentials() upstream.Credentials {
	return upstream.Credentials{SecretID: upstream.NewSecret("kit-secret-id"), SecretKey: upstream.NewSecret("kit-secret-key")}
}

// New starts a kit that stops when tb ends.
func New(tb testing.TB, opts Options) *Kit {
	tb.Helper()
	if opts.Prefix == "" {
		opts.Prefix = "test"
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	k := &Kit{Keys: keyspace.Keys{Prefix: opts.Prefix}}
	k.Redis = redistest.Start(tb, redistest.Options{AOF: opts.AOF})
	k.RDB = k.Redis.Client(tb)
	k.Store = batch.NewStore(k.RDB, k.Keys, opts.Clock)
	k.Queue = asynq.NewClientFromRedisClient(k.RDB) // shares RDB: nothing of its own to close
	if opts.Rate > 0 {
		var err error
		if k.Limiter, err = limiter.New(k.RDB, limiter.Options{Rate: opts.Rate, Keys: k.Keys, Logger: opts.Logger}); err != nil {
			tb.Fatalf("testkit: limiter: %v", err)
		}
		k.Gate = k.Limiter
		if opts.WrapGate != nil {
			k.Gate = opts.WrapGate(k.Limiter)
		}
	}
	if !opts.NoSim {
		k.startSim(tb, opts)
	}
	return k
}

func (k *Kit) startSim(tb testing.TB, opts Options) {
	tb.Helper()
	so := opts.Sim
	if so.Credentials == (upstream.Credentials{}) {
		so.Credentials = Credentials()
	}
	if so.OutputDir == "" {
		so.OutputDir = tb.TempDir()
	}
	if so.TimeScale == 0 {
		so.TimeScale = 0.001
	}
	srv, err := sim.New(so)
	if err != nil {
		tb.Fatalf("testkit: sim.New: %v", err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	k.Sim = srv
	co := opts.Client
	co.BaseURL, co.Logger = srv.URL(), opts.Logger
	if co.Credentials == (upstream.Credentials{}) {
		co.Credentials = so.Credentials
	}
	if k.Gate != nil {
		co.Gate = k.Gate
	}
	if co.Timeout == 0 {
		co.Timeout = 5 * time.Second
	}
	if k.Client, err = upstream.New(co); err != nil {
		tb.Fatalf("testkit: upstream.New: %v", err)
	}
}
