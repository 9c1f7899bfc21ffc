package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"syscall"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// disturb runs the process faults while the batch runs: the kills, one SIGTERM, one
// Redis restart, throttling bursts and forged callbacks, spread over the time the run
// should take. What it did is counted in r.events; the batch may end before it is
// through, and the report says how many happened.
func (r *run) disturb(ctx context.Context) {
	// calls ≈ 2.3 per item at the rate: the expected length of the run.
	expected := time.Duration(float64(r.p.Items) * 2.3 / float64(r.p.Rate) * float64(time.Second))
	// Kills throughout; a throttling burst a quarter of the way in and another at three
	// quarters, while the backlog is busy; the SIGTERM and the Redis restart mid-way.
	var events []string
	for range r.p.Kills {
		events = append(events, "kill")
	}
	insert := func(at int, ev ...string) {
		events = append(events[:at], append(ev, events[at:]...)...)
	}
	insert(len(events)*3/4, "burst")
	insert(len(events)/2, "sigterm", "redis")
	insert(len(events)/4, "burst")
	step := max(expected/time.Duration(len(events)+2), 500*time.Millisecond)
	forgedEach := max(1, r.p.Forged/len(events))
	for _, ev := range events {
		select {
		case <-ctx.Done():
			return
		case <-time.After(step):
		}
		switch ev {
		case "kill":
			i := r.rng.IntN(r.p.Workers)
			r.stopWorker(i, syscall.SIGKILL)
			r.events.Kills++
			r.restart(i)
		case "sigterm":
			i := r.rng.IntN(r.p.Workers)
			r.stopWorker(i, syscall.SIGTERM)
			r.events.SIGTERMs++
			r.restart(i)
		case "redis":
			r.redis.Kill()
			time.Sleep(time.Second) // down for a second: the workers must ride it out
			if err := r.redis.Restart(ctx); err != nil {
				r.logf("redis restart: %v", err)
				continue
			}
			r.events.RedisRestarts++
		case "burst":
			// The service throttles hard for two seconds (a fifth of the rate).
			_ = r.sim.SetRate(max(1, r.p.Rate/5))
			time.Sleep(2 * time.Second)
			_ = r.sim.SetRate(r.p.Rate)
			r.events.ThrottleBursts++
		}
		for range forgedEach {
			if r.events.ForgedSent < r.p.Forged {
				r.forge(ctx)
			}
		}
		r.logf("%s done (kills %d, forged %d)", ev, r.events.Kills, r.events.ForgedSent)
	}
	for r.events.ForgedSent < r.p.Forged && ctx.Err() == nil {
		r.forge(ctx)
	}
}

// restart starts slot i again after a short while down.
func (r *run) restart(i int) {
	time.Sleep(300 * time.Millisecond)
	if err := r.startWorker(i); err != nil {
		r.logf("restart: %v", err)
	}
}

// forge posts a callback a stranger made up for a real item: its own job, said
// completed with a result of the stranger's, on the item's own path, with a token the
// stranger had to guess. An item whose job is still running is the prize, if one is
// found. A 2xx reply counts as accepted.
func (r *run) forge(ctx context.Context) {
	rec, job, ok := r.forgeryTarget(ctx)
	if !ok {
		return
	}
	job.State = upstream.StateCompleted
	job.Timing.CompletedAt = upstream.Millis(time.Now().UnixMilli())
	job.Outputs = []upstream.Output{{SmartContentResult: &upstream.SmartContentResult{
		SingingCloning: &upstream.SingingCloningResult{SongName: forgedSongName, ModelName: forgedSongName}}}}
	body, err := json.Marshal(job)
	if err != nil {
		return
	}
	guess := make([]byte, 32)
	for i := range guess {
		guess[i] = byte(r.rng.UintN(256))
	}
	path := fmt.Sprintf("/cb/v1/%s/%s/%d/%s", chaosBatch, rec.ID, rec.Attempt, base64.RawURLEncoding.EncodeToString(guess))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.proxy.URL()+path, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		if resp.StatusCode/100 == 2 {
			r.events.ForgedAccepted++
		}
		_ = resp.Body.Close()
	}
	r.events.ForgedSent++
}

// forgeryTarget picks an item that has a job, preferring one whose job runs still.
func (r *run) forgeryTarget(ctx context.Context) (batch.ItemRecord, upstream.Job, bool) {
	var found batch.ItemRecord
	for range 20 {
		rec, err := r.store.Item(ctx, chaosBatch, r.itemID(r.rng.IntN(r.p.Items)))
		if err != nil || rec.JobID == "" {
			continue
		}
		found = rec
		if rec.State == batch.StateSubmitted {
			break
		}
	}
	if found.JobID == "" {
		return found, upstream.Job{}, false
	}
	job, ok := r.sim.Job(found.JobID)
	return found, job, ok
}

// forgedSongName marks a forged result: found in a record, a forged callback was taken.
const forgedSongName = "FORGED-by-a-stranger.wav"
