//! The power χ² veto and newSNR (`engine::data::chisq`) against PyCBC 2.11.
//!
//! Fixture: `tests/fixtures/chisq/chisq.json`, written by `gen_chisq_fixtures.py` in the same
//! folder: the data_filter fixture's strain (coloured noise + a Newtonian chirp of Mc 1.3 at
//! sample 57344) plus a one-sample glitch at sample 20000, its PSD, f_low = 30 Hz; for three
//! templates, PyCBC's `power_chisq_bins` edges and `power_chisq` / `newsnr` at PyCBC's clustered
//! triggers and a few probes, for P = 4, 16 and 26 bins.

use chirpfarm_core::Rank;
use chirpfarm_worker::engine::data::{
    condition_segment, newtonian_template, power_chisq_edges, sigmasq, snr_series, BankTemplate,
    ChisqInput, ConditionedSegment, DataEngine, DataGrid, SegmentRef, TriggerOptions,
};
use num_complex::Complex64;
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// A 1-D little-endian `.npy` array of `<f4` or `<f8`, as f64.
fn read_npy(rel: &str) -> Vec<f64> {
    let bytes = std::fs::read(fixtures().join(rel)).expect("read .npy");
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{rel}: not an .npy file");
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).expect("ascii header");
    let data = &bytes[10 + hlen..];
    if header.contains("'<f4'") {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect()
    } else {
        assert!(header.contains("'<f8'"), "{rel}: {header}");
        data.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }
}

