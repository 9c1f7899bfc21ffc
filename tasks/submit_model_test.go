package tasks

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// The service's model list is fetched once per period: a hit needs no call, a miss
// refreshes a list older than the period and no younger one.
func TestModelCache(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	calls := 0
	names := []string{"a_v1"}
	list := func(context.Context) ([]upstream.Model, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		out := make([]upstream.Model, len(names))
		for i, n := range names {
			out[i] = upstream.Model{Name: n}
		}
		return out, nil
	}
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := newModelCache(list, time.Minute, clock)
	ctx := context.Background()
	check := func(name string, want bool, wantCalls int) {
		t.Helper()
		got, err := c.listed(ctx, name)
		mu.Lock()
		n := calls
		mu.Unlock()
		if err != nil || got != want || n != wantCalls {
			t.Errorf("listed(%s) = %v, %v after %d calls; want %v after %d", name, got, err, n, want, wantCalls)
		}
	}
	check("a_v1", true, 1)
	check("a_v1", true, 1)
	check("b_v1", false, 1) // a miss within the period: no call
	mu.Lock()
	names = append(names, "b_v1")
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	check("a_v1", true, 1) // a hit never refreshes
	check("b_v1", true, 2) // a miss past the period refreshes once
	check("c_v1", false, 2)
}
