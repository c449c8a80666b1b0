//! The allocation state machine, sans IO: what the queues hold, what to submit and what to
//! cancel. Inputs are the coordinator's load (pending tasks, registered workers and their
//! leases), the results of `sbatch`, the job states `squeue` reported, and the clock; outputs
//! are [`Action`]s the driver carries out. No process, socket or clock in here, so every rule
//! (when to grow, when to shrink, how failures back off) is unit-tested in `tests.rs`.
//!
//! The rules, and the HyperQueue autoalloc pitfalls they avoid:
//! * grow: a queue submits one job at a time while tasks are pending, fewer than
//!   `max_workers` of its jobs are alive, and fewer jobs are still starting (queued, or running
//!   without a registered worker) than there are pending tasks;
//! * shrink: a job whose worker has held no task for `idle_timeout` while nothing is pending is
//!   cancelled (its worker drains and exits 0); so is a queued job nobody needs any more;
//! * failures (sbatch refused, a job that ended before its worker registered, a worker that
//!   never registered within `start_timeout` of its job starting, a job stuck in the queue past
//!   `queue_timeout`) are counted and delay the next submission exponentially; after
//!   `max_failures` in a row the queue pauses and says why in `chirpfarm alloc list` — never a
//!   resubmission loop;
//! * a job ending by itself after its worker registered (time limit, `--idle-timeout`) resets
//!   the count.

use super::{AllocError, JobStatus, QueueParams, SlurmState};
use std::collections::BTreeMap;

/// Timings of the machine (milliseconds), shared by every queue: what "stuck", "idle" and
/// "backed off" mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunables {
    /// A job still queued after this long is reported stuck (and counted once as a failure).
    pub queue_timeout_ms: u64,
    /// A running job whose worker has not registered after this long is cancelled as failed.
    pub start_timeout_ms: u64,
    /// The first back-off after a failure; doubled for each further failure in a row.
    pub backoff_base_ms: u64,
    /// The longest back-off.
    pub backoff_max_ms: u64,
    /// Failures in a row after which a queue pauses.
    pub max_failures: u32,
    /// How often the job states are read (`squeue`) while a queue has jobs.
    pub poll_ms: u64,
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables {
            queue_timeout_ms: 30 * 60_000,
            start_timeout_ms: 5 * 60_000,
            backoff_base_ms: 30_000,
            backoff_max_ms: 30 * 60_000,
            max_failures: 5,
            poll_ms: 5_000,
        }
    }
}

/// The coordinator's load at one instant, as the machine needs it.
#[derive(Debug, Clone, Default)]
pub struct Load {
    /// Tasks waiting for a worker, over all jobs.
    pub pending_tasks: u64,
    /// Registered workers: (name, tasks leased to it).
    pub workers: Vec<(String, u32)>,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Submit one worker job for `queue` (then report [`AutoAlloc::submitted`]).
    Submit { queue: u32, params: QueueParams },
    /// End a job; report nothing: the next poll shows it gone. `drain`: a running job whose
    /// worker is told to finish (SIGTERM to its steps: it exits 0); otherwise a plain cancel.
    Cancel {
        queue: u32,
        job: String,
        drain: bool,
    },
    /// Read the states of `queue`'s jobs (then report [`AutoAlloc::polled`]).
    Poll { queue: u32 },
}

/// One worker job the machine submitted and has not yet seen end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The batch system's job id.
    pub job: String,
    /// Slurm's last word on it.
    pub state: SlurmState,
    /// Why it is pending (Slurm's reason), or empty.
    pub reason: String,
    /// When it was submitted and when it was first seen running.
    pub submitted_ms: u64,
    pub running_since_ms: Option<u64>,
    /// Whether its worker has registered (then it does not count as starting any more).
    pub worker_seen: bool,
    /// Since when it has had nothing to do (no task leased, none pending).
    pub idle_since_ms: Option<u64>,
    /// Why the machine cancelled it, once it has.
    pub cancelled: Option<&'static str>,
    /// Reported stuck in the queue (counted once).
    pub stuck: bool,
}

