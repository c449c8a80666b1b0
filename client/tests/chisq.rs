//! The power χ² and newSNR through the whole CLI path (`chirpfarm search --data`): PyCBC's
//! numbers from `tests/fixtures/chisq` in the JSON, CSV and HDF5 outputs, `--rank newsnr`
//! picking the injection over the glitch, `--newsnr-threshold`, and bad χ² options (exit 2).

mod common;
use common::{chirpfarm, json};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(rel)
}

/// float values of a little-endian `<f4`/`<f8` .npy file (version 1 header), as f64.
fn npy(path: &Path) -> Vec<f64> {
    let b = std::fs::read(path).unwrap();
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = String::from_utf8_lossy(&b[10..10 + hlen]).to_string();
    let data = &b[10 + hlen..];
    if header.contains("<f4") {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect()
    } else {
        data.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }
}

/// Writes `v` as a 1-D `<f8` .npy file.
fn write_npy(path: &Path, v: &[f64]) {
    let mut h = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}",
        v.len()
    );
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    for x in v {
        b.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

const GPS: f64 = 1_000_000_000.0;

/// The chisq fixture's data (glitched strain, PSD, bank) written to `dir`, and the CLI
/// arguments of its search (one 64 s segment analysed over [4 s, 60 s), f_low 30 Hz, 0.5 s
/// windows, threshold 5.5).
fn setup(dir: &Path) -> (Value, Vec<String>) {
    std::fs::create_dir_all(dir).unwrap();
    let fx: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("chisq/chisq.json")).unwrap())
            .unwrap();
    let mut strain = npy(&fixture("data_filter/strain.npy"));
    strain[fx["glitch_sample"].as_u64().unwrap() as usize] +=
        fx["glitch_amplitude"].as_f64().unwrap();
    write_npy(&dir.join("strain.npy"), &strain);
    let df = fx["sample_rate"].as_f64().unwrap() / fx["n"].as_f64().unwrap();
    let psd: String = npy(&fixture("data_filter/psd.npy"))
        .iter()
        .enumerate()
        .map(|(k, v)| format!("{:?} {:?}\n", k as f64 * df, v))
        .collect();
    std::fs::write(dir.join("psd.txt"), psd).unwrap();
    let bank: String = fx["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{:?}\n", t["mc"].as_f64().unwrap()))
        .collect();
    std::fs::write(dir.join("bank.txt"), bank).unwrap();
    let p = |f: &str| dir.join(f).display().to_string();
    let args = [
        "search",
        "--data",
        &p("strain.npy"),
        "--sample-rate",
        "1024",
        "--gps-start",
        &format!("{GPS}"),
        "--segment-length",
        "64",
        "--segment-pad",
        "4",
        "--f-low",
        "30",
        "--psd",
        &p("psd.txt"),
        "--bank-file",
        &p("bank.txt"),
        "--snr-threshold",
        "5.5",
        "--cluster-window",
        "0.5",
    ]
    .map(String::from)
    .to_vec();
    (fx, args)
}

