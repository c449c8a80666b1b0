//! What the shell learns from each scheduler step, kept for the metrics and the status page:
//! when tasks became ready and were leased (latency histograms), and recent throughput per
//! worker and per job. Sans-IO like the scheduler: fed events and actions with the time, it
//! only updates counters and its own maps.

use super::Metrics;
use crate::scheduler::{Action, Event, JobId, WorkerId};
use std::collections::{HashMap, VecDeque};

/// Throughput is averaged over this window.
const RATE_WINDOW_MS: u64 = 10_000;

/// The part of an [`Event`] the observer needs, taken before the scheduler consumes the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A job's tasks all became ready.
    JobReady(JobId),
    /// A worker reported a result of `attempt`.
    Completed {
        /// Who ran it.
        worker: WorkerId,
        /// Which job.
        job: JobId,
        /// Which task.
        task: u32,
        /// Which lease.
        attempt: u64,
    },
    /// A worker reported that `attempt` failed.
    Failed {
        /// Which job.
        job: JobId,
        /// Which task.
        task: u32,
        /// Which lease.
        attempt: u64,
    },
    /// A worker's session ended: its leases end with it.
    WorkerLost(WorkerId),
    /// An accepted result could not be stored: the task is ready again.
    StoreFailed(JobId, u32),
    /// Nothing the observer tracks.
    Other,
}

impl Seen {
    /// The observer's view of `event`.
    pub fn of(event: &Event) -> Seen {
        match *event {
            Event::JobSubmitted { job, .. } | Event::JobRecovered { job, .. } => {
                Seen::JobReady(job)
            }
            Event::TaskCompleted {
                worker,
                job,
                task,
                attempt,
            } => Seen::Completed {
                worker,
                job,
                task,
                attempt,
            },
            Event::TaskFailed {
                job, task, attempt, ..
            } => Seen::Failed { job, task, attempt },
            Event::WorkerLost { worker } => Seen::WorkerLost(worker),
            Event::StoreFailed { job, task } => Seen::StoreFailed(job, task),
            _ => Seen::Other,
        }
    }
}

/// Units done in the last [`RATE_WINDOW_MS`]: a worker's or a job's recent throughput.
#[derive(Debug, Clone)]
struct Rate {
    /// When counting began (a rate younger than the window is averaged over its age).
    since_ms: u64,
    /// (time, units) of each accepted result in the window.
    samples: VecDeque<(u64, u64)>,
}

impl Rate {
    fn new(now_ms: u64) -> Rate {
        Rate {
            since_ms: now_ms,
            samples: VecDeque::new(),
        }
    }

    fn add(&mut self, now_ms: u64, units: u64) {
        self.samples.push_back((now_ms, units));
        self.prune(now_ms);
    }

    fn prune(&mut self, now_ms: u64) {
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now_ms.saturating_sub(*t) > RATE_WINDOW_MS)
        {
            self.samples.pop_front();
        }
    }

    /// Units per second over the window (or the rate's age, if shorter, but at least 1 s).
    fn per_second(&self, now_ms: u64) -> f64 {
        let span = now_ms
            .saturating_sub(self.since_ms)
            .clamp(1000, RATE_WINDOW_MS);
        let units: u64 = self
            .samples
            .iter()
            .filter(|(t, _)| now_ms.saturating_sub(*t) <= RATE_WINDOW_MS)
            .map(|(_, u)| u)
            .sum();
        units as f64 * 1000.0 / span as f64
    }
}

/// One active lease of a task: (attempt, worker, leased at in ms).
type ActiveLease = (u64, WorkerId, u64);

/// The observer's state. Bounded by live work: entries of a job go when it finishes, of a
/// worker when its session ends.
#[derive(Debug, Default)]
pub struct Observer {
    /// When each unfinished job's tasks became ready (its submission or recovery).
    job_ready: HashMap<JobId, u64>,
    /// Tasks that became ready again later (a lease lost, failed or revoked; a failed store).
    task_ready: HashMap<(JobId, u32), u64>,
    /// Active leases of each task: (attempt, worker, leased at).
    leases: HashMap<(JobId, u32), Vec<ActiveLease>>,
    /// Recent throughput of each worker.
    workers: HashMap<WorkerId, Rate>,
    /// Recent throughput of each unfinished job.
    jobs: HashMap<JobId, Rate>,
}

