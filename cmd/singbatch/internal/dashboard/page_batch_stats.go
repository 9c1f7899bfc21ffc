package dashboard

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/tasks"
)

// rateWindow is how far back a batch page's rates look.
const rateWindow = 5 * time.Minute

// failedSample bounds how many failed items a batch page reads to group by reason.
const failedSample = 10000

// maxReasons is how many failure reasons a batch page lists.
const maxReasons = 10

// batchStats is a batch page's figures on its pace and spending.
type batchStats struct {
	Priority         string
	Paused, Canceled bool
	Jobs, MaxJobs    int64
	Calls            int64
	CallsPerFinished string // upstream calls per finished job; "" before any job ended
	Parked           int64
	HeldReason       string
	ItemsPerMinute   string // over the last rateWindow
	RequestsPerSec   string // the batch's, over the last rateWindow
	RateLimit        string // UPSTREAM_RATE, "" when unknown
	ETA              string // "" when unknown
	ETAFrom          string
	Charts           []chart
	Reasons          []reasonCount
	ReasonsSampled   int // failed items read for Reasons, when fewer than all
}

// reasonCount is how many failed items share one error.
type reasonCount struct {
	Reason string
	N      int
}

// newBatchStats reads a batch's series, failed items and learned durations.
func (d *Dashboard) newBatchStats(ctx context.Context, b batch.BatchRecord) (batchStats, error) {
	st := batchStats{Priority: b.Priority.String(), Paused: b.Paused, Canceled: b.Canceled, Jobs: b.Jobs,
		MaxJobs: b.MaxJobs, Calls: b.Calls, Parked: b.Parked, HeldReason: b.HeldReason()}
	if done := b.FinishedJobs(); done > 0 {
		st.CallsPerFinished = fmt.Sprintf("%.2f", float64(b.Calls)/float64(done))
	}
	if d.opts.UpstreamRate > 0 {
		st.RateLimit = formatNumber(d.opts.UpstreamRate)
	}
	series, err := d.opts.Store.Series(ctx, b.Name)
	if err != nil {
		return st, err
	}
	now := d.opts.Now()
	finishedN, callsN := batch.Recent(series, now, rateWindow)
	finished, calls := float64(finishedN), float64(callsN)
	st.ItemsPerMinute = formatNumber(round1(finished / rateWindow.Minutes()))
	st.RequestsPerSec = formatNumber(calls / rateWindow.Seconds())
	st.Charts = batchCharts(series, now, d.opts.UpstreamRate)

	left := b.Total - b.Finished()
	switch {
	case left == 0:
	case finished > 0:
		st.ETA = (time.Duration(float64(left) / finished * float64(rateWindow))).Round(time.Second).String()
		st.ETAFrom = "the items finished in the last " + rateWindow.String()
	default:
		learned, err := tasks.LearnedDurations(ctx, d.opts.Store)
		if err != nil {
			return st, err
		}
		eta, ok, err := tasks.LearnedRemaining(ctx, d.opts.Store, b, d.opts.UpstreamRate, learned)
		if err != nil {
			return st, err
		}
		if ok {
			st.ETA, st.ETAFrom = eta.Round(time.Second).String(), "the job durations learned from the service"
		}
	}
	if b.Counts[batch.StateFailed] > 0 {
		if st.Reasons, st.ReasonsSampled, err = d.failureReasons(ctx, b); err != nil {
			return st, err
		}
	}
	return st, nil
}

var errSampledEnough = errors.New("sampled enough")

// failureReasons groups a batch's failed items by their error, most common first.
func (d *Dashboard) failureReasons(ctx context.Context, b batch.BatchRecord) ([]reasonCount, int, error) {
	counts := map[string]int{}
	read := 0
	err := d.opts.Store.Items(ctx, b.Name, []batch.State{batch.StateFailed}, func(rec batch.ItemRecord) error {
		counts[d.scrub.clean(rec.Error)]++
		if read++; read >= failedSample {
			return errSampledEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSampledEnough) {
		return nil, 0, err
	}
	out := make([]reasonCount, 0, len(counts))
	for r, n := range counts {
		out = append(out, reasonCount{Reason: r, N: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Reason < out[j].Reason
	})
	if len(out) > maxReasons {
		rest := 0
		for _, r := range out[maxReasons:] {
			rest += r.N
		}
		out = append(out[:maxReasons], reasonCount{Reason: fmt.Sprintf("(%d other reasons)", len(out)-maxReasons), N: rest})
	}
	sampled := 0
	if int64(read) < b.Counts[batch.StateFailed] {
		sampled = read
	}
	return out, sampled, nil
}
