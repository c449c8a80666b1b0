//! Noise-only statistics of the complex SNR on simulated data, through the worker's own filter
//! (`condition_segment` + `snr_series`, PyCBC's `matched_filter`): in Gaussian noise Re z and
//! Im z are unit normals (physics.md §3.2), so ⟨ρ²⟩ = 2 and P(ρ > t) = exp(−t²/2) (Rayleigh).
//!
//! The samples of z are correlated over a few samples (the template's bandwidth), so the
//! standard error of every average is estimated by batch means (1024 batches of 1024 samples,
//! far longer than the correlation), not by the naive 1/√N.

use chirpfarm_strain::psd::aligo_series;
use chirpfarm_strain::simulate::{gaussian_noise_fd, to_time_domain, SimGrid};
use chirpfarm_worker::engine::data::grid::DataGrid;
use chirpfarm_worker::engine::data::{condition_segment, newtonian_template, snr_series};

/// Mean and batch-means standard error of `x` (batches of `b`).
fn mean_and_error(x: &[f64], b: usize) -> (f64, f64) {
    let means: Vec<f64> = x
        .chunks_exact(b)
        .map(|c| c.iter().sum::<f64>() / b as f64)
        .collect();
    let k = means.len() as f64;
    let m = means.iter().sum::<f64>() / k;
    let var = means.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (k - 1.0);
    (m, (var / k).sqrt())
}

#[test]
fn noise_only_complex_snr_is_unit_gaussian() {
    // 512 s at 2048 Hz (2^20 samples), aLIGO from 30 Hz; the whole stretch is one circular
    // segment (frequency-domain noise is exactly periodic, so no sample is corrupted).
    let n = 1 << 20;
    let (rate, f_low) = (2048.0, 30.0);
    let sim = SimGrid::new(n, rate, f_low).unwrap();
    let psd = aligo_series(sim.bins(), sim.delta_f(), f_low);
    let x = to_time_domain(&gaussian_noise_fd(&psd, &sim, 2024).unwrap(), &sim);
    let grid = DataGrid::new(n, rate, f_low);
    let seg = condition_segment(&x, &psd, &grid);
    for mc in [1.2, 2.0] {
        let z = snr_series(&newtonian_template(mc, &grid), &psd, &seg, &grid);
        let rho2: Vec<f64> = z.iter().map(|z| z.norm_sqr()).collect();
        let (m, e) = mean_and_error(&rho2, 1024);
        eprintln!("Mc {mc}: <rho^2> = {m:.5} ± {e:.5}");
        assert!((m - 2.0).abs() < 3.0 * e, "Mc {mc}: <ρ²> = {m} ± {e}");
        assert!(
            e < 0.01,
            "the estimate is precise enough to mean something: {e}"
        );
        let re: Vec<f64> = z.iter().map(|z| z.re * z.re).collect();
        let (m, e) = mean_and_error(&re, 1024);
        assert!((m - 1.0).abs() < 3.0 * e, "Mc {mc}: <Re z²> = {m} ± {e}");
        // Rayleigh tail at several thresholds.
        for t in [1.0, 2.0, 3.0, 3.5] {
            let above: Vec<f64> = rho2
                .iter()
                .map(|&r| if r > t * t { 1.0 } else { 0.0 })
                .collect();
            let (p, e) = mean_and_error(&above, 1024);
            let want = (-t * t / 2.0f64).exp();
            eprintln!("Mc {mc}: P(rho > {t}) = {p:.6} ± {e:.6}, Rayleigh {want:.6}");
            assert!(
                (p - want).abs() < 3.5 * e,
                "Mc {mc}, t {t}: {p} vs {want} ± {e}"
            );
        }
    }
}
