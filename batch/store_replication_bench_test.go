package batch

import (
	"fmt"
	"testing"

	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
)

// BenchmarkClaimReplication measures what waiting for the replica costs a claim: the
// claim script alone, then the claim and EnsureReplicated (a write and WAIT 1), on the
// same master with one replica on loopback. Figures in docs/RELIABILITY.md:
// go test -run '^$' -bench BenchmarkClaimReplication -benchtime 2000x ./batch/
func BenchmarkClaimReplication(b *testing.B) {
	set := redistest.StartSentinel(b)
	rdb := set.Master.Client(b)
	for _, c := range []struct {
		name     string
		replicas int
	}{{"no-wait", 0}, {"wait-1-replica", 1}} {
		b.Run(c.name, func(b *testing.B) {
			s := NewStore(rdb, keyspace.Keys{Prefix: fmt.Sprintf("bench-%s-%d", c.name, b.N)}, nil)
			s.SetReplication(Replication{Replicas: c.replicas})
			ctx := b.Context()
			if _, err := s.AddItems(ctx, "b", "songs.jsonl", songItems("s", b.N)); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				id := fmt.Sprintf("s%06d", i)
				if o, _, err := s.Claim(ctx, "b", id, 1, "c-"+id, ClaimCaps{}); o != Claimed || err != nil {
					b.Fatalf("claim %s: %v %v", id, o, err)
				}
				if err := s.EnsureReplicated(ctx, "b", id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
