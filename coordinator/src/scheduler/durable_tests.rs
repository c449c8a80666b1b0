//! Scheduler tests of the storing step (a shell with a journal): a task is done only once its
//! result is reported stored; a failed write takes the task back and pauses the job.

use super::*;

fn durable() -> Scheduler {
    Scheduler::new(Config::default()).with_store_acks()
}

fn submit(s: &mut Scheduler, templates: u64, chunk: u32) {
    s.handle(
        0,
        Event::JobSubmitted {
            job: JobId(1),
            templates,
            chunk,
            bank_key: 7,
            segments: SegmentGrid::NONE,
        },
    );
}

fn join(s: &mut Scheduler, w: u64, credits: u32) -> Vec<Action> {
    s.handle(
        0,
        Event::WorkerJoined {
            worker: WorkerId(w),
            cache_capacity: 0,
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

fn leases(actions: &[Action]) -> Vec<(WorkerId, u32, u64)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Lease {
                worker,
                task,
                attempt,
                ..
            } => Some((*worker, *task, *attempt)),
            _ => None,
        })
        .collect()
}

fn complete(s: &mut Scheduler, (w, task, attempt): (WorkerId, u32, u64)) -> Vec<Action> {
    s.handle(
        1,
        Event::TaskCompleted {
            worker: w,
            job: JobId(1),
            task,
            attempt,
        },
    )
}

fn finished(actions: &[Action]) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::JobFinished { .. }))
}

#[test]
fn a_job_succeeds_only_when_every_result_is_stored() {
    let mut s = durable();
    submit(&mut s, 20, 10);
    let l = leases(&join(&mut s, 1, 2));
    for &x in &l {
        let out = complete(&mut s, x);
        assert!(out.contains(&Action::Accept {
            job: JobId(1),
            task: x.1
        }));
        assert!(!finished(&out), "accepted is not stored");
    }
    assert_eq!(s.job_counts(JobId(1)).unwrap().0, 0, "nothing stored yet");
    assert_eq!(s.storing(), 2);
    let out = s.handle(
        2,
        Event::TaskStored {
            job: JobId(1),
            task: 0,
        },
    );
    assert!(!finished(&out));
    let out = s.handle(
        2,
        Event::TaskStored {
            job: JobId(1),
            task: 1,
        },
    );
    assert!(out.contains(&Action::JobFinished {
        job: JobId(1),
        outcome: Outcome::Succeeded
    }));
    assert_eq!(s.storing(), 0);
    // A late duplicate report changes nothing.
    let again = s.handle(
        3,
        Event::TaskStored {
            job: JobId(1),
            task: 1,
        },
    );
    assert!(again.is_empty());
}

#[test]
fn a_failed_write_pauses_the_job_and_requeues_the_task_without_counting_a_failure() {
    let mut s = durable();
    submit(&mut s, 30, 10);
    let l = leases(&join(&mut s, 1, 2)); // tasks 0 and 1; task 2 pending
    assert_eq!(l.len(), 2);
    complete(&mut s, l[0]);
    let out = s.handle(
        2,
        Event::StoreFailed {
            job: JobId(1),
            task: 0,
        },
    );
    assert!(leases(&out).is_empty());
    assert!(s.job_paused(JobId(1)));
    // Paused: credits lead to no lease, and a result arriving now is not taken.
    let out = s.handle(
        3,
        Event::Credit {
            worker: WorkerId(1),
            credits: 5,
        },
    );
    assert!(leases(&out).is_empty(), "no leases while paused");
    let out = complete(&mut s, l[1]);
    assert!(
        !out.iter().any(|a| matches!(a, Action::Accept { .. })),
        "no results while paused"
    );
    let (done, _, _, failures) = s.job_counts(JobId(1)).unwrap();
    assert_eq!(
        (done, failures),
        (0, 0),
        "a journal error is not a task failure"
    );
    // Writes work again: every task is leased again, and the job can succeed.
    let out = s.handle(4, Event::StoreResumed { job: JobId(1) });
    let l = leases(&out);
    let mut tasks: Vec<u32> = l.iter().map(|x| x.1).collect();
    tasks.sort();
    assert_eq!(tasks, vec![0, 1, 2]);
    let mut last = Vec::new();
    for x in l {
        complete(&mut s, x);
        last = s.handle(
            5,
            Event::TaskStored {
                job: JobId(1),
                task: x.1,
            },
        );
    }
    assert!(finished(&last));
    assert_eq!(s.job_state(JobId(1)), Some(JobState::Succeeded));
}

#[test]
fn a_cancelled_job_absorbs_late_store_reports() {
    let mut s = durable();
    submit(&mut s, 20, 10);
    let l = leases(&join(&mut s, 1, 2));
    complete(&mut s, l[0]);
    let out = s.handle(1, Event::CancelJob { job: JobId(1) });
    assert!(out.contains(&Action::JobFinished {
        job: JobId(1),
        outcome: Outcome::Cancelled
    }));
    let out = s.handle(
        2,
        Event::TaskStored {
            job: JobId(1),
            task: 0,
        },
    );
    assert!(out.is_empty());
    assert_eq!(s.storing(), 0);
    assert_eq!(s.job_state(JobId(1)), Some(JobState::Cancelled));
}

