//! The scheduler core: a sans-IO state machine.
//!
//! Everything the coordinator decides — which task goes to which worker, when a job is done,
//! which result counts, when a worker is considered lost — happens in [`Scheduler::handle`]:
//! an [`Event`] goes in with the current time, a list of [`Action`]s comes out. No sockets, no
//! clocks, no disks: the gRPC shell turns messages into events and actions into messages, and
//! tests drive the machine directly (see `tests.rs`, including a randomised event-order test).
//!
//! ## Rules
//! * **Credits**: a worker is leased at most as many tasks as the credits it granted; credits come
//!   only from the worker (`Credit` events), one is consumed per lease; leases plus credits never
//!   exceed [`MAX_OUTSTANDING`] per worker.
//! * **Re-attachment**: a worker that comes back re-attaches only leases issued to its own
//!   identity and held when its previous session ended; any other lease it lists is revoked.
//! * **Fairness**: a free credit goes to the job with pending tasks that holds the fewest leases
//!   (its attained share of the workers), ties to the job served least recently (new jobs after
//!   older ones). Two jobs share the credits evenly; a job submitted while others hold every
//!   credit gets the next credit a worker grants — its first task is leased within one task
//!   time (the longest task running) of its submission, unless jobs submitted before it hold
//!   no lease either (then one freed credit each, in submission order).
//! * **Order**: within a job, pending tasks are handed out in bank order, except for affinity.
//! * **Affinity**: the scheduler remembers which bank blocks each worker computed recently (up to
//!   its announced cache capacity) and prefers giving a worker tasks it already holds templates
//!   for, then tasks nobody else holds, then the first pending task.
//! * **Attempts**: every lease has a fresh attempt id; a result or failure from an attempt that is
//!   no longer active (expired, revoked, lost worker) is ignored, and a task's first valid result
//!   is the only one accepted.
//! * **Failures**: a task that fails to execute [`MAX_TASK_FAILURES`] times fails its job with the
//!   task's bank range and the last reason; a lost worker does not count as a failure.
//! * **Durability**: with a journal ([`Scheduler::with_store_acks`]), an accepted result is first
//!   *storing*; the task is done (and its job can succeed) only once the shell reports it stored
//!   ([`Event::TaskStored`]); without one, accepting is storing (the block goes to memory). A failed write
//!   ([`Event::StoreFailed`]) puts the task back to pending (not a failure of the task) and pauses
//!   its job — no leases, no results — until [`Event::StoreResumed`].
//! * **Liveness**: a worker not heard from for `heartbeat_timeout_ms` is dropped and its leases go
//!   back to the pending set.

mod dispatch;
mod events;
mod ids;
mod job;
mod queries;
mod worker;

#[cfg(test)]
mod durable_tests;
#[cfg(test)]
mod fairness_tests;
#[cfg(test)]
mod random_tests;
#[cfg(test)]
mod reattach_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

pub use events::{Action, Event};
pub use ids::JobId;
use job::Job;
pub use job::{JobState, Outcome, SegmentGrid, TaskState};
use worker::Worker;
pub use worker::MAX_OUTSTANDING;

/// A lease running this many times the job's mean task time is a straggler.
pub const STRAGGLER_FACTOR: u64 = 3;
/// Leases younger than this are never considered stragglers.
pub const MIN_STRAGGLER_MS: u64 = 1000;

/// Executing attempts of one task that may fail before its job fails.
pub const MAX_TASK_FAILURES: u32 = 3;

/// Identifies a worker session identity; allocated by the shell, kept across reconnects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId(pub u64);

impl std::fmt::Display for WorkerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "w-{}", self.0)
    }
}

/// Tunables of the scheduler.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// A worker silent for longer than this is considered lost.
    pub heartbeat_timeout_ms: u64,
    /// Run speculative copies of straggling tasks on idle workers.
    pub speculate: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            heartbeat_timeout_ms: 5_000,
            speculate: true,
        }
    }
}

/// The scheduler's whole state. See the module docs for its rules.
#[derive(Debug)]
pub struct Scheduler {
    config: Config,
    jobs: BTreeMap<JobId, Job>,
    /// Live jobs, least recently served first (ties of the fairness rule).
    rotation: VecDeque<JobId>,
    workers: BTreeMap<WorkerId, Worker>,
    /// Workers that left, kept for their affinity memory should they come back.
    departed: HashMap<WorkerId, Worker>,
    /// No more leases (shutting down).
    stopped: bool,
    /// The worker that most recently computed each bank block (affinity index).
    holders: HashMap<(u64, u64), WorkerId>,
    /// Accepted results must be reported stored before their tasks count as done.
    store_acks: bool,
}

