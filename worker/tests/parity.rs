//! Parity of the engine with the seed's numpy module.
//!
//! The reference numbers come from `tests/fixtures/seed_fixtures.json`, written by
//! `tests/fixtures/gen_fixtures.py` (numpy; see its header to regenerate), plus the test vectors
//! of `shared/physics.md` §6. Tolerances: SNRs 1e-9 relative (achieved: ~1e-13), lags exact,
//! arrays 1e-12 of the array's largest |value| (achieved: ≤ 1 ulp of the phase at 40 Hz, i.e.
//! ≤ 9.1e-13 for Mc < 1.13 and ≤ 4.6e-13 above).

use chirpfarm_core::bank::SEED_BANK;
use chirpfarm_core::{best_template, SignalSpec, SnrConvention};
use chirpfarm_worker::engine::{
    maxsnr, maxsnr_physical, normsq, normtemplate, signal, template, Engine, K0, NF,
};
use num_complex::Complex64;
use serde_json::Value;
use std::sync::OnceLock;

fn fixture() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/seed_fixtures.json"
        );
        let text = std::fs::read_to_string(path).expect("read seed_fixtures.json");
        serde_json::from_str(&text).expect("parse seed_fixtures.json")
    })
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("a number")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("an array").iter().map(f).collect()
}

fn cplx(v: &Value) -> Complex64 {
    Complex64::new(f(&v[0]), f(&v[1]))
}

