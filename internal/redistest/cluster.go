package redistest

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/internal/redisproc"
)

// Cluster is a Redis Cluster of three masters (no replicas), each its own process.
type Cluster struct {
	Nodes []*Server
}

// StartCluster launches the nodes, joins them with redis-cli --cluster create and waits
// until every slot is served; everything stops when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{}
	addrs := make([]string, 3)
	for i := range addrs {
		p, err := redisproc.Start(context.Background(), redisproc.Options{Dir: t.TempDir(), Cluster: true})
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		t.Cleanup(p.Stop)
		c.Nodes = append(c.Nodes, &Server{Addr: p.Addr(), proc: p})
		addrs[i] = p.Addr()
	}
	out, err := exec.Command("redis-cli", append([]string{"--cluster", "create"}, append(addrs, "--cluster-replicas", "0", "--cluster-yes")...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	client := c.Client(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := client.ClusterInfo(t.Context()).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster not ok within 30 s: %q %v", info, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Addrs are the nodes' addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// Client is a cluster client, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}
