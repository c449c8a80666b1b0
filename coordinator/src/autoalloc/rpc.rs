//! The `alloc` RPCs' translation: wire parameters to validated [`QueueParams`] and the
//! machine's queues to `AllocQueueInfo` (the `Client` service calls these).

use super::machine::{AutoAlloc, Queue};
use super::{AllocError, QueueParams};
use chirpfarm_proto::v1;
use tonic::Status;

/// A job's time limit when none is given.
pub const DEFAULT_TIME_LIMIT_S: u64 = 3600;
/// How long an allocated worker may sit idle (nothing pending) before it is drained, when none
/// is given.
pub const DEFAULT_IDLE_TIMEOUT_S: u64 = 60;

/// Validated parameters from the wire (zero fields take the defaults).
pub fn params_from_proto(p: &v1::AllocQueueParams) -> Result<QueueParams, AllocError> {
    if !p.backend.is_empty() && p.backend != "slurm" {
        return Err(AllocError::BadParams(format!(
            "unknown batch system {:?}: only \"slurm\" is supported",
            p.backend
        )));
    }
    let params = QueueParams {
        max_workers: p.max_workers,
        partition: (!p.partition.is_empty()).then(|| p.partition.clone()),
        time_limit_s: if p.time_limit_seconds == 0 {
            DEFAULT_TIME_LIMIT_S
        } else {
            p.time_limit_seconds
        },
        worker_args: p.worker_args.clone(),
        idle_timeout_ms: if p.idle_timeout_seconds == 0 {
            DEFAULT_IDLE_TIMEOUT_S
        } else {
            p.idle_timeout_seconds
        }
        .saturating_mul(1000),
        cpus: p.cpus_per_worker,
    };
    params.check()?;
    Ok(params)
}

/// The wire form of parameters.
pub fn params_to_proto(p: &QueueParams) -> v1::AllocQueueParams {
    v1::AllocQueueParams {
        backend: "slurm".into(),
        max_workers: p.max_workers,
        partition: p.partition.clone().unwrap_or_default(),
        time_limit_seconds: p.time_limit_s,
        worker_args: p.worker_args.clone(),
        idle_timeout_seconds: p.idle_timeout_ms / 1000,
        cpus_per_worker: p.cpus,
    }
}

/// A queue as `chirpfarm alloc list` shows it.
pub fn queue_info(q: &Queue, now_ms: u64) -> v1::AllocQueueInfo {
    v1::AllocQueueInfo {
        id: q.id,
        params: Some(params_to_proto(&q.params)),
        jobs: q
            .allocations
            .values()
            .map(|a| v1::AllocJob {
                job_id: a.job.clone(),
                state: a.state.to_string(),
                reason: a.reason.clone(),
                worker_registered: a.worker_seen,
                age_seconds: now_ms.saturating_sub(a.submitted_ms) / 1000,
                ending: a.cancelled.unwrap_or_default().to_string(),
                stuck: a.stuck,
            })
            .collect(),
        submitted: q.submitted,
        failures: q.failures,
        failures_in_row: q.failures_in_row,
        last_error: q.last_error.clone().unwrap_or_default(),
        paused: q.paused.clone().unwrap_or_default(),
        next_submit_in_ms: q.next_submit_ms.saturating_sub(now_ms),
        removing: q.removing,
        ended: q.ended,
    }
}

/// Every queue.
pub fn list(m: &AutoAlloc, now_ms: u64) -> v1::ListAllocQueuesResponse {
    v1::ListAllocQueuesResponse {
        queues: m.queues().map(|q| queue_info(q, now_ms)).collect(),
    }
}

/// The gRPC status of an allocation error.
pub fn status(e: AllocError) -> Status {
    match e {
        AllocError::NoQueue(_) => Status::not_found(e.to_string()),
        AllocError::BadParams(_) => Status::invalid_argument(e.to_string()),
    }
}

/// Adds a queue; returns it as listed.
pub fn add(
    m: &mut AutoAlloc,
    p: &v1::AllocQueueParams,
    now_ms: u64,
) -> Result<v1::AllocQueueInfo, Status> {
    let params = params_from_proto(p).map_err(status)?;
    if m.queues().count() >= 64 {
        return Err(Status::resource_exhausted("at most 64 allocation queues"));
    }
    let id = m.add_queue(params);
    let q = m.queues().find(|q| q.id == id).expect("just added");
    Ok(queue_info(q, now_ms))
}

/// Removes a queue; returns it as it was (its jobs now ending).
pub fn remove(m: &mut AutoAlloc, id: u32, now_ms: u64) -> Result<v1::AllocQueueInfo, Status> {
    m.remove_queue(id).map_err(status)?;
    let q = m
        .queues()
        .find(|q| q.id == id)
        .expect("kept until its jobs end");
    Ok(queue_info(q, now_ms))
}
