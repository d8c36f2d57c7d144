package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cogs-dev/cogs/host/apply"
	"github.com/cogs-dev/cogs/host/frontend"
)

// metrics are the host's Prometheus metrics. Counters and gauges of the
// recipes are read from the registry and Redis when scraped; histograms
// are fed by every applier's batches (apply.Observer).
type metrics struct {
	reg      *Registry
	frontend func() frontend.Stats

	batchChanges *prometheus.HistogramVec
	mapSeconds   *prometheus.HistogramVec
	applySeconds *prometheus.HistogramVec
	lagSeconds   *prometheus.HistogramVec
	next         apply.Observer // another observer to tell (tests, benchmarks)
}

func newMetrics(next apply.Observer) *metrics {
	lat := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	return &metrics{
		next: next,
		batchChanges: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cogs_batch_changes",
			Help:    "Stream entries per batch handled.",
			Buckets: []float64{1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000}}, []string{"recipe"}),
		mapSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cogs_recipe_map_duration_seconds",
			Help: "Time in the recipe (Wasm) per batch.", Buckets: lat}, []string{"recipe"}),
		applySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cogs_apply_duration_seconds",
			Help: "Time applying a batch to its targets, retries included.", Buckets: lat}, []string{"recipe"}),
		lagSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cogs_lag_seconds",
			Help: "Time from a change's capture to its commit in the target.", Buckets: lat}, []string{"recipe"}),
	}
}

// Batch implements apply.Observer.
func (m *metrics) Batch(b apply.BatchInfo) {
	m.batchChanges.WithLabelValues(b.Recipe).Observe(float64(b.Entries))
	m.mapSeconds.WithLabelValues(b.Recipe).Observe(b.Map.Seconds())
	m.applySeconds.WithLabelValues(b.Recipe).Observe(b.Apply.Seconds())
	h := m.lagSeconds.WithLabelValues(b.Recipe)
	for _, d := range b.Lag {
		h.Observe(d.Seconds())
	}
	if m.next != nil {
		m.next.Batch(b)
	}
}

var _ apply.Observer = (*metrics)(nil)

