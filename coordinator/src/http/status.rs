//! `GET /api/status`: what the status page shows, as JSON, read from the coordinator's state
//! in one short hold of its lock.

use crate::scheduler::{JobId, JobState};
use crate::Coordinator;
use serde::Serialize;

/// Finished jobs listed (the most recent ones); unfinished jobs are always all listed.
pub const FINISHED_LISTED: usize = 50;

/// The whole status report: the farm's workers and jobs.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    /// The coordinator's build.
    pub version: &'static str,
    /// Seconds since the coordinator started.
    pub uptime_seconds: f64,
    /// Live workers, by id.
    pub workers: Vec<WorkerRow>,
    /// Unfinished jobs, then the most recent finished ones, newest first.
    pub jobs: Vec<JobRow>,
    /// Finished jobs not listed (older than the [`FINISHED_LISTED`] most recent).
    pub jobs_omitted: usize,
}

/// One worker as the page shows it.
#[derive(Debug, Serialize)]
pub struct WorkerRow {
    /// The coordinator's id for it (`w-3`).
    pub id: String,
    /// The name it registered with.
    pub name: String,
    /// Its host, as it reported it.
    pub host: String,
    /// Engine threads.
    pub threads: u32,
    /// Templates (× signals or segments) per second over the last 10 s.
    pub templates_per_second: f64,
    /// Seconds since it was last heard from.
    pub heartbeat_age_seconds: f64,
    /// Tasks leased to it now.
    pub leases: u32,
}

/// One job as the page shows it.
#[derive(Debug, Serialize)]
pub struct JobRow {
    /// Its id as printed by `chirpfarm submit`.
    pub id: String,
    /// queued, running, succeeded, failed or cancelled.
    pub state: &'static str,
    /// Result units (templates, × segment groups for a data search) accepted.
    pub done: u64,
    /// Result units in all.
    pub total: u64,
    /// Templates (× signals or segments) per second over the last 10 s.
    pub templates_per_second: f64,
    /// Seconds left at the recent rate (absent when finished or when nothing moved lately).
    pub eta_seconds: Option<f64>,
    /// Task executions that failed.
    pub failures: u32,
    /// Why it is paused (its results cannot be stored), if it is.
    pub paused: Option<String>,
}

/// The name of a job state, as the CLI prints it.
fn state_name(state: Option<JobState>) -> &'static str {
    match state {
        Some(JobState::Queued) => "queued",
        Some(JobState::Running) | None => "running",
        Some(JobState::Succeeded) => "succeeded",
        Some(JobState::Failed) => "failed",
        Some(JobState::Cancelled) => "cancelled",
    }
}

/// Reads the report from `coord`.
pub fn report(coord: &Coordinator) -> StatusReport {
    let now = coord.now_ms();
    let inner = coord.lock();
    let leases: std::collections::HashMap<_, _> = inner
        .sched
        .worker_counts()
        .into_iter()
        .map(|(id, leased, _, _)| (id, leased))
        .collect();
    let mut workers: Vec<_> = inner.sessions.iter().collect();
    workers.sort_by_key(|(id, _)| **id);
    let workers = workers
        .into_iter()
        .map(|(id, s)| WorkerRow {
            id: id.to_string(),
            name: s.register.name.clone(),
            host: s.register.host.clone(),
            threads: s.register.threads,
            templates_per_second: inner.observer.worker_rate(*id, now),
            heartbeat_age_seconds: s.last_seen.elapsed().as_secs_f64(),
            leases: leases.get(id).copied().unwrap_or(0),
        })
        .collect();
    let mut ids: Vec<JobId> = inner.jobs.keys().copied().collect();
    ids.sort_by_key(|id| std::cmp::Reverse(id.number()));
    let (mut jobs, mut finished_listed, mut omitted) = (Vec::new(), 0, 0);
    for id in ids {
        let rec = &inner.jobs[&id];
        let state = inner.sched.job_state(id);
        let ended = state.is_some_and(JobState::is_final);
        if ended {
            if finished_listed == FINISHED_LISTED {
                omitted += 1;
                continue;
            }
            finished_listed += 1;
        }
        // The rate counts filterings (templates × signals, or × segments); progress counts
        // templates (× segment groups).
        let per_unit = if rec.spec.data.is_some() {
            rec.grid.per_task as u64
        } else {
            rec.spec.signals.len() as u64
        }
        .max(1);
        let rate = inner.observer.job_rate(id, now);
        let total = rec.units_total();
        let left = total.saturating_sub(rec.templates_done) * per_unit;
        let (_, _, _, failures) = inner.sched.job_counts(id).unwrap_or_default();
        jobs.push(JobRow {
            id: id.to_string(),
            state: state_name(state),
            done: rec.templates_done,
            total,
            templates_per_second: rate,
            eta_seconds: (!ended && rate > 0.0).then(|| left as f64 / rate),
            failures,
            paused: rec.journal_error.clone(),
        });
    }
    // Unfinished jobs first (newest first within each group).
    jobs.sort_by_key(|j| matches!(j.state, "succeeded" | "failed" | "cancelled"));
    StatusReport {
        version: chirpfarm_proto::BUILD_VERSION,
        uptime_seconds: now as f64 / 1000.0,
        workers,
        jobs,
        jobs_omitted: omitted,
    }
}
