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
    /// A result was accepted and is being written to the journal; it is released (and the task
    /// counts as done) only once the write succeeded, and goes back to pending if it failed.
    Storing,
    /// Its result was accepted and stored.
    Done,
}

impl TaskState {
    /// Whether a result was accepted (being stored or stored): later results are dropped.
    pub fn has_result(self) -> bool {
        matches!(self, TaskState::Storing | TaskState::Done)
    }
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

/// How a data search's segments are grouped into tasks. A task is a bank range × one group of
/// consecutive segments; tasks are ordered by group, then bank range, which is the order results
/// are released in. A signal search has no segments ([`SegmentGrid::NONE`]): one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentGrid {
    /// Segments in the job's data (0 for a signal search).
    pub segments: u32,
    /// Segments per task (at least 1 when there are segments).
    pub per_task: u32,
}

impl SegmentGrid {
    /// A signal search: no segments, one group.
    pub const NONE: SegmentGrid = SegmentGrid {
        segments: 0,
        per_task: 0,
    };

    /// Number of segment groups (1 for a signal search).
    pub fn groups(&self) -> u32 {
        if self.segments == 0 {
            1
        } else {
            self.segments.div_ceil(self.per_task.max(1))
        }
    }

    /// The segments `(start, count)` of group `g` (`(0, 0)` for a signal search).
    pub fn group_range(&self, g: u32) -> (u32, u32) {
        if self.segments == 0 {
            return (0, 0);
        }
        let per = self.per_task.max(1);
        let start = g.saturating_mul(per).min(self.segments);
        (start, per.min(self.segments - start))
    }
}

/// One contiguous bank range of a job (× one segment group for a data search).
#[derive(Debug, Clone)]
pub(super) struct Task {
    pub start: u64,
    pub count: u32,
    /// Segments `(start, count)` of a data search; `(0, 0)` for a signal search.
    pub segments: (u32, u32),
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
    /// Tasks per segment group (the bank's ranges).
    pub per_group: u32,
    pub pending: BTreeSet<u32>,
    pub done: u32,
    pub state: JobState,
    /// How it ended (with a failure's reason), once `state` is final: the only record of a
    /// job's outcome in the coordinator.
    pub outcome: Option<Outcome>,
    pub bank_key: u64,
    pub next_attempt: u64,
    /// The journal could not store a result: no leases and no results until it works again.
    pub paused: bool,
    /// Tasks whose accepted result is being written.
    pub storing: u32,
    pub attempts: u32,
    pub failures: u32,
    /// Sum and count of accepted tasks' run times, for straggler detection.
    pub run_ms_sum: u64,
    pub run_count: u32,
}

impl Job {
    /// Cuts `templates` into tasks of `chunk` (the last one shorter), for every segment group.
    pub fn new(templates: u64, chunk: u32, bank_key: u64, grid: SegmentGrid) -> Job {
        let chunk = chunk.max(1);
        let per_group = templates.div_ceil(chunk as u64);
        let tasks: Vec<Task> = (0..grid.groups() as u64)
            .flat_map(|g| (0..per_group).map(move |i| (g, i)))
            .map(|(g, i)| {
                let start = i * chunk as u64;
                Task {
                    start,
                    count: (templates - start).min(chunk as u64) as u32,
                    segments: grid.group_range(g as u32),
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
            per_group: per_group as u32,
            pending,
            done: 0,
            outcome: state.is_final().then_some(Outcome::Succeeded),
            state,
            bank_key,
            next_attempt: 1,
            paused: false,
            storing: 0,
            attempts: 0,
            failures: 0,
            run_ms_sum: 0,
            run_count: 0,
        }
    }

    /// A job that had already ended (restored from disk): no tasks, only its outcome.
    pub fn ended(outcome: Outcome) -> Job {
        let mut j = Job::new(0, 1, 0, SegmentGrid::NONE);
        j.state = outcome.state();
        j.outcome = Some(outcome);
        j
    }

    /// Mean run time of the accepted tasks so far, if any.
    pub fn mean_run_ms(&self) -> Option<u64> {
        (self.run_count > 0).then(|| self.run_ms_sum / self.run_count as u64)
    }

    /// The tasks containing bank index `template` (one per segment group).
    pub fn tasks_of(&self, template: u64) -> impl Iterator<Item = u32> + '_ {
        let t = template / self.chunk as u64;
        let per_group = self.per_group as u64;
        let groups = (self.tasks.len() as u64)
            .checked_div(per_group)
            .unwrap_or(0);
        (0..groups)
            .filter(move |_| t < per_group)
            .map(move |g| (g * per_group + t) as u32)
    }
}
