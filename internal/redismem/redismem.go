// Package redismem measures what Redis spends on keys: the server's used_memory (INFO
// memory) and a breakdown of MEMORY USAGE by key pattern, for the benchmarks' bytes per
// item (docs/redis-memory.md).
package redismem

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// UsedMemory is the server's used_memory (INFO memory): what its allocator holds for
// data and overhead. On a cluster client it is the sum over the masters.
func UsedMemory(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	var (
		mu    sync.Mutex
		total int64
	)
	err := eachNode(ctx, rdb, func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return fmt.Errorf("redismem: info memory: %w", err)
		}
		n, err := infoField(info, "used_memory")
		if err != nil {
			return err
		}
		mu.Lock()
		total += n
		mu.Unlock()
		return nil
	})
	return total, err
}

// infoField reads an integer field of an INFO reply.
func infoField(info, field string) (int64, error) {
	for line := range strings.SplitSeq(info, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("redismem: INFO %s: %w", field, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("redismem: INFO has no %s", field)
}

// Group is what Breakdown found of one pattern.
type Group struct {
	Pattern string // the Redis glob pattern; "" for the keys no pattern matched
	Keys    int64  // keys of the group
	// Sampled keys had their MEMORY USAGE read (SAMPLES 0: every element counted);
	// SampledBytes is their sum.
	Sampled      int
	SampledBytes int64
	// Bytes is the group's estimated total: SampledBytes scaled to Keys (exact when
	// every key was sampled).
	Bytes int64
	// Types counts the sampled keys by Redis type and encoding ("hash/listpack").
	Types map[string]int
}

// PerItem is the group's bytes divided by n items.
func (g Group) PerItem(n int) float64 {
	if n <= 0 {
		return 0
	}
	return float64(g.Bytes) / float64(n)
}

// String is "PATTERN: KEYS keys, BYTES bytes (TYPES)".
func (g Group) String() string {
	p := g.Pattern
	if p == "" {
		p = "(other)"
	}
	types := make([]string, 0, len(g.Types))
	for t, n := range g.Types {
		types = append(types, fmt.Sprintf("%s×%d", t, n))
	}
	sort.Strings(types)
	return fmt.Sprintf("%s: %d keys, %d bytes (%s)", p, g.Keys, g.Bytes, strings.Join(types, " "))
}

// DefaultSample is how many keys of a group Breakdown reads the MEMORY USAGE of.
const DefaultSample = 200

// Breakdown scans every key (SCAN, on each master of a cluster) and files each under
// the first of patterns (Redis glob syntax: * ? [...] \) it matches; keys that match
// none form a last group with Pattern "". Of each group it reads the MEMORY USAGE of
// the first sample keys found (DefaultSample when sample ≤ 0) and scales their sum to
// the group's key count. Groups come in the order of patterns, then the other keys
// (only when there are some).
//
// MEMORY USAGE counts a key's name, value and their allocations; it leaves out the
// keyspace's own hash table and allocator fragmentation, so the groups' sum is below
// the used_memory delta (UsedMemory) of writing the same keys.
func Breakdown(ctx context.Context, rdb redis.UniversalClient, sample int, patterns ...string) ([]Group, error) {
	if sample <= 0 {
		sample = DefaultSample
	}
	groups := make([]Group, len(patterns)+1)
	for i, p := range patterns {
		groups[i].Pattern = p
	}
	var mu sync.Mutex
	err := eachNode(ctx, rdb, func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, "", 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			gi := len(patterns)
			for i, p := range patterns {
				if Match(p, key) {
					gi = i
					break
				}
			}
			mu.Lock()
			g := &groups[gi]
			g.Keys++
			take := g.Sampled < sample
			if take {
				g.Sampled++ // reserved; undone below if the key is gone
			}
			mu.Unlock()
			if !take {
				continue
			}
			n, typ, err := usage(ctx, c, key)
			mu.Lock()
			if err == redis.Nil {
				g.Sampled--
				g.Keys--
			} else if err == nil {
				g.SampledBytes += n
				if g.Types == nil {
					g.Types = map[string]int{}
				}
				g.Types[typ]++
			}
			mu.Unlock()
			if err != nil && err != redis.Nil {
				return fmt.Errorf("redismem: memory usage %s: %w", key, err)
			}
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("redismem: scan: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range groups {
		g := &groups[i]
		if g.Sampled > 0 {
			g.Bytes = g.SampledBytes * g.Keys / int64(g.Sampled)
		}
	}
	if groups[len(patterns)].Keys == 0 {
		groups = groups[:len(patterns)]
	}
	return groups, nil
}

// usage is one key's MEMORY USAGE (every element counted) and "type/encoding".
func usage(ctx context.Context, c *redis.Client, key string) (int64, string, error) {
	var (
		mem  *redis.IntCmd
		typ  *redis.StatusCmd
		enc  *redis.StringCmd
		pipe = c.Pipeline()
	)
	mem = pipe.MemoryUsage(ctx, key, 0)
	typ = pipe.Type(ctx, key)
	enc = pipe.ObjectEncoding(ctx, key)
	_, _ = pipe.Exec(ctx)
	if err := mem.Err(); err != nil {
		return 0, "", err
	}
	return mem.Val(), typ.Val() + "/" + enc.Val(), nil
}

// eachNode calls f with every master of a cluster client, or with the client itself.
func eachNode(ctx context.Context, rdb redis.UniversalClient, f func(context.Context, *redis.Client) error) error {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, f)
	case *redis.Client:
		return f(ctx, c)
	default:
		return fmt.Errorf("redismem: unsupported client %T (want *redis.Client or *redis.ClusterClient)", rdb)
	}
}

// Match reports whether key matches the Redis glob pattern (stringmatchlen): * any
// run, ? one byte, [abc] [a-z] [^a] a class, \x the byte x.
func Match(pattern, key string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for len(pattern) > 1 && pattern[1] == '*' {
				pattern = pattern[1:]
			}
			if len(pattern) == 1 {
				return true
			}
			for i := 0; i <= len(key); i++ {
				if Match(pattern[1:], key[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(key) == 0 {
				return false
			}
			key = key[1:]
			pattern = pattern[1:]
		case '[':
			if len(key) == 0 {
				return false
			}
			end := strings.IndexByte(pattern[1:], ']')
			if end < 0 { // no closing bracket: a literal '['
				if key[0] != '[' {
					return false
				}
				key, pattern = key[1:], pattern[1:]
				continue
			}
			class := pattern[1 : 1+end]
			pattern = pattern[2+end:]
			neg := strings.HasPrefix(class, "^")
			if neg {
				class = class[1:]
			}
			hit := false
			for i := 0; i < len(class); i++ {
				if i+2 < len(class) && class[i+1] == '-' {
					lo, hi := class[i], class[i+2]
					if lo > hi {
						lo, hi = hi, lo
					}
					hit = hit || (key[0] >= lo && key[0] <= hi)
					i += 2
					continue
				}
				hit = hit || class[i] == key[0]
			}
			if hit == neg {
				return false
			}
			key = key[1:]
		case '\\':
			if len(pattern) > 1 {
				pattern = pattern[1:]
			}
			fallthrough
		default:
			if len(key) == 0 || key[0] != pattern[0] {
				return false
			}
			key, pattern = key[1:], pattern[1:]
		}
	}
	return len(key) == 0
}
