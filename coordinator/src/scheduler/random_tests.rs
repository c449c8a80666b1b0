//! Thousands of random event orders against the scheduler's invariants (no sockets, no clocks).

use super::*;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};

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
