package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
)

// runNaive is the poller a user writes first: each of tasks.DefaultConcurrency
// goroutines takes an item, creates its job, and asks for it every interval until it
// ends. The same rate limiter paces its calls.
func runNaive(ctx context.Context, w *world, manifestPath string, interval time.Duration) ([]finished, error) {
	var reqs []upstream.CreateJobRequest
	for it, err := range manifest.Read([]string{manifestPath}, nil, manifest.FormatAuto) {
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, it.Spec.Request(it.Kind, it.Model))
	}
	work := make(chan upstream.CreateJobRequest)
	var (
		mu   sync.Mutex
		out  []finished
		errs []error
		wg   sync.WaitGroup
	)
	for range tasks.DefaultConcurrency {
		wg.Go(func() {
			for req := range work {
				f, err := naiveJob(ctx, w.api, req, interval)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					out = append(out, f)
				}
				mu.Unlock()
			}
		})
	}
	for _, r := range reqs {
		work <- r
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("naive poller: %d jobs failed, first: %w", len(errs), errs[0])
	}
	return out, nil
}

func naiveJob(ctx context.Context, api *upstream.Client, req upstream.CreateJobRequest, interval time.Duration) (finished, error) {
	job, err := api.CreateJob(ctx, &req)
	if err != nil {
		return finished{}, err
	}
	for {
		select {
		case <-ctx.Done():
			return finished{}, ctx.Err()
		case <-time.After(interval):
		}
		j, err := api.GetJob(ctx, job.ID)
		if err != nil {
			continue // a naive poller asks again
		}
		if j.State.Final() {
			return finished{jobID: j.ID, recorded: time.Now()}, nil
		}
	}
}
