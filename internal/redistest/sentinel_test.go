package redistest

import (
	"testing"
	"time"
)

// Killing the master promotes the replica: the failover client writes again, and what
// was written (and replicated) before is there.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	set := StartSentinel(t)
	c := set.Client(t)
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Do(ctx, "WAIT", 1, 2000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT = %d, %v: the replica did not acknowledge", n, err)
	}
	set.Master.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for c.Set(ctx, "k2", "v2", 0).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("no write accepted within 30 s of the master's death")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("after the failover k = %q, %v", v, err)
	}
}
