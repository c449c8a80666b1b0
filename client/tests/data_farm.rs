//! Data searches on a real farm (coordinator and worker processes on loopback): the data is
//! uploaded once, fetched and verified by each worker, and the triggers and peaks are
//! bit-identical to the embedded run — with one worker, with three, with a worker SIGKILLed
//! mid-job, and with the coordinator SIGKILLed and restarted on its data dir mid-job.

mod common;
use common::data_search_args as search_args;
use common::{chirpfarm, coordinator, json, wait_workers, worker, Proc};
use serde_json::Value;
use std::time::{Duration, Instant};

fn run(args: &[String]) -> Value {
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    json(&chirpfarm(&refs))
}

/// The embedded (fault-free) result.
fn reference() -> Value {
    let mut a = vec!["search".to_string()];
    a.extend(search_args());
    a.extend(["--json".into(), "--quiet".into()]);
    run(&a)
}

fn submit(url: &str) -> String {
    let mut a = vec!["submit".to_string()];
    a.extend(search_args());
    a.extend([
        "--coordinator".into(),
        url.into(),
        "--chunk-size".into(),
        "30".into(),
    ]);
    let refs: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    let out = chirpfarm(&refs);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn watch(url: &str, job: &str) -> Value {
    json(&chirpfarm(&[
        "watch",
        job,
        "--json",
        "--quiet",
        "--coordinator",
        url,
    ]))
}

fn assert_same(got: &Value, want: &Value, scenario: &str, t0: Instant) {
    assert_eq!(got["version"], 2);
    assert_eq!(got["bank"], want["bank"], "{scenario}");
    assert_eq!(
        got["templates"], want["templates"],
        "{scenario}: peaks differ"
    );
    assert_eq!(
        got["triggers"], want["triggers"],
        "{scenario}: triggers differ"
    );
    // numpy.arange(1.0, 1.6, 0.0005) has 1,201 elements (the float step overshoots 1,200).
    assert_eq!(got["templates"].as_array().unwrap().len(), 1201);
    assert!(!got["triggers"].as_array().unwrap().is_empty());
    println!(
        "scenario={scenario} job_seconds={:.2} identical=yes",
        t0.elapsed().as_secs_f64()
    );
}

fn workers(url: &str, n: usize) -> Vec<Proc> {
    let w = (1..=n)
        .map(|i| worker(url, &format!("w{i}"), 1, &[]))
        .collect();
    wait_workers(url, n);
    w
}

#[test]
fn one_and_three_workers_give_the_embedded_triggers() {
    let want = reference();
    assert_eq!(want["data"]["segments"], 5);
    let (_c, url) = coordinator(&[]);
    let w1 = workers(&url, 1);
    let t0 = Instant::now();
    let job = submit(&url);
    assert_same(&watch(&url, &job), &want, "one-worker", t0);
    let _more: Vec<Proc> = (2..=3)
        .map(|i| worker(&url, &format!("w{i}"), 1, &[]))
        .collect();
    wait_workers(&url, 3);
    let t0 = Instant::now();
    let job = submit(&url);
    assert_same(&watch(&url, &job), &want, "three-workers", t0);
    drop(w1);
}

#[test]
fn sigkill_a_worker_mid_data_search() {
    let want = reference();
    let (_c, url) = coordinator(&["--heartbeat-timeout", "2"]);
    let ws = workers(&url, 3);
    let t0 = Instant::now();
    let job = submit(&url);
    std::thread::sleep(Duration::from_millis(600));
    ws[0].signal(9);
    assert_same(&watch(&url, &job), &want, "sigkill-worker-data", t0);
}

#[test]
fn sigkill_the_coordinator_mid_data_search_and_restart_it() {
    let want = reference();
    let dir = std::env::temp_dir().join(format!("chirpfarm-data-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let addr = common::free_addr();
    let start = || {
        common::coordinator_at(
            &addr,
            &[
                "--data-dir",
                dir.to_str().unwrap(),
                "--heartbeat-timeout",
                "2",
            ],
        )
    };
    let url = format!("http://{addr}");
    let coord = start();
    let _ws = workers(&url, 2);
    let t0 = Instant::now();
    let job = submit(&url);
    std::thread::sleep(Duration::from_millis(600));
    coord.signal(9);
    drop(coord);
    // The blobs and the job come back from the data dir; workers re-attach.
    let _coord = start();
    assert_same(&watch(&url, &job), &want, "sigkill-coordinator-data", t0);
    let _ = std::fs::remove_dir_all(&dir);
}
