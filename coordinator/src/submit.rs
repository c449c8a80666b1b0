//! Accepting a search: validation (the shared rules of `chirpfarm-core`), task sizing, the
//! durable record, and the scheduler event — the same path for gRPC clients and simulations.

use crate::jobs::JobRecord;
use crate::scheduler::{Event, JobId, SegmentGrid};
use crate::state::Coordinator;
use chirpfarm_core::{SearchSpec, SpecError};
use chirpfarm_proto::v1;
use std::hash::{Hash, Hasher};
use tonic::Status;

/// Maps a validation error to the gRPC status a client can act on.
pub fn spec_status(e: SpecError) -> Status {
    match e {
        SpecError::BadData(_) | SpecError::BadSegment(_) => Status::invalid_argument(e.to_string()),
        SpecError::BankTooLarge { .. }
        | SpecError::TooManySignals { .. }
        | SpecError::TooManyResults { .. } => Status::resource_exhausted(e.to_string()),
        _ => Status::invalid_argument(e.to_string()),
    }
}

/// A stable key for a bank's templates (template affinity across jobs): its chirp masses and,
/// for a data search, the grid its templates are generated on (segment length, sample rate,
/// lower cut-off) — templates on another grid are other templates.
pub fn bank_key(spec: &SearchSpec, masses: &[f64]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for m in masses {
        m.to_bits().hash(&mut h);
    }
    if let Some(d) = &spec.data {
        d.segment_samples.hash(&mut h);
        d.sample_rate.to_bits().hash(&mut h);
        d.f_low.to_bits().hash(&mut h);
    }
    h.finish()
}

/// Who submits a job and what they call it: the text that travels with a submission besides the
/// search, kept with the job and shown by `chirpfarm jobs`. Its own type so in-process callers
/// (simulations, the embedded cluster) pass nothing and gRPC clients pass what they sent.
#[derive(Debug, Clone, Default)]
pub struct Submitter {
    /// The client's address as the coordinator saw it (the per-client queue limit's key).
    pub addr: String,
    /// The user the client declared ($USER): untrusted, cleaned before it is kept.
    pub user: String,
    /// The job's label (`--name`): refused with `INVALID_ARGUMENT` unless it is short and
    /// printable.
    pub name: String,
}

impl Coordinator {
    /// Validates and records a search, then hands it to the scheduler. `chunk_size` 0 sizes
    /// tasks automatically; without workers the job is queued if `wait_for_workers`, refused
    /// with `UNAVAILABLE` otherwise.
    pub fn submit(
        &self,
        spec: SearchSpec,
        chunk_size: u32,
        wait_for_workers: bool,
    ) -> Result<v1::SubmitResponse, Status> {
        self.submit_from(spec, chunk_size, wait_for_workers, &Submitter::default())
    }

