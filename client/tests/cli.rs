//! The `chirpfarm` binary on the embedded cluster: JSON schema, numbers, and every bad input's
//! message and exit code.

mod common;
use common::{chirpfarm, json};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn seed_script_one_on_the_embedded_cluster() {
    let v = json(&chirpfarm(&["search", "--signal-mc", "1.2", "--json"]));
    assert_eq!(v["version"], 1);
    assert_eq!(v["snr_convention"], "seed");
    let bank = v["bank"]["mc"].as_array().unwrap();
    assert_eq!(bank.len(), 94);
    assert_eq!(bank[40].as_f64(), Some(1.2000000000000004));
    let s = &v["signals"][0];
    assert_eq!(s["mc"].as_f64(), Some(1.2));
    assert_eq!(s["best"]["template_index"], 40);
    assert_eq!(s["best"]["mc"].as_f64(), Some(1.2000000000000004));
    assert_eq!(s["best"]["lag_seconds"].as_f64(), Some(0.0));
    // physics.md §6 (numpy): the seed bank against template(1.2).
    let snr = s["snr"].as_array().unwrap();
    assert_eq!(snr.len(), 94);
    for (i, want) in [
        (40, 1.34354793106145e-09),
        (39, 3.27536868680727e-10),
        (41, 3.2612152827296e-10),
        (20, 6.76879670506865e-11),
        (70, 7.2395107046175e-11),
    ] {
        let got = snr[i].as_f64().unwrap();
        assert!(rel(got, want) < 1e-9, "template {i}: {got} vs {want}");
    }
    assert_eq!(v["stats"]["templates"], 94);
    assert_eq!(v["stats"]["signals"], 1);
    assert!(v["stats"]["wall_seconds"].as_f64().unwrap() > 0.0);
    assert!(v["stats"]["workers"].as_u64().unwrap() >= 1);
}

