package sim

import (
	"container/heap"
	"time"
)

// Job states are computed lazily from timestamps whenever a job is read. The scheduler
// only makes sure that side effects (output files, models, callbacks, timeouts) happen
// on time even when nobody reads: it wakes at the earliest due time and advances the
// jobs that are due.

type dueItem struct {
	at time.Time
	j  *job
}

type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, k int) bool { return h[i].at.Before(h[k].at) }
func (h dueHeap) Swap(i, k int)      { h[i], h[k] = h[k], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// scheduleLocked asks the scheduler to advance j at at. Stale entries are harmless:
// advancing is idempotent.
func (s *Server) scheduleLocked(j *job, at time.Time) {
	if j.scheduled && j.scheduledAt.Equal(at) {
		return
	}
	j.scheduled, j.scheduledAt = true, at
	heap.Push(&s.due, dueItem{at: at, j: j})
	s.nudge()
}

func (s *Server) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Server) runScheduler() {
	for {
		s.mu.Lock()
		now := s.clock.Now()
		for s.due.Len() > 0 && !s.due[0].at.After(now) {
			it := heap.Pop(&s.due).(dueItem)
			if it.j.scheduledAt.Equal(it.at) {
				it.j.scheduled = false
			}
			s.advanceLocked(it.j, now)
		}
		var t Timer
		if s.due.Len() > 0 {
			t = s.clock.AfterFunc(s.due[0].at.Sub(now), s.nudge)
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		if s.ctx.Err() != nil {
			return
		}
	}
}
