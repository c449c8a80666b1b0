//! The coordinator's HTTP endpoint (`--http`) with real processes on loopback: /metrics after a
//! real search equals the job's own numbers, `promtool` accepts the exposition, a real
//! Prometheus server scrapes it, and headless Chromium renders the status page. The external
//! tools come from `.ci/install-debian.sh prometheus` and `.ci/install-debian.sh chromium`; without them
//! those parts print `SKIP:` and return.

mod common;
use common::{bin, chirpfarm, host_port, spawn_and_read, worker, Proc};
use common::{http_get as get, try_http_get as try_get};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BANK: &str = "0.8:1.74:0.004";
const TEMPLATES: u64 = 235;
const CHUNK: u64 = 16;

/// A coordinator with `--http 127.0.0.1:0`: the process, its gRPC URL and its HTTP address.
fn coordinator_http(extra: &[&str]) -> (Proc, String, String) {
    let mut cmd = Command::new(bin("chirpfarm-coordinator"));
    cmd.args(["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "info");
    let (p, words) = spawn_and_read(cmd, &["listening on ", "metrics at "]);
    let (grpc, http) = (host_port(&words[0]), host_port(&words[1]));
    (p, format!("http://{grpc}"), http)
}

/// Polls `chirpfarm workers` (with `auth`) until `n` workers are listed; panics after 20 s.
fn wait_workers(url: &str, n: usize, auth: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut args = vec!["workers", "--coordinator", url];
        args.extend(auth);
        let out = chirpfarm(&args);
        let listed = String::from_utf8_lossy(&out.stdout).lines().count();
        if listed > n {
            return;
        }
        assert!(Instant::now() < deadline, "{n} workers did not register");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of the sample `name` (with its labels, as exported) in exposition `text`.
fn sample(text: &str, name: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("chirpfarm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A token file in `dir`.
fn token_file(dir: &Path, name: &str, token: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("{token}\n")).unwrap();
    p.to_str().unwrap().to_string()
}

/// Runs a search of [`BANK`] with three signals through a coordinator with one worker, and
/// returns (coordinator, gRPC URL, HTTP address, temp dir, token file).
fn searched_farm(tag: &str) -> (Proc, Proc, String, String, TempDir, String) {
    let dir = TempDir::new(tag);
    let tok = token_file(&dir.0, "token", "obs-secret");
    let chunk = CHUNK.to_string();
    let (coord, url, http) = coordinator_http(&[
        "--token-file",
        &tok,
        "--chunk-size",
        &chunk,
        "--no-speculation",
    ]);
    let w = worker(&url, "metrics-worker", 1, &["--token-file", &tok]);
    wait_workers(&url, 1, &["--token-file", &tok]);
    let out = chirpfarm(&[
        "search",
        "--bank",
        BANK,
        "--signal-mc",
        "1.2,0.95,1.61",
        "--json",
        "--coordinator",
        &url,
        "--token-file",
        &tok,
        "--require-workers",
    ]);
    assert!(
        out.status.success(),
        "search failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (coord, w, url, http, dir, tok)
}

#[test]
fn metrics_after_a_real_search_equal_the_jobs_numbers() {
    let (_coord, _w, url, http, dir, tok) = searched_farm("metrics");
    // Without the token, or with a wrong one: 401 on every path, nothing leaked.
    for path in ["/metrics", "/api/status", "/"] {
        let (code, body) = get(&http, path, None);
        assert_eq!(code, 401, "{path}: {body}");
        assert!(body.contains("requires a client token"), "{body}");
        assert!(!body.contains("chirpfarm_"), "{body}");
        let (code, _) = get(&http, path, Some("wrong"));
        assert_eq!(code, 401, "{path}");
    }
    let (code, text) = get(&http, "/metrics", Some("obs-secret"));
    assert_eq!(code, 200, "{text}");
    let tasks = TEMPLATES.div_ceil(CHUNK) as f64;
    assert_eq!(
        sample(&text, "chirpfarm_templates_computed_total"),
        (TEMPLATES * 3) as f64,
        "bank size × signals"
    );
    assert_eq!(sample(&text, "chirpfarm_jobs{state=\"succeeded\"}"), 1.0);
    assert_eq!(sample(&text, "chirpfarm_jobs{state=\"running\"}"), 0.0);
    assert_eq!(sample(&text, "chirpfarm_queue_depth"), 0.0);
    assert_eq!(sample(&text, "chirpfarm_workers"), 1.0);
    assert_eq!(sample(&text, "chirpfarm_tasks{state=\"done\"}"), tasks);
    assert_eq!(sample(&text, "chirpfarm_tasks{state=\"pending\"}"), 0.0);
    // Attempts and failures as the scheduler counts them (`chirpfarm jobs`).
    let out = chirpfarm(&[
        "jobs",
        "--json",
        "--coordinator",
        &url,
        "--token-file",
        &tok,
    ]);
    let table: serde_json::Value = serde_json::from_slice(&out.stdout).expect("jobs --json");
    let job = &table[0];
    let (attempts, failures) = (
        job["attempts"].as_f64().unwrap(),
        job["failures"].as_f64().unwrap(),
    );
    assert!(attempts >= tasks, "{table}");
    assert_eq!(sample(&text, "chirpfarm_task_attempts_total"), attempts);
    assert_eq!(sample(&text, "chirpfarm_task_failures_total"), failures);
    // Every lease waited for and every result timed, once each.
    assert_eq!(
        sample(&text, "chirpfarm_lease_latency_seconds_count"),
        attempts
    );
    assert_eq!(
        sample(&text, "chirpfarm_result_latency_seconds_count"),
        tasks
    );
    assert!(sample(&text, "chirpfarm_result_latency_seconds_sum") > 0.0);
    // No data dir: no journal histogram.
    assert!(!text.contains("journal_write"), "{text}");
    // The JSON behind the status page.
    let (code, body) = get(&http, "/api/status", Some("obs-secret"));
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["workers"][0]["name"], "metrics-worker");
    assert_eq!(v["workers"][0]["threads"], 1);
    assert_eq!(v["jobs"][0]["state"], "succeeded");
    assert_eq!(v["jobs"][0]["done"], TEMPLATES);
    assert_eq!(v["jobs"][0]["total"], TEMPLATES);
    assert_eq!(v["jobs"][0]["id"], job["job_id"]);
    let (code, _) = get(&http, "/nothing", Some("obs-secret"));
    assert_eq!(code, 404);
    // promtool, when installed (CI installs it), accepts the exposition.
    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut promtool) = promtool else {
        println!("SKIP: promtool not installed (.ci/install-debian.sh prometheus)");
        return;
    };
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    drop(dir);
}

#[test]
fn the_journal_histogram_counts_writes_with_a_data_dir() {
    let dir = TempDir::new("journal-metrics");
    let data = dir.0.join("data");
    let (_coord, url, http) =
        coordinator_http(&["--data-dir", data.to_str().unwrap(), "--chunk-size", "16"]);
    let _w = worker(&url, "journal-worker", 1, &[]);
    wait_workers(&url, 1, &[]);
    let out = chirpfarm(&[
        "search",
        "--bank",
        BANK,
        "--signal-mc",
        "1.2",
        "--coordinator",
        &url,
        "--require-workers",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Open without tokens on loopback.
    let (code, text) = get(&http, "/metrics", None);
    assert_eq!(code, 200, "{text}");
    let writes = sample(&text, "chirpfarm_journal_write_seconds_count");
    // Group commit: at least one write, at most one per task (15) plus nothing else counted.
    assert!((1.0..=15.0).contains(&writes), "{writes}");
    assert!(sample(&text, "chirpfarm_journal_write_seconds_sum") > 0.0);
    assert_eq!(
        sample(&text, "chirpfarm_templates_computed_total"),
        TEMPLATES as f64
    );
}

#[test]
fn http_on_an_exposed_address_needs_tokens_and_bad_addresses_are_refused() {
    let run = |args: &[&str]| {
        let out = Command::new(bin("chirpfarm-coordinator"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&["--http", "0.0.0.0:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("refusing to serve --http on 0.0.0.0:0 without a client token"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, err) = run(&["--http", "not an address"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot serve --http on not an address"),
        "{err}"
    );
    // A port in use: one line, exit 1.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let (code, err) = run(&["--http", &addr]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot serve --http on {addr}")),
        "{err}"
    );
}

/// Where a tool is installed, if it is.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

#[test]
fn a_real_prometheus_scrapes_the_coordinator() {
    let Some(prometheus) = which("prometheus") else {
        println!("SKIP: prometheus not installed (.ci/install-debian.sh prometheus)");
        return;
    };
    let (_coord, _w, _url, http, dir, tok) = searched_farm("prometheus");
    let (_, text) = get(&http, "/metrics", Some("obs-secret"));
    let expected = sample(&text, "chirpfarm_templates_computed_total");
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: chirpfarm\n    authorization:\n      credentials_file: {tok}\n    static_configs:\n      - targets: ['{http}']\n"
        ),
    )
    .unwrap();
    let web = common::free_addr();
    let _prom = Proc {
        child: Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        assert!(
            Instant::now() < deadline,
            "prometheus did not report chirpfarm_templates_computed_total within 60 s"
        );
        std::thread::sleep(Duration::from_millis(500));
        let query = "/api/v1/query?query=chirpfarm_templates_computed_total";
        let Some((200, body)) = try_get(&web, query, None) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if let Some(value) = v["data"]["result"][0]["value"][1].as_str() {
            break value.parse::<f64>().unwrap();
        }
    };
    assert_eq!(seen, expected);
    // The target is healthy: Prometheus got in with the bearer token.
    let (_, body) = get(&web, "/api/v1/query?query=up", None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["data"]["result"][0]["value"][1], "1", "{body}");
}

#[test]
fn headless_chromium_renders_the_status_page() {
    let Some(chromium) = which("chromium").or_else(|| which("chromium-browser")) else {
        println!("SKIP: chromium not installed (.ci/install-debian.sh chromium)");
        return;
    };
    let dir = TempDir::new("chromium");
    let tok = token_file(&dir.0, "token", "page-secret");
    let (_coord, url, http) = coordinator_http(&["--token-file", &tok]);
    let _w = worker(&url, "page-worker", 1, &["--token-file", &tok]);
    wait_workers(&url, 1, &["--token-file", &tok]);
    let out = chirpfarm(&[
        "submit",
        "--bank",
        "0.8:1.74:0.0002",
        "--random-signals",
        "5",
        "--coordinator",
        &url,
        "--token-file",
        &tok,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // The browser presents the token once in the address; the page keeps it in a cookie for
    // its own fetches.
    let page = format!("http://{http}/?token=page-secret");
    let profile = dir.0.join("profile");
    let browse = |extra: &str| {
        let mut child = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--virtual-time-budget=3000",
                "--window-size=1200,800",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(extra)
            .arg(&page)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let mut proc = Proc { child };
        let code = proc.wait_exit(Duration::from_secs(90));
        assert!(code.is_some(), "chromium did not finish within 90 s");
        drop(proc);
        reader.join().unwrap()
    };
    let dom = browse("--dump-dom");
    assert!(
        dom.contains(&format!("<td>{job}</td>")),
        "the page lists job {job}:\n{dom}"
    );
    assert!(
        dom.contains("<td>page-worker</td>"),
        "the page lists the worker:\n{dom}"
    );
    // Its fetches of /api/status got through (the cookie carried the token).
    assert!(dom.contains("<div id=\"error\"></div>"), "{dom}");
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    browse(&format!("--screenshot={}", shot.display()));
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5000,
        "{}",
        png.len()
    );
    let out = chirpfarm(&["cancel", &job, "--coordinator", &url, "--token-file", &tok]);
    assert!(out.status.success());
}
