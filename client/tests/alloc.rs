//! `chirpfarm alloc list|add|remove` against a real coordinator process on 127.0.0.1 (no batch
//! system needed: with no task pending a queue submits nothing), and the coordinator's
//! `--autoalloc` flags refused with a clear one-line error. The allocation itself, against a
//! real Slurm, is tests/slurm/test-autoalloc.sh.

mod common;

use common::{bin, chirpfarm, coordinator, json};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

fn queues(url: &str) -> Vec<Value> {
    json(&chirpfarm(&[
        "alloc",
        "list",
        "--json",
        "--coordinator",
        url,
    ]))
    .as_array()
    .expect("an array")
    .clone()
}

#[test]
fn queues_are_added_listed_and_removed_at_run_time() {
    let (_coord, url) = coordinator(&[]);
    assert!(queues(&url).is_empty());
    let text = chirpfarm(&["alloc", "list", "--coordinator", &url]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("no allocation queues"));

    let added = json(&chirpfarm(&[
        "alloc",
        "add",
        "slurm",
        "--max-workers",
        "3",
        "--partition",
        "short",
        "--time-limit",
        "2h",
        "--worker-args",
        "--template-cache-mb 64",
        "--json",
        "--coordinator",
        &url,
    ]));
    let q = &added[0];
    assert_eq!(q["id"], 1);
    assert_eq!(q["max_workers"], 3);
    assert_eq!(q["partition"], "short");
    assert_eq!(q["time_limit_seconds"], 7200);
    assert_eq!(q["idle_timeout_seconds"], 60, "the default");
    assert_eq!(
        q["worker_args"],
        serde_json::json!(["--template-cache-mb", "64"])
    );
    assert_eq!(q["submitted"], 0, "nothing pending: nothing submitted");

    let listed = queues(&url);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["partition"], "short");
    let table = chirpfarm(&["alloc", "list", "--coordinator", &url]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(
        table.contains("queue 1  slurm  active  max workers 3  partition short"),
        "{table}"
    );

    // A partition that would break the batch script: exit 2, one line naming it.
    let bad = chirpfarm(&[
        "alloc",
        "add",
        "slurm",
        "--max-workers",
        "1",
        "--partition",
        "a\n#SBATCH",
        "--coordinator",
        &url,
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("partition") && err.lines().count() == 1,
        "{err}"
    );
    let bad = chirpfarm(&[
        "alloc",
        "add",
        "slurm",
        "--max-workers",
        "0",
        "--coordinator",
        &url,
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--max-workers"));

    let removed = chirpfarm(&["alloc", "remove", "1", "--coordinator", &url]);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    // With no job to end, the queue goes at the driver's next tick (1 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !queues(&url).is_empty() {
        assert!(
            Instant::now() < deadline,
            "queue 1 still listed: {:?}",
            queues(&url)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let missing = chirpfarm(&["alloc", "remove", "1", "--coordinator", &url]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no allocation queue 1"));
}

#[test]
fn bad_autoalloc_flags_are_refused_before_listening() {
    let run = |args: &[&str]| {
        Command::new(bin("chirpfarm-coordinator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .expect("run the coordinator")
    };
    let out = run(&["--autoalloc", "slurm"]);
    assert_eq!(out.status.code(), Some(2), "--max-workers is required");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-workers"));
    let out = run(&[
        "--autoalloc",
        "slurm",
        "--max-workers",
        "2",
        "--time-limit",
        "30s",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("time limit") && err.starts_with("error: "),
        "{err}"
    );
    let out = run(&["--max-workers", "2"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--max-workers needs --autoalloc"
    );
}
