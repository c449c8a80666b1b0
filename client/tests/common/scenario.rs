//! The shared fault scenario: a 940-template bank × 10 signals, its fault-free reference, and
//! the check that a faulty run gave bit-identical results.

use super::{chirpfarm, json, wait_workers, worker, Proc};
use std::time::Instant;

/// 940 templates.
pub const BANK: &str = "0.8:1.74:0.001";
/// Random signals per job.
pub const SIGNALS: &str = "10";

/// The fault-free result of the scenario's search (embedded cluster).
pub fn reference() -> serde_json::Value {
    json(&chirpfarm(&[
        "search",
        "--bank",
        BANK,
        "--random-signals",
        SIGNALS,
        "--seed",
        "11",
        "--json",
        "--quiet",
    ]))
}

/// Submits the scenario's search; returns the job id.
pub fn submit(url: &str) -> String {
    let out = chirpfarm(&[
        "submit",
        "--bank",
        BANK,
        "--random-signals",
        SIGNALS,
        "--seed",
        "11",
        "--coordinator",
        url,
        "--chunk-size",
        "40",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Waits for a job and returns its JSON result.
pub fn watch(url: &str, job: &str) -> serde_json::Value {
    json(&chirpfarm(&[
        "watch",
        job,
        "--json",
        "--quiet",
        "--coordinator",
        url,
    ]))
}

/// Asserts the results equal the reference bit for bit, with no hole or duplicate, and prints
/// the scenario's summary line.
pub fn assert_identical(
    got: &serde_json::Value,
    want: &serde_json::Value,
    scenario: &str,
    t0: Instant,
) {
    assert_eq!(got["bank"], want["bank"], "{scenario}");
    assert_eq!(
        got["signals"], want["signals"],
        "{scenario}: results differ from the reference run"
    );
    let count = |doc: &serde_json::Value| -> usize {
        doc["signals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["snr"].as_array().unwrap().len())
            .sum()
    };
    assert_eq!(
        count(got),
        count(want),
        "{scenario}: missing or duplicate templates"
    );
    println!(
        "scenario={scenario} job_seconds={:.2} identical=yes",
        t0.elapsed().as_secs_f64()
    );
}

/// Starts three one-thread workers and waits until they are registered.
pub fn three_workers(url: &str) -> Vec<Proc> {
    let w = (1..=3)
        .map(|i| worker(url, &format!("w{i}"), 1, &[]))
        .collect();
    wait_workers(url, 3);
    w
}
