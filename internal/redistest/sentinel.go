package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/internal/redisproc"
)

// SentinelMaster is the master's name in the Sentinels' configuration.
const SentinelMaster = "singbatch"

// SentinelSet is a replicated Redis watched by three Sentinels: a master (AOF), one
// replica and a quorum of two, so killing the master promotes the replica within a few
// seconds.
type SentinelSet struct {
	Master, Replica *Server
	Sentinels       []*Server
}

// StartSentinel launches the set; everything stops when the test ends.
func StartSentinel(t testing.TB) *SentinelSet {
	t.Helper()
	ctx := context.Background()
	start := func(o redisproc.Options) *Server {
		t.Helper()
		o.Dir = t.TempDir()
		p, err := redisproc.Start(ctx, o)
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		t.Cleanup(p.Stop)
		return &Server{Addr: p.Addr(), proc: p}
	}
	set := &SentinelSet{Master: start(redisproc.Options{AOF: true})}
	set.Replica = start(redisproc.Options{AOF: true, ReplicaOf: set.Master.Addr})
	for range 3 {
		set.Sentinels = append(set.Sentinels, start(redisproc.Options{
			Sentinel: &redisproc.SentinelOf{Name: SentinelMaster, Master: set.Master.Addr, Quorum: 2}}))
	}
	// Ready when the replica is in sync and every Sentinel knows the other two.
	deadline := time.Now().Add(30 * time.Second)
	for !set.ready(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("redistest: the sentinel set did not settle within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return set
}

func (s *SentinelSet) ready(ctx context.Context) bool {
	r := redis.NewClient(&redis.Options{Addr: s.Replica.Addr})
	defer r.Close()
	info, err := r.Info(ctx, "replication").Result()
	if err != nil || !strings.Contains(info, "master_link_status:up") {
		return false
	}
	for _, sen := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sen.Addr})
		m, err := c.Master(ctx, SentinelMaster).Result()
		_ = c.Close()
		if err != nil || m["num-other-sentinels"] != "2" {
			return false
		}
	}
	return true
}

// URL is REDIS_URL for the set, as Asynq parses it.
func (s *SentinelSet) URL() string {
	addrs := make([]string, len(s.Sentinels))
	for i, sen := range s.Sentinels {
		addrs[i] = sen.Addr
	}
	return "redis-sentinel://" + strings.Join(addrs, ",") + "?master=" + SentinelMaster
}

// Client is a failover client of the set, closed when the test ends.
func (s *SentinelSet) Client(t testing.TB) *redis.Client {
	addrs := make([]string, len(s.Sentinels))
	for i, sen := range s.Sentinels {
		addrs[i] = sen.Addr
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: addrs})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
