//! `--injections` beyond `search` (`submit` checks the list, `watch` matches it against a
//! remote job's triggers, as `search` does) and `simulate --f-final` (TaylorF2 injections end
//! where `search --f-final` ends its templates), with real processes on loopback.

mod common;
use common::{chirpfarm, coordinator, json, wait_workers, worker};
use std::path::{Path, PathBuf};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("chirpfarm-injcli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// 64 s of aLIGO noise with one Newtonian injection at SNR 12, and its injection list.
fn simulated(dir: &Path) -> (String, String) {
    let data = dir.join("d.hdf5");
    let out = chirpfarm(&[
        "simulate",
        "--duration",
        "64",
        "--f-low",
        "40",
        "--seed",
        "5",
        "--inject",
        "mass1=1.4,mass2=1.4,snr=12,time=1000000040.5",
        "-o",
        &s(&data),
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    (s(&data), s(&dir.join("d.hdf5.injections.csv")))
}

/// The data search's arguments (with `--data`).
fn search_args(data: &str) -> Vec<String> {
    [
        "--data",
        data,
        "--bank",
        "1.1:1.3:0.01",
        "--psd",
        "aligo",
        "--f-low",
        "40",
        "--segment-length",
        "64",
        "--segment-pad",
        "0",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

#[test]
fn watch_matches_injections_as_search_does_and_submit_checks_them_first() {
    let dir = tmpdir("watch");
    let (data, list) = simulated(&dir);
    let mut a: Vec<String> = vec!["search".into()];
    a.extend(search_args(&data));
    a.extend(["--injections".into(), list.clone(), "--json".into()]);
    let refs: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
    let reference = json(&chirpfarm(&refs));
    assert_eq!(reference["injections"][0]["status"], "found");

    let (_coord, url) = coordinator(&[]);
    let _w = worker(&url, "inj", 1, &[]);
    wait_workers(&url, 1);
    // submit --injections: checked, then the job is queued and the hint names watch.
    let mut a: Vec<String> = vec!["submit".into()];
    a.extend(search_args(&data));
    a.extend(["--injections".into(), list.clone(), "--coordinator".into()]);
    a.push(url.clone());
    let refs: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
    let out = chirpfarm(&refs);
    assert!(out.status.success(), "{}", stderr(&out));
    let job = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        stderr(&out).contains(&format!("chirpfarm watch {job} --injections")),
        "{}",
        stderr(&out)
    );
    let got = json(&chirpfarm(&[
        "watch",
        &job,
        "--injections",
        &list,
        "--json",
        "-q",
        "--coordinator",
        &url,
    ]));
    // The same matching over the same triggers: identical to the embedded search's.
    assert_eq!(got["injections"], reference["injections"]);
    assert_eq!(got["injection_summary"], reference["injection_summary"]);
    assert_eq!(got["triggers"], reference["triggers"]);

    // A bad list is refused before anything is queued (exit 2, the file named).
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "time,mass1\n1,2\n").unwrap();
    let before = chirpfarm(&["jobs", "--json", "--coordinator", &url]);
    let mut a: Vec<String> = vec!["submit".into()];
    a.extend(search_args(&data));
    a.extend(["--injections".into(), s(&bad), "--coordinator".into()]);
    a.push(url.clone());
    let refs: Vec<&str> = a.iter().map(|x| x.as_str()).collect();
    let out = chirpfarm(&refs);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no mass2"), "{}", stderr(&out));
    let after = chirpfarm(&["jobs", "--json", "--coordinator", &url]);
    assert_eq!(json(&before), json(&after), "nothing was queued");

    // A signal search has no triggers: watch and submit say so (exit 2).
    let out = chirpfarm(&["submit", "--signal-mc", "1.2", "--coordinator", &url]);
    let signal_job = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = chirpfarm(&[
        "watch",
        &signal_job,
        "--injections",
        &list,
        "--coordinator",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is a signal search"),
        "{}",
        stderr(&out)
    );
    let out = chirpfarm(&[
        "submit",
        "--signal-mc",
        "1.2",
        "--injections",
        &list,
        "--coordinator",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--injections applies to data searches"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The optimal SNR of a TaylorF2 injection ended at 200 Hz: simulate picks the distance
/// PyCBC's `sigma` of the same truncated waveform gives (tests/fixtures/simulate/
/// check_f_final.py: 230.93209047872725 Mpc for SNR 12), and the search's own template with
/// the same --f-final recovers it exactly, without noise.
#[test]
fn simulate_f_final_ends_taylorf2_injections_as_search_ends_templates() {
    let dir = tmpdir("ffinal");
    let data = dir.join("d.hdf5");
    let inject = "mass1=1.4,mass2=1.3,spin1z=0.3,spin2z=-0.1,snr=12,time=1000000040.25";
    let base = [
        "simulate",
        "--duration",
        "64",
        "--f-low",
        "40",
        "--no-noise",
        "--approximant",
        "taylorf2",
        "--inject",
        inject,
        "-q",
    ];
    let d = s(&data);
    let mut args = base.to_vec();
    args.extend(["--f-final", "200", "-o", &d]);
    let out = chirpfarm(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let bank = dir.join("bank.csv");
    std::fs::write(&bank, "mass1,mass2,spin1z,spin2z\n1.4,1.3,0.3,-0.1\n").unwrap();
    let list = s(&dir.join("d.hdf5.injections.csv"));
    let v = json(&chirpfarm(&[
        "search",
        "--data",
        &d,
        "--bank-file",
        &s(&bank),
        "--approximant",
        "taylorf2",
        "--f-final",
        "200",
        "--psd",
        "aligo",
        "--f-low",
        "40",
        "--segment-length",
        "64",
        "--segment-pad",
        "0",
        "--injections",
        &list,
        "--json",
    ]));
    let f = &v["injections"][0];
    let distance = f["distance"].as_f64().unwrap();
    assert!(
        (distance / 230.93209047872725 - 1.0).abs() < 1e-9,
        "distance {distance}"
    );
    assert_eq!(f["status"], "found");
    assert_eq!(f["offset_samples"], 0);
    let r = f["snr_ratio"].as_f64().unwrap();
    assert!((r - 1.0).abs() < 1e-6, "recovered/optimal {r}");

    // Refused: a Newtonian injection (it runs to Nyquist), and f_final not above f_low.
    let cases: [(&[&str], &str); 2] = [
        (
            &["--approximant", "newtonian"],
            "applies to --approximant taylorf2",
        ),
        (&["--f-final", "40"], "above --f-low"),
    ];
    for (extra, want) in cases {
        let mut args: Vec<&str> = base
            .iter()
            .copied()
            .filter(|a| *a != "taylorf2" && *a != "--approximant")
            .collect();
        if extra[0] == "--f-final" {
            args.extend(["--approximant", "taylorf2"]);
        } else {
            args.extend(["--f-final", "200"]);
        }
        args.extend(extra);
        args.extend(["-o", &d]);
        let out = chirpfarm(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{extra:?}: {}", stderr(&out));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
