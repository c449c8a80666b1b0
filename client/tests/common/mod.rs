//! Helpers for tests that run the real binaries: a coordinator on a free loopback port and
//! worker processes, all killed when dropped.
#![allow(dead_code)]

pub mod proxy;
pub mod scenario;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of a workspace binary (built by `cargo test --workspace` next to this test's binary).
pub fn bin(name: &str) -> PathBuf {
    let me = PathBuf::from(env!("CARGO_BIN_EXE_chirpfarm"));
    let p = me.with_file_name(name);
    assert!(
        p.exists(),
        "{} not built: run the tests with `cargo test --workspace`",
        p.display()
    );
    p
}

/// Runs `chirpfarm` with arguments and returns its output.
pub fn chirpfarm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chirpfarm"))
        .args(args)
        .env_remove("CHIRPFARM_COORDINATOR")
        .env_remove("CHIRPFARM_TOKEN")
        .output()
        .expect("run chirpfarm")
}

/// Parses stdout as JSON.
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "chirpfarm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// A child process killed (SIGKILL) on drop.
pub struct Proc {
    /// The child.
    pub child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Sends a signal by number (15 = TERM, 19 = STOP, 18 = CONT, 9 = KILL).
    pub fn signal(&self, sig: i32) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// Waits up to `t` for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, t: Duration) -> Option<i32> {
        let deadline = Instant::now() + t;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Starts `cmd` with stderr piped and reads its log until every marker has appeared; returns
/// the process and, per marker, the first word after it in the first line holding it (panics
/// after 20 s). Later lines are read and dropped, so the child never blocks on a full pipe.
pub fn spawn_and_read(mut cmd: Command, markers: &[&str]) -> (Proc, Vec<String>) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the process");
    let stderr = child.stderr.take().expect("stderr");
    let owned: Vec<String> = markers.iter().map(|m| m.to_string()).collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut found = vec![false; owned.len()];
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            for (i, marker) in owned.iter().enumerate() {
                if found[i] {
                    continue;
                }
                if let Some(rest) = line.split(marker.as_str()).nth(1) {
                    let word = rest.split_whitespace().next().unwrap_or("").to_string();
                    found[i] = true;
                    let _ = tx.send((i, word));
                }
            }
        }
    });
    let mut words = vec![None; markers.len()];
    let deadline = Instant::now() + Duration::from_secs(20);
    while words.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, word)) => words[i] = Some(word),
            Err(_) => panic!("the process did not log {markers:?} within 20 s"),
        }
    }
    (Proc { child }, words.into_iter().flatten().collect())
}

/// The `host:port` of a logged URL (`http://127.0.0.1:4000/` gives `127.0.0.1:4000`).
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, a)| a);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// Starts a coordinator on a free port; returns it and its URL (read from its log line).
pub fn coordinator(extra: &[&str]) -> (Proc, String) {
    let mut cmd = Command::new(bin("chirpfarm-coordinator"));
    cmd.args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "info");
    let (p, words) = spawn_and_read(cmd, &["listening on "]);
    // The log line is a URL (`http://` or `https://`): keep host:port.
    (p, format!("http://{}", host_port(&words[0])))
}

/// One HTTP/1.1 GET of `path` on `addr` over a fresh connection, with an optional bearer
/// token: (status code, body), or `None` when the server cannot be reached or its answer is
/// cut short.
pub fn try_http_get(addr: &str, path: &str, bearer: Option<&str>) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// [`try_http_get`], panicking when it fails.
pub fn http_get(addr: &str, path: &str, bearer: Option<&str>) -> (u16, String) {
    try_http_get(addr, path, bearer).unwrap_or_else(|| panic!("GET http://{addr}{path} failed"))
}

/// Starts a worker process with `threads` threads against `url`.
pub fn worker(url: &str, name: &str, threads: usize, extra: &[&str]) -> Proc {
    let child = Command::new(bin("chirpfarm-worker"))
        .args(["--coordinator", url, "--name", name, "--threads"])
        .arg(threads.to_string())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start worker");
    Proc { child }
}

/// Polls `chirpfarm workers` until `n` workers are listed (or panics after 20 s).
pub fn wait_workers(url: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = chirpfarm(&["workers", "--coordinator", url]);
        let listed = String::from_utf8_lossy(&out.stdout)
            .lines()
            .count()
            .saturating_sub(1);
        if listed >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {listed} of {n} workers registered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A free loopback address (bound and released), for processes that must come back on the same
/// port after a restart.
pub fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Starts a coordinator on a fixed address with its log discarded, and waits until it accepts
/// connections.
pub fn coordinator_at(addr: &str, extra: &[&str]) -> Proc {
    let p = Proc {
        child: Command::new(bin("chirpfarm-coordinator"))
            .args(["--listen", addr])
            .args(extra)
            .stderr(Stdio::null())
            .spawn()
            .expect("start coordinator"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "coordinator did not listen on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// Path of a file under `tests/fixtures/`.
pub fn fixture(rel: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(rel)
        .display()
        .to_string()
}

/// The farm tests' data search: 64 s of coloured noise with an injection, in 16 s segments
/// padded 2 s (5 segments), against 1,201 templates — a few seconds of work on one core.
pub fn data_search_args() -> Vec<String> {
    [
        "--data",
        &fixture("data_filter/strain.npy"),
        "--sample-rate",
        "1024",
        "--gps-start",
        "1000000000",
        "--segment-length",
        "16",
        "--segment-pad",
        "2",
        "--f-low",
        "30",
        "--bank",
        "1.0:1.6:0.0005",
        "--snr-threshold",
        "5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
