//! How worker processes end, with a real coordinator and real worker processes on loopback:
//! `--idle-timeout` (an idle worker deregisters and exits 0; a busy one never leaves mid-task)
//! and SIGTERM in the middle of a task (it finishes what it holds, reports it, exits 0). These
//! are what batch systems rely on: a job that ends with 0 is a success, not a failure to retry.

mod common;
use common::scenario::assert_identical;
use common::{bin, chirpfarm, coordinator, json, wait_workers, worker, Proc};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The job of these tests: 940 templates × 5 random signals.
const JOB: [&str; 8] = [
    "--bank",
    "0.8:1.74:0.001",
    "--random-signals",
    "5",
    "--seed",
    "11",
    "--json",
    "--quiet",
];

/// Templates per task: 300 × 5 signals, about 7 s of one thread's work on the shared 2-core
/// development machine (5 ms per template and signal under load; the README's farm numbers
/// imply about 1 ms on an idle one, still 1.5 s), so a task outlasts a 1 s idle timeout and a
/// SIGTERM lands in the middle of one. 4 tasks.
const CHUNK: &str = "300";

/// The job's result on the embedded cluster, computed once for the tests of this file.
fn want() -> &'static serde_json::Value {
    static WANT: OnceLock<serde_json::Value> = OnceLock::new();
    WANT.get_or_init(|| json(&chirpfarm(&[&["search"], &JOB[..]].concat())))
}

