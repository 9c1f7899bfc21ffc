package localstack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/cmd/singbatch/internal/progress"
)

// Timings and sizes of what the run shows.
const (
	watchEvery = 200 * time.Millisecond // how often Watch reads the batch
	barWidth   = 30
	rateWindow = 30 * time.Second // the window of the finishing rate shown next to the bar
	// readTimeout bounds the Redis reads of the summary, which run after the command's
	// own context may have ended (Ctrl-C).
	readTimeout = 10 * time.Second
	// listMax bounds the outputs and the failures the summary lists; the report file
	// has every item.
	listMax = 20
)

// Watch shows the batch's progress until every item is final (done) or ctx ends. On a
// terminal it redraws a bar in place; otherwise it prints a line when the counts change.
func (s *Stack) Watch(ctx context.Context) (rec batch.BatchRecord, done bool, err error) {
	tty := s.opts.TTY
	meter := &progress.Meter{Window: rateWindow}
	last := ""
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		rec, err = s.store.Batch(ctx, s.opts.Batch)
		if err != nil {
			if ctx.Err() != nil {
				return rec, false, nil
			}
			return rec, false, fmt.Errorf("run: %w", err)
		}
		fin := rec.Finished()
		p := progress.Progress{Name: rec.Name, Done: fin, Total: rec.Total, Failed: rec.Counts[batch.StateFailed],
			Rate: meter.Observe(time.Now(), fin)}
		if tty {
			fmt.Fprintf(s.opts.Stdout, "\r\x1b[K%s", progress.Bar(p, barWidth))
		} else if key := fmt.Sprint(fin, p.Failed, rec.Total); key != last {
			last = key
			fmt.Fprintln(s.opts.Stdout, progress.Line(p))
		}
		if rec.Done() {
			if tty {
				fmt.Fprintln(s.opts.Stdout)
			}
			return rec, true, nil
		}
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(s.opts.Stdout)
			}
			return rec, false, nil
		case err := <-s.workerDone:
			// The worker ended on its own: it could not start.
			s.workerStop = nil
			if err == nil {
				err = errors.New("stopped unexpectedly")
			}
			return rec, false, fmt.Errorf("run: worker: %w", err)
		case <-tick.C:
		}
	}
}

// ReadBatch reads the batch record, also after the run's context has ended.
func (s *Stack) ReadBatch() (batch.BatchRecord, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	rec, err := s.store.Batch(ctx, s.opts.Batch)
	if err != nil {
		return rec, fmt.Errorf("run: %w", err)
	}
	return rec, nil
}
