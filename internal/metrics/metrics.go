// Package metrics holds the Prometheus metrics every role reports, on one registry per process (no
// global registry, so tests can run several pipelines in one process).
package metrics

import (
	"net/http"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are this process's metrics.
type Metrics struct {
	Registry *prometheus.Registry

	BallotsCommitted prometheus.Counter // ballots committed to the ledger by this process
	CastsRefused     *prometheus.CounterVec
	CastBatch        prometheus.Histogram // seconds per group-commit transaction
	BallotsRelayed   prometheus.Counter   // ballots this process's relay committed to Kafka
	RelayBatch       prometheus.Histogram
	BallotsTallied   prometheus.Counter // ballots this process's tally committed
	TallyTxn         prometheus.Histogram
	TallyLag         *prometheus.GaugeVec   // records on votes_topic after the last one this process's tally read, by partition
	RecordsRejected  *prometheus.CounterVec // records on votes_topic the tally did not count, by reason
	ResultsBallots   prometheus.Gauge       // ballots counted in the results this process serves
	ResultsLag       prometheus.Gauge       // ballots in the ledger not yet in this process's results, as last seen
	ResultsUpdated   prometheus.Gauge       // when the results this process serves last changed (Unix seconds)
	ResultsNewest    prometheus.Gauge       // when the newest ballot in those results was committed (Unix seconds)
	SSEClients       prometheus.Gauge
	BoardEntries     prometheus.Counter     // ballots this process appended to the bulletin board
	BoardBatch       prometheus.Histogram   // seconds per board append batch
	HTTPConns        prometheus.Gauge       // open HTTP connections
	Refused          *prometheus.CounterVec // connections, event streams and receipt lookups refused over a limit, by what and why
	HTTPRequests     *prometheus.CounterVec // requests answered, by route (the pattern matched) and status code
}

// New registers the metrics on a fresh registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{Registry: r}
	m.BallotsCommitted = prometheus.NewCounter(prometheus.CounterOpts{Name: "election_ballots_committed_total", Help: "Ballots committed to the ledger by this process."})
	m.CastsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "election_casts_refused_total", Help: "Casts refused, by reason."}, []string{"reason"})
	m.CastBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "election_cast_batch_seconds", Help: "Duration of one group-commit transaction.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.BallotsRelayed = prometheus.NewCounter(prometheus.CounterOpts{Name: "election_ballots_relayed_total", Help: "Ballots the relay committed to Kafka."})
	m.RelayBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "election_relay_batch_seconds", Help: "Duration of one relay transaction.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.BallotsTallied = prometheus.NewCounter(prometheus.CounterOpts{Name: "election_ballots_tallied_total", Help: "Ballots the tally committed (exactly once)."})
	m.TallyTxn = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "election_tally_txn_seconds", Help: "Duration of one tally transaction.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.TallyLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "election_tally_lag_offsets", Help: "Consumer lag: offsets on votes_topic after the last record the tally read, per partition, as of its last fetch (each relay transaction's commit marker takes an offset too, so an idle partition shows 1)."}, []string{"partition"})
	m.RecordsRejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "election_tally_rejected_records_total", Help: "Records on votes_topic that are not ballots of this election's relay, skipped by the tally (exactly once), by reason."}, []string{"reason"})
	m.ResultsBallots = prometheus.NewGauge(prometheus.GaugeOpts{Name: "election_results_ballots", Help: "Ballots counted in the results this process serves."})
	m.ResultsLag = prometheus.NewGauge(prometheus.GaugeOpts{Name: "election_results_lag_ballots", Help: "Ballots committed to the ledger but not yet in the results (as this process last saw)."})
	m.ResultsUpdated = prometheus.NewGauge(prometheus.GaugeOpts{Name: "election_results_updated_timestamp_seconds", Help: "When the results this process serves last changed (Unix time)."})
	m.ResultsNewest = prometheus.NewGauge(prometheus.GaugeOpts{Name: "election_results_newest_ballot_timestamp_seconds", Help: "When the newest ballot counted in the results this process serves was committed to Kafka (Unix time): time() minus this is how fresh the results are while ballots flow."})
	m.SSEClients = prometheus.NewGauge(prometheus.GaugeOpts{Name: "election_sse_clients", Help: "Connected event-stream subscribers."})
	m.BoardEntries = prometheus.NewCounter(prometheus.CounterOpts{Name: "election_board_entries_total", Help: "Ballots this process appended to the bulletin board."})
	m.BoardBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "election_board_batch_seconds", Help: "Duration of one bulletin-board append batch.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.HTTPConns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "election_http_connections", Help: "Open HTTP connections."})
	m.Refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "election_http_refused_total", Help: "Connections and event streams refused over a limit (what: connection or stream; limit: total or per_client)."}, []string{"what", "limit"})
	m.HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "election_http_requests_total", Help: "HTTP requests answered, by route (the pattern matched; \"unmatched\" for none) and status code."}, []string{"route", "code"})
	f(buildInfo())
	for _, c := range []prometheus.Collector{m.HTTPRequests, m.BoardEntries, m.BoardBatch, m.HTTPConns, m.Refused, m.BallotsCommitted, m.CastsRefused, m.CastBatch, m.BallotsRelayed, m.RelayBatch,
		m.BallotsTallied, m.TallyTxn, m.TallyLag, m.RecordsRejected, m.ResultsBallots, m.ResultsLag, m.ResultsUpdated, m.ResultsNewest, m.SSEClients} {
		f(c)
	}
	return m
}

// buildInfo is a gauge of 1 whose labels name this build: module version, commit (as Go recorded it;
// "unknown" for builds without VCS stamping) and Go version.
func buildInfo() prometheus.Collector {
	version, revision, goVersion := "unknown", "unknown", "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		version, goVersion = info.Main.Version, info.GoVersion
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "election_build_info", Help: "A constant 1, labelled with this build's version, commit and Go version.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion}})
	g.Set(1)
	return g
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
