//! Scheduler tests: no sockets, no clocks — events in, actions out. The basic rules (credits,
//! bank order, failures, cancellation, affinity) and the helpers the other test files share;
//! [`super::random_tests`]: random event orders; [`super::reattach_tests`]: recovery,
//! re-attachment, stragglers, data grids.

use super::*;
use std::collections::HashMap;

/// Submits job `job` of `templates` in tasks of `chunk`, at time 0.
pub(super) fn submit(s: &mut Scheduler, job: u64, templates: u64, chunk: u32) -> Vec<Action> {
    s.handle(
        0,
        Event::JobSubmitted {
            job: JobId(job),
            templates,
            chunk,
            bank_key: 7,
            segments: SegmentGrid::NONE,
        },
    )
}

/// Registers worker `w` and grants it `credits`, at time 0.
pub(super) fn join(s: &mut Scheduler, w: u64, credits: u32) -> Vec<Action> {
    s.handle(
        0,
        Event::WorkerJoined {
            worker: WorkerId(w),
            cache_capacity: 1000,
            in_flight: vec![],
        },
    );
    s.handle(
        0,
        Event::Credit {
            worker: WorkerId(w),
            credits,
        },
    )
}

/// The leases among `actions`: (worker, job, task, attempt).
pub(super) fn leases(actions: &[Action]) -> Vec<(WorkerId, JobId, u32, u64)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Lease {
                worker,
                job,
                task,
                attempt,
                ..
            } => Some((*worker, *job, *task, *attempt)),
            _ => None,
        })
        .collect()
}

#[test]
fn leases_respect_credits_and_bank_order() {
    let mut s = Scheduler::new(Config::default());
    submit(&mut s, 1, 100, 10);
    let a = join(&mut s, 1, 3);
    assert_eq!(
        a[0],
        Action::SendJob {
            worker: WorkerId(1),
            job: JobId(1)
        }
    );
    let l = leases(&a);
    assert_eq!(l.len(), 3, "never more than the credits");
    assert_eq!(l.iter().map(|x| x.2).collect::<Vec<_>>(), vec![0, 1, 2]);
    let a = s.handle(
        1,
        Event::Heartbeat {
            worker: WorkerId(1),
        },
    );
    assert!(leases(&a).is_empty(), "no credit, no lease");
}

#[test]
fn job_finishes_once_all_tasks_accepted_and_duplicates_dropped() {
    let mut s = Scheduler::new(Config::default());
    submit(&mut s, 1, 25, 10);
    let l = leases(&join(&mut s, 1, 5));
    assert_eq!(l.len(), 3);
    let mut finished = 0;
    for &(w, j, t, a) in &l {
        let out = s.handle(
            1,
            Event::TaskCompleted {
                worker: w,
                job: j,
                task: t,
                attempt: a,
            },
        );
        assert!(out.contains(&Action::Accept { job: j, task: t }));
        finished += out
            .iter()
            .filter(|x| matches!(x, Action::JobFinished { .. }))
            .count();
        // The same result again is ignored.
        let dup = s.handle(
            1,
            Event::TaskCompleted {
                worker: w,
                job: j,
                task: t,
                attempt: a,
            },
        );
        assert!(dup.is_empty());
    }
    assert_eq!(finished, 1);
    assert_eq!(s.job_state(JobId(1)), Some(JobState::Succeeded));
}

#[test]
fn lost_worker_leases_go_to_others_and_late_results_are_dropped() {
    let mut s = Scheduler::new(Config::default());
    submit(&mut s, 1, 20, 10);
    let l1 = leases(&join(&mut s, 1, 2));
    assert_eq!(l1.len(), 2);
    join(&mut s, 2, 0);
    s.handle(
        5,
        Event::WorkerLost {
            worker: WorkerId(1),
        },
    );
    let l2 = leases(&s.handle(
        6,
        Event::Credit {
            worker: WorkerId(2),
            credits: 2,
        },
    ));
    assert_eq!(l2.len(), 2);
    assert!(l2.iter().all(|x| x.0 == WorkerId(2)));
    assert!(
        l2.iter().zip(&l1).all(|(b, a)| b.3 != a.3),
        "fresh attempt ids"
    );
    // A late result from worker 1's expired attempt changes nothing.
    let (w, j, t, a) = l1[0];
    assert!(s
        .handle(
            7,
            Event::TaskCompleted {
                worker: w,
                job: j,
                task: t,
                attempt: a
            }
        )
        .is_empty());
}

