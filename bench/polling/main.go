// Command polling measures how well the worker's polls find jobs of any length, with no
// setting about their durations, next to the same worker given the true duration and a
// naive fixed-interval poller, all in one run:
//
//	go run ./bench/polling -out docs/benchmarks-polling.md
//
// Each scenario is one kind of job (songs of 1 s, 20 s and 5 min; trainings of 10 s and
// 30 min, in simulated time): -jobs of them enqueued at once against the simulator,
// whose clock runs at a scale that makes one job last about 10 s here (1 s for the 1 s
// song), under a shared rate limit of -rate requests/s. The worker's own time settings
// are scaled alike, as `singbatch run --sim` does; nothing tells it the durations. Every
// run gets a fresh redis-server and simulator. Variants:
//
//   - default: the default settings;
//   - hint÷50, hint×50: POLL_HINT_* wrong by 50× in each direction;
//   - truth: POLL_HINT_* set to the true mean duration (the reference);
//   - naive 1 s: CreateJob, then GetJob every second of real time (1 s / scale of
//     simulated time: 30 s for the 5 min songs) until the job ends, from as many
//     goroutines as the worker has, behind the same limiter.
//
// Figures: makespan (enqueue → last item final) and its ratio to truth's; upstream calls
// per finished job; the lag from the service's completedAt to the record, p50 and p95,
// also as a share of the job's own duration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var o options
	var out, only string
	flag.IntVar(&o.jobs, "jobs", 100, "jobs per run")
	flag.Float64Var(&o.rate, "rate", 20, "account rate limit, requests/s (real time)")
	flag.Float64Var(&o.jitter, "jitter", 0.1, "the simulator's spread of durations: each is ×U[1-j, 1+j]")
	flag.Float64Var(&o.submitShare, "submit-share", 0, "the limiter's SubmitShare (0: its default)")
	flag.StringVar(&only, "only", "", "run only the scenarios whose names contain `TEXT`")
	flag.StringVar(&o.mode, "mode", "polling", "`polling`: learned polling against hints and the truth; callbacks: callbacks (all delivered, 10 % lost) against per-job polling; groups: grouped customIds against one per job")
	flag.StringVar(&out, "out", "", "write the Markdown results to `FILE` (default: stdout only)")
	flag.Parse()
	o.log = os.Stderr
	var results []scenarioResult
	for _, sc := range scenarios() {
		if only != "" && !strings.Contains(sc.name, only) {
			continue
		}
		r, err := runScenario(ctx, o, sc)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		results = append(results, r)
	}
	md := markdown(o, results, strings.Join(os.Args[1:], " "))
	fmt.Print(md)
	if out != "" {
		old, err := os.ReadFile(out)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(out, []byte(withNotes(md, string(old))), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

type options struct {
	jobs        int
	rate        float64
	jitter      float64
	submitShare float64
	mode        string // "polling" or "callbacks"
	log         *os.File
}

// scenario is one kind of job at one length.
type scenario struct {
	name     string
	train    bool
	duration time.Duration // mean createdAt → completedAt, simulated
	scale    float64       // simulated → real
}

func scenarios() []scenario {
	return []scenario{
		{name: "song 1 s", duration: time.Second, scale: 1},
		{name: "song 20 s", duration: 20 * time.Second, scale: 0.5},
		{name: "song 5 min", duration: 5 * time.Minute, scale: 1.0 / 30},
		{name: "training 10 s", train: true, duration: 10 * time.Second, scale: 1},
		{name: "training 30 min", train: true, duration: 30 * time.Minute, scale: 1.0 / 180},
	}
}

// variant is one way of running the worker on a scenario.
type variant struct {
	name      string
	hint      float64 // × the true duration; 0: none
	naive     bool
	callbacks bool    // CALLBACK_URL set: the simulator posts each job's end
	drop      float64 // the share of callbacks the simulator loses
	groupSize int     // POLL_GROUP_SIZE; 0: the default
}

func variants(mode string) []variant {
	switch mode {
	case "callbacks":
		return []variant{{name: "polling", groupSize: 1}, {name: "callbacks", callbacks: true},
			{name: "callbacks, 10 % lost", callbacks: true, drop: 0.1}}
	case "groups":
		return []variant{{name: "per-job polling", groupSize: 1}, {name: "grouped (20)", groupSize: 20}}
	}
	return []variant{
		{name: "default"}, {name: "hint÷50", hint: 1.0 / 50}, {name: "hint×50", hint: 50},
		{name: "truth", hint: 1}, {name: "naive 1 s", naive: true},
	}
}

type scenarioResult struct {
	sc   scenario
	runs []runResult
}

// runResult is one variant's figures, times in simulated seconds.
type runResult struct {
	v        variant
	jobs     int
	makespan time.Duration
	calls    int
	lagP50   time.Duration
	lagP95   time.Duration
	lagReal  time.Duration // lag p50 in real time (the simulator's clock is the real one)
	shareP95 float64       // p95 of lag / the job's own duration
	maxRate  int
	throttle int
}

func runScenario(ctx context.Context, o options, sc scenario) (scenarioResult, error) {
	res := scenarioResult{sc: sc}
	for _, v := range variants(o.mode) {
		fmt.Fprintf(o.log, "%s, %s ...\n", sc.name, v.name)
		r, err := runOnce(ctx, o, sc, v)
		if err != nil {
			return res, fmt.Errorf("%s, %s: %w", sc.name, v.name, err)
		}
		fmt.Fprintf(o.log, "  makespan %v, %.2f calls/job, lag p95 %v (%.0f%%)\n",
			r.makespan.Round(time.Millisecond), float64(r.calls)/float64(r.jobs), r.lagP95.Round(time.Millisecond), 100*r.shareP95)
		res.runs = append(res.runs, r)
	}
	return res, nil
}
