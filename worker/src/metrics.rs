//! The worker's Prometheus metrics and the read-only HTTP endpoint that serves them
//! (`--metrics-listen`, `GET /metrics`, OpenMetrics text).
//!
//! Two kinds of numbers: events the daemon shell records as they happen ([`WorkerMetrics`]:
//! leases taken, finished and failed, matched filters, compute time, connection state), and
//! state read at scrape time from the engines and caches themselves ([`Sources`]: cache hits,
//! misses, evictions, bytes and entries, templates generated), so the caches carry plain atomic
//! counters and know nothing of Prometheus. The sans-IO session records nothing.
//!
//! The endpoint serves only these counts: no job data, no tokens, no names beyond the metric
//! names; it accepts only `GET /metrics` and changes nothing.

use crate::data_cache::DataCache;
use crate::engine::data::DataEngine;
use crate::engine::{CacheStats, Engine};
use chirpfarm_proto::v1::worker_message::Msg as Out;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// One metric family read from each cache: name, help text and how to read the value.
type Family<T, V> = (&'static str, &'static str, fn(&T) -> V);

/// The engines and caches whose state is read at each scrape.
#[derive(Clone)]
pub struct Sources {
    /// The signal-search engine (its template cache).
    pub engine: Arc<Engine>,
    /// The data-search engine (its band-template cache).
    pub data_engine: Arc<DataEngine>,
    /// Strain, PSDs and conditioned segments.
    pub data_cache: Arc<DataCache>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sources(..)")
    }
}

/// One cache's numbers at scrape time.
struct CacheReading {
    /// The `cache` label: `template`, `band` or `data`.
    name: &'static str,
    stats: CacheStats,
    bytes: usize,
    entries: usize,
}

impl Sources {
    fn caches(&self) -> [CacheReading; 3] {
        [
            CacheReading {
                name: "template",
                stats: self.engine.cache_stats(),
                bytes: self.engine.cached_bytes(),
                entries: self.engine.cached_templates(),
            },
            CacheReading {
                name: "band",
                stats: self.data_engine.cache_stats(),
                bytes: self.data_engine.cached_bytes(),
                entries: self.data_engine.cached_templates(),
            },
            CacheReading {
                name: "data",
                stats: self.data_cache.stats(),
                bytes: self.data_cache.bytes(),
                entries: self.data_cache.len(),
            },
        ]
    }
}

impl Collector for Sources {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let generated = ConstCounter::new(
            self.engine.templates_generated() + self.data_engine.templates_generated(),
        );
        generated.encode(encoder.encode_descriptor(
            "chirpfarm_worker_templates_generated",
            "Templates generated (template-cache misses), signal and data searches together.",
            None,
            generated.metric_type(),
        )?)?;
        let caches = self.caches();
        let counters: [Family<CacheStats, u64>; 3] = [
            (
                "chirpfarm_worker_cache_hits",
                "Cache lookups that found their entry.",
                |s| s.hits,
            ),
            (
                "chirpfarm_worker_cache_misses",
                "Cache lookups that did not find their entry.",
                |s| s.misses,
            ),
            (
                "chirpfarm_worker_cache_evictions",
                "Cache entries removed to stay within the budget.",
                |s| s.evictions,
            ),
        ];
        for (name, help, pick) in counters {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                ConstCounter::new(0u64).metric_type(),
            )?;
            for c in &caches {
                ConstCounter::new(pick(&c.stats))
                    .encode(family.encode_family(&[("cache", c.name)])?)?;
            }
        }
        let gauges: [Family<CacheReading, i64>; 2] = [
            (
                "chirpfarm_worker_cache_bytes",
                "Bytes held by each cache.",
                |c| c.bytes as i64,
            ),
            (
                "chirpfarm_worker_cache_entries",
                "Entries held by each cache.",
                |c| c.entries as i64,
            ),
        ];
        for (name, help, pick) in gauges {
            let mut family =
                encoder.encode_descriptor(name, help, None, ConstGauge::new(0i64).metric_type())?;
            for c in &caches {
                ConstGauge::new(pick(c)).encode(family.encode_family(&[("cache", c.name)])?)?;
            }
        }
        Ok(())
    }
}

/// What the daemon shell records as it happens, and the registry that exposes it all.
pub struct WorkerMetrics {
    registry: Registry,
    leased: Counter,
    completed: Counter,
    failed: Counter,
    filtered: Counter,
    compute_seconds: Histogram,
    in_flight: Gauge,
    connected: Gauge,
    reconnects: Counter,
}

