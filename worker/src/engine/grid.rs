//! The frequency grid, the seed's constants, and the per-process tables that make template
//! generation cheap.
//!
//! The seed's template is `A_k·exp(−iΨ_k)` with `Ψ_k = (3/128)·(π·Mc·MSUN·f_k)^(−5/3)` and
//! `A_k = amp0(Mc)·f_k^(−7/6)`. Both powers factor into an Mc-dependent scalar times an
//! Mc-independent table over the band bins (`f_k > 40 Hz`), which [`tables`] builds once per
//! process. The phase table is kept in double-double precision so that the product can be
//! rounded once, and the generator can then reproduce numpy's value of `Ψ_k` to ≲ 1 ulp (see
//! `template.rs`); the amplitude table is exactly numpy's `f**(-7/6)` (same `pow`, same operand).
//!
//! Small double-double helpers ([`Dd`], [`two_prod`], [`split`]) live here because both the
//! tables and the per-template scalars need them.

use std::sync::OnceLock;

/// Length of the real time series (`2·(NF−1)`).
pub const N: usize = 131072;
/// Number of frequency bins, `k = 0..=65536`.
pub const NF: usize = 65537;
/// Frequency spacing in Hz (`1024/65536`, exact in binary).
pub const DF: f64 = 0.015625;
/// Sample spacing in seconds (`1/(N·DF)` = 1/2048 s).
pub const DT: f64 = 1.0 / 2048.0;
/// Lower cut-off in Hz: the template is exactly zero for `f_k ≤ FMIN` (strict `>` like the seed).
pub const FMIN: f64 = 40.0;
/// The seed's solar mass in seconds (`G·M_sun/c^3`; LAL's value differs by 4e-5 relative).
pub const MSUN: f64 = 4.9257e-6;
/// First non-zero bin of every template: `f = 40.015625 Hz`.
pub const K0: usize = 2561;
/// Index of the Nyquist bin (`N/2`), which is non-zero in the seed's templates.
pub const KNYQ: usize = NF - 1;
/// Number of band bins `K0..NF` (the only bins a template stores).
pub const NB: usize = NF - K0;

/// `−5/3` rounded to double: the exponent numpy actually uses (it differs from −5/3 by
/// −7.4e-17, which changes `x^e` by ~2 ulp, so the tables model it exactly).
pub const E53: f64 = -5.0 / 3.0;
/// `−7/6` rounded to double, numpy's amplitude exponent.
pub const E76: f64 = -7.0 / 6.0;

/// Frequency of bin `k` in Hz (exact: `k/64`).
#[inline]
pub fn freq(k: usize) -> f64 {
    k as f64 * DF
}

/// A double-double number `hi + lo` with `|lo| ≤ ulp(hi)/2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dd {
    /// Leading part.
    pub hi: f64,
    /// Trailing part.
    pub lo: f64,
}

/// Veltkamp split of `a` into `hi + lo`, each with at most 26 significant bits (exact).
#[inline(always)]
pub fn split(a: f64) -> (f64, f64) {
    const SPLITTER: f64 = 134_217_729.0; // 2^27 + 1
    let c = SPLITTER * a;
    let hi = c - (c - a);
    (hi, a - hi)
}

/// Dekker's exact product: returns `(p, e)` with `p = fl(a·b)` and `a·b = p + e` exactly
/// (no FMA needed, so it vectorises on baseline x86-64).
#[inline(always)]
pub fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    Dd { hi: p, lo: e }
}

/// `a + b` renormalised, assuming `|a| ≥ |b|` (Dekker's fast two-sum).
#[inline(always)]
fn quick_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    Dd {
        hi: s,
        lo: b - (s - a),
    }
}

impl Dd {
    /// Product of two double-doubles (relative error ≲ 4·2^−106).
    #[inline]
    pub fn mul_dd(self, o: Dd) -> Dd {
        let p = two_prod(self.hi, o.hi);
        quick_two_sum(p.hi, p.lo + (self.hi * o.lo + self.lo * o.hi))
    }

    /// Product with a double.
    #[inline]
    pub fn mul_f64(self, b: f64) -> Dd {
        let p = two_prod(self.hi, b);
        quick_two_sum(p.hi, p.lo + self.lo * b)
    }
}