/// Departed workers remembered for affinity.
const MAX_DEPARTED: usize = 1024;

impl Scheduler {
    /// An empty scheduler.
    pub fn new(config: Config) -> Scheduler {
        Scheduler {
            config,
            jobs: BTreeMap::new(),
            rotation: VecDeque::new(),
            workers: BTreeMap::new(),
            departed: HashMap::new(),
            stopped: false,
            holders: HashMap::new(),
            store_acks: false,
        }
    }

    /// A scheduler for a shell with a journal: an accepted result is *storing* until the shell
    /// reports [`Event::TaskStored`] or [`Event::StoreFailed`]. (Without a journal the shell
    /// keeps the block in memory in the same step, so a round trip would only cost time.)
    pub fn with_store_acks(mut self) -> Scheduler {
        self.store_acks = true;
        self
    }

    /// Applies one event at time `now_ms` and returns what the shell must do, in order.
    pub fn handle(&mut self, now_ms: u64, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(w) = event_worker(&event).and_then(|w| self.workers.get_mut(&w)) {
            w.last_seen_ms = now_ms;
        }
        match event {
            Event::JobSubmitted {
                job,
                templates,
                chunk,
                bank_key,
                segments,
            } => {
                if self.jobs.contains_key(&job) {
                    return out;
                }
                let j = Job::new(templates, chunk, bank_key, segments);
                if j.tasks.is_empty() {
                    out.push(Action::JobFinished {
                        job,
                        outcome: Outcome::Succeeded,
                    });
                }
                self.jobs.insert(job, j);
                self.rotation.push_back(job);
            }
            Event::JobRecovered {
                job,
                templates,
                chunk,
                bank_key,
                segments,
                done,
                attempt_base,
            } => {
                if self.jobs.contains_key(&job) {
                    return out;
                }
                let mut j = Job::new(templates, chunk, bank_key, segments);
                j.next_attempt = attempt_base.max(1);
                for t in done {
                    if let Some(task) = j.tasks.get_mut(t as usize) {
                        if !task.state.has_result() {
                            task.state = TaskState::Done;
                            j.pending.remove(&t);
                            j.done += 1;
                        }
                    }
                }
                let complete = j.done as usize == j.tasks.len();
                self.jobs.insert(job, j);
                self.rotation.push_back(job);
                if complete {
                    self.finish_job(job, Outcome::Succeeded, &mut out);
                }
            }
            Event::JobEnded { job, outcome } => {
                self.jobs.entry(job).or_insert_with(|| Job::ended(outcome));
            }
            Event::WorkerJoined {
                worker,
                cache_capacity,
                in_flight,
            } => {
                // Only leases issued to this very identity can be re-attached: those its
                // previous session held when it ended (the shell has proven the identity).
                let mut claimable = HashSet::new();
                if self.workers.contains_key(&worker) {
                    // A reconnect under the same identity: the old session's leases are gone.
                    self.lose_worker(worker, &mut out);
                    if let Some(old) = self.workers.remove(&worker) {
                        self.departed.insert(worker, old);
                    }
                }
                let mut w = Worker::new(cache_capacity, now_ms);
                if let Some(mut old) = self.departed.remove(&worker) {
                    claimable = std::mem::take(&mut old.lost);
                    w.inherit_affinity(old);
                }
                self.workers.insert(worker, w);
                for (job, task, attempt) in in_flight {
                    if claimable.contains(&(job, task, attempt)) {
                        self.adopt(worker, job, task, attempt, now_ms, &mut out);
                    } else {
                        // Not this worker's lease (or no longer known): tell it to drop it.
                        out.push(Action::Revoke {
                            worker,
                            job,
                            task,
                            attempt,
                        });
                    }
                }
            }
            Event::Credit { worker, credits } => {
                if let Some(w) = self.workers.get_mut(&worker) {
                    w.grant(credits);
                }
            }
            Event::Heartbeat { .. } => {}
            Event::TaskCompleted {
                worker,
                job,
                task,
                attempt,
            } => self.on_completed(now_ms, worker, job, task, attempt, &mut out),
            Event::TaskFailed {
                worker,
                job,
                task,
                attempt,
                reason,
            } => self.on_failed(worker, job, task, attempt, reason, &mut out),
            Event::WorkerLost { worker } => {
                self.lose_worker(worker, &mut out);
                self.depart(worker);
            }
            Event::CancelJob { job } => {
                if self.jobs.get(&job).is_some_and(|j| !j.state.is_final()) {
                    self.finish_job(job, Outcome::Cancelled, &mut out);
                }
            }
            Event::StopLeasing => self.stopped = true,
            Event::TaskStored { job, task } => self.on_stored(job, task, &mut out),
            Event::StoreFailed { job, task } => {
                if let Some(j) = self.jobs.get_mut(&job) {
                    if let Some(t) = j.tasks.get_mut(task as usize) {
                        if t.state == TaskState::Storing {
                            j.storing -= 1;
                            t.state = TaskState::Pending;
                            if !j.state.is_final() {
                                j.paused = true;
                                j.pending.insert(task);
                            }
                        }
                    }
                }
            }
            Event::StoreResumed { job } => {
                if let Some(j) = self.jobs.get_mut(&job) {
                    j.paused = false;
                }
            }
            Event::Tick => {
                let timeout = self.config.heartbeat_timeout_ms;
                let dead: Vec<WorkerId> = self
                    .workers
                    .iter()
                    .filter(|(_, w)| now_ms.saturating_sub(w.last_seen_ms) > timeout)
                    .map(|(id, _)| *id)
                    .collect();
                for worker in dead {
                    self.lose_worker(worker, &mut out);
                    self.depart(worker);
                    out.push(Action::DropWorker { worker });
                }
            }
        }
        self.dispatch(now_ms, &mut out);
        out
    }

