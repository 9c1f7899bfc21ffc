package redistest

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

// Each command sent alone and each pipeline is one round trip, named by its commands;
// Take forgets what it returned.
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	rdb := Start(t, Options{}).Client(t)
	ctx := t.Context()
	hook := &RoundTrips{}
	rdb.AddHook(hook)
	rdb.Set(ctx, "k", "v", 0)
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, "k")
		p.Incr(ctx, "n")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := hook.Take()
	if len(got) != 2 || got[0].Commands != "set" || got[1].Commands != "[get incr]" {
		t.Fatalf("round trips = %+v, want set then [get incr]", got)
	}
	if again := hook.Take(); len(again) != 0 {
		t.Errorf("second Take = %+v, want none", again)
	}
}
