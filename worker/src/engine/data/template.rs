//! The seed's Newtonian chirp (physics.md §1) on any segment grid.
//!
//! `h̃_k = A_k e^{−iΨ_k}` with `Ψ_k = (3/128)(π·Mc·MSUN·f_k)^(−5/3)` and
//! `A_k = sqrt(5/24)·π^(−2/3)·(Mc·MSUN)^(5/6)·f_k^(−7/6)`, non-zero for `k ∈ [max(k_low,1), n/2]`.
//! The operations are in the seed's (numpy's) order, so on the seed grid (n = 131072,
//! 2048 Hz) the bins above 40 Hz equal `engine::template(mc)` to ~1e-13 of the largest bin.
//!
//! # How it is fast
//!
//! The direct formula (`fill_direct`, kept as the reference and the fallback) costs two `powf`
//! and a `sincos` per bin (~20 ms per template at n = 2^19). The generator instead uses the
//! seed engine's factorisation (`engine::template`) with per-grid tables (`tables.rs`, built
//! once per grid):
//!
//! ```text
//! x_k = fl(p·f_k),  p = π·Mc·MSUN                  (as the direct formula rounds it)
//! y_k = P·G_k·(1 + (5/3)·ε_k)    P   = p^E53               (double-double, per template)
//!                                G_k = f_k^E53             (double-double table, per grid)
//!                                ε_k = (p·f_k − x_k)/x_k   (exact, error-free product)
//! Ψ_k = (3/128)·fl(y_k)
//! ```
//!
//! `P·G_k·(1 + (5/3)ε_k)` is `x_k^E53` to ~1e-31 relative; it is summed from error-free
//! products and rounded once, so `fl(y_k)` is the correctly rounded `x_k^E53`. The factor 3/128,
//! the amplitude table `f_k.powf(E76)` and the `sincos` are the direct formula's own operations,
//! so the two agree bit for bit wherever `powf` rounds correctly. glibc's `pow` (≤ 0.52 ulp)
//! does not always: measured on ~7e-4 of the bins, each then 1 ulp of `Ψ` apart, which at the
//! ~4e4 rad of 15 Hz (Mc 0.8) is up to ~3.5e-12 of the largest bin. So on the low-frequency
//! bins where such a 1-ulp difference could exceed 1e-13 of the largest bin
//! (`UNCHECKED_ERROR`), the loop flags every bin whose `x_k^E53` lies within 1/32 ulp of a
//! rounding midpoint (~6% of them) and those are recomputed with the direct formula. Measured
//! on the test grids (n = 2^12..2^19, 1000–4096 Hz, f_low 1–40 Hz, Mc 0.8–3): max |Δ| ≤ 5.3e-14
//! of the largest bin, all from the unchecked high-frequency bins.
//!
//! The loop is compiled for AVX-512, AVX2 + FMA and the baseline (Dekker products instead of
//! FMA) and chosen by `engine::dispatch::isa()`; the error-free products are exact either way,
//! so the variants are bit-identical. Bins whose phase exceeds [`FAST_SINCOS_MAX`] (only for
//! tiny `f_low` or Mc) and grids or masses outside the tables' range take the direct formula.
//! Cost at n = 2^19, 2048 Hz, f_low 30 (one thread, AVX-512, this project's Zen 4 VM): ~1.4 ms
//! per template against ~20 ms for the direct formula; building the grid's tables once ~30 ms.

use super::grid::DataGrid;
use super::tables::grid_tables;
#[cfg(target_arch = "x86_64")]
use crate::engine::dispatch::{self, Isa};
use crate::engine::grid::{pow_e53_dd, split, Dd, MSUN};
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

/// `π·Mc·MSUN` in the direct formula's order.
#[inline]
fn pi_m(mc: f64) -> f64 {
    PI * mc * MSUN
}

/// `sqrt(5/24)·π^(−2/3)·(Mc·MSUN)^(5/6)` in the direct formula's order.
#[inline]
fn amp0(mc: f64) -> f64 {
    (5.0f64 / 24.0).sqrt() * PI.powf(-2.0 / 3.0) * (mc * MSUN).powf(5.0 / 6.0)
}