/// `x^E53` (numpy's `x**(-5/3)` without its rounding) as a double-double, relative error
/// ~1e-30, for positive `x` with `x^5` and `x^(−5)` inside the normal range (about
/// `1e-61 < x < 1e61`); outside that range the result is not finite or not accurate and the
/// caller must fall back to `powf`.
///
/// Method: Newton step on `y³·x⁵ = 1` from `y0 = x.powf(E53)` with the residual in
/// double-double, then the factor `x^(E53 + 5/3) = 1 + (E53 + 5/3)·ln x`.
pub fn pow_e53_dd(x: f64) -> Dd {
    pow_e53_dd_from(x, x.powf(E53))
}

/// [`pow_e53_dd`] from a first guess `y0` of `x^E53` within a few ulp (the Newton step's
/// remainder is cubic in `y0`'s error, so any such guess gives the same double-double to
/// ~1e-30). The tables start from `f^(−7/6)/√f`, which they compute anyway, instead of a
/// second `powf` per bin.
#[inline]
pub fn pow_e53_dd_from(x: f64, y0: f64) -> Dd {
    pow_e53_newton(x, y0, e53_delta() * x.ln())
}

/// The Newton step of [`pow_e53_dd_from`] given `dln = e53_delta()·ln x`: no call, so a loop
/// of it vectorises (the tables take the logarithms first, in a loop of their own).
#[inline(always)]
fn pow_e53_newton(x: f64, y0: f64, dln: f64) -> Dd {
    let x2 = two_prod(x, x);
    let x5 = x2.mul_dd(x2).mul_f64(x);
    let y3 = two_prod(y0, y0).mul_f64(y0);
    let q = y3.mul_dd(x5);
    // 1 − q exactly to ~1e-32: 1 − q.hi is exact (Sterbenz) because q ≈ 1.
    let r = (1.0 - q.hi) - q.lo;
    // (1 − r)^(−1/3) − 1 = r/3 + 2r²/9 + …
    let eps = r / 3.0 + 2.0 * r * r / 9.0;
    let corr = y0 * eps + y0 * dln;
    quick_two_sum(y0, corr)
}

/// `E53 − (−5/3)` computed exactly (≈ −7.4e-17): `3·E53 = −5 + δ'` with `δ'` exact from the
/// error-free product, so the difference is `δ'/3`.
#[inline]
pub fn e53_delta() -> f64 {
    let t = two_prod(3.0, E53);
    ((t.hi + 5.0) + t.lo) / 3.0
}

/// One chunk of [`Tables::build`]'s columns: its index and its `f`, `g_lo`, `g_hi` and `f76`.
type Part<'a> = (
    usize,
    (
        ((&'a mut [f64], &'a mut [f64]), &'a mut [f64]),
        &'a mut [f64],
    ),
);

/// Mc-independent tables over the band bins `k = K0..NF` (index `i = k − K0`), struct-of-arrays
/// so the generator's loop vectorises.
#[derive(Debug)]
pub struct Tables {
    /// `f_k` in Hz.
    pub f: Vec<f64>,
    /// Trailing part of the double-double `f_k^E53`.
    pub g_lo: Vec<f64>,
    /// The leading part of `f_k^E53`.
    pub g_hi: Vec<f64>,
    /// `f_k.powf(E76)`, bit-identical to the operand numpy multiplies (given the same `pow`).
    pub f76: Vec<f64>,
    /// `f76` normalised the seed's way: `f76_k / sqrt((4/Δf)·Σ_k f76_k²)`. Since
    /// `|template_k| = amp0(Mc)·f76_k`, this is `|normtemplate(Mc)_k|` for every Mc.
    pub f76_norm: Vec<f64>,
    /// `1/σ̂` of every normalised template in the physical convention:
    /// `σ̂² = 4·Δf·Σ_{k=K0}^{NF−2} f76_norm_k²` (Nyquist excluded).
    pub inv_sigma_phys: f64,
}

