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

/// Starts a coordinator on a free port; returns it and its URL (read from its log line).
pub fn coordinator(extra: &[&str]) -> (Proc, String) {
    let mut child = Command::new(bin("chirpfarm-coordinator"))
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start coordinator");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    // The log line is a URL (`http://` or `https://`): keep host:port.
                    let url = rest.split_whitespace().next().unwrap_or("");
                    let addr = url.split_once("://").map_or(url, |(_, a)| a).to_string();
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("coordinator printed its address");
    (Proc { child }, format!("http://{addr}"))
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
