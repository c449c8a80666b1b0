//! Simulated noise: its spectrum is the one asked for (noise-weighted norm and a Welch estimate),
//! injections have the optimal SNR asked for, and the same seed gives the same bytes — checked
//! against values committed here, so a change of RNG, sampler or FFT path shows up.

use chirpfarm_strain::psd::{aligo_series, welch};
use chirpfarm_strain::simulate::{
    add_injection, gaussian_noise_fd, sigmasq, to_time_domain, SimGrid, StableNormal,
};
use num_complex::Complex64;

/// 512 s at 2048 Hz from 20 Hz: the example stretch.
fn grid_512() -> SimGrid {
    SimGrid::new(512 * 2048, 2048.0, 20.0).unwrap()
}

#[test]
fn normal_draws_are_the_committed_ones() {
    let mut g = StableNormal::new(7);
    let got: Vec<(f64, f64)> = (0..3).map(|_| g.pair()).collect();
    for (i, (a, b)) in got.iter().enumerate() {
        assert_eq!(a.to_bits(), COMMITTED_PAIRS[i].0.to_bits(), "pair {i}: {a}");
        assert_eq!(b.to_bits(), COMMITTED_PAIRS[i].1.to_bits(), "pair {i}: {b}");
    }
    // Moments of many draws: mean 0, variance 1, fourth moment 3 (1e6 draws: σ ≈ 1e-3, 1.4e-3, 1e-2).
    let mut g = StableNormal::new(1);
    let (mut s1, mut s2, mut s4) = (0.0, 0.0, 0.0);
    let n = 500_000;
    for _ in 0..n {
        let (a, b) = g.pair();
        for x in [a, b] {
            s1 += x;
            s2 += x * x;
            s4 += x * x * x * x;
        }
    }
    let m = 2.0 * n as f64;
    assert!((s1 / m).abs() < 5e-3, "mean {}", s1 / m);
    assert!((s2 / m - 1.0).abs() < 7e-3, "variance {}", s2 / m);
    assert!((s4 / m - 3.0).abs() < 5e-2, "fourth moment {}", s4 / m);
}

/// The first three pairs of `StableNormal::new(7)` (ChaCha8, polar method, stable ln).
const COMMITTED_PAIRS: [(f64, f64); 3] = [
    (1.574407941388918, -0.20305283318579462),
    (-1.097543818807086, -1.5742732553143843),
    (-0.5343226543616693, -1.1275937968768048),
];

