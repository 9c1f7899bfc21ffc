package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/testkit"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// The worker's use of the upstream quota, on the simulator:
//
//	go test -run '^$' -bench BenchmarkWorker -benchtime 1x ./bench/
//
// Each iteration enqueues benchSongs songs at once (a backlog), runs one in-process
// worker on them with the account-wide limiter at benchRate requests/s (the simulator
// enforces the same rate), and counts the calls the simulator received until every item
// is final. ns/op is the time the whole batch took. Metrics:
//
//	calls/job      upstream calls (every action) per finished job
//	getjob/job     GetJob calls per finished job
//	quota_use_%    calls sent while the backlog lasted (from the first call to the last
//	               CreateJob) / (rate × that time)
//	max_req/s      the most requests the simulator saw within one second
//	throttled      429 replies
//
// The time scale keeps the proportions of the real service: a song takes 46 simulated
// seconds (11.5 s here), during which the account can make 230 calls, at the real 5/s
// there and at benchRate here. The worker runs with its default poll settings, its
// intervals scaled by the time scale as `singbatch run --sim` does; nothing tells it the
// songs' duration. It runs cold (a fresh Redis: the first songs' scouts find the
// duration out while the others wait) and warm (a first batch of 40 songs taught it;
// only the second batch is measured). The fixed-interval baseline and other job
// lengths are in bench/polling.

const (
	benchSongs     = 200
	benchRate      = 20
	benchTimeScale = 0.25
)

var benchCreds = upstream.Credentials{
	SecretID:  upstream.NewSecret("AKIDbench"),
	SecretKey: upstream.NewSecret("bench-s3cr3t"),
}

func BenchmarkWorkerCallsPerJob(b *testing.B) {
	scaled := func(d time.Duration) time.Duration { return time.Duration(float64(d) * benchTimeScale) }
	learned := tasks.DefaultPollTiming()
	learned.ProbeStart = scaled(learned.ProbeStart)
	learned.MinInterval = scaled(learned.MinInterval)
	learned.MaxInterval = scaled(learned.MaxInterval)
	for _, c := range []struct {
		name   string
		warmup int // songs run through the same stack before the measured batch
	}{
		{"learned-cold", 0},
		{"learned-warm", 40},
	} {
		b.Run(c.name, func(b *testing.B) {
			var total benchResult
			for range b.N {
				total.add(runBatch(b, learned, c.warmup))
			}
			total.report(b)
		})
	}
}

// benchResult is what one or more measured batches cost.
type benchResult struct {
	jobs, calls, gets       int
	backlogCalls            int
	backlogTime             time.Duration
	maxPerSecond, throttled int
}

func (r *benchResult) add(o benchResult) {
	r.jobs += o.jobs
	r.calls += o.calls
	r.gets += o.gets
	r.backlogCalls += o.backlogCalls
	r.backlogTime += o.backlogTime
	r.maxPerSecond = max(r.maxPerSecond, o.maxPerSecond)
	r.throttled += o.throttled
}

func (r benchResult) report(b *testing.B) {
	if r.jobs == 0 {
		b.Fatal("no job finished")
	}
	b.ReportMetric(float64(r.calls)/float64(r.jobs), "calls/job")
	b.ReportMetric(float64(r.gets)/float64(r.jobs), "getjob/job")
	b.ReportMetric(100*float64(r.backlogCalls)/(benchRate*r.backlogTime.Seconds()), "quota_use_%")
	b.ReportMetric(float64(r.maxPerSecond), "max_req/s")
	b.ReportMetric(float64(r.throttled), "throttled")
}

// benchStack is one fresh world: Redis, the simulator, a worker on both.
type benchStack struct {
	b     *testing.B
	rdb   *redis.Client
	store *batch.Store
	sim   *sim.Server
	rec   *callRecorder
	w     *tasks.Worker
}