/// One allocation queue: its parameters, jobs and failure record.
#[derive(Debug, Clone)]
pub struct Queue {
    pub id: u32,
    pub params: QueueParams,
    pub allocations: BTreeMap<String, Allocation>,
    /// An `sbatch` in flight (one at a time).
    pub submitting: bool,
    /// Failures in a row; reset by a job that ran its worker and ended by itself.
    pub failures_in_row: u32,
    /// Totals since the queue was added.
    pub submitted: u64,
    pub failures: u64,
    pub ended: u64,
    /// The last failure, in words.
    pub last_error: Option<String>,
    /// No submission before this instant (back-off).
    pub next_submit_ms: u64,
    /// Paused after `max_failures` failures in a row; the reason.
    pub paused: Option<String>,
    /// `alloc remove`d: its jobs are being cancelled; it goes when they are gone.
    pub removing: bool,
    next_poll_ms: u64,
    /// When the poll in flight was asked for (`None`: none in flight). A job submitted after it
    /// may be missing from its answer without having ended.
    polling: Option<u64>,
}

impl Queue {
    /// Jobs submitted and not cancelled: the queue's workers, present or coming.
    pub fn alive(&self) -> usize {
        self.allocations
            .values()
            .filter(|a| a.cancelled.is_none())
            .count()
    }

    /// Jobs that have not yet shown a worker (queued, or running without one registered).
    pub fn starting(&self) -> usize {
        self.allocations
            .values()
            .filter(|a| a.cancelled.is_none() && !a.worker_seen)
            .count()
    }
}

/// Every queue of the coordinator.
#[derive(Debug, Clone)]
pub struct AutoAlloc {
    pub tunables: Tunables,
    queues: BTreeMap<u32, Queue>,
    next_id: u32,
    /// Actions decided outside [`Self::tick`] (a queue removed, a job submitted to a queue
    /// removed meanwhile), handed out by the next tick.
    outbox: Vec<Action>,
}

impl Default for AutoAlloc {
    fn default() -> Self {
        AutoAlloc::new(Tunables::default())
    }
}

impl AutoAlloc {
    /// No queue yet.
    pub fn new(tunables: Tunables) -> AutoAlloc {
        AutoAlloc {
            tunables,
            queues: BTreeMap::new(),
            next_id: 1,
            outbox: Vec::new(),
        }
    }

