//! `chirpfarm search --data` end to end on the embedded cluster: PyCBC's numbers through the whole
//! path (file → PSD file on the segment grid → upload → farm → JSON), identical triggers from
//! every input format, and every bad input's message and exit code.

mod common;
use common::{chirpfarm, json};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(rel)
        .display()
        .to_string()
}

/// A fresh directory per call: tests run in parallel threads of one process, and several run
/// the same fixture search (the same name), so the process id alone is not unique.
fn tmpdir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("chirpfarm-data-{name}-{}-{k}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// float64 values of a little-endian `<f8` .npy file (version 1 header).
fn npy_f64(path: &str) -> Vec<f64> {
    let b = std::fs::read(path).unwrap();
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    b[10 + hlen..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

const GPS: f64 = 1_000_000_000.0;

/// Runs the PyCBC fixture's search (64 s at 1024 Hz, one segment, no padding) through the CLI.
fn pycbc_fixture_search(threshold: &str, extra: &[&str]) -> (Value, Value) {
    let fx: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("data_filter/filter.json")).unwrap())
            .unwrap();
    let dir = tmpdir(&format!("pycbc{threshold}"));
    // The fixture's PSD on the segment grid, as a two-column file: used as is, bit for bit.
    let psd = npy_f64(&fixture("data_filter/psd.npy"));
    let df = fx["sample_rate"].as_f64().unwrap() / fx["n"].as_f64().unwrap();
    let text: String = psd
        .iter()
        .enumerate()
        .map(|(k, v)| format!("{:?} {:?}\n", k as f64 * df, v))
        .collect();
    let psd_file = dir.join("psd.txt");
    std::fs::write(&psd_file, text).unwrap();
    let bank: String = fx["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{:?}\n", t["mc"].as_f64().unwrap()))
        .collect();
    let bank_file = dir.join("bank.txt");
    std::fs::write(&bank_file, bank).unwrap();
    let mut args = vec![
        "search".to_string(),
        "--data".into(),
        fixture("data_filter/strain.npy"),
        "--sample-rate".into(),
        "1024".into(),
        "--gps-start".into(),
        format!("{GPS}"),
        "--segment-length".into(),
        "64".into(),
        "--segment-pad".into(),
        "0".into(),
        "--f-low".into(),
        "30".into(),
        "--psd".into(),
        psd_file.display().to_string(),
        "--bank-file".into(),
        bank_file.display().to_string(),
        "--snr-threshold".into(),
        threshold.into(),
        "--cluster-window".into(),
        "0.5".into(),
        "--json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let v = json(&chirpfarm(&refs));
    let _ = std::fs::remove_dir_all(dir);
    (v, fx)
}

#[test]
fn data_search_gives_pycbcs_numbers_through_the_farm() {
    let (v, fx) = pycbc_fixture_search("4.0", &[]);
    assert_eq!(v["version"], 2);
    assert_eq!(v["data"]["segments"], 1);
    let rate = 1024.0;
    let templates = v["templates"].as_array().unwrap();
    let want = fx["templates"].as_array().unwrap();
    assert_eq!(templates.len(), want.len());
    for (got, w) in templates.iter().zip(want) {
        let (g, e) = (
            got["max_snr"].as_f64().unwrap(),
            w["max_snr"].as_f64().unwrap(),
        );
        assert!(rel(g, e) <= 1e-6, "max SNR {g} vs PyCBC {e}");
        let sample = w["argmax"].as_f64().unwrap();
        assert_eq!(got["max_time"].as_f64().unwrap(), GPS + sample / rate);
    }
    // Clustered triggers equal PyCBC's threshold_and_cluster over the whole series.
    let triggers = v["triggers"].as_array().unwrap();
    let mut expected = 0;
    for (ti, w) in want.iter().enumerate() {
        let cl = w["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["threshold"].as_f64() == Some(4.0) && c["slice"][0] == 0)
            .expect("fixture has threshold 4 over the whole segment");
        let ours: Vec<&Value> = triggers
            .iter()
            .filter(|t| t["template_index"] == ti)
            .collect();
        let idx = cl["index"].as_array().unwrap();
        assert_eq!(ours.len(), idx.len(), "template {ti}: trigger count");
        for (k, t) in ours.iter().enumerate() {
            let sample = idx[k].as_f64().unwrap();
            assert_eq!(t["time"].as_f64().unwrap(), GPS + sample / rate);
            let e = cl["snr"][k].as_f64().unwrap();
            assert!(rel(t["snr"].as_f64().unwrap(), e) <= 1e-6);
            let dphi = (t["phase"].as_f64().unwrap() - cl["phase"][k].as_f64().unwrap()).abs();
            assert!(dphi.min(2.0 * std::f64::consts::PI - dphi) < 1e-6);
            assert!(
                rel(
                    t["sigmasq"].as_f64().unwrap(),
                    w["sigmasq"].as_f64().unwrap()
                ) < 1e-9
            );
        }
        expected += idx.len();
    }
    assert_eq!(triggers.len(), expected);
    // The injection's own template finds it at its time, with the expected SNR.
    let inj = &fx["injection"];
    let ti = want
        .iter()
        .position(|t| t["mc"] == inj["mc"])
        .expect("the injection's template is in the bank");
    let t = &templates[ti];
    let dt =
        (t["max_time"].as_f64().unwrap() - (GPS + inj["sample"].as_f64().unwrap() / rate)).abs();
    assert!(dt <= 1.0 / rate + 1e-9, "found {dt} s away");
    let snr = t["max_snr"].as_f64().unwrap();
    assert!(
        rel(snr, inj["optimal_snr"].as_f64().unwrap()) < 0.05,
        "SNR {snr}"
    );
}

#[test]
fn hdf5_npy_and_text_give_identical_triggers() {
    let common = [
        "--segment-length",
        "4",
        "--segment-pad",
        "0.5",
        "--f-low",
        "20",
        "--psd",
        "aligo",
        "--bank",
        "1.2:1.4:0.05",
        "--snr-threshold",
        "2",
        "--cluster-window",
        "0.25",
        "--json",
    ];
    let run = |file: &str, extra: &[&str]| {
        let mut a = vec!["search", "--data", file];
        a.extend_from_slice(extra);
        a.extend_from_slice(&common);
        let mut v = json(&chirpfarm(&a));
        v["data"]["file"] = Value::Null;
        v["stats"] = Value::Null;
        v
    };
    let rate_gps = ["--sample-rate", "1024", "--gps-start", "1126259462"];
    let hdf5 = run(&fixture("search/strain.hdf5"), &[]);
    assert!(!hdf5["triggers"].as_array().unwrap().is_empty());
    assert_eq!(hdf5["data"]["gps_start"].as_f64(), Some(1126259462.0));
    assert_eq!(hdf5["data"]["sample_rate"].as_f64(), Some(1024.0));
    assert_eq!(
        hdf5["data"]["segments"], 3,
        "8 s in 4 s segments padded 0.5 s"
    );
    assert_eq!(run(&fixture("search/strain.npy"), &rate_gps), hdf5);
    assert_eq!(run(&fixture("search/strain_1col.txt"), &rate_gps), hdf5);
    assert_eq!(run(&fixture("search/strain_2col.txt"), &[]), hdf5);
}

#[test]
fn csv_has_one_row_per_trigger_and_the_table_a_summary() {
    let (v, _) = pycbc_fixture_search("4.0", &[]);
    let n = v["triggers"].as_array().unwrap().len();
    let (csv, _) = {
        let out = chirpfarm(&[
            "search",
            "--data",
            &fixture("search/strain.hdf5"),
            "--segment-length",
            "4",
            "--psd",
            "aligo",
            "--bank",
            "1.2:1.4:0.05",
            "--snr-threshold",
            "2",
            "--csv",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (String::from_utf8(out.stdout).unwrap(), ())
    };
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("template_index,template_mc,segment,time,snr,phase,sigmasq,chisq,chisq_dof,newsnr")
    );
    assert!(lines.count() > 0);
    assert!(n > 0);
    let out = chirpfarm(&[
        "search",
        "--data",
        &fixture("search/strain.hdf5"),
        "--segment-length",
        "4",
        "--psd",
        "aligo",
        "--bank",
        "1.2:1.4:0.05",
    ]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("loudest template"), "{table}");
    assert!(table.contains("segment(s) of 4 s"), "{table}");
}

#[test]
fn bad_data_is_refused_with_a_clear_message() {
    let d = tmpdir("bad");
    let short = d.join("short.txt");
    std::fs::write(&short, "0 1e-21\n0.0009765625 2e-21\n").unwrap();
    let psd_bad = d.join("psd.txt");
    std::fs::write(&psd_bad, "10 1e-46\n20 oops\n").unwrap();
    let npy = fixture("search/strain.npy");
    let hdf5 = fixture("search/strain.hdf5");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                fixture("strain/bad_nan.npy"),
                "--sample-rate".into(),
                "4096".into(),
                "--gps-start".into(),
                "0".into(),
            ],
            "bad_nan.npy",
        ),
        (vec![fixture("strain/bad_rate_1000.hdf5")], "power of two"),
        (
            vec![fixture("strain/bad_missing_dataset.hdf5")],
            "strain/Strain",
        ),
        (
            vec![fixture("strain/bad_truncated.hdf5")],
            "bad_truncated.hdf5",
        ),
        (vec![npy.clone()], "--sample-rate"),
        (
            vec![short.display().to_string()],
            "shorter than one segment",
        ),
        (
            vec![hdf5.clone(), "--segment-length".into(), "3".into()],
            "power of two",
        ),
        (
            vec![
                hdf5.clone(),
                "--segment-length".into(),
                "4".into(),
                "--segment-pad".into(),
                "2".into(),
            ],
            "half the segment",
        ),
        (
            vec![
                hdf5.clone(),
                "--segment-length".into(),
                "4".into(),
                "--psd".into(),
                psd_bad.display().to_string(),
            ],
            "psd.txt",
        ),
        (
            vec![
                hdf5.clone(),
                "--segment-length".into(),
                "4".into(),
                "--psd".into(),
                "/nonexistent/psd.txt".into(),
            ],
            "/nonexistent/psd.txt",
        ),
        (
            vec![
                hdf5.clone(),
                "--segment-length".into(),
                "4".into(),
                "--f-low".into(),
                "600".into(),
            ],
            "Nyquist",
        ),
        (
            vec![
                hdf5.clone(),
                "--segment-length".into(),
                "4".into(),
                "--snr-threshold".into(),
                "-1".into(),
            ],
            "threshold",
        ),
        (
            vec!["/nonexistent/data.hdf5".into()],
            "/nonexistent/data.hdf5",
        ),
    ];
    for (args, needle) in cases {
        let mut a = vec!["search".to_string(), "--data".into()];
        a.extend(args);
        let refs: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        let out = chirpfarm(&refs);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{a:?}: {err}");
        assert!(err.contains(needle), "{a:?}: {err:?} lacks {needle:?}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A data search cannot also have signals.
    let out = chirpfarm(&["search", "--data", &hdf5, "--signal-mc", "1.2"]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn triggers_are_written_to_hdf5() {
    let d = tmpdir("h5out");
    let out_file = d.join("triggers.hdf5");
    let (v, _) = pycbc_fixture_search("4.0", &["--output", out_file.to_str().unwrap()]);
    let snr = chirpfarm_strain::h5::read_f64_dataset(&out_file, "snr").unwrap();
    let time = chirpfarm_strain::h5::read_f64_dataset(&out_file, "time").unwrap();
    let triggers = v["triggers"].as_array().unwrap();
    assert_eq!(snr.len(), triggers.len());
    for (i, t) in triggers.iter().enumerate() {
        assert_eq!(snr[i], t["snr"].as_f64().unwrap());
        assert_eq!(time[i], t["time"].as_f64().unwrap());
    }
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_bank_of_component_masses_gives_the_chirp_mass_bank_results() {
    let d = tmpdir("params");
    let pairs: [(f64, f64); 3] = [(1.4, 1.3), (1.6, 1.1), (2.0, 1.0)];
    let table: String = std::iter::once("mass1,mass2,spin1z,spin2z\n".to_string())
        .chain(pairs.iter().map(|(a, b)| format!("{a},{b},0.1,-0.1\n")))
        .collect();
    std::fs::write(d.join("bank2d.csv"), table).unwrap();
    let args = |bank: &str| {
        vec![
            "search".to_string(),
            "--data".into(),
            fixture("search/strain.hdf5"),
            "--segment-length".into(),
            "4".into(),
            "--psd".into(),
            "aligo".into(),
            "--snr-threshold".into(),
            "2".into(),
            "--bank-file".into(),
            bank.into(),
            "--json".into(),
        ]
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        json(&chirpfarm(&refs))
    };
    let v = run(args(d.join("bank2d.csv").to_str().unwrap()));
    let t = &v["templates"];
    assert_eq!(t[2]["mass1"].as_f64(), Some(2.0));
    assert_eq!(t[0]["spin2z"].as_f64(), Some(-0.1));
    assert_eq!(v["bank"]["mass2"][1].as_f64(), Some(1.1));
    // The Newtonian chirp depends on the chirp mass only: the same search over the chirp masses.
    let mcs: Vec<f64> = v["bank"]["mc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_f64().unwrap())
        .collect();
    let (a, b) = pairs[0];
    assert!((mcs[0] - (a * b).powf(0.6) / (a + b).powf(0.2)).abs() < 1e-15);
    let list: String = mcs.iter().map(|m| format!("{m:?}\n")).collect();
    std::fs::write(d.join("mc.txt"), list).unwrap();
    let w = run(args(d.join("mc.txt").to_str().unwrap()));
    assert_eq!(v["triggers"], w["triggers"]);
    for (x, y) in t
        .as_array()
        .unwrap()
        .iter()
        .zip(w["templates"].as_array().unwrap())
    {
        assert_eq!(x["max_snr"], y["max_snr"]);
        assert_eq!(x["max_time"], y["max_time"]);
    }
    // A bad header or a bad spin is refused with the file named.
    std::fs::write(d.join("bad.csv"), "mass1,q\n1,2\n").unwrap();
    let out = chirpfarm(
        &args(d.join("bad.csv").to_str().unwrap())
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    );
    assert_eq!(out.status.code(), Some(2));
    // With --json the error is one JSON object on stderr: its message names file and column.
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).expect("a JSON error");
    let msg = err["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("bad.csv") && msg.contains("\"q\""), "{err}");
    let _ = std::fs::remove_dir_all(d);
}
