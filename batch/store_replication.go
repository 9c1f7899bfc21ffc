package batch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Replication says how many replicas must hold a claim before its CreateJob leaves
// (Store.EnsureReplicated). Redis replicates asynchronously: a master that dies after a
// claim and before its replica got it would come back, through the promoted replica,
// without the claim, and a later run would pay for the same item again.
type Replication struct {
	// Replicas is how many must acknowledge: -1 (ReplicasAuto) for one when the master
	// has any replica (found out, at most every ReplicationRecheck); 0 for none.
	Replicas int
	// Timeout bounds the wait; default 1 s. Fewer acknowledgements in time is an
	// error: the CreateJob is not sent, and the claim is reconciled later.
	Timeout time.Duration
}

// ReplicasAuto waits for one replica when the master has any.
const ReplicasAuto = -1

// ReplicationRecheck is how long the number of replicas found is trusted.
const ReplicationRecheck = 10 * time.Second

// ErrNotReplicated: fewer replicas than required acknowledged the claim in time.
var ErrNotReplicated = errors.New("claim not replicated")

// replication is a Store's setting and what it found of the master's replicas.
type replication struct {
	mu        sync.Mutex
	set       Replication
	replicas  int
	checkedAt time.Time
}

// SetReplication sets how claims are replicated before their CreateJob (default: not
// waited for). Call it before the store is used.
func (s *Store) SetReplication(r Replication) {
	if r.Timeout <= 0 {
		r.Timeout = time.Second
	}
	s.repl = &replication{set: r}
}

// EnsureReplicated returns once the required replicas hold every write made so far,
// the item's claim included. It writes the item's updatedAt and WAITs on the same
// connection: WAIT covers that connection's writes, and a replica that has a later
// write has every earlier one. Without replication set, or with no replica to wait
// for, it does nothing.
func (s *Store) EnsureReplicated(ctx context.Context, batch, id string) error {
	n, err := s.replicasToWait(ctx)
	if err != nil || n == 0 {
		return err
	}
	timeout := s.repl.set.Timeout
	var wait *redis.Cmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keys.Item(batch, id), fieldUpdatedAt, s.nowMs())
		wait = p.Do(ctx, "WAIT", n, timeout.Milliseconds())
		return nil
	})
	if err != nil {
		return fmt.Errorf("replicate the claim of %s/%s: %w", batch, id, err)
	}
	acked, err := wait.Int()
	if err != nil {
		return fmt.Errorf("replicate the claim of %s/%s: %w", batch, id, err)
	}
	if acked < n {
		return fmt.Errorf("%s/%s: %w: %d of %d replicas within %v", batch, id, ErrNotReplicated, acked, n, timeout)
	}
	return nil
}

// replicasToWait is how many acknowledgements a claim needs.
func (s *Store) replicasToWait(ctx context.Context) (int, error) {
	r := s.repl
	if r == nil || r.set.Replicas == 0 {
		return 0, nil
	}
	if r.set.Replicas > 0 {
		return r.set.Replicas, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.checkedAt.IsZero() && time.Since(r.checkedAt) < ReplicationRecheck {
		return min(r.replicas, 1), nil
	}
	info, err := s.rdb.Info(ctx, "replication").Result()
	if err != nil {
		return 0, fmt.Errorf("read the master's replicas: %w", err)
	}
	r.replicas, r.checkedAt = connectedReplicas(info), time.Now()
	return min(r.replicas, 1), nil
}

// connectedReplicas reads connected_slaves from INFO replication.
func connectedReplicas(info string) int {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
