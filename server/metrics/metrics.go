// Package metrics exposes Cairn's Prometheus metrics. It is the only package that imports the
// Prometheus client: the engine, the dispatcher and the event bus report through small
// interfaces and callbacks (dispatch.Observer, Sources), and the state of the installation
// (deployments, queue, agents, outboxes) is counted from the database at scrape time, so no
// counter can drift from what the database holds.
//
// Counters and histograms (dispatch latency, log lines, webhook deliveries) are per replica:
// sum them across replicas. Gauges read from the database are the same on every replica: take
// max across replicas, not sum.
package metrics

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cairnhq/cairn/delivery"
)

// Sources are the values read at scrape time. Nil fields are not reported.
type Sources struct {
	// Gauges reads the installation's state from the database (delivery.Engine.ReadGauges).
	Gauges func(ctx context.Context) (*delivery.Gauges, error)
	// Subscribers is the number of live event-bus subscriptions of this replica.
	Subscribers func() int
	// LaggedSubscribers is the number of subscriptions the bus dropped for falling behind.
	LaggedSubscribers func() uint64
	// AgentConnections is the number of agents connected to this replica.
	AgentConnections func() int
	// Retention reads this replica's retention counters (delivery.Engine.RetentionStats).
	Retention func() delivery.RetentionStats
	// FanoutHits and FanoutMisses count the GraphQL event payloads reused from the fan-out
	// cache and those executed (graph.FanoutStats).
	FanoutHits, FanoutMisses func() uint64
	// Logger receives scrape errors (default: discarded).
	Logger *slog.Logger
}

// Metrics is a registry with Cairn's metrics and the Go runtime's. It implements
// dispatch.Observer.
type Metrics struct {
	reg          *prometheus.Registry
	dispatchWait prometheus.Histogram
	logLines     prometheus.Counter
	webhooks     *prometheus.CounterVec
}

// New registers Cairn's metrics, the Go runtime's and the process's.
func New(src Sources) *Metrics {
	if src.Logger == nil {
		src.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		dispatchWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cairn_dispatch_latency_seconds",
			Help: "Time from a job being queued to its assignment to an agent (this replica's assignments).",
			// From the milliseconds of a push to the minutes of a job that waited for an agent.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}),
		logLines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cairn_log_lines_ingested_total",
			Help: "Job log lines received from agents and stored (a batch resent after a reconnect counts again).",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_webhook_deliveries_total",
			Help: "CI webhook requests by source, result (accepted, ignored, rejected) and HTTP status.",
		}, []string{"source", "result", "code"}),
	}
	if src.LaggedSubscribers != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cairn_event_subscribers_lagged_total",
			Help: "Event-bus subscriptions dropped because they fell a full buffer behind (they re-read the database).",
		}, func() float64 { return float64(src.LaggedSubscribers()) }))
	}
	if src.FanoutHits != nil && src.FanoutMisses != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cairn_event_payload_cache_hits_total",
			Help: "GraphQL event payloads reused from the fan-out cache (same event, subscription shape and visibility class).",
		}, func() float64 { return float64(src.FanoutHits()) }))
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cairn_event_payload_cache_misses_total",
			Help: "GraphQL event payloads executed for subscribers (the first of each shape and visibility class).",
		}, func() float64 { return float64(src.FanoutMisses()) }))
	}
	if src.Retention != nil {
		counter := func(name, help string, v func(delivery.RetentionStats) float64) {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
				func() float64 { return v(src.Retention()) }))
		}
		counter("cairn_retention_runs_total", "Retention runs this replica made (the schedule gives each run to one replica).",
			func(s delivery.RetentionStats) float64 { return float64(s.Runs) })
		counter("cairn_retention_releases_deleted_total", "Releases deleted by retention on this replica.",
			func(s delivery.RetentionStats) float64 { return float64(s.ReleasesDeleted) })
		counter("cairn_retention_logs_pruned_total", "Releases whose logs and gate samples log retention removed on this replica.",
			func(s delivery.RetentionStats) float64 { return float64(s.LogsPruned) })
		counter("cairn_retention_records_pruned_total", "Webhook deliveries, hook deliveries, notifications and sessions pruned on this replica.",
			func(s delivery.RetentionStats) float64 { return float64(s.RecordsPruned) })
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_retention_last_run_seconds",
			Help: "How long this replica's last retention run took."},
			func() float64 { return src.Retention().LastRunSeconds }))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_retention_last_run_timestamp_seconds",
			Help: "When this replica's last retention run ended (Unix time; 0: none yet)."},
			func() float64 { return float64(src.Retention().LastRunUnix) }))
	}
	m.reg.MustRegister(m.dispatchWait, m.logLines, m.webhooks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{src: src})
	return m
}

// JobAssigned observes a job's wait from queued to assigned (dispatch.Observer).
func (m *Metrics) JobAssigned(wait time.Duration) { m.dispatchWait.Observe(wait.Seconds()) }

