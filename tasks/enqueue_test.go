package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
)

// enqueueWorld is a private Redis with a store and an asynq client on it.
type enqueueWorld struct {
	rdb   *redis.Client
	store *batch.Store
	queue *asynq.Client
	dir   string
}

func newEnqueueWorld(t *testing.T) *enqueueWorld {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	rdb := srv.Client(t)
	return &enqueueWorld{rdb: rdb, store: batch.NewStore(rdb, keyspace.Keys{Prefix: "enq"}, nil),
		queue: asynq.NewClientFromRedisClient(rdb), dir: t.TempDir()}
}

func (w *enqueueWorld) manifest(t *testing.T, name string, from, n int) string {
	t.Helper()
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, `{"id":"s%05d","kind":"song","url":"https://cdn.example.com/%d.mp3","contentId":"r"}`+"\n", i, i)
	}
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *enqueueWorld) queueSize(t *testing.T, queue string) int {
	t.Helper()
	info, err := asynq.NewInspectorFromRedisClient(w.rdb).GetQueueInfo(queue)
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return info.Size
}

// failingQueue enqueues through q until it has enqueued ok tasks, then fails.
type failingQueue struct {
	q  TaskEnqueuer
	ok int64
	n  atomic.Int64
}

var errQueueDown = errors.New("queue down")

func (f *failingQueue) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	if f.n.Add(1) > f.ok {
		return nil, errQueueDown
	}
	return f.q.EnqueueContext(ctx, t, opts...)
}

// Records are stored before tasks; a run whose enqueues fail leaves pending items
// that the next run queues.
func TestEnqueueRecoversFromFailedEnqueues(t *testing.T) {
	t.Parallel()
	w := newEnqueueWorld(t)
	path := w.manifest(t, "m.jsonl", 1, 1200)
	res, err := Enqueue(t.Context(), w.store, &failingQueue{q: w.queue, ok: 700},
		EnqueueOptions{Batch: "b", Manifests: []string{path}})
	if !errors.Is(err, errQueueDown) {
		t.Fatalf("error %v, want the queue's", err)
	}
	if res.Queued > 700 || res.Added < 500 || !res.StoppedWriting {
		t.Errorf("first run: %+v", res)
	}
	rec, err := w.store.Batch(t.Context(), "b")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Total != int64(res.Added) {
		t.Errorf("batch total %d, but the run reported %d added", rec.Total, res.Added)
	}
	// A task whose enqueue was cut off by the failure may have reached Redis anyway.
	before := w.queueSize(t, QueueSongs)
	if before < res.Queued {
		t.Errorf("%d tasks queued, the run reported %d", before, res.Queued)
	}

	res2, err := Enqueue(t.Context(), w.store, w.queue, EnqueueOptions{Batch: "b", Manifests: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	want := EnqueueResult{Added: 1200 - res.Added, Existing: res.Added, Queued: 1200 - before, AlreadyQueued: before}
	if res2 != want {
		t.Errorf("second run %+v, want %+v", res2, want)
	}
	if got := w.queueSize(t, QueueSongs); got != 1200 {
		t.Errorf("%d tasks queued, want 1200", got)
	}
}

// Several runs at once, on overlapping manifests, store each item once and queue each
// task once.
func TestEnqueueConcurrent(t *testing.T) {
	t.Parallel()
	w := newEnqueueWorld(t)
	paths := []string{w.manifest(t, "a.jsonl", 1, 2100), w.manifest(t, "b.jsonl", 1001, 2100)}
	var mu sync.Mutex
	var total EnqueueResult
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			res, err := Enqueue(t.Context(), w.store, w.queue, EnqueueOptions{Batch: "b", Manifests: []string{paths[i%2]}, Workers: 3})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			total.Added += res.Added
			total.Existing += res.Existing
			total.Queued += res.Queued
		})
	}
	wg.Wait()
	// 3100 distinct items; 4 runs of 2100 lines.
	if total.Added != 3100 || total.Existing != 4*2100-3100 || total.Queued != 3100 {
		t.Errorf("together %+v, want 3100 added, 5300 existing, 3100 queued", total)
	}
	rec, err := w.store.Batch(t.Context(), "b")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Total != 3100 || rec.Counts[batch.StatePending] != 3100 {
		t.Errorf("batch total %d counts %v", rec.Total, rec.Counts)
	}
	if got := w.queueSize(t, QueueSongs); got != 3100 {
		t.Errorf("%d tasks, want 3100", got)
	}
}

