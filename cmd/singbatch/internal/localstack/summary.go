package localstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// Summarize prints the counts per state, the outputs, the failures with their reasons,
// and writes the full report.
func (s *Stack) Summarize(rec batch.BatchRecord, done bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	var b strings.Builder
	verb := "finished"
	if !done {
		verb = "stopped"
	}
	fmt.Fprintf(&b, "\nbatch %s %s after %s: %s\n", rec.Name, verb, time.Since(s.opts.Started).Round(100*time.Millisecond), stateCounts(rec))

	var outputs, failures []string
	moreOut, moreFail := 0, 0
	err := s.store.Items(ctx, rec.Name, []batch.State{batch.StateCompleted, batch.StateFailed}, func(it batch.ItemRecord) error {
		switch {
		case it.State == batch.StateFailed && len(failures) < listMax:
			failures = append(failures, fmt.Sprintf("  %-16s %-5s %s (%s)", it.ID, it.Kind, it.Error, s.origin(it.Origin)))
		case it.State == batch.StateFailed:
			moreFail++
		case len(outputs) < listMax:
			outputs = append(outputs, fmt.Sprintf("  %-16s %-5s %s", it.ID, it.Kind, s.output(it)))
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
		if s.opts.Sim {
			where = "results (the simulator's content repositories are folders under " + s.dir.outputs + ")"
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
	if line := s.usageLine(); line != "" {
		fmt.Fprintf(&b, "\n%s\n", line)
	}
	report, err := s.writeReport(ctx, rec.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nreport: %s\nlog:    %s\n", report, s.dir.log)
	_, err = io.WriteString(s.opts.Stdout, b.String())
	return err
}

// stateCounts is "6 completed, 1 failed" (the final states, then any other non-zero).
func stateCounts(rec batch.BatchRecord) string {
	parts := []string{fmt.Sprintf("%d completed", rec.Counts[batch.StateCompleted]), fmt.Sprintf("%d failed", rec.Counts[batch.StateFailed])}
	if n := rec.Counts[batch.StateCanceled]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d canceled", n))
	}
	for _, st := range batch.States() {
		if n := rec.Counts[st]; n > 0 && !st.Final() {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	return fmt.Sprintf("%s of %d", strings.Join(parts, ", "), rec.Total)
}

// output says where a finished item's result is: the file the simulator wrote, the
// repository and path at the service, or the model trained.
func (s *Stack) output(it batch.ItemRecord) string {
	switch {
	case it.Kind == batch.KindTrain:
		return "model " + it.TrainedModel
	case s.sim != nil:
		return s.sim.SongPath(it.OutputRepository, path.Dir(it.OutputPath), it.SongName)
	}
	return it.OutputRepository + ":" + it.OutputPath
}

// origin names a manifest line as the user gave it, not as its rewritten copy.
func (s *Stack) origin(o string) string {
	file := originFileOf(o)
	if orig, ok := s.shownAs[file]; ok {
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
func (s *Stack) writeReport(ctx context.Context, name string) (string, error) {
	p := filepath.Join(s.dir.reports, name+".csv")
	f, err := os.Create(p)
	if err != nil {
		return "", fmt.Errorf("run: report: %w", err)
	}
	if err := batch.WriteReport(ctx, f, s.store, name, batch.ReportCSV, nil); err != nil {
		_ = f.Close()
		return "", fmt.Errorf("run: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("run: report: %w", err)
	}
	return p, nil
}

// PrintKeep tells how to reach what --keep leaves running.
func (s *Stack) PrintKeep() {
	env := "REDIS_URL=" + s.redis.URL()
	if s.opts.Prefix != "singbatch" {
		env += " REDIS_PREFIX=" + s.opts.Prefix
	}
	s.printf("\n--keep: Redis and the worker keep running until Ctrl-C. From another terminal:\n"+
		"  %s go run ./cmd/singbatch status --batch %s\n"+
		"  %s go run ./cmd/singbatch dashboard\n"+
		"  %s go run ./cmd/singbatch report --batch %s\n", env, s.opts.Batch, env, env, s.opts.Batch)
	if s.opts.Sim {
		s.printf("  more manifests: %s go run ./cmd/singbatch enqueue --batch NAME FILE (URLs the simulator can fetch; %s is replaced only by run)\n", env, Placeholder)
	}
}
