//! Every row of the exit-code table (`chirpfarm_core::ExitKind`) triggered for real, with the
//! binaries, on 127.0.0.1: bad input (2), a wrong token for the CLI and the worker (2), a
//! closed port and a port that does not speak gRPC (3), an address without a scheme (2), a
//! stdout closed by its reader (`| head`: 0, quietly), and `--json` errors as one JSON object.

mod common;

use common::{bin, chirpfarm, coordinator, free_addr, Proc};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code and that stderr is one `error:` line containing `needle`.
fn assert_error(out: &std::process::Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    for code_name in [
        "Internal",
        "Unavailable",
        "Unknown:",
        "PERMISSION_DENIED",
        "PermissionDenied",
        "Unauthenticated",
        "FailedPrecondition",
        "panicked",
    ] {
        assert!(!err.contains(code_name), "{code_name} in {err}");
    }
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("chirpfarm-exit-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// A listener on 127.0.0.1 that answers every connection as an HTTP/1.1 server would (a
/// `400 Bad Request`) and closes it: a port that is open but not a chirpfarm coordinator.
fn http1_listener() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                // Let the client read the reply before the connection closes.
                std::thread::sleep(Duration::from_millis(500));
            });
        }
    });
    addr
}

#[test]
fn bad_usage_and_bad_files_exit_2() {
    let out = chirpfarm(&["search", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = chirpfarm(&[
        "search",
        "--bank-file",
        "/nonexistent/chirpfarm-bank.txt",
        "--signal-mc",
        "1.2",
    ]);
    assert_error(&out, 2, "/nonexistent/chirpfarm-bank.txt");
}

#[test]
fn every_help_prints_the_exit_code_table() {
    for (program, args) in [
        (
            PathBuf::from(env!("CARGO_BIN_EXE_chirpfarm")),
            vec!["--help"],
        ),
        (
            PathBuf::from(env!("CARGO_BIN_EXE_chirpfarm")),
            vec!["search", "--help"],
        ),
        (
            PathBuf::from(env!("CARGO_BIN_EXE_chirpfarm")),
            vec!["bench", "filter", "--help"],
        ),
        (bin("chirpfarm-worker"), vec!["--help"]),
        (bin("chirpfarm-coordinator"), vec!["--help"]),
    ] {
        let out = Command::new(&program).args(&args).output().unwrap();
        assert!(out.status.success(), "{program:?} {args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains(&chirpfarm_core_help()),
            "{program:?} {args:?}: {help}"
        );
    }
}

/// The table as `chirpfarm_core::exit::help` writes it (the tests do not link the core crate,
/// so the rows are checked by their codes and words).
fn chirpfarm_core_help() -> String {
    [
        "Exit codes:",
        "    0  success",
        "    1  failure: the job failed or was cancelled, or the server reported an error",
        "    2  bad input: usage, files, values, a wrong or missing token",
        "    3  cannot reach the coordinator: network, TLS handshake, not a chirpfarm server",
        "  130  interrupted (Ctrl-C, SIGINT)",
        "  143  terminated (SIGTERM)",
    ]
    .join("\n")
}

#[test]
fn a_closed_port_exits_3() {
    let addr = free_addr();
    let url = format!("http://{addr}");
    let out = chirpfarm(&["jobs", "--coordinator", &url]);
    assert_error(&out, 3, &format!("cannot reach the coordinator at {url}"));
}

#[test]
fn a_port_that_is_not_grpc_exits_3_and_says_so() {
    let addr = http1_listener();
    let url = format!("http://{addr}");
    let expected = format!(
        "error: {addr} did not answer as a chirpfarm coordinator (not gRPC/HTTP/2: is it the right port?)\n"
    );
    for args in [
        vec!["jobs", "--coordinator", &url],
        vec!["submit", "--signal-mc", "1.2", "--coordinator", &url],
    ] {
        let out = chirpfarm(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), expected, "{args:?}");
    }
}

#[test]
fn an_address_without_scheme_exits_2_with_the_fix() {
    for addr in ["lab1:50051", "127.0.0.1:50051"] {
        let out = chirpfarm(&["jobs", "--coordinator", addr]);
        assert_eq!(
            stderr(&out),
            format!(
                "error: coordinator address \"{addr}\" has no scheme: did you mean http://{addr} (or https:// with --ca-file)?\n"
            )
        );
        assert_eq!(out.status.code(), Some(2));
    }
    // The worker stops at once instead of retrying an address it can never use.
    let started = Instant::now();
    let out = Command::new(bin("chirpfarm-worker"))
        .args(["--coordinator", "lab1:50051", "--threads", "1"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did you mean http://lab1:50051"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_wrong_token_exits_2_for_the_cli_and_the_worker() {
    let dir = TempDir::new("token");
    let right = dir.file("right", "right-secret\n");
    let wrong = dir.file("wrong", "wrong-secret\n");
    let (_c, url) = coordinator(&["--token-file", &right]);
    let out = chirpfarm(&["jobs", "--coordinator", &url, "--token-file", &wrong]);
    assert_error(&out, 2, "wrong token");
    let out = Command::new(bin("chirpfarm-worker"))
        .args([
            "--coordinator",
            &url,
            "--threads",
            "1",
            "--token-file",
            &wrong,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut worker = Proc { child: out };
    assert_eq!(worker.wait_exit(Duration::from_secs(20)), Some(2));
    let mut err = String::new();
    worker
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("error: the coordinator refused this worker: wrong token"),
        "{err}"
    );
    // The right token still works.
    let out = chirpfarm(&["jobs", "--coordinator", &url, "--token-file", &right]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_worker_keeps_retrying_an_unreachable_but_valid_address() {
    let url = format!("http://{}", free_addr());
    let mut worker = common::worker(&url, "patient", 1, &[]);
    // Still running after several back-off rounds.
    assert_eq!(worker.wait_exit(Duration::from_secs(3)), None);
}

#[test]
fn the_coordinator_logs_its_address_as_a_url() {
    let mut child = Command::new(bin("chirpfarm-coordinator"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _coordinator = Proc { child };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening on ") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a log line");
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
}

#[test]
fn json_errors_are_one_object_on_stderr() {
    for args in [
        vec![
            "submit",
            "--json",
            "--signal-mc",
            "1.2",
            "--coordinator",
            "lab1:1",
        ],
        vec![
            "search",
            "--json",
            "--bank-file",
            "/nonexistent/b.txt",
            "--signal-mc",
            "1.2",
        ],
        vec!["search", "--json", "--no-such-flag"],
    ] {
        let out = chirpfarm(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stderr)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stderr(&out)));
        assert_eq!(v["error"]["code"], 2, "{v}");
        assert_eq!(v["error"]["kind"], "bad_input", "{v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty(), "{v}");
    }
    let out = chirpfarm(&[
        "submit",
        "--json",
        "--signal-mc",
        "1.2",
        "--coordinator",
        &format!("http://{}", free_addr()),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON on stderr");
    assert_eq!(v["error"]["code"], 3, "{v}");
    assert_eq!(v["error"]["kind"], "unreachable", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach the coordinator"),
        "{v}"
    );
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn submit_and_detach_print_the_job_as_json() {
    let (_c, url) = coordinator(&[]);
    let out = chirpfarm(&[
        "submit",
        "--json",
        "--signal-mc",
        "1.2",
        "--coordinator",
        &url,
    ]);
    let v = common::json(&out);
    let job = v["job"].as_str().expect("a job id");
    assert!(job.starts_with("job-"), "{v}");
    let out = chirpfarm(&[
        "search",
        "--detach",
        "--json",
        "--signal-mc",
        "1.2",
        "--coordinator",
        &url,
    ]);
    let v = common::json(&out);
    let second = v["job"].as_str().expect("a job id");
    assert!(second.starts_with("job-") && second != job, "{v}");
    // Without --json, the bare id.
    let out = chirpfarm(&["submit", "--signal-mc", "1.2", "--coordinator", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.trim().starts_with("job-") && !text.contains('{'),
        "{text}"
    );
}

#[test]
fn a_reader_that_stops_early_is_a_quiet_success() {
    // 940 templates x 4 signals as CSV: about 200 KB, more than a pipe holds, so the writer
    // must meet the closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_chirpfarm"))
        .args([
            "search",
            "--bank",
            "0.8:1.74:0.001",
            "--signal-mc",
            "1.2,1.3,1.4,1.5",
            "--csv",
            "--quiet",
            "--threads",
            "2",
        ])
        .env_remove("CHIRPFARM_COORDINATOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut search = Proc { child };
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with("signal_index,"), "{first}");
    drop(reader);
    let code = search.wait_exit(Duration::from_secs(120));
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err, "");
}