    /// The queues, by id.
    pub fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.values()
    }

    /// Adds a queue (parameters already validated); returns its id.
    pub fn add_queue(&mut self, params: QueueParams) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.queues.insert(
            id,
            Queue {
                id,
                params,
                allocations: BTreeMap::new(),
                submitting: false,
                failures_in_row: 0,
                submitted: 0,
                failures: 0,
                ended: 0,
                last_error: None,
                next_submit_ms: 0,
                paused: None,
                removing: false,
                next_poll_ms: 0,
                polling: None,
            },
        );
        id
    }

    /// Removes a queue: its jobs are ended (their workers drain) by the next tick's actions,
    /// and it disappears once they are gone.
    pub fn remove_queue(&mut self, id: u32) -> Result<(), AllocError> {
        let q = self.queues.get_mut(&id).ok_or(AllocError::NoQueue(id))?;
        q.removing = true;
        for a in q.allocations.values_mut() {
            if a.cancelled.is_none() {
                a.cancelled = Some("queue removed");
                self.outbox.push(cancel(q.id, a));
            }
        }
        Ok(())
    }

    /// Removes every queue (the coordinator is stopping); returns the cancellations.
    pub fn remove_all(&mut self) -> Vec<Action> {
        let ids: Vec<u32> = self.queues.keys().copied().collect();
        for id in ids {
            let _ = self.remove_queue(id);
        }
        std::mem::take(&mut self.outbox)
    }

    /// One step: looks at the load and decides what to submit, cancel and poll.
    pub fn tick(&mut self, now_ms: u64, load: &Load) -> Vec<Action> {
        let t = self.tunables;
        let mut actions = std::mem::take(&mut self.outbox);
        // Leases per worker name; allocated workers are named after their job (see script.rs).
        let leases: BTreeMap<&str, u32> =
            load.workers.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        // Jobs that will bring a worker but have not yet (an sbatch in flight counts too).
        let mut starting_all: u64 = self
            .queues
            .values()
            .map(|q| q.starting() as u64 + u64::from(q.submitting))
            .sum();
        for q in self.queues.values_mut() {
            let mut failed = Vec::new();
            for a in q.allocations.values_mut() {
                let name = super::worker_name(&a.job);
                let leased = leases.get(name.as_str()).copied();
                if leased.is_some() && !a.worker_seen {
                    a.worker_seen = true;
                    if a.cancelled.is_none() {
                        starting_all = starting_all.saturating_sub(1);
                    }
                }
                if a.cancelled.is_some() {
                    continue;
                }
                // Idle: nothing leased to it (or not running yet) and nothing pending.
                let busy = leased.unwrap_or(0) > 0 || load.pending_tasks > 0;
                if busy {
                    a.idle_since_ms = None;
                } else {
                    let since = *a.idle_since_ms.get_or_insert(now_ms);
                    if now_ms.saturating_sub(since) >= q.params.idle_timeout_ms {
                        a.cancelled = Some("idle");
                        actions.push(cancel(q.id, a));
                        continue;
                    }
                }
                match a.running_since_ms {
                    None if !a.stuck
                        && now_ms.saturating_sub(a.submitted_ms) >= t.queue_timeout_ms =>
                    {
                        a.stuck = true;
                        failed.push(format!(
                            "job {} still queued after {} s ({})",
                            a.job,
                            t.queue_timeout_ms / 1000,
                            if a.reason.is_empty() {
                                "no reason given"
                            } else {
                                a.reason.as_str()
                            }
                        ));
                    }
                    Some(since)
                        if !a.worker_seen && now_ms.saturating_sub(since) >= t.start_timeout_ms =>
                    {
                        a.cancelled = Some("worker never registered");
                        actions.push(Action::Cancel {
                            queue: q.id,
                            job: a.job.clone(),
                            drain: false,
                        });
                        failed.push(format!(
                            "job {job}: its worker did not register within {} s of the job starting (see chirpfarm-alloc-{job}.out in --alloc-dir)",
                            t.start_timeout_ms / 1000,
                            job = a.job
                        ));
                    }
                    _ => {}
                }
            }
            for why in failed {
                fail(q, &t, now_ms, why);
            }
            if !q.allocations.is_empty() && q.polling.is_none() && now_ms >= q.next_poll_ms {
                q.polling = Some(now_ms);
                actions.push(Action::Poll { queue: q.id });
            }
            let wanted = load.pending_tasks > starting_all
                && q.alive() < q.params.max_workers as usize
                && !q.submitting
                && !q.removing
                && q.paused.is_none()
                && now_ms >= q.next_submit_ms;
            if wanted {
                q.submitting = true;
                starting_all += 1;
                actions.push(Action::Submit {
                    queue: q.id,
                    params: q.params.clone(),
                });
            }
        }
        self.queues
            .retain(|_, q| !(q.removing && q.allocations.is_empty() && !q.submitting));
        actions
    }

    /// The result of a [`Action::Submit`]: the job id, or why `sbatch` failed.
    pub fn submitted(&mut self, now_ms: u64, queue: u32, result: Result<String, String>) {
        let t = self.tunables;
        let Some(q) = self.queues.get_mut(&queue) else {
            // Removed meanwhile (and gone): a job that did start is cancelled at once.
            if let Ok(job) = result {
                self.outbox.push(Action::Cancel {
                    queue,
                    job,
                    drain: false,
                });
            }
            return;
        };
        q.submitting = false;
        match result {
            Ok(job) => {
                q.submitted += 1;
                let mut a = Allocation {
                    job: job.clone(),
                    state: SlurmState::Pending,
                    reason: String::new(),
                    submitted_ms: now_ms,
                    running_since_ms: None,
                    worker_seen: false,
                    idle_since_ms: None,
                    cancelled: None,
                    stuck: false,
                };
                if q.removing {
                    a.cancelled = Some("queue removed");
                    self.outbox.push(cancel(queue, &a));
                }
                q.allocations.insert(job, a);
            }
            Err(e) => fail(q, &t, now_ms, format!("sbatch failed: {e}")),
        }
    }

    /// The result of a [`Action::Poll`]: every job of the queue the batch system still lists
    /// (with `-t all`, ended ones too for a while). A job of ours missing from the list has
    /// ended (purged from Slurm's memory).
    pub fn polled(&mut self, now_ms: u64, queue: u32, result: Result<Vec<JobStatus>, String>) {
        let t = self.tunables;
        let Some(q) = self.queues.get_mut(&queue) else {
            return;
        };
        // An answer nobody asked for (tests) stands for a poll made now.
        let asked_ms = q.polling.take().unwrap_or(now_ms);
        q.next_poll_ms = now_ms + t.poll_ms;
        let listed = match result {
            Ok(l) => l,
            Err(e) => {
                // squeue itself failing is not the jobs' fault: no failure counted, but shown.
                q.last_error = Some(format!("squeue failed: {e}"));
                return;
            }
        };
        let by_id: BTreeMap<&str, &JobStatus> =
            listed.iter().map(|s| (s.job.as_str(), s)).collect();
        let mut ended = Vec::new();
        for a in q.allocations.values_mut() {
            match by_id.get(a.job.as_str()) {
                Some(s) if !s.state.is_final() => {
                    a.state = s.state;
                    a.reason = s.reason.clone();
                    if s.state == SlurmState::Running && a.running_since_ms.is_none() {
                        a.running_since_ms = Some(now_ms);
                    }
                }
                Some(s) => ended.push((a.job.clone(), Some(s.state))),
                // Submitted while the poll ran: squeue may not have known it yet.
                None if a.submitted_ms >= asked_ms => {}
                None => ended.push((a.job.clone(), None)),
            }
        }
        for (job, state) in ended {
            let Some(a) = q.allocations.remove(&job) else {
                continue;
            };
            q.ended += 1;
            match verdict(&a, state) {
                Verdict::Success => {
                    q.failures_in_row = 0;
                }
                Verdict::Neutral => {}
                Verdict::Failure(why) => fail(q, &t, now_ms, why),
            }
        }
    }
}

