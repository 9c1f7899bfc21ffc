package manifest

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"runtime"
	"slices"
	"testing"
)

func TestHashSet(t *testing.T) {
	t.Parallel()
	s := newHashSet()
	defer s.t.free()
	if !s.add("a") || !s.add("b") || s.add("a") || !s.add("A") || !s.add("") || s.add("") {
		t.Error("hashSet add: wrong novelty")
	}
	if s.len() != 4 {
		t.Errorf("len %d, want 4", s.len())
	}
}

// checkTables checks every shard: a power-of-two size, at most 70 % full, and as many
// used slots as it counts.
func checkTables(t *testing.T, s hashSet) {
	t.Helper()
	for i, tab := range s.t {
		used := 0
		for _, h := range tab.slots {
			if h != emptySlot {
				used++
				if int(h>>(64-hashShardBits)) != i {
					t.Fatalf("shard %d holds hash %#x of shard %d", i, h, h>>(64-hashShardBits))
				}
			}
		}
		if used != tab.n || (len(tab.slots) > 0 && bits.OnesCount(uint(len(tab.slots))) != 1) || tab.n*10 > len(tab.slots)*7 {
			t.Fatalf("shard %d: %d slots, %d used, counts %d", i, len(tab.slots), used, tab.n)
		}
	}
}

// The tables grow from 16 slots a shard past offHeapBytes (to off-heap tables on
// Unix), keeping every string and finding every one again.
func TestHashSetGrows(t *testing.T) {
	t.Parallel()
	const n = 200_000
	s := newHashSet()
	defer s.t.free()
	for i := range n {
		if !s.add(fmt.Sprintf("s%07d", i)) {
			t.Fatalf("string %d reported as a duplicate", i)
		}
		if i == 100 {
			checkTables(t, s)
		}
	}
	checkTables(t, s)
	if s.len() != n {
		t.Fatalf("len %d, want %d", s.len(), n)
	}
	// Between 70 % and 35 % full: a shard doubles only past 70 %.
	if got := s.slots(); got*7 < n*10 || got*7 > n*20 {
		t.Errorf("%d slots for %d strings", got, n)
	}
	for i := range n {
		if s.add(fmt.Sprintf("s%07d", i)) {
			t.Fatalf("string %d added twice", i)
		}
	}
	if s.len() != n {
		t.Fatalf("len %d after re-adding, want %d", s.len(), n)
	}

	// free empties the set, which stays usable.
	s.t.free()
	if s.len() != 0 || s.slots() != 0 {
		t.Fatalf("after free: len %d, %d slots", s.len(), s.slots())
	}
	if !s.add("s0000001") || s.add("s0000001") {
		t.Error("set unusable after free")
	}
}

// Zero marks an empty slot, so a zero hash is stored as zeroHash, through growth.
func TestHashSetZeroHash(t *testing.T) {
	t.Parallel()
	s := newHashSet()
	defer s.t.free()
	if !s.addHash(0) || s.addHash(0) {
		t.Fatal("zero hash: wrong novelty")
	}
	if s.addHash(zeroHash) {
		t.Error("zeroHash is new next to the zero hash that stands for it")
	}
	// Shard 0 (small hashes) grows several times; the zero hash must stay found.
	for h := uint64(2); h < 5000; h++ {
		if !s.addHash(h) {
			t.Fatalf("hash %d reported as a duplicate", h)
		}
	}
	checkTables(t, s)
	if s.addHash(0) || s.addHash(zeroHash) || s.len() != 4999 {
		t.Errorf("after growth: zero hash new again, or len %d, want 4999", s.len())
	}
	if !slices.Contains(s.t[0].slots, zeroHash) {
		t.Error("zero hash not stored as zeroHash")
	}
}

// Hashes sharing their home slot cluster, and wrap around the table's end.
func TestHashSetCollidingSlots(t *testing.T) {
	t.Parallel()
	s := newHashSet()
	defer s.t.free()
	const n = 3000
	home := uint64(1<<32 - 1) // the last slot of every table: probing wraps at once
	for i := range uint64(n) {
		if !s.addHash(i<<32 | home) {
			t.Fatalf("hash %d reported as a duplicate", i)
		}
	}
	checkTables(t, s)
	for i := range uint64(n) {
		if s.addHash(i<<32 | home) {
			t.Fatalf("hash %d added twice", i)
		}
	}
	if s.len() != n {
		t.Errorf("len %d, want %d", s.len(), n)
	}
}

// ReadManifests frees its sets when it ends, even when its caller stops early, and a
// set then left to the garbage collector is freed by its cleanup (not observable here
// beyond not crashing under -race).
func TestBatchSetsRelease(t *testing.T) {
	t.Parallel()
	sets := newBatchSets(true)
	for i := range 100_000 {
		sets.ids.add(fmt.Sprint(i))
	}
	sets.release()
	if sets.ids.len() != 0 || sets.ids.slots() != 0 {
		t.Errorf("after release: %d ids in %d slots", sets.ids.len(), sets.ids.slots())
	}
	for range 3 {
		s := newBatchSets(true)
		for i := range 100_000 {
			s.ids.add(fmt.Sprint(i))
		}
	}
	runtime.GC()
	runtime.GC()
}

// BenchmarkHashSet adds a million ids, as reading a million-line manifest does, and
// reports the table's bytes per id, next to a Go map of the same hashes (its heap
// growth, measured after a collection).
func BenchmarkHashSet(b *testing.B) {
	const n = 1_000_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("s%07d", i)
	}
	b.Run("flat", func(b *testing.B) {
		per := 0.0
		for b.Loop() {
			s := newHashSet()
			for _, id := range ids {
				s.add(id)
			}
			per = float64(s.slots()*8) / n
			s.t.free()
		}
		b.ReportMetric(per, "B/id")
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "ids/s")
	})
	b.Run("map", func(b *testing.B) {
		per := 0.0
		seed := maphash.MakeSeed()
		for b.Loop() {
			var before, after runtime.MemStats
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.StartTimer()
			seen := make(map[uint64]struct{})
			for _, id := range ids {
				seen[maphash.String(seed, id)] = struct{}{}
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			per = float64(after.HeapAlloc-before.HeapAlloc) / n
			runtime.KeepAlive(seen)
			b.StartTimer()
		}
		b.ReportMetric(per, "B/id")
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "ids/s")
	})
}
