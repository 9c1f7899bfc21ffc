// Command enqueue benchmarks `singbatch enqueue` on large manifests, next to bare Asynq
// enqueueing of the same number of tasks in the same run:
//
//	go run ./bench/enqueue -n 100000,1000000 [-out FILE] [-json FILE]
//
// `go run ./bench` runs it for docs/BENCHMARKS.md (section 5) and reads its -json.
//
// For each size it generates a JSONL manifest (99 % songs, 1 % trainings) in a temporary
// folder, starts its own redis-server (internal/redisproc), builds singbatch, and runs, each
// as a child process whose peak RSS the kernel reports (getrusage's ru_maxrss):
//
//  1. `singbatch enqueue --batch bench FILE` on an empty Redis;
//  2. the same command again (nothing new: every item is looked up, no task is added);
//  3. bare Asynq on an emptied Redis: this program, re-run as a child, enqueues the same
//     number of submit tasks (tasks.NewSubmitTask) with asynq.Client.EnqueueContext from
//     as many goroutines as enqueue uses (tasks.DefaultEnqueueWorkers);
//  4. reading only: this program, re-run as a child, reads the manifest with
//     manifest.Read as enqueue does (duplicate ids are found in Redis, not in the
//     reader) and nothing else, which tells the reader's own memory from the enqueuer's.
//
// Items/s is the manifest's lines over the child's wall time, process start included.
// The figures are printed as a Markdown section, and written to -out when given; the
// hand-written part of that file, from keepMarker on, is kept after the new section.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/internal/gomod"
	"github.com/singbatch/singbatch/internal/redismem"
	"github.com/singbatch/singbatch/internal/redisproc"
	"github.com/singbatch/singbatch/tasks"
)

// childEnv, when set, makes this program the bare-Asynq child: BENCH_BARE_CHILD=N:REDIS_URL.
// readEnv makes it the read-only child: BENCH_READ_CHILD=FILE.
const (
	childEnv = "BENCH_BARE_CHILD"
	readEnv  = "BENCH_READ_CHILD"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if isChild, err := runChild(ctx); isChild {
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	var sizes, out, jsonOut string
	flag.StringVar(&sizes, "n", "1000000", "manifest sizes `N[,N...]`, in lines")
	flag.StringVar(&out, "out", "", "write the Markdown results to `FILE` (default: stdout only)")
	flag.StringVar(&jsonOut, "json", "", "also write the figures as JSON to `FILE` (for go run ./bench)")
	flag.StringVar(&o.singbatch, "singbatch", "", "use this singbatch `BINARY` instead of building ./cmd/singbatch")
	flag.StringVar(&o.dir, "dir", "", "work in `DIR` (default: a temporary folder, removed)")
	flag.Parse()
	var err error
	if o.sizes, err = parseSizes(sizes); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	o.log = os.Stderr
	if err := runMain(ctx, o, out, jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func runMain(ctx context.Context, o options, out, jsonOut string) error {
	res, err := run(ctx, o)
	if err != nil {
		return err
	}
	if jsonOut != "" {
		if err := writeJSON(jsonOut, res); err != nil {
			return err
		}
	}
	md := markdown(res, o)
	fmt.Print(md)
	if out == "" {
		return nil
	}
	old, err := os.ReadFile(out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.WriteFile(out, []byte(withNotes(md, string(old))), 0o644)
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(part, "_", "")))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-n: %q is not a positive number of lines", part)
		}
		out = append(out, n)
	}
	return out, nil
}

// options of one benchmark run.
type options struct {
	sizes     []int
	singbatch string    // prebuilt binary; "" builds one
	dir       string    // "" means a temporary folder
	log       io.Writer // progress notes
	self      []string  // how to start the bare child: default this executable
}

// measure is one child process's figures.
type measure struct {
	name     string
	lines    int
	wall     time.Duration
	maxRSSKB int64
	output   string // the child's stdout, trimmed
	redisMem int64  // Redis used_memory after the child, bytes
	emptyMem int64  // Redis used_memory before the size's first child, bytes
	load     string // the machine's 1-minute load average when the child started
}

