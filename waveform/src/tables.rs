//! [`FreqTables`]: per-grid powers of `f` that make a TaylorF2 template a few multiplies and
//! one `sincos` per bin.
//!
//! With `u = f^(1/3)`, `w = 1/u` and `a = (πM)^(1/3)`, `v = a·u`, so every term `pfa_j v^(j−5)`
//! of the phase is a per-template constant times a power of `u` or `w`, and `ln v = ln a + ln u`
//! (see [`TaylorF2::tabulated`](crate::TaylorF2)). The tables hold `u`, `w`, `ln u` and
//! `f^(−7/6)` for the bins of one grid; they depend on the grid only, so a search builds them
//! once and shares them among all templates (~32 bytes per bin).
//!
//! Accuracy: each table entry is within ~1 ulp of its exact value and every phase term is a
//! product of a few such numbers, so the phase (≤ ~1e5 rad in any physical band) carries ~1e-11
//! rad of rounding, like LAL's own `cbrt`-per-bin evaluation — checked against LAL at 1e-9 rad
//! in `tests/lal.rs`.

use crate::taylorf2::TaylorF2;
use num_complex::Complex64;

/// Powers of `f_k = kΔf` for `k ∈ [first, first + len)`, struct-of-arrays so the fill loop
/// vectorises.
#[derive(Debug, Clone, PartialEq)]
pub struct FreqTables {
    /// First bin covered.
    first: usize,
    /// Bin spacing `Δf`, Hz.
    delta_f: f64,
    /// `f^(1/3)`.
    u: Vec<f64>,
    /// `f^(−1/3)`.
    w: Vec<f64>,
    /// `ln f^(1/3)`.
    ln_u: Vec<f64>,
    /// `f^(−7/6)`.
    f76: Vec<f64>,
}

impl FreqTables {
    /// Tables for bins `first..first + len` of a grid with spacing `delta_f`; `None` when a bin
    /// frequency is not positive and finite (`first` must be ≥ 1, `delta_f` > 0).
    pub fn new(delta_f: f64, first: usize, len: usize) -> Option<FreqTables> {
        let last = (first + len) as f64 * delta_f;
        if !(first >= 1 && delta_f.is_finite() && delta_f > 0. && last.is_finite()) {
            return None;
        }
        let mut t = FreqTables {
            first,
            delta_f,
            u: Vec::with_capacity(len),
            w: Vec::with_capacity(len),
            ln_u: Vec::with_capacity(len),
            f76: Vec::with_capacity(len),
        };
        for k in first..first + len {
            let f = k as f64 * delta_f;
            let u = f.cbrt();
            t.u.push(u);
            t.w.push(1. / u);
            t.ln_u.push(f.ln() / 3.);
            t.f76.push(f.powf(-7. / 6.));
        }
        Some(t)
    }

    /// First bin covered.
    pub fn first(&self) -> usize {
        self.first
    }

    /// Number of bins covered.
    pub fn len(&self) -> usize {
        self.u.len()
    }

    /// Whether no bin is covered.
    pub fn is_empty(&self) -> bool {
        self.u.is_empty()
    }

    /// Bin spacing, Hz.
    pub fn delta_f(&self) -> f64 {
        self.delta_f
    }

    /// Bytes the tables occupy.
    pub fn bytes(&self) -> usize {
        4 * 8 * self.len()
    }
}

impl TaylorF2 {
    /// An upper bound on `|Ψ(f) − π/4|` over `[f_lo, f_hi]` (both > 0), from the absolute values of
    /// the tabulated terms at the band's ends: callers with a `sincos` accurate only up to some
    /// argument use it to choose.
    pub fn phase_bound(&self, f_lo: f64, f_hi: f64) -> f64 {
        let c = self.tabulated(1.);
        let (u_lo, u_hi) = (f_lo.cbrt(), f_hi.cbrt());
        let (w_lo, ln_max) = (1. / u_lo, f_lo.ln().abs().max(f_hi.ln().abs()) / 3.);
        c.a5.abs() * w_lo.powi(5)
            + c.a4.abs() * w_lo.powi(4)
            + c.a3.abs() * w_lo.powi(3)
            + c.a2.abs() * w_lo * w_lo
            + c.a1.abs() * w_lo
            + c.a0.abs()
            + c.l0.abs() * ln_max
            + (c.b1.abs() + c.l1.abs() * ln_max) * u_hi
            + c.b2.abs() * u_hi * u_hi
    }

