package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/cmd/singbatch/internal/progress"
	"github.com/singbatch/singbatch/tasks"
)

// statusRateWindow is the span over which --watch measures the finishing rate: long
// enough to smooth the bursts of polls, short enough to follow a change of pace.
const statusRateWindow = time.Minute

// statusBarWidth is the width of --watch's bar on a terminal.
const statusBarWidth = 30

func statusCommand() command {
	return command{name: "status", summary: "show batches: items per state, done/total, rate, ETA", run: runStatus}
}

type statusFlags struct {
	batch    string
	json     bool
	watch    bool
	interval time.Duration
}

func parseStatusFlags(e env, args []string) (statusFlags, error) {
	var f statusFlags
	fs := newFlagSet(e, "status", "[--batch NAME] [--json] [--watch] [--interval D]")
	fs.StringVar(&f.batch, "batch", "", "show only batch `NAME` (default: every batch)")
	fs.BoolVar(&f.json, "json", false, "print JSON (with --watch: one JSON line per change)")
	fs.BoolVar(&f.watch, "watch", false, "follow progress until the batch is done (every batch without --batch)")
	fs.DurationVar(&f.interval, "interval", 2*time.Second, "with --watch, how often to look, `D`")
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, usageError{fmt.Sprintf("status: unexpected argument %q", fs.Arg(0))}
	}
	if f.interval <= 0 {
		return f, usageError{fmt.Sprintf("status: --interval must be positive, not %v", f.interval)}
	}
	if f.batch != "" {
		if err := batch.ValidBatchName(f.batch); err != nil {
			return f, usageError{"status: --batch: " + err.Error()}
		}
	}
	return f, nil
}

func runStatus(ctx context.Context, e env, args []string) error {
	f, err := parseStatusFlags(e, args)
	if err != nil {
		return err
	}
	a := newApp(e)
	defer func() { _ = a.Close() }()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	store, err := a.store()
	if err != nil {
		return err
	}
	st := &statusView{store: store, flags: f, now: time.Now, out: e.stdout, rate: cfg.UpstreamRate}
	if f.watch {
		return st.watch(ctx, isTerminal(e.stdout))
	}
	bs, err := st.read(ctx)
	if err != nil {
		return err
	}
	st.learn(ctx, bs)
	st.readPace(ctx, bs)
	return st.print(bs, nil)
}

// isTerminal reports whether w is a character device (a terminal), where --watch
// redraws its bars in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// statusView reads and prints batches.
type statusView struct {
	store *batch.Store
	flags statusFlags
	now   func() time.Time
	out   io.Writer
	rate  float64 // UPSTREAM_RATE, for estimates from learned durations

	pace       map[string]pace          // per batch: its recent activity (readPace)
	learned    []tasks.ClassDuration    // what the workers learned (learn)
	learnedETA map[string]time.Duration // per batch with no rate yet: its ETA by learned durations
}

// read returns the batch asked for, or every batch.
func (s *statusView) read(ctx context.Context) ([]batch.BatchRecord, error) {
	if s.flags.batch == "" {
		return s.store.Batches(ctx)
	}
	b, err := s.store.Batch(ctx, s.flags.batch)
	if err != nil {
		return nil, err
	}
	return []batch.BatchRecord{b}, nil
}

// batchStatus is a batch as `status --json` prints it.
type batchStatus struct {
	Batch   string           `json:"batch"`
	Created string           `json:"created"`
	Total   int64            `json:"total"`
	Done    int64            `json:"done"`
	Counts  map[string]int64 `json:"counts"`
	// Rate is items finished per second: over the last minute with --watch, else the
	// average since the batch was created.
	Rate       float64  `json:"rate"`
	ETASeconds *float64 `json:"etaSeconds"` // null when unknown
	// ETAFrom says what the ETA rests on: "rate" (items finished so far) or "learned"
	// (nothing finished yet: the durations learned from the service).
	ETAFrom  string `json:"etaFrom,omitempty"`
	Finished bool   `json:"finished"`
	Paused   bool   `json:"paused"`
	Canceled bool   `json:"canceled"`
	Priority string `json:"priority"`          // high, normal or low
	MaxJobs  int64  `json:"maxJobs,omitempty"` // 0: no cap
	Jobs     int64  `json:"jobs"`              // jobs created (paid), retries included
	Calls    int64  `json:"upstreamCalls"`     // upstream calls spent on its items
	// ItemsPerMinute and RequestsPerSecond are its pace over the last 5 minutes;
	// RateLimit is the account's (UPSTREAM_RATE) that the requests count against.
	ItemsPerMinute    float64        `json:"itemsPerMinute"`
	RequestsPerSecond float64        `json:"requestsPerSecond"`
	RateLimit         float64        `json:"rateLimit"`
	Parked            int64          `json:"parked"`           // items held back
	HeldBy            string         `json:"heldBy,omitempty"` // why, when parked over a cap: batch or account
	Manifests         []manifestJSON `json:"manifests"`
}

