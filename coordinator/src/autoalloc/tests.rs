//! The allocation machine without I/O: grow, shrink, failures and back-off, against a clock
//! the test moves; and the parsers and script against literal Slurm output.

use super::machine::{Action, AutoAlloc, Load, Tunables};
use super::script::{self, WorkerLaunch};
use super::slurm::{parse_sbatch, parse_squeue};
use super::{worker_name, JobStatus, QueueParams, SlurmState};

fn params(max_workers: u32) -> QueueParams {
    QueueParams {
        max_workers,
        partition: None,
        time_limit_s: 3600,
        worker_args: vec![],
        idle_timeout_ms: 10_000,
        cpus: 0,
    }
}

fn tunables() -> Tunables {
    Tunables {
        queue_timeout_ms: 60_000,
        start_timeout_ms: 30_000,
        backoff_base_ms: 1_000,
        backoff_max_ms: 8_000,
        max_failures: 4,
        poll_ms: 2_000,
    }
}

fn load(pending: u64, workers: &[(&str, u32)]) -> Load {
    Load {
        pending_tasks: pending,
        workers: workers.iter().map(|(n, l)| (n.to_string(), *l)).collect(),
    }
}

fn submits(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Submit { .. }))
        .count()
}

fn cancels(actions: &[Action]) -> Vec<(String, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Cancel { job, drain, .. } => Some((job.clone(), *drain)),
            _ => None,
        })
        .collect()
}

fn status(job: &str, state: &str) -> JobStatus {
    JobStatus {
        job: job.into(),
        state: SlurmState::parse(state),
        reason: String::new(),
    }
}

/// Submits jobs one at a time (answering each sbatch) until the machine stops asking; returns
/// the ids given.
fn grow(m: &mut AutoAlloc, now: u64, l: &Load, first_id: u32) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let a = m.tick(now, l);
        if submits(&a) == 0 {
            return ids;
        }
        assert_eq!(submits(&a), 1, "one sbatch in flight per queue");
        let id = (first_id + ids.len() as u32).to_string();
        m.submitted(now, 1, Ok(id.clone()));
        ids.push(id);
        assert!(ids.len() < 100, "runaway submissions");
    }
}

#[test]
fn grows_to_max_workers_while_tasks_wait_and_not_beyond() {
    let mut m = AutoAlloc::new(tunables());
    m.add_queue(params(3));
    // 10 tasks pending, nobody registered: 3 jobs (the queue's maximum), one sbatch at a time.
    let ids = grow(&mut m, 0, &load(10, &[]), 100);
    assert_eq!(ids, ["100", "101", "102"]);
    // Nothing is submitted while they start, however long the tasks wait.
    assert_eq!(submits(&m.tick(5_000, &load(10, &[]))), 0);
}

#[test]
fn does_not_submit_more_starting_jobs_than_pending_tasks() {
    let mut m = AutoAlloc::new(tunables());
    m.add_queue(params(10));
    assert_eq!(grow(&mut m, 0, &load(2, &[]), 1).len(), 2);
    // Both workers registered and busy, 2 more tasks wait: two more jobs.
    let busy = [
        (worker_name("1").as_str(), 1),
        (worker_name("2").as_str(), 1),
    ]
    .map(|(n, l)| (n.to_string(), l));
    let l = Load {
        pending_tasks: 2,
        workers: busy.to_vec(),
    };
    assert_eq!(grow(&mut m, 1_000, &l, 3), ["3", "4"]);
}

#[test]
fn nothing_pending_means_no_submission() {
    let mut m = AutoAlloc::new(tunables());
    m.add_queue(params(4));
    assert!(m.tick(0, &load(0, &[("manual", 0)])).is_empty());
}

#[test]
fn idle_workers_are_drained_after_the_idle_timeout_and_queued_jobs_cancelled() {
    let mut m = AutoAlloc::new(tunables());
    m.add_queue(params(2));
    grow(&mut m, 0, &load(5, &[]), 7);
    // Job 7 runs and its worker registers; job 8 stays queued.
    m.polled(
        1_000,
        1,
        Ok(vec![status("7", "RUNNING"), status("8", "PENDING")]),
    );
    let w = worker_name("7");
    m.tick(2_000, &load(3, &[(&w, 2)]));
    // The work is done: idle from 3 s; nothing happens before 13 s.
    assert!(cancels(&m.tick(3_000, &load(0, &[(&w, 0)]))).is_empty());
    assert!(cancels(&m.tick(12_999, &load(0, &[(&w, 0)]))).is_empty());
    let c = cancels(&m.tick(13_000, &load(0, &[(&w, 0)])));
    assert_eq!(
        c,
        [("7".to_string(), true), ("8".to_string(), false)],
        "running: drained; queued: cancelled"
    );
    // Cancelled once only.
    assert!(cancels(&m.tick(14_000, &load(0, &[(&w, 0)]))).is_empty());
    // Once Slurm shows them ended, the queue is empty and no failure was counted.
    m.polled(
        15_000,
        1,
        Ok(vec![status("7", "COMPLETED"), status("8", "CANCELLED")]),
    );
    let q = m.queues().next().unwrap();
    assert!(q.allocations.is_empty());
    assert_eq!((q.failures, q.ended), (0, 2));
}