func (m measure) rate() float64 { return float64(m.lines) / m.wall.Seconds() }

// result is every measure, with what the machine was.
type result struct {
	measures []measure
	redis    string
	cpus     int
	goVer    string
}

func run(ctx context.Context, o options) (result, error) {
	res := result{cpus: runtime.NumCPU(), goVer: runtime.Version()}
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "singbatch-bench-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if o.log == nil {
		o.log = io.Discard
	}
	bin := o.singbatch
	if bin == "" {
		bin = filepath.Join(dir, "singbatch")
		fmt.Fprintln(o.log, "building singbatch ...")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/singbatch")
		build.Dir = gomod.Root()
		if b, err := build.CombinedOutput(); err != nil {
			return res, fmt.Errorf("build singbatch: %v\n%s", err, b)
		}
	}
	if len(o.self) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return res, err
		}
		o.self = []string{exe}
	}
	if v, err := exec.CommandContext(ctx, "redis-server", "--version").Output(); err == nil {
		res.redis = strings.TrimSpace(string(v))
	}
	for _, n := range o.sizes {
		ms, err := runSize(ctx, o, dir, bin, n)
		res.measures = append(res.measures, ms...)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// runSize measures one manifest size on a fresh redis-server.
func runSize(ctx context.Context, o options, dir, bin string, n int) ([]measure, error) {
	manifest := filepath.Join(dir, fmt.Sprintf("manifest-%d.jsonl", n))
	fmt.Fprintf(o.log, "generating %d lines ...\n", n)
	if err := generate(manifest, n); err != nil {
		return nil, err
	}
	defer os.Remove(manifest)
	rdir := filepath.Join(dir, fmt.Sprintf("redis-%d", n))
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return nil, err
	}
	srv, err := redisproc.Start(ctx, redisproc.Options{Dir: rdir})
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()

	empty, err := redismem.UsedMemory(ctx, rdb)
	if err != nil {
		return nil, err
	}
	envs := append(os.Environ(), "REDIS_URL="+srv.URL(), "REDIS_PREFIX=bench", "LOG_FORMAT=console")
	var ms []measure
	for _, step := range []string{"singbatch enqueue", "singbatch enqueue again (nothing new)"} {
		fmt.Fprintf(o.log, "%d lines: %s ...\n", n, step)
		m, err := child(ctx, step, n, bin, envs, "enqueue", "--batch", "bench", manifest)
		if err != nil {
			return ms, err
		}
		if m.redisMem, err = redismem.UsedMemory(ctx, rdb); err != nil {
			return ms, err
		}
		m.emptyMem = empty
		ms = append(ms, m)
	}
	if err := checkQueued(ctx, rdb, n); err != nil {
		return ms, err
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		return ms, err
	}
	fmt.Fprintf(o.log, "%d lines: bare asynq ...\n", n)
	spec := fmt.Sprintf("%s=%d:%s", childEnv, n, srv.URL())
	m, err := child(ctx, fmt.Sprintf("bare asynq Enqueue, %d goroutines", tasks.DefaultEnqueueWorkers), n,
		o.self[0], append(os.Environ(), spec), o.self[1:]...)
	if err != nil {
		return ms, err
	}
	if m.redisMem, err = redismem.UsedMemory(ctx, rdb); err != nil {
		return ms, err
	}
	m.emptyMem = empty
	ms = append(ms, m)
	if err := checkQueued(ctx, rdb, n); err != nil {
		return ms, err
	}
	fmt.Fprintf(o.log, "%d lines: reading only ...\n", n)
	m, err = child(ctx, "reading only (manifest.Read, no Redis)", n, o.self[0],
		append(os.Environ(), readEnv+"="+manifest), o.self[1:]...)
	if err != nil {
		return ms, err
	}
	return append(ms, m), nil
}

