//! `chirpfarm simulate` and `search --injections`, end to end, with real numbers:
//! injections found at the right sample with their optimal SNR, noise-only triggers at the rate
//! Gaussian noise predicts, every output format searchable, and bad input refused with exit 2.

mod common;
use common::{chirpfarm, json};
use serde_json::Value;
use std::path::PathBuf;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("chirpfarm-sim-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

const GPS: f64 = 1_000_000_000.0;

/// 256 s at 2048 Hz, aLIGO noise from 40 Hz, six Newtonian injections at SNR 10–20, searched
/// with the injected masses' templates: all found within ±1 sample, SNR within 10 %.
#[test]
fn injections_are_found_at_their_sample_with_their_snr() {
    let dir = tmpdir("found");
    let data = dir.join("data.hdf5");
    // (mass1, mass2, snr, seconds after the start); chirps from 40 Hz last < 30 s.
    let inj = [
        (1.4, 1.3, 10.0, 40.25),
        (1.2, 1.2, 12.0, 70.5),
        (1.6, 1.4, 14.0, 101.0),
        (2.0, 1.5, 16.0, 131.75),
        (1.4, 1.4, 18.0, 160.0),
        (1.8, 1.1, 20.0, 190.5),
    ];
    let mut args: Vec<String> = [
        "simulate",
        "--duration",
        "256",
        "--sample-rate",
        "2048",
        "--psd",
        "aligo",
        "--f-low",
        "40",
        "--seed",
        "7",
        "--gps-start",
        "1000000000",
        "-o",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.push(s(&data));
    for (m1, m2, snr, t) in inj {
        args.push("--inject".into());
        args.push(format!("mass1={m1},mass2={m2},snr={snr},time={}", GPS + t));
    }
    let out = chirpfarm(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = dir.join("data.hdf5.injections.csv");
    let text = std::fs::read_to_string(&list).unwrap();
    assert!(text.contains("time,mass1,mass2,spin1z,spin2z,coa_phase,distance,optimal_snr"));
    let bank = dir.join("bank.csv");
    let mut b = "mass1,mass2\n".to_string();
    for (m1, m2, _, _) in inj {
        b.push_str(&format!("{m1},{m2}\n"));
    }
    std::fs::write(&bank, b).unwrap();
    let out = chirpfarm(&[
        "search",
        "--data",
        &s(&data),
        "--bank-file",
        &s(&bank),
        "--psd",
        "aligo",
        "--f-low",
        "40",
        "--segment-length",
        "128",
        "--segment-pad",
        "32",
        "--snr-threshold",
        "6",
        "--injections",
        &s(&list),
        "--json",
    ]);
    let v = json(&out);
    let found = v["injections"].as_array().unwrap();
    assert_eq!(found.len(), 6);
    assert_eq!(
        v["injection_summary"]["found"], 6,
        "{}",
        v["injection_summary"]
    );
    let mut ratios = Vec::new();
    for (i, f) in found.iter().enumerate() {
        let ratio = f["snr_ratio"].as_f64().unwrap();
        let offset = f["offset_samples"].as_i64().unwrap();
        eprintln!(
            "injection {i}: optimal {} recovered {} ratio {ratio:.4} offset {offset} template {}",
            f["optimal_snr"], f["snr"], f["template_index"]
        );
        assert_eq!(f["status"], "found");
        assert!(offset.abs() <= 1, "injection {i}: offset {offset} samples");
        // Unit-variance noise in each quadrature: ±3 SNR units is 3σ (plus the small upward
        // bias of maximising over time and phase).
        let (opt, rec) = (
            f["optimal_snr"].as_f64().unwrap(),
            f["snr"].as_f64().unwrap(),
        );
        assert!((rec - opt).abs() < 3.0, "injection {i}: {rec} vs {opt}");
        ratios.push(ratio);
        assert_eq!(
            f["template_index"], i,
            "injection {i}: its own template is the loudest"
        );
    }
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    eprintln!("mean recovered/optimal SNR {mean:.4}");
    assert!((mean - 1.0).abs() < 0.1, "mean ratio {mean}");
    // The table names the summary.
    let out = chirpfarm(&[
        "search",
        "--data",
        &s(&data),
        "--bank-file",
        &s(&bank),
        "--psd",
        "aligo",
        "--f-low",
        "40",
        "--segment-length",
        "128",
        "--segment-pad",
        "32",
        "--snr-threshold",
        "6",
        "--injections",
        &s(&list),
    ]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("found 6/6 injections"), "{table}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Noise only, one template, a one-sample cluster window: the farm's triggers are exactly the
/// local maxima of |z| above the threshold (PyCBC's `threshold_and_cluster` with window 1) of
/// the SNR series computed by the worker's reference filter on the same file — whose per-sample
/// statistics are Gaussian (tests/simulate_stats.rs: ⟨ρ²⟩ = 2, P(ρ > t) = exp(−t²/2)). Also
/// checked here: the fraction of samples above t in that series is exp(−t²/2) within 4σ
/// (batch means).
#[test]
fn noise_only_triggers_are_the_gaussian_series_peaks() {
    use chirpfarm_worker::engine::data::grid::DataGrid;
    use chirpfarm_worker::engine::data::{condition_segment, newtonian_template, snr_series};
    let dir = tmpdir("rate");
    let data = dir.join("noise.npy");
    let out = chirpfarm(&[
        "simulate",
        "--duration",
        "64",
        "--f-low",
        "30",
        "--seed",
        "5",
        "-o",
        &s(&data),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sample-rate 2048"));
    let t = 3.5;
    let trig = dir.join("trig.hdf5");
    let v: Value = json(&chirpfarm(&[
        "search",
        "--data",
        &s(&data),
        "--sample-rate",
        "2048",
        "--gps-start",
        "1000000000",
        "--bank",
        "1.2:1.25:0.1",
        "--psd",
        "aligo",
        "--f-low",
        "30",
        "--segment-length",
        "64",
        "--segment-pad",
        "0",
        "--snr-threshold",
        &t.to_string(),
        "--cluster-window",
        &(1.0 / 2048.0).to_string(),
        "--output",
        &s(&trig),
        "--json",
    ]));
    assert_eq!(v["data"]["segments"], 1);
    let times: Vec<f64> = chirpfarm_strain::h5::read_f64_dataset(&trig, "time").unwrap();
    let farm: Vec<usize> = times
        .iter()
        .map(|&x| ((x - GPS) * 2048.0).round() as usize)
        .collect();
    // The same series by the reference filter, from the file the search read.
    let x = chirpfarm_strain::read::read_strain(
        &data,
        &chirpfarm_strain::read::ReadOptions {
            sample_rate: Some(2048.0),
            gps_start: Some(GPS),
            format: None,
        },
    )
    .unwrap()
    .samples;
    let n = x.len();
    let grid = DataGrid::new(n, 2048.0, 30.0);
    let psd = chirpfarm_strain::psd::aligo_series(grid.bins(), grid.delta_f(), 30.0);
    let z = snr_series(
        &newtonian_template(1.2, &grid),
        &psd,
        &condition_segment(&x, &psd, &grid),
        &grid,
    );
    let r: Vec<f64> = z.iter().map(|z| z.norm_sqr()).collect();
    let t2 = t * t;
    let peaks: Vec<usize> = (0..n)
        .filter(|&j| {
            let left = j == 0 || r[j] > r[j - 1];
            let right = j + 1 == n || r[j] >= r[j + 1];
            let right = if j == 0 {
                j + 1 == n || r[j] > r[j + 1]
            } else {
                right
            };
            r[j] > t2 && left && right
        })
        .collect();
    assert_eq!(
        farm, peaks,
        "farm triggers vs local maxima of the reference series"
    );
    let above: Vec<f64> = r.iter().map(|&v| if v > t2 { 1.0 } else { 0.0 }).collect();
    let means: Vec<f64> = above
        .chunks(512)
        .map(|c| c.iter().sum::<f64>() / 512.0)
        .collect();
    let k = means.len() as f64;
    let p = means.iter().sum::<f64>() / k;
    let e = (means.iter().map(|m| (m - p) * (m - p)).sum::<f64>() / (k - 1.0) / k).sqrt();
    let want = (-t2 / 2.0f64).exp();
    eprintln!(
        "threshold {t}: {} triggers (local maxima); P(rho > t) = {p:.5} ± {e:.5}, Gaussian {want:.5}",
        farm.len()
    );
    assert!((p - want).abs() < 4.0 * e, "{p} vs {want} ± {e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same simulation in the three formats is the same data: the searches agree exactly.
#[test]
fn every_format_is_searchable_and_identical() {
    let dir = tmpdir("formats");
    let mut peaks = Vec::new();
    for name in ["d.hdf5", "d.npy", "d.txt"] {
        let p = dir.join(name);
        let out = chirpfarm(&[
            "simulate",
            "--duration",
            "64",
            "--sample-rate",
            "1024",
            "--seed",
            "9",
            "--gps-start",
            "1000000000",
            "--f-low",
            "40",
            "--inject",
            "mass1=1.4,mass2=1.4,distance=40,time=1000000045",
            "-q",
            "-o",
            &s(&p),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stderr.is_empty());
        let mut args = vec![
            "search".to_string(),
            "--data".into(),
            s(&p),
            "--bank".into(),
            "1.2:1.23:0.01".into(),
            "--psd".into(),
            "aligo".into(),
            "--f-low".into(),
            "40".into(),
            "--segment-length".into(),
            "64".into(),
            "--segment-pad".into(),
            "0".into(),
            "--json".into(),
        ];
        if name.ends_with("npy") {
            args.extend(["--sample-rate", "1024", "--gps-start", "1000000000"].map(String::from));
        }
        let v = json(&chirpfarm(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
        peaks.push(v["templates"].clone());
    }
    assert_eq!(peaks[0], peaks[1]);
    assert_eq!(peaks[0], peaks[2]);
    // Same seed, same bytes; and the written list reproduces the data when fed back.
    let again = dir.join("again.hdf5");
    let list = s(&dir.join("d.hdf5.injections.csv"));
    let out = chirpfarm(&[
        "simulate",
        "--duration",
        "64",
        "--sample-rate",
        "1024",
        "--seed",
        "9",
        "--gps-start",
        "1000000000",
        "--f-low",
        "40",
        "--inject",
        &list,
        "-q",
        "-o",
        &s(&again),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dir.join("d.hdf5")).unwrap(),
        std::fs::read(&again).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let dir = tmpdir("bad");
    let o = s(&dir.join("x.hdf5"));
    let base = ["simulate", "-o", &o];
    let cases: &[(&[&str], &str)] = &[
        (&["--duration", "0"], "--duration"),
        (&["--duration", "1.0001"], "whole number of samples"),
        (&["--sample-rate", "1000"], "power of two"),
        (&["--f-low", "2000"], "--f-low"),
        (&["--psd", "welch"], "aligo or a PSD file"),
        (&["--psd", "/nonexistent/psd.txt"], "/nonexistent/psd.txt"),
        (
            &["--inject", "mass1=1.4,mass2=1.3,snr=10,time=5"],
            "outside the data",
        ),
        (
            &["--inject", "mass1=1.4,mass2=1.3,snr=10,time=1000000001"],
            "start before the data",
        ),
        (
            &["--inject", "mass1=1.4,mass2=0,snr=10,time=1000000050"],
            "masses must be positive",
        ),
        (
            &["--inject", "mass1=1.4,mass2=1.3,time=1000000050"],
            "give snr",
        ),
        (
            &["--inject", "mass1=1.4,mass2=1.3,snr=10,tim=1000000050"],
            "unknown column",
        ),
        (
            &["--inject", "/nonexistent/inj.csv"],
            "/nonexistent/inj.csv",
        ),
    ];
    for (extra, want) in cases {
        let mut args: Vec<&str> = base.to_vec();
        if !extra.contains(&"--duration") {
            args.extend_from_slice(&["--duration", "64"]);
        }
        args.extend_from_slice(extra);
        let out = chirpfarm(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    // search --injections with a bad list: exit 2 before any work.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "time,mass1\n1,2\n").unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/search/strain.hdf5");
    let out = chirpfarm(&["search", "--data", &s(&fixture), "--injections", &s(&bad)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no mass2"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// No noise: the injection alone, searched with its own template on the same grid and PSD, is
/// recovered at exactly its sample with exactly its optimal SNR; and its physical amplitude is
/// physics.md §6's (Mc 1.2 at 100 Mpc, aLIGO, 40 Hz–Nyquist at 2048 Hz over 64 s: ρ = 30.2927).
#[test]
fn noiseless_injection_is_exact() {
    let dir = tmpdir("exact");
    let data = dir.join("d.hdf5");
    let m = "1.3784380259964422"; // equal masses with Mc = 1.2
    let out = chirpfarm(&[
        "simulate",
        "--duration",
        "64",
        "--f-low",
        "40",
        "--no-noise",
        "--inject",
        &format!("mass1={m},mass2={m},distance=100,time=1000000040.5"),
        "-o",
        &s(&data),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = dir.join("d.hdf5.injections.csv");
    let text = std::fs::read_to_string(&list).unwrap();
    let row: Vec<f64> = text
        .lines()
        .nth(2)
        .unwrap()
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    let optimal = row[7];
    // physics.md §6 sums bins 2561..65535; the band here also has the 40 Hz bin (PyCBC's rule).
    assert!((optimal / 30.292653829679 - 1.0).abs() < 1e-3, "{optimal}");
    let v = json(&chirpfarm(&[
        "search",
        "--data",
        &s(&data),
        "--bank-file",
        &s(&{
            let b = dir.join("bank.txt");
            std::fs::write(&b, format!("mass1,mass2\n{m},{m}\n")).unwrap();
            b
        }),
        "--psd",
        "aligo",
        "--f-low",
        "40",
        "--segment-length",
        "64",
        "--segment-pad",
        "0",
        "--injections",
        &s(&list),
        "--json",
    ]));
    let f = &v["injections"][0];
    assert_eq!(f["status"], "found");
    assert_eq!(f["offset_samples"], 0);
    let r = f["snr_ratio"].as_f64().unwrap();
    assert!((r - 1.0).abs() < 1e-9, "recovered/optimal {r}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// TaylorF2 injections (spinning) searched with TaylorF2 templates: without noise the own
/// template recovers the listed optimal SNR at the injection's sample; in noise, found.
#[test]
fn taylorf2_injection_is_recovered_by_its_template() {
    let dir = tmpdir("tf2");
    let bank = dir.join("bank.csv");
    std::fs::write(
        &bank,
        "mass1,mass2,spin1z,spin2z\n1.4,1.3,0.3,-0.1\n1.5,1.2,0,0\n",
    )
    .unwrap();
    for noise in [false, true] {
        let data = dir.join(format!("d{noise}.hdf5"));
        let mut args = vec![
            "simulate",
            "--duration",
            "64",
            "--f-low",
            "40",
            "--seed",
            "3",
            "--approximant",
            "taylorf2",
            "--inject",
            "mass1=1.4,mass2=1.3,spin1z=0.3,spin2z=-0.1,snr=12,time=1000000040.25,coa_phase=1",
        ];
        if !noise {
            args.push("--no-noise");
        }
        let d = s(&data);
        args.extend(["-o", &d]);
        let out = chirpfarm(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list = s(&dir.join(format!("d{noise}.hdf5.injections.csv")));
        let v = json(&chirpfarm(&[
            "search",
            "--data",
            &d,
            "--bank-file",
            &s(&bank),
            "--approximant",
            "taylorf2",
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
        eprintln!("noise {noise}: {f}");
        // PyCBC's sigma of this TaylorF2 at this distance with this PSD is 12.000000000000
        // (tests/fixtures/simulate/check_optimal_snr.py).
        let d = f["distance"].as_f64().unwrap();
        assert!((d / 247.9456949967648 - 1.0).abs() < 1e-9, "distance {d}");
        assert_eq!(f["status"], "found");
        assert_eq!(f["template_index"], 0);
        let off = f["offset_samples"].as_i64().unwrap();
        let r = f["snr_ratio"].as_f64().unwrap();
        if noise {
            assert!(off.abs() <= 1 && (r - 1.0).abs() < 0.25, "{off} {r}");
        } else {
            assert_eq!(off, 0);
            assert!((r - 1.0).abs() < 1e-6, "recovered/optimal {r}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
