//! The coordinator's Prometheus metrics: one registry, cloned into the coordinator state.
//!
//! Counters and histograms are updated where their events happen — by the [`Observer`] the
//! shell feeds every scheduler event and action (the scheduler itself stays free of them), and
//! by the journal thread around each write. Gauges (workers, jobs and tasks by state, queue
//! depth, blob bytes) are computed from the coordinator's state at scrape time
//! ([`crate::Coordinator::render_metrics`]), so they can never drift from it.

mod observer;

pub use observer::{Observer, Seen};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// The `Content-Type` of [`Metrics::encode`]'s output (OpenMetrics text, which Prometheus
/// negotiates and `promtool check metrics` reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `Content-Type` of [`classic`]'s output: the Prometheus text format 0.0.4, for scrapers
/// that do not ask for OpenMetrics (curl, `promtool check metrics`).
pub const CLASSIC_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Job states as the CLI prints them: every one is exported (0 when none), so a query for a
/// state that has no job yet still finds a series.
pub const JOB_STATES: [&str; 5] = ["queued", "running", "succeeded", "failed", "cancelled"];

/// Task states exported by `chirpfarm_tasks`.
pub const TASK_STATES: [&str; 3] = ["pending", "running", "done"];

/// The `state` label of the job and task gauges: one label set type, so both families encode
/// their label the same way.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// A job state from [`JOB_STATES`] or a task state from [`TASK_STATES`].
    pub state: &'static str,
}

/// The registry and a handle on every metric in it. Cheap to clone (handles share their
/// values), so the scheduler shell and the journal thread each keep one.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Everything registered, for encoding.
    registry: Arc<Registry>,
    /// Live worker sessions (scrape time).
    pub workers: Gauge,
    /// Jobs by state (scrape time).
    pub jobs: Family<StateLabel, Gauge>,
    /// Tasks by state over all jobs (scrape time).
    pub tasks: Family<StateLabel, Gauge>,
    /// Unfinished jobs, the quantity `--max-queued-jobs` bounds (scrape time).
    pub queue_depth: Gauge,
    /// Bytes of uploaded blobs held (scrape time).
    pub blob_bytes: Gauge,
    /// Leases handed out (every execution attempt, speculative copies included).
    pub attempts: Counter,
    /// Executions that failed (counted as the scheduler counts them toward a job's failure).
    pub failures: Counter,
    /// Template filterings whose results were accepted: templates × signals (× segments for
    /// a data search).
    pub templates: Counter,
    /// Seconds from a task becoming ready (submitted, or back in the queue) to its lease.
    pub lease_latency: Histogram,
    /// Seconds from a lease to the acceptance of its result.
    pub result_latency: Histogram,
    /// Seconds one journal write (write and fsync of one job's batch) takes; registered only
    /// with a data dir.
    pub journal_write: Histogram,
}