impl Observer {
    /// Records one scheduler step: `seen` went in at `now_ms`, `actions` came out; `units` is
    /// the size of the result the event carried (templates × signals or segments), if any;
    /// `failed` says whether the scheduler counted a failure.
    pub fn record(
        &mut self,
        m: &Metrics,
        now_ms: u64,
        seen: Seen,
        actions: &[Action],
        units: u64,
        failed: bool,
    ) {
        match seen {
            Seen::JobReady(job) => {
                self.job_ready.insert(job, now_ms);
            }
            Seen::Failed { job, task, attempt } => {
                if failed {
                    m.failures.inc();
                }
                self.end_lease(now_ms, job, task, |a, _| a == attempt);
            }
            Seen::WorkerLost(worker) => self.end_worker(now_ms, worker),
            Seen::StoreFailed(job, task) => {
                self.task_ready.insert((job, task), now_ms);
            }
            Seen::Completed { .. } | Seen::Other => {}
        }
        for action in actions {
            match *action {
                Action::Lease {
                    worker,
                    job,
                    task,
                    attempt,
                    ..
                } => self.on_lease(m, now_ms, worker, job, task, attempt),
                Action::Accept { job, task } => self.on_accept(m, now_ms, seen, job, task, units),
                Action::Revoke {
                    job, task, attempt, ..
                } => self.end_lease(now_ms, job, task, |a, _| a == attempt),
                Action::DropWorker { worker } => self.end_worker(now_ms, worker),
                Action::JobFinished { job, .. } => self.forget_job(job),
                Action::SendJob { .. } => {}
            }
        }
    }

    fn on_lease(
        &mut self,
        m: &Metrics,
        now_ms: u64,
        worker: WorkerId,
        job: JobId,
        task: u32,
        attempt: u64,
    ) {
        m.attempts.inc();
        let active = self.leases.entry((job, task)).or_default();
        // A speculative copy of a running task was not waiting: no lease latency for it.
        if active.is_empty() {
            let ready = self
                .task_ready
                .remove(&(job, task))
                .or_else(|| self.job_ready.get(&job).copied());
            if let Some(ready) = ready {
                m.lease_latency
                    .observe(now_ms.saturating_sub(ready) as f64 / 1000.0);
            }
        }
        active.push((attempt, worker, now_ms));
        self.workers
            .entry(worker)
            .or_insert_with(|| Rate::new(now_ms));
        self.jobs.entry(job).or_insert_with(|| Rate::new(now_ms));
    }

    fn on_accept(
        &mut self,
        m: &Metrics,
        now_ms: u64,
        seen: Seen,
        job: JobId,
        task: u32,
        units: u64,
    ) {
        m.templates.inc_by(units);
        let leases = self.leases.remove(&(job, task)).unwrap_or_default();
        self.task_ready.remove(&(job, task));
        let Seen::Completed {
            worker, attempt, ..
        } = seen
        else {
            return;
        };
        if let Some((_, _, leased)) = leases.iter().find(|(a, _, _)| *a == attempt) {
            m.result_latency
                .observe(now_ms.saturating_sub(*leased) as f64 / 1000.0);
        }
        self.workers
            .entry(worker)
            .or_insert_with(|| Rate::new(now_ms))
            .add(now_ms, units);
        self.jobs
            .entry(job)
            .or_insert_with(|| Rate::new(now_ms))
            .add(now_ms, units);
    }

    /// Ends the leases of a task that `which` picks; a task left with none is ready again.
    fn end_lease(
        &mut self,
        now_ms: u64,
        job: JobId,
        task: u32,
        which: impl Fn(u64, WorkerId) -> bool,
    ) {
        let Some(active) = self.leases.get_mut(&(job, task)) else {
            return;
        };
        active.retain(|(a, w, _)| !which(*a, *w));
        if active.is_empty() {
            self.leases.remove(&(job, task));
            if self.job_ready.contains_key(&job) {
                self.task_ready.insert((job, task), now_ms);
            }
        }
    }

    fn end_worker(&mut self, now_ms: u64, worker: WorkerId) {
        self.workers.remove(&worker);
        let held: Vec<(JobId, u32)> = self
            .leases
            .iter()
            .filter(|(_, l)| l.iter().any(|(_, w, _)| *w == worker))
            .map(|(k, _)| *k)
            .collect();
        for (job, task) in held {
            self.end_lease(now_ms, job, task, |_, w| w == worker);
        }
    }

