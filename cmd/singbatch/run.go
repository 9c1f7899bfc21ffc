package main

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/cmd/singbatch/internal/localstack"
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

// defaultBatchName is a manifest's file name without its extension, made a valid batch
// name: examples/demo.jsonl is batch "demo".
func defaultBatchName(file string) string {
	base := filepath.Base(file)
	notBatchChars := regexp.MustCompile(`[^0-9A-Za-z_.-]+`)
	name := strings.Trim(notBatchChars.ReplaceAllString(strings.TrimSuffix(base, filepath.Ext(base)), "-"), "-.")
	if name == "" {
		return runDefaultBatch
	}
	return name[:min(len(name), batch.MaxBatchNameLen)]
}

func runRun(ctx context.Context, e env, args []string) error {
	f, err := parseRunFlags(e, args)
	if err != nil {
		return err
	}
	a := newApp(e)
	defer func() { _ = a.Close() }() // after the stack's Close: nothing is written through it any more
	if err := checkRun(a, f); err != nil {
		return err
	}
	st, err := startStack(ctx, e, a, f)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := enqueueRun(ctx, e, a, st, f.batch); err != nil {
		return err
	}
	ln, err := runCallbacks(a, f)
	if err != nil {
		return err
	}
	if ln != nil {
		defer ln.Close() // the worker's server closes it too; this covers a worker never built
	}
	startRunWorker(a, st, f, ln)
	return followRun(ctx, st, f)
}
