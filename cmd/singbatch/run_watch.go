package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// runListMax bounds the outputs and the failures the summary lists; the report file
// has every item.
const runListMax = 20

// runRateWindow is the window of the finishing rate shown next to the bar.
const runRateWindow = 30 * time.Second

// watch shows the batch's progress until every item is final (done) or ctx ends. On a
// terminal it redraws a bar in place; otherwise it prints a line when the counts change.
func (r *runner) watch(ctx context.Context) (rec batch.BatchRecord, done bool, err error) {
	tty := isTerminal(r.e.stdout)
	meter := &rateMeter{window: runRateWindow}
	last := ""
	tick := time.NewTicker(runWatchEvery)
	defer tick.Stop()
	for {
		rec, err = r.store.Batch(ctx, r.f.batch)
		if err != nil {
			if ctx.Err() != nil {
				return rec, false, nil
			}
			return rec, false, fmt.Errorf("run: %w", err)
		}
		fin := rec.Counts[batch.StateCompleted] + rec.Counts[batch.StateFailed]
		p := progress{Name: rec.Name, Done: fin, Total: rec.Total, Failed: rec.Counts[batch.StateFailed],
			Rate: meter.observe(time.Now(), fin)}
		if tty {
			fmt.Fprintf(r.e.stdout, "\r\x1b[K%s", progressBar(p, runBarWidth))
		} else if key := fmt.Sprint(fin, p.Failed, rec.Total); key != last {
			last = key
			fmt.Fprintln(r.e.stdout, progressLine(p))
		}
		if rec.Done() {
			if tty {
				fmt.Fprintln(r.e.stdout)
			}
			return rec, true, nil
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(r.e.stdout)
			}
			return rec, false, nil
		case err := <-r.workerDone:
			// The worker ended on its own: it could not start.
			r.workerStop = nil
			if err == nil {
				err = errors.New("stopped unexpectedly")
			}
			return rec, false, fmt.Errorf("run: worker: %w", err)
		case <-tick.C:
		}
	}
}

// readBatch reads the batch record, also after the run's context has ended.
func (r *runner) readBatch() (batch.BatchRecord, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runReadTimeout)
	defer cancel()
	rec, err := r.store.Batch(ctx, r.f.batch)
	if err != nil {
		return rec, fmt.Errorf("run: %w", err)
	}
	return rec, nil
}

// summarize prints the counts per state, the outputs, the failures with their reasons,
// and writes the full report.
func (r *runner) summarize(rec batch.BatchRecord, done bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), runReadTimeout)
	defer cancel()
	var b strings.Builder
	verb := "finished"
	if !done {
		verb = "stopped"
	}
	fmt.Fprintf(&b, "\nbatch %s %s after %s: %s\n", rec.Name, verb, time.Since(r.start).Round(100*time.Millisecond), stateCounts(rec))

	var outputs, failures []string
	moreOut, moreFail := 0, 0
	err := r.store.Items(ctx, rec.Name, []batch.State{batch.StateCompleted, batch.StateFailed}, func(it batch.ItemRecord) error {
		switch {
		case it.State == batch.StateFailed && len(failures) < runListMax:
			failures = append(failures, fmt.Sprintf("  %-16s %-5s %s (%s)", it.ID, it.Kind, it.Error, r.origin(it.Origin)))
		case it.State == batch.StateFailed:
			moreFail++
		case len(outputs) < runListMax:
			outputs = append(outputs, fmt.Sprintf("  %-16s %-5s %s", it.ID, it.Kind, r.output(it)))
		default:
			moreOut++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if len(outputs) > 0 {
		where := "results (repository:path at the service)"
		if r.f.sim {
			where = "results (the simulator's content repositories are folders under " + r.dir.outputs + ")"
		}
		fmt.Fprintf(&b, "\n%s:\n%s\n", where, strings.Join(outputs, "\n"))
		if moreOut > 0 {
			fmt.Fprintf(&b, "  ... and %d more\n", moreOut)
		}
	}
	if len(failures) > 0 {
		fmt.Fprintf(&b, "\nfailed:\n%s\n", strings.Join(failures, "\n"))
		if moreFail > 0 {
			fmt.Fprintf(&b, "  ... and %d more\n", moreFail)
		}
	}
	report, err := r.writeReport(ctx, rec.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nreport: %s\nlog:    %s\n", report, r.dir.log)
	_, err = io.WriteString(r.e.stdout, b.String())
	return err
}

// stateCounts is "6 completed, 1 failed" (the final states, then any other non-zero).
func stateCounts(rec batch.BatchRecord) string {
	parts := []string{fmt.Sprintf("%d completed", rec.Counts[batch.StateCompleted]), fmt.Sprintf("%d failed", rec.Counts[batch.StateFailed])}
	for _, st := range batch.States() {
		if n := rec.Counts[st]; n > 0 && !st.Final() {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	return fmt.Sprintf("%s of %d", strings.Join(parts, ", "), rec.Total)
}

// output says where a finished item's result is: the file the simulator wrote, the
// repository and path at the service, or the model trained.
func (r *runner) output(it batch.ItemRecord) string {
	switch {
	case it.Kind == batch.KindTrain:
		return "model " + it.TrainedModel
	case r.sim != nil:
		return r.sim.SongPath(it.OutputRepository, path.Dir(it.OutputPath), it.SongName)
	}
	return it.OutputRepository + ":" + it.OutputPath
}

// origin names a manifest line as the user gave it, not as its rewritten copy.
func (r *runner) origin(o string) string {
	file := originFileOf(o)
	if orig, ok := r.shownAs[file]; ok {
		return orig + strings.TrimPrefix(o, file)
	}
	return o
}

// originFileOf is the file part of an origin "FILE:LINE".
func originFileOf(origin string) string {
	if i := strings.LastIndexByte(origin, ':'); i >= 0 {
		return origin[:i]
	}
	return origin
}

// writeReport writes every item of the batch as CSV into the reports folder.
func (r *runner) writeReport(ctx context.Context, name string) (string, error) {
	p := filepath.Join(r.dir.reports, name+".csv")
	f, err := os.Create(p)
	if err != nil {
		return "", fmt.Errorf("run: report: %w", err)
	}
	if err := batch.WriteReport(ctx, f, r.store, name, batch.ReportCSV, nil); err != nil {
		_ = f.Close()
		return "", fmt.Errorf("run: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("run: report: %w", err)
	}
	return p, nil
}

// printKeep tells how to reach what --keep leaves running.
func (r *runner) printKeep() {
	env := "REDIS_URL=" + r.redis.URL()
	if r.cfg.RedisPrefix != "singbatch" {
		env += " REDIS_PREFIX=" + r.cfg.RedisPrefix
	}
	r.printf("\n--keep: Redis and the worker keep running until Ctrl-C. From another terminal:\n"+
		"  %s go run ./cmd/singbatch status --batch %s\n"+
		"  %s go run ./cmd/singbatch dashboard\n"+
		"  %s go run ./cmd/singbatch report --batch %s\n", env, r.f.batch, env, env, r.f.batch)
	if r.f.sim {
		r.printf("  more manifests: %s go run ./cmd/singbatch enqueue --batch NAME FILE (URLs the simulator can fetch; %s is replaced only by run)\n", env, runPlaceholder)
	}
}