func TestEnqueueStrictSpoolsStdin(t *testing.T) {
	t.Parallel()
	w := newEnqueueWorld(t)
	spool := t.TempDir()
	body, err := os.ReadFile(w.manifest(t, "m.jsonl", 1, 600))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Enqueue(t.Context(), w.store, w.queue, EnqueueOptions{Batch: "b", Manifests: []string{"-"},
		Stdin: strings.NewReader(string(body)), Format: manifest.FormatJSONL, Strict: true, TempDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	if res != (EnqueueResult{Added: 600, Queued: 600}) {
		t.Errorf("result %+v", res)
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}

	// A bad line: nothing written, every problem reported, the spool removed too.
	var problems []string
	res, err = Enqueue(t.Context(), w.store, w.queue, EnqueueOptions{Batch: "c", Manifests: []string{"-"},
		Stdin: strings.NewReader(string(body) + "{\"id\":\"x\"}\n"), Format: manifest.FormatJSONL, Strict: true, TempDir: spool,
		OnLineError: func(le *batch.LineError) { problems = append(problems, le.Error()) }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Aborted || res.Rejected != 1 || res.Added != 0 || len(problems) != 1 || problems[0] != "stdin:601: kind: required" {
		t.Errorf("result %+v, problems %q", res, problems)
	}
	if _, err := w.store.Batch(t.Context(), "c"); !errors.Is(err, batch.ErrBatchNotFound) {
		t.Errorf("batch c: %v, want none", err)
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}
}

func TestEnqueueCanceled(t *testing.T) {
	t.Parallel()
	w := newEnqueueWorld(t)
	path := w.manifest(t, "m.jsonl", 1, 3000)
	ctx, cancel := context.WithCancel(t.Context())
	q := &cancelingQueue{q: w.queue, after: 100, cancel: cancel}
	_, err := Enqueue(ctx, w.store, q, EnqueueOptions{Batch: "b", Manifests: []string{path}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	res, err := Enqueue(t.Context(), w.store, w.queue, EnqueueOptions{Batch: "b", Manifests: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added+res.Existing != 3000 || res.Queued+res.AlreadyQueued != 3000 || w.queueSize(t, QueueSongs) != 3000 {
		t.Errorf("after the canceled run: %+v, %d queued", res, w.queueSize(t, QueueSongs))
	}
}

// cancelingQueue cancels the run's context after some tasks.
type cancelingQueue struct {
	q      TaskEnqueuer
	after  int64
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelingQueue) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	if c.n.Add(1) == c.after {
		c.cancel()
	}
	return c.q.EnqueueContext(ctx, t, opts...)
}

func TestEnqueueOptionsChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts EnqueueOptions
		want string
	}{
		{EnqueueOptions{Batch: "a:b", Manifests: []string{"x"}}, `batch name "a:b"`},
		{EnqueueOptions{Batch: "b"}, "enqueue: no manifest given"},
		{EnqueueOptions{Batch: "b", Manifests: []string{"/nonexistent/m.jsonl"}}, "manifest: open /nonexistent/m.jsonl"},
	} {
		_, err := Enqueue(t.Context(), nil, nil, tc.opts)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.want)
		}
	}
}

// Duplicate ids, within a manifest and across the manifests of one run, are found in
// Redis and reported as line errors naming the first line, in manifest order; a repeat
// reports them again and adds nothing. Strict finds them before writing.
func TestEnqueueDuplicates(t *testing.T) {
	t.Parallel()
	w := newEnqueueWorld(t)
	a := w.manifest(t, "a.jsonl", 1, 1200)
	noID := `{"kind":"song","url":"https://cdn.example.com/same.mp3","contentId":"r"}` + "\n"
	dups := `{"id":"s00005","kind":"song","url":"https://cdn.example.com/x.mp3","contentId":"r"}` + "\n" + // 1201
		`{"id":"bad"}` + "\n" + // 1202
		`{"id":"s01100","kind":"song","url":"https://cdn.example.com/1100.mp3","contentId":"r"}` + "\n" + // 1203
		noID + noID // 1204, 1205
	appendFile(t, a, dups)
	b := filepath.Join(w.dir, "b.jsonl")
	if err := os.WriteFile(b, []byte(`{"id":"s09999","kind":"song","url":"https://cdn.example.com/n.mp3","contentId":"r"}`+"\n"+
		`{"id":"s00007","kind":"song","url":"https://cdn.example.com/7.mp3","contentId":"r"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	derived := ""
	for it, err := range manifest.Read([]string{a}, nil, manifest.FormatAuto, manifest.WithoutDuplicateCheck()) {
		if err == nil && it.Origin == a+":1204" {
			derived = it.ID
		}
	}
	want := []string{
		a + `:1201: id: duplicate id "s00005" in this batch (first at ` + a + `:5)`,
		a + `:1202: kind: required`,
		a + `:1203: id: duplicate id "s01100" in this batch (first at ` + a + `:1100)`,
		a + `:1205: line: same item as an earlier line (derived id "` + derived + `") (first at ` + a + `:1204)`,
		b + `:2: id: duplicate id "s00007" in this batch (first at ` + a + `:7)`,
	}
	run := func(name string, strict bool, wantRes EnqueueResult, want []string) {
		t.Helper()
		var problems []string
		res, err := Enqueue(t.Context(), w.store, w.queue, EnqueueOptions{Batch: name, Manifests: []string{a, b}, Strict: strict,
			OnLineError: func(le *batch.LineError) { problems = append(problems, le.Error()) }})
		if err != nil {
			t.Fatal(err)
		}
		if res != wantRes {
			t.Errorf("result %+v, want %+v", res, wantRes)
		}
		if strings.Join(problems, "\n") != strings.Join(want, "\n") {
			t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
		}
	}
	// 1200 + the derived one + s09999.
	run("b", false, EnqueueResult{Added: 1202, Rejected: 5, Queued: 1202}, want)
	run("b", false, EnqueueResult{Existing: 1202, Rejected: 5, AlreadyQueued: 1202}, want)
	if got := w.queueSize(t, QueueSongs); got != 1202 {
		t.Errorf("%d tasks, want 1202", got)
	}

	// Strict: the reader's own check, which keeps no origins.
	var strictWant []string
	for _, p := range want {
		if i := strings.Index(p, " (first at "); i >= 0 {
			p = p[:i]
		}
		strictWant = append(strictWant, p)
	}
	run("c", true, EnqueueResult{Rejected: 5, Aborted: true}, strictWant)
	if _, err := w.store.Batch(t.Context(), "c"); !errors.Is(err, batch.ErrBatchNotFound) {
		t.Errorf("batch c: %v, want none", err)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
