package keyspace

import (
	"testing"
)

func TestKeyNames(t *testing.T) {
	t.Parallel()
	k := Keys{}
	for got, want := range map[string]string{
		k.Batches():                 "{singbatch}:batches",
		k.Batch("b1"):               "{singbatch}:batch:b1",
		k.BatchCounts("b1"):         "{singbatch}:batch-counts:b1",
		k.BatchItems("b1"):          "{singbatch}:batch-items:b1",
		k.BatchOrder("b1"):          "{singbatch}:batch-order:b1",
		k.BatchManifests("b1"):      "{singbatch}:batch-manifests:b1",
		k.Item("b1", "x:y"):         "{singbatch}:item:b1:x:y",
		k.ItemRequest("b1", "x"):    "{singbatch}:item-request:b1:x",
		k.Models():                  "{singbatch}:models",
		k.Model("alice"):            "{singbatch}:model:alice",
		k.ModelWaiters("alice"):     "{singbatch}:model-waiters:alice",
		k.RateLimit("create"):       "{singbatch}:rate:create",
		k.RateState():               "{singbatch}:rate-state",
		k.RateWindow():              "{singbatch}:rate-window",
		k.Durations("song"):         "{singbatch}:durations:song",
		k.DurationClasses():         "{singbatch}:duration-classes",
		k.Scouts("train-e30"):       "{singbatch}:scouts:train-e30",
		k.Once("x"):                 "{singbatch}:once:x",
		k.Group("b1", "song"):       "{singbatch}:group:b1:song",
		k.GroupJobs("sbg-1"):        "{singbatch}:group-jobs:sbg-1",
		k.ListCap():                 "{singbatch}:list-cap",
		k.BatchParked("b1"):         "{singbatch}:batch-parked:b1",
		k.AccountJobs("2026-12-02"): "{singbatch}:account-jobs:2026-12-02",
		k.EnqueueRun("r1"):          "{singbatch}:enqueue-run:r1",
		Keys{Prefix: "x"}.Batches(): "{x}:batches",
	} {
		if got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	}
}

func TestKeysValidate(t *testing.T) {
	t.Parallel()
	for prefix, ok := range map[string]bool{"": true, "singbatch": true, "prod:eu": true, "a{b": false, "a}": false, "a b": false} {
		if err := (Keys{Prefix: prefix}).Validate(); (err == nil) != ok {
			t.Errorf("Validate(%q) = %v", prefix, err)
		}
	}
}