fn run(args: &[String], extra: &[&str]) -> std::process::Output {
    let mut a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    a.extend_from_slice(extra);
    chirpfarm(&a)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn chisq_and_newsnr_equal_pycbc_through_the_cli() {
    let dir = std::env::temp_dir().join(format!("chirpfarm-chisq-{}", std::process::id()));
    let (fx, args) = setup(&dir);
    let v = json(&run(&args, &["--rank", "newsnr", "--json"]));
    assert_eq!(v["data"]["chisq_bins"], 16);
    assert_eq!(v["data"]["rank"], "newsnr");
    let triggers = v["triggers"].as_array().unwrap();
    let (mut worst, mut checked) = (0f64, 0);
    for (ti, t) in fx["templates"].as_array().unwrap().iter().enumerate() {
        let points: Vec<u64> = t["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        let mine: Vec<&Value> = triggers
            .iter()
            .filter(|x| x["template_index"] == ti)
            .collect();
        assert_eq!(mine.len(), t["triggers"].as_array().unwrap().len());
        for x in mine {
            let sample = ((x["time"].as_f64().unwrap() - GPS) * 1024.0).round() as u64;
            let i = points.iter().position(|&p| p == sample).unwrap();
            assert_eq!(x["chisq_dof"], 30);
            worst = worst
                .max(rel(
                    x["chisq"].as_f64().unwrap(),
                    t["chisq"]["16"][i].as_f64().unwrap(),
                ))
                .max(rel(
                    x["newsnr"].as_f64().unwrap(),
                    t["newsnr"]["16"][i].as_f64().unwrap(),
                ));
            checked += 1;
        }
    }
    eprintln!("{checked} triggers through the CLI: χ², newSNR within {worst:.1e} of PyCBC");
    assert!(checked > 30 && worst <= 1e-6);
    // Ranked by newSNR, Mc 1.3's best is the injection, not the (louder) glitch.
    let best = &v["templates"][1];
    let inj = fx["injection_sample"].as_f64().unwrap();
    assert!((best["max_time"].as_f64().unwrap() - GPS - inj / 1024.0).abs() <= 1.5 / 1024.0);
    // By SNR, the glitch.
    let by_snr = json(&run(&args, &["--json"]));
    let glitch = fx["glitch_sample"].as_f64().unwrap() / 1024.0;
    assert!((by_snr["templates"][1]["max_time"].as_f64().unwrap() - GPS - glitch).abs() < 0.5);
    assert_eq!(
        by_snr["triggers"], v["triggers"],
        "the rank never changes the triggers"
    );
    // A newSNR cut drops the glitch's triggers and keeps the injection.
    let cut = json(&run(&args, &["--newsnr-threshold", "8", "--json"]));
    let cut = cut["triggers"].as_array().unwrap();
    assert!(!cut.is_empty() && cut.len() < triggers.len());
    assert!(cut.iter().all(|x| x["newsnr"].as_f64().unwrap() >= 8.0));
    // CSV and HDF5 columns.
    let out = run(
        &args,
        &[
            "--csv",
            "--output",
            &dir.join("t.hdf5").display().to_string(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        csv.lines().next(),
        Some("template_index,template_mc,segment,time,snr,phase,sigmasq,chisq,chisq_dof,newsnr")
    );
    let h5 = dir.join("t.hdf5");
    let chisq = chirpfarm_strain::h5::read_f64_dataset(&h5, "chisq").unwrap();
    assert_eq!(chisq.len(), triggers.len());
    for (c, x) in chisq
        .iter()
        .zip(&by_snr["triggers"].as_array().unwrap()[..])
    {
        assert_eq!(*c, x["chisq"].as_f64().unwrap());
    }
    // Without χ²: no χ² columns, the old output.
    let off = json(&run(&args, &["--chisq-bins", "0", "--json"]));
    assert!(off["triggers"][0].get("chisq").is_none());
    assert_eq!(off["triggers"].as_array().unwrap().len(), triggers.len());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_chisq_options_exit_2() {
    let dir = std::env::temp_dir().join(format!("chirpfarm-chisq-bad-{}", std::process::id()));
    let (_, args) = setup(&dir);
    for (extra, needle) in [
        (&["--chisq-bins", "1"][..], "--chisq-bins"),
        (&["--chisq-bins", "100000"][..], "--chisq-bins"),
        (&["--chisq-bins=-3"][..], "--chisq-bins"),
        (
            &["--chisq-bins", "0", "--rank", "newsnr"][..],
            "--rank newsnr",
        ),
        (&["--rank", "loudness"][..], "loudness"),
        (&["--newsnr-threshold=-1"][..], "--newsnr-threshold"),
        (
            &["--chisq-bins", "0", "--newsnr-threshold", "6"][..],
            "--newsnr-threshold",
        ),
    ] {
        let out = run(&args, extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: {err:?} lacks {needle:?}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
