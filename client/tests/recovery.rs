//! More faults with real processes: a worker cut off by a network partition (a TCP proxy) and
//! reconnected, a SIGSTOPped worker with a long heartbeat timeout (speculative copies finish
//! the job), a graceful SIGTERM of the coordinator followed by a restart, and the client's
//! --detach and Ctrl-C.

mod common;
use common::proxy::Proxy;
use common::scenario::{assert_identical, reference, submit, watch};
use common::{chirpfarm, coordinator, wait_workers, worker, Proc};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_worker_cut_off_and_reconnected() {
    let want = reference();
    let (_c, url) = coordinator(&["--heartbeat-timeout", "2"]);
    let target: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(target);
    let proxied = format!("http://127.0.0.1:{}", proxy.port);
    let _w1 = worker(&url, "direct-1", 1, &[]);
    let _w2 = worker(&url, "direct-2", 1, &[]);
    let _w3 = worker(&proxied, "behind-proxy", 1, &[]);
    wait_workers(&url, 3);
    let t0 = Instant::now();
    let job = submit(&url);
    std::thread::sleep(Duration::from_millis(700));
    proxy.cut();
    std::thread::sleep(Duration::from_secs(3));
    proxy.restore();
    let got = watch(&url, &job);
    assert_identical(&got, &want, "network-cut-worker", t0);
    // The cut-off worker re-attached by itself.
    wait_workers(&url, 3);
}

#[test]
fn a_sigstopped_worker_is_overtaken_by_speculative_copies() {
    let want = reference();
    // A heartbeat timeout far longer than the job: only speculation can finish it in time.
    let (_c, url) = coordinator(&["--heartbeat-timeout", "120"]);
    let ws: Vec<Proc> = (1..=3)
        .map(|i| worker(&url, &format!("s{i}"), 1, &[]))
        .collect();
    wait_workers(&url, 3);
    let t0 = Instant::now();
    let job = submit(&url);
    std::thread::sleep(Duration::from_millis(700));
    ws[2].signal(19);
    let got = watch(&url, &job);
    ws[2].signal(18);
    assert!(
        t0.elapsed() < Duration::from_secs(100),
        "speculation did not kick in"
    );
    assert_identical(&got, &want, "sigstop-worker-speculation", t0);
}

#[test]
fn sigterm_drains_the_coordinator_and_a_restart_resumes() {
    let want = reference();
    let dir = std::env::temp_dir().join(format!("chirpfarm-term-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let addr = common::free_addr();
    let start = || {
        common::coordinator_at(
            &addr,
            &["--data-dir", dir.to_str().unwrap(), "--shutdown-grace", "3"],
        )
    };
    let url = format!("http://{addr}");
    let mut coord = start();
    let _ws: Vec<Proc> = (1..=2)
        .map(|i| worker(&url, &format!("t{i}"), 1, &[]))
        .collect();
    wait_workers(&url, 2);
    let t0 = Instant::now();
    let job = submit(&url);
    std::thread::sleep(Duration::from_millis(1000));
    coord.signal(15);
    assert_eq!(
        coord.wait_exit(Duration::from_secs(15)),
        Some(0),
        "SIGTERM exits 0 after the grace period"
    );
    drop(coord);
    // While it is down, a submit is refused with "cannot reach" (exit 3).
    let out = chirpfarm(&["jobs", "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(3));
    let _coord = start();
    let got = watch(&url, &job);
    assert_identical(&got, &want, "sigterm-coordinator", t0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn detach_and_ctrl_c_leave_the_job_running() {
    let (_c, url) = coordinator(&[]);
    let _w = worker(&url, "d", 1, &[]);
    wait_workers(&url, 1);
    let out = chirpfarm(&[
        "search",
        "--signal-mc",
        "1.2",
        "--coordinator",
        &url,
        "--detach",
    ]);
    assert!(out.status.success());
    let job = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(String::from_utf8_lossy(&out.stderr).contains("left running"));
    let v = common::json(&chirpfarm(&[
        "watch",
        &job,
        "--json",
        "--coordinator",
        &url,
    ]));
    assert_eq!(v["signals"][0]["best"]["template_index"], 40);
    // --detach needs a coordinator.
    let out = chirpfarm(&["search", "--signal-mc", "1.2", "--detach"]);
    assert_eq!(out.status.code(), Some(2));
    // Ctrl-C (SIGINT) on a search with no terminal: the job is left running, exit 130.
    let child = Command::new(env!("CARGO_BIN_EXE_chirpfarm"))
        .args([
            "search",
            "--bank",
            "0.8:1.74:0.0005",
            "--random-signals",
            "4",
            "--coordinator",
            &url,
            "--quiet",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("keeps running") && err.contains("chirpfarm watch job-"),
        "{err}"
    );
    let jobs = chirpfarm(&["jobs", "--coordinator", &url]);
    let text = String::from_utf8_lossy(&jobs.stdout);
    assert!(!text.contains("cancelled"), "{text}");
}

#[test]
fn finished_jobs_are_removed_after_the_retention_period() {
    let dir = std::env::temp_dir().join(format!("chirpfarm-retention-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (_c, url) = coordinator(&["--data-dir", dir.to_str().unwrap(), "--retention", "2s"]);
    let _w = worker(&url, "r", 1, &[]);
    wait_workers(&url, 1);
    let v = common::json(&chirpfarm(&[
        "search",
        "--signal-mc",
        "1.2",
        "--json",
        "--coordinator",
        &url,
    ]));
    assert_eq!(v["signals"][0]["best"]["template_index"], 40);
    assert!(dir.join("jobs/job-1/job.pb").exists(), "the job is on disk");
    let jobs = chirpfarm(&["jobs", "--coordinator", &url]);
    assert!(String::from_utf8_lossy(&jobs.stdout).contains("job-1"));
    std::thread::sleep(Duration::from_millis(3500));
    let jobs = chirpfarm(&["jobs", "--coordinator", &url]);
    assert!(
        !String::from_utf8_lossy(&jobs.stdout).contains("job-1"),
        "kept past retention"
    );
    assert!(
        !dir.join("jobs/job-1").exists(),
        "files kept past retention"
    );
    let out = chirpfarm(&["watch", "job-1", "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}