func newBenchStack(b *testing.B, poll tasks.PollTiming) *benchStack {
	st := &benchStack{b: b, rec: &callRecorder{next: &http.Transport{MaxIdleConnsPerHost: 64}}}
	var gate *tasks.SubmitGate
	kit := testkit.New(b, testkit.Options{
		Prefix: "bench", Rate: benchRate,
		WrapGate: func(g upstream.Gate) upstream.Gate { gate = tasks.NewSubmitGate(g); return gate },
		Sim:      sim.Options{Credentials: benchCreds, TimeScale: benchTimeScale, Rate: benchRate, SkipFetch: true, Seed: 7},
		Client:   upstream.Options{HTTPClient: &http.Client{Transport: st.rec}},
	})
	st.rdb, st.store, st.sim = kit.RDB, kit.Store, kit.Sim
	settings := tasks.DefaultSettings()
	settings.Poll = poll
	settings.ReconcileDelay = time.Second
	var err error
	st.w, err = tasks.NewWorker(tasks.WorkerOptions{Redis: st.rdb, Concurrency: 20, ShutdownTimeout: 5 * time.Second,
		TaskCheckInterval: 10 * time.Millisecond, DelayedTaskCheckInterval: 20 * time.Millisecond},
		tasks.HandlerDeps{Store: st.store, API: kit.Client, Gate: gate}, settings)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// enqueue adds n songs as batch name and queues them.
func (st *benchStack) enqueue(name string, n int) {
	manifest := filepath.Join(st.b.TempDir(), name+".jsonl")
	var m strings.Builder
	for i := range n {
		fmt.Fprintf(&m, `{"id":"%s-%04d","kind":"song","url":"https://cdn.example.com/%d.mp3","contentId":"repo"}`+"\n", name, i, i)
	}
	if err := os.WriteFile(manifest, []byte(m.String()), 0o644); err != nil {
		st.b.Fatal(err)
	}
	if _, err := tasks.Enqueue(context.Background(), st.store, asynq.NewClientFromRedisClient(st.rdb),
		tasks.EnqueueOptions{Batch: name, Manifests: []string{manifest}}); err != nil {
		st.b.Fatal(err)
	}
}

// wait returns once every item of the batch completed.
func (st *benchStack) wait(name string, n int) {
	for {
		r, err := st.store.Batch(context.Background(), name)
		if err != nil {
			st.b.Fatal(err)
		}
		if r.Done() {
			if r.Counts[batch.StateCompleted] != int64(n) {
				st.b.Fatalf("batch %s: counts %v", name, r.Counts)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// callsOf sums a Stats' calls per action.
func callsOf(s sim.Stats) (all, gets int) {
	for _, outcomes := range s.Calls {
		for _, n := range outcomes {
			all += n
		}
	}
	return all, s.Count(upstream.ActionGetJob, sim.OutcomeOK)
}

// runBatch runs benchSongs songs through a fresh stack (after warmup songs, unmeasured)
// and measures them.
func runBatch(b *testing.B, poll tasks.PollTiming, warmup int) benchResult {
	b.StopTimer()
	st := newBenchStack(b, poll)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	if warmup > 0 {
		st.enqueue("warmup", warmup)
		st.wait("warmup", warmup)
	}
	before := st.sim.Stats()
	from := time.Now()

	st.enqueue("bench", benchSongs)
	b.StartTimer()
	st.wait("bench", benchSongs)
	b.StopTimer()

	after := st.sim.Stats()
	allBefore, getsBefore := callsOf(before)
	allAfter, getsAfter := callsOf(after)
	first, lastCreate, inBacklog := st.rec.backlog(from)
	return benchResult{
		jobs: after.JobsCreated - before.JobsCreated, calls: allAfter - allBefore, gets: getsAfter - getsBefore,
		// n calls sent over a span make n-1 intervals of 1/rate at full use.
		backlogCalls: inBacklog - 1, backlogTime: lastCreate.Sub(first),
		maxPerSecond: after.MaxRequestsPerSecond, throttled: after.Throttled,
	}
}

// callRecorder notes when each request is sent and its action.
type callRecorder struct {
	next  http.RoundTripper
	mu    sync.Mutex
	calls []sentCall
}

type sentCall struct {
	at     time.Time
	action string
}

func (c *callRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	var env struct {
		Action string `json:"action"`
	}
	_ = json.Unmarshal(body, &env)
	c.mu.Lock()
	c.calls = append(c.calls, sentCall{at: time.Now(), action: env.Action})
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

// backlog returns the time of the first call sent at or after from and of the last
// CreateJob, and how many calls were sent between them (both included).
func (c *callRecorder) backlog(from time.Time) (first, lastCreate time.Time, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, call := range c.calls {
		if call.at.Before(from) {
			continue
		}
		if first.IsZero() {
			first = call.at
		}
		if call.action == upstream.ActionCreateJob && call.at.After(lastCreate) {
			lastCreate = call.at
		}
	}
	for _, call := range c.calls {
		if !call.at.Before(from) && !call.at.After(lastCreate) {
			n++
		}
	}
	return first, lastCreate, n
}