/// Ends a job the machine no longer wants: a running one is drained, a queued one cancelled.
fn cancel(queue: u32, a: &Allocation) -> Action {
    Action::Cancel {
        queue,
        job: a.job.clone(),
        drain: a.running_since_ms.is_some(),
    }
}

/// How an ended job counts.
enum Verdict {
    Success,
    Neutral,
    Failure(String),
}

fn verdict(a: &Allocation, state: Option<SlurmState>) -> Verdict {
    let shown = state.map_or("(no longer listed)".to_string(), |s| s.to_string());
    if a.cancelled.is_some() || state == Some(SlurmState::Cancelled) {
        // Ours (idle, removed) or someone's scancel: says nothing about the queue's health,
        // except that a worker that never registered was already counted in tick().
        return Verdict::Neutral;
    }
    if !a.worker_seen {
        return Verdict::Failure(format!(
            "job {job} ended {shown} before its worker registered (see chirpfarm-alloc-{job}.out in --alloc-dir)",
            job = a.job
        ));
    }
    match state {
        Some(s) if s.is_failure() => Verdict::Failure(format!("job {} ended {s}", a.job)),
        _ => Verdict::Success,
    }
}

/// Counts a failure: back-off doubles, the queue pauses after `max_failures` in a row.
fn fail(q: &mut Queue, t: &Tunables, now_ms: u64, why: String) {
    q.failures += 1;
    q.failures_in_row += 1;
    let shift = (q.failures_in_row - 1).min(20);
    let delay = t
        .backoff_base_ms
        .saturating_mul(1 << shift)
        .min(t.backoff_max_ms);
    q.next_submit_ms = now_ms + delay;
    tracing::warn!(
        queue = q.id,
        failures_in_row = q.failures_in_row,
        "autoalloc: {why}; next submission in {} s",
        delay / 1000
    );
    if q.failures_in_row >= t.max_failures && q.paused.is_none() {
        q.paused = Some(format!(
            "paused after {} failures in a row (last: {why}); fix the cause, then `chirpfarm alloc remove {}` and `alloc add` again",
            q.failures_in_row, q.id
        ));
    }
    q.last_error = Some(why);
}
