package manifest

import "hash/maphash"

// hashSet is a set of strings that keeps only a 64-bit hash of each, so that a million
// ids take a few tens of MB whatever their length (docs/BENCHMARKS.md measures enqueue). Two
// different strings collide with probability about n²/2⁶⁵ (3·10⁻⁸ for a million),
// which would report a false duplicate.
type hashSet struct {
	seed maphash.Seed
	m    map[uint64]struct{}
}

func newHashSet() hashSet {
	return hashSet{seed: maphash.MakeSeed(), m: map[uint64]struct{}{}}
}

// add adds str and reports whether it was new.
func (s hashSet) add(str string) bool {
	return s.addHash(maphash.String(s.seed, str))
}

// addHash adds a hash and reports whether it was new.
func (s hashSet) addHash(h uint64) bool {
	if _, ok := s.m[h]; ok {
		return false
	}
	s.m[h] = struct{}{}
	return true
}

// len returns how many hashes the set holds.
func (s hashSet) len() int { return len(s.m) }
