package limiter

import (
	"context"
	"sync"
)

// turns lets one waiter of a share at a time talk to Redis, handing the turn to the
// highest priority waiting, except that a priority passed over StarveAfter times in a
// row goes next. Within a priority, first come first served.
type turns struct {
	mu     sync.Mutex
	busy   bool
	queue  [priorityLevels][]chan struct{}
	passed [priorityLevels]int // hand-overs since the level's waiters last had one
}

func newTurns() *turns { return &turns{} }

// acquire waits for the turn; on ctx's end it returns ctx.Err() without the turn.
func (t *turns) acquire(ctx context.Context, p Priority) error {
	lv := p.level()
	t.mu.Lock()
	if !t.busy {
		t.busy = true
		t.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	t.queue[lv] = append(t.queue[lv], ready)
	t.mu.Unlock()

	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		t.mu.Lock()
		select {
		case <-ready: // handed over just now: pass it on
			t.mu.Unlock()
			t.release()
		default:
			t.remove(lv, ready)
			t.mu.Unlock()
		}
		return ctx.Err()
	}
}

// remove drops a waiter that gave up. The caller holds mu.
func (t *turns) remove(lv int, ready chan struct{}) {
	for i, c := range t.queue[lv] {
		if c == ready {
			t.queue[lv] = append(t.queue[lv][:i], t.queue[lv][i+1:]...)
			return
		}
	}
}

// release hands the turn to the next waiter, or frees it.
func (t *turns) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := -1
	for lv := priorityLevels - 1; lv >= 0; lv-- { // the most starved lowest level first
		if len(t.queue[lv]) > 0 && t.passed[lv] >= StarveAfter {
			next = lv
			break
		}
	}
	if next < 0 {
		for lv := range priorityLevels {
			if len(t.queue[lv]) > 0 {
				next = lv
				break
			}
		}
	}
	if next < 0 {
		t.busy = false
		return
	}
	for lv := range priorityLevels {
		if lv != next && len(t.queue[lv]) > 0 {
			t.passed[lv]++
		}
	}
	t.passed[next] = 0
	ready := t.queue[next][0]
	t.queue[next] = t.queue[next][1:]
	close(ready)
}

// higherWaiting reports whether a waiter of a higher priority than p waits for the turn.
// waiting reports whether any waiter queues for the turn.
func (t *turns) waiting() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, q := range t.queue {
		if len(q) > 0 {
			return true
		}
	}
	return false
}

func (t *turns) higherWaiting(p Priority) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for lv := range p.level() {
		if len(t.queue[lv]) > 0 {
			return true
		}
	}
	return false
}
