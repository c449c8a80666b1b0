//! Fairness across jobs, in simulated time: workers run their leases for a fixed time per job,
//! give a credit back for each result, and the scheduler decides who gets the freed credit.

use super::*;
use std::collections::BTreeMap;

/// A toy farm: the scheduler, the clock and the leases each worker is running, with their end.
struct Farm {
    s: Scheduler,
    now: u64,
    /// (ends at ms, worker, job, task, attempt), one per running lease.
    running: Vec<(u64, WorkerId, JobId, u32, u64)>,
    /// Run time of one task of each job, ms.
    task_ms: BTreeMap<JobId, u64>,
    /// When each lease was handed out: (time, job).
    leased: Vec<(u64, JobId)>,
    finished: BTreeMap<JobId, u64>,
}

impl Farm {
    /// A farm with no workers yet.
    fn empty() -> Farm {
        Farm {
            s: Scheduler::new(Config {
                speculate: false,
                ..Config::default()
            }),
            now: 0,
            running: Vec::new(),
            task_ms: BTreeMap::new(),
            leased: Vec::new(),
            finished: BTreeMap::new(),
        }
    }

    /// A farm of `workers` workers granting `credits` each.
    fn new(workers: u64, credits: u32) -> Farm {
        let mut f = Farm::empty();
        f.join(workers, credits);
        f
    }

    /// Workers 1..=n join and grant `credits` each.
    fn join(&mut self, workers: u64, credits: u32) {
        for w in 1..=workers {
            self.apply(Event::WorkerJoined {
                worker: WorkerId(w),
                cache_capacity: 0,
                in_flight: vec![],
            });
            self.apply(Event::Credit {
                worker: WorkerId(w),
                credits,
            });
        }
    }

    fn apply(&mut self, e: Event) {
        for a in self.s.handle(self.now, e) {
            match a {
                Action::Lease {
                    worker,
                    job,
                    task,
                    attempt,
                    ..
                } => {
                    let ends = self.now + self.task_ms[&job];
                    self.running.push((ends, worker, job, task, attempt));
                    self.leased.push((self.now, job));
                }
                Action::JobFinished { job, .. } => {
                    self.finished.insert(job, self.now);
                }
                _ => {}
            }
        }
    }

    fn submit(&mut self, job: u64, tasks: u64, task_ms: u64) {
        self.task_ms.insert(JobId(job), task_ms);
        self.apply(Event::JobSubmitted {
            job: JobId(job),
            templates: tasks * 10,
            chunk: 10,
            bank_key: job,
            segments: SegmentGrid::NONE,
        });
    }

    /// Runs until `until` ms: each finished lease reports its result and grants one credit.
    fn run_until(&mut self, until: u64) {
        loop {
            self.running.sort();
            match self.running.first() {
                Some(&(ends, ..)) if ends <= until => {
                    let (ends, worker, job, task, attempt) = self.running.remove(0);
                    self.now = ends;
                    self.apply(Event::TaskCompleted {
                        worker,
                        job,
                        task,
                        attempt,
                    });
                    self.apply(Event::Credit { worker, credits: 1 });
                }
                _ => break,
            }
        }
        self.now = until;
    }

    /// Leases `job` holds now.
    fn holding(&self, job: u64) -> usize {
        self.running.iter().filter(|r| r.2 == JobId(job)).count()
    }

    /// When `job` got its first lease.
    fn first_lease(&self, job: u64) -> Option<u64> {
        self.leased
            .iter()
            .find(|(_, j)| *j == JobId(job))
            .map(|(t, _)| *t)
    }
}

#[test]
fn a_small_job_gets_the_next_freed_credit_behind_a_large_one() {
    // Two workers with two credits each, a large job of 1000 ms tasks holding all four.
    let mut f = Farm::new(2, 2);
    f.submit(1, 400, 1000);
    assert_eq!(f.holding(1), 4);
    // Stagger the large job's tasks so that credits free up at different times.
    f.run_until(1000);
    f.running.iter_mut().enumerate().for_each(|(i, r)| {
        if r.2 == JobId(1) {
            r.0 += 250 * i as u64;
        }
    });
    f.run_until(3100);
    assert_eq!(f.holding(1), 4, "the large job still holds every credit");
    let next_free = f.running.iter().map(|r| r.0).min().unwrap();
    // A small job of 8 tasks of 10 ms arrives.
    let submitted = f.now;
    f.submit(2, 8, 10);
    assert_eq!(f.first_lease(2), None, "no credit is free: it waits");
    f.run_until(next_free);
    assert_eq!(
        f.first_lease(2),
        Some(next_free),
        "the first freed credit goes to the small job"
    );
    // The bound: leased within one task time of the longest task running when it arrived.
    assert!(f.first_lease(2).unwrap() - submitted <= 1000);
    // It keeps getting credits (it holds fewer leases) and finishes long before the large job.
    f.run_until(submitted + 2000);
    let done = f
        .finished
        .get(&JobId(2))
        .copied()
        .expect("the small job finished");
    assert!(
        done - submitted <= 1100,
        "small job took {} ms",
        done - submitted
    );
    assert!(!f.finished.contains_key(&JobId(1)));
    // Once it is done, the large job has every credit again.
    assert_eq!(f.holding(1), 4);
}

#[test]
fn a_later_job_is_served_until_it_holds_its_share() {
    let mut f = Farm::new(1, 4);
    f.submit(1, 100, 1000);
    assert_eq!(f.holding(1), 4);
    f.run_until(500);
    f.submit(2, 100, 1000);
    // The large job's four tasks all end at 1000 ms: the newcomer (fewest leases) gets freed
    // credits until it holds as many as the large job, then they alternate.
    f.run_until(1000);
    assert_eq!((f.holding(1), f.holding(2)), (2, 2));
    let order: Vec<u64> = f.leased[4..].iter().map(|(_, j)| j.0).collect();
    assert_eq!(order, vec![2, 2, 1, 1]);
}

#[test]
fn two_equal_jobs_share_the_credits_evenly() {
    let mut f = Farm::empty();
    f.submit(1, 60, 100);
    f.submit(2, 60, 100);
    f.join(2, 3);
    assert_eq!((f.holding(1), f.holding(2)), (3, 3));
    let mut t = 0;
    while f.finished.len() < 2 && t < 100_000 {
        t += 10;
        f.run_until(t);
        if f.finished.is_empty() {
            let (a, b) = (f.holding(1), f.holding(2));
            assert!(a.abs_diff(b) <= 1, "at {t} ms: {a} vs {b} leases");
        }
    }
    let (d1, d2) = (f.finished[&JobId(1)], f.finished[&JobId(2)]);
    // 120 tasks of 100 ms on 6 credits: 2 s; both finish in the last round.
    assert!(d1.abs_diff(d2) <= 100, "job 1 at {d1} ms, job 2 at {d2} ms");
    assert_eq!(d1.max(d2), 2000);
}

#[test]
fn the_same_events_give_the_same_leases() {
    let run = || {
        let mut f = Farm::new(3, 2);
        f.submit(1, 50, 70);
        f.run_until(130);
        f.submit(2, 9, 20);
        f.submit(3, 30, 45);
        f.run_until(5000);
        (f.leased, f.finished)
    };
    assert_eq!(run(), run());
}
