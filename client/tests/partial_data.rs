//! `chirpfarm watch --partial` of a data search, with real processes on loopback: a job
//! cancelled part-way prints the peaks and triggers of the result units that arrived, each
//! bit-identical to the complete (embedded) search's, lists the missing units, and exits 1.

mod common;
use common::data_search_args as search_args;
use common::{chirpfarm, coordinator, json, wait_workers, worker};
use serde_json::Value;
use std::time::{Duration, Instant};

fn run(args: Vec<String>) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    chirpfarm(&refs)
}

/// `templates_done` of `job` in `jobs --json`.
fn done(url: &str, job: &str) -> u64 {
    let jobs = json(&chirpfarm(&["jobs", "--json", "--coordinator", url]));
    jobs.as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == job)
        .and_then(|j| j["templates_done"].as_u64())
        .unwrap_or(0)
}

#[test]
fn a_cancelled_data_search_prints_what_arrived_bit_identical() {
    let mut a = vec!["search".to_string()];
    a.extend(search_args());
    a.extend(["--json".into(), "-q".into()]);
    let want = json(&run(a));
    let templates = 1201u64;

    let (_c, url) = coordinator(&[]);
    let _w = worker(&url, "slow", 1, &[]);
    wait_workers(&url, 1);
    let mut a = vec!["submit".to_string()];
    a.extend(search_args());
    a.extend(["--chunk-size".into(), "20".into(), "--coordinator".into()]);
    a.push(url.clone());
    let out = run(a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    while done(&url, &job) < 200 {
        assert!(Instant::now() < deadline, "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = chirpfarm(&["cancel", &job, "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(0));

    let out = chirpfarm(&[
        "watch",
        &job,
        "--partial",
        "--json",
        "-q",
        "--coordinator",
        &url,
    ]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cancelled") && err.contains("partial"),
        "{err}"
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(got["complete"], false);
    assert_eq!(got["state"], "cancelled");
    let total = got["stats"]["units_total"].as_u64().unwrap();
    assert_eq!(total % templates, 0, "units are templates × segment groups");
    let groups = total / templates;
    let missing: Vec<(u64, u64)> = got["missing_units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_u64().unwrap(), r[1].as_u64().unwrap()))
        .collect();
    let missing_count: u64 = missing.iter().map(|(a, b)| b - a).sum();
    assert_eq!(got["stats"]["units_missing"], missing_count);
    assert!(
        missing_count > 0 && missing_count < total,
        "{missing_count}"
    );
    let is_missing = |u: u64| missing.iter().any(|&(a, b)| (a..b).contains(&u));

    // Each template present: complete ones equal the full search's peak to the bit; others
    // are the loudest of the groups that arrived, so never louder.
    let want_templates = want["templates"].as_array().unwrap();
    let mut complete = 0;
    for t in got["templates"].as_array().unwrap() {
        let i = t["index"].as_u64().unwrap();
        let w = &want_templates[i as usize];
        assert_eq!(t["mc"], w["mc"], "template {i}");
        let all = (0..groups).all(|g| !is_missing(g * templates + i));
        if all {
            complete += 1;
            assert_eq!(t["max_snr"], w["max_snr"], "template {i}");
            assert_eq!(t["max_time"], w["max_time"], "template {i}");
        } else {
            assert!(
                t["max_snr"].as_f64() <= w["max_snr"].as_f64(),
                "template {i}"
            );
        }
    }
    assert!(complete > 0, "some templates arrived whole");
    // A template left out is one none of whose units arrived.
    let present: Vec<u64> = got["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["index"].as_u64().unwrap())
        .collect();
    for i in (0..templates).filter(|i| !present.contains(i)) {
        assert!((0..groups).all(|g| is_missing(g * templates + i)), "{i}");
    }
    // Every trigger printed is one of the full search's, identical (bank indices).
    let want_triggers = want["triggers"].as_array().unwrap();
    let got_triggers = got["triggers"].as_array().unwrap();
    for t in got_triggers {
        assert!(want_triggers.contains(t), "{t} is not in the full search");
    }
    // The table says it too.
    let out = chirpfarm(&["watch", &job, "--partial", "-q", "--coordinator", &url]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("PARTIAL: ")), "{text}");
}
