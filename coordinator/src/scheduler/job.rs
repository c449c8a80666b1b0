//! Job and task state inside the scheduler.

use super::WorkerId;
use std::collections::BTreeSet;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for a worker.
    Pending,
    /// Leased to one or more workers (more than one only for speculative copies).
    Leased,
    /// Its result was accepted.
    Done,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Submitted, no task leased yet.
    Queued,
    /// At least one task leased.
    Running,
    /// Every task's result accepted.
    Succeeded,
    /// A task failed too often.
    Failed,
    /// Cancelled by the user.
    Cancelled,
}

impl JobState {
    /// Whether the job will not change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// All results accepted.
    Succeeded,
    /// A task failed [`super::MAX_TASK_FAILURES`] times; the message names its bank range.
    Failed(String),
    /// Cancelled by the user.
    Cancelled,
}

impl Outcome {
    /// The final job state this outcome corresponds to.
    pub fn state(&self) -> JobState {
        match self {
            Outcome::Succeeded => JobState::Succeeded,
            Outcome::Failed(_) => JobState::Failed,
            Outcome::Cancelled => JobState::Cancelled,
        }
    }
}

/// One contiguous bank range of a job.
#[derive(Debug, Clone)]
pub(super) struct Task {
    pub start: u64,
    pub count: u32,
    pub state: TaskState,
    /// Active leases: (worker, attempt, leased at ms).
    pub leases: Vec<(WorkerId, u64, u64)>,
    /// Executing failures so far.
    pub failures: u32,
    /// Workers on which it failed (retries prefer others).
    pub failed_on: Vec<WorkerId>,
}

impl Task {
    /// Removes an active lease and returns when it was leased; `None` if that attempt was not
    /// active.
    pub fn remove_lease(&mut self, worker: WorkerId, attempt: u64) -> Option<u64> {
        let i = self
            .leases
            .iter()
            .position(|&(w, a, _)| w == worker && a == attempt)?;
        Some(self.leases.swap_remove(i).2)
    }
}

/// A job: its tasks and counters.
#[derive(Debug, Clone)]
pub(super) struct Job {
    pub tasks: Vec<Task>,
    pub chunk: u32,
    pub pending: BTreeSet<u32>,
    pub done: u32,
    pub state: JobState,
    pub bank_key: u64,
    pub next_attempt: u64,
    pub attempts: u32,
    pub failures: u32,
    /// Sum and count of accepted tasks' run times, for straggler detection.
    pub run_ms_sum: u64,
    pub run_count: u32,
}

impl Job {
    /// Cuts `templates` into tasks of `chunk` (the last one shorter).
    pub fn new(templates: u64, chunk: u32, bank_key: u64) -> Job {
        let chunk = chunk.max(1);
        let tasks: Vec<Task> = (0..templates.div_ceil(chunk as u64))
            .map(|i| {
                let start = i * chunk as u64;
                Task {
                    start,
                    count: (templates - start).min(chunk as u64) as u32,
                    state: TaskState::Pending,
                    leases: Vec::new(),
                    failures: 0,
                    failed_on: Vec::new(),
                }
            })
            .collect();
        let pending = (0..tasks.len() as u32).collect();
        let state = if tasks.is_empty() {
            JobState::Succeeded
        } else {
            JobState::Queued
        };
        Job {
            tasks,
            chunk,
            pending,
            done: 0,
            state,
            bank_key,
            next_attempt: 1,
            attempts: 0,
            failures: 0,
            run_ms_sum: 0,
            run_count: 0,
        }
    }

    /// Mean run time of the accepted tasks so far, if any.
    pub fn mean_run_ms(&self) -> Option<u64> {
        (self.run_count > 0).then(|| self.run_ms_sum / self.run_count as u64)
    }

    /// The task containing bank index `template`, if any.
    pub fn task_of(&self, template: u64) -> Option<u32> {
        let t = template / self.chunk as u64;
        (t < self.tasks.len() as u64).then_some(t as u32)
    }
}