#[test]
fn a_new_task_resets_the_idle_timer() {
    let mut m = AutoAlloc::new(tunables());
    m.add_queue(params(1));
    grow(&mut m, 0, &load(1, &[]), 1);
    m.polled(0, 1, Ok(vec![status("1", "RUNNING")]));
    let w = worker_name("1");
    m.tick(1_000, &load(0, &[(&w, 0)]));
    m.tick(9_000, &load(0, &[(&w, 1)])); // busy again
    assert!(cancels(&m.tick(12_000, &load(0, &[(&w, 0)]))).is_empty());
    assert_eq!(cancels(&m.tick(22_000, &load(0, &[(&w, 0)]))).len(), 1);
}

#[test]
fn sbatch_failures_back_off_exponentially_then_pause_the_queue() {
    let mut m = AutoAlloc::new(tunables());
    m.add_queue(params(2));
    let l = load(4, &[]);
    let mut submitted_at = Vec::new();
    // Tick every 100 ms for 60 s; every sbatch fails.
    for now in (0..60_000).step_by(100) {
        if submits(&m.tick(now, &l)) > 0 {
            submitted_at.push(now);
            m.submitted(
                now,
                1,
                Err("sbatch: error: invalid partition specified: nope".into()),
            );
        }
    }
    // Back-off 1 s, 2 s, 4 s after failures 1-3; paused after the 4th: 4 attempts, not 600.
    assert_eq!(submitted_at, [0, 1_000, 3_000, 7_000]);
    let q = m.queues().next().unwrap();
    assert_eq!((q.failures, q.failures_in_row), (4, 4));
    let paused = q.paused.as_deref().unwrap();
    assert!(
        paused.contains("invalid partition") && paused.contains("alloc remove 1"),
        "{paused}"
    );
}

#[test]
fn a_job_ending_before_its_worker_registered_is_a_failure_and_success_resets() {
    let mut m = AutoAlloc::new(tunables());
    m.add_queue(params(1));
    grow(&mut m, 0, &load(1, &[]), 1);
    m.polled(500, 1, Ok(vec![status("1", "FAILED")]));
    let q = m.queues().next().unwrap();
    assert_eq!(q.failures_in_row, 1);
    assert!(q
        .last_error
        .as_deref()
        .unwrap()
        .contains("before its worker registered"));
    // Backed off 1 s: nothing at 1.4 s, a new job at 1.5 s; it works and ends by itself.
    assert_eq!(submits(&m.tick(1_400, &load(1, &[]))), 0);
    assert_eq!(grow(&mut m, 1_500, &load(1, &[]), 2), ["2"]);
    m.polled(2_000, 1, Ok(vec![status("2", "RUNNING")]));
    m.tick(2_500, &load(0, &[(&worker_name("2"), 1)]));
    // It ended and Slurm forgot it (missing from squeue): a success after its worker ran.
    m.polled(3_000, 1, Ok(vec![]));
    assert_eq!(m.queues().next().unwrap().failures_in_row, 0);
}

#[test]
fn a_worker_that_never_registers_is_cancelled_and_counted() {
    let mut m = AutoAlloc::new(tunables());
    m.add_queue(params(1));
    grow(&mut m, 0, &load(3, &[]), 1);
    m.polled(1_000, 1, Ok(vec![status("1", "RUNNING")]));
    assert!(cancels(&m.tick(30_999, &load(3, &[]))).is_empty());
    assert_eq!(
        cancels(&m.tick(31_000, &load(3, &[]))),
        [("1".to_string(), false)]
    );
    let q = m.queues().next().unwrap();
    assert_eq!(q.failures, 1);
    // It is not counted twice when Slurm reports it cancelled.
    m.polled(32_000, 1, Ok(vec![status("1", "CANCELLED")]));
    assert_eq!(m.queues().next().unwrap().failures, 1);
}

#[test]
fn a_job_stuck_in_the_queue_is_reported_once_and_not_resubmitted() {
    let mut m = AutoAlloc::new(tunables());
    m.add_queue(params(1));
    grow(&mut m, 0, &load(3, &[]), 1);
    let stuck = JobStatus {
        job: "1".into(),
        state: SlurmState::Pending,
        reason: "PartitionNodeLimit".into(),
    };
    for now in (0..200_000).step_by(1_000) {
        m.polled(now, 1, Ok(vec![stuck.clone()]));
        assert_eq!(submits(&m.tick(now, &load(3, &[]))), 0, "at {now} ms");
    }
    let q = m.queues().next().unwrap();
    assert_eq!(q.failures, 1);
    assert!(q
        .last_error
        .as_deref()
        .unwrap()
        .contains("PartitionNodeLimit"));
}

