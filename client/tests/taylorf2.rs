//! `chirpfarm search --approximant taylorf2` on the embedded cluster: a data search over a
//! (mass1, mass2, spins) bank with LAL's TaylorF2 templates, and every misuse refused with exit 2
//! and a message naming the fix.

mod common;
use common::{chirpfarm, json};
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(rel)
        .display()
        .to_string()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("chirpfarm-f2-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A data search over `search/strain.hdf5` (4 s segments, aLIGO PSD) with `extra` arguments.
fn search(bank: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = [
        "search",
        "--data",
        &fixture("search/strain.hdf5"),
        "--segment-length",
        "4",
        "--psd",
        "aligo",
        "--snr-threshold",
        "2",
        "--bank-file",
        bank.to_str().unwrap(),
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    chirpfarm(&refs)
}

#[test]
fn taylorf2_search_runs_and_differs_from_newtonian() {
    let d = tmpdir("run");
    let bank = d.join("bank.csv");
    std::fs::write(
        &bank,
        "mass1,mass2,spin1z,spin2z\n1.4,1.3,0.1,-0.1\n10,8,0.5,0.5\n",
    )
    .unwrap();
    let f2 = json(&search(&bank, &["--approximant", "taylorf2"]));
    let newt = json(&search(&bank, &["--approximant", "newtonian"]));
    let cut = json(&search(
        &bank,
        &["--approximant", "taylorf2", "--f-final", "100"],
    ));
    let snr = |v: &serde_json::Value, i: usize| v["templates"][i]["max_snr"].as_f64().unwrap();
    for i in 0..2 {
        assert!(snr(&f2, i) > 0.0 && snr(&f2, i).is_finite());
        assert_ne!(snr(&f2, i), snr(&newt, i));
        assert_ne!(snr(&f2, i), snr(&cut, i));
    }
    assert_eq!(f2["templates"][1]["mass1"].as_f64(), Some(10.0));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn misuse_is_refused_with_exit_2() {
    let d = tmpdir("bad");
    let mc_bank = d.join("mc.txt");
    std::fs::write(&mc_bank, "1.2\n1.3\n").unwrap();
    let params = d.join("bank.csv");
    std::fs::write(&params, "mass1,mass2\n1.4,1.3\n").unwrap();
    let expect = |out: std::process::Output, needle: &str| {
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{needle:?} not in {err}");
    };
    // Signal (seed) searches stay Newtonian.
    expect(
        chirpfarm(&["search", "--signal-mc", "1.2", "--approximant", "taylorf2"]),
        "--data",
    );
    // A chirp-mass bank cannot describe TaylorF2 templates.
    expect(
        search(&mc_bank, &["--approximant", "taylorf2"]),
        "mass1,mass2",
    );
    expect(
        search(&params, &["--approximant", "imrphenomd"]),
        "taylorf2",
    );
    expect(
        search(&params, &["--approximant", "taylorf2", "--f-final", "10"]),
        "--f-final",
    );
    expect(search(&params, &["--f-final", "500"]), "--f-final");
    // A 300 M☉ template ends (ISCO ~15 Hz) below the band.
    let heavy = d.join("heavy.csv");
    std::fs::write(&heavy, "mass1,mass2\n1.4,1.3\n150,150\n").unwrap();
    expect(
        // Past the default chirp-mass range too: widen it to reach the TaylorF2 check.
        search(
            &heavy,
            &["--approximant", "taylorf2", "--mc-range", "0.1:200"],
        ),
        "bank template 1 (mass1 150, mass2 150)",
    );
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn help_documents_the_flags() {
    let out = chirpfarm(&["search", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--approximant") && help.contains("--f-final"),
        "{help}"
    );
    assert!(help.contains("SimInspiralChooseFDWaveform"), "{help}");
}
