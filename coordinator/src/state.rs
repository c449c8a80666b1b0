//! The coordinator's shared state: the scheduler plus everything the shell needs around it
//! (job specs, assembled results, worker sessions), behind one mutex.
//!
//! Every gRPC handler turns what it received into a scheduler [`Event`], calls
//! [`Coordinator::apply`], and the resulting [`Action`]s are carried out here: messages queued to
//! worker sessions, results stored, watchers woken. The lock is never held across an `.await`.
//!
//! With a data dir, an accepted result goes to the journal thread ([`crate::journal`]) and is
//! released to watchers only when the thread reports it written (the journal callback applies
//! [`Event::TaskStored`] under the lock); without one it is released at once.

use crate::blobs::BlobStore;
use crate::jobs::JobRecord;
use crate::journal::{Completion, Journal};
use crate::scheduler::{Action, Config, Event, JobId, Outcome, Scheduler, WorkerId};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::coordinator_message::Msg;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;
use tonic::Status;

/// The channel a worker session's outgoing messages go through.
pub type SessionTx = UnboundedSender<Result<v1::CoordinatorMessage, Status>>;

/// Settings of a coordinator instance.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// Scheduler tunables (heartbeat timeout).
    pub scheduler: Config,
    /// How often workers should send heartbeats, in ms.
    pub heartbeat_interval_ms: u32,
    /// Fixed templates per task; `None` sizes tasks automatically.
    pub chunk_size: Option<u32>,
    /// Request limits (bank size, signal count).
    pub limits: chirpfarm_core::Limits,
    /// Where jobs and results are kept durably; `None` keeps everything in memory.
    pub data_dir: Option<std::path::PathBuf>,
    /// How long finished jobs are kept before they are removed.
    pub retention: std::time::Duration,
    /// On shutdown, how long running leases may take to finish.
    pub shutdown_grace: std::time::Duration,
    /// Most bytes of uploaded blobs (strain, PSDs) held in memory.
    pub max_blob_bytes: u64,
    /// Per-client, per-job and per-stream limits.
    pub service: crate::limits::ServiceLimits,
    /// Most journal records written with one fsync (group commit); 1 syncs every record on
    /// its own (only for comparison benchmarks).
    pub journal_batch: usize,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            scheduler: Config::default(),
            heartbeat_interval_ms: 1000,
            chunk_size: None,
            limits: chirpfarm_core::Limits::default(),
            data_dir: None,
            retention: std::time::Duration::from_secs(7 * 24 * 3600),
            shutdown_grace: std::time::Duration::from_secs(10),
            max_blob_bytes: 4096 << 20,
            service: crate::limits::ServiceLimits::default(),
            journal_batch: 4096,
        }
    }
}

/// A registered worker's session, as the shell sees it.
#[derive(Debug)]
pub struct Session {
    /// Outgoing messages.
    pub tx: SessionTx,
    /// Bumped on every (re)registration so a stale stream's end is not mistaken for this one's.
    pub epoch: u64,
    /// What the worker said about itself.
    pub register: v1::Register,
    /// Templates in its cache, from its last heartbeat.
    pub templates_cached: u64,
    /// When it was last heard from.
    pub last_seen: Instant,
    /// Bounds the log lines (and `Rejected` answers) a misbehaving worker can cause.
    pub rejections: chirpfarm_proto::ratelimit::RateLimited,
}

impl Session {
    /// A session that has just registered.
    pub fn new(tx: SessionTx, epoch: u64, register: v1::Register) -> Session {
        Session {
            tx,
            epoch,
            register,
            templates_cached: 0,
            last_seen: Instant::now(),
            rejections: chirpfarm_proto::ratelimit::RateLimited::with_burst(
                5,
                std::time::Duration::from_secs(10),
            ),
        }
    }
}

