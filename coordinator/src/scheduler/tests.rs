//! Scheduler tests: no sockets, no clocks — events in, actions out.

use super::*;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};

fn submit(s: &mut Scheduler, job: u64, templates: u64, chunk: u32) -> Vec<Action> {
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

fn join(s: &mut Scheduler, w: u64, credits: u32) -> Vec<Action> {
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

fn leases(actions: &[Action]) -> Vec<(WorkerId, JobId, u32, u64)> {
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

/// Thousands of random event orders — registrations, credits, results, duplicates, late
/// results, lost workers, heartbeat expiry, coordinator restarts from the persisted state —
/// every task's result is accepted exactly once, the credit rule is never broken, and every job
/// ends.
#[test]
fn random_event_orders_keep_the_invariants() {
    let restarts: u64 = (0..2000u64).map(run_random).sum();
    assert!(
        restarts > 1000,
        "the random orders include coordinator restarts ({restarts})"
    );
}

/// One random run; returns how many coordinator restarts it simulated.
fn run_random(seed: u64) -> u64 {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut s = Scheduler::new(Config {
        heartbeat_timeout_ms: 50,
        speculate: seed.is_multiple_of(2),
    });
    let mut now = 0u64;
    let mut accepted: HashSet<(JobId, u32)> = HashSet::new();
    let mut finished: HashMap<JobId, Outcome> = HashMap::new();
    let mut tasks_of: HashMap<JobId, u32> = HashMap::new();
    let mut templates_of: HashMap<JobId, u64> = HashMap::new();
    let mut chunk_of: HashMap<JobId, u32> = HashMap::new();
    let mut restarts = 0u64;
    // Outstanding leases per live worker, and credits granted minus leases received.
    let mut held: HashMap<WorkerId, Vec<(JobId, u32, u64)>> = HashMap::new();
    let mut balance: HashMap<WorkerId, i64> = HashMap::new();
    let mut stale: Vec<(WorkerId, JobId, u32, u64)> = Vec::new();
    let mut next_worker = 0u64;
    let n_jobs = rng.gen_range(1..4);
    let apply = |s: &mut Scheduler,
                 now: u64,
                 e: Event,
                 held: &mut HashMap<WorkerId, Vec<(JobId, u32, u64)>>,
                 balance: &mut HashMap<WorkerId, i64>,
                 accepted: &mut HashSet<(JobId, u32)>,
                 finished: &mut HashMap<JobId, Outcome>,
                 completing: Option<(JobId, u32)>| {
        for a in s.handle(now, e) {
            match a {
                Action::Lease {
                    worker,
                    job,
                    task,
                    attempt,
                    ..
                } => {
                    let b = balance.entry(worker).or_insert(0);
                    *b -= 1;
                    assert!(*b >= 0, "seed {seed}: lease beyond credit");
                    held.entry(worker).or_default().push((job, task, attempt));
                }
                Action::Accept { job, task } => {
                    assert_eq!(
                        completing,
                        Some((job, task)),
                        "seed {seed}: accept of another task"
                    );
                    assert!(accepted.insert((job, task)), "seed {seed}: accepted twice");
                }
                Action::JobFinished { job, outcome } => {
                    assert!(
                        finished.insert(job, outcome).is_none(),
                        "seed {seed}: finished twice"
                    );
                }
                Action::DropWorker { worker } => {
                    held.remove(&worker);
                    balance.remove(&worker);
                }
                Action::Revoke { .. } | Action::SendJob { .. } => {}
            }
        }
    };
    for j in 0..n_jobs {
        let templates: u64 = rng.gen_range(1..200);
        let chunk = rng.gen_range(1..40);
        tasks_of.insert(JobId(j), templates.div_ceil(chunk as u64) as u32);
        templates_of.insert(JobId(j), templates);
        chunk_of.insert(JobId(j), chunk);
        apply(
            &mut s,
            now,
            Event::JobSubmitted {
                job: JobId(j),
                templates,
                chunk,
                bank_key: 1,
                segments: SegmentGrid::NONE,
            },
            &mut held,
            &mut balance,
            &mut accepted,
            &mut finished,
            None,
        );
    }
    for step in 0..400 {
        now += rng.gen_range(0..20);
        let live: Vec<WorkerId> = held.keys().copied().collect();
        let pick = rng.gen_range(0..100);
        let draining = step > 300;
        if live.is_empty() || (pick < 8 && !draining) {
            let w = WorkerId(next_worker);
            next_worker += 1;
            held.insert(w, Vec::new());
            balance.insert(w, 0);
            apply(
                &mut s,
                now,
                Event::WorkerJoined {
                    worker: w,
                    cache_capacity: 64,
                    in_flight: vec![],
                },
                &mut held,
                &mut balance,
                &mut accepted,
                &mut finished,
                None,
            );
            continue;
        }
        let w = live[rng.gen_range(0..live.len())];
        if pick < 30 {
            let c = rng.gen_range(1..4);
            *balance.get_mut(&w).unwrap() += c as i64;
            apply(
                &mut s,
                now,
                Event::Credit {
                    worker: w,
                    credits: c,
                },
                &mut held,
                &mut balance,
                &mut accepted,
                &mut finished,
                None,
            );
        } else if pick < 75 {
            let list = held.get_mut(&w).unwrap();
            if list.is_empty() {
                apply(
                    &mut s,
                    now,
                    Event::Heartbeat { worker: w },
                    &mut held,
                    &mut balance,
                    &mut accepted,
                    &mut finished,
                    None,
                );
                continue;
            }
            let (job, task, attempt) = list.remove(rng.gen_range(0..list.len()));
            let e = Event::TaskCompleted {
                worker: w,
                job,
                task,
                attempt,
            };
            if rng.gen_bool(0.1) {
                stale.push((w, job, task, attempt));
            }
            apply(
                &mut s,
                now,
                e,
                &mut held,
                &mut balance,
                &mut accepted,
                &mut finished,
                Some((job, task)),
            );
        } else if pick < 80 && !stale.is_empty() {
            // A duplicate or late result from an old attempt.
            let (w, job, task, attempt) = stale.swap_remove(rng.gen_range(0..stale.len()));
            apply(
                &mut s,
                now,
                Event::TaskCompleted {
                    worker: w,
                    job,
                    task,
                    attempt,
                },
                &mut held,
                &mut balance,
                &mut accepted,
                &mut finished,
                Some((job, task)),
            );
        } else if pick == 99 && !draining {
            // Coordinator restart from the persisted state: accepted results survive, jobs are
            // recovered, and live workers re-attach with the leases they hold.
            restarts += 1;
            s = Scheduler::new(Config {
                heartbeat_timeout_ms: 50,
                speculate: seed.is_multiple_of(2),
            });
            for (job, n) in &tasks_of {
                if finished.contains_key(job) {
                    continue;
                }
                let done: Vec<u32> = (0..*n).filter(|t| accepted.contains(&(*job, *t))).collect();
                let e = Event::JobRecovered {
                    job: *job,
                    templates: templates_of[job],
                    chunk: chunk_of[job],
                    bank_key: 1,
                    segments: SegmentGrid::NONE,
                    done,
                    attempt_base: restarts * 1_000_000,
                };
                // A job recovered with every result stored finishes here.
                apply(
                    &mut s,
                    now,
                    e,
                    &mut held,
                    &mut balance,
                    &mut accepted,
                    &mut finished,
                    None,
                );
            }
            let workers: Vec<WorkerId> = held.keys().copied().collect();
            for w in workers {
                balance.insert(w, 0);
                let in_flight = held[&w].clone();
                apply(
                    &mut s,
                    now,
                    Event::WorkerJoined {
                        worker: w,
                        cache_capacity: 64,
                        in_flight,
                    },
                    &mut held,
                    &mut balance,
                    &mut accepted,
                    &mut finished,
                    None,
                );
            }
        } else if pick < 86 && !draining {
            held.remove(&w);
            balance.remove(&w);
            apply(
                &mut s,
                now,
                Event::WorkerLost { worker: w },
                &mut held,
                &mut balance,
                &mut accepted,
                &mut finished,
                None,
            );
        } else {
            apply(
                &mut s,
                now,
                Event::Heartbeat { worker: w },
                &mut held,
                &mut balance,
                &mut accepted,
                &mut finished,
                None,
            );
            if rng.gen_bool(0.2) && !draining {
                apply(
                    &mut s,
                    now + 100,
                    Event::Tick,
                    &mut held,
                    &mut balance,
                    &mut accepted,
                    &mut finished,
                    None,
                );
            }
        }
    }
    // Drain: one steady worker finishes everything that is left.
    let w = WorkerId(next_worker);
    held.insert(w, Vec::new());
    balance.insert(w, 0);
    now += 1000;
    apply(
        &mut s,
        now,
        Event::Tick,
        &mut held,
        &mut balance,
        &mut accepted,
        &mut finished,
        None,
    );
    apply(
        &mut s,
        now,
        Event::WorkerJoined {
            worker: w,
            cache_capacity: 0,
            in_flight: vec![],
        },
        &mut held,
        &mut balance,
        &mut accepted,
        &mut finished,
        None,
    );
    for _ in 0..10_000 {
        if finished.len() == n_jobs as usize {
            break;
        }
        *balance.get_mut(&w).unwrap() += 1;
        apply(
            &mut s,
            now,
            Event::Credit {
                worker: w,
                credits: 1,
            },
            &mut held,
            &mut balance,
            &mut accepted,
            &mut finished,
            None,
        );
        let list = held.get_mut(&w).unwrap();
        if let Some((job, task, attempt)) = list.pop() {
            apply(
                &mut s,
                now,
                Event::TaskCompleted {
                    worker: w,
                    job,
                    task,
                    attempt,
                },
                &mut held,
                &mut balance,
                &mut accepted,
                &mut finished,
                Some((job, task)),
            );
        }
    }
    assert_eq!(
        finished.len(),
        n_jobs as usize,
        "seed {seed}: a job never ended"
    );
    for (job, outcome) in &finished {
        assert_eq!(*outcome, Outcome::Succeeded, "seed {seed}");
        let n = tasks_of[job];
        for t in 0..n {
            assert!(
                accepted.contains(&(*job, t)),
                "seed {seed}: task {t} of {job} missing"
            );
        }
    }
    restarts
}

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