    fn forget_job(&mut self, job: JobId) {
        self.job_ready.remove(&job);
        self.jobs.remove(&job);
        self.task_ready.retain(|(j, _), _| *j != job);
        self.leases.retain(|(j, _), _| *j != job);
    }

    /// A worker's templates (× signals or segments) per second over the last 10 s.
    pub fn worker_rate(&self, worker: WorkerId, now_ms: u64) -> f64 {
        self.workers
            .get(&worker)
            .map_or(0.0, |r| r.per_second(now_ms))
    }

    /// A job's templates (× signals or segments) per second over the last 10 s.
    pub fn job_rate(&self, job: JobId, now_ms: u64) -> f64 {
        self.jobs.get(&job).map_or(0.0, |r| r.per_second(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(worker: u64, task: u32, attempt: u64) -> Action {
        Action::Lease {
            worker: WorkerId(worker),
            job: JobId(1),
            task,
            attempt,
            start: 0,
            count: 10,
            segments: (0, 0),
        }
    }

    /// A histogram's `_sum` and `_count` as exported.
    fn sum_count(m: &Metrics, name: &str) -> (f64, f64) {
        let text = m.encode();
        let value = |suffix: &str| -> f64 {
            let key = format!("chirpfarm_{name}_{suffix} ");
            let line = text.lines().find(|l| l.starts_with(&key)).expect(&key);
            line[key.len()..].trim().parse().expect("a number")
        };
        (value("sum"), value("count"))
    }

    #[test]
    fn latencies_run_from_ready_to_lease_and_from_lease_to_result() {
        let m = Metrics::new(false);
        let mut o = Observer::default();
        o.record(&m, 1000, Seen::JobReady(JobId(1)), &[], 0, false);
        o.record(&m, 1250, Seen::Other, &[lease(7, 0, 1)], 0, false);
        assert_eq!(m.attempts.get(), 1);
        let done = Seen::Completed {
            worker: WorkerId(7),
            job: JobId(1),
            task: 0,
            attempt: 1,
        };
        let accept = Action::Accept {
            job: JobId(1),
            task: 0,
        };
        o.record(&m, 3250, done, &[accept], 20, false);
        assert_eq!(m.templates.get(), 20);
        // 20 units in the 2 s since the worker's first lease.
        let rate = o.worker_rate(WorkerId(7), 3250);
        assert!((rate - 20.0 / 2.0).abs() < 1e-9, "{rate}");
        assert_eq!(sum_count(&m, "lease_latency_seconds"), (0.25, 1.0));
        assert_eq!(sum_count(&m, "result_latency_seconds"), (2.0, 1.0));
    }

    #[test]
    fn a_lost_lease_makes_its_task_ready_again_and_speculation_is_not_waiting() {
        let m = Metrics::new(false);
        let mut o = Observer::default();
        o.record(&m, 0, Seen::JobReady(JobId(1)), &[], 0, false);
        o.record(&m, 100, Seen::Other, &[lease(1, 0, 1)], 0, false);
        // A speculative copy while the first lease runs: no second latency sample.
        o.record(&m, 5000, Seen::Other, &[lease(2, 0, 2)], 0, false);
        assert_eq!(sum_count(&m, "lease_latency_seconds").1, 1.0);
        o.record(&m, 6000, Seen::WorkerLost(WorkerId(1)), &[], 0, false);
        o.record(&m, 6000, Seen::WorkerLost(WorkerId(2)), &[], 0, false);
        o.record(&m, 6500, Seen::Other, &[lease(3, 0, 3)], 0, false);
        let (sum, count) = sum_count(&m, "lease_latency_seconds");
        assert_eq!(count, 2.0);
        assert!((sum - (0.1 + 0.5)).abs() < 1e-9, "{sum}");
        let failed = Seen::Failed {
            job: JobId(1),
            task: 0,
            attempt: 3,
        };
        o.record(&m, 7000, failed, &[], 0, true);
        assert_eq!(m.failures.get(), 1);
        o.record(
            &m,
            8000,
            Seen::Other,
            &[Action::JobFinished {
                job: JobId(1),
                outcome: crate::scheduler::Outcome::Cancelled,
            }],
            0,
            false,
        );
        assert!(o.task_ready.is_empty() && o.leases.is_empty() && o.job_ready.is_empty());
    }
}
