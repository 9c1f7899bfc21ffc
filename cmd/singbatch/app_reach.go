package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisReachTimeout bounds the check that Redis answers before a command writes.
const redisReachTimeout = 10 * time.Second

// errRedisUnavailable marks a command refused because Redis did not answer.
var errRedisUnavailable = errors.New("redis is unavailable")

// requireRedis checks that REDIS_URL answers, so that a command that writes fails at
// once, with nothing done, and says so, rather than on its first write.
func (a *app) requireRedis(ctx context.Context, what string) error {
	rdb, err := a.redis()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, redisReachTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
			return fmt.Errorf("%s: interrupted before anything was done; run the same command again to finish: %w", what, cause)
		}
		return fmt.Errorf("%s: %w at %s (%v): nothing was done; run the same command again once it is up",
			what, errRedisUnavailable, redisAddrs(rdb), err)
	}
	return nil
}

// redisAddrs names the server(s) a client dials, without any password.
func redisAddrs(rdb redis.UniversalClient) string {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return strings.Join(c.Options().Addrs, ",")
	}
	return "REDIS_URL"
}