#[test]
fn heartbeat_timeout_drops_worker() {
    let mut s = Scheduler::new(Config {
        heartbeat_timeout_ms: 100,
        speculate: false,
    });
    submit(&mut s, 1, 10, 10);
    join(&mut s, 1, 1);
    assert!(s.handle(50, Event::Tick).is_empty());
    let out = s.handle(200, Event::Tick);
    assert!(out.contains(&Action::DropWorker {
        worker: WorkerId(1)
    }));
    assert_eq!(s.worker_count(), 0);
    let l = leases(&join(&mut s, 2, 1));
    assert_eq!(l.len(), 1, "the dropped worker's task is leased again");
}

#[test]
fn three_failures_fail_the_job_with_the_range() {
    let mut s = Scheduler::new(Config::default());
    submit(&mut s, 1, 30, 10);
    join(&mut s, 1, 0);
    join(&mut s, 2, 0);
    let mut fails = 0;
    let mut outcome = None;
    for step in 0..20 {
        let w = WorkerId(1 + step % 2);
        let out = s.handle(
            step,
            Event::Credit {
                worker: w,
                credits: 1,
            },
        );
        for (w, j, t, a) in leases(&out) {
            let out = if t == 1 {
                fails += 1;
                s.handle(
                    step,
                    Event::TaskFailed {
                        worker: w,
                        job: j,
                        task: t,
                        attempt: a,
                        reason: "boom".into(),
                    },
                )
            } else {
                s.handle(
                    step,
                    Event::TaskCompleted {
                        worker: w,
                        job: j,
                        task: t,
                        attempt: a,
                    },
                )
            };
            for a in out {
                if let Action::JobFinished { outcome: o, .. } = a {
                    outcome = Some(o);
                }
            }
        }
        if outcome.is_some() {
            break;
        }
    }
    assert_eq!(fails, 3);
    match outcome {
        Some(Outcome::Failed(msg)) => {
            assert!(msg.contains("templates 10..20"), "{msg}");
            assert!(msg.contains("boom"), "{msg}");
        }
        other => panic!("expected failure, got {other:?}"),
    }
}

#[test]
fn jobs_are_served_round_robin() {
    let mut s = Scheduler::new(Config::default());
    submit(&mut s, 1, 100, 10);
    submit(&mut s, 2, 100, 10);
    let l = leases(&join(&mut s, 1, 4));
    let jobs: Vec<u64> = l.iter().map(|x| x.1 .0).collect();
    assert_eq!(jobs, vec![1, 2, 1, 2]);
}

#[test]
fn cancel_revokes_leases() {
    let mut s = Scheduler::new(Config::default());
    submit(&mut s, 1, 100, 10);
    join(&mut s, 1, 2);
    let out = s.handle(1, Event::CancelJob { job: JobId(1) });
    assert_eq!(
        out.iter()
            .filter(|a| matches!(a, Action::Revoke { .. }))
            .count(),
        2
    );
    assert!(out.contains(&Action::JobFinished {
        job: JobId(1),
        outcome: Outcome::Cancelled
    }));
}

#[test]
fn affinity_gives_a_worker_the_ranges_it_computed() {
    let mut s = Scheduler::new(Config::default());
    submit(&mut s, 1, 64, 16);
    join(&mut s, 1, 0);
    join(&mut s, 2, 0);
    // Worker 1 computes tasks 0 and 1, worker 2 tasks 2 and 3.
    let mut owner = HashMap::new();
    for w in [1u64, 2] {
        let l = leases(&s.handle(
            1,
            Event::Credit {
                worker: WorkerId(w),
                credits: 2,
            },
        ));
        for (wk, j, t, a) in l {
            owner.insert(t, wk);
            s.handle(
                2,
                Event::TaskCompleted {
                    worker: wk,
                    job: j,
                    task: t,
                    attempt: a,
                },
            );
        }
    }
    // A second job over the same bank: worker 2 asks first and must get its own ranges.
    submit(&mut s, 2, 64, 16);
    let l = leases(&s.handle(
        3,
        Event::Credit {
            worker: WorkerId(2),
            credits: 2,
        },
    ));
    for (wk, _, t, _) in &l {
        assert_eq!(
            owner[t], *wk,
            "task {t} went to a worker without its templates"
        );
    }
}