impl Tables {
    /// Computes every table (one `powf`, one `ln` and a double-double Newton step per bin).
    /// Bins are independent, so they are computed on one thread per core, straight into the
    /// columns: this is the one-time cost on the critical path of every one-shot search
    /// (~1.7 ms on two cores), and every value is the same whatever thread computes it.
    fn build() -> Tables {
        const CHUNK: usize = 4096;
        // Every column is fresh memory, and its page faults are a good part of the cost: only
        // what the generators read is kept (the Veltkamp split of `g_hi` is recomputed where
        // needed, and no column of squares is stored for the norm).
        let mut cols: [Vec<f64>; 5] = std::array::from_fn(|_| vec![0.0; NB]);
        let [f, g_lo, g_hi, f76, f76_norm] = &mut cols;
        let parts: Vec<_> = f
            .chunks_mut(CHUNK)
            .zip(g_lo.chunks_mut(CHUNK))
            .zip(g_hi.chunks_mut(CHUNK))
            .zip(f76.chunks_mut(CHUNK))
            .enumerate()
            .collect();
        let fill = |(c, (((f, lo), hi), f76)): Part<'_>| {
            // The libm calls first (`lo` holds e53_delta·ln f until the Newton step).
            let d = e53_delta();
            for j in 0..f.len() {
                let x = freq(K0 + c * CHUNK + j);
                (f[j], f76[j], lo[j]) = (x, x.powf(E76), d * x.ln());
            }
            newton_columns(f, f76, lo, hi);
        };
        // Plain scoped threads, not rayon: this runs inside `OnceLock::get_or_init`, and a
        // rayon thread waiting for its share here could steal a template job that asks for
        // the tables again: a re-entrant `get_or_init`, which never returns.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let mut shares: Vec<Vec<Part<'_>>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, part) in parts.into_iter().enumerate() {
            shares[i % threads].push(part);
        }
        let mine = shares.pop().unwrap_or_default();
        std::thread::scope(|s| {
            for share in shares {
                s.spawn(move || share.into_iter().for_each(fill));
            }
            mine.into_iter().for_each(fill);
        });
        // Σ f76² (Nyquist last); any accurate order will do: it only sets the scale.
        let all = pairwise_sum_sq(f76);
        let no_nyq = pairwise_sum_sq(&f76[..NB - 1]);
        let norm = ((4.0 / DF) * all).sqrt();
        f76_norm
            .iter_mut()
            .zip(f76.iter())
            .for_each(|(n, a)| *n = a / norm);
        let [f, g_lo, g_hi, f76, f76_norm] = cols;
        Tables {
            f,
            g_lo,
            g_hi,
            f76,
            f76_norm,
            inv_sigma_phys: 1.0 / (4.0 * DF * no_nyq / (norm * norm)).sqrt(),
        }
    }

    /// Bytes held by the tables (for diagnostics).
    pub fn bytes(&self) -> usize {
        5 * NB * std::mem::size_of::<f64>()
    }
}

