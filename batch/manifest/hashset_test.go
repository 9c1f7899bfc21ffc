package manifest

import (
	"fmt"
	"runtime"
	"testing"
)

func TestHashSet(t *testing.T) {
	t.Parallel()
	s := newHashSet()
	if !s.add("a") || !s.add("b") || s.add("a") || !s.add("A") || !s.add("") || s.add("") {
		t.Error("hashSet add: wrong novelty")
	}
	if s.len() != 4 {
		t.Errorf("len %d, want 4", s.len())
	}
}

// BenchmarkHashSet adds a million ids, as reading a million-line manifest does, and
// reports the set's heap growth per id, measured after a collection.
func BenchmarkHashSet(b *testing.B) {
	const n = 1_000_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%07d", i)
	}
	per := 0.0
	for b.Loop() {
		var before, after runtime.MemStats
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		s := newHashSet()
		for _, id := range ids {
			s.add(id)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		per = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(s)
		b.StartTimer()
	}
	b.ReportMetric(per, "B/id")
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "ids/s")
}
