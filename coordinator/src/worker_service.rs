//! The `WorkerSession` gRPC service: one bidirectional stream per worker daemon.
//!
//! The first message must be `Register`; after that, credits, heartbeats, results and failures
//! flow in and become scheduler events, while job specs, leases and revocations flow out.

use crate::scheduler::{Event, JobId, WorkerId};
use crate::state::{Coordinator, Session};
use chirpfarm_core::logging::escape;
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::worker_message::Msg;
use chirpfarm_proto::v1::worker_session_server::WorkerSession;
use std::pin::Pin;
use std::time::Instant;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// The `WorkerSession` service over a shared [`Coordinator`].
#[derive(Debug, Clone)]
pub struct WorkerService {
    coord: Coordinator,
}

impl WorkerService {
    /// Serves workers of `coord`.
    pub fn new(coord: Coordinator) -> WorkerService {
        WorkerService { coord }
    }
}

type OutStream =
    Pin<Box<dyn futures::Stream<Item = Result<v1::CoordinatorMessage, Status>> + Send>>;

type BlobStream = Pin<Box<dyn futures::Stream<Item = Result<v1::BlobChunk, Status>> + Send>>;

#[tonic::async_trait]
impl WorkerSession for WorkerService {
    type SessionStream = OutStream;
    type FetchBlobStream = BlobStream;

