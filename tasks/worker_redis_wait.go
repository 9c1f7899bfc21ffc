package tasks

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/internal/ctxtime"
)

// Backoff of a worker waiting for Redis at its start.
const (
	redisWaitFirst = 100 * time.Millisecond
	redisWaitMax   = 10 * time.Second
	redisPingLimit = 2 * time.Second
)

// waitForRedis returns once Redis answers a PING, or ctx's error. A worker started
// while Redis is away (a deploy that starts both, a failover) waits for it with a
// jittered exponential backoff instead of exiting: an orchestrator would only start it
// again, in a loop. Once running, the asynq servers and the store reconnect by
// themselves, and a task whose step fails on Redis is retried.
func waitForRedis(ctx context.Context, rdb redis.UniversalClient, log *zap.Logger) error {
	wait := redisWaitFirst
	var lastLog time.Time
	for {
		pctx, cancel := context.WithTimeout(ctx, redisPingLimit)
		err := rdb.Ping(pctx).Err()
		cancel()
		if err == nil {
			if !lastLog.IsZero() {
				log.Info("redis is back: starting")
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(lastLog) >= redisWaitMax {
			log.Warn("waiting for redis", zap.Error(err), zap.Duration("retryIn", wait))
			lastLog = time.Now()
		}
		jittered := time.Duration(float64(wait) * (0.5 + rand.Float64()/2))
		if err := ctxtime.Sleep(ctx, jittered); err != nil {
			return err
		}
		wait = min(2*wait, redisWaitMax)
	}
}
