package batch

import (
	"fmt"
	"testing"
)

// BenchmarkAddItems adds new items in chunks of 500 (one AddItems call, one round
// trip each), as the producer does with a large manifest.
func BenchmarkAddItems(b *testing.B) {
	s, _ := setupStore(b)
	ctx := b.Context()
	const chunk = 500
	items := songItems("x", chunk)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range items {
			items[i].ID = fmt.Sprintf("i%09d", n)
			n++
		}
		res, err := s.AddItems(ctx, "bench", "big.jsonl", items)
		if err != nil || res.Added != chunk {
			b.Fatalf("AddItems: %+v %v", res, err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "items/s")
}