    async fn fetch_blob(
        &self,
        request: Request<v1::BlobRequest>,
    ) -> Result<Response<Self::FetchBlobStream>, Status> {
        let blob = chirpfarm_proto::blob_from_proto(request.into_inner().blob.as_ref())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let store = self.coord.blobs.clone();
        let bytes = tokio::task::spawn_blocking(move || store.get(&blob))
            .await
            .map_err(|e| Status::internal(format!("blob read failed: {e}")))?
            .ok_or_else(|| {
                Status::not_found(format!("no blob {} on this coordinator", blob.hex()))
            })?;
        let wire = chirpfarm_proto::blob_to_proto(&blob);
        let chunk = chirpfarm_core::data::BLOB_CHUNK_BYTES;
        // Chunks are cut lazily as the worker reads them: at most a few in memory at once.
        let stream = futures::stream::iter((0..bytes.len().div_ceil(chunk).max(1)).map(move |i| {
            let lo = i * chunk;
            let hi = (lo + chunk).min(bytes.len());
            Ok(v1::BlobChunk {
                blob: (i == 0).then(|| wire.clone()),
                offset: lo as u64,
                data: bytes[lo..hi].to_vec(),
            })
        }));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn session(
        &self,
        request: Request<Streaming<v1::WorkerMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let mut inbound = request.into_inner();
        let register = match inbound.message().await? {
            Some(v1::WorkerMessage {
                msg: Some(Msg::Register(r)),
            }) => r,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message of a worker session must be Register",
                ))
            }
        };
        if register.protocol_version != chirpfarm_proto::PROTOCOL_VERSION {
            return Err(Status::failed_precondition(format!(
                "worker {:?} speaks protocol version {} but this coordinator speaks {} (build {}): run the same chirpfarm release on both",
                register.name,
                register.protocol_version,
                chirpfarm_proto::PROTOCOL_VERSION,
                chirpfarm_proto::BUILD_VERSION
            )));
        }
        let mut register = register;
        register.name = escape(&register.name, MAX_NAME_CHARS);
        register.host = escape(&register.host, MAX_NAME_CHARS);
        register.build_version = escape(&register.build_version, MAX_NAME_CHARS);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (worker, epoch) = {
            let mut inner = self.coord.lock();
            // Re-attach under the identity the worker gives only if it proves it with the
            // secret issued to that identity; otherwise it is a new worker (its claims on leases
            // are then revoked by the scheduler, never adopted).
            let proven = crate::identity::proven(
                &inner.identities,
                &register.worker_id,
                &register.session_secret,
            );
            if proven.is_none() && !register.worker_id.is_empty() {
                tracing::info!(claimed = %escape(&register.worker_id, 32), name = %register.name, "worker did not prove its previous identity (coordinator restarted, or a stale secret): registering it as a new worker");
            }
            let worker = match proven {
                Some(id) => {
                    // Two live sessions never share an identity: the newer one (which holds the
                    // secret) replaces a half-open older one.
                    if let Some(old) = inner.sessions.remove(&id) {
                        let _ = old.tx.send(Err(Status::aborted(
                            "replaced by a newer session of the same worker",
                        )));
                    }
                    id
                }
                None => {
                    while inner.sessions.contains_key(&WorkerId(inner.next_worker))
                        || inner.identities.contains_key(&WorkerId(inner.next_worker))
                    {
                        inner.next_worker += 1;
                    }
                    let id = WorkerId(inner.next_worker);
                    inner.next_worker += 1;
                    id
                }
            };
            let secret = crate::identity::Secret::random();
            let secret_hex = secret.to_hex();
            inner.identities.insert(worker, secret);
            let epoch = inner.next_epoch;
            inner.next_epoch += 1;
            tracing::info!(%worker, name = %register.name, host = %register.host, threads = register.threads, "worker registered");
            let _ = tx.send(Ok(v1::CoordinatorMessage {
                msg: Some(v1::coordinator_message::Msg::Registered(v1::Registered {
                    worker_id: worker.to_string(),
                    heartbeat_interval_ms: self.coord.config.heartbeat_interval_ms,
                    session_secret: secret_hex,
                })),
            }));
            let cache_capacity = register.cache_capacity_templates;
            // Claims beyond what a worker may hold are not even looked at.
            let in_flight: Vec<(JobId, u32, u64)> = register
                .in_flight
                .iter()
                .take(crate::scheduler::MAX_OUTSTANDING as usize)
                .filter_map(|t| {
                    let job = Coordinator::parse_job_id(&t.job_id).ok()?;
                    Some((job, u32::try_from(t.task).ok()?, t.attempt))
                })
                .collect();
            inner
                .sessions
                .insert(worker, Session::new(tx, epoch, register));
            self.coord.apply(
                &mut inner,
                Event::WorkerJoined {
                    worker,
                    cache_capacity,
                    in_flight,
                },
                None,
            );
            let mut ids = std::mem::take(&mut inner.identities);
            crate::identity::prune(&mut ids, |w| inner.sessions.contains_key(w));
            inner.identities = ids;
            (worker, epoch)
        };
        let coord = self.coord.clone();
        tokio::spawn(async move {
            loop {
                match inbound.message().await {
                    Ok(Some(msg)) => on_message(&coord, worker, epoch, msg),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(%worker, error = %e, "worker stream error");
                        break;
                    }
                }
            }
            let mut inner = coord.lock();
            if inner
                .sessions
                .get(&worker)
                .is_some_and(|s| s.epoch == epoch)
            {
                inner.sessions.remove(&worker);
                tracing::info!(%worker, "worker disconnected; its tasks go back to the queue");
                coord.apply(&mut inner, Event::WorkerLost { worker }, None);
            }
        });
        Ok(Response::new(Box::pin(UnboundedReceiverStream::new(rx))))
    }
}