impl WorkerMetrics {
    /// Metrics for a worker with `threads` compute threads and `credits` tasks requested ahead,
    /// reading cache state from `sources` at each scrape.
    pub fn new(sources: Sources, threads: usize, credits: u32) -> WorkerMetrics {
        let mut registry = Registry::default();
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let leased = counter(
            "chirpfarm_worker_tasks_leased",
            "Tasks leased to this worker.",
        );
        let completed = counter(
            "chirpfarm_worker_tasks_completed",
            "Tasks computed and reported with a result.",
        );
        let failed = counter(
            "chirpfarm_worker_tasks_failed",
            "Tasks that ended without a result (a bad task, an engine error, a revoked lease).",
        );
        let filtered = counter(
            "chirpfarm_worker_templates_filtered",
            "Matched filters computed: one per template and signal (signal searches) or per \
             template and segment (data searches).",
        );
        let reconnects = counter(
            "chirpfarm_worker_reconnects",
            "Connections to the coordinator that failed or were lost, each followed by a retry.",
        );
        let compute_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register(
            "chirpfarm_worker_task_compute_seconds",
            "Compute time of each completed task, in seconds.",
            compute_seconds.clone(),
        );
        let mut gauge = |name: &str, help: &str, value: i64| {
            let g = Gauge::<i64>::default();
            g.set(value);
            registry.register(name, help, g.clone());
            g
        };
        let in_flight = gauge(
            "chirpfarm_worker_tasks_in_flight",
            "Leases being computed now (credits in use).",
            0,
        );
        let connected = gauge(
            "chirpfarm_worker_connected",
            "1 while registered with the coordinator, 0 otherwise.",
            0,
        );
        gauge(
            "chirpfarm_worker_threads",
            "Compute threads (--threads).",
            threads as i64,
        );
        gauge(
            "chirpfarm_worker_credits",
            "Tasks this worker requests ahead (--credits): the most leases in flight at once.",
            credits as i64,
        );
        registry.register_collector(Box::new(sources));
        WorkerMetrics {
            registry,
            leased,
            completed,
            failed,
            filtered,
            compute_seconds,
            in_flight,
            connected,
            reconnects,
        }
    }

    /// A lease was started.
    pub fn leased(&self) {
        self.leased.inc();
    }

    /// A computation finished with `msg`, having computed `filtered` matched filters.
    pub fn finished(&self, msg: &Out, filtered: u64) {
        match msg {
            Out::Result(r) => {
                self.completed.inc();
                self.filtered.inc_by(filtered);
                self.compute_seconds.observe(r.compute_seconds);
            }
            _ => {
                self.failed.inc();
            }
        }
    }

    /// Leases being computed now.
    pub fn in_flight(&self, running: usize) {
        self.in_flight.set(running as i64);
    }

    /// Registered with the coordinator (`true`) or not.
    pub fn connected(&self, up: bool) {
        self.connected.set(up as i64);
    }

    /// A connection failed or was lost; the daemon retries.
    pub fn reconnecting(&self) {
        self.reconnects.inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; the collector's encoders only fail on a bad writer.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The content type of [`WorkerMetrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `GET /metrics` on `listener` until the process exits.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<WorkerMetrics>) {
    use axum::http::header;
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render()) }
        }),
    );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!("metrics endpoint stopped: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> WorkerMetrics {
        let sources = Sources {
            engine: Arc::new(Engine::new(0)),
            data_engine: Arc::new(DataEngine::new(0)),
            data_cache: Arc::new(DataCache::new(0)),
        };
        WorkerMetrics::new(sources, 4, 2)
    }

    #[test]
    fn text_names_every_metric_with_its_value() {
        let m = metrics();
        m.leased();
        m.leased();
        let result = Out::Result(chirpfarm_proto::v1::TaskResult {
            compute_seconds: 0.5,
            ..Default::default()
        });
        m.finished(&result, 30);
        m.finished(&Out::Failed(Default::default()), 0);
        m.connected(true);
        m.in_flight(1);
        let text = m.render();
        for line in [
            "chirpfarm_worker_tasks_leased_total 2",
            "chirpfarm_worker_tasks_completed_total 1",
            "chirpfarm_worker_tasks_failed_total 1",
            "chirpfarm_worker_templates_filtered_total 30",
            "chirpfarm_worker_task_compute_seconds_count 1",
            "chirpfarm_worker_task_compute_seconds_sum 0.5",
            "chirpfarm_worker_connected 1",
            "chirpfarm_worker_tasks_in_flight 1",
            "chirpfarm_worker_threads 4",
            "chirpfarm_worker_credits 2",
            "chirpfarm_worker_templates_generated_total 0",
            "chirpfarm_worker_cache_hits_total{cache=\"template\"} 0",
            "chirpfarm_worker_cache_bytes{cache=\"data\"} 0",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