// child runs one measured process.
func child(ctx context.Context, name string, n int, bin string, envs []string, args ...string) (measure, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = envs
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	load := loadAverage()
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return measure{}, fmt.Errorf("%s: %v\n%s%s", name, err, stdout.String(), stderr.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return measure{}, errors.New("no rusage on this platform")
	}
	return measure{name: name, lines: n, wall: wall, maxRSSKB: ru.Maxrss, output: strings.TrimSpace(stdout.String()), load: load}, nil
}

// loadAverage is the first field of /proc/loadavg: other work on the machine skews the
// figures, and this says how much there was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// generate writes n lines: every 100th a training of its own model, the others songs,
// one in ten of them sung with the training's model before them.
func generate(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 1; i <= n; i++ {
		switch {
		case i%100 == 0:
			fmt.Fprintf(w, `{"id":"t%07d","kind":"train","model":"voice_%07d","urls":["https://cdn.example.com/voices/%d/1.wav","https://cdn.example.com/voices/%d/2.wav"],"epochs":30}`+"\n", i, i, i, i)
		case i%10 == 0 && i > 100:
			fmt.Fprintf(w, `{"id":"s%07d","kind":"song","model":"voice_%07d","url":"https://cdn.example.com/songs/%d.mp3","contentId":"repo1","separate":true}`+"\n", i, i/100*100, i)
		default:
			fmt.Fprintf(w, `{"id":"s%07d","kind":"song","url":"https://cdn.example.com/songs/%d.mp3","contentId":"repo1"}`+"\n", i, i)
		}
	}
	return errors.Join(w.Flush(), f.Close())
}

// checkQueued makes sure every line became a task: a benchmark of lost work is worthless.
func checkQueued(ctx context.Context, rdb *redis.Client, n int) error {
	insp := asynq.NewInspectorFromRedisClient(rdb)
	total := 0
	for _, q := range []string{tasks.QueueSongs, tasks.QueueTrain} {
		info, err := insp.GetQueueInfo(q)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			return err
		}
		if info != nil {
			total += info.Size
		}
	}
	if total != n {
		return fmt.Errorf("%d tasks queued for %d lines", total, n)
	}
	return ctx.Err()
}

// runChild runs the child named by the environment, if any, and reports whether it did.
func runChild(ctx context.Context) (bool, error) {
	if spec := os.Getenv(childEnv); spec != "" {
		return true, bareChild(ctx, spec)
	}
	if path := os.Getenv(readEnv); path != "" {
		return true, readChild(path)
	}
	return false, nil
}

// readChild reads a manifest and does nothing with its items.
func readChild(path string) error {
	n := 0
	for _, err := range manifest.Read([]string{path}, nil, manifest.FormatAuto, manifest.WithoutDuplicateCheck()) {
		if err != nil {
			return err
		}
		n++
	}
	fmt.Printf("%d items read\n", n)
	return nil
}

// bareChild enqueues N submit tasks with a plain asynq client, from as many goroutines
// as `singbatch enqueue` uses.
func bareChild(ctx context.Context, spec string) error {
	ns, url, ok := strings.Cut(spec, ":")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil {
		return fmt.Errorf("%s=%q: want N:REDIS_URL", childEnv, spec)
	}
	opt, err := asynq.ParseRedisURI(url)
	if err != nil {
		return err
	}
	c := asynq.NewClient(opt)
	defer c.Close()
	ids := make(chan int, 1024)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range tasks.DefaultEnqueueWorkers {
		wg.Go(func() {
			for i := range ids {
				kind := batch.KindSong
				if i%100 == 0 {
					kind = batch.KindTrain
				}
				t, err := tasks.NewSubmitTask(tasks.ItemRef{Batch: "bench", Item: fmt.Sprintf("x%07d", i), Attempt: 1}, kind, batch.PriorityNormal)
				if err == nil {
					_, err = c.EnqueueContext(ctx, t)
				}
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := 1; i <= n && ctx.Err() == nil; i++ {
		ids <- i
	}
	close(ids)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("%d tasks enqueued\n", n)
	return ctx.Err()
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