/// The direct formula's phase of the bin at `f` (`p = π·Mc·MSUN`).
#[inline]
fn direct_psi(p: f64, f: f64) -> f64 {
    (3.0 / 128.0) * (p * f).powf(-5.0 / 3.0)
}

/// One bin of the direct formula (`a0 = amp0(Mc)`, `pim = π·Mc·MSUN`).
#[inline]
fn direct_bin(a0: f64, pim: f64, f: f64) -> Complex64 {
    let amp = a0 * f.powf(-7.0 / 6.0);
    let psi = direct_psi(pim, f);
    let (s, c) = if psi.abs() <= FAST_SINCOS_MAX {
        sincos(psi)
    } else {
        psi.sin_cos()
    };
    Complex64::new(amp * c, -(amp * s))
}

/// The direct formula for bins `first..first + out.len()` (all `≥ 1`): the reference the fast
/// generator reproduces, and its fallback outside its range.
fn fill_direct(mc: f64, grid: &DataGrid, first: usize, out: &mut [Complex64]) {
    debug_assert!(first >= 1);
    let df = grid.delta_f();
    let (a0, pim) = (amp0(mc), pi_m(mc));
    for (i, o) in out.iter_mut().enumerate() {
        *o = direct_bin(a0, pim, (first + i) as f64 * df);
    }
}

/// Per-template scalars of the fast generator.
#[derive(Debug, Clone, Copy)]
struct Params {
    /// `π·Mc·MSUN` (the direct formula's rounding).
    p: f64,
    /// Veltkamp split of `p`: high part.
    p_hi: f64,
    /// Veltkamp split of `p`: low part.
    p_lo: f64,
    /// `p^E53` in double-double.
    c: Dd,
    /// Veltkamp split of `c.hi`: high part.
    c_hh: f64,
    /// Veltkamp split of `c.hi`: low part.
    c_hl: f64,
    /// The amplitude prefactor.
    amp0: f64,
}

impl Params {
    /// The scalars, or `None` when `mc` is outside the range where the double-double power and
    /// Dekker's products are exact (non-physical masses).
    fn new(mc: f64) -> Option<Params> {
        let p = pi_m(mc);
        if !(p.is_finite() && p > 1e-40 && p < 1e40) {
            return None;
        }
        let c = pow_e53_dd(p);
        if !(c.hi.is_finite() && c.lo.is_finite()) {
            return None;
        }
        let (p_hi, p_lo) = split(p);
        let (c_hh, c_hl) = split(c.hi);
        Some(Params {
            p,
            p_hi,
            p_lo,
            c,
            c_hh,
            c_hl,
            amp0: amp0(mc),
        })
    }
}

/// The table slices one fill reads: bins `k0..k0 + len`.
#[derive(Clone, Copy)]
struct Span<'a> {
    /// The first bin, as a float (exact).
    k0: f64,
    /// `Δf`.
    df: f64,
    /// `f_k^E53`, leading part.
    g_hi: &'a [f64],
    /// `f_k^E53`, trailing part.
    g_lo: &'a [f64],
    /// `f_k^(−7/6)`.
    f76: &'a [f64],
}

impl<'a> Span<'a> {
    /// The span without its first `i` bins.
    fn skip(self, i: usize) -> Span<'a> {
        Span {
            k0: self.k0 + i as f64,
            df: self.df,
            g_hi: &self.g_hi[i..],
            g_lo: &self.g_lo[i..],
            f76: &self.f76[i..],
        }
    }
}

/// How close (in ulp of `x^E53`) the exact value may come to a rounding midpoint before
/// `powf` might round it the other way: glibc documents its `pow` as within 0.52 ulp, i.e.
/// ≤ 0.02 ulp beyond the final rounding, and 1/32 (≈ 0.031) leaves a margin. A libm with a
/// looser `pow` would only make more bins differ by 1 ulp of `Ψ`, as without the check.
const MIDPOINT_MARGIN: f64 = 1.0 / 32.0;

