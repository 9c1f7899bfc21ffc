package redismem

import (
	"context"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/singbatch/singbatch/internal/redistest"
)

// TestMain fails the package when a test leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUsedMemoryAndBreakdown(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t, redistest.Options{}).Client(t)
	before, err := UsedMemory(ctx, rdb)
	if err != nil || before <= 0 {
		t.Fatalf("UsedMemory = %d, %v", before, err)
	}
	const n = 2000
	pipe := rdb.Pipeline()
	for i := range n {
		pipe.HSet(ctx, fmt.Sprintf("{p}:item:b:%05d", i), "state", "pending", "attempt", 1)
		pipe.Set(ctx, fmt.Sprintf("{p}:item-request:b:%05d", i), `{"url":"https://cdn.example.com/1.mp3"}`, 0)
	}
	pipe.SAdd(ctx, "{p}:batches", "b")
	pipe.Set(ctx, "unrelated", "x", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := UsedMemory(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	// Two small keys per item cost well over 100 and well under 1000 bytes.
	if per := float64(after-before) / n; per < 100 || per > 1000 {
		t.Errorf("used_memory grew %d bytes: %.0f per item", after-before, per)
	}

	groups, err := Breakdown(ctx, rdb, 100, "{p}:item:*", "{p}:item-request:*", "{p}:batches")
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 4 {
		t.Fatalf("got %d groups, want 3 patterns and the others: %v", len(groups), groups)
	}
	want := []struct {
		keys int64
		typ  string
	}{{n, "hash/listpack"}, {n, "string/embstr"}, {1, ""}, {1, "string/embstr"}} // a small set is an intset, listpack or hashtable by version
	for i, w := range want {
		g := groups[i]
		if g.Keys != w.keys || g.Sampled != min(int(w.keys), 100) || g.Bytes <= 0 ||
			(w.typ != "" && g.Types[w.typ] != g.Sampled) {
			t.Errorf("group %d: %v, want %d keys of %s", i, g, w.keys, w.typ)
		}
		t.Log(g, fmt.Sprintf("%.1f B/item", g.PerItem(n)))
	}
	if groups[3].Pattern != "" {
		t.Errorf("last group %q, want the unmatched keys", groups[3].Pattern)
	}
	// The item hashes' estimate is near their exact sum.
	var exact int64
	for i := range n {
		m, err := rdb.MemoryUsage(ctx, fmt.Sprintf("{p}:item:b:%05d", i), 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		exact += m
	}
	if d := groups[0].Bytes - exact; d < -exact/10 || d > exact/10 {
		t.Errorf("estimate %d, exact %d", groups[0].Bytes, exact)
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		p, k string
		ok   bool
	}{
		{"*", "", true},
		{"asynq:{songs}:t:*", "asynq:{songs}:t:abc", true},
		{"asynq:{songs}:t:*", "asynq:{songs}:pending", false},
		{"asynq:{*}:t:*", "asynq:{poll}:t:x", true},
		{"{p}:item:*", "{p}:item-request:b:1", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a[bx]c", "axc", true},
		{"a[^b]c", "abc", false},
		{"a[a-c]d", "abd", true},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{"a*b*c", "a-b-b-c", true},
		{"a*b*c", "a-b-b-", false},
	} {
		if got := Match(c.p, c.k); got != c.ok {
			t.Errorf("Match(%q, %q) = %v, want %v", c.p, c.k, got, c.ok)
		}
	}
}
