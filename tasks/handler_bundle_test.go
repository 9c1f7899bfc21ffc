package tasks

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/internal/testkit"
	"github.com/singbatch/singbatch/tasks/limiter"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// A bundle is one test's world: a private Redis, a time-scaled simulator, an audio
// server for url inputs, the store, the upstream client (with the account-wide limiter
// when asked) and the handlers, which a test either calls directly or runs in-process
// as a Worker (start).

var workerCreds = upstream.Credentials{
	SecretID:  upstream.NewSecret("AKIDworkerTest"),
	SecretKey: upstream.NewSecret("workerTestKey-s3cr3t"),
}

// bundleConfig is what a test may change before the bundle is built.
type bundleConfig struct {
	sim      sim.Options
	creds    upstream.Credentials // the client's; default workerCreds
	rate     float64              // limiter rate (req/s); 0: no limiter
	settings Settings
	worker   WorkerOptions
	fake     JobAPI // when set, the handlers call it instead of the simulator
	// callbacks on: the handlers' ServeCallback listens on an httptest server, whose
	// URL is CALLBACK_URL, under callbackSecret.
	callbacks bool
	aof       bool // Redis keeps everything across a kill
}

// callbackSecret is the bundle's CALLBACK_SECRET.
// It holds secretMarker, so the secrets tests look for it too.
const callbackSecret = "test-callback-S3CR3T-0123456789abcdef"

type bundle struct {
	t       testing.TB
	redis   *redistest.Server
	rdb     *redis.Client
	keys    keyspace.Keys
	store   *batch.Store
	sim     *sim.Server
	audio   *httptest.Server
	api     *upstream.Client
	jobAPI  JobAPI // what the handlers call: api, or cfg.fake
	limiter *limiter.Limiter
	gate    *SubmitGate // nil without limiter
	queue   *asynq.Client
	h       *Handlers
	logs    *observer.ObservedLogs
	// callbacks, callbackSrv: with bundleConfig.callbacks
	callbacks   *Callbacks
	callbackSrv *httptest.Server
	log         *zap.Logger
	cfg         bundleConfig
}

// testSettings are fast timings for a simulator at TimeScale 0.001.
func testSettings() Settings {
	return Settings{
		ReconcileDelay: 300 * time.Millisecond,
		// Every CreateJob carries it, and the simulator scales it with its clock (0.001):
		// an hour is 3.6 s there, more than any test's job takes.
		DefaultJobTimeout: time.Hour,
		TimeoutGrace:      5 * time.Second,
		NotFoundGrace:     5 * time.Second,
		ModelCacheTTL:     time.Minute,
		RetryBase:         20 * time.Millisecond,
		RetryCap:          300 * time.Millisecond,
		// A customId per attempt: the fakes of these tests answer as one job per
		// customId. Grouped customIds have tests of their own (group_test.go).
		GroupSize: 1,
		Poll: PollTiming{
			ProbeStart:  20 * time.Millisecond,
			MinInterval: 20 * time.Millisecond,
			MaxInterval: 200 * time.Millisecond,
		},
	}
}

func newBundle(t testing.TB, configure func(*bundleConfig)) *bundle {
	t.Helper()
	cfg := bundleConfig{
		sim: sim.Options{
			Credentials: workerCreds,
			OutputDir:   t.TempDir(),
			TimeScale:   0.001,
			Seed:        11,
		},
		creds:    workerCreds,
		settings: testSettings(),
		worker: WorkerOptions{
			Concurrency:              8,
			ShutdownTimeout:          3 * time.Second,
			TaskCheckInterval:        10 * time.Millisecond,
			DelayedTaskCheckInterval: 20 * time.Millisecond,
		},
	}
	if configure != nil {
		configure(&cfg)
	}
	b := &bundle{t: t, cfg: cfg, keys: keyspace.Keys{Prefix: "test"}}

	core, logs := observer.New(zapcore.DebugLevel)
	b.log, b.logs = zap.New(core), logs
	t.Cleanup(func() {
		if t.Failed() {
			for _, e := range logs.All() {
				if e.Level >= zapcore.InfoLevel {
					t.Logf("%s %s %v", e.Level, e.Message, e.ContextMap())
				}
			}
		}
	})

	kit := testkit.New(t, testkit.Options{
		Prefix: b.keys.Prefix, Sim: cfg.sim, Rate: cfg.rate, Logger: b.log, AOF: cfg.aof,
		WrapGate: func(g upstream.Gate) upstream.Gate { b.gate = NewSubmitGate(g); return b.gate },
		Client:   upstream.Options{Credentials: cfg.creds},
	})
	b.redis, b.rdb, b.store, b.sim, b.api, b.limiter, b.queue = kit.Redis, kit.RDB, kit.Store, kit.Sim, kit.Client, kit.Limiter, kit.Queue
	b.audio = newAudioServer(t)
	b.jobAPI = b.api
	if cfg.fake != nil {
		b.jobAPI = cfg.fake
	}
	if cfg.callbacks {
		b.callbackSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b.h.ServeCallback(w, r) }))
		t.Cleanup(b.callbackSrv.Close)
		cb, err := NewCallbacks(b.callbackSrv.URL+"/hooks", upstream.NewSecret(callbackSecret), upstream.Secret{})
		if err != nil {
			t.Fatalf("NewCallbacks: %v", err)
		}
		b.callbacks = cb
	}
	var err error
	b.h, err = NewHandlers(b.deps(), cfg.settings)
	if err != nil {
		t.Fatalf("NewHandlers: %v", err)
	}
	return b
}