/// Submits the job in tasks of [`CHUNK`] templates; returns the job id.
fn submit(url: &str) -> String {
    let out = chirpfarm(
        &[
            &["submit", "--coordinator", url, "--chunk-size", CHUNK],
            &JOB[..6],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A worker whose log lines (text, info level) are collected as they come.
fn logged_worker(url: &str, name: &str, extra: &[&str]) -> (Proc, Arc<Mutex<Vec<String>>>) {
    let mut child = Command::new(bin("chirpfarm-worker"))
        .args(["--coordinator", url, "--name", name, "--threads", "1"])
        .args(extra)
        .env("RUST_LOG", "info")
        .env_remove("CHIRPFARM_IDLE_TIMEOUT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start worker");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    (Proc { child }, lines)
}

/// The workers the coordinator lists now.
fn workers(url: &str) -> Vec<serde_json::Value> {
    json(&chirpfarm(&["workers", "--json", "--coordinator", url]))
        .as_array()
        .unwrap()
        .clone()
}

/// Polls until the coordinator lists no worker (a worker that left deregistered).
fn wait_no_workers(url: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !workers(url).is_empty() {
        assert!(
            Instant::now() < deadline,
            "a worker that exited is still registered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One job's line of `chirpfarm jobs --json`.
fn job_info(url: &str, job: &str) -> serde_json::Value {
    json(&chirpfarm(&["jobs", "--json", "--coordinator", url]))
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == job)
        .cloned()
        .expect("the job is listed")
}

#[test]
fn an_idle_worker_deregisters_and_exits_0_after_its_timeout() {
    let (_c, url) = coordinator(&[]);
    let t0 = Instant::now();
    let (mut w, log) = logged_worker(&url, "idle", &["--idle-timeout", "2"]);
    // The environment variable works as the flag does (a batch script's way to set it).
    let mut by_env = Proc {
        child: Command::new(bin("chirpfarm-worker"))
            .args([
                "--coordinator",
                &url,
                "--name",
                "idle-env",
                "--threads",
                "1",
            ])
            .env("CHIRPFARM_IDLE_TIMEOUT", "1.5")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    wait_workers(&url, 1);
    assert_eq!(by_env.wait_exit(Duration::from_secs(20)), Some(0));
    assert_eq!(w.wait_exit(Duration::from_secs(20)), Some(0), "idle exit");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "left after {took:?}, before its 2 s idle timeout"
    );
    println!(
        "idle worker exited {:.2} s after start (timeout 2 s)",
        took.as_secs_f64()
    );
    wait_no_workers(&url, Duration::from_secs(5));
    let log = log.lock().unwrap().join("\n");
    assert!(
        log.contains("(--idle-timeout): deregistering and exiting"),
        "{log}"
    );
}

#[test]
fn an_idle_worker_whose_coordinator_never_answers_still_exits_0() {
    // A batch job whose coordinator is gone must end too, not wait out its walltime.
    let addr = common::free_addr();
    let (mut w, _log) = logged_worker(
        &format!("http://{addr}"),
        "orphan",
        &["--idle-timeout", "1"],
    );
    assert_eq!(w.wait_exit(Duration::from_secs(20)), Some(0));
}

#[test]
fn bad_idle_timeouts_are_refused_with_exit_2() {
    for bad in ["0", "-3", "abc", "nan", "inf", ""] {
        let out = Command::new(bin("chirpfarm-worker"))
            .args(["--coordinator", "http://127.0.0.1:9"])
            .arg(format!("--idle-timeout={bad}"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--idle-timeout {bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--idle-timeout"), "{bad:?}: {err}");
    }
}

#[test]
fn a_busy_worker_never_leaves_mid_task_and_leaves_after_the_job() {
    want();
    let (_c, url) = coordinator(&[]);
    // The job waits first: the only worker, with a 1 s idle timeout, then gets tasks of about
    // 1.5 s or more each. If it left mid-task the job could never finish.
    let job = submit(&url);
    let t0 = Instant::now();
    let (mut w, log) = logged_worker(&url, "busy", &["--idle-timeout", "1"]);
    // The worker may leave only once every task is done: when it exits, the job must have
    // succeeded already.
    let code = w.wait_exit(Duration::from_secs(240));
    let info = job_info(&url, &job);
    assert_eq!(
        info["state"],
        "succeeded",
        "the worker (exit {code:?}) left before the job was done: {info}\n{}",
        log.lock().unwrap().join("\n")
    );
    assert_eq!(code, Some(0));
    let ended = info["finished_unix_ms"].as_u64().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    println!(
        "busy worker: job done in {:.2} s, worker gone {:.2} s later (timeout 1 s)",
        t0.elapsed().as_secs_f64() - (now_ms.saturating_sub(ended)) as f64 / 1000.0,
        (now_ms.saturating_sub(ended)) as f64 / 1000.0
    );
    wait_no_workers(&url, Duration::from_secs(5));
    let got = json(&chirpfarm(&[
        "watch",
        &job,
        "--json",
        "--quiet",
        "--coordinator",
        &url,
    ]));
    assert_identical(&got, want(), "idle-timeout-busy-worker", t0);
}

#[test]
fn sigterm_mid_task_finishes_the_task_reports_it_and_exits_0() {
    want();
    let (_c, url) = coordinator(&[]);
    let (mut w, log) = logged_worker(&url, "term", &[]);
    wait_workers(&url, 1);
    let t0 = Instant::now();
    let job = submit(&url);
    // Wait until the worker holds leases, then a little more: it is computing one.
    let deadline = Instant::now() + Duration::from_secs(30);
    while workers(&url)
        .first()
        .is_none_or(|w| w["leased_tasks"].as_u64() == Some(0))
    {
        assert!(Instant::now() < deadline, "the worker got no lease");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    w.signal(15);
    let signalled = Instant::now();
    assert_eq!(
        w.wait_exit(Duration::from_secs(45)),
        Some(0),
        "SIGTERM exit"
    );
    let drained = signalled.elapsed();
    let log = log.lock().unwrap().join("\n");
    let in_flight: u64 = log
        .lines()
        .find(|l| l.contains("shutdown requested"))
        .and_then(|l| l.split("in_flight=").nth(1))
        .and_then(|n| n.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no drain line in the worker's log:\n{log}"));
    assert!(in_flight >= 1, "SIGTERM did not land mid-task:\n{log}");
    // What it held was finished and reported, not dropped: the coordinator has those tasks
    // (accepted results are stored asynchronously, so give it a moment; with no worker left,
    // a task whose result was lost could not become done meanwhile).
    let deadline = Instant::now() + Duration::from_secs(5);
    let info = loop {
        let info = job_info(&url, &job);
        if info["tasks_done"].as_u64().unwrap() >= in_flight || Instant::now() > deadline {
            break info;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        info["tasks_done"].as_u64().unwrap() >= in_flight,
        "held {in_flight} task(s) at SIGTERM but the coordinator has {info}:\n{log}"
    );
    assert_eq!(info["failures"], 0, "{info}");
    println!(
        "SIGTERM with {in_flight} task(s) in flight: drained and exited 0 in {:.2} s",
        drained.as_secs_f64()
    );
    wait_no_workers(&url, Duration::from_secs(5));
    // Another worker finishes the job; the results are those of a run without faults.
    let _w2 = worker(&url, "after", 2, &[]);
    let got = json(&chirpfarm(&[
        "watch",
        &job,
        "--json",
        "--quiet",
        "--coordinator",
        &url,
    ]));
    assert_identical(&got, want(), "sigterm-mid-task", t0);
}