/// Turns one message of a live session into a scheduler event.
fn on_message(coord: &Coordinator, worker: WorkerId, epoch: u64, msg: v1::WorkerMessage) {
    let mut inner = coord.lock();
    match inner.sessions.get_mut(&worker) {
        Some(s) if s.epoch == epoch => s.last_seen = Instant::now(),
        _ => return, // a stale session: its worker re-registered or was dropped
    }
    match msg.msg {
        Some(Msg::Credit(c)) => coord.apply(
            &mut inner,
            Event::Credit {
                worker,
                credits: c.credits,
            },
            None,
        ),
        Some(Msg::Heartbeat(h)) => {
            if let Some(s) = inner.sessions.get_mut(&worker) {
                s.templates_cached = h.templates_cached;
            }
            coord.apply(&mut inner, Event::Heartbeat { worker }, None);
        }
        Some(Msg::Result(r)) => {
            let (job, task) = match task_key(&r.job_id, r.task) {
                Ok(k) => k,
                Err(reason) => {
                    return reject(&mut inner, worker, (&r.job_id, r.task, r.attempt), reason)
                }
            };
            match check_result(&inner, job, task, &r) {
                Ok(block) => {
                    tracing::debug!(%worker, %job, task, attempt = r.attempt, compute_s = r.compute_seconds, "result");
                    let e = Event::TaskCompleted {
                        worker,
                        job,
                        task,
                        attempt: r.attempt,
                    };
                    coord.apply(&mut inner, e, Some(block));
                }
                Err(reason) => {
                    // A malformed result of a lease this worker holds counts as a failed
                    // execution (retried elsewhere); the worker is told why.
                    reject(
                        &mut inner,
                        worker,
                        (&r.job_id, r.task, r.attempt),
                        reason.clone(),
                    );
                    let e = Event::TaskFailed {
                        worker,
                        job,
                        task,
                        attempt: r.attempt,
                        reason,
                    };
                    coord.apply(&mut inner, e, None);
                }
            }
        }
        Some(Msg::Failed(f)) => {
            let (job, task) = match task_key(&f.job_id, f.task) {
                Ok(k) => k,
                Err(reason) => {
                    return reject(&mut inner, worker, (&f.job_id, f.task, f.attempt), reason)
                }
            };
            let reason = escape(&f.reason, MAX_REASON_CHARS);
            tracing::warn!(%worker, %job, task, reason = %reason, "task failed on worker");
            let e = Event::TaskFailed {
                worker,
                job,
                task,
                attempt: f.attempt,
                reason,
            };
            coord.apply(&mut inner, e, None);
        }
        Some(Msg::Register(_)) | None => {}
    }
}

/// Checks a result's shape against its task (one block per signal, one value per template; or a
/// data result within the task's templates and segments) and turns it into a stored block; a
/// malformed result counts as a failed execution.
fn check_result(
    inner: &crate::state::Inner,
    job: JobId,
    task: u32,
    r: &v1::TaskResult,
) -> Result<v1::ResultBlock, String> {
    let rec = inner.jobs.get(&job).ok_or("unknown job")?;
    let (start, count) = inner.sched.task_range(job, task).ok_or("unknown task")?;
    if let Some(spec) = &rec.spec.data {
        let segs = inner.sched.task_segments(job, task).ok_or("unknown task")?;
        let data = r
            .data
            .as_ref()
            .ok_or("malformed result: a data search's result has no data")?;
        crate::check::check_data_result(spec, &rec.segments, (start, count), segs, data)?;
        return Ok(v1::ResultBlock {
            start,
            count,
            signals: Vec::new(),
            segment_start: segs.0,
            segment_count: segs.1,
            data: Some(data.clone()),
            ..Default::default()
        });
    }
    crate::check::check_signal_result(rec.spec.signals.len(), count, &r.signals)?;
    Ok(v1::ResultBlock {
        start,
        count,
        signals: r.signals.clone(),
        ..Default::default()
    })
}

/// Longest worker name, host or build string kept (escaped; longer ones are cut).
const MAX_NAME_CHARS: usize = 128;
/// Longest failure reason kept from a worker.
const MAX_REASON_CHARS: usize = 1024;

/// A result's or failure's job and task, checked: a task number that does not fit the
/// scheduler's task index is refused, never truncated (task 2^32 is not task 0).
fn task_key(job_id: &str, task: u64) -> Result<(JobId, u32), String> {
    let job = Coordinator::parse_job_id(job_id).map_err(|s| s.message().to_string())?;
    let task = u32::try_from(task).map_err(|_| format!("task {task} does not exist in {job}"))?;
    Ok((job, task))
}

/// Tells a worker its message was not accepted, and logs it (rate-limited per session).
fn reject(
    inner: &mut crate::state::Inner,
    worker: WorkerId,
    (job_id, task, attempt): (&str, u64, u64),
    reason: String,
) {
    let Some(s) = inner.sessions.get_mut(&worker) else {
        return;
    };
    let Some(suppressed) = s.rejections.allow() else {
        return;
    };
    let job = escape(job_id, 64);
    tracing::warn!(%worker, job = %job, task, attempt, suppressed, reason = %escape(&reason, MAX_REASON_CHARS), "rejected a worker message");
    let _ = s.tx.send(Ok(v1::CoordinatorMessage {
        msg: Some(v1::coordinator_message::Msg::Rejected(v1::Rejected {
            job_id: job,
            task,
            attempt,
            reason,
        })),
    }));
}
