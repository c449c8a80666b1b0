//! TaylorF2 band templates on a data grid: `chirpfarm-waveform`'s tabulated evaluation with
//! this crate's vectorisable `sincos`, and the per-grid tables it needs.
//!
//! The tables ([`FreqTables`]: `f^(1/3)`, `f^(−1/3)`, `ln f^(1/3)`, `f^(−7/6)` over the band) are
//! built once per grid and shared by every template, so a template costs ~15 multiplies and one
//! `sincos` per bin. The loop is compiled for AVX-512, AVX2 + FMA and the baseline and chosen
//! by `engine::dispatch::isa()`; Rust does not contract `a·b + c` on its own, so the variants
//! are bit-identical. When the phase could exceed [`FAST_SINCOS_MAX`] (only for tiny `f_low` or
//! masses) `f64::sin_cos` is used instead.
//!
//! Tables are kept in a small process-wide map keyed by `(n, sample_rate bits, k_low)`, at most
//! `tables::MAX_GRIDS` grids (least recently used evicted), in the Newtonian generator's
//! [`GridMemo`].

use super::grid::DataGrid;
use super::tables::GridMemo;
#[cfg(target_arch = "x86_64")]
use crate::engine::dispatch::{self, Isa};
use crate::engine::trig::{sincos, FAST_SINCOS_MAX};
use chirpfarm_waveform::{FreqTables, TaylorF2};
use num_complex::Complex64;
use std::sync::Arc;

/// The shared tables for the band `[max(k_low, 1), n/2)` of `grid`, built on first use (~60 ns
/// per bin, single-threaded for the reason given in `tables.rs`); `None` if the grid's
/// frequencies are not usable (non-finite).
fn band_tables(grid: &DataGrid) -> Option<Arc<FreqTables>> {
    static MEMO: GridMemo<FreqTables> = GridMemo::new();
    MEMO.get(grid, |first| {
        FreqTables::new(grid.delta_f(), first, grid.k_high().saturating_sub(first))
    })
}

/// Everything one fill needs.
struct Fill<'a> {
    /// The template's coefficients.
    t: &'a TaylorF2,
    /// The grid's tables.
    tables: &'a FreqTables,
    /// Filter lower cut-off (LAL's `f_min`: first bin `ceil(f_low/Δf)`).
    f_low: f64,
    /// Upper end, `None` = ISCO.
    f_final: Option<f64>,
    /// First bin of `out`.
    k_start: usize,
}

