package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	envparse "github.com/caarlos0/env/v11"

	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
)

// config is every setting read from the environment, documented in
// docs/configuration.md and .env.example (TestConfigDocumented keeps them true). A
// default is written once: in an envDefault tag when it is the command's, or in the
// library that owns the setting (see defaultConfig).
type config struct {
	RedisURL    string `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	RedisPrefix string `env:"REDIS_PREFIX"`
	// RedisWaitReplicas: replicas that must hold a claim before its CreateJob is sent
	// (-1: one when the master has any; 0: none). RedisWaitTimeout bounds that wait.
	RedisWaitReplicas int           `env:"REDIS_WAIT_REPLICAS" envDefault:"-1"`
	RedisWaitTimeout  time.Duration `env:"REDIS_WAIT_TIMEOUT" envDefault:"1s"`

	UpstreamURL      string          `env:"UPSTREAM_URL" envDefault:"https://service-mqk0mc83-1257411467.bj.apigw.tencentcs.com"`
	SecretID         upstream.Secret `env:"UPSTREAM_SECRET_ID"`
	SecretKey        upstream.Secret `env:"UPSTREAM_SECRET_KEY"`
	UpstreamRate     float64         `env:"UPSTREAM_RATE" envDefault:"5"`
	UpstreamTimeout  time.Duration   `env:"UPSTREAM_TIMEOUT"`
	GatewayKeyID     string          `env:"UPSTREAM_GATEWAY_KEY_ID"`
	GatewayKeySecret upstream.Secret `env:"UPSTREAM_GATEWAY_KEY_SECRET"`
	GatewaySource    string          `env:"UPSTREAM_GATEWAY_SOURCE"`

	WorkerConcurrency int           `env:"WORKER_CONCURRENCY"`
	PollConcurrency   int           `env:"WORKER_POLL_CONCURRENCY"`
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT"`
	DelayedCheck      time.Duration `env:"WORKER_DELAYED_CHECK_INTERVAL" envDefault:"1s"`

	Worker workerSettings // WORKER_QUEUES, RECONCILE_DELAY, POLL_*, ... (docs/worker.md)

	// Callbacks (docs/worker.md, "Callbacks"): on when CALLBACK_URL is set.
	CallbackURL            string          `env:"CALLBACK_URL"`
	CallbackSecret         upstream.Secret `env:"CALLBACK_SECRET"`
	CallbackSecretPrevious upstream.Secret `env:"CALLBACK_SECRET_PREVIOUS"`
	HTTPAddr               string          `env:"HTTP_ADDR" envDefault:"127.0.0.1:8090"`

	// NotifySecret signs batch notifications (enqueue --notify) and seals their URLs.
	NotifySecret upstream.Secret `env:"NOTIFY_SECRET"`

	DashboardUser     string          `env:"DASHBOARD_USER"`
	DashboardPassword upstream.Secret `env:"DASHBOARD_PASSWORD"`

	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"json"` // json (production) or console (development)
}

// loadConfig parses the environment; a malformed value is an error naming the variable.
func loadConfig(e env) (config, error) {
	vars := map[string]string{}
	for _, kv := range e.environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	for _, name := range retiredVars() {
		if vars[name] != "" {
			return config{}, fmt.Errorf("configuration: %s: no longer used: the worker learns job durations "+
				"from the service (docs/worker.md, Polling); POLL_HINT_SONG and POLL_HINT_TRAIN are optional hints", name)
		}
	}
	c := defaultConfig()
	if err := envparse.ParseWithOptions(&c, envparse.Options{Environment: vars}); err != nil {
		return config{}, fmt.Errorf("configuration: %w", nameConfigVars(err))
	}
	if _, err := c.redisConn(); err != nil {
		return config{}, fmt.Errorf("configuration: %w", err)
	}
	if c.UpstreamRate <= 0 {
		return config{}, fmt.Errorf("configuration: UPSTREAM_RATE: must be a positive number of requests per second, not %v", c.UpstreamRate)
	}
	if c.DelayedCheck <= 0 {
		return config{}, fmt.Errorf("configuration: WORKER_DELAYED_CHECK_INTERVAL: must be positive, not %v", c.DelayedCheck)
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		return config{}, fmt.Errorf("configuration: LOG_FORMAT: must be json or console, not %q", c.LogFormat)
	}
	return c, nil
}

// requireCredentials is called by commands that talk to the service.
func (c config) requireCredentials() error {
	if c.SecretID.IsZero() || c.SecretKey.IsZero() {
		return fmt.Errorf("configuration: UPSTREAM_SECRET_ID and UPSTREAM_SECRET_KEY are required to call the service")
	}
	return nil
}

// workerSettings are the worker's timing settings (docs/worker.md).
type workerSettings struct {
	Queues              string        `env:"WORKER_QUEUES"` // "poll=4,train=3,songs=2"; empty: tasks.QueuePriorities
	ReconcileDelay      time.Duration `env:"RECONCILE_DELAY"`
	DefaultJobTimeout   time.Duration `env:"DEFAULT_JOB_TIMEOUT"`
	TimeoutGrace        time.Duration `env:"TIMEOUT_GRACE"`
	ModelCacheTTL       time.Duration `env:"MODEL_CACHE_TTL"`
	RetryBase           time.Duration `env:"RETRY_BASE"`
	RetryCap            time.Duration `env:"RETRY_CAP"`
	PollHintSong        time.Duration `env:"POLL_HINT_SONG"`
	PollHintTrain       time.Duration `env:"POLL_HINT_TRAIN"`
	PollFirstQuantile   float64       `env:"POLL_FIRST_QUANTILE"`
	PollScouts          int           `env:"POLL_SCOUTS"`
	PollProbeStart      time.Duration `env:"POLL_PROBE_START"`
	PollProbeGrowth     float64       `env:"POLL_PROBE_GROWTH"`
	PollBackoffFraction float64       `env:"POLL_BACKOFF_FRACTION"`
	PollMinInterval     time.Duration `env:"POLL_MIN_INTERVAL"`
	PollMaxInterval     time.Duration `env:"POLL_MAX_INTERVAL"`
	PollShortWait       time.Duration `env:"POLL_SHORT_WAIT"`
	PollNotFoundGrace   time.Duration `env:"POLL_NOT_FOUND_GRACE"`
	CallbackPollGrace   time.Duration `env:"CALLBACK_POLL_GRACE"`
	PollGroupSize       int           `env:"POLL_GROUP_SIZE"`
	AccountMaxJobsDay   int64         `env:"ACCOUNT_MAX_JOBS_PER_DAY"`
}

// retiredVars were the guessed poll timings, replaced by learning (docs/worker.md). One
// still set is refused rather than silently ignored: its operator expects it to act.
func retiredVars() []string {
	return []string{
		"POLL_DEFAULT_SONG", "POLL_DEFAULT_TRAIN", "POLL_MIN_SAMPLES", "POLL_FIRST_FACTOR",
		"POLL_FIRST_OFFSET", "POLL_STEP_FRACTION", "POLL_GROWTH", "POLL_JITTER",
	}
}

// notifySecret is NOTIFY_SECRET, parsed; zero when not set.
func (c config) notifySecret() (tasks.NotifySecret, error) {
	if c.NotifySecret.IsZero() {
		return tasks.NotifySecret{}, nil
	}
	s, err := tasks.ParseNotifySecret(c.NotifySecret.Reveal())
	if err != nil {
		return s, fmt.Errorf("configuration: %w", err)
	}
	return s, nil
}

// callbacks are the per-attempt callback URLs, or nil when CALLBACK_URL is not set.
func (c config) callbacks() (*tasks.Callbacks, error) {
	if c.CallbackURL == "" {
		if !c.CallbackSecret.IsZero() {
			return nil, errors.New("configuration: CALLBACK_SECRET is set but CALLBACK_URL is not: callbacks are off")
		}
		return nil, nil
	}
	cb, err := tasks.NewCallbacks(c.CallbackURL, c.CallbackSecret, c.CallbackSecretPrevious)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return cb, nil
}