var (
	descRecipe    = prometheus.NewDesc("cogs_recipe_info", "A loaded recipe (value 1), with its version.", []string{"recipe", "version"}, nil)
	descState     = prometheus.NewDesc("cogs_applier_state", "The applier's state: 1 for the current one.", []string{"recipe", "state"}, nil)
	descRead      = prometheus.NewDesc("cogs_changes_read_total", "Stream entries read by the applier.", []string{"recipe"}, nil)
	descChanges   = prometheus.NewDesc("cogs_changes_total", "Changes handled by the applier, by outcome: applied, skipped (by the recipe), coalesced (superseded in their batch), duplicate (already committed), rejected (dead-lettered).", []string{"recipe", "outcome"}, nil)
	descRows      = prometheus.NewDesc("cogs_rows_total", "Row operations committed, by operation.", []string{"recipe", "op"}, nil)
	descBatches   = prometheus.NewDesc("cogs_batches_total", "Batches committed.", []string{"recipe"}, nil)
	descWasm      = prometheus.NewDesc("cogs_recipe_failures_total", "Failed recipe (Wasm) calls, by kind: trap, timeout, error.", []string{"recipe", "kind"}, nil)
	descLength    = prometheus.NewDesc("cogs_stream_length", "Entries in the recipe's change stream.", []string{"recipe"}, nil)
	descPending   = prometheus.NewDesc("cogs_stream_pending", "Entries read but not yet acknowledged.", []string{"recipe"}, nil)
	descOldest    = prometheus.NewDesc("cogs_stream_oldest_age_seconds", "Age of the oldest entry in the change stream: how far behind the recipe is.", []string{"recipe"}, nil)
	descDLQ       = prometheus.NewDesc("cogs_dlq_length", "Entries in the recipe's dead-letter stream.", []string{"recipe"}, nil)
	descRowsRate  = prometheus.NewDesc("cogs_rows_per_second", "Row operations committed per second over the last minute.", []string{"recipe"}, nil)
	descConns     = prometheus.NewDesc("cogs_frontend_connections", "Client connections open.", nil, nil)
	descConnsAll  = prometheus.NewDesc("cogs_frontend_connections_total", "Client connections accepted.", nil, nil)
	descCommands  = prometheus.NewDesc("cogs_frontend_commands_total", "Commands received from clients.", nil, nil)
	descCaptured  = prometheus.NewDesc("cogs_frontend_captured_total", "Watched writes sent as a capture unit.", nil, nil)
	descCapturedR = prometheus.NewDesc("cogs_changes_captured_total", "Watched writes captured by the front end of this host, by the recipe watching their keys.", []string{"recipe"}, nil)
	descRefused   = prometheus.NewDesc("cogs_frontend_refused_total", "Commands refused by cogs (uncapturable writes to watched keys, backpressure, limits).", nil, nil)
	descProtoErrs = prometheus.NewDesc("cogs_frontend_protocol_errors_total", "Client connections closed for a protocol error.", nil, nil)
)

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecipe, descState, descRead, descChanges, descRows, descBatches, descWasm,
		descLength, descPending, descOldest, descDLQ, descRowsRate, descConns, descConnsAll, descCommands, descCaptured, descCapturedR, descRefused, descProtoErrs} {
		ch <- d
	}
	m.batchChanges.Describe(ch)
	m.mapSeconds.Describe(ch)
	m.applySeconds.Describe(ch)
	m.lagSeconds.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, in := range m.reg.List() {
		r, st := in.Name, in.Stats
		gauge(descRecipe, 1, r, in.Version)
		for _, s := range []apply.State{apply.StateStandby, apply.StateRunning, apply.StateRetrying, apply.StateStopped} {
			v := 0.0
			if st.State == s {
				v = 1
			}
			gauge(descState, v, r, string(s))
		}
		counter(descRead, st.Read, r)
		counter(descChanges, st.Applied, r, "applied")
		counter(descChanges, st.Skipped, r, "skipped")
		counter(descChanges, st.Coalesced, r, "coalesced")
		counter(descChanges, st.Duplicate, r, "duplicate")
		counter(descChanges, st.Failed, r, "rejected")
		counter(descRows, st.Upserts, r, "upsert")
		counter(descRows, st.Inserts, r, "insert")
		counter(descRows, st.Deletes, r, "delete")
		counter(descBatches, st.Batches, r)
		counter(descWasm, st.Traps, r, "trap")
		counter(descWasm, st.Timeouts, r, "timeout")
		counter(descWasm, st.MapErrors, r, "error")
		gauge(descRowsRate, st.RowsPerSecond, r)
		sv := m.reg.streamView(ctx, in)
		gauge(descLength, float64(sv.length), r)
		gauge(descPending, float64(sv.pending), r)
		gauge(descOldest, sv.oldest.Seconds(), r)
		gauge(descDLQ, float64(sv.dlq), r)
	}
	if m.frontend != nil {
		fs := m.frontend()
		gauge(descConns, float64(fs.Connections))
		counter(descConnsAll, fs.Accepted)
		counter(descCommands, fs.Commands+fs.StreamedCommands)
		counter(descCaptured, fs.Captured)
		for r, n := range fs.CapturedByRecipe {
			counter(descCapturedR, n, r)
		}
		counter(descRefused, fs.Refused)
		counter(descProtoErrs, fs.ProtocolErrors)
	}
	m.batchChanges.Collect(ch)
	m.mapSeconds.Collect(ch)
	m.applySeconds.Collect(ch)
	m.lagSeconds.Collect(ch)
}

// frontendStats are the front end's counters.
type frontendStats struct {
	Connections                                           int64
	Accepted, Commands, Captured, Refused, ProtocolErrors uint64
}

// serveMetrics serves /metrics, /healthz and /readyz on l until ctx is
// done. /healthz answers 200 while the process serves; /readyz 200 when
// the upstream Redis answers PING, 503 otherwise.
func serveMetrics(ctx context.Context, l net.Listener, m *metrics, ready func(context.Context) error, log hclog.Logger) {
	pr := prometheus.NewRegistry()
	pr.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(pr, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(rctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("metrics listening", "addr", l.Addr().String())
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("metrics server failed", "error", err)
	}
}
