package tasks

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
)

// batchSweepEvery is how often one worker process looks over the batches for what no
// event brings: items parked over the account's daily cap that may go on (a new UTC
// day began, or workers run with a higher cap), items parked over a batch's cap when
// a refund missed its unpark, and batch ends not marked (a worker
// stopped between an item's last transition and Store.MarkEnded).
const batchSweepEvery = time.Minute

// watchBatches sweeps the batches at start and every batchSweepEvery, one process at
// a time, until ctx ends.
func (h *Handlers) watchBatches(ctx context.Context) {
	t := time.NewTicker(batchSweepEvery)
	defer t.Stop()
	for {
		if first, err := h.store.TryOnce(ctx, "batch-sweep", batchSweepEvery/2); err == nil && first {
			if err := h.sweepBatches(ctx); err != nil && ctx.Err() == nil {
				h.log.Warn("batch sweep failed; the next one tries again", zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepBatches does one sweep (watchBatches).
func (h *Handlers) sweepBatches(ctx context.Context) error {
	batches, err := h.store.Batches(ctx)
	if err != nil {
		return fmt.Errorf("batch sweep: %w", err)
	}
	for _, b := range batches {
		if b.Total > 0 && b.Done() && b.Ended.IsZero() {
			announceEnd(ctx, h.store, h.queue, h.log, b.Name)
		}
	}
	for _, b := range batches {
		if b.HeldBy == "batch" && b.Parked > 0 && (b.MaxJobs == 0 || b.Jobs < b.MaxJobs) {
			if _, err := h.unparkBatch(ctx, b.Name); err != nil {
				return fmt.Errorf("batch cap: %w", err)
			}
		}
	}
	n, err := h.unparkAccountHeld(ctx, batches)
	if n > 0 {
		h.log.Info("items held by the account's daily cap queued again", zap.Int("items", n))
	}
	return err
}

// unparkUnderBatchCap queues again the items a batch's cap parked when the batch is
// back under it: a refused CreateJob takes back its count (Store.RefundJob), and the
// job it frees must not stay unspent.
func (h *Handlers) unparkUnderBatchCap(ctx context.Context, name string) error {
	b, err := h.store.Batch(ctx, name)
	if err != nil {
		return err
	}
	if b.HeldBy != "batch" || b.Parked == 0 || (b.MaxJobs > 0 && b.Jobs >= b.MaxJobs) {
		return nil
	}
	_, err = h.unparkBatch(ctx, name)
	return err
}

func (h *Handlers) unparkBatch(ctx context.Context, name string) (int, error) {
	n, err := Controls{Store: h.store, Queue: h.queue, Log: h.log}.Unpark(ctx, name)
	if n > 0 {
		h.log.Info("items held by the batch's job cap queued again", zap.String("batch", name), zap.Int("items", n))
	}
	return n, err
}

// unparkAccountHeld queues again the parked items of every batch held by the
// account's cap, when today's jobs are under it (or there is none); it returns how
// many. Items still over a cap park again.
func (h *Handlers) unparkAccountHeld(ctx context.Context, batches []batch.BatchRecord) (int, error) {
	if limit := h.set.AccountMaxJobsPerDay; limit > 0 {
		n, err := h.store.AccountJobs(ctx, h.now())
		if err != nil {
			return 0, err
		}
		if n >= limit {
			return 0, nil
		}
	}
	c := Controls{Store: h.store, Queue: h.queue, Log: h.log}
	total := 0
	for _, b := range batches {
		if b.HeldBy != "account" || b.Parked == 0 {
			continue
		}
		n, err := c.Unpark(ctx, b.Name)
		total += n
		if err != nil {
			return total, fmt.Errorf("account cap: %w", err)
		}
	}
	return total, nil
}
