package manifest

import "hash/maphash"

// hashSet is a set of strings that keeps only a 64-bit hash of each, in flat
// open-addressing tables (linear probing, each grown by doubling at 70 % load), so that
// a million ids take 16 MB at most: 2²¹ slots of 8 bytes. A flat, pointer-free slice
// has no per-entry overhead (no buckets, no control bytes, nothing for the garbage
// collector to scan), where a Go map of the same hashes takes some 38 bytes per id
// (BenchmarkHashSet). Two different strings collide with probability about n²/2⁶⁵
// (3·10⁻⁸ for a million), which would report a false duplicate.
//
// The hashes are spread over hashShards tables by their top bits, so that a doubling
// copies one shard, not the whole set: while it runs, only that shard's old table is
// extra, where a single table would briefly take 1.5 times its new size. Tables of
// offHeapBytes or more live outside the Go heap (see allocSlots): in it, a 16 MB table
// would let the garbage collector's pacing (GOGC=100) keep up to 16 MB more of garbage
// around, which the reader's short-lived allocations fill.
type hashSet struct {
	seed maphash.Seed
	t    *hashTables
}

// hashShards is how many tables a set has; hashShardBits selects one.
const (
	hashShardBits = 4
	hashShards    = 1 << hashShardBits
)

// hashTables are a set's tables. They are freed explicitly, not by the garbage
// collector (see batchSets).
type hashTables [hashShards]hashTable

// hashTable is one open-addressing table of hashes.
type hashTable struct {
	slots []uint64 // len is 0 or a power of two; emptySlot marks a free slot
	n     int      // slots in use
}

const (
	emptySlot = 0
	// zeroHash stands for a string whose hash is emptySlot. That string then shares its
	// hash with those hashing to zeroHash: a collision as unlikely as any other.
	zeroHash = 1
	// minSlots is the size of a shard's first table: a set of model names mostly stays
	// this small.
	minSlots = 16
)

func newHashSet() hashSet {
	return hashSet{seed: maphash.MakeSeed(), t: new(hashTables)}
}

// add adds str and reports whether it was new.
func (s hashSet) add(str string) bool {
	return s.addHash(maphash.String(s.seed, str))
}

// addHash adds a hash and reports whether it was new.
func (s hashSet) addHash(h uint64) bool {
	if h == emptySlot {
		h = zeroHash
	}
	// The top bits choose the shard, the bottom ones the home slot in it.
	return s.t[h>>(64-hashShardBits)].add(h)
}

// len returns how many hashes the set holds.
func (s hashSet) len() int {
	n := 0
	for i := range s.t {
		n += s.t[i].n
	}
	return n
}

// slots returns how many slots the set's tables have, for tests.
func (s hashSet) slots() int {
	n := 0
	for i := range s.t {
		n += len(s.t[i].slots)
	}
	return n
}

func (t *hashTable) add(h uint64) bool {
	// Keep the load at most 70 %: linear probing slows down fast beyond.
	if (t.n+1)*10 > len(t.slots)*7 {
		t.grow()
	}
	if !insertHash(t.slots, h) {
		return false
	}
	t.n++
	return true
}

// grow doubles the table (or makes the first one) and re-inserts every hash.
func (t *hashTable) grow() {
	slots := allocSlots(max(minSlots, 2*len(t.slots)))
	for _, h := range t.slots {
		if h != emptySlot {
			insertHash(slots, h)
		}
	}
	freeSlots(t.slots)
	t.slots = slots
}

// insertHash puts h, which is not emptySlot, in the first free slot from its home slot
// on, unless it is already there; it reports whether it was put. slots must have a
// free slot, and a power-of-two length.
func insertHash(slots []uint64, h uint64) bool {
	mask := uint64(len(slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch slots[i] {
		case emptySlot:
			slots[i] = h
			return true
		case h:
			return false
		}
	}
}

// free returns every table's memory. The set is then empty, and usable.
func (t *hashTables) free() {
	for i := range t {
		freeSlots(t[i].slots)
		t[i] = hashTable{}
	}
}

// offHeapBytes is the smallest table allocSlots places outside the Go heap: a mapping
// is a whole number of pages, and a system call to make and to free.
const offHeapBytes = 64 << 10
