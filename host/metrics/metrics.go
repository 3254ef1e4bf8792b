package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every series the host exports.
type Metrics struct {
	Registry *prometheus.Registry

	HTTPRequests        *prometheus.CounterVec
	HTTPDuration        *prometheus.HistogramVec
	HTTPInFlight        prometheus.Gauge
	PluginUp            *prometheus.GaugeVec
	PluginRestarts      *prometheus.CounterVec
	RegistryOpDuration  *prometheus.HistogramVec
	RegistryOpErrors    *prometheus.CounterVec
	ExecutorQueued      prometheus.Gauge
	ExecutorRunning     prometheus.Gauge
	ExecutorRejected    prometheus.Counter
	ExecutorTaskSeconds prometheus.Histogram
	WSConnections       prometheus.Gauge
	WSMessagesSent      prometheus.Counter
	WSMessagesReceived  prometheus.Counter
	WSClosed            *prometheus.CounterVec
	WSSlowConsumers     prometheus.Counter
	EventDeliveries     prometheus.Counter
	EventsDropped       prometheus.Counter
	Swaps               *prometheus.CounterVec
	SwapDuration        prometheus.Histogram
	ConnectionsAdopted  prometheus.Counter
	PageSnapshots       *prometheus.CounterVec
	IPCMessages         *prometheus.CounterVec
	IPCErrors           *prometheus.CounterVec
	IPCConnected        prometheus.Gauge
	PagesRestored       prometheus.Counter

	registryItems *registryItems
}

// New builds the series on a fresh registry, with the Go and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gnrhost_http_requests_total",
			Help: "HTTP requests answered, by route kind and status code.",
		}, []string{"route", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gnrhost_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route kind.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		HTTPInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gnrhost_http_requests_in_flight",
			Help: "HTTP requests being answered now.",
		}),
		PluginUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gnrhost_plugin_up",
			Help: "1 when the plugin in a slot answers its health check, else 0.",
		}, []string{"slot", "plugin", "mode"}),
		PluginRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gnrhost_plugin_restarts_total",
			Help: "Restarts of out-of-process plugins after a crash or failed health checks.",
		}, []string{"slot", "plugin"}),
		RegistryOpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gnrhost_registry_operation_duration_seconds",
			Help:    "Time of one registry call, by operation.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, 1},
		}, []string{"op"}),
		RegistryOpErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gnrhost_registry_operation_errors_total",
			Help: "Registry calls that failed, by operation and kind (unavailable, not_found, other).",
		}, []string{"op", "kind"}),
		ExecutorQueued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gnrhost_executor_queued",
			Help: "Blocking tasks waiting for an executor worker.",
		}),
		ExecutorRunning: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gnrhost_executor_running",
			Help: "Blocking tasks running on executor workers.",
		}),
		ExecutorRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gnrhost_executor_rejected_total",
			Help: "Tasks refused because the executor queue was full.",
		}),
		ExecutorTaskSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gnrhost_executor_task_duration_seconds",
			Help:    "Run time of executor tasks.",
			Buckets: prometheus.DefBuckets,
		}),
		WSConnections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gnrhost_ws_connections",
			Help: "Open WebSocket connections.",
		}),
		WSMessagesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gnrhost_ws_messages_sent_total",
			Help: "WebSocket messages written to clients (pushes, results, control).",
		}),
		WSMessagesReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gnrhost_ws_messages_received_total",
			Help: "WebSocket data messages read from clients.",
		}),
		WSClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gnrhost_ws_closed_total",
			Help: "WebSocket connections closed, by close code.",
		}, []string{"code"}),
		EventDeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gnrhost_dbevent_deliveries_total",
			Help: "Dbevents delivered to a page's event entry.",
		}),
		EventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gnrhost_dbevent_deliveries_dropped_total",
			Help: "Dbevent deliveries dropped because their page's delivery queue was full.",
		}),
		WSSlowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gnrhost_ws_slow_consumers_total",
			Help: "WebSocket connections closed because their client could not keep up.",
		}),
		Swaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gnrhost_swaps_total",
			Help: "Plugin-set swaps, by kind (swap, rollback, reload, auto-rollback) and result (ok, failed).",
		}, []string{"kind", "result"}),
		SwapDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gnrhost_swap_duration_seconds",
			Help:    "Time of a successful swap, from the request to the old set's release.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		ConnectionsAdopted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gnrhost_connections_adopted_total",
			Help: "Signed connection cookies taken over by this process (phase 7: users moved here by a change of the process count, or back after a restart).",
		}),
		IPCMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gnrhost_ipc_messages_total",
			Help: "Cross-process (nats) messages, by kind (dbevents, notify) and direction (published, received).",
		}, []string{"kind", "direction"}),
		IPCErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gnrhost_ipc_errors_total",
			Help: "Cross-process (nats) failures, by kind (publish, too_large, decode, deliver, slow_consumer, disconnect, kv, async, encode).",
		}, []string{"kind"}),
		IPCConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gnrhost_ipc_connected",
			Help: "1 while the nats connection is up (0 also when the backend is local).",
		}),
		PagesRestored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gnrhost_pages_restored_total",
			Help: "Persist pages rebuilt from their snapshot by a process that did not know them (phase 7).",
		}),
		PageSnapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gnrhost_page_snapshots_total",
			Help: "Snapshots of persist pages written (result ok), refused because another process took the page (moved), or failed (error).",
		}, []string{"result"}),
		registryItems: newRegistryItems(),
	}
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTPRequests, m.HTTPDuration, m.HTTPInFlight,
		m.PluginUp, m.PluginRestarts,
		m.RegistryOpDuration, m.RegistryOpErrors,
		m.ExecutorQueued, m.ExecutorRunning, m.ExecutorRejected, m.ExecutorTaskSeconds,
		m.WSConnections, m.WSMessagesSent, m.WSMessagesReceived, m.WSClosed, m.WSSlowConsumers,
		m.EventDeliveries, m.EventsDropped, m.Swaps, m.SwapDuration, m.ConnectionsAdopted,
		m.IPCMessages, m.IPCErrors, m.IPCConnected, m.PagesRestored, m.PageSnapshots, m.registryItems,
	)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Timeout: 5 * time.Second})
}
