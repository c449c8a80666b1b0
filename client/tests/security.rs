//! The binaries with security on, over 127.0.0.1: a search over mutual TLS with a token per
//! role, the refusals (a worker without a certificate, tokens of the wrong role, a URL whose
//! scheme does not match the server) and the refusal to expose a coordinator without TLS and
//! tokens. Certificates: `tests/fixtures/tls/` (made by `deploy/tls/make-dev-ca.sh`).

mod common;

use common::{bin, chirpfarm, coordinator, json, worker};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tls")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A temporary directory holding a client token and a worker token, removed on drop.
struct Tokens {
    dir: PathBuf,
}

impl Tokens {
    fn new(tag: &str) -> Tokens {
        let dir = std::env::temp_dir().join(format!("chirpfarm-sec-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("client"), "client-secret\n").unwrap();
        std::fs::write(dir.join("worker"), "worker-secret\n").unwrap();
        Tokens { dir }
    }

    fn path(&self, role: &str) -> String {
        self.dir.join(role).to_string_lossy().into_owned()
    }
}

impl Drop for Tokens {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_search_over_mutual_tls_with_tokens_per_role() {
    let t = Tokens::new("mtls");
    let (cert, key, ca) = (
        fixture("server.pem"),
        fixture("server.key"),
        fixture("ca.pem"),
    );
    let (_coord, url) = coordinator(&[
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--client-ca",
        &ca,
        "--client-token-file",
        &t.path("client"),
        "--worker-token-file",
        &t.path("worker"),
    ]);
    let url = url.replace("http://", "https://");
    let (wcert, wkey) = (fixture("worker.pem"), fixture("worker.key"));
    // A worker without a client certificate is refused, and says why.
    let nocert = Command::new(bin("chirpfarm-worker"))
        .args(["--coordinator", &url, "--ca-file", &ca, "--threads", "1"])
        .args(["--token-file", &t.path("worker")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(nocert.status.code(), Some(2), "{}", stderr(&nocert));
    assert!(
        stderr(&nocert).contains("client certificate signed by --client-ca"),
        "{}",
        stderr(&nocert)
    );
    // With its certificate and the worker token it serves the search.
    let _w = worker(
        &url,
        "mtls",
        1,
        &[
            "--ca-file",
            &ca,
            "--tls-cert",
            &wcert,
            "--tls-key",
            &wkey,
            "--token-file",
            &t.path("worker"),
        ],
    );
    let remote = |token: &str| {
        vec![
            "--coordinator".to_string(),
            url.clone(),
            "--ca-file".into(),
            ca.clone(),
            "--token-file".into(),
            t.path(token),
        ]
    };
    let mut args = vec!["search", "--signal-mc", "1.2", "--json"];
    let client = remote("client");
    args.extend(client.iter().map(String::as_str));
    let out = chirpfarm(&args);
    assert_eq!(json(&out)["signals"][0]["best"]["template_index"], 40);
    // The worker's token does not work on Client RPCs.
    let mut args = vec!["jobs"];
    let as_worker = remote("worker");
    args.extend(as_worker.iter().map(String::as_str));
    let out = chirpfarm(&args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("this is a worker token; Client RPCs need a client token"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn urls_must_match_the_server_about_tls() {
    let ca = fixture("ca.pem");
    // https:// to a plaintext coordinator.
    let (_plain, url) = coordinator(&[]);
    let https = url.replace("http://", "https://");
    let out = chirpfarm(&["jobs", "--coordinator", &https, "--ca-file", &ca]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is it serving plaintext?"),
        "{}",
        stderr(&out)
    );
    // https:// without a CA, and a CA with http://: refused before connecting.
    let out = chirpfarm(&["jobs", "--coordinator", &https]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--ca-file"), "{}", stderr(&out));
    let out = chirpfarm(&["jobs", "--coordinator", &url, "--ca-file", &ca]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("use https://"), "{}", stderr(&out));
    // http:// to a TLS coordinator.
    let (cert, key) = (fixture("server.pem"), fixture("server.key"));
    let (_tls, url) = coordinator(&["--tls-cert", &cert, "--tls-key", &key]);
    let out = chirpfarm(&["jobs", "--coordinator", &url]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("requires TLS: connect with https://"),
        "{}",
        stderr(&out)
    );
    // A worker pointed at it with http:// stops with the same explanation.
    let mut w = worker(&url, "plain", 1, &[]);
    assert_eq!(w.wait_exit(Duration::from_secs(20)), Some(3));
}

#[test]
fn an_exposed_coordinator_needs_tls_and_tokens() {
    // Refused before binding: nothing listens on 0.0.0.0, and no traffic is sent.
    let out = Command::new(bin("chirpfarm-coordinator"))
        .args(["--listen", "0.0.0.0:0"])
        .env_remove("CHIRPFARM_TOKEN_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("refusing to listen on 0.0.0.0:0 without TLS") && e.contains("--insecure"),
        "{e}"
    );
    // A token alone is not enough.
    let t = Tokens::new("exposed");
    let out = Command::new(bin("chirpfarm-coordinator"))
        .args(["--listen", "0.0.0.0:0", "--token-file", &t.path("client")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("without TLS (--tls-cert/--tls-key)"),
        "{}",
        stderr(&out)
    );
}

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

#[test]
fn out_of_file_descriptors_the_coordinator_pauses_instead_of_spinning() {
    // 48 descriptors: the sockets below exhaust them, so accept() fails with EMFILE while
    // connections wait in the backlog (a listener that is always "ready").
    let addr = common::free_addr();
    let script = format!(
        "ulimit -n 48 && exec {} --listen {addr} --handshake-timeout 30",
        bin("chirpfarm-coordinator").display()
    );
    let mut coord = common::Proc {
        child: Command::new("bash")
            .args(["-c", &script])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let pid = coord.child.id();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut silent = Vec::new();
    while silent.is_empty() {
        match std::net::TcpStream::connect(&addr) {
            Ok(s) => silent.push(s),
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("coordinator did not listen: {e}"),
        }
    }
    for _ in 0..80 {
        silent.push(std::net::TcpStream::connect(&addr).unwrap());
    }
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(pid) - before;
    assert!(used < 0.5, "the coordinator used {used:.2} s of CPU in 2 s");
    // The silent sockets go away; the coordinator serves again.
    drop(silent);
    let url = format!("http://{addr}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let out = chirpfarm(&["jobs", "--coordinator", &url]);
        if out.status.success() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", stderr(&out));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        coord.child.try_wait().unwrap(),
        None,
        "the coordinator is still running"
    );
    coord.signal(15);
}
