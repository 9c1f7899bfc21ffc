package tasks

import (
	"sync"
	"time"
)

// estimateCacheTTL is how long a class's estimate is reused before it is read again:
// every poll needs one, and 64 timings barely move in a second, while reading and
// sorting them was a sizeable share of a poll's cost (docs/BENCHMARKS.md, overhead).
const estimateCacheTTL = time.Second

// estimateCache keeps each class's latest Estimate for estimateCacheTTL. An unknown
// class (no timing yet) is never kept: its first sample must be seen at once.
type estimateCache struct {
	mu      sync.Mutex
	byClass map[string]cachedEstimate
}

type cachedEstimate struct {
	est  Estimate
	read time.Time
}

func newEstimateCache() *estimateCache {
	return &estimateCache{byClass: map[string]cachedEstimate{}}
}

// get returns the class's estimate if it was read within the TTL before now.
func (c *estimateCache) get(class string, now time.Time) (Estimate, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byClass[class]
	if !ok || now.Sub(e.read) >= estimateCacheTTL || now.Before(e.read) {
		return Estimate{}, false
	}
	return e.est, true
}

func (c *estimateCache) put(class string, est Estimate, now time.Time) {
	if est.N() == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byClass[class] = cachedEstimate{est: est, read: now}
}
