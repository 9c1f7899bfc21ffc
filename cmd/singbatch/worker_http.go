package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/tasks"
)

// workerHTTPShutdown bounds how long open requests (callbacks) may finish at shutdown.
const workerHTTPShutdown = 5 * time.Second

// readyTimeout bounds /readyz's Redis ping.
const readyTimeout = time.Second

// workerMux routes a worker process's HTTP_ADDR: the service's callbacks (any path with
// /cb/v1/ in it, so a proxy may keep or strip CALLBACK_URL's own path), /healthz,
// /readyz (Redis answers) and /metrics.
func workerMux(h *tasks.Handlers, rdb redis.UniversalClient) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := rdb.Ping(ctx).Err(); err != nil {
			http.Error(w, "redis unreachable", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(workerMetrics(h.Stats()), promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/cb/") {
			http.NotFound(w, r)
			return
		}
		h.ServeCallback(w, r)
	})
	return mux
}

// workerMetrics exposes the handlers' counters of this process.
func workerMetrics(s *tasks.Stats) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	for _, o := range tasks.CallbackOutcomes() {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "singbatch_callbacks_total", Help: "Callbacks received, by outcome.",
			ConstLabels: prometheus.Labels{"outcome": string(o)},
		}, func() float64 { return float64(s.Callbacks(o)) }))
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "singbatch_upstream_calls_total",
			Help: "Calls this process's handlers made to the service."}, func() float64 { return float64(s.UpstreamCalls()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "singbatch_jobs_finished_total",
			Help: "Jobs whose end this process recorded, by poll or callback."}, func() float64 { return float64(s.FinishedJobs()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "singbatch_upstream_calls_per_finished_job",
			Help: "Upstream calls per finished job, this process since its start."}, func() float64 {
			if n := s.FinishedJobs(); n > 0 {
				return float64(s.UpstreamCalls()) / float64(n)
			}
			return 0
		}),
	)
	return reg
}

// runWorkerWithHTTP runs the worker and its HTTP listener until ctx ends; the listener
// stops after the worker, so callbacks are taken until the last task is done. Without
// a listener it runs the worker alone.
func runWorkerWithHTTP(ctx context.Context, w *tasks.Worker, rdb redis.UniversalClient, ln net.Listener) error {
	if ln == nil {
		return w.Run(ctx)
	}
	hs := &http.Server{Handler: workerMux(w.Handlers(), rdb), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	hctx, stopHTTP := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serveUntilDone(hctx, hs, ln, workerHTTPShutdown, nil) }()
	runErr := w.Run(ctx)
	stopHTTP()
	if err := <-served; runErr == nil && err != nil {
		return fmt.Errorf("worker HTTP: %w", err)
	}
	return runErr
}

// httpWorker is a worker that serves its HTTP listener while it runs (`singbatch run`).
type httpWorker struct {
	w   *tasks.Worker
	rdb redis.UniversalClient
	ln  net.Listener
}

func (h httpWorker) Run(ctx context.Context) error { return runWorkerWithHTTP(ctx, h.w, h.rdb, h.ln) }
