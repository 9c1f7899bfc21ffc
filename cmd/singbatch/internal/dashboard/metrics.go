package dashboard

import (
	"context"
	"fmt"
	"net/http"

	// asynq/x/metrics is Asynq's own Prometheus collector of queue sizes, latency and
	// processed/failed totals per queue and state. Its newest version (a 2021 pseudo-
	// version; the module is not tagged) calls only Inspector.Queues and GetQueueInfo,
	// which asynq v0.26 still has, so it builds against our asynq unchanged.
	"github.com/hibiken/asynq/x/metrics"
	// client_golang is the reference Prometheus client: registry, collectors and the
	// exposition handler; asynq/x/metrics is written against it.
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
)

// metricsHandler serves /metrics from a registry of the dashboard's own (no globals):
// Asynq's queue metrics, the batches' items per state, and the Go runtime's.
func (d *Dashboard) metricsHandler() (http.Handler, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		metrics.NewQueueMetricsCollector(d.inspector),
		newBatchCollector(d.opts.Store, d.scrub),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("dashboard: metrics: %w", err)
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A failing collector (Redis away) must not hide the others' metrics.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      zap.NewStdLog(d.opts.Log.Named("metrics")),
		Timeout:       redisTimeout,
	}), nil
}

// batchCollector reads every batch's counters at each scrape, so the numbers are the
// ones workers keep in Redis, not a copy that could drift.
type batchCollector struct {
	store *batch.Store
	scrub scrubber
	desc  *prometheus.Desc
}

func newBatchCollector(store *batch.Store, scrub scrubber) *batchCollector {
	return &batchCollector{store: store, scrub: scrub, desc: prometheus.NewDesc("singbatch_batch_items",
		"Items of a batch in each state (pending, waiting, submitting, submitted, completed, failed, canceled).",
		[]string{"batch", "state"}, nil)}
}

func (c *batchCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *batchCollector) Collect(ch chan<- prometheus.Metric) {
	// Prometheus gives collectors no context; the scrape's own timeout is above this.
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	bs, err := c.store.Batches(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, b := range bs {
		for _, st := range batch.States() {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue,
				float64(b.Counts[st]), c.scrub.clean(b.Name), string(st))
		}
	}
}
