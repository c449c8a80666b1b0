//! The instruction-set layer of the fused c2r: a small SIMD abstraction the passes are written
//! over once, its scalar implementation, and the complex arithmetic built on it.
//!
//! Separate from the passes so that the contract every implementation must keep (the same IEEE
//! operation per lane, no FMA: the source of the bit-identical results across instruction
//! sets) sits in one short file next to the scalar reference implementation; the x86 vector
//! implementations live in `x86.rs`, the choice among them in [`crate::engine::dispatch`].

use num_complex::Complex64;
use std::f64::consts::FRAC_1_SQRT_2;

/// A SIMD vector of `LANES` doubles and the few operations the passes need. It exists so that
/// each pass is written once and instantiated per instruction set (scalar, AVX2, AVX-512F),
/// instead of three hand-written copies that could drift apart. Complex numbers
/// are handled struct-of-arrays ([`Cv`]): the loads de-interleave `Complex64` arrays, the
/// stores re-interleave them, and all arithmetic is lane-wise.
///
/// Every implementation performs, per lane, exactly the IEEE operation its name says (no FMA,
/// negation by flipping the sign bit, `max` ignoring a NaN in `self`), so results never depend
/// on the implementation.
///
/// # Safety
///
/// Implementations for x86 vector types execute AVX2 / AVX-512F instructions: their methods
/// may only run on a CPU that has them. This module upholds that by using them only inside
/// `#[target_feature]` functions called after runtime detection
/// ([`crate::engine::dispatch::Isa`]).
pub(super) unsafe trait Simd: Copy {
    /// Doubles per vector.
    const LANES: usize;
    /// `x` in every lane.
    fn splat(x: f64) -> Self;
    /// `self + b`, lane-wise.
    fn add(self, b: Self) -> Self;
    /// `self − b`, lane-wise.
    fn sub(self, b: Self) -> Self;
    /// `self · b`, lane-wise (never fused with an add).
    fn mul(self, b: Self) -> Self;
    /// `−self` (sign flip, exact).
    fn neg(self) -> Self;
    /// Lane-wise `if self > m { self } else { m }` (a NaN in `self` is ignored).
    fn max(self, m: Self) -> Self;
    /// Whether any lane is `≥ x` (NaN lanes are not).
    fn any_ge(self, x: f64) -> bool;
    /// `LANES` contiguous doubles (`x.len() == LANES`).
    fn load(x: &[f64]) -> Self;
    /// Stores the lanes to `out` (`out.len() == LANES`).
    fn store(self, out: &mut [f64]);
    /// Real and imaginary parts of `z[0..LANES]` (`z.len() == LANES`).
    fn load_c(z: &[Complex64]) -> (Self, Self);
    /// The same, lanes reversed: lane `i` holds `z[LANES − 1 − i]`.
    fn load_c_rev(z: &[Complex64]) -> (Self, Self);
    /// Writes lane `i` to `out[i]` (`out.len() == LANES`).
    fn store_c(out: &mut [Complex64], re: Self, im: Self);
}

// SAFETY: plain scalar code, runs anywhere.
unsafe impl Simd for f64 {
    const LANES: usize = 1;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        self + b
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        self - b
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        self * b
    }
    #[inline(always)]
    fn neg(self) -> Self {
        -self
    }
    #[inline(always)]
    fn max(self, m: Self) -> Self {
        if self > m {
            self
        } else {
            m
        }
    }
    #[inline(always)]
    fn any_ge(self, x: f64) -> bool {
        self >= x
    }
    #[inline(always)]
    fn load(x: &[f64]) -> Self {
        x[0]
    }
    #[inline(always)]
    fn store(self, out: &mut [f64]) {
        out[0] = self;
    }
    #[inline(always)]
    fn load_c(z: &[Complex64]) -> (Self, Self) {
        (z[0].re, z[0].im)
    }
    #[inline(always)]
    fn load_c_rev(z: &[Complex64]) -> (Self, Self) {
        (z[0].re, z[0].im)
    }
    #[inline(always)]
    fn store_c(out: &mut [Complex64], re: Self, im: Self) {
        out[0] = Complex64::new(re, im);
    }
}