impl Metrics {
    /// A registry with every metric, the journal histogram only when `journal` is set.
    pub fn new(journal: bool) -> Metrics {
        let mut registry = Registry::with_prefix("chirpfarm");
        let m = Metrics {
            registry: Arc::new(Registry::default()),
            workers: Gauge::default(),
            jobs: Family::default(),
            tasks: Family::default(),
            queue_depth: Gauge::default(),
            blob_bytes: Gauge::default(),
            attempts: Counter::default(),
            failures: Counter::default(),
            templates: Counter::default(),
            lease_latency: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            result_latency: Histogram::new(exponential_buckets(0.01, 2.0, 16)),
            journal_write: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
        };
        // One table per metric type: the names and help texts side by side, registered alike.
        let gauges = [
            ("workers", "Worker daemons registered now", &m.workers),
            (
                "queue_depth",
                "Unfinished (queued or running) jobs; --max-queued-jobs bounds it",
                &m.queue_depth,
            ),
            (
                "blob_bytes",
                "Bytes of uploaded blobs (strain samples, noise spectra) held by the coordinator",
                &m.blob_bytes,
            ),
        ];
        for (name, help, gauge) in gauges {
            registry.register(name, help, gauge.clone());
        }
        let by_state = [
            ("jobs", "Jobs known to the coordinator, by state (queued, running, succeeded, failed, cancelled)", &m.jobs),
            ("tasks", "Tasks by state: pending (waiting for a worker, unfinished jobs), running (leased or being stored), done (result stored)", &m.tasks),
        ];
        for (name, help, family) in by_state {
            registry.register(name, help, family.clone());
        }
        let counters = [
            ("task_attempts", "Task leases handed out (every execution attempt, speculative copies included)", &m.attempts),
            ("task_failures", "Task executions that failed on a worker (a job fails after 3 on one task)", &m.failures),
            ("templates_computed", "Templates filtered with accepted results, times signals (or segments) per template; templates/s is rate(chirpfarm_templates_computed_total[1m])", &m.templates),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        let histograms = [
            (
                "lease_latency_seconds",
                "Seconds from a task becoming ready (submitted or re-queued) to its lease",
                &m.lease_latency,
            ),
            (
                "result_latency_seconds",
                "Seconds from a lease to the acceptance of its result",
                &m.result_latency,
            ),
        ];
        for (name, help, histogram) in histograms {
            registry.register(name, help, histogram.clone());
        }
        if journal {
            registry.register(
                "journal_write_seconds",
                "Seconds one journal write (one job's batch of results, written and fsynced) takes",
                m.journal_write.clone(),
            );
        }
        Metrics {
            registry: Arc::new(registry),
            ..m
        }
    }

    /// The exposition text ([`CONTENT_TYPE`]) of every metric's current value.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an encoder error would be a bug in a metric type.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

/// The scrape-time values of the gauges, counted from the coordinator's state under its lock.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Live worker sessions.
    pub workers: usize,
    /// Jobs per state, in [`JOB_STATES`] order.
    pub jobs: [usize; 5],
    /// Tasks per state, in [`TASK_STATES`] order.
    pub tasks: [u64; 3],
    /// Bytes of blobs held.
    pub blob_bytes: u64,
}

impl Metrics {
    /// Sets the gauges to `snap`.
    pub fn set(&self, snap: &Snapshot) {
        self.workers.set(snap.workers as i64);
        for (state, n) in JOB_STATES.iter().zip(snap.jobs) {
            self.jobs.get_or_create(&StateLabel { state }).set(n as i64);
        }
        for (state, n) in TASK_STATES.iter().zip(snap.tasks) {
            self.tasks
                .get_or_create(&StateLabel { state })
                .set(n as i64);
        }
        self.queue_depth.set((snap.jobs[0] + snap.jobs[1]) as i64);
        self.blob_bytes.set(snap.blob_bytes as i64);
    }
}

/// OpenMetrics text rewritten to the Prometheus text format 0.0.4: counter families are named
/// with their `_total` suffix in `# HELP`/`# TYPE` (as their samples are), and `# EOF` goes.
pub fn classic(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 64);
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let family = ["# HELP ", "# TYPE "].iter().find_map(|p| {
            let rest = line.strip_prefix(p)?;
            let name = rest.split(' ').next()?;
            counters
                .contains(name)
                .then(|| (p, name, &rest[name.len()..]))
        });
        match family {
            Some((prefix, name, tail)) => out.push_str(&format!("{prefix}{name}_total{tail}")),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Counts the gauges' values from the coordinator's state (under its lock, briefly).
pub fn snapshot(coord: &crate::Coordinator) -> Snapshot {
    use crate::scheduler::JobState;
    let inner = coord.lock();
    let mut snap = Snapshot {
        workers: inner.sessions.len(),
        blob_bytes: coord.blobs.bytes(),
        ..Snapshot::default()
    };
    for id in inner.jobs.keys() {
        let state = inner.sched.job_state(*id);
        let i = match state {
            Some(JobState::Queued) => 0,
            Some(JobState::Running) | None => 1,
            Some(JobState::Succeeded) => 2,
            Some(JobState::Failed) => 3,
            Some(JobState::Cancelled) => 4,
        };
        snap.jobs[i] += 1;
        let (pending, running, done) = inner.sched.task_states(*id).unwrap_or_default();
        // Tasks of an ended job are no longer waiting or running.
        if !state.is_some_and(JobState::is_final) {
            snap.tasks[0] += pending as u64;
            snap.tasks[1] += running as u64;
        }
        snap.tasks[2] += done as u64;
    }
    snap
}

/// The exposition text of `coord`'s metrics, gauges counted now.
pub fn scrape(coord: &crate::Coordinator) -> String {
    let snap = snapshot(coord);
    let metrics = coord.lock().metrics.clone();
    metrics.set(&snap);
    metrics.encode()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_classic_format_names_counters_with_their_samples() {
        let m = super::Metrics::new(true);
        m.templates.inc_by(7);
        let text = super::classic(&m.encode());
        assert!(
            text.contains("# TYPE chirpfarm_templates_computed_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP chirpfarm_templates_computed_total Templates"),
            "{text}"
        );
        assert!(
            text.contains("\nchirpfarm_templates_computed_total 7\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE chirpfarm_journal_write_seconds histogram\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");
    }
}