// deps are the handlers' dependencies in the bundle.
func (b *bundle) deps() HandlerDeps {
	return HandlerDeps{Store: b.store, API: b.jobAPI, Enqueuer: b.queue, Gate: b.gate, Logger: b.log,
		Inspector: asynq.NewInspectorFromRedisClient(b.rdb), Callbacks: b.callbacks}
}

// start runs a Worker on the bundle's handlers' dependencies until the test ends.
func (b *bundle) start() {
	b.t.Helper()
	b.startWith(nil)
}

// startWith is start with dependencies changed by change (nil: as they are).
func (b *bundle) startWith(change func(*HandlerDeps)) {
	b.t.Helper()
	opts := b.cfg.worker
	opts.Redis, opts.Logger = b.rdb, b.log
	deps := b.deps()
	deps.Inspector = nil // NewWorker's own
	if change != nil {
		change(&deps)
	}
	w, err := NewWorker(opts, deps, b.cfg.settings)
	if err != nil {
		b.t.Fatalf("NewWorker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	b.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.t.Errorf("Worker.Run: %v", err)
		}
	})
}

// audio files served to the simulator as url inputs.
const (
	audioSong    = "/song.wav"    // 5 s
	audioVoice   = "/voice.wav"   // 70 s: enough to train (≥ 60 s)
	audioTooLess = "/voice10.wav" // 10 s: a training on it fails
)

