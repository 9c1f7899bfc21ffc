package main

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/tasks/limiter"
	"github.com/singbatch/singbatch/upstream"
)

// redisConn parses REDIS_URL the way Asynq does (redis, rediss, redis-socket, sentinel),
// and redis-cluster://[:password@]host:port,host:port,… for a Redis Cluster, which
// Asynq's parser does not know.
func (c config) redisConn() (asynq.RedisConnOpt, error) {
	if rest, ok := strings.CutPrefix(c.RedisURL, "redis-cluster://"); ok {
		return parseClusterURL(rest)
	}
	opt, err := asynq.ParseRedisURI(c.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	return opt, nil
}

// redisClient opens a go-redis client on the same server Asynq uses, for the batch
// records and the limiter. The caller closes it.
func (c config) redisClient() (redis.UniversalClient, error) {
	opt, err := c.redisConn()
	if err != nil {
		return nil, err
	}
	rdb, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("REDIS_URL: unsupported connection type %T", opt)
	}
	return rdb, nil
}

// parseClusterURL reads what follows redis-cluster://.
func parseClusterURL(rest string) (asynq.RedisConnOpt, error) {
	var opt asynq.RedisClusterClientOpt
	if auth, hosts, ok := strings.Cut(rest, "@"); ok {
		user, pass, _ := strings.Cut(auth, ":")
		opt.Username, opt.Password, rest = user, pass, hosts
	}
	rest, _, _ = strings.Cut(rest, "?")
	rest = strings.TrimSuffix(rest, "/")
	for h := range strings.SplitSeq(rest, ",") {
		if _, _, err := net.SplitHostPort(h); err != nil {
			return nil, fmt.Errorf("REDIS_URL: redis-cluster: %q is not host:port", h)
		}
		opt.Addrs = append(opt.Addrs, h)
	}
	return opt, nil
}

// keys are the Redis keys under REDIS_PREFIX.
func (c config) keys() (keyspace.Keys, error) {
	keys := keyspace.Keys{Prefix: c.RedisPrefix}
	if err := keys.Validate(); err != nil {
		return keyspace.Keys{}, fmt.Errorf("configuration: REDIS_PREFIX: %w", err)
	}
	return keys, nil
}

// newLimiter is the account-wide limiter every upstream call of this process goes through.
func (c config) newLimiter(rdb redis.UniversalClient, keys keyspace.Keys, log *zap.Logger) (*limiter.Limiter, error) {
	lim, err := limiter.New(rdb, limiter.Options{
		Rate: c.UpstreamRate,
		Keys: keys,
		// A call holds its place in the window until its reply; the lease only matters
		// for a worker killed mid-call, and must outlast any attempt.
		WindowLease: c.UpstreamTimeout + windowLeaseSlack,
		Logger:      log,
	})
	if err != nil {
		return nil, fmt.Errorf("configuration: UPSTREAM_RATE: %w", err)
	}
	return lim, nil
}

// windowLeaseSlack covers reading a reply after the attempt's timeout fired.
const windowLeaseSlack = 15 * time.Second

// gatewayKey is the optional API-gateway key pair: both settings or neither.
func (c config) gatewayKey() (*upstream.GatewayKey, error) {
	switch {
	case c.GatewayKeyID == "" && c.GatewayKeySecret.IsZero():
		return nil, nil
	case c.GatewayKeyID == "" || c.GatewayKeySecret.IsZero():
		return nil, errors.New("configuration: UPSTREAM_GATEWAY_KEY_ID and UPSTREAM_GATEWAY_KEY_SECRET: set both or neither")
	}
	return &upstream.GatewayKey{KeyID: c.GatewayKeyID, Secret: c.GatewayKeySecret, Source: c.GatewaySource}, nil
}
