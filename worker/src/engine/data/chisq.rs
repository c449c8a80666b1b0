//! The power χ² signal-consistency veto (Allen 2005, PyCBC's `power_chisq`) and the reweighted
//! SNR (PyCBC's `newsnr`), evaluated only at the samples that need them (triggers, peaks).
//!
//! A real chirp spreads its SNR over frequency as the template does; a glitch does not. The
//! band is split into `P` contiguous bins holding equal template power ([`power_chisq_edges`],
//! PyCBC's `power_chisq_bins`: edges from the cumulative `|h̃_k|²/S_k`), and at sample `l`
//!
//! ```text
//! q_b(l) = Σ_{k ∈ bin b} conj(h̃_k) w_k e^{+2πikl/n}      (w_k = d̃_k/S_k, the conditioned segment)
//! χ²(l)  = (P Σ_b |q_b(l)|² − |z_raw(l)|²) · (4Δf/σ)²      2P − 2 degrees of freedom
//! ```
//!
//! with `z_raw` the filter's unnormalised output at `l` (PyCBC's
//! `power_chisq_at_points_from_precomputed`). Each `q_b(l)` is a direct DFT over its bin's
//! band — O(band) per point, no FFT — formed from the template band and the conditioned
//! segment the filter already holds, for up to [`GROUP`] points per pass over the band, with
//! no allocation. Phasors advance by recurrence and are recomputed exactly every [`RESYNC`]
//! bins, so the result agrees with PyCBC's per-bin-FFT `power_chisq` to ~1e-13 relative
//! (PyCBC's own compiled `shift_sum` drifts to ~1e-6; see `tests/fixtures/chisq`).

pub use chirpfarm_core::data::{chisq_dof, newsnr};
use num_complex::Complex64;

/// Points evaluated in one pass over the band: each `conj(h̃_k)·w_k` is formed once per group.
pub const GROUP: usize = 4;

/// Bins between exact phasor evaluations (the recurrence in between loses ~`RESYNC` ulps).
const RESYNC: usize = 256;

/// PyCBC's `power_chisq_bins` on the filter band: `bins + 1` edges into `band` (index
/// `k − k_low`; add `k_low` for PyCBC's absolute bin numbers), written into `edges`.
///
/// As PyCBC: `cum = 4Δf · cumsum(|h̃_k|²/S_k)` over the band, edge `i < P` is the number of
/// `cum` values `≤ i·cum_last/P` (`searchsorted(..., side='right')`), the last edge the band's
/// end. Two sequential passes (the same sums as numpy's `cumsum`), nothing allocated.
pub fn power_chisq_edges(
    band: &[Complex64],
    psd_band: &[f64],
    delta_f: f64,
    bins: usize,
    edges: &mut Vec<usize>,
) {
    assert_eq!(band.len(), psd_band.len(), "template and PSD bands differ");
    assert!(bins >= 1, "at least one χ² bin");
    let mag = |k: usize| (band[k].re * band[k].re + band[k].im * band[k].im) / psd_band[k];
    let norm = 4.0 * delta_f;
    let total = (0..band.len()).fold(0.0, |c, k| c + mag(k)) * norm;
    edges.clear();
    let (mut cum, mut pos) = (0.0f64, 0usize);
    for i in 0..bins {
        let edge = i as f64 * total / bins as f64;
        // `cum` holds the raw sum through `pos − 1`; advance while the next value is ≤ edge.
        while pos < band.len() && (cum + mag(pos)) * norm <= edge {
            cum += mag(pos);
            pos += 1;
        }
        edges.push(pos);
    }
    edges.push(band.len());
}

/// One template against one conditioned segment, as the χ² needs them.
#[derive(Clone, Copy)]
pub struct ChisqInput<'a> {
    /// Template band `h̃_k`, `k = k_low..n/2`.
    pub template: &'a [Complex64],
    /// Conditioned segment band `w_k = d̃_k/S_k`, same indices.
    pub segment: &'a [Complex64],
    /// First band bin (absolute), for the phases.
    pub k_low: usize,
    /// Segment length in samples.
    pub n: usize,
    /// Bin edges from [`power_chisq_edges`] (band indices).
    pub edges: &'a [usize],
    /// `4Δf/σ`, raw filter output to SNR.
    pub scale: f64,
}

