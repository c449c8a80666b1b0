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
