// Package dashboard is the web dashboard of `singbatch dashboard`: batch pages, the Asynq
// UI (asynqmon), Prometheus metrics and a health probe, behind optional basic
// authentication. It reads nothing from the environment: the command passes Options.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	// asynqmon is Asynq's own web UI, by Asynq's author, kept in step with it: queues,
	// tasks in every state with their last error, servers, Redis info, and actions (run,
	// archive, delete, pause) that are off unless --allow-writes. Rewriting it would be a second,
	// worse Asynq UI.
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// monitoringRoot is where the Asynq UI is mounted.
const monitoringRoot = "/monitoring"

// redisTimeout bounds the Redis reads of one page, metrics scrape or health check.
const redisTimeout = 10 * time.Second

//go:embed web/*.html web/style.css
var webFiles embed.FS

// Options configure the dashboard's handler.
type Options struct {
	Store        *batch.Store
	Redis        redis.UniversalClient // for /healthz
	RedisConnOpt asynq.RedisConnOpt    // for the Asynq UI and queue metrics
	// AllowWrites lets the Asynq UI change tasks and queues (run, archive, delete,
	// pause); off, it allows GET requests only. On, a change must come from the
	// dashboard's own pages: a cross-site request is refused.
	AllowWrites bool
	// Controls carry out the batch page's pause, resume and cancel buttons, shown and
	// served only with AllowWrites (required then).
	Controls Controls
	// UpstreamRate is the account's limit (UPSTREAM_RATE, req/s) drawn against the
	// batch's requests; 0: unknown, not drawn.
	UpstreamRate float64
	Now          func() time.Time // default time.Now
	Auth         Auth             // empty: no authentication (loopback only)
	// Secrets are scrubbed from every string shown (defence in depth: the upstream
	// client already sanitizes its errors, and payloads carry none).
	Secrets []upstream.Secret
	Log     *zap.Logger
}

// Dashboard is the whole web UI: batch pages, the Asynq UI, metrics and health.
type Dashboard struct {
	opts      Options
	scrub     scrubber
	mux       *http.ServeMux
	handler   http.Handler // mux behind authentication and cross-site protection
	mon       *asynqmon.HTTPHandler
	inspector *asynq.Inspector
	pages     map[string]*template.Template
}

// New builds the handler; Close releases its Redis connections.
func New(o Options) (*Dashboard, error) {
	if o.Store == nil || o.Redis == nil || o.RedisConnOpt == nil {
		return nil, errors.New("dashboard: Store, Redis and RedisConnOpt are required")
	}
	if o.AllowWrites && o.Controls == nil {
		return nil, errors.New("dashboard: AllowWrites needs Controls")
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	d := &Dashboard{
		opts:  o,
		scrub: newScrubber(o.Secrets...),
		mux:   http.NewServeMux(),
		pages: pages,
		mon: asynqmon.New(asynqmon.Options{
			RootPath:     monitoringRoot,
			RedisConnOpt: o.RedisConnOpt,
			ReadOnly:     !o.AllowWrites,
		}),
		inspector: asynq.NewInspector(o.RedisConnOpt),
	}
	metrics, err := d.metricsHandler()
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	static, err := fs.Sub(webFiles, "web")
	if err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("dashboard: static files: %w", err)
	}
	d.mux.Handle("GET /{$}", d.page(d.batchesPage))
	d.mux.Handle("GET /batches/{name}", d.page(d.batchPage))
	d.mux.Handle("GET /batch", d.page(d.batchPage)) // names "." and "..", see batchURL
	d.mux.HandleFunc("GET /api/batches", d.batchesAPI)
	if o.AllowWrites {
		d.mux.HandleFunc("POST /control", d.control)
	}
	d.mux.Handle("GET /static/style.css", http.StripPrefix("/static/", http.FileServerFS(static)))
	d.mux.HandleFunc("GET /healthz", d.healthz)
	d.mux.Handle("GET /metrics", metrics)
	d.mux.Handle(monitoringRoot+"/", d.scrub.asynqmonAPI(monitoringRoot+"/api/", d.mon))
	// Only the Asynq UI and the batch page's controls take requests that change
	// anything, with writes allowed; a page of another site must not make the
	// operator's browser send one (Sec-Fetch-Site, else Origin against Host).
	d.handler = o.Auth.wrap(http.NewCrossOriginProtection().Handler(d.mux))
	return d, nil
}

func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	d.handler.ServeHTTP(w, r)
}

// Close releases the Redis connections of the Asynq UI and the metrics' inspector.
func (d *Dashboard) Close() error {
	return errors.Join(d.mon.Close(), d.inspector.Close())
}

// healthz answers 200 while Redis answers, 503 otherwise.
func (d *Dashboard) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := d.opts.Redis.Ping(ctx).Err(); err != nil {
		d.opts.Log.Warn("health check: redis", zap.Error(err))
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "redis unavailable")
		return
	}
	fmt.Fprintln(w, "ok")
}
