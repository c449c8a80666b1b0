//! The PSD functions against PyCBC 2.11's own output (`tests/fixtures/psd/`, made by
//! `gen_psd_fixtures.py` there), the physics.md §6 aLIGO values, and every error.

use std::path::{Path, PathBuf};

use chirpfarm_strain::psd::{
    aligo, aligo_series, check_band, interpolate, inverse_spectrum_truncation, psd_on_grid,
    read_psd_file, welch, LineProblem, PsdError,
};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/psd")
}

fn meta() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("meta.json")).unwrap()).unwrap()
}

/// A little-endian float64 1-D `.npy` file.
fn npy(name: &str) -> Vec<f64> {
    let bytes = std::fs::read(fixtures().join(name)).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).unwrap();
    assert!(header.contains("'<f8'") && header.contains("'fortran_order': False"));
    bytes[start + header_len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// The generator's `noise()`, operation for operation (splitmix64, sums of uniforms, two leaky
/// integrators and a first difference), so both sides start from the same doubles.
fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let scale = 2f64.powi(-53);
    let (mut red1, mut red2, mut prev) = (0.0f64, 0.0f64, 0.0f64);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut g = [0.0f64; 2];
        for gi in g.iter_mut() {
            let mut s = 0.0;
            for _ in 0..4 {
                s += (next() >> 11) as f64 * scale;
            }
            *gi = s - 2.0;
        }
        red1 = 0.999 * red1 + g[0];
        red2 = 0.995 * red2 + red1;
        let blue = g[1] - prev;
        prev = g[1];
        out.push((1e-3 * red2 + g[0] + 3.0 * blue) * 1e-21);
    }
    out
}

fn fixture_noise() -> (Vec<f64>, f64) {
    let m = meta();
    let nm = &m["noise"];
    let data = noise(
        nm["n"].as_u64().unwrap() as usize,
        nm["seed"].as_u64().unwrap(),
    );
    for (i, v) in nm["check"].as_object().unwrap() {
        let want: f64 = v.as_str().unwrap().parse().unwrap();
        let i: usize = i.parse().unwrap();
        assert_eq!(data[i].to_bits(), want.to_bits(), "noise sample {i}");
    }
    (data, nm["sample_rate"].as_f64().unwrap())
}

/// Largest |a−b|/|b| over the bins (0/0 counts as equal); asserts the lengths match.
fn max_rel(got: &[f64], want: &[f64]) -> (f64, usize) {
    assert_eq!(got.len(), want.len());
    let mut worst = (0.0, 0);
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let r = if g == w { 0.0 } else { ((g - w) / w).abs() };
        assert!(!r.is_nan(), "bin {k}: {g} vs {w}");
        if r > worst.0 {
            worst = (r, k);
        }
    }
    worst
}

#[test]
fn welch_matches_pycbc() {
    let (data, fs) = fixture_noise();
    for case in meta()["welch"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let used = case["samples"].as_u64().unwrap() as usize;
        let seg_len = case["seg_len"].as_u64().unwrap() as usize;
        let stride = case["seg_stride"].as_u64().unwrap() as usize;
        let got = welch(&data[..used], fs, seg_len, stride).unwrap();
        let (worst, k) = max_rel(&got, &npy(&format!("{name}.npy")));
        eprintln!("welch {name}: max relative difference {worst:.2e} (bin {k})");
        assert!(worst <= 1e-9, "{name}: {worst} at bin {k}");
    }
}

