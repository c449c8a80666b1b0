//! Conditioning a segment once, so that every template reuses it: `w_k = d̃_k/S_k` on the band.
//!
//! `d̃_k = Δt·rfft(d)_k` is PyCBC's `TimeSeries.to_frequencyseries` (`pycbc.fft.fft` of a
//! `TimeSeries` multiplies the unnormalised forward transform, `e^{−2πijk/n}`, by `Δt`).
//! Only the band `[k_low, n/2)` is stored: the filter reads nothing else.

use super::filter::forward_plan;
use super::grid::DataGrid;
use num_complex::Complex64;

/// One segment's whitened-and-weighted spectrum `w_k = d̃_k/S_k`, `k ∈ [k_low, n/2)`.
#[derive(Debug, Clone)]
pub struct ConditionedSegment {
    /// The grid it was conditioned on (the filter checks the template's grid against it).
    pub(crate) grid: DataGrid,
    /// `w_k` for `k = k_low..n/2` (index `k − k_low`).
    pub(crate) w: Box<[Complex64]>,
}

impl ConditionedSegment {
    /// Bytes held (for memory budgets).
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.w.len() * std::mem::size_of::<Complex64>()
    }

    /// The grid it was conditioned on.
    pub fn grid(&self) -> &DataGrid {
        &self.grid
    }

    /// The band values `w_k = d̃_k/S_k`, `k = k_low..n/2`.
    pub fn band(&self) -> &[Complex64] {
        &self.w
    }
}

/// Conditions `samples` (`n` of them) with the one-sided `psd` (`n/2 + 1` values, of which only
/// the band is read and must be positive; the daemon validates it).
pub fn condition_segment(samples: &[f64], psd: &[f64], grid: &DataGrid) -> ConditionedSegment {
    assert_eq!(samples.len(), grid.n, "a segment has n samples");
    assert_eq!(psd.len(), grid.bins(), "the PSD has n/2 + 1 values");
    let plan = forward_plan(grid.n);
    let mut input = samples.to_vec();
    let mut spec = plan.make_output_vec();
    let mut scratch = plan.make_scratch_vec();
    plan.process_with_scratch(&mut input, &mut spec, &mut scratch)
        .expect("buffer lengths come from the plan");
    let dt = grid.delta_t();
    let (lo, hi) = (grid.k_low(), grid.k_high());
    let w = spec[lo..hi]
        .iter()
        .zip(&psd[lo..hi])
        .map(|(d, s)| *d * (dt / s))
        .collect();
    ConditionedSegment { grid: *grid, w }
}

/// `σ² = 4Δf Σ_{k ∈ [k_low, n/2)} |h̃_k|²/S_k` for a full template (`n/2 + 1` bins), as
/// PyCBC's `sigmasq(template, psd, low_frequency_cutoff)`.
pub fn sigmasq(template: &[Complex64], psd: &[f64], grid: &DataGrid) -> f64 {
    assert_eq!(
        template.len(),
        grid.bins(),
        "template length must be n/2 + 1"
    );
    let (lo, hi) = (grid.k_low(), grid.k_high());
    sigmasq_band(&template[lo..hi], &psd[lo..hi], grid.delta_f())
}

/// σ² of band arrays (`h` and `psd` both `k_low..n/2`): four interleaved partial sums within
/// blocks of 1024 bins, blocks summed pairwise (accurate and vectorisable).
pub(crate) fn sigmasq_band(h: &[Complex64], psd: &[f64], df: f64) -> f64 {
    debug_assert_eq!(h.len(), psd.len());
    let blocks: Vec<f64> = h
        .chunks(1024)
        .zip(psd.chunks(1024))
        .map(|(hc, pc)| {
            let mut acc = [0.0f64; 4];
            for (i, (a, s)) in hc.iter().zip(pc).enumerate() {
                acc[i & 3] += a.norm_sqr() / s;
            }
            (acc[0] + acc[1]) + (acc[2] + acc[3])
        })
        .collect();
    4.0 * df * pairwise(&blocks)
}

/// Pairwise sum.
fn pairwise(v: &[f64]) -> f64 {
    match v.len() {
        0 => 0.0,
        1 => v[0],
        n => pairwise(&v[..n / 2]) + pairwise(&v[n / 2..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditioning_is_dt_times_rfft_over_psd() {
        // A cosine at bin 100: rfft gives n/2 at k = 100, so d̃ = Δt·n/2 there.
        let grid = DataGrid::new(4096, 512.0, 4.0);
        let n = grid.n;
        let x: Vec<f64> = (0..n)
            .map(|j| (2.0 * std::f64::consts::PI * 100.0 * j as f64 / n as f64).cos())
            .collect();
        let psd = vec![2.0; grid.bins()];
        let c = condition_segment(&x, &psd, &grid);
        assert_eq!(c.band().len(), grid.band_len());
        let k = 100 - grid.k_low();
        let want = grid.delta_t() * n as f64 / 2.0 / 2.0;
        assert!((c.band()[k].re - want).abs() < 1e-12 && c.band()[k].im.abs() < 1e-12);
        assert!(c.band()[k + 1].norm() < 1e-12);
        assert!(c.bytes() >= grid.band_len() * 16);
    }

    #[test]
    fn sigmasq_matches_a_plain_sum() {
        let grid = DataGrid::new(8192, 1024.0, 20.0);
        let h = super::super::template::newtonian_template(1.2, &grid);
        let psd: Vec<f64> = (0..grid.bins()).map(|k| 1.0 + k as f64 * 1e-3).collect();
        let plain: f64 = (grid.k_low()..grid.k_high())
            .map(|k| h[k].norm_sqr() / psd[k])
            .sum::<f64>()
            * 4.0
            * grid.delta_f();
        let s = sigmasq(&h, &psd, &grid);
        assert!(((s - plain) / plain).abs() < 1e-13, "{s} {plain}");
    }
}
