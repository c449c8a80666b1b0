//! The data matched filter (`engine::data`) against PyCBC 2.11.
//!
//! Fixtures: `tests/fixtures/data_filter/` (`strain.npy`, `psd.npy`, `filter.json`), written by
//! `gen_filter_fixtures.py` in the same folder (see its header to regenerate): 64 s of coloured
//! Gaussian noise at 1024 Hz with a Newtonian chirp (Mc 1.3, optimal SNR ≈ 12) injected at
//! sample 57344, PyCBC's Welch PSD, f_low = 30 Hz, and PyCBC's `matched_filter`, `sigmasq` and
//! CPU `ThresholdCluster` outputs for five templates.

use chirpfarm_worker::engine::data::{
    condition_segment, newtonian_template, sigmasq, snr_series, ConditionedSegment, DataEngine,
    DataGrid, SegmentRef,
};
use num_complex::Complex64;
use serde_json::Value;
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/data_filter")
}

/// A 1-D little-endian `.npy` array of `<f4` or `<f8`, as f64.
fn read_npy(name: &str) -> Vec<f64> {
    let bytes = std::fs::read(fixture_dir().join(name)).expect("read .npy");
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{name}: not an .npy file");
    let (hlen, off) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        )
    };
    let header = std::str::from_utf8(&bytes[off..off + hlen]).expect("ascii header");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let data = &bytes[off + hlen..];
    if header.contains("'<f4'") {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect()
    } else if header.contains("'<f8'") {
        data.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    } else {
        panic!("{name}: unsupported dtype in {header}")
    }
}

