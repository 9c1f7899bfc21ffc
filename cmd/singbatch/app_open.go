package main

import (
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
)

// redisConn is REDIS_URL as Asynq connects to it, for Asynq's own clients.
func (a *app) redisConn() (asynq.RedisConnOpt, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	opt, err := cfg.redisConn()
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return opt, nil
}

// redis is the client of REDIS_URL that the store, the limiter, Asynq's client and
// the worker share.
func (a *app) redis() (redis.UniversalClient, error) {
	if a.rdb != nil {
		return a.rdb, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	rdb, err := cfg.redisClient()
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	a.rdb = rdb
	a.onClose(rdb.Close)
	return rdb, nil
}

// queue enqueues Asynq tasks on the app's Redis client; it shares the client, so it has
// nothing of its own to close.
func (a *app) queue() (*asynq.Client, error) {
	rdb, err := a.redis()
	if err != nil {
		return nil, err
	}
	return asynq.NewClientFromRedisClient(rdb), nil
}

// store is the batch records under REDIS_PREFIX.
func (a *app) store() (*batch.Store, error) {
	if a.batches != nil {
		return a.batches, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	keys, err := cfg.keys()
	if err != nil {
		return nil, err
	}
	rdb, err := a.redis()
	if err != nil {
		return nil, err
	}
	if cfg.RedisWaitReplicas < -1 || cfg.RedisWaitTimeout <= 0 {
		return nil, fmt.Errorf("configuration: REDIS_WAIT_REPLICAS %d (at least -1) or REDIS_WAIT_TIMEOUT %v (positive): out of range",
			cfg.RedisWaitReplicas, cfg.RedisWaitTimeout)
	}
	a.batches = batch.NewStore(rdb, keys, nil)
	a.batches.SetReplication(batch.Replication{Replicas: cfg.RedisWaitReplicas, Timeout: cfg.RedisWaitTimeout})
	return a.batches, nil
}

// submitGate is the account-wide limiter, wrapped for the submit handler and the
// upstream client (tasks.SubmitGate).
func (a *app) submitGate() (*tasks.SubmitGate, error) {
	if a.gate != nil {
		return a.gate, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	store, err := a.store()
	if err != nil {
		return nil, err
	}
	rdb, err := a.redis()
	if err != nil {
		return nil, err
	}
	log, err := a.partLog(a.limiterLog)
	if err != nil {
		return nil, err
	}
	lim, err := cfg.newLimiter(rdb, store.Keys(), log)
	if err != nil {
		return nil, err
	}
	a.gate = tasks.NewSubmitGate(lim)
	return a.gate, nil
}

// upstream is the client of the service (UPSTREAM_*), behind the account-wide limiter:
// the one place it is built.
func (a *app) upstream() (*upstream.Client, error) {
	if a.api != nil {
		return a.api, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	gateway, err := cfg.gatewayKey()
	if err != nil {
		return nil, err
	}
	gate, err := a.submitGate()
	if err != nil {
		return nil, err
	}
	log, err := a.partLog(a.upstreamLog)
	if err != nil {
		return nil, err
	}
	api, err := upstream.New(upstream.Options{
		BaseURL:     cfg.UpstreamURL,
		Credentials: upstream.Credentials{SecretID: cfg.SecretID, SecretKey: cfg.SecretKey},
		Timeout:     cfg.UpstreamTimeout,
		Gate:        gate,
		Gateway:     gateway,
		Logger:      log,
	})
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	a.api = api
	return api, nil
}
