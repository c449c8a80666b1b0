//! The match metric g_ij in (θ0, θ3) (physics.md §5.1, Owen 1996).
//!
//! 1 − match ≈ g_ij Δθ^i Δθ^j for nearby templates of the same amplitude, with
//! g_ij = ½[C(∂iΨ, ∂jΨ) − C(∂iΨ, f) C(∂jΨ, f) / C(f, f)] and C a covariance under the weight
//! w(f) = f^(−7/3)/S(f): the first term is the phase mismatch, the second removes what a shift
//! of coalescence time absorbs (the constant phase is removed by the covariance itself).
//! Ψ is the 3.5PN TaylorF2 phase of `chirpfarm-waveform`, differentiated by central differences
//! in θ (relative step 1e-5), which is why η may step slightly past 1/4 there. Integrals use
//! Simpson's rule in ln f on [f_low, min(f_high, f_ISCO)].

use crate::coords::{Chirp, Theta};
use crate::noise::Noise;
use chirpfarm_waveform::TaylorF2;

/// A symmetric 2×2 metric `[[g00, g03], [g03, g33]]`.
pub type Metric2 = [[f64; 2]; 2];

/// Quadrature points in ln f: 6-digit metric components (tested against physics.md's values).
const POINTS: usize = 2001;

/// Everything the metric needs that does not depend on the point: the frequency grid and the
/// noise weights, computed once per bank (the PSD is the expensive part to re-evaluate).
#[derive(Debug, Clone)]
pub struct MetricField {
    /// Coordinates' lower frequency.
    pub chirp: Chirp,
    /// Frequencies, log-spaced on [f_low, f_high].
    freqs: Vec<f64>,
    /// Simpson weight × f (d f = f d ln f) × f^(−7/3)/S(f).
    weights: Vec<f64>,
}

impl MetricField {
    /// The grid for a band and a noise spectrum (checked finite and positive by the caller).
    pub fn new(noise: &Noise, f_low: f64, f_high: f64) -> MetricField {
        let (a, b) = (f_low.ln(), f_high.ln());
        let h = (b - a) / (POINTS - 1) as f64;
        let mut freqs = Vec::with_capacity(POINTS);
        let mut weights = Vec::with_capacity(POINTS);
        for i in 0..POINTS {
            let f = (a + h * i as f64).exp();
            let simpson = if i == 0 || i == POINTS - 1 {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            freqs.push(f);
            weights.push(simpson * h / 3.0 * f * f.powf(-7.0 / 3.0) / noise.psd(f));
        }
        MetricField {
            chirp: Chirp { f_low },
            freqs,
            weights,
        }
    }

    /// g at a point of the plane; the band ends at the ISCO of the point's total mass when that
    /// is below f_high (the templates end there).
    pub fn at(&self, t: Theta) -> Metric2 {
        let n = match self.chirp.mass_eta(t) {
            Some((m, eta)) => {
                let f_isco = TaylorF2::from_mass_eta(m, eta).f_isco();
                self.freqs.partition_point(|&f| f <= f_isco).max(3)
            }
            None => self.freqs.len(),
        };
        let (freqs, w) = (&self.freqs[..n], &self.weights[..n]);
        let mut d = [vec![0.0; n], vec![0.0; n]];
        for (i, di) in d.iter_mut().enumerate() {
            let h = 1e-5 * t[i];
            let (mut tp, mut tm) = (t, t);
            tp[i] += h;
            tm[i] -= h;
            let phase = |x: Theta| {
                let (m, eta) = self
                    .chirp
                    .mass_eta(x)
                    .expect("θ±h stays positive for a positive θ");
                TaylorF2::from_mass_eta(m, eta)
            };
            let (p, q) = (phase(tp), phase(tm));
            for (k, &f) in freqs.iter().enumerate() {
                di[k] = (p.phase(f) - q.phase(f)) / (2.0 * h);
            }
        }
        let total: f64 = w.iter().sum();
        let mean = |a: &dyn Fn(usize) -> f64| (0..n).map(|k| w[k] * a(k)).sum::<f64>() / total;
        let cov = |a: &dyn Fn(usize) -> f64, b: &dyn Fn(usize) -> f64| {
            mean(&|k| a(k) * b(k)) - mean(a) * mean(b)
        };
        let f = |k: usize| freqs[k];
        let d0 = |k: usize| d[0][k];
        let d3 = |k: usize| d[1][k];
        let cff = cov(&f, &f);
        let (c0f, c3f) = (cov(&d0, &f), cov(&d3, &f));
        let g00 = 0.5 * (cov(&d0, &d0) - c0f * c0f / cff);
        let g03 = 0.5 * (cov(&d0, &d3) - c0f * c3f / cff);
        let g33 = 0.5 * (cov(&d3, &d3) - c3f * c3f / cff);
        [[g00, g03], [g03, g33]]
    }
}

/// Eigenvalues (ascending) and unit eigenvectors (as columns `v[·][i]` of λ_i) of a symmetric
/// 2×2 matrix.
pub fn eigen(g: &Metric2) -> ([f64; 2], [[f64; 2]; 2]) {
    let (a, b, c) = (g[0][0], g[0][1], g[1][1]);
    let mid = 0.5 * (a + c);
    let rad = (0.25 * (a - c) * (a - c) + b * b).sqrt();
    let (l0, l1) = (mid - rad, mid + rad);
    // Eigenvector of the larger eigenvalue, then its perpendicular.
    let (x, y) = if b.abs() > 1e-300 {
        (b, l1 - a)
    } else if a >= c {
        (1.0, 0.0)
    } else {
        (0.0, 1.0)
    };
    let norm = (x * x + y * y).sqrt();
    let (x, y) = (x / norm, y / norm);
    ([l0, l1], [[-y, x], [x, y]])
}

/// Δθᵀ g Δθ: the squared metric distance, ≈ 1 − match.
pub fn dist2(g: &Metric2, a: Theta, b: Theta) -> f64 {
    let (x, y) = (a[0] - b[0], a[1] - b[1]);
    g[0][0] * x * x + 2.0 * g[0][1] * x * y + g[1][1] * y * y
}

/// The largest λ with det(g − λ·h) = 0 (h positive definite): the least factor by which `h`
/// must be scaled so that λ·h ≥ g in every direction.
pub fn max_ratio(g: &Metric2, h: &Metric2) -> f64 {
    // det(g − λh) = det(h) λ² − (g00 h33 + g33 h00 − 2 g03 h03) λ + det(g)
    let dh = h[0][0] * h[1][1] - h[0][1] * h[0][1];
    let dg = g[0][0] * g[1][1] - g[0][1] * g[0][1];
    let b = g[0][0] * h[1][1] + g[1][1] * h[0][0] - 2.0 * g[0][1] * h[0][1];
    let disc = (b * b - 4.0 * dh * dg).max(0.0).sqrt();
    (b + disc) / (2.0 * dh)
}
