package batch

import (
	"strings"
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

func TestValidBatchName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"b1": true, "2025-01-02_run.3": true, "": false, "a:b": false, "a b": false, "ä": false,
		strings.Repeat("x", MaxBatchNameLen): true, strings.Repeat("x", MaxBatchNameLen+1): false,
	} {
		if err := ValidBatchName(name); (err == nil) != ok {
			t.Errorf("ValidBatchName(%q) = %v", name, err)
		}
	}
}
