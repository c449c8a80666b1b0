//! The seed's Newtonian chirp (physics.md §1) on any segment grid.
//!
//! `h̃_k = A_k e^{−iΨ_k}` with `Ψ_k = (3/128)(π·Mc·MSUN·f_k)^(−5/3)` and
//! `A_k = sqrt(5/24)·π^(−2/3)·(Mc·MSUN)^(5/6)·f_k^(−7/6)`, non-zero for `k ∈ [max(k_low,1), n/2]`.
//! The operations are in the seed's (numpy's) order, so on the seed grid (n = 131072,
//! 2048 Hz) the bins above 40 Hz equal `engine::template(mc)` to ~1e-13 of the largest bin.

use super::grid::DataGrid;
use crate::engine::grid::MSUN;
use crate::engine::trig::{sincos, FAST_SINCOS_MAX};
use num_complex::Complex64;
use std::f64::consts::PI;

/// The template on all `n/2 + 1` bins of `grid` (zero below `k_low` and at DC).
pub fn newtonian_template(mc: f64, grid: &DataGrid) -> Vec<Complex64> {
    let mut out = vec![Complex64::new(0.0, 0.0); grid.bins()];
    newtonian_template_into(mc, grid, &mut out);
    out
}

/// [`newtonian_template`] written into `out` (`out.len() == grid.bins()`); every bin is set.
pub fn newtonian_template_into(mc: f64, grid: &DataGrid, out: &mut [Complex64]) {
    assert_eq!(out.len(), grid.bins(), "template length must be n/2 + 1");
    let k0 = grid.k_low().max(1);
    out[..k0].fill(Complex64::new(0.0, 0.0));
    fill_bins(mc, grid, k0, &mut out[k0..]);
}

/// The band bins `k ∈ [k_low, n/2)` only (what the filter reads), written into `out`
/// (`out.len() == grid.band_len()`).
pub fn fill_band(mc: f64, grid: &DataGrid, out: &mut [Complex64]) {
    assert_eq!(
        out.len(),
        grid.band_len(),
        "band length must be n/2 - k_low"
    );
    fill_bins(mc, grid, grid.k_low(), out);
}

/// Bins `first..first + out.len()` (all `≥ 1`).
fn fill_bins(mc: f64, grid: &DataGrid, first: usize, out: &mut [Complex64]) {
    debug_assert!(first >= 1);
    let df = grid.delta_f();
    let m = mc * MSUN;
    let amp0 = (5.0f64 / 24.0).sqrt() * PI.powf(-2.0 / 3.0) * m.powf(5.0 / 6.0);
    let pim = PI * mc * MSUN;
    for (i, o) in out.iter_mut().enumerate() {
        let f = (first + i) as f64 * df;
        let amp = amp0 * f.powf(-7.0 / 6.0);
        let psi = (3.0 / 128.0) * (pim * f).powf(-5.0 / 3.0);
        let (s, c) = if psi.abs() <= FAST_SINCOS_MAX {
            sincos(psi)
        } else {
            psi.sin_cos()
        };
        *o = Complex64::new(amp * c, -(amp * s));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_the_seed_template_above_40_hz() {
        let grid = DataGrid::new(131072, 2048.0, 40.0);
        for mc in [0.8, 1.2, 1.2000000000000004, 1.73] {
            let seed = crate::engine::template(mc);
            let ours = newtonian_template(mc, &grid);
            assert_eq!(seed.len(), ours.len());
            let scale = seed.iter().map(|c| c.norm()).fold(0.0, f64::max);
            let worst = (2561..seed.len())
                .map(|k| (seed[k] - ours[k]).norm() / scale)
                .fold(0.0, f64::max);
            assert!(worst < 1e-12, "Mc {mc}: {worst:e}");
            // The bin at exactly f_low is in our band (the seed's strict `>` drops it).
            assert!(ours[2560].norm() > 0.0 && seed[2560].norm() == 0.0);
        }
    }

    #[test]
    fn band_is_a_slice_of_the_full_template() {
        let grid = DataGrid::new(8192, 1024.0, 25.0);
        let full = newtonian_template(1.4, &grid);
        let mut band = vec![Complex64::new(0.0, 0.0); grid.band_len()];
        fill_band(1.4, &grid, &mut band);
        assert_eq!(&full[grid.k_low()..grid.k_high()], &band[..]);
        assert!(full[..grid.k_low()].iter().all(|c| c.norm() == 0.0));
        assert!(full[grid.n / 2].norm() > 0.0);
    }
}
