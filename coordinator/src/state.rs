//! The coordinator's shared state: the scheduler plus everything the shell needs around it
//! (job specs, assembled results, worker sessions), behind one mutex.
//!
//! Every gRPC handler turns what it received into a scheduler [`Event`], calls
//! [`Coordinator::apply`], and the resulting [`Action`]s are carried out here: messages queued to
//! worker sessions, results stored, watchers woken. The lock is never held across an `.await`.

use crate::jobs::JobRecord;
use crate::scheduler::{Action, Config, Event, JobId, Outcome, Scheduler, WorkerId};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::coordinator_message::Msg;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
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
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            scheduler: Config::default(),
            heartbeat_interval_ms: 1000,
            chunk_size: None,
            limits: chirpfarm_core::Limits::default(),
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
    /// Next job number.
    pub next_job: u64,
    /// Next worker number.
    pub next_worker: u64,
    /// Next session epoch.
    pub next_epoch: u64,
}

/// The coordinator: cheap to clone (an `Arc` inside), shared by all services and timers.
#[derive(Debug, Clone)]
pub struct Coordinator {
    inner: Arc<Mutex<Inner>>,
    started: Instant,
    /// Its settings.
    pub config: Arc<CoordinatorConfig>,
}

impl Coordinator {
    /// A coordinator with no job and no worker.
    pub fn new(config: CoordinatorConfig) -> Coordinator {
        Coordinator {
            inner: Arc::new(Mutex::new(Inner {
                sched: Scheduler::new(config.scheduler),
                jobs: HashMap::new(),
                sessions: HashMap::new(),
                next_job: 1,
                next_worker: 1,
                next_epoch: 1,
            })),
            started: Instant::now(),
            config: Arc::new(config),
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
        let now = self.now_ms();
        let actions = inner.sched.handle(now, event);
        let mut payload = payload;
        for action in actions {
            self.carry_out(inner, action, &mut payload);
        }
    }

    fn carry_out(&self, inner: &mut Inner, action: Action, payload: &mut Option<v1::ResultBlock>) {
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
            } => {
                tracing::debug!(%worker, %job, task, attempt, start, count, "lease");
                let msg = Msg::Lease(v1::Lease {
                    job_id: job.to_string(),
                    task: task as u64,
                    attempt,
                    start,
                    count,
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
                if let (Some(rec), Some(block)) = (inner.jobs.get_mut(&job), payload.take()) {
                    rec.store(task, block);
                }
            }
            Action::JobFinished { job, outcome } => {
                if let Some(rec) = inner.jobs.get_mut(&job) {
                    match &outcome {
                        Outcome::Succeeded => tracing::info!(%job, "job succeeded"),
                        Outcome::Failed(e) => tracing::warn!(%job, error = %e, "job failed"),
                        Outcome::Cancelled => tracing::info!(%job, "job cancelled"),
                    }
                    rec.finish(outcome);
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

    /// Parses a job id as printed (`job-7`).
    pub fn parse_job_id(text: &str) -> Result<JobId, Status> {
        text.strip_prefix("job-")
            .and_then(|n| n.parse().ok())
            .map(JobId)
            .ok_or_else(|| Status::invalid_argument(format!("{text:?} is not a job id (expected job-N)")))
    }

    /// Periodic timer: lets the scheduler expire silent workers.
    pub fn tick(&self) {
        let mut inner = self.lock();
        self.apply(&mut inner, Event::Tick, None);
    }
}

fn send(inner: &mut Inner, worker: WorkerId, msg: Msg) {
    if let Some(s) = inner.sessions.get(&worker) {
        let _ = s.tx.send(Ok(v1::CoordinatorMessage { msg: Some(msg) }));
    }
}

impl Coordinator {
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