    /// Like [`Coordinator::submit`], for a client `who`: the per-client queue limit counts the
    /// unfinished jobs from its address, and the job keeps its label and declared user.
    pub fn submit_from(
        &self,
        spec: SearchSpec,
        chunk_size: u32,
        wait_for_workers: bool,
        who: &Submitter,
    ) -> Result<v1::SubmitResponse, Status> {
        chirpfarm_proto::labels::check_job_name(&who.name).map_err(Status::invalid_argument)?;
        let owner = who.addr.as_str();
        if self.is_closing() {
            return Err(Status::unavailable(
                "the coordinator is shutting down; submit again when it is back",
            ));
        }
        let masses = spec.validate(&self.config.limits).map_err(spec_status)?;
        let templates = masses.len() as u64;
        let segments = match &spec.data {
            Some(d) => {
                for (what, blob) in [("strain", &d.strain), ("PSD", &d.psd)] {
                    if !self.blobs.contains(blob) {
                        return Err(Status::failed_precondition(format!(
                            "the {what} blob (sha256 {}, {} bytes) is not on this coordinator: upload it first",
                            blob.hex(),
                            blob.len
                        )));
                    }
                }
                d.validate().map_err(spec_status)?.len() as u32
            }
            None => 0,
        };
        let mut inner = self.lock();
        let limits = self.config.service;
        let unfinished = inner
            .jobs
            .iter()
            .filter(|(id, _)| !inner.sched.job_ended(**id))
            .map(|(_, r)| r);
        let (total, mine) = unfinished.fold((0, 0), |(t, m), r| {
            (
                t + 1,
                m + usize::from(!owner.is_empty() && r.owner == owner),
            )
        });
        if total >= limits.max_queued_jobs {
            return Err(Status::resource_exhausted(format!(
                "the coordinator already has {total} unfinished jobs (limit --max-queued-jobs {}): wait for some to finish or cancel them",
                limits.max_queued_jobs
            )));
        }
        if mine >= limits.max_queued_jobs_per_client {
            return Err(Status::resource_exhausted(format!(
                "you already have {mine} unfinished jobs on this coordinator (limit --max-queued-jobs-per-client {}): wait for some to finish or cancel them",
                limits.max_queued_jobs_per_client
            )));
        }
        let workers = inner.sessions.len();
        if workers == 0 && !wait_for_workers {
            return Err(Status::unavailable(
                "no worker is registered with this coordinator yet; start chirpfarm-worker, or submit without --require-workers to queue the job",
            ));
        }
        let (auto, grid) = match &spec.data {
            Some(d) => {
                let (chunk, per_task) =
                    crate::chunk::auto_data(templates, segments, d.segment_samples, workers);
                (chunk, SegmentGrid { segments, per_task })
            }
            None => (
                crate::chunk::auto_chunk(templates, spec.signals.len() as u64, workers),
                SegmentGrid::NONE,
            ),
        };
        let chunk = match (chunk_size, self.config.chunk_size) {
            (0, None) => auto,
            (0, Some(c)) => c,
            (c, _) => c,
        };
        let groups = grid.groups().max(1) as u64;
        // Automatic sizing stays within the task limit by making tasks larger.
        let ranges_allowed = (limits.max_tasks_per_job / groups).max(1);
        let chunk = if chunk_size == 0 && templates.div_ceil(chunk.max(1) as u64) > ranges_allowed {
            templates.div_ceil(ranges_allowed).min(u32::MAX as u64) as u32
        } else {
            chunk
        };
        let tasks = templates.div_ceil(chunk.max(1) as u64) * groups;
        if tasks > limits.max_tasks_per_job {
            let need = templates.div_ceil(ranges_allowed);
            return Err(Status::resource_exhausted(format!(
                "{templates} templates in tasks of {chunk} make {tasks} tasks, more than the {} a job may have (--max-tasks-per-job): use a chunk size of at least {need}, or let the coordinator choose (0)",
                limits.max_tasks_per_job
            )));
        }
        let id = JobId::new(inner.id_tag, inner.next_job);
        inner.next_job += 1;
        let key = bank_key(&spec, &masses);
        let mut rec = JobRecord::new(spec, templates, chunk, grid);
        rec.owner = owner.to_string();
        rec.user = chirpfarm_proto::labels::clean_user(&who.user);
        rec.name = who.name.clone();
        if let Some(store) = inner.store.clone() {
            // The files are written (and fsynced) without the lock: leases, heartbeats and
            // results go on meanwhile; the job joins the scheduler once it is on disk.
            drop(inner);
            // The high-water mark first: even if this job's files are lost or later removed by
            // retention, its number is never handed out again.
            store
                .put_last_job_number(id.number())
                .and_then(|()| store.put_job(&rec.to_stored(id.to_string(), None)))
                .map_err(|e| {
                    Status::unavailable(format!("cannot record the job in the data dir: {e}"))
                })?;
            inner = self.lock();
        }
        tracing::info!(job = %id, name = %rec.name, owner = %rec.owner_shown(), templates, chunk, signals = rec.spec.signals.len(), segments = grid.segments, segments_per_task = grid.per_task, "job submitted");
        inner.jobs.insert(id, rec);
        self.apply(
            &mut inner,
            Event::JobSubmitted {
                job: id,
                templates,
                chunk,
                bank_key: key,
                segments: grid,
            },
            None,
        );
        Ok(v1::SubmitResponse {
            job_id: id.to_string(),
            templates,
            tasks: tasks as u32,
        })
    }
}
