//! Scheduler tests of recovery and returning workers: recovered jobs, re-attached leases (and
//! forged ones), speculative copies of stragglers, data jobs' task grid, credit caps, outcomes.

use super::tests::{join, leases, submit};
use super::*;

#[test]
fn recovered_jobs_run_only_their_missing_tasks() {
    let mut s = Scheduler::new(Config::default());
    s.handle(
        0,
        Event::JobRecovered {
            job: JobId(4),
            templates: 50,
            chunk: 10,
            bank_key: 1,
            segments: SegmentGrid::NONE,
            done: vec![0, 2, 3],
            attempt_base: 1000,
        },
    );
    let l = leases(&join(&mut s, 1, 5));
    assert_eq!(l.iter().map(|x| x.2).collect::<Vec<_>>(), vec![1, 4]);
    assert!(l.iter().all(|x| x.3 >= 1000));
    // A job recovered with every task done finishes at once.
    let out = s.handle(
        0,
        Event::JobRecovered {
            job: JobId(5),
            templates: 10,
            chunk: 10,
            bank_key: 1,
            segments: SegmentGrid::NONE,
            done: vec![0],
            attempt_base: 1,
        },
    );
    assert!(out.contains(&Action::JobFinished {
        job: JobId(5),
        outcome: Outcome::Succeeded
    }));
}

#[test]
fn a_returning_worker_reattaches_its_leases() {
    let mut s = Scheduler::new(Config::default());
    submit(&mut s, 1, 30, 10);
    let l = leases(&join(&mut s, 1, 2));
    s.handle(
        10,
        Event::WorkerLost {
            worker: WorkerId(1),
        },
    );
    // It comes back holding both leases; one task was meanwhile finished by worker 2.
    let l2 = leases(&join(&mut s, 2, 1));
    assert_eq!(l2[0].2, 0);
    s.handle(
        11,
        Event::TaskCompleted {
            worker: WorkerId(2),
            job: JobId(1),
            task: 0,
            attempt: l2[0].3,
        },
    );
    let out = s.handle(
        12,
        Event::WorkerJoined {
            worker: WorkerId(1),
            cache_capacity: 0,
            in_flight: l.iter().map(|x| (x.1, x.2, x.3)).collect(),
        },
    );
    // Task 0 is done: revoked. Task 1 is adopted: its old attempt is accepted.
    assert!(out.contains(&Action::Revoke {
        worker: WorkerId(1),
        job: JobId(1),
        task: 0,
        attempt: l[0].3
    }));
    let out = s.handle(
        13,
        Event::TaskCompleted {
            worker: WorkerId(1),
            job: JobId(1),
            task: 1,
            attempt: l[1].3,
        },
    );
    assert!(out.contains(&Action::Accept {
        job: JobId(1),
        task: 1
    }));
}

#[test]
fn stragglers_get_a_speculative_copy_and_the_first_result_wins() {
    let mut s = Scheduler::new(Config {
        heartbeat_timeout_ms: 1_000_000,
        speculate: true,
    });
    submit(&mut s, 1, 30, 10);
    join(&mut s, 1, 0);
    join(&mut s, 2, 0);
    // Worker 1 finishes task 0 in 100 ms; worker 2 takes task 1 and hangs; worker 1 takes 2.
    let a = leases(&s.handle(
        0,
        Event::Credit {
            worker: WorkerId(1),
            credits: 1,
        },
    ));
    s.handle(
        100,
        Event::TaskCompleted {
            worker: WorkerId(1),
            job: JobId(1),
            task: a[0].2,
            attempt: a[0].3,
        },
    );
    let b = leases(&s.handle(
        100,
        Event::Credit {
            worker: WorkerId(2),
            credits: 1,
        },
    ));
    let c = leases(&s.handle(
        100,
        Event::Credit {
            worker: WorkerId(1),
            credits: 1,
        },
    ));
    s.handle(
        200,
        Event::TaskCompleted {
            worker: WorkerId(1),
            job: JobId(1),
            task: c[0].2,
            attempt: c[0].3,
        },
    );
    // Idle worker 1 gets nothing before the straggler threshold (1 s minimum)...
    assert!(leases(&s.handle(
        500,
        Event::Credit {
            worker: WorkerId(1),
            credits: 1
        }
    ))
    .is_empty());
    // ...and a copy of worker 2's task after it.
    let copy = leases(&s.handle(
        1500,
        Event::Heartbeat {
            worker: WorkerId(1),
        },
    ));
    assert_eq!(copy.len(), 1);
    assert_eq!(copy[0].2, b[0].2);
    let out = s.handle(
        1600,
        Event::TaskCompleted {
            worker: WorkerId(1),
            job: JobId(1),
            task: copy[0].2,
            attempt: copy[0].3,
        },
    );
    assert!(out.contains(&Action::Accept {
        job: JobId(1),
        task: b[0].2
    }));
    assert!(out.contains(&Action::Revoke {
        worker: WorkerId(2),
        job: JobId(1),
        task: b[0].2,
        attempt: b[0].3
    }));
    // The straggler's late result is dropped.
    assert!(s
        .handle(
            1700,
            Event::TaskCompleted {
                worker: WorkerId(2),
                job: JobId(1),
                task: b[0].2,
                attempt: b[0].3
            }
        )
        .is_empty());
    assert_eq!(s.job_state(JobId(1)), Some(JobState::Succeeded));
}

