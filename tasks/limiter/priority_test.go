package limiter

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream"
)

func TestPriorityOf(t *testing.T) {
	t.Parallel()
	if got := PriorityOf(context.Background()); got != PriorityNormal {
		t.Errorf("PriorityOf(no priority) = %v, want normal", got)
	}
	for _, p := range []Priority{PriorityHigh, PriorityNormal, PriorityLow} {
		if got := PriorityOf(WithPriority(context.Background(), p)); got != p {
			t.Errorf("PriorityOf(%v) = %v", p, got)
		}
	}
	if got := PriorityOf(WithPriority(context.Background(), 7)); got != PriorityLow {
		t.Errorf("PriorityOf(out of range) = %v, want the lowest", got)
	}
}

// queueTurns has one goroutine per priority in ps acquire t (held by the caller), in
// that order, and returns the order in which they get the turn as the caller releases
// it once per waiter.
func queueTurns(t *testing.T, ps []Priority) []Priority {
	t.Helper()
	tr := newTurns()
	if err := tr.acquire(context.Background(), PriorityNormal); err != nil {
		t.Fatal(err)
	}
	got := make(chan Priority, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			if err := tr.acquire(context.Background(), p); err != nil {
				t.Error(err)
				return
			}
			got <- p
			tr.release()
		})
		// Queued in order: wait until this one is in the queue.
		for queued := 0; queued <= i; {
			tr.mu.Lock()
			queued = len(tr.queue[0]) + len(tr.queue[1]) + len(tr.queue[2])
			tr.mu.Unlock()
		}
	}
	tr.release()
	wg.Wait()
	close(got)
	var order []Priority
	for p := range got {
		order = append(order, p)
	}
	return order
}

func TestTurnsGoToTheHighestPriority(t *testing.T) {
	t.Parallel()
	H, N, L := PriorityHigh, PriorityNormal, PriorityLow
	got := queueTurns(t, []Priority{L, N, L, H, N, H})
	want := []Priority{H, H, N, N, L, L}
	if !equalPriorities(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestTurnsNeverStarveALowerPriority(t *testing.T) {
	t.Parallel()
	H, L := PriorityHigh, PriorityLow
	ps := []Priority{L, L}
	for range 20 {
		ps = append(ps, H)
	}
	got := queueTurns(t, ps)
	// The first release hands over to a high waiter without passing the lows (the
	// caller's own turn); then each low is passed over StarveAfter times at most.
	var want []Priority
	for range StarveAfter {
		want = append(want, H)
	}
	want = append(want, L)
	for range StarveAfter {
		want = append(want, H)
	}
	want = append(want, L, H, H)
	if !equalPriorities(got, want) {
		t.Errorf("order %v,\nwant  %v", got, want)
	}
}

func TestTurnsAcquireCanceled(t *testing.T) {
	t.Parallel()
	tr := newTurns()
	if err := tr.acquire(context.Background(), PriorityNormal); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := tr.acquire(ctx, PriorityHigh); err == nil {
		t.Fatal("acquire of a held turn returned before its context ended")
	}
	if tr.higherWaiting(PriorityLow) {
		t.Error("a canceled waiter is still queued")
	}
	tr.release()
	if err := tr.acquire(context.Background(), PriorityLow); err != nil { // free again
		t.Fatal(err)
	}
}

func equalPriorities(a, b []Priority) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Two processes, one with a backlog of low submissions and one with a backlog of high
// ones: high gets most of the rate, low still gets some. Without priorities they would
// split it about evenly (the share test shows per-process contention does).
func TestLimiterPriorityAcrossProcesses(t *testing.T) {
	t.Parallel()
	const rate, d = 20, 3 * time.Second
	srv := redistest.Start(t, redistest.Options{})
	ls := newLimiters(t, srv, 2, Options{Rate: rate})

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu     sync.Mutex
		counts = map[Priority]int{}
		wg     sync.WaitGroup
	)
	for i, p := range []Priority{PriorityLow, PriorityHigh} {
		pctx := WithPriority(ctx, p)
		for range 4 {
			wg.Go(func() {
				for waitRelease(pctx, ls[i], upstream.ActionCreateJob) == nil {
					mu.Lock()
					counts[p]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	high, low := counts[PriorityHigh], counts[PriorityLow]
	total := high + low
	if total == 0 {
		t.Fatal("no grant")
	}
	if float64(high)/float64(total) < 0.75 {
		t.Errorf("high got %d of %d grants, want at least 75 %%", high, total)
	}
	if low == 0 {
		t.Errorf("low got no grant in %v: starved", d)
	}
	if y := ls[0].Stats().Submit.Yielded; y == 0 {
		t.Error("no low grant counted as having yielded")
	}
	t.Logf("high %d, low %d (low yielded first %d times)", high, low, ls[0].Stats().Submit.Yielded)
}