type manifestJSON struct {
	File     string `json:"file"`
	First    string `json:"first"`
	Last     string `json:"last"`
	Added    int64  `json:"added"`
	Existing int64  `json:"existing"`
	Refused  int64  `json:"refused"`
}

// progressOf summarizes a batch; rate < 0 means the average since creation.
func (s *statusView) progressOf(b batch.BatchRecord, rate float64) progress.Progress {
	done := b.Finished()
	if rate < 0 {
		rate = 0
		if el := s.now().Sub(b.Created).Seconds(); el > 0 {
			rate = float64(done) / el
		}
	}
	return progress.Progress{Name: b.Name, Done: done, Total: b.Total, Failed: b.Counts[batch.StateFailed],
		Canceled: b.Counts[batch.StateCanceled], Rate: rate, Learned: s.learnedETA[b.Name]}
}

func (s *statusView) statusJSON(b batch.BatchRecord, p progress.Progress) batchStatus {
	st := batchStatus{Batch: b.Name, Created: b.Created.UTC().Format(time.RFC3339Nano), Total: b.Total,
		Done: p.Done, Counts: map[string]int64{}, Rate: p.Rate, Finished: p.Finished(), Paused: b.Paused, Canceled: b.Canceled,
		Priority: b.Priority.String(),
		MaxJobs:  b.MaxJobs, Jobs: b.Jobs, Calls: b.Calls, Parked: b.Parked, HeldBy: b.HeldBy, Manifests: []manifestJSON{}}
	for _, state := range batch.States() {
		st.Counts[string(state)] = b.Counts[state]
	}
	pc := s.pace[b.Name]
	st.ItemsPerMinute, st.RequestsPerSecond, st.RateLimit = pc.itemsPerMinute, pc.requestsPerSecond, s.rate
	if eta, ok := p.ETA(); ok {
		secs := eta.Seconds()
		st.ETASeconds, st.ETAFrom = &secs, p.ETAFrom()
	}
	for _, m := range b.Manifests {
		st.Manifests = append(st.Manifests, manifestJSON{File: m.File, First: m.First.UTC().Format(time.RFC3339Nano),
			Last: m.Last.UTC().Format(time.RFC3339Nano), Added: m.Added, Existing: m.Existing, Refused: m.Refused})
	}
	return st
}

// print writes a snapshot of batches. rates holds the measured rate per batch name
// (--watch); a batch without one gets its average since creation.
func (s *statusView) print(bs []batch.BatchRecord, rates map[string]float64) error {
	ps := make([]progress.Progress, len(bs))
	for i, b := range bs {
		r, ok := rates[b.Name]
		if !ok {
			r = -1
		}
		ps[i] = s.progressOf(b, r)
	}
	if s.flags.json {
		out := make([]batchStatus, len(bs))
		for i, b := range bs {
			out[i] = s.statusJSON(b, ps[i])
		}
		enc := json.NewEncoder(s.out)
		if s.flags.batch != "" {
			return enc.Encode(out[0])
		}
		return enc.Encode(out)
	}
	if len(bs) == 0 {
		_, err := fmt.Fprintln(s.out, "no batches")
		return err
	}
	var b strings.Builder
	for i, rec := range bs {
		p := ps[i]
		fmt.Fprintf(&b, "batch %s: %d/%d done (%.1f%%)", rec.Name, p.Done, p.Total, p.Percent())
		if rec.Canceled {
			b.WriteString(", canceled")
		}
		if rec.Paused {
			b.WriteString(", paused (singbatch resume)")
		}
		if p.Finished() {
			b.WriteString(", finished\n")
		} else {
			how := "average since created"
			if rates != nil {
				how = "last minute"
			}
			eta := "unknown"
			if d, ok := p.ETA(); ok {
				eta = progress.FormatETA(d)
				if p.ETAFrom() == "learned" {
					eta = "≈ " + eta + " (from the learned job durations)"
				}
			}
			fmt.Fprintf(&b, ", rate %s/s (%s), ETA %s\n", progress.FormatRate(p.Rate), how, eta)
		}
		b.WriteString(" ")
		for _, st := range batch.States() {
			fmt.Fprintf(&b, " %s %d", st, rec.Counts[st])
		}
		b.WriteString("\n")
		writeSpending(&b, rec)
		s.writePace(&b, rec.Name)
		for _, m := range rec.Manifests {
			fmt.Fprintf(&b, "  manifest %s: %d added, %d found already in batch, %d refused, over all reads (last %s)\n",
				m.File, m.Added, m.Existing, m.Refused, m.Last.UTC().Format(time.RFC3339))
		}
	}
	s.writeLearned(&b)
	_, err := io.WriteString(s.out, b.String())
	return err
}