fn rel(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

/// Checks sample bins of `ours` against the fixture, relative to the fixture's max |value|;
/// returns the worst relative error.
fn check_bins(ours: &[Complex64], entry: &Value, values_key: &str, max_key: &str, tol: f64) -> f64 {
    let max = f(&entry[max_key]);
    let mut worst = 0f64;
    for (k, v) in entry["bins"]
        .as_array()
        .unwrap()
        .iter()
        .zip(entry[values_key].as_array().unwrap())
    {
        let k = k.as_u64().unwrap() as usize;
        let want = cplx(v);
        let err = (ours[k] - want).norm() / max;
        assert!(
            err <= tol,
            "{values_key} bin {k}: {} vs {want} ({err:e} of max)",
            ours[k]
        );
        if k < K0 {
            assert_eq!(
                ours[k],
                Complex64::new(0.0, 0.0),
                "bin {k} must be exactly zero"
            );
        }
        worst = worst.max(err);
    }
    worst
}

#[test]
fn physics_md_template_vectors() {
    let t = template(1.2);
    assert_eq!(t.len(), NF);
    let max = t.iter().map(|z| z.norm()).fold(0.0, f64::max);
    for (k, re, im) in [
        (2561, 1.0429256582494384e-07, 7.140010280808575e-08),
        (6400, 4.228945649776656e-08, 9.82779706430048e-09),
        (65536, 6.4942567772505e-11, 2.8764700851442503e-09),
    ] {
        let err = (t[k] - Complex64::new(re, im)).norm() / max;
        assert!(err <= 1e-12, "template(1.2)[{k}] = {} ({err:e})", t[k]);
    }
    assert!(t[..K0].iter().all(|z| *z == Complex64::new(0.0, 0.0)));
    assert!(rel(normsq(&t), 7.752937964506072e-9) <= 1e-12);
    assert!(rel(normsq(&t).sqrt(), 8.805076924426085e-5) <= 1e-12);
    for (mc, want) in [
        (0.8, 3.94439933760113e-09),
        (1.0, 5.7213374752247e-09),
        (1.5, 1.124560946367e-08),
        (1.73, 1.42639914799396e-08),
    ] {
        let got = normsq(&template(mc));
        assert!(rel(got, want) <= 1e-12, "normsq(template({mc})) = {got:e}");
    }
}

#[test]
fn physics_md_maxsnr_and_lag_vectors() {
    let s = template(1.2);
    let r = maxsnr(&s, &normtemplate(1.2));
    assert!(rel(r.snr, 1.3435479310614531e-09) <= 1e-12, "{r:?}");
    assert_eq!(r.lag_seconds, 0.0);

    // Seed bank vs template(1.2): argmax 40 and neighbours (§6 prints ~15 digits).
    let masses = SEED_BANK.masses(1000).unwrap();
    let engine = Engine::new(0);
    let res = engine.filter_block(&masses, &[SignalSpec::chirp(1.2)], SnrConvention::Seed);
    let best = best_template(&res[0]).unwrap();
    assert_eq!(best.template_index, 40);
    for (i, want) in [
        (40, 1.34354793106145e-09),
        (39, 3.27536868680727e-10),
        (41, 3.2612152827296e-10),
        (20, 6.76879670506865e-11),
        (70, 7.2395107046175e-11),
    ] {
        assert!(
            rel(res[0][i].snr, want) <= 1e-12,
            "template {i}: {:e}",
            res[0][i].snr
        );
    }

    // Lag test: template(1.2)·e^{−2πif·3 s}: seed j* = 124928 and template-conjugated j* = 6144
    // both mean +3 s.
    let delayed = signal(&SignalSpec {
        mc: 1.2,
        delay_seconds: 3.0,
    });
    let t = normtemplate(1.2);
    assert_eq!(maxsnr(&delayed, &t).lag_seconds, 3.0);
    assert_eq!(maxsnr_physical(&delayed, &t).lag_seconds, 3.0);
    let early = signal(&SignalSpec {
        mc: 1.2,
        delay_seconds: -1.5,
    });
    assert_eq!(maxsnr(&early, &t).lag_seconds, -1.5);
    assert_eq!(maxsnr_physical(&early, &t).lag_seconds, -1.5);
}

#[test]
fn seed_bank_is_numpy_arange() {
    let ours = SEED_BANK.masses(1000).unwrap();
    let theirs = floats(&fixture()["seed_bank"]);
    assert_eq!(ours, theirs, "bank elements must be bit-identical");
}

#[test]
fn template_arrays_match_numpy() {
    let mut worst = 0f64;
    let mut worst_norm = 0f64;
    for (_, entry) in fixture()["templates"].as_object().unwrap() {
        let mc = f(&entry["mc"]);
        worst = worst.max(check_bins(&template(mc), entry, "values", "max_abs", 1e-12));
        worst_norm = worst_norm.max(check_bins(
            &normtemplate(mc),
            entry,
            "normalised_values",
            "normalised_max_abs",
            1e-12,
        ));
        let ns = normsq(&template(mc));
        assert!(
            rel(ns, f(&entry["normsq"])) <= 1e-14,
            "normsq({mc}) = {ns:e}"
        );
    }
    println!("template sample bins: worst {worst:e}, normalised {worst_norm:e} (of max|value|)");
}

#[test]
fn delayed_signals_match_numpy() {
    let mut worst = 0f64;
    for (_, entry) in fixture()["signals"].as_object().unwrap() {
        let spec = SignalSpec {
            mc: f(&entry["mc"]),
            delay_seconds: f(&entry["delay"]),
        };
        worst = worst.max(check_bins(
            &signal(&spec),
            entry,
            "values",
            "max_abs",
            1e-12,
        ));
    }
    println!("delayed signal sample bins: worst {worst:e} (of max|value|)");
}

#[test]
fn self_filter_matches_numpy() {
    let e = &fixture()["self_1_2"];
    let r = maxsnr(&template(1.2), &normtemplate(1.2));
    assert!(rel(r.snr, f(&e["snr"])) <= 1e-12);
    assert_eq!(r.lag_seconds, f(&e["lag"]));
}

/// Runs one convention's fixture runs through the engine; returns the worst relative SNR error.
fn check_runs(key: &str, conv: SnrConvention) -> f64 {
    let bank = SEED_BANK.masses(1000).unwrap();
    let runs = fixture()[key].as_array().unwrap();
    let specs: Vec<SignalSpec> = runs
        .iter()
        .map(|r| SignalSpec {
            mc: f(&r["mc"]),
            delay_seconds: f(&r["delay"]),
        })
        .collect();
    // All runs of one convention use the same template indices.
    let idx: Vec<usize> = match runs[0].get("template_index") {
        Some(v) => v
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_u64().unwrap() as usize)
            .collect(),
        None => (0..bank.len()).collect(),
    };
    let masses: Vec<f64> = idx.iter().map(|&i| bank[i]).collect();
    let engine = Engine::new(1 << 30);
    let res = engine.filter_block(&masses, &specs, conv);
    let mut worst = 0f64;
    for (run, ours) in runs.iter().zip(&res) {
        let (snr, lag) = (floats(&run["snr"]), floats(&run["lag"]));
        assert_eq!(ours.len(), snr.len());
        for (t, r) in ours.iter().enumerate() {
            let e = rel(r.snr, snr[t]);
            assert!(
                e <= 1e-9,
                "{key} {} template {t}: {:e} vs {:e}",
                run["mc"],
                r.snr,
                snr[t]
            );
            assert_eq!(
                r.lag_seconds, lag[t],
                "{key} {} template {t}: lag",
                run["mc"]
            );
            worst = worst.max(e);
        }
        let numpy_best = (0..snr.len()).fold(0, |b, i| if snr[i] > snr[b] { i } else { b });
        assert_eq!(best_template(ours).unwrap().template_index, numpy_best);
    }
    worst
}

#[test]
fn seed_convention_bank_runs_match_numpy() {
    let worst = check_runs("seed_runs", SnrConvention::Seed);
    println!("seed convention: worst relative SNR error {worst:e}");
}

#[test]
fn physical_convention_runs_match_numpy() {
    let worst = check_runs("physical_runs", SnrConvention::Physical);
    println!("physical convention: worst relative SNR error {worst:e}");
}