    /// h̃+ for `k ∈ [k_start, k_start + out.len())` from `tables` (which must cover the
    /// non-zero part of that range, else the uncovered bins are computed directly): the same
    /// waveform as [`taylorf2_into`](crate::taylorf2_into) for these coefficients, zero outside
    /// `[ceil(f_low/Δf), ⌊f_max/Δf + 1⌋)`. `sincos(x)` must return `(sin x, cos x)` for every
    /// `|x| ≤ self.phase_bound(...)` of the band; it is a parameter so a caller can pass a
    /// vectorisable one, and the loop is inlined into the caller (and its target features).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn fill_tabulated<S: Fn(f64) -> (f64, f64)>(
        &self,
        tables: &FreqTables,
        distance_mpc: f64,
        f_low: f64,
        f_final: Option<f64>,
        k_start: usize,
        out: &mut [Complex64],
        sincos: S,
    ) {
        out.fill(Complex64::new(0.0, 0.0));
        let (first, end) = self.band(f_low, f_final, tables.delta_f);
        let lo = first.max(k_start).max(tables.first);
        let hi = end
            .min(k_start + out.len())
            .min(tables.first + tables.len());
        if lo >= hi {
            return;
        }
        let c = self.tabulated(distance_mpc);
        let (t0, o0) = (lo - tables.first, lo - k_start);
        let n = hi - lo;
        let (u, w, ln_u, f76) = (
            &tables.u[t0..t0 + n],
            &tables.w[t0..t0 + n],
            &tables.ln_u[t0..t0 + n],
            &tables.f76[t0..t0 + n],
        );
        let out = &mut out[o0..o0 + n];
        for i in 0..n {
            let (u, w, l) = (u[i], w[i], ln_u[i]);
            let w2 = w * w;
            let psi = ((c.a5 * w + c.a4) * w2 + c.a2) * w2
                + c.a3 * w2 * w
                + c.a1 * w
                + c.a0
                + c.l0 * l
                + (c.b1 + c.l1 * l) * u
                + c.b2 * u * u;
            let (s, co) = sincos(psi);
            let a = c.amp * f76[i];
            out[i] = Complex64::new(a * co, -(a * s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taylorf2_into;
    use chirpfarm_core::TemplateParams;

    #[test]
    fn tabulated_equals_direct() {
        let df = 1. / 16.;
        let tables = FreqTables::new(df, 1, 40000).unwrap();
        for (m1, m2, s1, s2) in [
            (1.4, 1.3, 0.0, 0.0),
            (9.0, 4.0, 0.9, -0.9),
            (1.1, 1.0, -0.5, 0.3),
        ] {
            let p = TemplateParams {
                mass1: m1,
                mass2: m2,
                spin1z: s1,
                spin2z: s2,
            };
            let t = TaylorF2::new(&p).unwrap();
            let mut direct = vec![Complex64::new(0., 0.); 40000];
            let mut fast = direct.clone();
            taylorf2_into(&p, 1., 20., None, df, 0, &mut direct);
            t.fill_tabulated(&tables, 1., 20., None, 0, &mut fast, f64::sin_cos);
            let bound = t.phase_bound(20., t.f_isco());
            assert!(bound > (t.phase(20.) - std::f64::consts::FRAC_PI_4).abs());
            let mut worst: (f64, f64) = (0., 0.);
            for (d, f) in direct.iter().zip(&fast) {
                assert_eq!(d.norm() == 0., f.norm() == 0.);
                if d.norm() > 0. {
                    worst.0 = worst.0.max((f * d.conj()).arg().abs());
                    worst.1 = worst.1.max((f.norm() / d.norm() - 1.).abs());
                }
            }
            assert!(worst.0 < 1e-10 && worst.1 < 1e-13, "{p:?}: {worst:?}");
        }
    }
}
