//! Read-only questions the shell asks the scheduler (states, counts, ranges).

use super::*;

impl Scheduler {
    /// The state of a job, if known.
    pub fn job_state(&self, job: JobId) -> Option<JobState> {
        self.jobs.get(&job).map(|j| j.state)
    }

    /// How a job ended (`None` while it runs, or for an unknown job).
    pub fn job_outcome(&self, job: JobId) -> Option<&Outcome> {
        self.jobs.get(&job).and_then(|j| j.outcome.as_ref())
    }

    /// Whether a job has ended.
    pub fn job_ended(&self, job: JobId) -> bool {
        self.job_state(job).is_some_and(JobState::is_final)
    }

    /// Progress counters of a job: (tasks done, tasks total, attempts, failures).
    pub fn job_counts(&self, job: JobId) -> Option<(u32, u32, u32, u32)> {
        self.jobs
            .get(&job)
            .map(|j| (j.done, j.tasks.len() as u32, j.attempts, j.failures))
    }

    /// The bank range `(start, count)` of a task.
    pub fn task_range(&self, job: JobId, task: u32) -> Option<(u64, u32)> {
        self.jobs
            .get(&job)
            .and_then(|j| j.tasks.get(task as usize))
            .map(|t| (t.start, t.count))
    }

    /// The segments `(start, count)` of a data-search task (`(0, 0)` for a signal search).
    pub fn task_segments(&self, job: JobId, task: u32) -> Option<(u32, u32)> {
        self.jobs
            .get(&job)
            .and_then(|j| j.tasks.get(task as usize))
            .map(|t| t.segments)
    }

    /// Number of accepted results not yet reported stored or failed, over all jobs.
    pub fn storing(&self) -> usize {
        self.jobs.values().map(|j| j.storing as usize).sum()
    }

    /// Whether a job is paused because its results cannot be stored.
    pub fn job_paused(&self, job: JobId) -> bool {
        self.jobs.get(&job).is_some_and(|j| j.paused)
    }

    /// Number of active leases over all workers.
    pub fn active_leases(&self) -> usize {
        self.workers.values().map(|w| w.leases.len()).sum()
    }

    /// Tasks waiting for a worker, over all unfinished jobs that are not paused: the demand
    /// automatic allocation grows the farm for.
    pub fn pending_tasks(&self) -> u64 {
        self.jobs
            .values()
            .filter(|j| !j.state.is_final() && !j.paused)
            .map(|j| {
                j.tasks
                    .iter()
                    .filter(|t| t.state == TaskState::Pending)
                    .count() as u64
            })
            .sum()
    }

    /// Number of live workers.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// Per-worker counters: (id, leased tasks, tasks done, credits).
    pub fn worker_counts(&self) -> Vec<(WorkerId, u32, u64, u32)> {
        self.workers
            .iter()
            .map(|(id, w)| (*id, w.leases.len() as u32, w.tasks_done, w.credits))
            .collect()
    }

    /// A job's tasks by state: (pending, leased or being stored, done).
    pub fn task_states(&self, job: JobId) -> Option<(u32, u32, u32)> {
        self.jobs.get(&job).map(|j| {
            j.tasks
                .iter()
                .fold((0, 0, 0), |(p, r, d), t| match t.state {
                    TaskState::Pending => (p + 1, r, d),
                    TaskState::Leased | TaskState::Storing => (p, r + 1, d),
                    TaskState::Done => (p, r, d + 1),
                })
        })
    }

    /// Forgets a finished job entirely (retention).
    pub fn forget_job(&mut self, job: JobId) {
        if self.jobs.get(&job).is_some_and(|j| j.state.is_final()) {
            self.jobs.remove(&job);
        }
    }
}
