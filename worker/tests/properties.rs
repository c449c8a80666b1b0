//! Property tests of the engine's physics (few cases: each costs a few FFTs of 2^17 points).

use chirpfarm_core::{SignalSpec, SnrConvention, TemplateResult};
use chirpfarm_worker::engine::{
    lag_seconds, maxsnr, maxsnr_physical, normsq, normtemplate, template, Engine, DF, DT, K0, N, NF,
};
use proptest::prelude::*;

/// Circular lag index (template-conjugated order) of a lag in seconds.
fn lag_index(lag: f64) -> i64 {
    let m = (lag / DT).round() as i64;
    m.rem_euclid(N as i64)
}

fn filter(
    engine: &Engine,
    mc_t: f64,
    specs: &[SignalSpec],
    conv: SnrConvention,
) -> Vec<TemplateResult> {
    engine
        .filter_block(&[mc_t], specs, conv)
        .into_iter()
        .map(|v| v[0])
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// A template filtered with its own normalised version gives the seed's self-SNR
    /// `(2/N)·sqrt(normsq)` (up to the Nyquist bin counted once, 1.4e-7) at lag 0, and the
    /// physical convention gives the signal's optimal SNR `σ_s` exactly.
    #[test]
    fn self_snr(mc in 0.8f64..1.74) {
        let t = template(mc);
        let th = normtemplate(mc);
        let r = maxsnr(&t, &th);
        let want = 2.0 / N as f64 * normsq(&t).sqrt();
        prop_assert!(((r.snr - want) / want).abs() < 1e-6, "{} vs {}", r.snr, want);
        prop_assert_eq!(r.lag_seconds, 0.0);

        let p = maxsnr_physical(&t, &th);
        let sigma = (4.0 * DF * t[K0..NF - 1].iter().map(|z| z.norm_sqr()).sum::<f64>()).sqrt();
        prop_assert!(((p.snr - sigma) / sigma).abs() < 1e-12, "{} vs {}", p.snr, sigma);
        prop_assert_eq!(p.lag_seconds, 0.0);
    }

    /// Delaying the signal by `d` whole samples moves the best lag by exactly `d·Δt` (modulo the
    /// circular segment) and leaves the SNR unchanged, in both conventions, also for a template
    /// that does not match the signal exactly.
    #[test]
    fn integer_delay_shifts_the_lag(
        mc in 0.8f64..1.74,
        mismatch in -0.003f64..0.003,
        d in -60000i64..60000,
    ) {
        let engine = Engine::new(0);
        let mc_t = mc * (1.0 + mismatch);
        let specs = [
            SignalSpec::chirp(mc),
            SignalSpec { mc, delay_seconds: d as f64 * DT },
        ];
        for conv in [SnrConvention::Seed, SnrConvention::Physical] {
            let r = filter(&engine, mc_t, &specs, conv);
            let m0 = lag_index(r[0].lag_seconds);
            let want = lag_seconds((m0 + d).rem_euclid(N as i64) as usize);
            prop_assert_eq!(r[1].lag_seconds, want, "{:?}: {:?}", conv, r);
            prop_assert!(((r[1].snr - r[0].snr) / r[0].snr).abs() <= 1e-9, "{:?}: {:?}", conv, r);
        }
    }
}