    fn on_completed(
        &mut self,
        now_ms: u64,
        worker: WorkerId,
        job_id: JobId,
        task: u32,
        attempt: u64,
        out: &mut Vec<Action>,
    ) {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return;
        };
        let Some(t) = job.tasks.get_mut(task as usize) else {
            return;
        };
        let Some(leased_at) = t.remove_lease(worker, attempt) else {
            return; // expired, revoked or duplicate attempt: drop it
        };
        if let Some(w) = self.workers.get_mut(&worker) {
            w.leases.remove(&(job_id, task, attempt));
            w.tasks_done += 1;
            let (added, evicted) = w.remember(job.bank_key, t.start, t.count);
            for b in evicted {
                if self.holders.get(&b) == Some(&worker) {
                    self.holders.remove(&b);
                }
            }
            for b in added {
                self.holders.insert(b, worker);
            }
        }
        if t.state.has_result() || job.state.is_final() {
            return;
        }
        if job.paused {
            // The journal is failing: the result cannot be made durable, so it is not taken;
            // the task runs again once the job resumes.
            if t.leases.is_empty() {
                t.state = TaskState::Pending;
                job.pending.insert(task);
            }
            return;
        }
        // First valid result wins; revoke any speculative copies.
        let others: Vec<(WorkerId, u64, u64)> = t.leases.drain(..).collect();
        if self.store_acks {
            t.state = TaskState::Storing;
            job.storing += 1;
        } else {
            t.state = TaskState::Done;
            job.done += 1;
        }
        job.run_ms_sum += now_ms.saturating_sub(leased_at);
        job.run_count += 1;
        out.push(Action::Accept { job: job_id, task });
        for (w, a, _) in others {
            if let Some(wk) = self.workers.get_mut(&w) {
                wk.leases.remove(&(job_id, task, a));
            }
            out.push(Action::Revoke {
                worker: w,
                job: job_id,
                task,
                attempt: a,
            });
        }
        if job.done as usize == job.tasks.len() {
            self.finish_job(job_id, Outcome::Succeeded, out);
        }
    }

    /// A task's accepted result is durable: the task is done, and its job succeeds with its last.
    fn on_stored(&mut self, job_id: JobId, task: u32, out: &mut Vec<Action>) {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return;
        };
        let Some(t) = job.tasks.get_mut(task as usize) else {
            return;
        };
        if t.state != TaskState::Storing {
            return;
        }
        t.state = TaskState::Done;
        job.storing -= 1;
        if job.state.is_final() {
            return; // cancelled while it was being written
        }
        job.done += 1;
        if job.done as usize == job.tasks.len() {
            self.finish_job(job_id, Outcome::Succeeded, out);
        }
    }

    fn on_failed(
        &mut self,
        worker: WorkerId,
        job_id: JobId,
        task: u32,
        attempt: u64,
        reason: String,
        out: &mut Vec<Action>,
    ) {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return;
        };
        let Some(t) = job.tasks.get_mut(task as usize) else {
            return;
        };
        if t.remove_lease(worker, attempt).is_none() {
            return;
        }
        if let Some(w) = self.workers.get_mut(&worker) {
            w.leases.remove(&(job_id, task, attempt));
        }
        if job.state.is_final() || t.state.has_result() {
            return;
        }
        t.failures += 1;
        t.failed_on.push(worker);
        job.failures += 1;
        if t.failures >= MAX_TASK_FAILURES {
            let msg = format!(
                "task {task} (bank templates {}..{}) failed {} times; last error: {reason}",
                t.start,
                t.start + t.count as u64,
                t.failures
            );
            self.finish_job(job_id, Outcome::Failed(msg), out);
        } else if t.leases.is_empty() {
            t.state = TaskState::Pending;
            job.pending.insert(task);
        }
    }

    /// Removes a worker, remembering which bank blocks it held in case it comes back.
    fn depart(&mut self, worker: WorkerId) {
        if let Some(w) = self.workers.remove(&worker) {
            if self.departed.len() >= MAX_DEPARTED {
                if let Some(k) = self.departed.keys().next().copied() {
                    self.departed.remove(&k);
                }
            }
            self.departed.insert(worker, w);
        }
    }

    /// Re-attaches a lease a returning worker still holds: it becomes an active lease again if
    /// its task still needs a result (alongside any newer attempt: the first result wins);
    /// otherwise the worker is told to drop it.
    fn adopt(
        &mut self,
        worker: WorkerId,
        job_id: JobId,
        task: u32,
        attempt: u64,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        let usable = self.jobs.get(&job_id).is_some_and(|j| {
            !j.state.is_final()
                && attempt < j.next_attempt
                && j.tasks
                    .get(task as usize)
                    .is_some_and(|t| !t.state.has_result())
        });
        if !usable {
            out.push(Action::Revoke {
                worker,
                job: job_id,
                task,
                attempt,
            });
            return;
        }
        let job = self.jobs.get_mut(&job_id).expect("checked above");
        let t = &mut job.tasks[task as usize];
        if !t
            .leases
            .iter()
            .any(|&(w, a, _)| w == worker && a == attempt)
        {
            t.leases.push((worker, attempt, now_ms));
        }
        t.state = TaskState::Leased;
        job.pending.remove(&task);
        job.state = JobState::Running;
        let w = self.workers.get_mut(&worker).expect("just inserted");
        w.leases.insert((job_id, task, attempt));
        w.known_jobs.insert(job_id);
    }

    /// Puts a worker's leases back; the worker entry itself is left to the caller.
    fn lose_worker(&mut self, worker: WorkerId, _out: &mut [Action]) {
        let Some(w) = self.workers.get_mut(&worker) else {
            return;
        };
        let leases: Vec<(JobId, u32, u64)> = w.leases.drain().collect();
        w.lost = leases.iter().copied().collect();
        w.credits = 0;
        w.known_jobs.clear();
        for (job_id, task, attempt) in leases {
            if let Some(job) = self.jobs.get_mut(&job_id) {
                if let Some(t) = job.tasks.get_mut(task as usize) {
                    t.remove_lease(worker, attempt);
                    if t.leases.is_empty() && !t.state.has_result() && !job.state.is_final() {
                        t.state = TaskState::Pending;
                        job.pending.insert(task);
                    }
                }
            }
        }
    }

    fn finish_job(&mut self, job_id: JobId, outcome: Outcome, out: &mut Vec<Action>) {
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return;
        };
        job.state = outcome.state();
        job.outcome = Some(outcome.clone());
        job.pending.clear();
        for (idx, t) in job.tasks.iter_mut().enumerate() {
            for (w, a, _) in t.leases.drain(..) {
                if let Some(wk) = self.workers.get_mut(&w) {
                    wk.leases.remove(&(job_id, idx as u32, a));
                }
                out.push(Action::Revoke {
                    worker: w,
                    job: job_id,
                    task: idx as u32,
                    attempt: a,
                });
            }
        }
        self.rotation.retain(|j| *j != job_id);
        for w in self.workers.values_mut() {
            w.known_jobs.remove(&job_id);
        }
        out.push(Action::JobFinished {
            job: job_id,
            outcome,
        });
    }
}

/// The worker an event comes from, if any (to refresh its liveness).
fn event_worker(e: &Event) -> Option<WorkerId> {
    match e {
        Event::Credit { worker, .. }
        | Event::Heartbeat { worker }
        | Event::TaskCompleted { worker, .. }
        | Event::TaskFailed { worker, .. } => Some(*worker),
        _ => None,
    }
}
