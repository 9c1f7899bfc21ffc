package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/cmd/singbatch/internal/localstack"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
)

// Defaults of `singbatch run`.
const (
	runDefaultDir       = ".run"
	runDefaultTimeScale = 0.01 // the demo's 5-minute training takes 3 s
	runDefaultBatch     = "run"
)

// runCommand runs manifests end to end on this machine: its own redis-server, an
// in-process worker, and with --sim the simulator and a file server for local audio.
func runCommand() command {
	return command{name: "run", summary: "run manifests end to end here: own Redis, in-process worker, --sim for the simulator", run: runRun}
}

// runFlags are the command line of `singbatch run`.
type runFlags struct {
	sim       bool
	batch     string
	keep      bool
	dir       string
	timeScale float64
	files     []string
}

func parseRunFlags(e env, args []string) (runFlags, error) {
	var f runFlags
	fs := newFlagSet(e, "run", "[--sim] [--batch NAME] [--keep] [--dir DIR] FILE...")
	fs.BoolVar(&f.sim, "sim", false, "use the built-in simulator (generated credentials, time-scaled) instead of the service in UPSTREAM_*, and serve "+localstack.Placeholder+" in manifests from their folder")
	fs.StringVar(&f.batch, "batch", "", "the batch `NAME` (default: the first manifest's file name without extension)")
	fs.BoolVar(&f.keep, "keep", false, "once every item is final, keep Redis, the worker (and the simulator) running until Ctrl-C, for status, report, dashboard and more enqueues")
	fs.StringVar(&f.dir, "dir", runDefaultDir, "working folder `DIR`: Redis data (redis/), simulator outputs (outputs/), the log (singbatch.log), the report")
	fs.Float64Var(&f.timeScale, "time-scale", runDefaultTimeScale, "with --sim: multiply every simulated duration by `F`")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return f, err
	}
	f.files = files
	if len(f.files) == 0 {
		return f, usageError{"run: no manifest given (FILE...)"}
	}
	for _, name := range f.files {
		if name == "-" {
			return f, usageError{"run: manifests must be files (standard input is for `singbatch enqueue`)"}
		}
	}
	if f.batch == "" {
		f.batch = defaultBatchName(f.files[0])
	}
	if err := batch.ValidBatchName(f.batch); err != nil {
		return f, usageError{"run: --batch: " + err.Error()}
	}
	if f.dir == "" {
		return f, usageError{"run: --dir must not be empty"}
	}
	if !(f.timeScale > 0) || f.timeScale > 1 {
		return f, usageError{fmt.Sprintf("run: --time-scale must be in (0, 1], not %v", f.timeScale)}
	}
	return f, nil
}

var notBatchChars = regexp.MustCompile(`[^0-9A-Za-z_.-]+`)

// defaultBatchName is a manifest's file name without its extension, made a valid batch
// name: examples/demo.jsonl is batch "demo".
func defaultBatchName(file string) string {
	base := filepath.Base(file)
	name := strings.Trim(notBatchChars.ReplaceAllString(strings.TrimSuffix(base, filepath.Ext(base)), "-"), "-.")
	if name == "" {
		return runDefaultBatch
	}
	return name[:min(len(name), batch.MaxBatchNameLen)]
}

// runFailedError is the outcome of a run in which some items failed: the summary has
// listed them, and the exit status is 1 so that scripts can tell.
type runFailedError struct {
	batch         string
	failed, total int64
}

func (e *runFailedError) Error() string {
	return fmt.Sprintf("run: batch %s: %d of %d items failed (listed above)", e.batch, e.failed, e.total)
}

// errRunInterrupted is returned when Ctrl-C or SIGTERM ended the run before every item
// was final.
var errRunInterrupted = errors.New("run: interrupted before every item was final")

func runRun(ctx context.Context, e env, args []string) error {
	f, err := parseRunFlags(e, args)
	if err != nil {
		return err
	}
	a := newApp(e)
	defer func() { _ = a.Close() }() // after the stack's Close: nothing is written through it any more
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if !f.sim {
		if err := cfg.requireCredentials(); err != nil {
			return fmt.Errorf("run: %w (or use --sim to try the simulator)", err)
		}
	}
	for _, name := range f.files {
		if _, err := os.Stat(name); err != nil {
			return fmt.Errorf("run: manifest: %w", err)
		}
	}
	if !f.sim {
		if err := localstack.CheckNoPlaceholder(f.files); err != nil {
			return err
		}
	}
	st, err := localstack.Start(ctx, localstack.Options{
		Dir: f.dir, Sim: f.sim, TimeScale: f.timeScale, Batch: f.batch, Files: f.files,
		Rate: cfg.UpstreamRate, Prefix: cfg.RedisPrefix, Started: time.Now(),
		Stdout: e.stdout, TTY: isTerminal(e.stdout),
		NewLogger: func(w io.Writer) (*zap.Logger, error) { return newLogger(cfg, w) },
		OpenStore: func(url string) (*batch.Store, error) {
			if err := a.adjust(func(c *config) { c.RedisURL = url }); err != nil {
				return nil, err
			}
			return a.store()
		},
	})
	if err != nil {
		return err
	}
	defer st.Close()
	if url, creds, ok := st.Simulator(); ok {
		if err := a.adjust(func(c *config) {
			c.UpstreamURL = url
			c.SecretID, c.SecretKey = creds.SecretID, creds.SecretKey
			c.GatewayKeyID, c.GatewayKeySecret = "", upstream.Secret{}
		}); err != nil {
			return err
		}
	}
	a.useLogger(st.Log().Named("worker"))
	if err := enqueueRun(ctx, e, a, st, f.batch); err != nil {
		return err
	}
	st.StartWorker(func() (localstack.Worker, error) {
		var tune func(*tasks.WorkerOptions, *tasks.Settings)
		if f.sim {
			tune = localstack.SimTuning(f.timeScale)
		}
		w, err := newWorker(a, tune)
		if err != nil {
			return nil, err
		}
		return w, nil
	})
	rec, done, err := st.Watch(ctx)
	if err != nil {
		return err
	}
	if done && f.keep {
		if err := st.Summarize(rec, true); err != nil {
			return err
		}
		st.PrintKeep()
		<-ctx.Done()
		return st.StopWorker()
	}
	if err := st.StopWorker(); err != nil {
		return err
	}
	if !done {
		// Counts may have moved while the worker stopped.
		if rec, err = st.ReadBatch(); err != nil {
			return err
		}
	}
	if err := st.Summarize(rec, done); err != nil {
		return err
	}
	switch {
	case !done:
		if f.sim {
			return errRunInterrupted
		}
		return fmt.Errorf("%w: run the same command again (same --dir and --batch) to resume", errRunInterrupted)
	case rec.Counts[batch.StateFailed] > 0:
		return &runFailedError{batch: f.batch, failed: rec.Counts[batch.StateFailed], total: rec.Total}
	}
	return nil
}
