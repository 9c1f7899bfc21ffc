package tasks

import (
	"testing"
	"time"
)

// A class's estimate is reused for estimateCacheTTL, read again after it, and replaced
// by the window a timing's write returned (learn); an unknown class is never kept.
func TestEstimateCache(t *testing.T) {
	t.Parallel()
	c := newEstimateCache()
	t0 := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	known := estimateOf(10*time.Second, 12*time.Second)
	c.put("song", known, t0)
	c.put("train", Estimate{}, t0)
	if got, ok := c.get("song", t0.Add(estimateCacheTTL-time.Millisecond)); !ok || got.Median() != known.Median() {
		t.Errorf("within the TTL: %v, %v; want the estimate kept", got.Median(), ok)
	}
	if _, ok := c.get("song", t0.Add(estimateCacheTTL)); ok {
		t.Error("estimate still served at the TTL")
	}
	if _, ok := c.get("song", t0.Add(-time.Second)); ok {
		t.Error("estimate served for a time before it was read (clock went back)")
	}
	if _, ok := c.get("train", t0); ok {
		t.Error("an unknown class's empty estimate was kept")
	}
	newer := estimateOf(2*time.Second, 3*time.Second)
	c.put("song", newer, t0.Add(time.Millisecond))
	if got, ok := c.get("song", t0.Add(estimateCacheTTL)); !ok || got.Median() != newer.Median() {
		t.Errorf("after a newer put: %v, %v; want the newer estimate, kept from its own put", got.Median(), ok)
	}
}