/// The fixture: JSON, the glitched data conditioned as one segment, the PSD, the grid.
struct Fixture {
    json: Value,
    psd: Vec<f64>,
    grid: DataGrid,
    seg: ConditionedSegment,
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(fixtures().join("chisq/chisq.json")).expect("chisq.json");
    let json: Value = serde_json::from_str(&text).expect("parse chisq.json");
    let grid = DataGrid::new(
        json["n"].as_u64().unwrap() as usize,
        json["sample_rate"].as_f64().unwrap(),
        json["f_low"].as_f64().unwrap(),
    );
    assert_eq!(grid.k_low() as u64, json["k_low"].as_u64().unwrap());
    let mut strain = read_npy("data_filter/strain.npy");
    strain[json["glitch_sample"].as_u64().unwrap() as usize] +=
        json["glitch_amplitude"].as_f64().unwrap();
    let psd = read_npy("data_filter/psd.npy");
    let seg = condition_segment(&strain, &psd, &grid);
    Fixture {
        json,
        psd,
        grid,
        seg,
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn templates(fx: &Fixture) -> Vec<Value> {
    fx.json["templates"].as_array().unwrap().clone()
}

fn bins(fx: &Fixture) -> Vec<u32> {
    nums(&fx.json["bins"]).iter().map(|&p| p as u32).collect()
}

/// The one segment, its analysed slice as the fixture's.
fn segment(fx: &Fixture) -> SegmentRef<'_> {
    let sl = nums(&fx.json["slice"]);
    SegmentRef {
        index: 0,
        start: 0,
        analyze: sl[0] as usize..sl[1] as usize,
        data: &fx.seg,
    }
}

#[test]
fn edges_and_chisq_at_points_equal_pycbc() {
    let fx = fixture();
    let g = &fx.grid;
    let (lo, hi) = (g.k_low(), g.k_high());
    let (mut worst_chisq, mut worst_newsnr, mut checked) = (0f64, 0f64, 0);
    for t in templates(&fx) {
        let mc = t["mc"].as_f64().unwrap();
        let h = newtonian_template(mc, g);
        let ss = sigmasq(&h, &fx.psd, g);
        let scale = 4.0 * g.delta_f() / ss.sqrt();
        let z = snr_series(&h, &fx.psd, &fx.seg, g);
        let points: Vec<usize> = nums(&t["points"]).iter().map(|&p| p as usize).collect();
        let raw: Vec<Complex64> = points.iter().map(|&j| z[j] / scale).collect();
        for p in bins(&fx) {
            let key = p.to_string();
            let mut edges = Vec::new();
            power_chisq_edges(
                &h[lo..hi],
                &fx.psd[lo..hi],
                g.delta_f(),
                p as usize,
                &mut edges,
            );
            let abs: Vec<f64> = edges.iter().map(|&e| (e + lo) as f64).collect();
            assert_eq!(abs, nums(&t["edges"][&key]), "Mc {mc} P {p}: edges");
            let input = ChisqInput {
                template: &h[lo..hi],
                segment: fx.seg.band(),
                k_low: lo,
                n: g.n,
                edges: &edges,
                scale,
            };
            let mut got = vec![0.0; points.len()];
            input.chisq_at(&points, &raw, &mut got);
            let (want, want_ns) = (nums(&t["chisq"][&key]), nums(&t["newsnr"][&key]));
            let snr = nums(&t["snr"]);
            for i in 0..points.len() {
                worst_chisq = worst_chisq.max(rel(got[i], want[i]));
                let dof = (2 * p - 2) as f64;
                let ns = chirpfarm_worker::engine::data::newsnr(snr[i], got[i] / dof);
                worst_newsnr = worst_newsnr.max(rel(ns, want_ns[i]));
                checked += 1;
            }
        }
    }
    eprintln!(
        "{checked} points × bins vs PyCBC power_chisq: chisq {worst_chisq:.1e}, newsnr \
         {worst_newsnr:.1e} relative"
    );
    assert!(checked > 100);
    assert!(worst_chisq <= 1e-6 && worst_newsnr <= 1e-6);
}

#[test]
fn triggers_carry_pycbcs_chisq_and_newsnr() {
    let fx = fixture();
    let masses: Vec<f64> = templates(&fx)
        .iter()
        .map(|t| t["mc"].as_f64().unwrap())
        .collect();
    let thr = fx.json["threshold"].as_f64().unwrap();
    let window = fx.json["window"].as_u64().unwrap() as usize;
    let engine = DataEngine::new(1 << 30);
    let segs = [segment(&fx)];
    let (mut worst, mut checked) = (0f64, 0);
    for p in bins(&fx) {
        let opts = TriggerOptions {
            chisq_bins: p,
            ..TriggerOptions::snr_only(thr, window)
        };
        let out = engine.filter_templates(
            0,
            &BankTemplate::newtonian(&masses),
            &fx.grid,
            &fx.psd,
            &segs,
            &opts,
        );
        for (o, t) in out.iter().zip(templates(&fx)) {
            let points: Vec<u64> = nums(&t["points"]).iter().map(|&x| x as u64).collect();
            let want: Vec<u64> = nums(&t["triggers"]).iter().map(|&x| x as u64).collect();
            let got: Vec<u64> = o.triggers.iter().map(|tr| tr.sample).collect();
            assert_eq!(got, want, "Mc {}: triggers", t["mc"]);
            let (chisq, ns) = (
                nums(&t["chisq"][p.to_string()]),
                nums(&t["newsnr"][p.to_string()]),
            );
            for tr in &o.triggers {
                let i = points.iter().position(|&x| x == tr.sample).unwrap();
                assert!(tr.is_valid(), "{tr:?}");
                assert_eq!(tr.chisq_dof, 2 * p - 2);
                worst = worst
                    .max(rel(tr.chisq, chisq[i]))
                    .max(rel(tr.newsnr, ns[i]));
                checked += 1;
            }
            // The peak carries its own χ² (it is one of the triggers here).
            let i = points.iter().position(|&x| x == o.peak.sample).unwrap();
            assert!(rel(o.peak.chisq, chisq[i]) <= 1e-6);
        }
    }
    eprintln!("{checked} triggers through the engine: chisq and newsnr within {worst:.1e}");
    assert!(checked > 30 && worst <= 1e-6);
}

#[test]
fn the_glitch_has_a_large_chisq_and_the_injection_does_not() {
    let fx = fixture();
    let (inj, glitch) = (
        fx.json["injection_sample"].as_u64().unwrap(),
        fx.json["glitch_sample"].as_u64().unwrap(),
    );
    let engine = DataEngine::new(0);
    let segs = [segment(&fx)];
    let thr = fx.json["threshold"].as_f64().unwrap();
    let opts = TriggerOptions {
        chisq_bins: 16,
        ..TriggerOptions::snr_only(thr, 512)
    };
    let by = |rank, newsnr_threshold| {
        let o = TriggerOptions {
            rank,
            newsnr_threshold,
            ..opts
        };
        engine.filter_templates(
            0,
            &BankTemplate::newtonian(&[1.3]),
            &fx.grid,
            &fx.psd,
            &segs,
            &o,
        )[0]
        .clone()
    };
    let snr = by(Rank::Snr, 0.0);
    let near = |x: u64| {
        *snr.triggers
            .iter()
            .min_by_key(|t| t.sample.abs_diff(x))
            .unwrap()
    };
    let (ti, tg) = (near(inj), near(glitch));
    eprintln!(
        "injection: SNR {:.2} χ²_r {:.2} newSNR {:.2}; glitch: SNR {:.2} χ²_r {:.1} newSNR {:.2}",
        ti.snr,
        ti.reduced_chisq(),
        ti.newsnr,
        tg.snr,
        tg.reduced_chisq(),
        tg.newsnr
    );
    assert!(ti.sample.abs_diff(inj) <= 1 && tg.sample.abs_diff(glitch) < 512);
    assert!(
        ti.reduced_chisq() < 2.5,
        "injection χ²_r {}",
        ti.reduced_chisq()
    );
    assert!(
        tg.reduced_chisq() > 100.0,
        "glitch χ²_r {}",
        tg.reduced_chisq()
    );
    assert!(tg.snr > ti.snr && tg.newsnr < ti.newsnr / 2.0);
    // By SNR the glitch is the template's best; by newSNR the injection is.
    assert_eq!(snr.peak.sample, tg.sample);
    let ranked = by(Rank::Newsnr, 0.0);
    assert_eq!(ranked.peak.sample, ti.sample);
    assert_eq!(
        ranked.triggers, snr.triggers,
        "the rank never changes the triggers"
    );
    // A newSNR cut keeps the injection and drops the glitch.
    let cut = by(Rank::Snr, 8.0);
    assert!(cut.triggers.iter().any(|t| t.sample == ti.sample));
    assert!(cut.triggers.iter().all(|t| t.newsnr >= 8.0));
    assert!(!cut.triggers.iter().any(|t| t.sample == tg.sample));
}

/// χ² per trigger at the benchmark's size, for `bench/chisq.sh` (PyCBC's side:
/// `bench/python/chisq_bench.py`): one 256 s segment at 2048 Hz (n = 2^19), f_low 20 Hz, Mc 1.3,
/// P = 16, `CHISQ_BENCH_POINTS` (default 64) points, one thread, median of 5. Prints one JSON
/// line. `cargo test -p chirpfarm-worker --test chisq bench_chisq_per_trigger -- --ignored
/// --nocapture` (the worker is built at opt-level 3 in every profile).
#[test]
#[ignore]
fn bench_chisq_per_trigger() {
    let points: usize = std::env::var("CHISQ_BENCH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let g = DataGrid::new(1 << 19, 2048.0, 20.0);
    let (lo, hi) = (g.k_low(), g.k_high());
    // Pseudo-noise and a smooth PSD: the cost does not depend on the values.
    let x: Vec<f64> = (0..g.n)
        .map(|j| ((j as u64 * 2654435761) % 100003) as f64 / 100003.0 - 0.5)
        .collect();
    let psd: Vec<f64> = (0..g.bins()).map(|k| 1.0 + 1e3 / (1 + k) as f64).collect();
    let seg = condition_segment(&x, &psd, &g);
    let h = newtonian_template(1.3, &g);
    let scale = 4.0 * g.delta_f() / sigmasq(&h, &psd, &g).sqrt();
    let z = snr_series(&h, &psd, &seg, &g);
    let locs: Vec<usize> = (0..points)
        .map(|i| g.n / 8 + i * (3 * g.n / 4) / points)
        .collect();
    let raw: Vec<Complex64> = locs.iter().map(|&j| z[j] / scale).collect();
    let mut edges = Vec::new();
    let t0 = std::time::Instant::now();
    for _ in 0..3 {
        power_chisq_edges(&h[lo..hi], &psd[lo..hi], g.delta_f(), 16, &mut edges);
    }
    let edges_ms = t0.elapsed().as_secs_f64() / 3.0 * 1e3;
    let input = ChisqInput {
        template: &h[lo..hi],
        segment: seg.band(),
        k_low: lo,
        n: g.n,
        edges: &edges,
        scale,
    };
    let mut out = vec![0.0; points];
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t0 = std::time::Instant::now();
            input.chisq_at(&locs, &raw, &mut out);
            std::hint::black_box(&out);
            t0.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"side\": \"chirpfarm\", \"n\": {}, \"bins\": 16, \"points\": {points}, \
         \"ms_per_trigger\": {}, \"edges_ms_per_template\": {edges_ms}}}",
        g.n,
        times[2] / points as f64 * 1e3
    );
}