#[test]
fn signals_keep_their_order_and_best_matches_nearest_template() {
    let v = json(&chirpfarm(&[
        "search",
        "--signal-mc",
        "1.5,0.9",
        "--signal-mc",
        "1.3",
        "--json",
        "--bank",
        "0.8:1.74:0.05",
    ]));
    let mcs: Vec<f64> = v["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["mc"].as_f64().unwrap())
        .collect();
    assert_eq!(mcs, vec![1.5, 0.9, 1.3]);
    let bank = v["bank"]["mc"].as_array().unwrap();
    for s in v["signals"].as_array().unwrap() {
        let best = s["best"]["mc"].as_f64().unwrap();
        let mc = s["mc"].as_f64().unwrap();
        let nearest = bank
            .iter()
            .map(|m| m.as_f64().unwrap())
            .min_by(|a, b| (a - mc).abs().total_cmp(&(b - mc).abs()))
            .unwrap();
        assert_eq!(best, nearest, "signal {mc}");
    }
}

#[test]
fn random_signals_are_reproducible_and_csv_has_every_row() {
    let a = json(&chirpfarm(&[
        "search",
        "--random-signals",
        "3",
        "--seed",
        "5",
        "--json",
        "--bank",
        "0.8:1.74:0.1",
    ]));
    let b = json(&chirpfarm(&[
        "search",
        "--random-signals",
        "3",
        "--seed",
        "5",
        "--json",
        "--bank",
        "0.8:1.74:0.1",
    ]));
    assert_eq!(a["signals"], b["signals"]);
    let csv = chirpfarm(&[
        "search",
        "--random-signals",
        "3",
        "--seed",
        "5",
        "--csv",
        "--bank",
        "0.8:1.74:0.1",
    ]);
    assert!(csv.status.success());
    let text = String::from_utf8(csv.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "signal_index,signal_mc,template_index,template_mc,snr,lag_seconds"
    );
    assert_eq!(lines.len(), 1 + 3 * 10);
    // The CSV's numbers are the JSON's numbers.
    let row: Vec<&str> = lines[1 + 10 + 4].split(',').collect();
    assert_eq!(row[0], "1");
    assert_eq!(row[2], "4");
    let snr: f64 = row[4].parse().unwrap();
    assert_eq!(Some(snr), a["signals"][1]["snr"][4].as_f64());
}

#[test]
fn physical_convention_is_reported() {
    let v = json(&chirpfarm(&[
        "search",
        "--signal-mc",
        "1.2",
        "--snr-convention",
        "physical",
        "--json",
        "--bank",
        "1.1:1.3:0.1",
    ]));
    assert_eq!(v["snr_convention"], "physical");
    // A unit-norm template against itself gives |SNR| = sigma of the signal; its best is 1.2.
    assert_eq!(v["signals"][0]["best"]["template_index"], 1);
}

fn assert_bad(args: &[&str], needle: &str) {
    let out = chirpfarm(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    assert!(out.stdout.is_empty(), "{args:?} printed results");
}

#[test]
fn bad_inputs_exit_2_with_a_clear_message() {
    assert_bad(
        &["search", "--signal-mc", "-1"],
        "chirp mass must be a positive finite number",
    );
    assert_bad(&["search", "--signal-mc", "0"], "got 0");
    assert_bad(&["search", "--signal-mc", "nan"], "got NaN");
    assert_bad(&["search", "--signal-mc", "inf"], "got inf");
    assert_bad(&["search", "--signal-mc", "abc"], "\"abc\" is not a number");
    assert_bad(&["search"], "no signal given");
    assert_bad(
        &["search", "--signal-mc", "1.2", "--bank", "1:2:0"],
        "bank step must be a positive",
    );
    assert_bad(
        &["search", "--signal-mc", "1.2", "--bank", "1:2:-0.1"],
        "bank step",
    );
    assert_bad(
        &["search", "--signal-mc", "1.2", "--bank", "2:1:0.1"],
        "the bank is empty",
    );
    assert_bad(
        &["search", "--signal-mc", "1.2", "--bank", "1:2"],
        "expected START:STOP:STEP",
    );
    assert_bad(
        &["search", "--signal-mc", "1.2", "--bank", "0.8:1000:0.0001"],
        "more than the limit of 1000000",
    );
    assert_bad(
        &[
            "search",
            "--bank",
            "0.8:1.74:0.00001",
            "--random-signals",
            "2000",
        ],
        "more than the limit of 100000000 results",
    );
    assert_bad(
        &["search", "--signal-mc", "1.2", "--max-templates", "10"],
        "94 templates, more than the limit of 10",
    );
    assert_bad(
        &["search", "--signal-mc", "1.2", "--bank", "-1:1:0.5"],
        "chirp mass must be a positive",
    );
    assert_bad(
        &[
            "search",
            "--signal-mc",
            "1.2",
            "--bank-file",
            "/nonexistent/bank.txt",
        ],
        "cannot read bank file",
    );
    let dir = std::env::temp_dir().join(format!("chirpfarm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bank.txt");
    std::fs::write(&f, "1.0\n1.1\n# comment\n1.2x\n").unwrap();
    assert_bad(
        &[
            "search",
            "--signal-mc",
            "1.2",
            "--bank-file",
            f.to_str().unwrap(),
        ],
        "line 4: \"1.2x\" is not a number",
    );
    std::fs::write(&f, "\n# nothing\n").unwrap();
    assert_bad(
        &[
            "search",
            "--signal-mc",
            "1.2",
            "--bank-file",
            f.to_str().unwrap(),
        ],
        "the bank is empty",
    );
    std::fs::write(&f, "1.0\n1.25\n").unwrap();
    let v = json(&chirpfarm(&[
        "search",
        "--signal-mc",
        "1.25",
        "--bank-file",
        f.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["signals"][0]["best"]["template_index"], 1);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn help_mentions_the_segment_caveat_and_bench_prints_json() {
    let out = chirpfarm(&["search", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("0.69"), "{help}");
    assert!(help.contains("--snr-convention"));
    let out = chirpfarm(&["bench", "filter", "--json", "--iters", "3"]);
    let v = json(&out);
    assert_eq!(v["threads"], 1);
    assert_eq!(v["n"], 131072);
    assert_eq!(v["precision"], "f64");
    assert!(v["per_template_seconds"].as_f64().unwrap() > 0.0);
}

#[test]
fn unreachable_coordinator_exits_3() {
    let out = chirpfarm(&[
        "search",
        "--signal-mc",
        "1.2",
        "--coordinator",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the coordinator"));
}