#[test]
fn removing_a_queue_ends_its_jobs_then_forgets_it() {
    let mut m = AutoAlloc::new(tunables());
    let id = m.add_queue(params(2));
    grow(&mut m, 0, &load(2, &[]), 1);
    m.polled(
        0,
        1,
        Ok(vec![status("1", "RUNNING"), status("2", "PENDING")]),
    );
    m.remove_queue(id).unwrap();
    let a = m.tick(100, &load(2, &[]));
    assert_eq!(submits(&a), 0);
    assert_eq!(
        cancels(&a),
        [("1".to_string(), true), ("2".to_string(), false)]
    );
    assert_eq!(m.queues().count(), 1, "kept until its jobs are gone");
    m.polled(2_100, 1, Ok(vec![]));
    m.tick(2_200, &load(2, &[]));
    assert_eq!(m.queues().count(), 0);
    assert!(m.remove_queue(id).is_err());
}

#[test]
fn parses_sbatch_and_squeue_and_refuses_anything_else() {
    assert_eq!(parse_sbatch("1234\n").unwrap(), "1234");
    assert_eq!(parse_sbatch("1234;cluster\n").unwrap(), "1234");
    assert!(parse_sbatch("sbatch: error: Batch job submission failed").is_err());
    assert!(parse_sbatch("12;rm -rf /").is_ok_and(|id| id == "12"));
    assert!(parse_sbatch("").is_err());
    let jobs =
        parse_squeue("12|RUNNING|None\n13|PENDING|Resources\n\n14|COMPLETED|None\n").unwrap();
    assert_eq!(
        jobs.iter()
            .map(|j| (j.job.as_str(), j.state, j.reason.as_str()))
            .collect::<Vec<_>>(),
        [
            ("12", SlurmState::Running, ""),
            ("13", SlurmState::Pending, "Resources"),
            ("14", SlurmState::Completed, "")
        ]
    );
    assert!(parse_squeue("garbage").is_err());
    assert!(parse_squeue("1x|RUNNING|None").is_err());
    assert_eq!(parse_squeue("").unwrap(), []);
}

#[test]
fn params_that_could_break_the_script_are_refused() {
    assert!(params(1).check().is_ok());
    let mut p = params(1);
    p.partition = Some("debug\n#SBATCH --exclusive".into());
    assert!(p.check().unwrap_err().to_string().contains("partition"));
    let mut p = params(1);
    p.worker_args = vec!["--name\nrm".into()];
    assert!(p.check().is_err());
    assert!(params(0)
        .check()
        .unwrap_err()
        .to_string()
        .contains("--max-workers"));
    let mut p = params(1);
    p.time_limit_s = 60;
    assert!(p.check().unwrap_err().to_string().contains("time limit"));
}

#[test]
fn the_script_quotes_every_word_and_signals_the_steps() {
    let mut p = params(1);
    p.partition = Some("short".into());
    p.worker_args = vec!["--template-cache-mb".into(), "it's".into()];
    p.time_limit_s = 3601;
    let s = script::build(
        &p,
        &WorkerLaunch {
            worker_bin: "/opt/chirp farm/chirpfarm-worker".into(),
            coordinator_url: "http://127.0.0.1:5005".into(),
            output_dir: "/tmp/out".into(),
            job_name: "chirpfarm-ab12".into(),
        },
    );
    assert!(s.contains("#SBATCH --time=61\n"), "{s}");
    assert!(s.contains("#SBATCH --signal=TERM@60\n") && !s.contains("B:TERM"));
    assert!(s.contains("#SBATCH --partition=short\n"));
    assert!(s.contains("#SBATCH --output=/tmp/out/chirpfarm-alloc-%j.out\n"));
    assert!(s.contains("srun --ntasks=1 --kill-on-bad-exit=0 '/opt/chirp farm/chirpfarm-worker'"));
    assert!(s.contains(r"'--template-cache-mb' 'it'\''s'"), "{s}");
    assert!(s.contains("--name \"chirpfarm-alloc-$SLURM_JOB_ID\""));
    assert!(!s.contains("--exclusive"));
}

#[test]
fn a_job_submitted_while_squeue_ran_is_not_taken_for_ended() {
    let mut m = AutoAlloc::new(tunables());
    m.add_queue(params(2));
    assert_eq!(grow(&mut m, 0, &load(1, &[]), 1), ["1"]);
    // A poll is asked for at 3 s; job 2's sbatch, asked for then too, returns at 3.5 s, before
    // squeue answers without it at 4 s: job 2 has not ended.
    m.polled(1_000, 1, Ok(vec![status("1", "RUNNING")]));
    let a = m.tick(3_000, &load(2, &[]));
    assert!(a.iter().any(|a| matches!(a, Action::Poll { .. })));
    assert_eq!(submits(&a), 1, "job 1 has no worker yet, 2 tasks wait");
    m.submitted(3_500, 1, Ok("2".into()));
    m.polled(4_000, 1, Ok(vec![status("1", "RUNNING")]));
    let q = m.queues().next().unwrap();
    assert!(q.allocations.contains_key("2") && q.failures == 0, "{q:?}");
    // Missing from a poll asked for after its submission: ended (before its worker came).
    m.tick(6_000, &load(2, &[]));
    m.polled(6_500, 1, Ok(vec![status("1", "RUNNING")]));
    let q = m.queues().next().unwrap();
    assert!(!q.allocations.contains_key("2") && q.failures == 1, "{q:?}");
}
