//! `chirpfarm health` against a real coordinator on 127.0.0.1: exit 0 while it serves (no token
//! needed, though the coordinator requires one), 1 while it drains on SIGTERM, 3 when nothing
//! listens, 2 for bad input; one clear line each, without gRPC codes or enum names.

mod common;
use common::{chirpfarm, coordinator, free_addr, worker};
use std::process::Output;
use std::time::{Duration, Instant};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failure is one plain line that names no gRPC internals.
fn one_clear_line(out: &Output) {
    let e = stderr(out);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    for internal in [
        "NotFound",
        "NOT_SERVING",
        "NotServing",
        "Code",
        "status:",
        "panicked",
    ] {
        assert!(!e.contains(internal), "{internal} in {e}");
    }
}

#[test]
fn exit_codes_follow_the_coordinator() {
    let dir = std::env::temp_dir().join(format!("chirpfarm-health-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tok = dir.join("token");
    std::fs::write(&tok, "health-secret\n").unwrap();
    let tok = tok.to_str().unwrap().to_string();
    let (coord, url) = coordinator(&[
        "--token-file",
        &tok,
        "--heartbeat-timeout",
        "60",
        "--shutdown-grace",
        "30",
    ]);

    // Serving: no token needed for health, for the server and each service.
    let out = chirpfarm(&["health", "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("is serving"));
    for service in ["chirpfarm.v1.Client", "chirpfarm.v1.WorkerSession"] {
        let out = chirpfarm(&["health", "--coordinator", &url, "--service", service]);
        assert_eq!(out.status.code(), Some(0), "{service}: {}", stderr(&out));
    }
    // ...while the chirpfarm services still want it.
    assert_eq!(
        chirpfarm(&["jobs", "--coordinator", &url]).status.code(),
        Some(2)
    );
    let out = chirpfarm(&[
        "health",
        "--coordinator",
        &url,
        "--service",
        "no.such.Service",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("does not know that service"),
        "{}",
        stderr(&out)
    );
    one_clear_line(&out);

    // Draining: a stopped worker holds leases, so SIGTERM leaves the coordinator draining (up
    // to --shutdown-grace), and health says so.
    let held = worker(&url, "held", 1, &["--token-file", &tok]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = chirpfarm(&["workers", "--coordinator", &url, "--token-file", &tok]);
        if String::from_utf8_lossy(&out.stdout).contains("held") {
            break;
        }
        assert!(Instant::now() < deadline, "the worker did not register");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300)); // its credits reach the coordinator
    held.signal(19);
    let out = chirpfarm(&[
        "submit",
        "--signal-mc",
        "1.2",
        "--coordinator",
        &url,
        "--token-file",
        &tok,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::thread::sleep(Duration::from_millis(300)); // leases go out to the stopped worker
    coord.signal(15);
    let deadline = Instant::now() + Duration::from_secs(15);
    let draining = loop {
        let out = chirpfarm(&["health", "--coordinator", &url]);
        if out.status.code() != Some(0) {
            break out;
        }
        assert!(
            Instant::now() < deadline,
            "health stayed SERVING after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(draining.status.code(), Some(1), "{}", stderr(&draining));
    assert!(
        stderr(&draining).contains("is not serving"),
        "{}",
        stderr(&draining)
    );
    one_clear_line(&draining);
    held.signal(18);
    drop(held);
    drop(coord);

    // Unreachable: a closed port on 127.0.0.1.
    let closed = format!("http://{}", free_addr());
    let out = chirpfarm(&["health", "--coordinator", &closed]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    one_clear_line(&out);

    // Bad input.
    let out = chirpfarm(&["health"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no coordinator"), "{}", stderr(&out));
    let out = chirpfarm(&["health", "--coordinator", "ftp://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    one_clear_line(&out);
    std::fs::remove_dir_all(&dir).ok();
}