impl ChisqInput<'_> {
    /// χ² at segment samples `locs`, whose raw filter outputs are `raw` (same length), into
    /// `out`: [`GROUP`] points per pass over the band.
    pub fn chisq_at(&self, locs: &[usize], raw: &[Complex64], out: &mut [f64]) {
        assert!(locs.len() == raw.len() && locs.len() == out.len());
        for ((l, r), o) in locs
            .chunks(GROUP)
            .zip(raw.chunks(GROUP))
            .zip(out.chunks_mut(GROUP))
        {
            match l.len() {
                1 => self.group::<1>(l, r, o),
                2 => self.group::<2>(l, r, o),
                3 => self.group::<3>(l, r, o),
                _ => self.group::<GROUP>(l, r, o),
            }
        }
    }

    /// χ² at `G` points in one pass over the band. Real and imaginary parts are kept in
    /// separate `[f64; G]` arrays so the per-point updates vectorise across points.
    fn group<const G: usize>(&self, locs: &[usize], raw: &[Complex64], out: &mut [f64]) {
        assert!(self.template.len() == self.segment.len());
        let n = self.n as u64;
        let two_pi_over_n = 2.0 * std::f64::consts::PI / self.n as f64;
        let angle = |m: u64| two_pi_over_n * (m % n) as f64;
        let (s_re, s_im): ([f64; G], [f64; G]) = (
            std::array::from_fn(|g| angle(locs[g] as u64).cos()),
            std::array::from_fn(|g| angle(locs[g] as u64).sin()),
        );
        let mut power = [0.0f64; G];
        for b in self.edges.windows(2) {
            let (lo, hi) = (b[0], b[1].min(self.template.len()));
            let (mut a_re, mut a_im) = ([0.0f64; G], [0.0f64; G]);
            let mut k = lo;
            while k < hi {
                let end = (k + RESYNC).min(hi);
                // Exact phasors e^{2πi (k + k_low) l / n} at the start of each run.
                let m = |g: usize| (k + self.k_low) as u64 * locs[g] as u64;
                let mut p_re: [f64; G] = std::array::from_fn(|g| angle(m(g)).cos());
                let mut p_im: [f64; G] = std::array::from_fn(|g| angle(m(g)).sin());
                for (t, w) in self.template[k..end].iter().zip(&self.segment[k..end]) {
                    // conj(t)·w, as the filter forms it.
                    let (c_re, c_im) = (t.re * w.re + t.im * w.im, t.re * w.im - t.im * w.re);
                    for g in 0..G {
                        a_re[g] += c_re * p_re[g] - c_im * p_im[g];
                        a_im[g] += c_re * p_im[g] + c_im * p_re[g];
                        let r = p_re[g] * s_re[g] - p_im[g] * s_im[g];
                        p_im[g] = p_re[g] * s_im[g] + p_im[g] * s_re[g];
                        p_re[g] = r;
                    }
                }
                k = end;
            }
            for g in 0..G {
                power[g] += a_re[g] * a_re[g] + a_im[g] * a_im[g];
            }
        }
        let p = (self.edges.len() - 1) as f64;
        let s2 = self.scale * self.scale;
        for g in 0..G {
            // Cauchy–Schwarz makes this ≥ 0; rounding may leave −1e-16·|z|², clamped.
            out[g] = ((power[g] * p - raw[g].norm_sqr()) * s2).max(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newsnr_is_pycbcs() {
        assert_eq!(newsnr(10.0, 0.5), 10.0);
        assert_eq!(newsnr(10.0, 1.0), 10.0);
        // (0.5 (1 + 8))^(-1/6) = 4.5^(-1/6)
        let want = 10.0 * 4.5f64.powf(-1.0 / 6.0);
        assert!((newsnr(10.0, 2.0) - want).abs() < 1e-14);
        assert_eq!(chisq_dof(16), 30);
        assert_eq!(chisq_dof(0), 0);
    }

    #[test]
    fn edges_split_the_power_equally() {
        let band: Vec<Complex64> = (0..1000).map(|k| Complex64::new(1.0, k as f64)).collect();
        let psd = vec![1.0; 1000];
        let mut e = Vec::new();
        power_chisq_edges(&band, &psd, 0.25, 4, &mut e);
        assert_eq!(e.len(), 5);
        assert_eq!((e[0], e[4]), (0, 1000));
        assert!(e.windows(2).all(|w| w[0] <= w[1]));
        // Power ∝ k²: cumulative ∝ k³, quarter points near 1000·(i/4)^(1/3).
        for (i, &x) in e.iter().enumerate().take(4).skip(1) {
            let want = 1000.0 * (i as f64 / 4.0).powf(1.0 / 3.0);
            assert!((x as f64 - want).abs() <= 2.0, "{i}: {x} vs {want}");
        }
    }

    /// The grouped DFT equals a direct per-point sum with exact phases.
    #[test]
    fn grouped_points_equal_the_definition() {
        let n = 4096usize;
        let k_low = 100;
        let len = n / 2 - k_low;
        let h: Vec<Complex64> = (0..len)
            .map(|i| Complex64::from_polar(1.0 / (1.0 + i as f64).sqrt(), 0.01 * (i * i) as f64))
            .collect();
        let w: Vec<Complex64> = (0..len)
            .map(|i| Complex64::new(((i * 7919) % 97) as f64 - 48.0, ((i * 31) % 13) as f64))
            .collect();
        let mut edges = Vec::new();
        power_chisq_edges(&h, &vec![1.0; len], 1.0, 8, &mut edges);
        let locs = [0usize, 1, 777, 2048, 4095];
        let direct = |l: usize| {
            let two_pi = 2.0 * std::f64::consts::PI;
            let mut total = Complex64::new(0.0, 0.0);
            let mut power = 0.0;
            for b in edges.windows(2) {
                let q: Complex64 = (b[0]..b[1])
                    .map(|i| {
                        let m = ((i + k_low) * l) % n;
                        h[i].conj()
                            * w[i]
                            * Complex64::from_polar(1.0, two_pi * m as f64 / n as f64)
                    })
                    .sum();
                total += q;
                power += q.norm_sqr();
            }
            (total, (power * 8.0 - total.norm_sqr()) * 0.01)
        };
        let raw: Vec<Complex64> = locs.iter().map(|&l| direct(l).0).collect();
        let mut out = [0.0; 5];
        let input = ChisqInput {
            template: &h,
            segment: &w,
            k_low,
            n,
            edges: &edges,
            scale: 0.1,
        };
        input.chisq_at(&locs, &raw, &mut out);
        for (i, &l) in locs.iter().enumerate() {
            let want = direct(l).1;
            assert!(
                (out[i] - want).abs() <= 1e-10 * want,
                "{l}: {} vs {want}",
                out[i]
            );
        }
    }
}