func newAudioServer(t testing.TB) *httptest.Server {
	t.Helper()
	files := map[string][]byte{}
	for path, d := range map[string]time.Duration{audioSong: 5 * time.Second, audioVoice: 70 * time.Second, audioTooLess: 10 * time.Second} {
		var buf bytes.Buffer
		if err := sim.WriteWAV(&buf, d, 220); err != nil {
			t.Fatalf("WriteWAV: %v", err)
		}
		files[path] = buf.Bytes()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// deadURL is an http URL nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "http://" + addr + "/gone.wav"
}

// addManifest writes a JSONL manifest (audio paths like "AUDIO/song.wav" point at the
// audio server), reads it with manifest.Read and adds its items to a batch.
func (b *bundle) addManifest(batchName, jsonl string) []batch.Item {
	b.t.Helper()
	jsonl = strings.ReplaceAll(jsonl, "AUDIO", b.audio.URL)
	path := filepath.Join(b.t.TempDir(), batchName+".jsonl")
	if err := os.WriteFile(path, []byte(jsonl), 0o644); err != nil {
		b.t.Fatal(err)
	}
	var items []batch.Item
	for it, err := range manifest.Read([]string{path}, nil, manifest.FormatAuto) {
		if err != nil {
			b.t.Fatalf("manifest: %v", err)
		}
		items = append(items, it)
	}
	res, err := b.store.AddItems(context.Background(), batchName, path, items)
	if err != nil {
		b.t.Fatalf("AddItems: %v", err)
	}
	if len(res.Refused) > 0 || res.Added != len(items) {
		b.t.Fatalf("AddItems: %+v", res)
	}
	return items
}

// enqueueAll enqueues the TypeSubmit task of every item of a batch.
func (b *bundle) enqueueAll(batchName string) {
	b.t.Helper()
	ctx := context.Background()
	err := b.store.Items(ctx, batchName, nil, func(r batch.ItemRecord) error {
		task, err := NewSubmitTask(refOf(r), r.Kind, batch.PriorityNormal)
		if err != nil {
			return err
		}
		_, err = b.queue.EnqueueContext(ctx, task)
		return err
	})
	if err != nil {
		b.t.Fatalf("enqueue: %v", err)
	}
}

// waitDone waits until every item of the batch is final.
func (b *bundle) waitDone(batchName string, timeout time.Duration) batch.BatchRecord {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rec, err := b.store.Batch(context.Background(), batchName)
		if err != nil {
			b.t.Fatalf("Batch: %v", err)
		}
		if rec.Done() {
			return rec
		}
		if time.Now().After(deadline) {
			b.dumpItems(batchName)
			b.t.Fatalf("batch %s not done after %v: %v", batchName, timeout, rec.Counts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bundle) dumpItems(batchName string) {
	_ = b.store.Items(context.Background(), batchName, nil, func(r batch.ItemRecord) error {
		b.t.Logf("item %s: %s attempt %d customId %s job %s error %q", r.ID, r.State, r.Attempt, r.CustomID, r.JobID, r.Error)
		return nil
	})
}

func (b *bundle) item(batchName, id string) batch.ItemRecord {
	b.t.Helper()
	rec, err := b.store.Item(context.Background(), batchName, id)
	if err != nil {
		b.t.Fatalf("Item: %v", err)
	}
	return rec
}

// submitTask is the TypeSubmit task of an item's current attempt.
func (b *bundle) submitTask(batchName, id string) *asynq.Task {
	b.t.Helper()
	rec := b.item(batchName, id)
	task, err := NewSubmitTask(refOf(rec), rec.Kind, batch.PriorityNormal)
	if err != nil {
		b.t.Fatal(err)
	}
	return task
}

// waitSimJobFinal waits until the simulator's job is final.
func (b *bundle) waitSimJobFinal(id string, timeout time.Duration) upstream.Job {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j, ok := b.sim.Job(id)
		if ok && j.State.Final() {
			return j
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("sim job %s not final after %v (%v)", id, timeout, j.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// messages counts the log entries with exactly this message.
func (b *bundle) messages(msg string) int {
	return b.logs.FilterMessage(msg).Len()
}

// fakeAPI is a JobAPI whose answers a test scripts.
type fakeAPI struct {
	mu        sync.Mutex
	create    func(ctx context.Context, req *upstream.CreateJobRequest) (*upstream.Job, error)
	get       func(ctx context.Context, id string) (*upstream.Job, error)
	list      func(ctx context.Context, customID string) ([]upstream.Job, error)
	models    func(ctx context.Context) ([]upstream.Model, error)
	creates   int
	gets      int
	lists     int
	modelList int
}

var errFakeUnset = errors.New("fake: not scripted")

func (f *fakeAPI) CreateJob(ctx context.Context, req *upstream.CreateJobRequest) (*upstream.Job, error) {
	f.mu.Lock()
	f.creates++
	fn := f.create
	f.mu.Unlock()
	if fn == nil {
		return nil, errFakeUnset
	}
	return fn(ctx, req)
}

func (f *fakeAPI) GetJob(ctx context.Context, id string) (*upstream.Job, error) {
	f.mu.Lock()
	f.gets++
	fn := f.get
	f.mu.Unlock()
	if fn == nil {
		return nil, errFakeUnset
	}
	return fn(ctx, id)
}

func (f *fakeAPI) ListJobs(ctx context.Context, customID string) ([]upstream.Job, error) {
	f.mu.Lock()
	f.lists++
	fn := f.list
	f.mu.Unlock()
	if fn == nil {
		return []upstream.Job{}, nil
	}
	return fn(ctx, customID)
}

// ListJobsPartial is ListJobs with its whole total.
func (f *fakeAPI) ListJobsPartial(ctx context.Context, customID string) ([]upstream.Job, int, error) {
	jobs, err := f.ListJobs(ctx, customID)
	return jobs, len(jobs), err
}

func (f *fakeAPI) AllModels(ctx context.Context) ([]upstream.Model, error) {
	f.mu.Lock()
	f.modelList++
	fn := f.models
	f.mu.Unlock()
	if fn == nil {
		return []upstream.Model{}, nil
	}
	return fn(ctx)
}

func (f *fakeAPI) counts() (creates, gets, lists int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates, f.gets, f.lists
}

// completedSong is a copy of j as the service reports it once done, having written song.
func completedSong(j upstream.Job, song string) *upstream.Job {
	j.State = upstream.StateCompleted
	j.Outputs = append([]upstream.Output(nil), j.Outputs...)
	j.Outputs[0].SmartContentResult = &upstream.SmartContentResult{SingingCloning: &upstream.SingingCloningResult{SongName: song}}
	return &j
}
