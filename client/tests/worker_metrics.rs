//! A worker's `/metrics` (`--metrics-listen 127.0.0.1:0`) after real searches through a real
//! coordinator: the counters equal the work done, a second identical search is served from the
//! template cache, and the text passes `promtool check metrics` when promtool is installed.

mod common;
use common::Proc;
use common::{
    bin, chirpfarm, coordinator, host_port, http_get, json, spawn_and_read, wait_workers,
};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts a worker serving metrics on a free port; returns it and the address it logged.
fn worker_with_metrics(url: &str) -> (Proc, String) {
    let mut cmd = Command::new(bin("chirpfarm-worker"));
    cmd.args(["--coordinator", url, "--name", "metered", "--threads", "1"])
        .args(["--metrics-listen", "127.0.0.1:0"]);
    let (p, words) = spawn_and_read(cmd, &["metrics listening on "]);
    (p, host_port(&words[0]))
}

/// `GET path` over plain HTTP/1.1; returns the status code and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    http_get(addr, path, None)
}

/// The value of the sample named exactly `name` (with its labels, if any).
fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

fn search(url: &str) {
    let out = chirpfarm(&[
        "search",
        "--signal-mc",
        "1.2",
        "--signal-mc",
        "1.5",
        "--json",
        "--coordinator",
        url,
    ]);
    let v = json(&out);
    assert_eq!(v["signals"][0]["best"]["template_index"], 40);
}

#[test]
fn counters_match_the_work_done() {
    let (_coord, url) = coordinator(&[]);
    let (_worker, addr) = worker_with_metrics(&url);
    wait_workers(&url, 1);
    let bank = 94.0; // the seed bank 0.8:1.74:0.01
                     // Registered as the coordinator sees it; the worker flips its gauge a moment later.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let before = loop {
        let (status, text) = get(&addr, "/metrics");
        assert_eq!(status, 200);
        if value(&text, "chirpfarm_worker_connected") == 1.0 {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never connected:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(value(&before, "chirpfarm_worker_tasks_leased_total"), 0.0);

    search(&url);
    let (_, first) = get(&addr, "/metrics");
    let tasks = value(&first, "chirpfarm_worker_tasks_completed_total");
    assert!(tasks >= 1.0);
    assert_eq!(value(&first, "chirpfarm_worker_tasks_leased_total"), tasks);
    assert_eq!(value(&first, "chirpfarm_worker_tasks_failed_total"), 0.0);
    assert_eq!(
        value(&first, "chirpfarm_worker_task_compute_seconds_count"),
        tasks
    );
    assert_eq!(
        value(&first, "chirpfarm_worker_templates_filtered_total"),
        bank * 2.0
    );
    assert_eq!(
        value(&first, "chirpfarm_worker_templates_generated_total"),
        bank
    );
    assert_eq!(
        value(
            &first,
            "chirpfarm_worker_cache_misses_total{cache=\"template\"}"
        ),
        bank
    );
    assert_eq!(
        value(&first, "chirpfarm_worker_cache_entries{cache=\"template\"}"),
        bank
    );
    assert!(value(&first, "chirpfarm_worker_cache_bytes{cache=\"template\"}") > 0.0);
    assert_eq!(value(&first, "chirpfarm_worker_tasks_in_flight"), 0.0);
    assert_eq!(value(&first, "chirpfarm_worker_reconnects_total"), 0.0);

    // The same search again: every template comes from the cache.
    let hits_before = value(
        &first,
        "chirpfarm_worker_cache_hits_total{cache=\"template\"}",
    );
    search(&url);
    let (_, second) = get(&addr, "/metrics");
    assert_eq!(
        value(&second, "chirpfarm_worker_templates_filtered_total"),
        bank * 4.0
    );
    assert_eq!(
        value(&second, "chirpfarm_worker_templates_generated_total"),
        bank
    );
    let hits = value(
        &second,
        "chirpfarm_worker_cache_hits_total{cache=\"template\"}",
    );
    assert!(hits - hits_before >= bank, "{hits_before} -> {hits}");

    // Read-only: nothing else is served.
    let (status, _) = get(&addr, "/");
    assert_eq!(status, 404);
    let mut post = std::net::TcpStream::connect(&addr).unwrap();
    post.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        post,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    post.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");

    promtool_check(&second);
}

/// `promtool check metrics` on the text, when promtool is installed.
fn promtool_check(text: &str) {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        println!("SKIP: promtool is not installed (.ci/install-debian.sh prometheus installs it)");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    // promtool reads the Prometheus text format, where a counter's HELP names the sample
    // (`x_total`); OpenMetrics (what Prometheus scrapes from us) names the family (`x`). That
    // one lint is expected; anything else (a parse error, another lint) fails.
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let only_family_help = report.lines().filter(|l| !l.trim().is_empty()).all(|l| {
        l.strip_suffix("_total no help text")
            .is_some_and(|family| text.contains(&format!("# HELP {family} ")))
    });
    assert!(
        out.status.success() || only_family_help,
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_metrics_address_in_use_is_one_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(bin("chirpfarm-worker"))
        .args([
            "--coordinator",
            "http://127.0.0.1:1",
            "--metrics-listen",
            &addr,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("cannot serve metrics on") && e.contains(&addr),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
}
