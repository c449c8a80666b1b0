//! `chirpfarm bank` end to end: placement, --check, bank files in a search, and bad input (exit 2).

use std::process::{Command, Output};

fn chirpfarm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chirpfarm"))
        .args(args)
        .output()
        .expect("run chirpfarm")
}

#[test]
fn place_check_and_search_with_a_small_bank() {
    let dir = std::env::temp_dir().join(format!("chirpfarm-bank-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["bank.csv", "bank.hdf5"] {
        let path = dir.join(name);
        let p = path.to_str().unwrap();
        let out = chirpfarm(&[
            "bank", "--mass1", "1.3:1.5", "--mass2", "1.2:1.4", "--f-low", "40", "-o", p, "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let n = j["templates"].as_u64().unwrap();
        assert!(n > 5 && n < 1000, "{j}");
        // The check reads region, MM and band from the file.
        let out = chirpfarm(&["bank", "--check", p, "--injections", "20", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(j["templates"].as_u64().unwrap(), n);
        assert!(j["summary"]["min"].as_f64().unwrap() > 0.965, "{j}");
        assert_eq!(j["f_low"].as_f64().unwrap(), 40.0);
        // A search takes the bank file (CSV or HDF5) as it is.
        let out = chirpfarm(&["search", "--bank-file", p, "--signal-mc", "1.2", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    for (args, says) in [
        (
            vec!["bank", "--mass1", "3:1", "--mass2", "1:3", "-o", "x.csv"],
            "--mass1",
        ),
        (vec!["bank", "--mass1", "1:3", "-o", "x.csv"], "--mass2"),
        (
            vec![
                "bank",
                "--mass1",
                "1:3",
                "--mass2",
                "1:3",
                "--min-match",
                "1.2",
                "-o",
                "x.csv",
            ],
            "--min-match",
        ),
        (
            vec![
                "bank",
                "--mass1",
                "1:3",
                "--mass2",
                "1:3",
                "--psd",
                "/nonexistent.txt",
                "-o",
                "x.csv",
            ],
            "nonexistent",
        ),
        (
            vec!["bank", "--check", "/nonexistent.csv"],
            "nonexistent.csv",
        ),
        (
            vec![
                "search",
                "--bank-file",
                "/nonexistent.hdf5",
                "--signal-mc",
                "1.2",
            ],
            "nonexistent.hdf5",
        ),
    ] {
        let out = chirpfarm(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(says) && err.starts_with("error: "),
            "{args:?}: {err}"
        );
    }
}

/// `bank --check` runs its matches as data searches on the embedded farm by default: the same
/// fitting factors as the in-process matcher, less the sub-sample part of the time
/// maximisation (the farm's lags are the data's samples at 8192 Hz; the matcher refines the
/// peak between them), and never more.
#[test]
fn check_on_the_farm_matches_the_in_process_check() {
    let dir = std::env::temp_dir().join(format!("chirpfarm-bank-farm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bank.csv");
    let p = path.to_str().unwrap();
    let out = chirpfarm(&[
        "bank", "--mass1", "1.3:1.5", "--mass2", "1.2:1.4", "--f-low", "40", "-o", p,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = |extra: &[&str]| {
        let mut args = vec![
            "bank",
            "--check",
            p,
            "--injections",
            "16",
            "--seed",
            "3",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = chirpfarm(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let farm = run(&[]);
    let local = run(&["--in-process"]);
    assert_eq!(farm["computed"], "embedded farm");
    assert_eq!(local["computed"], "in-process");
    let (a, b) = (
        farm["injections"].as_array().unwrap(),
        local["injections"].as_array().unwrap(),
    );
    assert_eq!(a.len(), 16);
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x["mass1"], y["mass1"]);
        let (f, l) = (
            x["fitting_factor"].as_f64().unwrap(),
            y["fitting_factor"].as_f64().unwrap(),
        );
        // Sample-discrete vs refined peak: the farm is a lower bound, within 2e-3.
        assert!(f <= l + 1e-9 && l - f < 2e-3, "farm {f} vs in-process {l}");
        assert!(f >= 0.97 - 5e-3, "FF {f} below the minimal match");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
