package tasks

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// accountCapCheck is how often a worker looks whether items parked over the account's
// daily cap may go on (a new day began, or workers run with a higher cap).
const accountCapCheck = time.Minute

// watchAccountCap hands back the items parked over ACCOUNT_MAX_JOBS_PER_DAY once the
// account may create jobs again: at start (the cap may have been raised or removed)
// and every accountCapCheck (a new UTC day), one process at a time.
func (h *Handlers) watchAccountCap(ctx context.Context) {
	t := time.NewTicker(accountCapCheck)
	defer t.Stop()
	for {
		if first, err := h.store.TryOnce(ctx, "account-cap-check", accountCapCheck/2); err == nil && first {
			if n, err := h.unparkAccountHeld(ctx); err != nil && ctx.Err() == nil {
				h.log.Warn("cannot hand back the items held by the account's daily cap", zap.Error(err))
			} else if n > 0 {
				h.log.Info("items held by the account's daily cap queued again", zap.Int("items", n))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// unparkAccountHeld queues again the parked items of every batch held by the
// account's cap, when today's jobs are under it (or there is none); it returns how
// many. Items still over a cap park again.
func (h *Handlers) unparkAccountHeld(ctx context.Context) (int, error) {
	if limit := h.set.AccountMaxJobsPerDay; limit > 0 {
		n, err := h.store.AccountJobs(ctx, h.now())
		if err != nil {
			return 0, err
		}
		if n >= limit {
			return 0, nil
		}
	}
	batches, err := h.store.Batches(ctx)
	if err != nil {
		return 0, fmt.Errorf("account cap: %w", err)
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
			return total, err
		}
	}
	return total, nil
}
