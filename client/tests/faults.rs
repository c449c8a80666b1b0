//! Faults with real processes on loopback: workers SIGKILLed and SIGSTOPped mid-job, the
//! coordinator SIGKILLed and restarted on its data dir, and a poison task. Every job must end
//! with results bit-identical to a fault-free run, within a bounded time (printed).

mod common;
use common::scenario::{assert_identical, reference, submit, three_workers, watch};
use common::{chirpfarm, coordinator, json, wait_workers, Proc};
use std::time::{Duration, Instant};

#[test]
fn sigkill_a_worker_mid_job() {
    let want = reference();
    let (_c, url) = coordinator(&["--heartbeat-timeout", "2"]);
    let ws = three_workers(&url);
    let t0 = Instant::now();
    let job = submit(&url);
    std::thread::sleep(Duration::from_millis(700));
    ws[0].signal(9);
    let got = watch(&url, &job);
    assert_identical(&got, &want, "sigkill-worker", t0);
    assert!(t0.elapsed() < Duration::from_secs(120));
}

#[test]
fn sigstop_a_worker_mid_job() {
    let want = reference();
    let (_c, url) = coordinator(&["--heartbeat-timeout", "2"]);
    let ws = three_workers(&url);
    let t0 = Instant::now();
    let job = submit(&url);
    std::thread::sleep(Duration::from_millis(700));
    ws[1].signal(19);
    let got = watch(&url, &job);
    ws[1].signal(18);
    assert_identical(&got, &want, "sigstop-worker", t0);
    // The resumed worker reconnects and is usable again.
    wait_workers(&url, 3);
}

#[test]
fn sigkill_the_coordinator_mid_job_and_restart_it() {
    let want = reference();
    let dir = std::env::temp_dir().join(format!("chirpfarm-restart-{}", std::process::id()));
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
    let _ws = three_workers(&url);
    let t0 = Instant::now();
    let job = submit(&url);
    // A client watching through the restart.
    let watcher = {
        let url = url.clone();
        let job = job.clone();
        std::thread::spawn(move || watch(&url, &job))
    };
    std::thread::sleep(Duration::from_millis(1500));
    coord.signal(9);
    drop(coord);
    std::thread::sleep(Duration::from_millis(300));
    let restarted = Instant::now();
    let _coord = start();
    let got = watcher.join().unwrap();
    println!(
        "coordinator restart: job finished {:.2} s after the restart",
        restarted.elapsed().as_secs_f64()
    );
    assert_identical(&got, &want, "sigkill-coordinator", t0);
    // The finished job survives another restart, and the job counter continues.
    let out = chirpfarm(&["jobs", "--coordinator", &url]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("succeeded"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_poison_task_fails_its_job_after_three_attempts_and_workers_survive() {
    let (_c, url) = coordinator(&[]);
    let mut ws: Vec<Proc> = (1..=2)
        .map(|i| {
            let mut cmd = std::process::Command::new(common::bin("chirpfarm-worker"));
            cmd.args([
                "--coordinator",
                &url,
                "--name",
                &format!("p{i}"),
                "--threads",
                "1",
            ])
            .env("CHIRPFARM_TEST_PANIC_MC", "1.25")
            .stderr(std::process::Stdio::null());
            Proc {
                child: cmd.spawn().unwrap(),
            }
        })
        .collect();
    wait_workers(&url, 2);
    let out = chirpfarm(&[
        "search",
        "--bank",
        "1.0:1.5:0.05",
        "--signal-mc",
        "1.2",
        "--coordinator",
        &url,
        "--chunk-size",
        "4",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ended failed"), "{err}");
    assert!(err.contains("bank templates 4..8"), "{err}");
    assert!(err.contains("failed 3 times"), "{err}");
    assert!(err.contains("panicked"), "{err}");
    // Both workers are still alive and serve the next job.
    for w in &mut ws {
        assert!(w.child.try_wait().unwrap().is_none(), "a worker died");
    }
    let v = json(&chirpfarm(&[
        "search",
        "--signal-mc",
        "1.2",
        "--bank",
        "1.15:1.24:0.01",
        "--json",
        "--coordinator",
        &url,
    ]));
    assert_eq!(v["signals"][0]["best"]["template_index"], 5);
}