#[test]
fn interpolate_and_truncation_match_pycbc() {
    let (data, fs) = fixture_noise();
    let m = meta();
    let base = welch(&data, fs, 8192, 4096).unwrap();
    let ip = &m["interp"];
    let interp = interpolate(
        &base,
        ip["delta_f"].as_f64().unwrap(),
        ip["new_delta_f"].as_f64().unwrap(),
        ip["new_len"].as_u64().unwrap() as usize,
    );
    // interpolate itself, fed PyCBC's own Welch PSD: the same doubles
    let exact = interpolate(
        &npy("welch_64s_odd.npy"),
        ip["delta_f"].as_f64().unwrap(),
        ip["new_delta_f"].as_f64().unwrap(),
        ip["new_len"].as_u64().unwrap() as usize,
    );
    let want = npy("interp_16s.npy");
    let (w_exact, _) = max_rel(&exact, &want);
    let (w_chain, k) = max_rel(&interp, &want);
    eprintln!(
        "interpolate: on PyCBC's input {w_exact:.2e}; after our welch {w_chain:.2e} (bin {k})"
    );
    assert!(w_exact <= 1e-15);
    assert!(w_chain <= 1e-9);

    let tr = &m["trunc"];
    let mfl = tr["max_filter_len"].as_u64().unwrap() as usize;
    let cut = tr["low_frequency_cutoff"].as_f64().unwrap();
    let new_df = ip["new_delta_f"].as_f64().unwrap();
    let want = npy("trunc_16s.npy");
    let kmin = (cut / new_df) as usize;
    let nyq = want.len() - 1;
    for (label, input) in [
        ("PyCBC's input", npy("interp_16s.npy")),
        ("full chain", interp),
    ] {
        let got = inverse_spectrum_truncation(&input, new_df, mfl, Some(cut));
        assert_eq!(got.len(), want.len());
        // the band the filter uses: relative per bin
        let (in_band, k) = max_rel(&got[kmin..nyq], &want[kmin..nyq]);
        // every bin, as the truncated inverse ASD |X| = S^-1/2 against its largest value: below
        // the cutoff |X| is leakage down to ~1e-8 of the in-band level, where two different FFTs
        // (pocketfft vs rustfft) agree only to ~1e-16 of max|X|, i.e. ~1e-7 relative
        let inv = |v: &[f64]| v.iter().map(|s| 1.0 / s.sqrt()).collect::<Vec<_>>();
        let (gi, wi) = (inv(&got), inv(&want));
        let max = wi.iter().cloned().fold(0.0, f64::max);
        let abs = gi
            .iter()
            .zip(&wi)
            .map(|(g, w)| (g - w).abs() / max)
            .fold(0.0, f64::max);
        let (all, ka) = max_rel(&got, &want);
        eprintln!(
            "inverse_spectrum_truncation ({label}): in band {in_band:.2e} (bin {}); S^-1/2 vs its max {abs:.2e}; \
             all bins relative {all:.2e} (bin {ka})",
            k + kmin
        );
        assert!(in_band <= 1e-9 && abs <= 1e-13, "{label}");
    }
}

#[test]
fn aligo_matches_physics_vectors_and_series() {
    for (f, want) in [
        (40.0, 3.781446066346115e-47),
        (100.0, 1.576020374042364e-47),
        (245.4, 1.4358e-47),
        (1000.0, 2.90136639074989e-47),
    ] {
        let got = aligo(f);
        assert!(
            ((got - want) / want).abs() <= 1e-12,
            "{f} Hz: {got} vs {want}"
        );
    }
    let a = &meta()["aligo"];
    let got = aligo_series(
        a["len"].as_u64().unwrap() as usize,
        a["delta_f"].as_f64().unwrap(),
        a["f_low"].as_f64().unwrap(),
    );
    let want = npy("aligo_4s.npy");
    let (worst, _) = max_rel(&got, &want);
    assert!(worst <= 1e-12, "{worst}");
    assert_eq!(got[39], 0.0);
    assert!(
        got[40] > 0.0,
        "bin floor(f_low/df) = 10.0 Hz keeps its value, as in PyCBC"
    );
    assert_eq!(aligo_series(10, 1.0, 0.0)[0], 0.0);
}