struct Fixture {
    json: Value,
    strain: Vec<f64>,
    psd: Vec<f64>,
    grid: DataGrid,
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(fixture_dir().join("filter.json")).expect("filter.json");
    let json: Value = serde_json::from_str(&text).expect("parse filter.json");
    let grid = DataGrid::new(
        json["n"].as_u64().unwrap() as usize,
        json["sample_rate"].as_f64().unwrap(),
        json["f_low"].as_f64().unwrap(),
    );
    assert_eq!(grid.k_low() as u64, json["k_low"].as_u64().unwrap());
    let strain = read_npy("strain.npy");
    let psd = read_npy("psd.npy");
    assert_eq!((strain.len(), psd.len()), (grid.n, grid.bins()));
    Fixture {
        json,
        strain,
        psd,
        grid,
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// Phase difference wrapped to [0, π].
fn dphase(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(2.0 * std::f64::consts::PI);
    d.min(2.0 * std::f64::consts::PI - d)
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn snr_series_and_sigmasq_match_pycbc() {
    let fx = fixture();
    let seg = condition_segment(&fx.strain, &fx.psd, &fx.grid);
    let probes: Vec<usize> = nums(&fx.json["probes"])
        .iter()
        .map(|&p| p as usize)
        .collect();
    let (mut worst_ss, mut worst_max, mut worst_probe, mut worst_phase) = (0f64, 0f64, 0f64, 0f64);
    for t in fx.json["templates"].as_array().unwrap() {
        let mc = t["mc"].as_f64().unwrap();
        let h = newtonian_template(mc, &fx.grid);
        let ss = sigmasq(&h, &fx.psd, &fx.grid);
        worst_ss = worst_ss.max(rel(ss, t["sigmasq"].as_f64().unwrap()));
        let z = snr_series(&h, &fx.psd, &seg, &fx.grid);
        let (arg, max) = z
            .iter()
            .map(|c| c.norm())
            .enumerate()
            .fold((0, 0.0), |b, (j, r)| if r > b.1 { (j, r) } else { b });
        assert_eq!(arg as u64, t["argmax"].as_u64().unwrap(), "Mc {mc}: argmax");
        worst_max = worst_max.max(rel(max, t["max_snr"].as_f64().unwrap()));
        let want_rho = nums(&t["probe_snr"]);
        let want_phase = nums(&t["probe_phase"]);
        for (i, &j) in probes.iter().enumerate() {
            // Relative to the series' peak: a probe in the noise may be small.
            worst_probe = worst_probe.max((z[j].norm() - want_rho[i]).abs() / max);
            worst_phase = worst_phase.max(dphase(z[j].arg(), want_phase[i]) * z[j].norm() / max);
        }
    }
    eprintln!(
        "vs PyCBC: sigmasq {worst_ss:.1e}, max rho {worst_max:.1e}, probe rho {worst_probe:.1e}, \
         probe phase (x rho/max) {worst_phase:.1e}"
    );
    assert!(worst_ss <= 1e-9, "sigmasq {worst_ss:e}");
    assert!(worst_max <= 1e-6, "max rho {worst_max:e}");
    assert!(worst_probe <= 1e-6, "probe rho {worst_probe:e}");
    assert!(worst_phase <= 1e-6, "probe phase {worst_phase:e}");
}

#[test]
fn clustered_triggers_match_pycbc_threshold_and_cluster() {
    let fx = fixture();
    let seg = condition_segment(&fx.strain, &fx.psd, &fx.grid);
    let masses = nums(
        &fx.json["templates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["mc"].clone())
            .collect::<Value>(),
    );
    let window = fx.json["window"].as_u64().unwrap() as usize;
    let engine = DataEngine::new(1 << 30);
    let (mut worst_snr, mut worst_phase, mut checked) = (0f64, 0f64, 0usize);
    for (ti, t) in fx.json["templates"].as_array().unwrap().iter().enumerate() {
        for case in t["triggers"].as_array().unwrap() {
            let sl = nums(&case["slice"]);
            let analyze = sl[0] as usize..sl[1] as usize;
            let thr = case["threshold"].as_f64().unwrap();
            let segs = [SegmentRef {
                index: 3,
                start: 1000,
                analyze: analyze.clone(),
                data: &seg,
            }];
            let out = engine.filter_block(7, &masses, &fx.grid, &fx.psd, &segs, thr, window);
            assert_eq!(out.len(), masses.len());
            let o = &out[ti];
            // Peak over the analysed slice.
            assert_eq!(o.peak.sample, 1000 + case["argmax"].as_u64().unwrap());
            assert!(rel(o.peak.snr, case["max_snr"].as_f64().unwrap()) <= 1e-6);
            let want: Vec<u64> = nums(&case["index"]).iter().map(|&i| i as u64).collect();
            let got: Vec<u64> = o.triggers.iter().map(|tr| tr.sample - 1000).collect();
            assert_eq!(got, want, "Mc {} slice {analyze:?} thr {thr}", masses[ti]);
            let (ws, wp) = (nums(&case["snr"]), nums(&case["phase"]));
            for (k, tr) in o.triggers.iter().enumerate() {
                assert_eq!((tr.template, tr.segment), (7 + ti as u64, 3));
                assert!(tr.is_valid());
                assert!(rel(tr.sigmasq, t["sigmasq"].as_f64().unwrap()) <= 1e-9);
                worst_snr = worst_snr.max(rel(tr.snr, ws[k]));
                worst_phase = worst_phase.max(dphase(tr.phase, wp[k]));
                checked += 1;
            }
        }
    }
    eprintln!("{checked} triggers: snr {worst_snr:.1e} relative, phase {worst_phase:.1e} rad");
    assert!(checked > 50, "the fixture should exercise many triggers");
    assert!(worst_snr <= 1e-6 && worst_phase <= 1e-6);
}

#[test]
fn injection_is_recovered() {
    let fx = fixture();
    let inj = &fx.json["injection"];
    let (mc, at) = (inj["mc"].as_f64().unwrap(), inj["sample"].as_u64().unwrap());
    let expected = inj["optimal_snr"].as_f64().unwrap();
    let seg = condition_segment(&fx.strain, &fx.psd, &fx.grid);
    let engine = DataEngine::new(0);
    let segs = [SegmentRef {
        index: 0,
        start: 0,
        analyze: 0..fx.grid.n,
        data: &seg,
    }];
    let out = engine.filter_block(0, &[mc], &fx.grid, &fx.psd, &segs, 8.0, 512);
    let p = out[0].peak;
    eprintln!(
        "injection at {at}: found {} with SNR {} (optimal {expected})",
        p.sample, p.snr
    );
    assert!(p.sample.abs_diff(at) <= 1, "peak at {}", p.sample);
    assert!(rel(p.snr, expected) <= 0.05, "SNR {} vs {expected}", p.snr);
    assert_eq!(out[0].triggers.len(), 1);
    assert_eq!(out[0].triggers[0].sample, p.sample);
}

/// PyCBC's rule, written naively over a full SNR series (for the block test).
fn naive_cluster(z: &[Complex64], a: usize, b: usize, thr: f64, w: usize) -> Vec<usize> {
    let r2: Vec<f64> = z.iter().map(|c| c.norm_sqr()).collect();
    let mut wins = Vec::new();
    let mut s = a;
    while s < b {
        let e = (s + w).min(b);
        let mut best = (0.0, s);
        for (j, &v) in r2.iter().enumerate().take(e).skip(s) {
            if v > best.0 {
                best = (v, j);
            }
        }
        wins.push(best);
        s = e;
    }
    let t2 = thr * thr;
    let n = wins.len();
    (0..n)
        .filter(|&i| {
            let v = wins[i].0;
            let prev = i == 0 || v > wins[i - 1].0;
            let next = if n == 1 {
                true
            } else if i == 0 {
                v > wins[1].0
            } else {
                i == n - 1 || v >= wins[i + 1].0
            };
            v > t2 && prev && next
        })
        .map(|i| wins[i].1)
        .collect()
}

#[test]
fn filter_block_over_two_segments_equals_per_segment_series() {
    let fx = fixture();
    // 32 s segments overlapping by half; the PSD on their grid is every other fixture bin.
    let grid = DataGrid::new(32768, 1024.0, 30.0);
    let psd: Vec<f64> = fx.psd.iter().step_by(2).copied().collect();
    assert_eq!(psd.len(), grid.bins());
    let starts = [0usize, 16384];
    let conditioned: Vec<ConditionedSegment> = starts
        .iter()
        .map(|&s| condition_segment(&fx.strain[s..s + grid.n], &psd, &grid))
        .collect();
    let analyze = 2048..30720;
    let segs: Vec<SegmentRef> = conditioned
        .iter()
        .zip(starts)
        .enumerate()
        .map(|(i, (c, s))| SegmentRef {
            index: i as u32 + 10,
            start: s as u64,
            analyze: analyze.clone(),
            data: c,
        })
        .collect();
    let masses = [1.25, 1.3, 1.5];
    let (thr, window) = (4.0, 256);
    let engine = DataEngine::new(1 << 30);
    let out = engine.filter_block(100, &masses, &grid, &psd, &segs, thr, window);
    assert_eq!(engine.templates_generated(), 3);
    assert_eq!(engine.cached_templates(), 3);
    let again = engine.filter_block(100, &masses, &grid, &psd, &segs, thr, window);
    assert_eq!(
        engine.templates_generated(),
        3,
        "second call must hit the cache"
    );
    assert_eq!(out, again);
    let mut n_trig = 0;
    for (ti, &mc) in masses.iter().enumerate() {
        let h = newtonian_template(mc, &grid);
        let ss = sigmasq(&h, &psd, &grid);
        let mut want_peak = (0.0f64, 0u64);
        let mut want = Vec::new();
        for (si, seg) in segs.iter().enumerate() {
            let z = snr_series(&h, &psd, seg.data, &grid);
            for j in analyze.clone() {
                if z[j].norm() > want_peak.0 {
                    want_peak = (z[j].norm(), seg.start + j as u64);
                }
            }
            for j in naive_cluster(&z, analyze.start, analyze.end, thr, window) {
                want.push((
                    si as u32 + 10,
                    seg.start + j as u64,
                    z[j].norm(),
                    z[j].arg(),
                ));
            }
        }
        let o = &out[ti];
        assert_eq!(o.peak.sample, want_peak.1);
        assert!(rel(o.peak.snr, want_peak.0) <= 1e-12);
        assert_eq!(o.triggers.len(), want.len(), "Mc {mc}");
        for (tr, w) in o.triggers.iter().zip(&want) {
            assert_eq!(
                (tr.template, tr.segment, tr.sample),
                (100 + ti as u64, w.0, w.1)
            );
            assert!(rel(tr.snr, w.2) <= 1e-12 && dphase(tr.phase, w.3) <= 1e-12);
            assert_eq!(tr.sigmasq, ss);
        }
        n_trig += want.len();
    }
    assert!(n_trig > 10, "{n_trig} triggers");
}

#[test]
fn template_on_the_seed_grid_is_the_seed_template() {
    let grid = DataGrid::new(131072, 2048.0, 40.0);
    for mc in [0.8, 1.2, 1.2000000000000004, 1.5, 1.73] {
        let seed = chirpfarm_worker::engine::template(mc);
        let ours = newtonian_template(mc, &grid);
        let scale = seed.iter().map(|c| c.norm()).fold(0.0, f64::max);
        let worst = (0..seed.len())
            .filter(|&k| k as f64 * grid.delta_f() > 40.0)
            .map(|k| (seed[k] - ours[k]).norm() / scale)
            .fold(0.0, f64::max);
        assert!(worst <= 1e-12, "Mc {mc}: {worst:e}");
    }
}

/// Single-thread cost per (template, segment) at n = 2^19, 2048 Hz (run with
/// `cargo test -p chirpfarm-worker --release --test data_filter -- --ignored --nocapture`).
#[test]
#[ignore]
fn bench_per_template_segment() {
    let grid = DataGrid::new(1 << 19, 2048.0, 30.0);
    let x: Vec<f64> = (0..grid.n)
        .map(|j| ((j as u64 * 2654435761) % 100003) as f64 / 100003.0 - 0.5)
        .collect();
    let psd: Vec<f64> = (0..grid.bins())
        .map(|k| 1.0 + 1e3 / (1 + k) as f64)
        .collect();
    let c = condition_segment(&x, &psd, &grid);
    let segs: Vec<SegmentRef> = (0..4)
        .map(|i| SegmentRef {
            index: i,
            start: 0,
            analyze: 65536..grid.n - 65536,
            data: &c,
        })
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let engine = DataEngine::new(1 << 30);
    let masses: Vec<f64> = (0..8).map(|i| 1.2 + 0.01 * i as f64).collect();
    pool.install(|| engine.filter_block(0, &masses, &grid, &psd, &segs, 6.0, 2048));
    let t0 = std::time::Instant::now();
    let reps = 3;
    for _ in 0..reps {
        pool.install(|| engine.filter_block(0, &masses, &grid, &psd, &segs, 6.0, 2048));
    }
    let per = t0.elapsed().as_secs_f64() / (reps * masses.len() * segs.len()) as f64;
    let cold = DataEngine::new(0);
    let t1 = std::time::Instant::now();
    pool.install(|| cold.filter_block(0, &masses, &grid, &psd, &segs[..1], 6.0, 2048));
    let gen_and_one = t1.elapsed().as_secs_f64() / masses.len() as f64;
    eprintln!(
        "n = 2^19 at 2048 Hz, one thread: {:.2} ms per (template, segment) (cached templates); \
         {:.2} ms per template generated + one segment",
        per * 1e3,
        gen_and_one * 1e3
    );
}

/// A/B of the filter's FFT layout: one inverse transform of 2^19 against the two of 2^18 the
/// filter runs (the band leaves the upper half zero), plus one whole (template, segment).
#[test]
#[ignore]
fn bench_half_length_split() {
    use rustfft::FftPlanner;
    let n = 1usize << 19;
    let mut p = FftPlanner::<f64>::new();
    let full = p.plan_fft_inverse(n);
    let half = p.plan_fft_inverse(n / 2);
    let mut buf = vec![Complex64::new(0.5, 0.25); n];
    let mut sc = vec![
        Complex64::new(0.0, 0.0);
        full.get_inplace_scratch_len()
            .max(half.get_inplace_scratch_len())
    ];
    let (mut tf, mut th) = (f64::MAX, f64::MAX);
    for _ in 0..15 {
        let t = std::time::Instant::now();
        full.process_with_scratch(&mut buf, &mut sc);
        tf = tf.min(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        half.process_with_scratch(&mut buf, &mut sc);
        th = th.min(t.elapsed().as_secs_f64());
    }
    eprintln!(
        "min: one 2^19 {:.2} ms, two 2^18 {:.2} ms",
        tf * 1e3,
        th * 1e3
    );
    let grid = DataGrid::new(n, 2048.0, 30.0);
    let x: Vec<f64> = (0..n)
        .map(|j| ((j as u64 * 2654435761) % 100003) as f64 / 100003.0 - 0.5)
        .collect();
    let psd = vec![1.0; grid.bins()];
    let c = condition_segment(&x, &psd, &grid);
    let segs = [SegmentRef {
        index: 0,
        start: 0,
        analyze: 65536..n - 65536,
        data: &c,
    }];
    let e = DataEngine::new(1 << 30);
    let mut tb = f64::MAX;
    for _ in 0..15 {
        let t = std::time::Instant::now();
        e.filter_block(0, &[1.3], &grid, &psd, &segs, 6.0, 2048);
        tb = tb.min(t.elapsed().as_secs_f64());
    }
    eprintln!(
        "min: filter_block one template one segment {:.2} ms",
        tb * 1e3
    );
}
