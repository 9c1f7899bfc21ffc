// Package keyspace builds the name of every Redis key singbatch writes, the limiter's
// included; no other package spells one (asynq's internal/base is the model).
package keyspace

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the key prefix when none is configured (REDIS_PREFIX).
const DefaultPrefix = "singbatch"

// Keys builds every Redis key name of the project; no other file spells one.
//
// Every key starts with the hash tag "{Prefix}". The Lua scripts of Store touch an item,
// its batch's counters and, for trainings, a model record and the model index in one
// call, so all those keys must live in one cluster slot; a per-batch tag would still
// split batches from models. One tag keeps every script legal on a Redis Cluster and
// puts all of singbatch's data on one node, which is what a single Redis (the one asynq
// needs anyway) gives. Cluster is not required; the tag only keeps the door open.
//
// The variable part of a key (batch name, item id, model name, ...) always comes last,
// after a fixed word that no other key shares, and batch names cannot hold ':' (see
// batch.ValidBatchName), so two different records never map to the same key.
type Keys struct {
	Prefix string // empty means DefaultPrefix
}

func (k Keys) base() string {
	p := k.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	return "{" + p + "}:"
}

// Validate reports a prefix that would break the hash tag.
func (k Keys) Validate() error {
	if strings.ContainsAny(k.Prefix, "{}") {
		return fmt.Errorf("redis key prefix %q: must not contain { or }", k.Prefix)
	}
	if strings.ContainsFunc(k.Prefix, func(r rune) bool { return r <= ' ' }) {
		return fmt.Errorf("redis key prefix %q: must not contain spaces or control characters", k.Prefix)
	}
	return nil
}

// Batches is the set of every batch name.
func (k Keys) Batches() string { return k.base() + "batches" }

// Batch is a batch's record, a hash: name, created (Unix ms), total.
func (k Keys) Batch(name string) string { return k.base() + "batch:" + name }

// BatchCounts is a batch's number of items per state, a hash state -> count.
func (k Keys) BatchCounts(name string) string { return k.base() + "batch-counts:" + name }

// BatchItems is a batch's item ids in manifest order, a sorted set scored by seq, as
// releases before BatchOrder wrote it: read, never written.
func (k Keys) BatchItems(name string) string { return k.base() + "batch-items:" + name }

// BatchOrder is a batch's item ids in manifest order (seq), a list: about 12 bytes per
// item where BatchItems's sorted set took 106. A batch begun by an earlier release has
// its first items in BatchItems and the later ones here.
func (k Keys) BatchOrder(name string) string { return k.base() + "batch-order:" + name }

// BatchManifests records which manifests were read into a batch, a hash with fields
// "first:FILE", "last:FILE" (Unix ms), "added:FILE", "existing:FILE", "refused:FILE",
// and the manifests' numbers that items' origins refer to: "files" (how many),
// "no:FILE" → K and "file:K" → FILE.
func (k Keys) BatchManifests(name string) string { return k.base() + "batch-manifests:" + name }

// Item is one item's record, a hash (see batch.ItemRecord) without its request.
func (k Keys) Item(batch, id string) string { return k.base() + "item:" + batch + ":" + id }

// ItemRequest is one item's normalized CreateJob request, a JSON string. It lives
// apart from the item's hash because it is longer than Redis's compact-hash limit
// (hash-max-listpack-value, 64 bytes); inside, it would turn every item's hash into a
// full hash table, about 40 % more memory per item.
func (k Keys) ItemRequest(batch, id string) string {
	return k.base() + "item-request:" + batch + ":" + id
}

// Models is the set of every model name with a record.
func (k Keys) Models() string { return k.base() + "models" }

// Model is a model's record, a hash (see batch.ModelRecord).
func (k Keys) Model(name string) string { return k.base() + "model:" + name }

// ModelWaiters holds the items waiting for a model's training, a sorted set of
// "BATCH:ID" scored by the time they started waiting. A waiter stays after the training
// ended until its release is acknowledged (batch.Store.AckWaiters).
func (k Keys) ModelWaiters(name string) string { return k.base() + "model-waiters:" + name }

// RateLimit is the account-wide GCRA limiter's key for one share of the quota
// (used by tasks/limiter, which prepends "rate:" as go-redis/redis_rate did, so that
// workers of earlier releases share the buckets).
func (k Keys) RateLimit(share string) string { return k.base() + "rate:" + share }

// RateState is the adaptive rate limiter's hash (current rate, last slow-down).
func (k Keys) RateState() string { return k.base() + "rate-state" }

// RateWindow is the limiter's sorted set of recent and in-flight upstream calls, which
// bounds the calls in any 1-second window whatever the network's delay.
func (k Keys) RateWindow() string { return k.base() + "rate-window" }

// Durations is the capped list of recent job timings of one class, "totalMs:processingMs",
// newest first (see batch.Store.RecordJobTiming).
func (k Keys) Durations(class string) string { return k.base() + "durations:" + class }

// DurationClasses is the set of classes with recorded timings.
func (k Keys) DurationClasses() string { return k.base() + "duration-classes" }

// Scouts is a class's scout slots, a hash slot -> "member|expiresMs" (batch.Store.ClaimScout).
func (k Keys) Scouts(class string) string { return k.base() + "scouts:" + class }

// EnqueueRun is one enqueue run's state, "open" (with a lease) or "ended" (batch.Store.OpenRun).
func (k Keys) EnqueueRun(token string) string { return k.base() + "enqueue-run:" + token }

// BatchParked holds the items of a paused batch whose submission stood down, a set of
// item ids (batch.Store.ParkIfPaused); resuming queues them again.
func (k Keys) BatchParked(name string) string { return k.base() + "batch-parked:" + name }

// BatchSeries is a batch's activity over time, a hash: "f" + bucket -> items that
// became final, "c" + bucket -> upstream calls spent, bucket = Unix seconds / 10
// (batch.SeriesBucket). It expires a week after its last write.
func (k Keys) BatchSeries(name string) string { return k.base() + "batch-series:" + name }

// Group is the open submission group of a batch's class of work, a hash: seq, n,
// opened (Unix ms), and "r:DIGEST" for each request in it (batch.Store.JoinGroup).
func (k Keys) Group(batch, class string) string { return k.base() + "group:" + batch + ":" + class }

// GroupJobs maps the jobs listed under a group's customId to the attempts they belong
// to, a hash jobId -> "ITEM:ATTEMPT" (batch.Store.ClaimGroupJob).
func (k Keys) GroupJobs(customID string) string { return k.base() + "group-jobs:" + customID }

// ListCap is the most jobs the service was seen to return in one ListJobs answer.
func (k Keys) ListCap() string { return k.base() + "list-cap" }

// AccountJobs counts the jobs created on a UTC day (2006-01-02), across batches,
// for ACCOUNT_MAX_JOBS_PER_DAY.
func (k Keys) AccountJobs(day string) string { return k.base() + "account-jobs:" + day }

// Once is the marker of Store.TryOnce.
func (k Keys) Once(name string) string { return k.base() + "once:" + name }