// LogLinesReceived counts stored log lines (dispatch.Observer).
func (m *Metrics) LogLinesReceived(n int) { m.logLines.Add(float64(n)) }

// Webhook wraps a CI webhook handler and counts its answers. The handlers' statuses are fixed
// (docs/decisions.md, "Status codes"): 201 accepted, 202 ignored, everything else rejected.
func (m *Metrics) Webhook(source string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		result := "rejected"
		switch code {
		case http.StatusCreated, http.StatusOK:
			result = "accepted"
		case http.StatusAccepted:
			result = "ignored"
		}
		m.webhooks.WithLabelValues(source, result, strconv.Itoa(code)).Inc()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Handler serves the metrics in Prometheus' text (or OpenMetrics) format, without
// authentication: mount it on a listener only Prometheus reaches, or behind TokenHandler.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, MaxRequestsInFlight: 4, Timeout: 30 * time.Second,
	})
}

// TokenHandler serves the metrics to requests that carry "Authorization: Bearer <token>"
// (compared in constant time); others get 401. An empty token refuses everyone.
func (m *Metrics) TokenHandler(token string) http.Handler {
	h := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cairn metrics"`)
			http.Error(w, "metrics need Authorization: Bearer <metrics token>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

var (
	descDeployments = prometheus.NewDesc("cairn_deployments",
		"Deployments by environment name and status (from the database: the same on every replica).",
		[]string{"environment", "status"}, nil)
	descQueued = prometheus.NewDesc("cairn_queued_jobs",
		"Jobs waiting for an agent, by the reason the dispatcher gives (empty: not explained yet).",
		[]string{"reason"}, nil)
	descQueueDepth    = prometheus.NewDesc("cairn_queue_depth", "Jobs waiting for an agent.", nil, nil)
	descInterventions = prometheus.NewDesc("cairn_manual_interventions_pending",
		"Manual interventions waiting for a person to resume or reject them.", nil, nil)
	descAgents = prometheus.NewDesc("cairn_agents",
		"Registered agents by state: online, offline (enabled, not connected) or disabled.",
		[]string{"state"}, nil)
	descConnections = prometheus.NewDesc("cairn_agent_connections", "Agents connected to this replica.", nil, nil)
	descOutbox      = prometheus.NewDesc("cairn_outbox_messages",
		"Outbox rows by outbox (notification: email; hook: outgoing hooks) and status; FAILED ones were given up.",
		[]string{"outbox", "status"}, nil)
	descRetrying = prometheus.NewDesc("cairn_outbox_retrying",
		"Pending outbox rows that failed at least once and will be retried.", []string{"outbox"}, nil)
	descSubscribers = prometheus.NewDesc("cairn_event_subscribers",
		"Live event-bus subscriptions of this replica (GraphQL subscriptions and internal loops).", nil, nil)
	descUp = prometheus.NewDesc("cairn_state_read_success",
		"1 if this scrape read the installation's state from the database, 0 if it failed.", nil, nil)
)

// stateCollector reads the database and the process's counts at each scrape.
type stateCollector struct{ src Sources }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDeployments, descQueued, descQueueDepth, descInterventions, descAgents,
		descConnections, descOutbox, descRetrying, descSubscribers, descUp} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	if c.src.Subscribers != nil {
		gauge(descSubscribers, c.src.Subscribers())
	}
	if c.src.AgentConnections != nil {
		gauge(descConnections, c.src.AgentConnections())
	}
	if c.src.Gauges == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := c.src.Gauges(ctx)
	if err != nil {
		c.src.Logger.Warn("metrics: reading the state failed", "err", err)
		gauge(descUp, 0)
		return
	}
	gauge(descUp, 1)
	for _, d := range g.Deployments {
		gauge(descDeployments, d.Count, d.Environment, d.Status)
	}
	depth := 0
	for _, q := range g.Queued {
		gauge(descQueued, q.Count, q.Reason)
		depth += q.Count
	}
	gauge(descQueueDepth, depth)
	gauge(descInterventions, g.InterventionsPending)
	gauge(descAgents, g.AgentsOnline, "online")
	gauge(descAgents, g.AgentsOffline, "offline")
	gauge(descAgents, g.AgentsDisabled, "disabled")
	outbox := func(name string, byStatus map[string]int, statuses ...string) {
		for _, s := range statuses {
			gauge(descOutbox, byStatus[s], name, s) // zeros too: a dashboard needs the series
		}
	}
	outbox("notification", g.Notifications, "PENDING", "SENT", "FAILED")
	outbox("hook", g.Hooks, "PENDING", "SUCCEEDED", "FAILED")
	gauge(descRetrying, g.NotificationsRetrying, "notification")
	gauge(descRetrying, g.HooksRetrying, "hook")
}