/// Mutable state behind the lock.
#[derive(Debug)]
pub struct Inner {
    /// The sans-IO scheduler.
    pub sched: Scheduler,
    /// Every job the coordinator knows.
    pub jobs: HashMap<JobId, JobRecord>,
    /// Live worker sessions.
    pub sessions: HashMap<WorkerId, Session>,
    /// The secret issued with each worker identity (live or recently departed): re-registering
    /// under an identity needs it, so leases can only be re-attached by the worker they went to.
    pub identities: HashMap<WorkerId, crate::identity::Secret>,
    /// Next job number.
    pub next_job: u64,
    /// Instance tag in job ids: random for an in-memory coordinator (so a restarted one never
    /// hands out an id it handed out before), 0 with a data dir (numbers are never reused).
    pub id_tag: u32,
    /// Next worker number.
    pub next_worker: u64,
    /// Next session epoch.
    pub next_epoch: u64,
    /// The durable store, when a data dir is configured.
    pub store: Option<crate::store::Store>,
    /// The journal thread writing accepted results, when a data dir is configured.
    pub journal: Option<Journal>,
    /// The data dir's lock, held while the coordinator lives.
    pub lock: Option<crate::datadir::DataDirLock>,
    /// The Prometheus metrics (handles; the journal thread holds a clone).
    pub metrics: crate::metrics::Metrics,
    /// Latencies and throughput learnt from the scheduler's steps.
    pub observer: crate::metrics::Observer,
}

/// The coordinator: cheap to clone (an `Arc` inside), shared by all services and timers.
#[derive(Debug, Clone)]
pub struct Coordinator {
    inner: Arc<Mutex<Inner>>,
    /// Uploaded blobs (strain samples, PSDs), behind their own lock: a large upload or fetch
    /// never holds the scheduler's.
    pub blobs: Arc<BlobStore>,
    started: Instant,
    /// Its settings.
    pub config: Arc<CoordinatorConfig>,
    /// Flips to `true` when shutdown begins: submissions are refused and watch streams end.
    closing: Arc<tokio::sync::watch::Sender<bool>>,
    /// Automatic allocation's queues and jobs (driven by [`crate::autoalloc::driver`]), behind
    /// their own lock: `alloc` requests never wait for the scheduler's.
    pub autoalloc: crate::autoalloc::Handle,
}

impl Coordinator {
    /// A coordinator with no job and no worker (in memory only, whatever `data_dir` says).
    pub fn new(config: CoordinatorConfig) -> Coordinator {
        let blobs = BlobStore::new(None, config.max_blob_bytes).expect("no directory to create");
        Coordinator::with_blobs(config, blobs)
    }

    pub(crate) fn with_blobs(config: CoordinatorConfig, blobs: BlobStore) -> Coordinator {
        use rand::Rng;
        let id_tag = rand::rngs::OsRng.gen_range(JobId::MIN_TAG..JobId::MAX_TAG);
        Coordinator {
            blobs: Arc::new(blobs),
            inner: Arc::new(Mutex::new(Inner {
                sched: Scheduler::new(config.scheduler),
                jobs: HashMap::new(),
                sessions: HashMap::new(),
                identities: HashMap::new(),
                next_job: 1,
                id_tag,
                next_worker: 1,
                next_epoch: 1,
                store: None,
                journal: None,
                lock: None,
                metrics: crate::metrics::Metrics::new(config.data_dir.is_some()),
                observer: crate::metrics::Observer::default(),
            })),
            started: Instant::now(),
            config: Arc::new(config),
            closing: Arc::new(tokio::sync::watch::channel(false).0),
            autoalloc: crate::autoalloc::Handle::default(),
        }
    }

    /// Locks the state. A poisoned lock (a panic while holding it) is recovered: the scheduler's
    /// transitions are single `match` arms, so its state is still consistent.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Milliseconds since the coordinator started: the scheduler's clock.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Feeds an event to the scheduler and carries out its actions. `payload` is the result block
    /// of a `TaskCompleted` event, stored if the scheduler accepts it.
    pub fn apply(&self, inner: &mut Inner, event: Event, payload: Option<v1::ResultBlock>) {
        apply_at(inner, self.now_ms(), event, payload);
    }

