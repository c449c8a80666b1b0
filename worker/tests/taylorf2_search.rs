//! The data engine with TaylorF2 templates: a TaylorF2 signal (LAL's waveform, via
//! `chirpfarm-waveform`) injected into white Gaussian noise is found by the right template of a
//! (mass1, mass2, spin) bank at the right sample with the expected SNR, better than by its
//! chirp mass's Newtonian template; templates are cached per waveform.

use chirpfarm_core::TemplateParams;
use chirpfarm_waveform::taylorf2_into;
use chirpfarm_worker::engine::data::{
    condition_segment, BankTemplate, DataEngine, DataGrid, SegmentRef, TriggerOptions,
};
use num_complex::Complex64;
use rand::{Rng, SeedableRng};
use realfft::RealFftPlanner;

/// Gaussian samples (Box–Muller) with standard deviation `sd`, reproducibly.
fn white_noise(n: usize, sd: f64, seed: u64) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (u1, u2): (f64, f64) = (1.0 - rng.gen::<f64>(), rng.gen());
            sd * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        })
        .collect()
}

#[test]
fn finds_a_taylorf2_signal_at_the_right_sample() {
    let (n, fs, f_low) = (1usize << 17, 2048.0, 30.0);
    let grid = DataGrid::new(n, fs, f_low);
    let (df, dt) = (grid.delta_f(), grid.delta_t());
    let truth = TemplateParams {
        mass1: 3.0,
        mass2: 1.5,
        spin1z: 0.4,
        spin2z: -0.3,
    };
    // White noise with one-sided PSD S = 1: time-domain variance S/(2Δt).
    let psd = vec![1.0; grid.bins()];
    let mut data = white_noise(n, (1.0 / (2.0 * dt)).sqrt(), 11);
    // Signal: h̃ (LAL's TaylorF2) delayed by t0, scaled to optimal SNR 12 with this PSD.
    let (t0_sample, snr) = (40_960usize, 12.0);
    let t0 = t0_sample as f64 * dt;
    let mut h = vec![Complex64::new(0.0, 0.0); grid.bins()];
    taylorf2_into(&truth, 1.0, f_low, None, df, 0, &mut h);
    let band = grid.k_low()..grid.k_high();
    let sigma = (4.0 * df * h[band.clone()].iter().map(|c| c.norm_sqr()).sum::<f64>()).sqrt();
    let mut spec: Vec<Complex64> = (0..grid.bins())
        .map(|k| {
            let f = k as f64 * df;
            h[k] * (snr / sigma) * Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * f * t0)
        })
        .collect();
    spec[0] = Complex64::new(0.0, 0.0);
    spec[n / 2] = Complex64::new(0.0, 0.0);
    // d̃ = Δt·rfft(d), so d = c2r(d̃)/(nΔt).
    let mut signal = vec![0.0; n];
    RealFftPlanner::<f64>::new()
        .plan_fft_inverse(n)
        .process(&mut spec, &mut signal)
        .unwrap();
    for (d, s) in data.iter_mut().zip(&signal) {
        *d += s / (n as f64 * dt);
    }

    let seg = condition_segment(&data, &psd, &grid);
    let segs = [SegmentRef {
        index: 0,
        start: 0,
        analyze: 0..n,
        data: &seg,
    }];
    let p = |m1, m2, s1, s2| TemplateParams {
        mass1: m1,
        mass2: m2,
        spin1z: s1,
        spin2z: s2,
    };
    let f2 = |p| BankTemplate::TaylorF2 {
        params: p,
        f_final: None,
    };
    let bank = [
        f2(p(3.0, 1.5, 0.0, 0.0)),
        f2(truth),
        f2(p(2.6, 1.7, 0.4, -0.3)),
        f2(p(1.4, 1.4, 0.0, 0.0)),
        BankTemplate::Newtonian {
            mc: truth.chirp_mass(),
        },
    ];
    let engine = DataEngine::new(1 << 30);
    let out = engine.filter_templates(
        0,
        &bank,
        &grid,
        &psd,
        &segs,
        &TriggerOptions::snr_only(6.0, 2048),
    );
    assert_eq!(engine.templates_generated(), 5);
    for (t, o) in bank.iter().zip(&out) {
        eprintln!("{t:?}: peak {:.3} at {}", o.peak.snr, o.peak.sample);
    }
    let best = (0..bank.len())
        .max_by(|&a, &b| out[a].peak.snr.total_cmp(&out[b].peak.snr))
        .unwrap();
    assert_eq!(best, 1, "the true template is the loudest");
    assert_eq!(out[1].peak.sample, t0_sample as u64);
    assert!((out[1].peak.snr - snr).abs() < 3.0, "{}", out[1].peak.snr);
    // Its trigger: at the injection, with |z| above threshold.
    assert!(out[1].triggers.iter().any(|t| t.sample == t0_sample as u64));
    // The Newtonian chirp of the same chirp mass recovers clearly less.
    assert!(out[4].peak.snr < 0.9 * out[1].peak.snr);
    // Same bank again: every template from the cache, same answer.
    let again = engine.filter_templates(
        0,
        &bank,
        &grid,
        &psd,
        &segs,
        &TriggerOptions::snr_only(6.0, 2048),
    );
    assert_eq!(engine.templates_generated(), 5);
    assert_eq!(again, out);
    // A different f_final is a different template.
    let cut = [BankTemplate::TaylorF2 {
        params: truth,
        f_final: Some(200.0),
    }];
    let c = engine.filter_templates(
        1,
        &cut,
        &grid,
        &psd,
        &segs,
        &TriggerOptions::snr_only(6.0, 2048),
    );
    assert_eq!(engine.templates_generated(), 6);
    assert!(c[0].peak.snr < out[1].peak.snr && c[0].peak.sample.abs_diff(t0_sample as u64) <= 2);
}
