//! No surprises around `chirpfarm search` (issue 14): limits refused with exit 2 and one line,
//! physical mass ranges, no `null` in JSON, SIGTERM like Ctrl-C, help texts with examples.
//! Every test runs the real binaries on 127.0.0.1.

mod common;

use common::{bin, chirpfarm, coordinator, json, wait_workers, worker, Proc};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `args`, expects exit 2 with `needle` on stderr, nothing on stdout, and no backtrace.
fn assert_refused(args: &[&str], needle: &str) {
    let out = chirpfarm(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(out.stdout.is_empty(), "{args:?} printed results");
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn user_sized_requests_are_bounded() {
    let too_many = (cores() * 4 + 1).to_string();
    assert_refused(
        &["search", "--signal-mc", "1.2", "--threads", &too_many],
        "more than 4 × this machine's cores",
    );
    assert_refused(
        &["search", "--random-signals", "10000000000"],
        "10000000000 signals is more than the limit of 10000",
    );
    assert_refused(
        &["search", "--random-signals", "18446744073709551615"],
        "more than the limit of 10000",
    );
    assert_refused(
        &[
            "search",
            "--signal-mc",
            "1.2",
            "--max-templates",
            "1000000000000",
        ],
        "more than the client's limit",
    );
    // The embedded cluster runs at most 10^6 templates whatever --max-templates says; the bank
    // is refused from its size, before it is built.
    assert_refused(
        &[
            "search",
            "--signal-mc",
            "1.2",
            "--bank",
            "0.8:1.74:0.0000001",
            "--max-templates",
            "50000000",
        ],
        "more than the limit of 1000000",
    );
    // The worker daemon refuses the same thread counts, before connecting to anything.
    let out = Command::new(bin("chirpfarm-worker"))
        .args([
            "--coordinator",
            "http://127.0.0.1:1",
            "--threads",
            &too_many,
        ])
        .output()
        .expect("run worker");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("more than 4 × this machine's cores"), "{err}");
}

#[test]
fn masses_outside_the_physical_range_are_refused_and_wrapping_ones_warned() {
    assert_refused(
        &["search", "--signal-mc", "12000"],
        "chirp mass 12000 M☉, outside the physical range 0.1–100 M☉",
    );
    assert_refused(
        &["search", "--signal-mc", "1.2", "--bank", "0.01:0.05:0.01"],
        "template 0 has chirp mass 0.01",
    );
    assert_refused(
        &["search", "--signal-mc", "1.2", "--mc-range", "5:1"],
        "--mc-range",
    );
    // A wider range lets the same signal through.
    let out = chirpfarm(&[
        "search",
        "--signal-mc",
        "120",
        "--mc-range",
        "0.1:200",
        "--bank",
        "110:130:10",
        "--json",
    ]);
    assert_eq!(json(&out)["signals"][0]["best"]["template_index"], 1);
    // A chirp longer than the 64 s segment: a warning naming the mass, once, then results.
    let out = chirpfarm(&[
        "search",
        "--signal-mc",
        "0.5",
        "--bank",
        "0.5:0.8:0.1",
        "--json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.matches("warning:").count(), 1, "{err}");
    assert!(
        err.contains("0.5") && err.contains("0.6") && err.contains("wraps"),
        "{err}"
    );
    assert!(!err.contains("0.7"), "0.7 does not wrap: {err}");
    // The seed's search prints nothing on stderr.
    let out = chirpfarm(&["search", "--signal-mc", "1.2", "--json"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn embedded_output_has_no_job_id_no_null_and_explains_the_seed_scale() {
    let out = chirpfarm(&["search", "--signal-mc", "1.2,1.35", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let v = json(&out);
    assert!(!text.contains("null"), "{text}");
    assert!(v["stats"].get("job_id").is_none(), "{}", v["stats"]);
    assert!(v["stats"]["wall_seconds"].as_f64().unwrap() > 0.0);
    let out = chirpfarm(&["search", "--signal-mc", "1.2"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(!table.contains("[job-"), "{table}");
    assert!(
        table.contains("2012 teaching note") && table.contains("1e-9"),
        "{table}"
    );
    let out = chirpfarm(&[
        "search",
        "--signal-mc",
        "1.2",
        "--snr-convention",
        "physical",
    ]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("teaching note"));
}

#[test]
fn help_texts_have_examples_units_and_hide_the_benchmarks() {
    let main = String::from_utf8_lossy(&chirpfarm(&["--help"]).stdout).to_string();
    assert!(main.contains("RUST_LOG") && main.contains("143"), "{main}");
    assert!(!main.contains("\n  bench"), "bench is hidden: {main}");
    for sub in [
        "search", "submit", "watch", "jobs", "cancel", "workers", "simulate", "bank",
    ] {
        let out = chirpfarm(&[sub, "--help"]);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Examples:"), "{sub}: {help}");
    }
    let search = String::from_utf8_lossy(&chirpfarm(&["search", "--help"]).stdout).to_string();
    for needle in [
        "<MSUN>",
        "<SECONDS>",
        "<MIN:MAX>",
        "teaching note",
        "1e-9",
        "--cancel-on-exit",
    ] {
        assert!(search.contains(needle), "search --help lacks {needle}");
    }
    for (b, needle) in [
        ("chirpfarm-worker", "<MB>"),
        ("chirpfarm-coordinator", "<SECONDS>"),
    ] {
        let out = Command::new(bin(b)).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for n in ["Examples:", "RUST_LOG", needle] {
            assert!(help.contains(n), "{b} --help lacks {n}: {help}");
        }
    }
    // The hidden benchmarks still run (bench/run.sh and README use them).
    let out = chirpfarm(&["bench", "filter", "--json", "--iters", "2"]);
    assert_eq!(json(&out)["threads"], 1);
}

/// Starts `chirpfarm search ARGS` in the background with piped output (no terminal).
fn spawn_search(args: &[&str]) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_chirpfarm"))
        .arg("search")
        .args(args)
        .env_remove("CHIRPFARM_COORDINATOR")
        .env_remove("CHIRPFARM_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start search");
    Proc { child }
}

/// Sends `sig` with `kill` and returns the exit code and stderr once the process ends.
fn stop_with(mut p: Proc, sig: &str) -> (Option<i32>, String) {
    let status = Command::new("kill")
        .args([sig, &p.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let code = p.wait_exit(Duration::from_secs(20));
    let mut err = String::new();
    if let Some(mut e) = p.child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    (code, err)
}

/// Polls `chirpfarm jobs` until a job is listed; returns its line.
fn wait_job(url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = chirpfarm(&["jobs", "--coordinator", url]);
        if let Some(l) = String::from_utf8_lossy(&out.stdout).lines().nth(1) {
            return l.to_string();
        }
        assert!(Instant::now() < deadline, "no job was submitted");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The state of job `id` in `chirpfarm jobs --json`.
fn job_state(url: &str, id: &str) -> String {
    let out = chirpfarm(&["jobs", "--json", "--coordinator", url]);
    let jobs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("jobs --json");
    jobs.as_array()
        .and_then(|a| a.iter().find(|j| j["job_id"] == id))
        .and_then(|j| j["state"].as_str())
        .unwrap_or("missing")
        .to_string()
}

#[test]
fn sigterm_leaves_the_remote_job_running_or_cancels_it_on_request() {
    let (_coord, url) = coordinator(&[]);
    let _w = worker(&url, "w1", 1, &[]);
    wait_workers(&url, 1);
    // A job of minutes on one thread: 18,800 templates × 20 signals.
    let big = [
        "--bank",
        "0.8:1.74:0.00005",
        "--random-signals",
        "20",
        "--coordinator",
        &url,
    ];
    let p = spawn_search(&big);
    let line = wait_job(&url);
    let id = line.split_whitespace().next().unwrap().to_string();
    let (code, err) = stop_with(p, "-TERM");
    assert_eq!(code, Some(143), "{err}");
    assert!(
        err.contains(&format!("job {id} keeps running"))
            && err.contains(&format!("chirpfarm cancel {id}")),
        "{err}"
    );
    let state = job_state(&url, &id);
    assert!(state == "running" || state == "queued", "{id} is {state}");
    let out = chirpfarm(&["cancel", &id, "--coordinator", &url]);
    assert!(out.status.success());

    // With --cancel-on-exit the job is cancelled; SIGINT without a terminal exits 130.
    let mut args = big.to_vec();
    args.push("--cancel-on-exit");
    let p = spawn_search(&args);
    let deadline = Instant::now() + Duration::from_secs(30);
    let id2 = loop {
        let out = chirpfarm(&["jobs", "--coordinator", &url]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if let Some(l) = text.lines().skip(1).find(|l| !l.starts_with(&id)) {
            break l.split_whitespace().next().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no second job");
        std::thread::sleep(Duration::from_millis(100));
    };
    let (code, err) = stop_with(p, "-INT");
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains(&format!("{id2} cancelled")), "{err}");
    assert_eq!(job_state(&url, &id2), "cancelled");
}

#[test]
fn sigterm_stops_the_embedded_cluster_cleanly() {
    let p = spawn_search(&[
        "--bank",
        "0.8:1.74:0.00005",
        "--random-signals",
        "20",
        "--threads",
        "1",
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    let (code, err) = stop_with(p, "-TERM");
    assert_eq!(code, Some(143), "{err}");
    assert!(err.contains("terminated"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15));
}