    /// The callback of the journal thread: releases what was stored, takes back what was not.
    /// Holds only a weak reference, so the thread never keeps a dropped coordinator alive.
    pub(crate) fn journal_callback(&self) -> impl Fn(Vec<Completion>) + Send + 'static {
        let weak: Weak<Mutex<Inner>> = Arc::downgrade(&self.inner);
        let started = self.started;
        move |done| {
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
            let now = started.elapsed().as_millis() as u64;
            for c in done {
                on_completion(&mut inner, now, c);
            }
        }
    }

    /// Parses a job id as printed (`job-7`, or `job-kq3x-7` from a coordinator without a data
    /// dir).
    pub fn parse_job_id(text: &str) -> Result<JobId, Status> {
        JobId::parse(text).ok_or_else(|| {
            Status::invalid_argument(format!(
                "{text:?} is not a job id (expected job-N, or job-TAG-N from a coordinator without a data dir, as printed by submit)"
            ))
        })
    }

    /// Periodic timer: lets the scheduler expire silent workers, probes the data dir for jobs
    /// paused by a journal error, and removes finished jobs older than the retention period
    /// (from memory and from the data dir).
    pub fn tick(&self) {
        let mut inner = self.lock();
        self.apply(&mut inner, Event::Tick, None);
        let state = &mut *inner;
        if let Some(journal) = &state.journal {
            for (id, rec) in state.jobs.iter_mut() {
                if rec.journal_error.is_some() && !rec.probing && !state.sched.job_ended(*id) {
                    rec.probing = true;
                    journal.probe(*id);
                }
            }
        }
        let retention = self.config.retention;
        let expired: Vec<JobId> = inner
            .jobs
            .iter()
            .filter(|(_, r)| {
                r.finished
                    .and_then(|f| f.elapsed().ok())
                    .is_some_and(|age| age > retention)
            })
            .map(|(id, _)| *id)
            .collect();
        let referenced: std::collections::HashSet<[u8; 32]> = inner
            .jobs
            .iter()
            .filter(|(id, _)| !expired.contains(id))
            .filter_map(|(_, r)| r.spec.data.as_ref())
            .flat_map(|d| [d.strain.digest, d.psd.digest])
            .collect();
        self.blobs.retain_referenced(&referenced);
        for id in expired {
            tracing::info!(job = %id, "retention period over: removing job");
            inner.jobs.remove(&id);
            inner.sched.forget_job(id);
            if let Some(journal) = &inner.journal {
                journal.remove(id);
            }
        }
    }
}

/// Feeds an event to the scheduler at time `now` and carries out its actions.
pub(crate) fn apply_at(
    inner: &mut Inner,
    now: u64,
    event: Event,
    mut payload: Option<v1::ResultBlock>,
) {
    let seen = crate::metrics::Seen::of(&event);
    let failures = |inner: &Inner| match seen {
        crate::metrics::Seen::Failed { job, .. } => inner.sched.job_counts(job).map(|c| c.3),
        _ => None,
    };
    let failures_before = failures(inner);
    let units = payload.as_ref().map_or(0, result_units);
    let actions = inner.sched.handle(now, event);
    let failed = failures(inner) > failures_before;
    inner
        .observer
        .record(&inner.metrics, now, seen, &actions, units, failed);
    for action in actions {
        carry_out(inner, action, &mut payload);
    }
}

/// Template filterings in a result block: templates × signals, or × segments for a data
/// search.
fn result_units(block: &v1::ResultBlock) -> u64 {
    let per_template = if block.data.is_some() {
        block.segment_count as u64
    } else {
        block.signals.len() as u64
    };
    block.count as u64 * per_template.max(1)
}

/// Carries out one journal completion under the lock.
fn on_completion(inner: &mut Inner, now: u64, c: Completion) {
    match c {
        Completion::Stored { job, task, block } => {
            if let Some(rec) = inner.jobs.get_mut(&job) {
                rec.store(task, *block);
            }
            apply_at(inner, now, Event::TaskStored { job, task }, None);
        }
        Completion::Failed { job, task, error } => {
            if let Some(rec) = inner.jobs.get_mut(&job) {
                rec.set_journal_error(Some(error));
            }
            apply_at(inner, now, Event::StoreFailed { job, task }, None);
        }
        Completion::Probed { job, result } => {
            let Some(rec) = inner.jobs.get_mut(&job) else {
                return;
            };
            rec.probing = false;
            match result {
                Ok(()) => {
                    if rec.journal_error.is_some() {
                        tracing::info!(%job, "the data dir takes writes again: the job resumes");
                    }
                    rec.set_journal_error(None);
                    apply_at(inner, now, Event::StoreResumed { job }, None);
                }
                Err(e) => rec.set_journal_error(Some(e)),
            }
        }
    }
}