#[test]
fn data_jobs_are_a_grid_of_segment_groups_by_bank_ranges() {
    let mut s = Scheduler::new(Config::default());
    // 25 templates in chunks of 10 (3 ranges) × 7 segments in groups of 3 (3 groups): 9 tasks.
    s.handle(
        0,
        Event::JobSubmitted {
            job: JobId(1),
            templates: 25,
            chunk: 10,
            bank_key: 7,
            segments: SegmentGrid {
                segments: 7,
                per_task: 3,
            },
        },
    );
    let a = join(&mut s, 1, 100);
    let got: Vec<(u32, u64, u32, (u32, u32))> = a
        .iter()
        .filter_map(|a| match a {
            Action::Lease {
                task,
                start,
                count,
                segments,
                ..
            } => Some((*task, *start, *count, *segments)),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 9);
    for (i, (task, start, count, seg)) in got.iter().enumerate() {
        assert_eq!(*task, i as u32, "group-major order");
        assert_eq!(*start, (i as u64 % 3) * 10);
        assert_eq!(*count, if i % 3 == 2 { 5 } else { 10 });
        let g = i as u32 / 3;
        assert_eq!(*seg, (g * 3, if g == 2 { 1 } else { 3 }));
        assert_eq!(s.task_segments(JobId(1), *task), Some(*seg));
    }
    // Every task accepted once finishes the job.
    let mut finished = false;
    for (task, ..) in got {
        let out = s.handle(
            1,
            Event::TaskCompleted {
                worker: WorkerId(1),
                job: JobId(1),
                task,
                attempt: task as u64 + 1,
            },
        );
        finished |= out.iter().any(|a| {
            matches!(
                a,
                Action::JobFinished {
                    outcome: Outcome::Succeeded,
                    ..
                }
            )
        });
    }
    assert!(finished);
}

#[test]
fn a_worker_cannot_reattach_leases_issued_to_another() {
    let mut s = Scheduler::new(Config::default());
    submit(&mut s, 1, 30, 10);
    let honest = leases(&join(&mut s, 1, 2));
    assert_eq!(honest.len(), 2);
    // A forger registers and claims the honest worker's leases (and guessed ones): every
    // claim is revoked, none adopted.
    let claims: Vec<(JobId, u32, u64)> = honest
        .iter()
        .map(|x| (x.1, x.2, x.3))
        .chain([(JobId(1), 2, 1), (JobId(1), 2, 3)])
        .collect();
    let out = s.handle(
        1,
        Event::WorkerJoined {
            worker: WorkerId(9),
            cache_capacity: 0,
            in_flight: claims.clone(),
        },
    );
    for (job, task, attempt) in &claims {
        assert!(out.contains(&Action::Revoke {
            worker: WorkerId(9),
            job: *job,
            task: *task,
            attempt: *attempt
        }));
    }
    // Its "results" for them are ignored; the honest worker's are accepted.
    for (job, task, attempt) in &claims {
        let out = s.handle(
            2,
            Event::TaskCompleted {
                worker: WorkerId(9),
                job: *job,
                task: *task,
                attempt: *attempt,
            },
        );
        assert!(!out.iter().any(|a| matches!(a, Action::Accept { .. })));
        let out = s.handle(
            2,
            Event::TaskFailed {
                worker: WorkerId(9),
                job: *job,
                task: *task,
                attempt: *attempt,
                reason: "forged".into(),
            },
        );
        assert!(!out.iter().any(|a| matches!(a, Action::JobFinished { .. })));
    }
    let out = s.handle(
        3,
        Event::TaskCompleted {
            worker: WorkerId(1),
            job: JobId(1),
            task: honest[0].2,
            attempt: honest[0].3,
        },
    );
    assert!(out.contains(&Action::Accept {
        job: JobId(1),
        task: honest[0].2
    }));
}

#[test]
fn a_returning_worker_reattaches_only_what_it_held() {
    let mut s = Scheduler::new(Config::default());
    submit(&mut s, 1, 30, 10);
    let l = leases(&join(&mut s, 1, 1));
    assert_eq!(l.len(), 1);
    s.handle(
        5,
        Event::WorkerLost {
            worker: WorkerId(1),
        },
    );
    // It lists its own lease and one it never had.
    let out = s.handle(
        6,
        Event::WorkerJoined {
            worker: WorkerId(1),
            cache_capacity: 0,
            in_flight: vec![(l[0].1, l[0].2, l[0].3), (JobId(1), 2, l[0].3)],
        },
    );
    assert!(out.contains(&Action::Revoke {
        worker: WorkerId(1),
        job: JobId(1),
        task: 2,
        attempt: l[0].3
    }));
    let out = s.handle(
        7,
        Event::TaskCompleted {
            worker: WorkerId(1),
            job: JobId(1),
            task: l[0].2,
            attempt: l[0].3,
        },
    );
    assert!(out.contains(&Action::Accept {
        job: JobId(1),
        task: l[0].2
    }));
}

#[test]
fn credits_are_capped_per_worker() {
    let mut s = Scheduler::new(Config::default());
    submit(&mut s, 1, 1_000_000, 1);
    let greedy = leases(&join(&mut s, 1, u32::MAX));
    assert_eq!(greedy.len(), MAX_OUTSTANDING as usize);
    // More credits while holding the cap add nothing.
    let more = s.handle(
        1,
        Event::Credit {
            worker: WorkerId(1),
            credits: u32::MAX,
        },
    );
    assert!(leases(&more).is_empty());
    // Another worker is still served.
    assert_eq!(leases(&join(&mut s, 2, 2)).len(), 2);
}

#[test]
fn the_scheduler_is_the_one_place_a_jobs_outcome_lives() {
    let mut s = Scheduler::new(Config::default());
    // A job restored as already ended: kept with its outcome, nothing to do.
    let out = s.handle(
        0,
        Event::JobEnded {
            job: JobId(4),
            outcome: Outcome::Failed("task 2 failed 3 times".into()),
        },
    );
    assert!(out.is_empty());
    assert_eq!(s.job_state(JobId(4)), Some(JobState::Failed));
    assert_eq!(
        s.job_outcome(JobId(4)),
        Some(&Outcome::Failed("task 2 failed 3 times".into()))
    );
    assert!(s.handle(1, Event::CancelJob { job: JobId(4) }).is_empty());
    // A live job's outcome appears when it ends, with the action that reports it.
    submit(&mut s, 1, 20, 10);
    assert!(s.job_outcome(JobId(1)).is_none() && !s.job_ended(JobId(1)));
    let out = s.handle(2, Event::CancelJob { job: JobId(1) });
    assert!(out.contains(&Action::JobFinished {
        job: JobId(1),
        outcome: Outcome::Cancelled
    }));
    assert_eq!(s.job_outcome(JobId(1)), Some(&Outcome::Cancelled));
    s.forget_job(JobId(4));
    assert!(s.job_state(JobId(4)).is_none());
}
