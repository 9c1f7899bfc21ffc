package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redisproc"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/tasks/limiter"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

var creds = upstream.Credentials{SecretID: upstream.NewSecret("AKIDx"), SecretKey: upstream.NewSecret("k-s3cr3t")}

func main() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "prof-")
	defer os.RemoveAll(dir)
	rp, err := redisproc.Start(ctx, redisproc.Options{Dir: dir})
	if err != nil {
		panic(err)
	}
	defer rp.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: rp.Addr(), PoolSize: 64})
	keys := keyspace.Keys{Prefix: "bench"}
	store := batch.NewStore(rdb, keys, nil)
	s, err := sim.New(sim.Options{Credentials: creds, TimeScale: 1e-6, SkipFetch: true, OutputDir: filepath.Join(dir, "out"), Seed: 7})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	lim, _ := limiter.New(rdb, limiter.Options{Rate: 1e6, Keys: keys})
	gate := tasks.NewSubmitGate(lim)
	api, _ := upstream.New(upstream.Options{BaseURL: s.URL(), Credentials: creds, Timeout: 10 * time.Second, Gate: gate,
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}})
	n := 3000
	if os.Getenv("N") != "" {
		fmt.Sscanf(os.Getenv("N"), "%d", &n)
	}
	var m strings.Builder
	for i := range n {
		fmt.Fprintf(&m, `{"id":"s%05d","kind":"song","url":"https://cdn.example.com/%d.mp3","contentId":"repo"}`+"\n", i, i)
	}
	mf := filepath.Join(dir, "m.jsonl")
	os.WriteFile(mf, []byte(m.String()), 0o644)
	if _, err := tasks.Enqueue(ctx, store, asynq.NewClientFromRedisClient(rdb), tasks.EnqueueOptions{Batch: "bench", Manifests: []string{mf}}); err != nil {
		panic(err)
	}
	st := tasks.DefaultSettings()
	st.ReconcileDelay = time.Second
	if os.Getenv("G") != "" {
		fmt.Sscanf(os.Getenv("G"), "%d", &st.GroupSize)
	}
	st.Poll.ProbeStart, st.Poll.MinInterval, st.Poll.MaxInterval, st.Poll.ShortWait, st.Poll.CallbackGrace = 10*time.Millisecond, 10*time.Millisecond, time.Second, 10*time.Millisecond, 100*time.Millisecond
	wk, err := tasks.NewWorker(tasks.WorkerOptions{Redis: rdb, DelayedTaskCheckInterval: 50 * time.Millisecond, ShutdownTimeout: 5 * time.Second},
		tasks.HandlerDeps{Store: store, API: api, Gate: gate}, st)
	if err != nil {
		panic(err)
	}
	os.WriteFile("/tmp/bm/addr", []byte(rp.Addr()), 0o644)
	time.Sleep(1500 * time.Millisecond)
	f, _ := os.Create("/tmp/bm/cpu.prof")
	pprof.StartCPUProfile(f)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	start := time.Now()
	go func() { done <- wk.Run(wctx) }()
	for {
		r, _ := store.Batch(ctx, "bench")
		if r.Done() {
			fmt.Println(r.Counts, time.Since(start))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	pprof.StopCPUProfile()
	cancel()
	<-done
	st2 := s.Stats()
	fmt.Println("calls", st2.Calls)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	qs, _ := insp.Queues()
	for _, q := range qs {
		qi, _ := insp.GetQueueInfo(q)
		fmt.Println(q, "processed", qi.ProcessedTotal, "failed", qi.FailedTotal)
	}
	info, _ := rdb.Info(ctx, "commandstats").Result()
	total := 0
	for _, line := range strings.Split(info, "\n") {
		if i := strings.Index(line, "calls="); i >= 0 {
			var n int
			fmt.Sscanf(line[i+6:], "%d", &n)
			total += n
		}
	}
	fmt.Println("redis commands per job", total/n)
}