fn carry_out(inner: &mut Inner, action: Action, payload: &mut Option<v1::ResultBlock>) {
    match action {
        Action::SendJob { worker, job } => {
            let Some(rec) = inner.jobs.get(&job) else {
                return;
            };
            let msg = Msg::Job(v1::JobSpec {
                job_id: job.to_string(),
                spec: Some(rec.wire_spec.clone()),
            });
            send(inner, worker, msg);
        }
        Action::Lease {
            worker,
            job,
            task,
            attempt,
            start,
            count,
            segments,
        } => {
            tracing::debug!(%worker, %job, task, attempt, start, count, ?segments, "lease");
            let msg = Msg::Lease(v1::Lease {
                job_id: job.to_string(),
                task: task as u64,
                attempt,
                start,
                count,
                segment_start: segments.0,
                segment_count: segments.1,
            });
            send(inner, worker, msg);
        }
        Action::Revoke {
            worker,
            job,
            task,
            attempt,
        } => {
            let msg = Msg::Revoke(v1::Revoke {
                job_id: job.to_string(),
                task: task as u64,
                attempt,
            });
            send(inner, worker, msg);
        }
        Action::Accept { job, task } => {
            let Some(block) = payload.take() else {
                return;
            };
            // Durable before it is released to anyone: with a journal, the block comes back
            // through `on_completion` once it is on disk.
            match &inner.journal {
                Some(journal) => journal.append(job, task, block),
                None => {
                    if let Some(rec) = inner.jobs.get_mut(&job) {
                        rec.store(task, block);
                    }
                }
            }
        }
        Action::JobFinished { job, outcome } => {
            if let Some(rec) = inner.jobs.get_mut(&job) {
                match &outcome {
                    Outcome::Succeeded => tracing::info!(%job, "job succeeded"),
                    Outcome::Failed(e) => tracing::warn!(%job, error = %e, "job failed"),
                    Outcome::Cancelled => tracing::info!(%job, "job cancelled"),
                }
                rec.finish();
                // A job that ended (cancelled while paused) is no longer waiting for the disk.
                rec.set_journal_error(None);
                if let Some(journal) = &inner.journal {
                    // Queued behind the job's last results, off the lock.
                    journal.put_job(rec.to_stored(job.to_string(), Some(&outcome)));
                }
            }
        }
        Action::DropWorker { worker } => {
            if let Some(s) = inner.sessions.remove(&worker) {
                tracing::warn!(%worker, name = %s.register.name, "worker missed its heartbeat deadline; its tasks go back to the queue");
                let _ = s.tx.send(Err(Status::deadline_exceeded(
                    "missed heartbeat deadline; reconnect",
                )));
            }
        }
    }
}

fn send(inner: &mut Inner, worker: WorkerId, msg: Msg) {
    if let Some(s) = inner.sessions.get(&worker) {
        let _ = s.tx.send(Ok(v1::CoordinatorMessage { msg: Some(msg) }));
    }
}

impl Coordinator {
    /// A receiver that turns `true` when shutdown begins.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Whether shutdown has begun.
    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    /// Graceful shutdown: refuse submissions, end watch streams (clients reconnect later), stop
    /// leasing, let running leases finish for up to the grace period, wait for the journal to
    /// write what it was given, then release the workers.
    pub async fn shutdown(&self) {
        self.closing.send_replace(true);
        {
            let mut inner = self.lock();
            self.apply(&mut inner, Event::StopLeasing, None);
        }
        let deadline = Instant::now() + self.config.shutdown_grace;
        loop {
            let active = self.lock().sched.active_leases();
            if active == 0 || Instant::now() >= deadline {
                tracing::info!(unfinished_leases = active, "leases drained");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // Results accepted so far are written (or have failed) before the process ends.
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        while self.journal_in_flight() > 0 && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.drain_workers();
    }

    /// Journal requests queued or being written (0 without a data dir).
    pub fn journal_in_flight(&self) -> usize {
        self.lock().journal.as_ref().map_or(0, |j| j.in_flight())
    }

    /// Tells every worker the coordinator is going away and closes their sessions.
    pub fn drain_workers(&self) {
        let mut inner = self.lock();
        for (_, s) in inner.sessions.drain() {
            let _ = s.tx.send(Ok(v1::CoordinatorMessage {
                msg: Some(Msg::Drain(v1::Drain {})),
            }));
        }
    }
}
