package sim

import "sync"

// tracker owns the simulator's goroutines and in-flight handlers so Close can stop
// them and wait: nothing is started once it is closed.
type tracker struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// add registers one unit of work; false once closed.
func (t *tracker) add() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

func (t *tracker) done() { t.wg.Done() }

// goFunc runs f in a tracked goroutine; false (and f not run) once closed.
func (t *tracker) goFunc(f func()) bool {
	if !t.add() {
		return false
	}
	go func() {
		defer t.done()
		f()
	}()
	return true
}

func (t *tracker) closeAndWait() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}
