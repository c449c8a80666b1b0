//! The networked farm end to end with real processes on loopback: a coordinator, worker daemons
//! started before and after it, the CLI's remote commands, tokens and exit codes.

mod common;
use common::{chirpfarm, coordinator, json, wait_workers, worker};
use std::time::Duration;

const BANK: &str = "0.8:1.74:0.004";

#[test]
fn two_workers_give_the_embedded_numbers_in_bank_order() {
    let embedded = json(&chirpfarm(&[
        "search",
        "--bank",
        BANK,
        "--signal-mc",
        "1.2,0.95,1.61",
        "--json",
    ]));
    let (_coord, url) = coordinator(&["--chunk-size", "16"]);
    let _w1 = worker(&url, "w1", 1, &[]);
    let _w2 = worker(&url, "w2", 1, &[]);
    wait_workers(&url, 2);
    let remote = json(&chirpfarm(&[
        "search",
        "--bank",
        BANK,
        "--signal-mc",
        "1.2,0.95,1.61",
        "--json",
        "--coordinator",
        &url,
    ]));
    assert_eq!(remote["bank"], embedded["bank"]);
    assert_eq!(
        remote["signals"], embedded["signals"],
        "bit-identical results, bank order"
    );
    assert_eq!(remote["stats"]["templates"], 235);
    // Both workers took part, and `workers` shows them.
    let out = chirpfarm(&["workers", "--coordinator", &url]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("w1") && text.contains("w2"), "{text}");
    for line in text.lines().skip(1) {
        let done: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
        assert!(done > 0, "a worker did nothing: {text}");
    }
}

#[test]
fn submit_watch_jobs_cancel() {
    let (_coord, url) = coordinator(&[]);
    // No worker yet: a submit that must not wait is refused with UNAVAILABLE (exit 3).
    let out = chirpfarm(&[
        "submit",
        "--signal-mc",
        "1.2",
        "--coordinator",
        &url,
        "--require-workers",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no worker is registered"));
    // A queued job runs once a worker arrives.
    let out = chirpfarm(&["submit", "--signal-mc", "1.2", "--coordinator", &url]);
    assert!(out.status.success());
    let job = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // Without a data dir, ids carry the coordinator instance's tag: `job-kq3x-1`.
    assert!(
        job.starts_with("job-") && job.ends_with("-1") && job.len() == "job-kq3x-1".len(),
        "{job}"
    );
    let _w = worker(&url, "late", 2, &[]);
    let v = json(&chirpfarm(&[
        "watch",
        &job,
        "--json",
        "--coordinator",
        &url,
    ]));
    assert_eq!(v["signals"][0]["best"]["template_index"], 40);
    let out = chirpfarm(&["jobs", "--coordinator", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&job) && text.contains("succeeded") && text.contains("94/94"),
        "{text}"
    );
    // Cancelling a finished job changes nothing and says so (exit 0); an unknown one is refused.
    let out = chirpfarm(&["cancel", &job, "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("already ended") && said.contains("succeeded"),
        "{said}"
    );
    let out = chirpfarm(&["cancel", "job-99", "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no job job-99"));
    let out = chirpfarm(&["watch", "nonsense", "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a job id"));
    // A big job can be cancelled while it runs.
    let out = chirpfarm(&[
        "submit",
        "--bank",
        "0.8:1.74:0.0002",
        "--random-signals",
        "5",
        "--coordinator",
        &url,
    ]);
    let job = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = chirpfarm(&["cancel", &job, "--coordinator", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("cancelled"));
    let out = chirpfarm(&["watch", &job, "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ended cancelled"));
}

#[test]
fn workers_started_before_the_coordinator_connect() {
    // Reserve a port, release it, start the worker first, then the coordinator on that port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let _w = worker(&url, "early", 1, &[]);
    std::thread::sleep(Duration::from_millis(700));
    let addr = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(common::bin("chirpfarm-coordinator"))
        .args(["--listen", &addr])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_workers(&url, 1);
    let v = json(&chirpfarm(&[
        "search",
        "--signal-mc",
        "1.3",
        "--json",
        "--coordinator",
        &url,
        "--require-workers",
    ]));
    assert_eq!(v["signals"][0]["best"]["template_index"], 50);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn tokens_are_required_when_configured() {
    let dir = std::env::temp_dir().join(format!("chirpfarm-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tok = dir.join("token");
    std::fs::write(&tok, "s3cret\n").unwrap();
    let wrong = dir.join("wrong");
    std::fs::write(&wrong, "nope\n").unwrap();
    let (_coord, url) = coordinator(&["--token-file", tok.to_str().unwrap()]);
    let out = chirpfarm(&["jobs", "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("requires a token"));
    let out = chirpfarm(&[
        "jobs",
        "--coordinator",
        &url,
        "--token-file",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong token"));
    // A worker with the wrong token is refused and exits 2 (as the CLI) instead of retrying
    // forever.
    let mut bad = worker(&url, "bad", 1, &["--token-file", wrong.to_str().unwrap()]);
    assert_eq!(bad.wait_exit(Duration::from_secs(20)), Some(2));
    let _good = worker(&url, "good", 1, &["--token-file", tok.to_str().unwrap()]);
    let out = chirpfarm(&[
        "search",
        "--signal-mc",
        "1.2",
        "--json",
        "--coordinator",
        &url,
        "--token-file",
        tok.to_str().unwrap(),
    ]);
    assert_eq!(json(&out)["signals"][0]["best"]["template_index"], 40);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sigterm_stops_a_worker_cleanly() {
    let (_coord, url) = coordinator(&[]);
    let mut w = worker(&url, "term", 1, &[]);
    wait_workers(&url, 1);
    w.signal(15);
    assert_eq!(w.wait_exit(Duration::from_secs(20)), Some(0));
}
