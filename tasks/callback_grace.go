package tasks

import (
	"slices"
	"sync"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// A job whose callback never comes is found by its backstop poll, CallbackGrace past
// the longest job of its class seen. The configured grace is a guess made before any
// callback was seen (30 s by default); the callbacks themselves say how late they come.
// So the handlers keep the delays of the last callbackDelayWindow callbacks this
// process received (from the job's end, on the service's clock, to its arrival here)
// and, once callbackDelayMinSamples are known, use twice the longest of them, never
// above the configured grace nor below MinInterval. A service that sends callbacks late
// teaches a long grace; one that sends them at once lets a lost one be noticed soon.

const (
	callbackDelayWindow     = 64
	callbackDelayMinSamples = 16
)

// callbackDelays is the window of recent callback delays. Safe for concurrent use.
type callbackDelays struct {
	mu     sync.Mutex
	delays []time.Duration // oldest first, at most callbackDelayWindow
}

// note adds one callback's delay.
func (c *callbackDelays) note(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.delays) == callbackDelayWindow {
		c.delays = c.delays[1:]
	}
	c.delays = append(c.delays, max(d, 0))
}

// grace is the backstop's grace: configured until enough delays are known.
func (c *callbackDelays) grace(configured, floor time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.delays) < callbackDelayMinSamples {
		return configured
	}
	return min(configured, max(2*slices.Max(c.delays), floor))
}

// noteCallbackDelay learns from a callback of a submitted item how late callbacks come:
// its arrival now against the job's end, placed on our clock by the submission time and
// the service's own createdAt → completedAt (no clock skew between the two).
func (h *Handlers) noteCallbackDelay(rec batch.ItemRecord, job *upstream.Job) {
	total, ok := serviceOffset(job.Timing.CreatedAt, job.Timing.CompletedAt)
	if !ok || rec.State != batch.StateSubmitted || rec.SubmittedAt.IsZero() {
		return
	}
	h.cbDelays.note(h.now().Sub(rec.SubmittedAt.Add(total)))
}

// pollTiming is the poll settings with the learned callback grace.
func (h *Handlers) pollTiming() PollTiming {
	pt := h.set.Poll
	if pt.callbacks {
		pt.CallbackGrace = h.cbDelays.grace(pt.CallbackGrace, pt.MinInterval)
	}
	return pt
}