/// The vectorisable part of [`Tables::build`] on one chunk of bins: `f^E53` by a Newton step
/// from `f^(−7/6)/√f` (a few ulp off, which the step removes) with `lo` holding
/// `e53_delta·ln f` on entry and the trailing part on return, `hi` the leading part. Compiled per instruction set
/// (the level from `engine::dispatch`); the operations are the same IEEE ones in every variant
/// (no FMA), so every variant gives the same bits.
fn newton_columns(f: &[f64], f76: &[f64], lo: &mut [f64], hi: &mut [f64]) {
    #[inline(always)]
    fn imp(f: &[f64], f76: &[f64], lo: &mut [f64], hi: &mut [f64]) {
        let n = f.len();
        let (f76, lo, hi) = (&f76[..n], &mut lo[..n], &mut hi[..n]);
        for j in 0..n {
            let x = f[j];
            let g = pow_e53_newton(x, f76[j] / x.sqrt(), lo[j]);
            (lo[j], hi[j]) = (g.lo, g.hi);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        use super::dispatch::{isa, Isa};
        #[target_feature(enable = "avx512f,avx2")]
        fn avx512(f: &[f64], f76: &[f64], lo: &mut [f64], hi: &mut [f64]) {
            imp(f, f76, lo, hi)
        }
        #[target_feature(enable = "avx2")]
        fn avx2(f: &[f64], f76: &[f64], lo: &mut [f64], hi: &mut [f64]) {
            imp(f, f76, lo, hi)
        }
        match isa() {
            // SAFETY: the CPU supports AVX-512F and AVX2 (the level's definition).
            Isa::Avx512 => return unsafe { avx512(f, f76, lo, hi) },
            // SAFETY: the CPU supports AVX2 (the level's definition).
            Isa::Avx2 => return unsafe { avx2(f, f76, lo, hi) },
            Isa::Baseline => {}
        }
    }
    imp(f, f76, lo, hi)
}

/// Plain pairwise (cascade) summation of the squares, for the table scales.
fn pairwise_sum_sq(v: &[f64]) -> f64 {
    if v.len() <= 64 {
        v.iter().map(|a| a * a).sum()
    } else {
        let (a, b) = v.split_at(v.len() / 2);
        pairwise_sum_sq(a) + pairwise_sum_sq(b)
    }
}

/// The process-wide tables, built on first use (~1.5 ms on two cores in release; see
/// [`crate::engine::warm`]).
pub fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(Tables::build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_constants_are_consistent() {
        assert_eq!(N, 2 * (NF - 1));
        assert_eq!(DT, 1.0 / (N as f64 * DF));
        assert!(freq(K0 - 1) <= FMIN && freq(K0) > FMIN);
        assert_eq!(freq(KNYQ), 1024.0);
        assert_eq!(NB, 62976);
    }

    #[test]
    fn two_prod_is_exact() {
        // Compare with the FMA residual, which is exact by definition.
        let mut x = 0.123_456_789_f64;
        for _ in 0..1000 {
            x = (x * 3.7 + 0.1).fract() * 1e-4 + 1e-7;
            let y = (x * 1e7).sqrt() * 1234.5;
            let t = two_prod(x, y);
            assert_eq!(t.hi, x * y);
            assert_eq!(t.lo, x.mul_add(y, -t.hi));
        }
    }

    #[test]
    fn e53_delta_is_the_exponent_rounding() {
        let d = e53_delta();
        assert!((d + 7.401486830834377e-17).abs() < 1e-30, "{d:e}");
    }

    #[test]
    fn pow_dd_agrees_with_powf_and_is_consistent() {
        for &x in &[40.015625, 100.0, 1024.0, 1.85e-5, 2.9e-5, 0.5, 7.0] {
            let g = pow_e53_dd(x);
            let p = x.powf(E53);
            assert!(
                ((g.hi - p) / p).abs() < 4.0 * f64::EPSILON,
                "{x}: {g:?} vs {p}"
            );
            assert!(g.lo.abs() <= g.hi.abs() * f64::EPSILON);
        }
        // Exact cube: 8^(−5/3) = 1/32, up to the exponent rounding factor 8^δ.
        let g = pow_e53_dd(8.0);
        let want = 1.0 / 32.0 * (1.0 + e53_delta() * 8f64.ln());
        assert!(((g.hi + g.lo) - want).abs() < 1e-30, "{g:?}");
    }

    #[test]
    fn tables_start_newton_from_f76_and_agree_with_powf_start() {
        // The tables' first guess (f^(−7/6)/√f) and powf's give the same double-double to
        // ~1e-30 relative: the leading parts are identical, the trailing ones within a few
        // ulp of themselves.
        let t = tables();
        let mut worst = 0.0f64;
        for i in 0..NB {
            let g = pow_e53_dd(t.f[i]);
            assert_eq!(g.hi, t.g_hi[i], "bin {i}");
            worst = worst.max(((g.lo - t.g_lo[i]) / g.hi).abs());
        }
        assert!(worst < 1e-30, "trailing parts differ by {worst:e} relative");
    }

    #[test]
    fn tables_cover_the_band() {
        let t = tables();
        assert_eq!(t.f.len(), NB);
        assert_eq!(t.f[0], 40.015625);
        assert_eq!(t.f[NB - 1], 1024.0);
        assert_eq!(t.f76[100], t.f[100].powf(E76));
    }
}
