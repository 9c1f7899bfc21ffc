package batch

import (
	"errors"
	"testing"
	"time"

	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
)

// A claim is acknowledged by the replica before its CreateJob may leave; with the
// replica gone, waiting for one fails within the timeout, and auto mode stops waiting
// once the master reports no replica.
func TestEnsureReplicated(t *testing.T) {
	t.Parallel()
	set := redistest.StartSentinel(t)
	rdb := set.Master.Client(t)
	ctx := t.Context()
	newStore := func(r Replication) *Store {
		s := NewStore(rdb, keyspace.Keys{Prefix: "repl"}, nil)
		s.SetReplication(r)
		return s
	}
	auto, one := newStore(Replication{Replicas: ReplicasAuto}), newStore(Replication{Replicas: 1, Timeout: 300 * time.Millisecond})
	if _, err := auto.AddItems(ctx, "b", "songs.jsonl", songItems("s", 1)); err != nil {
		t.Fatal(err)
	}
	if o, _, err := auto.Claim(ctx, "b", "s000000", 1, "c1", ClaimCaps{}); o != Claimed || err != nil {
		t.Fatalf("claim: %v %v", o, err)
	}
	for name, s := range map[string]*Store{"auto": auto, "one": one} {
		if err := s.EnsureReplicated(ctx, "b", "s000000"); err != nil {
			t.Errorf("%s, replica up: %v", name, err)
		}
	}
	// The claim is on the replica.
	if v, err := set.Replica.Client(t).HGet(ctx, keyspace.Keys{Prefix: "repl"}.Item("b", "s000000"), "state").Result(); err != nil || v != "submitting" {
		t.Errorf("replica's copy of the claim: %q, %v", v, err)
	}
	set.Replica.Kill()
	if err := one.EnsureReplicated(ctx, "b", "s000000"); !errors.Is(err, ErrNotReplicated) {
		t.Errorf("one replica required, none up: %v", err)
	}
	// Auto trusts its last look for ReplicationRecheck; a fresh store looks again.
	if err := newStore(Replication{Replicas: ReplicasAuto}).EnsureReplicated(ctx, "b", "s000000"); err != nil {
		t.Errorf("auto with no replica: %v, want no wait", err)
	}
}
