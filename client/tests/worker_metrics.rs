//! A worker's `/metrics` (`--metrics-listen 127.0.0.1:0`) after real searches through a real
//! coordinator: the counters equal the work done, a second identical search is served from the
//! template cache, and the text passes `promtool check metrics` when promtool is installed.

mod common;
use common::{bin, chirpfarm, coordinator, json, wait_workers, Proc};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Starts a worker serving metrics on a free port; returns it and the address it logged.
fn worker_with_metrics(url: &str) -> (Proc, String) {
    let mut child = Command::new(bin("chirpfarm-worker"))
        .args(["--coordinator", url, "--name", "metered", "--threads", "1"])
        .args(["--metrics-listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start worker");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent {
                if let Some(rest) = line.split("metrics listening on http://").nth(1) {
                    let addr = rest.split('/').next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the worker logged its metrics address");
    (Proc { child }, addr)
}

/// `GET path` over plain HTTP/1.1; returns the status line and the body.
fn get(addr: &str, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
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
        assert!(status.contains(" 200 "), "{status}");
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
    assert!(status.contains(" 404 "), "{status}");
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