/// FNV-1a over the little-endian bytes of every sample.
fn fnv(x: &[f64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in x {
        for b in v.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[test]
fn same_seed_same_bytes() {
    let grid = SimGrid::new(8192, 1024.0, 20.0).unwrap();
    let psd = aligo_series(grid.bins(), grid.delta_f(), grid.f_low);
    let a = to_time_domain(&gaussian_noise_fd(&psd, &grid, 7).unwrap(), &grid);
    let b = to_time_domain(&gaussian_noise_fd(&psd, &grid, 7).unwrap(), &grid);
    let c = to_time_domain(&gaussian_noise_fd(&psd, &grid, 8).unwrap(), &grid);
    assert_eq!(fnv(&a), fnv(&b));
    assert_ne!(fnv(&a), fnv(&c));
    assert_eq!(fnv(&a), COMMITTED_FNV, "first samples {:?}", &a[..4]);
    for (i, want) in COMMITTED_PREFIX.iter().enumerate() {
        assert_eq!(a[i].to_bits(), want.to_bits(), "sample {i}: {:?}", a[i]);
    }
}

/// FNV-1a of the 8192 samples of seed 7 (8 s at 1024 Hz, aLIGO from 20 Hz), and the first four.
const COMMITTED_FNV: u64 = 17860530024813745820;
const COMMITTED_PREFIX: [f64; 4] = [
    -1.9650934924330446e-23,
    1.0303141097978848e-22,
    -6.480143943794425e-23,
    -6.900469915263127e-23,
];

#[test]
fn noise_weighted_norm_is_two_per_bin() {
    // ⟨ñ|ñ⟩ = 4Δf Σ|ñ_k|²/S_k has mean 2·N_bins and relative σ 1/sqrt(N_bins) (physics.md §3.4).
    let grid = grid_512();
    let psd = aligo_series(grid.bins(), grid.delta_f(), grid.f_low);
    let noise = gaussian_noise_fd(&psd, &grid, 11).unwrap();
    let bins = (grid.k_high() - grid.k_low()) as f64;
    let ratio = sigmasq(&noise, &psd, &grid) / (2.0 * bins);
    let sigma = 1.0 / bins.sqrt();
    assert!(
        (ratio - 1.0).abs() < 3.0 * sigma,
        "ratio {ratio}, σ {sigma}"
    );
    // Nothing outside the band.
    assert!(noise[..grid.k_low()]
        .iter()
        .all(|z| *z == Complex64::new(0.0, 0.0)));
    assert_eq!(noise[grid.n / 2], Complex64::new(0.0, 0.0));
}

#[test]
fn welch_estimate_of_the_noise_is_the_requested_psd() {
    let grid = grid_512();
    let psd = aligo_series(grid.bins(), grid.delta_f(), grid.f_low);
    let x = to_time_domain(&gaussian_noise_fd(&psd, &grid, 3).unwrap(), &grid);
    // Time-domain variance: ∫ S df over the band (Parseval), within 1%.
    let var = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let want: f64 = psd[grid.k_low()..grid.k_high()].iter().sum::<f64>() * grid.delta_f();
    assert!((var / want - 1.0).abs() < 0.01, "variance {var} vs {want}");
    // pycbc.psd.welch (4 s Hann segments, 2 s stride, median): 255 segments, ~8% scatter per
    // bin; averaged over 16 Hz bands (64 bins, ~32 independent) ~1.5%: every band within 5%.
    let w = welch(&x, 2048.0, 8192, 4096).unwrap();
    let df = 0.25;
    let mut worst: f64 = 0.0;
    for band in 0..60 {
        let (lo, hi) = (30.0 + 16.0 * band as f64, 46.0 + 16.0 * band as f64);
        let (klo, khi) = ((lo / df) as usize, (hi / df) as usize);
        let est: f64 = w[klo..khi].iter().sum::<f64>();
        let truth: f64 = (klo..khi)
            .map(|k| chirpfarm_strain::psd::aligo(k as f64 * df))
            .sum();
        worst = worst.max((est / truth - 1.0).abs());
    }
    assert!(worst < 0.05, "worst 16 Hz band off by {worst}");
}

#[test]
fn injection_has_the_requested_optimal_snr_and_time() {
    // A toy chirp-like h (smooth amplitude, quadratic phase): σ of the injected data is ρ, and
    // the time-domain peak of a short pulse sits at t0.
    let grid = SimGrid::new(16384, 1024.0, 20.0).unwrap();
    let psd = aligo_series(grid.bins(), grid.delta_f(), grid.f_low);
    let h: Vec<Complex64> = (0..grid.bins())
        .map(|k| {
            let f = k as f64 * grid.delta_f();
            Complex64::from_polar(f.max(1.0).powf(-7.0 / 6.0), 1e-3 * f * f)
        })
        .collect();
    let sigma = sigmasq(&h, &psd, &grid).sqrt();
    let mut d = vec![Complex64::new(0.0, 0.0); grid.bins()];
    add_injection(&mut d, &h, 12.0 / sigma, 0.3, 5.25, &grid);
    let rho = sigmasq(&d, &psd, &grid).sqrt();
    assert!((rho - 12.0).abs() < 1e-9, "{rho}");
    // A flat spectrum is a pulse: injected at t0 = 5.25 s it peaks at sample 5.25·1024.
    let flat = vec![Complex64::new(1.0, 0.0); grid.bins()];
    let mut d = vec![Complex64::new(0.0, 0.0); grid.bins()];
    add_injection(&mut d, &flat, 1.0, 0.0, 5.25, &grid);
    let x = to_time_domain(&d, &grid);
    let peak = (0..x.len()).max_by(|&a, &b| x[a].total_cmp(&x[b])).unwrap();
    assert_eq!(peak, 5376);
}

#[test]
fn bad_grids_and_psds_are_errors() {
    assert!(SimGrid::new(1001, 1024.0, 20.0).is_err());
    assert!(SimGrid::new(1024, 1024.0, 600.0).is_err());
    assert!(SimGrid::new(1024, 1024.0, 0.5).is_err());
    let grid = SimGrid::new(1024, 1024.0, 20.0).unwrap();
    let mut psd = aligo_series(grid.bins(), grid.delta_f(), grid.f_low);
    psd[100] = f64::NAN;
    let e = gaussian_noise_fd(&psd, &grid, 1).unwrap_err().to_string();
    assert!(e.contains("100 Hz"), "{e}");
    let e = gaussian_noise_fd(&psd[..10], &grid, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("10 values"), "{e}");
}