/// The loop with this crate's fast `sincos`, inlined into each instruction-set variant.
#[inline(always)]
fn fill_fast(f: &Fill<'_>, out: &mut [Complex64]) {
    f.t.fill_tabulated(f.tables, 1.0, f.f_low, f.f_final, f.k_start, out, sincos);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
/// [`fill_fast`] compiled for AVX2 + FMA.
unsafe fn fill_fast_avx2(f: &Fill<'_>, out: &mut [Complex64]) {
    fill_fast(f, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
/// [`fill_fast`] compiled for AVX-512.
unsafe fn fill_fast_avx512(f: &Fill<'_>, out: &mut [Complex64]) {
    fill_fast(f, out)
}

/// The TaylorF2 template `t` (source at 1 Mpc, ending at `f_final` or its ISCO) on the band
/// bins `k ∈ [k_low, n/2)` of `grid`, written into `out` (`out.len() == grid.band_len()`).
/// Bins below `ceil(f_low/Δf)` (LAL's first bin) and above the end are zero.
pub fn fill_band_taylorf2(
    t: &TaylorF2,
    f_final: Option<f64>,
    grid: &DataGrid,
    out: &mut [Complex64],
) {
    assert_eq!(
        out.len(),
        grid.band_len(),
        "band length must be n/2 - k_low"
    );
    let df = grid.delta_f();
    let Some(tables) = band_tables(grid) else {
        return t.fill_direct(1.0, grid.f_low, f_final, df, grid.k_low(), out);
    };
    let fill = Fill {
        t,
        tables: &tables,
        f_low: grid.f_low,
        f_final,
        k_start: grid.k_low(),
    };
    let f_lo = (grid.f_low / df).ceil().max(1.0) * df;
    let f_hi = f_final
        .unwrap_or_else(|| t.f_isco())
        .min(grid.k_high() as f64 * df);
    if !(f_hi > f_lo && t.phase_bound(f_lo, f_hi) <= FAST_SINCOS_MAX) {
        return t.fill_tabulated(
            &tables,
            1.0,
            grid.f_low,
            f_final,
            grid.k_low(),
            out,
            f64::sin_cos,
        );
    }
    #[cfg(target_arch = "x86_64")]
    {
        let level = dispatch::isa();
        assert!(level.available());
        match level {
            // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (checked just above).
            Isa::Avx512 => return unsafe { fill_fast_avx512(&fill, out) },
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            Isa::Avx2 => return unsafe { fill_fast_avx2(&fill, out) },
            Isa::Baseline => {}
        }
    }
    fill_fast(&fill, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chirpfarm_core::TemplateParams;

    #[test]
    fn band_equals_the_direct_reference() {
        let grid = DataGrid::new(1 << 16, 2048.0, 20.003);
        let df = grid.delta_f();
        for (m1, m2, s1, s2) in [
            (1.4, 1.3, 0.0, 0.0),
            (10.0, 8.0, 0.9, -0.5),
            (3.0, 1.2, -0.9, 0.9),
        ] {
            let p = TemplateParams {
                mass1: m1,
                mass2: m2,
                spin1z: s1,
                spin2z: s2,
            };
            let t = TaylorF2::new(&p).unwrap();
            for f_final in [None, Some(300.0)] {
                let mut fast = vec![Complex64::new(1.0, 1.0); grid.band_len()];
                fill_band_taylorf2(&t, f_final, &grid, &mut fast);
                let mut direct = vec![Complex64::new(0.0, 0.0); grid.band_len()];
                chirpfarm_waveform::taylorf2_into(
                    &p,
                    1.0,
                    grid.f_low,
                    f_final,
                    df,
                    grid.k_low(),
                    &mut direct,
                );
                // f_low between bins: LAL's first bin is k_low + 1.
                assert_eq!(fast[0].norm(), 0.0);
                let mut worst: f64 = 0.0;
                for (a, b) in fast.iter().zip(&direct) {
                    assert_eq!(a.norm() == 0.0, b.norm() == 0.0, "{p:?}");
                    if b.norm() > 0.0 {
                        worst = worst
                            .max((a * b.conj()).arg().abs())
                            .max((a.norm() / b.norm() - 1.0).abs());
                    }
                }
                assert!(worst < 1e-10, "{p:?} {f_final:?}: {worst:e}");
            }
        }
    }

    #[test]
    fn instruction_set_variants_are_bit_identical() {
        let grid = DataGrid::new(1 << 14, 2048.0, 30.0);
        let t = TaylorF2::new(&TemplateParams {
            mass1: 1.5,
            mass2: 1.2,
            spin1z: 0.3,
            spin2z: -0.2,
        })
        .unwrap();
        let tables = band_tables(&grid).unwrap();
        let fill = Fill {
            t: &t,
            tables: &tables,
            f_low: grid.f_low,
            f_final: None,
            k_start: grid.k_low(),
        };
        let mut want = vec![Complex64::new(0.0, 0.0); grid.band_len()];
        fill_fast(&fill, &mut want);
        #[cfg(target_arch = "x86_64")]
        for level in Isa::ALL.into_iter().filter(|l| l.available()) {
            let mut got = vec![Complex64::new(0.0, 0.0); grid.band_len()];
            match level {
                // SAFETY: `available()` checked.
                Isa::Avx512 => unsafe { fill_fast_avx512(&fill, &mut got) },
                // SAFETY: `available()` checked.
                Isa::Avx2 => unsafe { fill_fast_avx2(&fill, &mut got) },
                Isa::Baseline => fill_fast(&fill, &mut got),
            }
            assert!(got == want, "{level:?} differs from the baseline");
        }
    }
}
