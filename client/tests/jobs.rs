//! Jobs as users see them, against real coordinator and worker processes on 127.0.0.1: labels,
//! owners and submit times in `jobs` (table and JSON) surviving a restart, `workers --json`,
//! idempotent `cancel`, and `watch --partial` of a job cancelled part-way.

mod common;

use common::{chirpfarm, coordinator, json, wait_workers, worker, Proc};
use serde_json::Value;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs `chirpfarm` as user `user` (the owner it declares).
fn chirpfarm_as(user: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chirpfarm"))
        .args(args)
        .env_remove("CHIRPFARM_COORDINATOR")
        .env_remove("CHIRPFARM_TOKEN")
        .env_remove("LOGNAME")
        .env("USER", user)
        .output()
        .expect("run chirpfarm")
}

/// `jobs --json`, parsed.
fn jobs_json(url: &str) -> Vec<Value> {
    json(&chirpfarm(&["jobs", "--json", "--coordinator", url]))
        .as_array()
        .expect("an array")
        .clone()
}

/// The job `id` in `jobs --json`.
fn job_entry(url: &str, id: &str) -> Value {
    jobs_json(url)
        .into_iter()
        .find(|j| j["job_id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn labels_owners_and_submit_times_are_listed_and_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("chirpfarm-jobs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let addr = common::free_addr();
    let url = format!("http://{addr}");
    let start = || common::coordinator_at(&addr, &["--data-dir", dir.to_str().unwrap()]);
    let coord = start();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // No worker: the job waits in the queue, which is enough to list it.
    let out = chirpfarm_as(
        "alice",
        &[
            "submit",
            "--signal-mc",
            "1.2",
            "--name",
            "nightly H1 #3",
            "--coordinator",
            &url,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let job = stdout(&out).trim().to_string();
    // An unlabelled job from a user whose name tries to forge an address and a terminal escape.
    let out = chirpfarm_as(
        "mallory@10.9.9.9\u{1b}[31m",
        &["submit", "--signal-mc", "1.3", "--coordinator", &url],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let other = stdout(&out).trim().to_string();

    let check = |url: &str| {
        let j = job_entry(url, &job);
        assert_eq!(j["name"], "nightly H1 #3");
        assert_eq!(j["owner"], "alice@127.0.0.1");
        assert_eq!(j["state"], "queued");
        assert_eq!(j["templates_total"], 94);
        let ms = j["submitted_unix_ms"].as_u64().unwrap();
        assert!(ms >= before - 1000 && ms <= before + 60_000, "{j}");
        let when = j["submitted"].as_str().unwrap();
        assert!(
            when.len() == 20 && when.ends_with('Z') && when.as_bytes()[10] == b'T',
            "RFC 3339: {when}"
        );
        let o = job_entry(url, &other);
        assert!(o.get("name").is_none(), "absent fields are omitted: {o}");
        let owner = o["owner"].as_str().unwrap();
        assert!(
            owner.ends_with("@127.0.0.1")
                && !owner.contains('\u{1b}')
                && owner.starts_with("mallory_"),
            "{owner}"
        );
        assert!(!jobs_json(url)
            .iter()
            .any(|j| j.to_string().contains("null")));
        (ms, when.to_string())
    };
    let (ms, when) = check(&url);
    let table = stdout(&chirpfarm(&["jobs", "--coordinator", &url]));
    let header = table.lines().next().unwrap();
    for col in [
        "NAME",
        "OWNER",
        "SUBMITTED (UTC)",
        "AGE",
        "DONE/TOTAL (templates)",
        "RATE (templates/s)",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = table.lines().find(|l| l.starts_with(&job)).unwrap();
    assert!(
        row.contains("nightly H1 #3") && row.contains("alice@127.0.0.1") && row.contains("0/94"),
        "{table}"
    );
    assert!(row.contains(&when[..19].replace('T', " ")), "{table}");
    // The same column starts at the same place on every line.
    let col = header.find("STATE").unwrap();
    assert!(
        table
            .lines()
            .skip(1)
            .all(|l| l[col..].starts_with("queued")),
        "{table}"
    );
    // --name filters.
    let only = json(&chirpfarm(&[
        "jobs",
        "--json",
        "--name",
        "nightly H1 #3",
        "--coordinator",
        &url,
    ]));
    assert_eq!(only.as_array().unwrap().len(), 1);

    // A restart over the same data dir keeps all of it.
    drop(coord);
    let _coord = start();
    let (ms2, when2) = check(&url);
    assert_eq!((ms2, when2), (ms, when));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_labels_are_refused_before_anything_is_sent() {
    for bad in [
        "x".repeat(65),
        "two\nlines".to_string(),
        "\u{1b}[2J".to_string(),
    ] {
        let out = chirpfarm(&[
            "submit",
            "--signal-mc",
            "1.2",
            "--name",
            &bad,
            // Nothing listens here: the label is refused first.
            "--coordinator",
            "http://127.0.0.1:9",
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("job name"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn workers_json_and_cancel_twice() {
    let (_c, url) = coordinator(&[]);
    let _w = worker(&url, "w-json", 1, &[]);
    wait_workers(&url, 1);
    let ws = json(&chirpfarm(&["workers", "--json", "--coordinator", &url]));
    let ws = ws.as_array().unwrap();
    assert_eq!(ws.len(), 1);
    let w = &ws[0];
    assert_eq!(w["name"], "w-json");
    assert_eq!(w["threads"], 1);
    for field in [
        "worker_id",
        "host",
        "tasks_done",
        "leased_tasks",
        "cached_templates",
        "last_heartbeat_seconds_ago",
        "build_version",
    ] {
        assert!(w.get(field).is_some(), "{field} missing: {w}");
    }
    assert!(w["last_heartbeat_seconds_ago"].as_f64().unwrap() < 30.0);
    let table = stdout(&chirpfarm(&["workers", "--coordinator", &url]));
    assert!(
        table.lines().next().unwrap().contains("HEARTBEAT (s ago)"),
        "{table}"
    );

    // A finished job: cancel says so and exits 0, twice.
    let out = chirpfarm(&[
        "search",
        "--signal-mc",
        "1.2",
        "--json",
        "-q",
        "--coordinator",
        &url,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let done = json(&out)["stats"]["job_id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let out = chirpfarm(&["cancel", &done, "--coordinator", &url]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            stdout(&out).trim(),
            format!("{done} already ended: succeeded (nothing to cancel)")
        );
    }
    // A running job: the first cancel cancels it, the second says it already was.
    let out = chirpfarm(&[
        "submit",
        "--bank",
        "0.8:1.74:0.0002",
        "--signal-mc",
        "1.2",
        "--coordinator",
        &url,
    ]);
    let job = stdout(&out).trim().to_string();
    let first = chirpfarm(&["cancel", &job, "--coordinator", &url]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(stdout(&first).trim(), format!("{job} cancelled"));
    let second = chirpfarm(&["cancel", &job, "--coordinator", &url]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(
        stdout(&second).trim(),
        format!("{job} already ended: cancelled (nothing to cancel)")
    );
    assert_eq!(job_entry(&url, &job)["state"], "cancelled");
    // An unknown job is still bad input.
    let out = chirpfarm(&["cancel", "job-99999", "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn watch_partial_of_a_job_cancelled_part_way() {
    let (_c, url) = coordinator(&[]);
    let _w: Proc = worker(&url, "slow", 1, &[]);
    wait_workers(&url, 1);
    // 4,700 templates × 3 signals in tasks of 10 on one thread: many seconds of work.
    let out = chirpfarm(&[
        "submit",
        "--bank",
        "0.8:1.74:0.0002",
        "--signal-mc",
        "1.2,1.3,1.4",
        "--chunk-size",
        "10",
        "--name",
        "to be cut short",
        "--coordinator",
        &url,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let job = stdout(&out).trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while job_entry(&url, &job)["templates_done"].as_u64().unwrap() < 20 {
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = chirpfarm(&["cancel", &job, "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let total = 4700;

    // Without --partial: unchanged, an error and no results.
    let out = chirpfarm(&["watch", &job, "--json", "-q", "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("cancelled"), "{}", stderr(&out));

    let out = chirpfarm(&[
        "watch",
        &job,
        "--partial",
        "--json",
        "-q",
        "--coordinator",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cancelled") && err.contains("partial"),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["complete"], false);
    assert_eq!(v["state"], "cancelled");
    let got = v["stats"]["templates"].as_u64().unwrap();
    assert!(got >= 20 && got < total, "{got} of {total}");
    assert_eq!(v["stats"]["templates_total"], total);
    assert_eq!(v["stats"]["templates_missing"], total - got);
    let index: Vec<u64> = v["bank"]["template_index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect();
    assert_eq!(index.len() as u64, got);
    assert!(index.windows(2).all(|w| w[0] < w[1]), "bank order");
    let missing: u64 = v["missing_templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_u64().unwrap() - r[0].as_u64().unwrap())
        .sum();
    assert_eq!(missing, total - got);
    for s in v["signals"].as_array().unwrap() {
        assert_eq!(s["snr"].as_array().unwrap().len() as u64, got);
        assert!(index.contains(&s["best"]["template_index"].as_u64().unwrap()));
    }
    // The table says it too.
    let out = chirpfarm(&["watch", &job, "--partial", "-q", "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("PARTIAL:"), "{}", stdout(&out));
}