/// Fills `out[i]` with bin `k0 + i` (the loop the design is for; see the module docs). With
/// `FMA` the error-free products use `mul_add`, otherwise Dekker's splits: both are exact, so
/// the results are bit-identical. With `MARK`, bins whose `x^E53` lies within
/// [`MIDPOINT_MARGIN`] ulp of a rounding midpoint get a NaN real part, for the caller to
/// recompute with `powf` (the flag depends only on exact quantities, so it is the same in
/// every variant).
#[inline(always)]
fn fill_fast_impl<const FMA: bool, const MARK: bool>(
    tp: &Params,
    s: Span<'_>,
    out: &mut [Complex64],
) {
    let n = out.len();
    assert!(s.g_hi.len() >= n && s.g_lo.len() >= n && s.f76.len() >= n && n < i32::MAX as usize);
    let (g_hi, g_lo, f76) = (&s.g_hi[..n], &s.g_lo[..n], &s.f76[..n]);
    let Params {
        p,
        p_hi,
        p_lo,
        c,
        c_hh,
        c_hl,
        amp0,
    } = *tp;
    let (k0, df) = (s.k0, s.df);
    let k53 = 5.0 / 3.0;
    for i in 0..n {
        // k0 + i exactly (both integers below 2^53); i32 converts in one vector instruction.
        let f = (k0 + f64::from(i as i32)) * df;
        let g = g_hi[i];
        let prod = c.hi * g;
        let x = p * f;
        let (e1, err);
        if FMA {
            e1 = c.hi.mul_add(g, -prod);
            err = p.mul_add(f, -x);
        } else {
            let (g_hh, g_hl) = split(g);
            e1 = ((c_hh * g_hh - prod) + c_hh * g_hl + c_hl * g_hh) + c_hl * g_hl;
            let (f_hh, f_hl) = split(f);
            err = ((p_hi * f_hh - x) + p_hi * f_hl + p_lo * f_hh) + p_lo * f_hl;
        }
        // x^E53 = P·G·(x/(p·f))^E53 and (x/(p·f))^E53 = 1 + (5/3)·err/x + O(1e-32).
        let corr = e1 + (c.hi * g_lo[i] + c.lo * g) + prod * (k53 * err / x);
        let y = prod + corr;
        let psi = (3.0 / 128.0) * y;
        let (sn, cs) = sincos(psi);
        let a = amp0 * f76[i];
        let mut re = a * cs;
        if MARK {
            // x^E53 − y, exactly (fast two-sum; |corr| ≪ prod), against ulp(y).
            let r = corr - (y - prod);
            let ulp = f64::from_bits(y.to_bits() & 0x7ff0_0000_0000_0000) * f64::EPSILON;
            let near = r.abs() >= (0.5 - MIDPOINT_MARGIN) * ulp || y.to_bits() << 12 == 0;
            re = if near { f64::NAN } else { re };
        }
        out[i] = Complex64::new(re, -(a * sn));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
/// [`fill_fast_impl`] for AVX2 + FMA (Rust never contracts `a*b+c` by itself, and the explicit
/// FMAs are exact, so the results equal the baseline's).
unsafe fn fill_fast_avx2<const MARK: bool>(tp: &Params, s: Span<'_>, out: &mut [Complex64]) {
    fill_fast_impl::<true, MARK>(tp, s, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
/// [`fill_fast_impl`] for AVX-512 (8 lanes; bit-identical for the same reasons).
unsafe fn fill_fast_avx512<const MARK: bool>(tp: &Params, s: Span<'_>, out: &mut [Complex64]) {
    fill_fast_impl::<true, MARK>(tp, s, out)
}

/// The fast generator at the instruction-set level `level` (which must be available).
fn fill_fast_at<const MARK: bool>(level: Level, tp: &Params, s: Span<'_>, out: &mut [Complex64]) {
    #[cfg(target_arch = "x86_64")]
    {
        assert!(level.available(), "{level:?} is not available on this CPU");
        match level {
            // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (checked just above).
            Isa::Avx512 => return unsafe { fill_fast_avx512::<MARK>(tp, s, out) },
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            Isa::Avx2 => return unsafe { fill_fast_avx2::<MARK>(tp, s, out) },
            Isa::Baseline => {}
        }
    }
    let _ = level;
    fill_fast_impl::<false, MARK>(tp, s, out)
}

/// The instruction-set level the generator runs at (a unit type off x86-64).
#[cfg(target_arch = "x86_64")]
type Level = Isa;
/// The instruction-set level the generator runs at (a unit type off x86-64).
#[cfg(not(target_arch = "x86_64"))]
type Level = ();

/// The level this CPU runs the generator at.
fn best_level() -> Level {
    #[cfg(target_arch = "x86_64")]
    return dispatch::isa();
    #[cfg(not(target_arch = "x86_64"))]
    ()
}

/// Bins `first..first + out.len()` (all `≥ 1`), fast where possible.
fn fill_bins(mc: f64, grid: &DataGrid, first: usize, out: &mut [Complex64]) {
    fill_bins_at(best_level(), mc, grid, first, out)
}

/// Largest error, relative to the template's first (largest) bin, that a 1-ulp difference
/// between our `x^E53` and `powf`'s may cause in a bin left unchecked. Bins where it could be
/// larger are checked for near-midpoint cases and those recomputed with `powf`.
const UNCHECKED_ERROR: f64 = 1e-13;

/// [`fill_bins`] at a given instruction-set level.
fn fill_bins_at(level: Level, mc: f64, grid: &DataGrid, first: usize, out: &mut [Complex64]) {
    debug_assert!(first >= 1);
    let fast = match (Params::new(mc), grid_tables(grid)) {
        (Some(tp), Some(t)) if first >= t.first && first - t.first + out.len() <= t.len() => {
            Some((tp, t))
        }
        _ => None,
    };
    let Some((tp, t)) = fast else {
        return fill_direct(mc, grid, first, out);
    };
    if out.is_empty() {
        return;
    }
    let off = first - t.first;
    // The double-double sum needs P·G_k well inside the normal range (non-physical grids only).
    let (y_first, y_last) = (tp.c.hi * t.g_hi[off], tp.c.hi * t.g_hi[off + out.len() - 1]);
    if !(y_first < 1e200 && y_last > 1e-200) {
        return fill_direct(mc, grid, first, out);
    }
    // Leading bins whose phase is beyond the fast sincos take the direct formula (which uses
    // `sin_cos` there); Ψ falls with f, so they are a prefix.
    let df = grid.delta_f();
    let fits = |i: usize| direct_psi(tp.p, (first + i) as f64 * df).abs() <= FAST_SINCOS_MAX;
    let slow = if fits(0) {
        0
    } else {
        partition_point(out.len(), |i| !fits(i))
    };
    let (head, tail) = out.split_at_mut(slow);
    fill_direct(mc, grid, first, head);
    let span = Span {
        k0: first as f64,
        df,
        g_hi: &t.g_hi[off..],
        g_lo: &t.g_lo[off..],
        f76: &t.f76[off..],
    }
    .skip(slow);
    // A 1-ulp change of y moves Ψ by ≤ 2^-51·Ψ, so bin k's error is ≤ A_k·Ψ_k·2^-51; A_k·Ψ_k
    // falls with f, so the bins where it may exceed UNCHECKED_ERROR·A_first are a prefix.
    let a_first = t.f76[off];
    let risky = |i: usize| {
        let psi = (3.0 / 128.0) * tp.c.hi * span.g_hi[i];
        span.f76[i] * psi * (2.0 * f64::EPSILON) > UNCHECKED_ERROR * a_first
    };
    let checked = partition_point(tail.len(), risky);
    let (marked, rest) = tail.split_at_mut(checked);
    fill_fast_at::<true>(level, &tp, span, marked);
    fill_fast_at::<false>(level, &tp, span.skip(checked), rest);
    let (a0, k0) = (tp.amp0, first + slow);
    for (i, o) in marked.iter_mut().enumerate() {
        if o.re.is_nan() {
            *o = direct_bin(a0, tp.p, (k0 + i) as f64 * df);
        }
    }
}

/// The first `i < n` with `!pred(i)` (or `n`), for a predicate that is true on a prefix.
fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
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

    /// Max |fast − direct| over the bins `k0..=n/2`, relative to the largest |bin|, and the
    /// number of bins that differ at all.
    fn fast_vs_direct(mc: f64, grid: &DataGrid) -> (f64, usize) {
        let k0 = grid.k_low().max(1);
        let fast = newtonian_template(mc, grid);
        let mut direct = vec![Complex64::new(0.0, 0.0); grid.bins()];
        fill_direct(mc, grid, k0, &mut direct[k0..]);
        let scale = direct.iter().map(|c| c.norm()).fold(0.0, f64::max);
        let worst = (0..direct.len())
            .map(|k| (fast[k] - direct[k]).norm() / scale)
            .fold(0.0, f64::max);
        (
            worst,
            (0..direct.len()).filter(|&k| fast[k] != direct[k]).count(),
        )
    }

    #[test]
    fn fast_path_equals_the_direct_formula() {
        let grids = [
            DataGrid::new(1 << 12, 1024.0, 15.0),
            DataGrid::new(1 << 12, 4096.0, 40.0),
            DataGrid::new(1 << 16, 2048.0, 20.0),
            DataGrid::new(1 << 16, 4096.0, 15.5),
            DataGrid::new(1 << 19, 1024.0, 15.0),
            DataGrid::new(1 << 19, 2048.0, 30.0),
            DataGrid::new(1 << 19, 4096.0, 25.0),
            // Δf = 1/3 Hz is not a dyadic number: f_k = k·Δf is rounded.
            DataGrid::new(3000, 1000.0, 17.0),
            // f_low 1 Hz: the first bins' phases exceed FAST_SINCOS_MAX (direct prefix).
            DataGrid::new(1 << 12, 4096.0, 1.0),
        ];
        for grid in &grids {
            for mc in [0.8, 1.2345, 1.9, 3.0] {
                let (worst, differ) = fast_vs_direct(mc, grid);
                eprintln!(
                    "n {} fs {} f_low {} Mc {mc}: max|Δ| {worst:e} of max|h|, {differ} bins differ",
                    grid.n, grid.sample_rate, grid.f_low
                );
                assert!(worst <= 1e-12, "{grid:?} Mc {mc}: {worst:e}");
            }
        }
        // Outside the fast range (p = π·Mc·MSUN < 1e-40): the direct formula itself.
        let grid = DataGrid::new(1 << 12, 1024.0, 15.0);
        assert!(Params::new(1e-36).is_none());
        assert_eq!(fast_vs_direct(1e-36, &grid), (0.0, 0));
    }

    #[test]
    fn instruction_set_variants_are_bit_identical() {
        use crate::engine::dispatch::Isa;
        let grids = [
            DataGrid::new(1 << 16, 2048.0, 15.0),
            DataGrid::new(3000, 1000.0, 17.0),
        ];
        for grid in &grids {
            for mc in [0.8, 1.2345, 3.0] {
                let k0 = grid.k_low();
                let mut want = vec![Complex64::new(0.0, 0.0); grid.band_len()];
                fill_bins_at(Isa::Baseline, mc, grid, k0, &mut want);
                for level in Isa::ALL.into_iter().filter(|l| l.available()) {
                    let mut got = vec![Complex64::new(1.0, 1.0); grid.band_len()];
                    fill_bins_at(level, mc, grid, k0, &mut got);
                    assert!(
                        got == want,
                        "{grid:?} Mc {mc}: {level:?} differs from baseline"
                    );
                }
            }
        }
    }

    /// One-thread cost of the direct formula and the fast generator at n = 2^19, 2048 Hz,
    /// f_low 30 Hz, interleaved: `cargo test --release -p chirpfarm-worker --lib
    /// engine::data::template::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing_direct_vs_fast() {
        use std::time::Instant;
        let grid = DataGrid::new(1 << 19, 2048.0, 30.0);
        let mut out = vec![Complex64::new(0.0, 0.0); grid.band_len()];
        let t = Instant::now();
        fill_band(1.2, &grid, &mut out); // builds the grid's tables
        eprintln!("first call (table build + one template): {:?}", t.elapsed());
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (mut direct, mut fast) = (Vec::new(), Vec::new());
        for r in 0..15 {
            let mc = 1.0 + 0.01 * r as f64;
            let t = Instant::now();
            fill_direct(mc, &grid, grid.k_low(), &mut out);
            direct.push(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(&out);
            let t = Instant::now();
            for _ in 0..5 {
                fill_band(mc, &grid, &mut out);
                std::hint::black_box(&out);
            }
            fast.push(t.elapsed().as_secs_f64() * 1e3 / 5.0);
        }
        let (d, f) = (median(&mut direct), median(&mut fast));
        eprintln!("direct {d:.2} ms, fast {f:.3} ms ({:.1}x)", d / f);
    }
}