#[test]
fn psd_files_match_pycbc_from_txt() {
    for f in meta()["files"].as_array().unwrap() {
        let (freqs, values) = read_psd_file(&fixtures().join(f["file"].as_str().unwrap())).unwrap();
        let got = psd_on_grid(
            &freqs,
            &values,
            f["len"].as_u64().unwrap() as usize,
            f["delta_f"].as_f64().unwrap(),
            f["f_low"].as_f64().unwrap(),
        )
        .unwrap();
        let want = npy(f["out"].as_str().unwrap());
        let (worst, k) = max_rel(&got, &want);
        eprintln!("psd_on_grid {}: {worst:.2e} (bin {k})", f["file"]);
        assert!(worst <= 1e-9);
        let zeros = want.iter().take_while(|v| **v == 0.0).count();
        assert!(got[..zeros].iter().all(|v| *v == 0.0) && got[zeros] > 0.0);
    }
}

#[test]
fn exact_grid_file_is_used_bit_for_bit() {
    let path = fixtures().join("exact_grid.txt");
    let (freqs, values) = read_psd_file(&path).unwrap();
    assert_eq!(freqs.len(), 257);
    let got = psd_on_grid(&freqs, &values, 257, 1.0, 20.0).unwrap();
    assert!(got
        .iter()
        .zip(&values)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    // a shorter grid with the same spacing is still "the grid"
    let got = psd_on_grid(&freqs, &values, 129, 1.0, 20.0).unwrap();
    assert!(got
        .iter()
        .zip(&values)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    // a different spacing is interpolated (and zero below f_low)
    let got = psd_on_grid(&freqs, &values, 513, 0.5, 20.0).unwrap();
    assert_eq!(got[39], 0.0);
    assert!((got[40] / values[20] - 1.0).abs() < 1e-14);
}

fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("chirpfarm-psd-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// (file name, contents, line of the error, test on the problem)
type BadFileCase = (&'static str, &'static str, usize, fn(&LineProblem) -> bool);

#[test]
fn bad_files_name_file_and_line() {
    let cases: [BadFileCase; 6] = [
        ("nan.txt", "# c\n10 1e-46\n20 nan\n", 3, |p| {
            matches!(p, LineProblem::BadValue { .. })
        }),
        ("neg.txt", "10 1e-46\n\n20 -1e-46\n", 3, |p| {
            matches!(p, LineProblem::BadValue { .. })
        }),
        ("word.txt", "10 1e-46\n20 abc\n", 2, |p| {
            matches!(p, LineProblem::NotANumber { .. })
        }),
        ("order.txt", "10 1e-46\n20 1e-46\n20 1e-46\n", 3, |p| {
            matches!(p, LineProblem::NonIncreasing { .. })
        }),
        ("cols.txt", "10 1e-46 3\n", 1, |p| {
            matches!(p, LineProblem::Columns { found: 3 })
        }),
        ("negf.txt", "-1 1e-46\n", 1, |p| {
            matches!(p, LineProblem::BadFrequency { .. })
        }),
    ];
    for (name, text, want_line, check) in cases {
        let path = write(name, text);
        let err = read_psd_file(&path).unwrap_err();
        let msg = err.to_string();
        match &err {
            PsdError::Line { line, problem, .. } => {
                assert_eq!(*line, want_line, "{msg}");
                assert!(check(problem), "{msg}");
            }
            other => panic!("{name}: {other}"),
        }
        assert!(
            msg.contains(name) && msg.contains(&format!("line {want_line}")),
            "{msg}"
        );
    }
    let err = read_psd_file(&write("empty.txt", "# nothing\n\n")).unwrap_err();
    assert!(matches!(err, PsdError::EmptyFile { .. }), "{err}");
    let err = read_psd_file(&fixtures().join("missing.txt")).unwrap_err();
    assert!(matches!(err, PsdError::Io { .. }) && err.to_string().contains("missing.txt"));
    // comma separated and trailing comments are fine
    let (f, v) = read_psd_file(&write("ok.txt", "10, 1e-46 # a\n20,2e-46\n")).unwrap();
    assert_eq!((f, v), (vec![10.0, 20.0], vec![1e-46, 2e-46]));
}

#[test]
fn psd_on_grid_refuses_uncovered_ranges() {
    let freqs = [10.0, 100.0, 500.0];
    let values = [1e-46, 1e-47, 2e-47];
    let err = psd_on_grid(&freqs, &values, 1025, 0.5, 20.0).unwrap_err();
    assert!(matches!(err, PsdError::NotCovered { .. }), "{err}");
    assert!(err.to_string().contains("512 Hz"), "{err}");
    let err = psd_on_grid(&freqs, &values, 801, 0.5, 5.0).unwrap_err();
    assert!(matches!(err, PsdError::NotCovered { .. }), "{err}");
    assert!(psd_on_grid(&freqs, &values, 801, 0.5, 10.0).is_ok());
    let err = psd_on_grid(&freqs, &values[..2], 801, 0.5, 10.0).unwrap_err();
    assert!(matches!(err, PsdError::Table(_)), "{err}");
}

#[test]
fn welch_errors() {
    let data = vec![1.0; 1000];
    let err = welch(&data[..100], 2048.0, 256, 128).unwrap_err();
    assert!(matches!(
        err,
        PsdError::DataTooShort {
            samples: 100,
            seg_len: 256
        }
    ));
    assert!(
        err.to_string().contains("100") && err.to_string().contains("256"),
        "{err}"
    );
    assert!(matches!(
        welch(&data, 2048.0, 0, 128),
        Err(PsdError::ZeroSegLen)
    ));
    assert!(matches!(
        welch(&data, 2048.0, 256, 0),
        Err(PsdError::ZeroStride)
    ));
    assert!(matches!(
        welch(&data, 0.0, 256, 128),
        Err(PsdError::BadSampleRate(_))
    ));
    assert!(matches!(
        welch(&data, f64::NAN, 256, 128),
        Err(PsdError::BadSampleRate(_))
    ));
    let err = welch(&data, 2048.0, 600, 500).unwrap_err();
    assert!(
        matches!(err, PsdError::TooFewSegments { segments: 1, .. }),
        "{err}"
    );
    let mut bad = data.clone();
    bad[517] = f64::INFINITY;
    assert!(matches!(
        welch(&bad, 2048.0, 256, 128),
        Err(PsdError::NonFiniteSample { index: 517, .. })
    ));
}

#[test]
fn check_band_names_first_bad_frequency() {
    let mut psd = vec![1.0; 100];
    assert!(check_band(&psd, 0.5, 10, 100).is_ok());
    psd[42] = 0.0;
    psd[50] = f64::NAN;
    let err = check_band(&psd, 0.5, 10, 100).unwrap_err();
    assert!(matches!(err, PsdError::BadBand { bin: 42, .. }));
    assert!(err.to_string().contains("21 Hz"), "{err}");
    assert!(check_band(&psd, 0.5, 43, 50).is_ok());
    assert!(matches!(
        check_band(&psd, 0.5, 51, 101),
        Err(PsdError::BandOutOfRange { .. })
    ));
}

#[test]
fn welch_is_fast_on_long_data() {
    // 2048 s at 4096 Hz, 4 s segments, 2 s stride: 1023 segments of 16384 samples
    let fs = 4096.0;
    let data = noise(2048 * 4096, 7);
    let t = std::time::Instant::now();
    let psd = welch(&data, fs, 16384, 8192).unwrap();
    let dt = t.elapsed();
    eprintln!("welch 2048 s at 4096 Hz: {dt:?}");
    assert_eq!(psd.len(), 8193);
    if !cfg!(debug_assertions) {
        assert!(dt.as_secs_f64() < 1.0, "{dt:?}");
    }
}