/// `V::LANES` complex numbers, struct-of-arrays: the passes work on one complex number per
/// lane, and keeping real and imaginary parts in separate vectors makes every complex
/// operation plain lane-wise arithmetic (no shuffles between the loads and the stores).
#[derive(Clone, Copy)]
pub(super) struct Cv<V> {
    /// Real parts, lane by lane.
    pub(super) re: V,
    /// Imaginary parts, lane by lane.
    pub(super) im: V,
}

impl<V: Simd> Cv<V> {
    /// `0` in every lane.
    #[inline(always)]
    pub(super) fn zero() -> Self {
        Cv {
            re: V::splat(0.0),
            im: V::splat(0.0),
        }
    }

    /// `self + o`.
    #[inline(always)]
    pub(super) fn add(self, o: Self) -> Self {
        Cv {
            re: self.re.add(o.re),
            im: self.im.add(o.im),
        }
    }

    /// `self − o`.
    #[inline(always)]
    pub(super) fn sub(self, o: Self) -> Self {
        Cv {
            re: self.re.sub(o.re),
            im: self.im.sub(o.im),
        }
    }

    /// `self·o`.
    #[inline(always)]
    pub(super) fn mul(self, o: Self) -> Self {
        Cv {
            re: self.re.mul(o.re).sub(self.im.mul(o.im)),
            im: self.re.mul(o.im).add(self.im.mul(o.re)),
        }
    }

    /// `i·self` (exact).
    #[inline(always)]
    pub(super) fn times_i(self) -> Self {
        Cv {
            re: self.im.neg(),
            im: self.re,
        }
    }

    /// `−i·self` (exact).
    #[inline(always)]
    pub(super) fn times_neg_i(self) -> Self {
        Cv {
            re: self.im,
            im: self.re.neg(),
        }
    }

    /// `conj(self)` (exact).
    #[inline(always)]
    pub(super) fn conj(self) -> Self {
        Cv {
            re: self.re,
            im: self.im.neg(),
        }
    }
}

/// `y_p = Σ_r x_r e^{+2πipr/8}` (radix-2, three stages).
#[inline(always)]
pub(super) fn dft8<V: Simd>(x: &[Cv<V>; 8]) -> [Cv<V>; 8] {
    let s = V::splat(FRAC_1_SQRT_2);
    let a0 = x[0].add(x[4]);
    let a1 = x[0].sub(x[4]);
    let a2 = x[2].add(x[6]);
    let a3 = x[2].sub(x[6]).times_i();
    let a4 = x[1].add(x[5]);
    let a5 = x[1].sub(x[5]);
    let a6 = x[3].add(x[7]);
    let a7 = x[3].sub(x[7]).times_i();
    let e0 = a0.add(a2);
    let e2 = a0.sub(a2);
    let e1 = a1.add(a3);
    let e3 = a1.sub(a3);
    let o0 = a4.add(a6);
    let o2 = a4.sub(a6).times_i();
    let o1 = a5.add(a7);
    let o3 = a5.sub(a7);
    // e^{iπ/4}·o1 and e^{3iπ/4}·o3
    let t1 = Cv {
        re: o1.re.sub(o1.im).mul(s),
        im: o1.re.add(o1.im).mul(s),
    };
    let t3 = Cv {
        re: o3.re.add(o3.im).mul(s).neg(),
        im: o3.re.sub(o3.im).mul(s),
    };
    [
        e0.add(o0),
        e1.add(t1),
        e2.add(o2),
        e3.add(t3),
        e0.sub(o0),
        e1.sub(t1),
        e2.sub(o2),
        e3.sub(t3),
    ]
}