#[test]
fn a_lost_worker_does_not_take_back_a_task_being_stored() {
    let mut s = durable();
    submit(&mut s, 20, 10);
    let l = leases(&join(&mut s, 1, 2));
    complete(&mut s, l[0]);
    s.handle(
        1,
        Event::WorkerLost {
            worker: WorkerId(1),
        },
    );
    let l2 = leases(&join(&mut s, 2, 5));
    assert_eq!(
        l2.iter().map(|x| x.1).collect::<Vec<_>>(),
        vec![1],
        "task 0 is being stored, only task 1 runs again"
    );
}

#[test]
fn job_ids_print_and_parse_strictly() {
    assert_eq!(JobId::new(0, 7).to_string(), "job-7");
    let tagged = JobId::new(JobId::MIN_TAG, 12);
    assert_eq!(tagged.to_string(), "job-a000-12");
    assert_eq!(JobId::parse("job-a000-12"), Some(tagged));
    assert_eq!(JobId::parse("job-7"), Some(JobId::new(0, 7)));
    let top = JobId::new(JobId::MAX_TAG - 1, 1);
    assert_eq!(top.to_string(), "job-zzzz-1");
    assert_eq!(JobId::parse(&top.to_string()), Some(top));
    for bad in [
        "job-",
        "job-0",
        "job-07",
        "job-+7",
        "job--7",
        "job-7-",
        "job-A000-1",
        "job-0abc-1",
        "job-abcde-1",
        "job-abc-1",
        "7",
        "job-1 ",
        "job-a000-0",
        "job-99999999999999",
    ] {
        assert_eq!(JobId::parse(bad), None, "{bad:?}");
    }
    assert_ne!(
        JobId::new(JobId::MIN_TAG, 1),
        JobId::new(JobId::MIN_TAG + 1, 1)
    );
}

/// Random orders of completions, store reports (success and failure), resumes and lost
/// workers: a task is accepted again only after its write failed, a job succeeds exactly once
/// and only with every task stored, and a paused job leases nothing.
#[test]
fn random_store_outcomes_keep_the_invariants() {
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeSet;
    for seed in 0..300u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut s = durable();
        let tasks = rng.gen_range(1..12u32);
        submit(&mut s, tasks as u64 * 10, 10);
        let mut out = Vec::new();
        for w in 1..=3 {
            let worker = WorkerId(w);
            let joined = Event::WorkerJoined {
                worker,
                cache_capacity: 0,
                in_flight: vec![],
            };
            out.extend(s.handle(0, joined));
            let credits = rng.gen_range(1..3);
            out.extend(s.handle(0, Event::Credit { worker, credits }));
        }
        let (mut leased, mut storing, mut stored) = (Vec::new(), BTreeSet::new(), BTreeSet::new());
        let mut succeeded = 0;
        for step in 0..2000u64 {
            for a in out.drain(..) {
                match a {
                    Action::Lease {
                        worker,
                        task,
                        attempt,
                        ..
                    } => {
                        assert!(!s.job_paused(JobId(1)), "seed {seed}: leased while paused");
                        leased.push((worker, task, attempt));
                    }
                    Action::Accept { task, .. } => {
                        assert!(
                            !storing.contains(&task) && !stored.contains(&task),
                            "seed {seed}: task {task} accepted twice"
                        );
                        storing.insert(task);
                    }
                    Action::JobFinished { outcome, .. } => {
                        assert_eq!(outcome, Outcome::Succeeded);
                        assert_eq!(stored.len() as u32, tasks, "seed {seed}: holes");
                        succeeded += 1;
                    }
                    _ => {}
                }
            }
            if succeeded > 0 {
                break;
            }
            let job = JobId(1);
            let draining = step > 1500; // no more failures: let it finish
            let e = match rng.gen_range(0..10) {
                0..=3 if !leased.is_empty() => {
                    let (worker, task, attempt) =
                        leased.swap_remove(rng.gen_range(0..leased.len()));
                    Event::TaskCompleted {
                        worker,
                        job,
                        task,
                        attempt,
                    }
                }
                4..=5 if !storing.is_empty() => {
                    let task = *storing.iter().next().unwrap();
                    storing.remove(&task);
                    stored.insert(task);
                    Event::TaskStored { job, task }
                }
                6 if !storing.is_empty() && !draining => {
                    let task = *storing.iter().next_back().unwrap();
                    storing.remove(&task);
                    Event::StoreFailed { job, task }
                }
                7 => Event::StoreResumed { job },
                8 if !draining => {
                    let worker = WorkerId(rng.gen_range(1..=3));
                    leased.retain(|l| l.0 != worker);
                    out.extend(s.handle(step, Event::WorkerLost { worker }));
                    out.extend(s.handle(
                        step,
                        Event::WorkerJoined {
                            worker,
                            cache_capacity: 0,
                            in_flight: vec![],
                        },
                    ));
                    Event::Credit { worker, credits: 2 }
                }
                _ => Event::Credit {
                    worker: WorkerId(rng.gen_range(1..=3)),
                    credits: 1,
                },
            };
            out.extend(s.handle(step, e));
        }
        if succeeded != 1 {
            let j = &s.jobs[&JobId(1)];
            panic!(
                "seed {seed}: not finished: tasks {:?} paused {} pending {:?} storing {:?} stored {:?} leased {:?} workers {:?}",
                j.tasks.iter().map(|t| (t.state, t.leases.clone())).collect::<Vec<_>>(),
                j.paused, j.pending, storing, stored, leased, s.worker_counts()
            );
        }
    }
}
