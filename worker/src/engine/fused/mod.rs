//! Our own complex-to-real inverse FFT of length [`N`], fused with the multiply before it and
//! the max scan after it.
//!
//! `realfft`'s c2r for even `N` pre-processes the `N/2+1` bins into `H = N/2` complex values
//!
//! ```text
//! Z_k = E_k + i·w_k·D_k,   E_k = X_k + conj(X_{H−k}),  D_k = X_k − conj(X_{H−k}),  w_k = e^{2πik/N}
//! ```
//!
//! (and `Z_{H−k} = conj(E_k − i·w_k·D_k)`), runs a complex inverse FFT of length `H` and reads
//! its output `z_P = x_{2P} + i·x_{2P+1}` as the `N` reals. Here that FFT is split once more,
//! decimation in time with `H = 8·M` (`M = 8192`): with `k = 8c + r` and `P = q + M·p`,
//!
//! ```text
//! z_{q+Mp} = Σ_r e^{2πipr/8} · ω^{qr} · F_r(q),   F_r(q) = Σ_c Z_{8c+r} e^{2πiqc/M},   ω = e^{2πi/H}
//! ```
//!
//! 1. **Pass 1** ([`pass1`]) reads the signal and template bins once, sequentially (upwards
//!    from the bottom and downwards from the top, since bins `k` and `H − k` are combined),
//!    forms `X_k` on the fly (`conj(s)·t`), applies the realfft combination and writes `Z_k`
//!    to row `r = k mod 8`, column `c = k / 8` of an `8 × M` buffer. Bins below the first
//!    non-zero one (`K0` for band arrays) are known zeros and are never loaded.
//! 2. **Step 2** ([`row_ffts`]) computes each row's `F_r`, row by row while the row is in
//!    cache: one radix-8 decimation-in-frequency stage (`c = d + 1024·s`: an 8-point DFT over
//!    `s` and a twiddle), then `rustfft`'s inverse FFTs of length 1024 on the eight sub-rows, in
//!    place. `F_r(8u + v)` ends up in sub-row `v`, column `u`: `rustfft`'s own length-8192
//!    transform would end with a transpose into natural order, which pass 3 does not need.
//!    Sub-rows are padded so that the eight sub-row streams never share cache sets.
//! 3. **Pass 3** ([`pass3_max`]) reads the eight `F_r` at the same `q`, applies `ω^{qr}` and
//!    the 8-point DFT over `r`, and keeps only the running maximum of the outputs: a vector
//!    maximum per block of columns, and for the few blocks that reach the running maximum, a
//!    lane-by-lane fold of the values just computed, which finds the first index on ties. The
//!    output array is never written, and no value is ever recomputed to find the index: an
//!    earlier version that matched recomputed values exactly against the maximum failed under
//!    one layout of the code with rustc 1.95 (apparently a miscompile: the failure vanished
//!    with LLVM's SLP vectoriser disabled, or with any debugging print added).
//!
//! Decimation in time keeps pass 1's input sequential: a decimation-in-frequency first stage
//! would read eight rows of `s` and `t` 128 KiB apart, and those 32 input streams alias in L1
//! and L2 (measured: 91 µs for the bare memory pattern, against 37 µs for a sequential
//! multiply of the same arrays).
//!
//! The physical convention needs `Re z` (the c2r of `X = conj(t)·s`) and `Im z` (the c2r of
//! `−i·X`): pass 1 writes both transforms from the same loads (`E' = −i·D`, `D' = −i·E`), and
//! pass 3 reads both to form `|z|²`.
//!
//! Results equal `realfft`'s to ~1e-15 relative (a different summation order; tested against
//! it at 1e-12 with identical argmax lags). The passes are written once over a small SIMD
//! abstraction (the private `Simd` trait) and compiled for AVX-512 (8 lanes), AVX2 (4 lanes) and scalar code,
//! chosen at run time; every variant performs the same IEEE operations per element (no FMA),
//! so all give bit-identical results (tested).

use super::grid::{N, NF};
use num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::f64::consts::{FRAC_1_SQRT_2, PI};
use std::sync::{Arc, OnceLock};

/// Length of the complex FFT inside the c2r (`N/2`).
pub const H: usize = N / 2;
/// Length of the eight inner transforms `F_r` (`H/8`).
pub const M: usize = H / 8;
/// Length of the `rustfft` transforms (`M/8`).
pub const SUB: usize = M / 8;
/// Padding after each sub-row (128 bytes), so that sub-rows do not map to the same cache sets.
const PAD: usize = 8;
/// Distance between sub-rows of a buffer, in complex numbers.
pub const SUB_STRIDE: usize = SUB + PAD;
/// Complex numbers one transform's buffer spans: 8 rows of 8 padded sub-rows.
pub const BUF_LEN: usize = 64 * SUB_STRIDE;

/// `e^{2πi·a/b}`, the argument reduced exactly (`a mod b`) and quarter turns exact.
fn expi(a: usize, b: usize) -> (f64, f64) {
    let a = a % b;
    if (4 * a).is_multiple_of(b) {
        return [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][4 * a / b];
    }
    let (s, c) = (2.0 * PI * (a as f64) / b as f64).sin_cos();
    (c, s)
}

/// Real and imaginary parts of `e^{2πi·a/b}` for `a` in `range`, as two arrays.
fn expi_table(range: std::ops::Range<usize>, mul: usize, b: usize) -> (Box<[f64]>, Box<[f64]>) {
    let (re, im): (Vec<f64>, Vec<f64>) = range.map(|a| expi(a * mul, b)).unzip();
    (re.into_boxed_slice(), im.into_boxed_slice())
}

/// `e^{2πi·mul·q/H}` for `q = 8u + v`, stored at `v·SUB + u`.
fn expi_table_vu(mul: usize) -> (Box<[f64]>, Box<[f64]>) {
    let (re, im): (Vec<f64>, Vec<f64>) = (0..M)
        .map(|i| expi(mul * (8 * (i % SUB) + i / SUB), H))
        .unzip();
    (re.into_boxed_slice(), im.into_boxed_slice())
}

/// Twiddle tables, struct-of-arrays so lanes load contiguously.
struct Twiddles {
    /// `e^{2πi·8c/N}` for `c = 0..=M/2` (pass 1: `w_{8c+r} = u_c·ρ_r`).
    u: (Box<[f64]>, Box<[f64]>),
    /// `ρ_r = e^{2πir/N}`, `r = 0..8`.
    rho: (Box<[f64]>, Box<[f64]>),
    /// `ω^q = e^{2πiq/H}` for `q = 8u + v`, stored at `v·SUB + u` (pass 3's order).
    om1: (Box<[f64]>, Box<[f64]>),
    /// `ω^{2q}`, the same order.
    om2: (Box<[f64]>, Box<[f64]>),
    /// `e^{2πid/M}`, `d = 0..SUB` (step 2).
    c1: (Box<[f64]>, Box<[f64]>),
    /// `e^{2πi·2d/M}`, `d = 0..SUB`.
    c2: (Box<[f64]>, Box<[f64]>),
}

impl Twiddles {
    fn build() -> Twiddles {
        Twiddles {
            u: expi_table(0..M / 2 + 1, 8, N),
            rho: expi_table(0..8, 1, N),
            om1: expi_table_vu(1),
            om2: expi_table_vu(2),
            c1: expi_table(0..SUB, 1, M),
            c2: expi_table(0..SUB, 2, M),
        }
    }
}

/// The process-wide row plan and twiddles.
pub struct Plan {
    /// Inverse complex FFT of length [`SUB`] (unnormalised).
    row: Arc<dyn Fft<f64>>,
    /// Twiddles of passes 1 and 3.
    tw: Twiddles,
}

impl Plan {
    /// Scratch the row FFT needs (in place).
    pub fn scratch_len(&self) -> usize {
        self.row.get_inplace_scratch_len()
    }
}

/// The plan, built on first use (a few ms).
pub fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| Plan {
        row: FftPlanner::<f64>::new().plan_fft_inverse(SUB),
        tw: Twiddles::build(),
    })
}

/// A SIMD vector of `LANES` doubles and the few operations the passes need. Complex numbers
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
/// `#[target_feature]` functions called after runtime detection ([`Isa`]).
unsafe trait Simd: Copy {
    /// Doubles per vector.
    const LANES: usize;
    fn splat(x: f64) -> Self;
    fn add(self, b: Self) -> Self;
    fn sub(self, b: Self) -> Self;
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

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! AVX2 (4 lanes) and AVX-512F (8 lanes) vectors. Every `unsafe` block below relies on
    //! the same two facts: the CPU has the instruction set (the [`super::Simd`] contract), and
    //! the slice was checked to hold `LANES` doubles / complex numbers (`Complex64` is
    //! `#[repr(C)] { re, im }`, so `LANES` complex numbers are `2·LANES` contiguous doubles).
    use super::Simd;
    use num_complex::Complex64;
    use std::arch::x86_64::*;

    /// Four doubles (AVX2).
    #[derive(Clone, Copy)]
    pub struct V4(__m256d);

    // SAFETY: only used inside `#[target_feature(enable = "avx2")]` (or AVX-512) functions
    // after runtime detection.
    unsafe impl Simd for V4 {
        const LANES: usize = 4;
        #[inline(always)]
        fn splat(x: f64) -> Self {
            // SAFETY: see the module comment.
            V4(unsafe { _mm256_set1_pd(x) })
        }
        #[inline(always)]
        fn add(self, b: Self) -> Self {
            // SAFETY: see the module comment.
            V4(unsafe { _mm256_add_pd(self.0, b.0) })
        }
        #[inline(always)]
        fn sub(self, b: Self) -> Self {
            // SAFETY: see the module comment.
            V4(unsafe { _mm256_sub_pd(self.0, b.0) })
        }
        #[inline(always)]
        fn mul(self, b: Self) -> Self {
            // SAFETY: see the module comment.
            V4(unsafe { _mm256_mul_pd(self.0, b.0) })
        }
        #[inline(always)]
        fn neg(self) -> Self {
            // SAFETY: see the module comment.
            V4(unsafe { _mm256_xor_pd(self.0, _mm256_set1_pd(-0.0)) })
        }
        #[inline(always)]
        fn max(self, m: Self) -> Self {
            // SAFETY: see the module comment. MAXPD returns its second operand when either is
            // NaN or both are zero, exactly `if self > m { self } else { m }`.
            V4(unsafe { _mm256_max_pd(self.0, m.0) })
        }
        #[inline(always)]
        fn any_ge(self, x: f64) -> bool {
            // SAFETY: see the module comment.
            unsafe {
                _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(self.0, _mm256_set1_pd(x))) != 0
            }
        }
        #[inline(always)]
        fn load(x: &[f64]) -> Self {
            assert!(x.len() == 4);
            // SAFETY: 4 doubles (checked), see the module comment.
            V4(unsafe { _mm256_loadu_pd(x.as_ptr()) })
        }
        #[inline(always)]
        fn store(self, out: &mut [f64]) {
            assert!(out.len() == 4);
            // SAFETY: 4 doubles (checked), see the module comment.
            unsafe { _mm256_storeu_pd(out.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn load_c(z: &[Complex64]) -> (Self, Self) {
            assert!(z.len() == 4);
            // SAFETY: 4 complex = 8 doubles (checked), see the module comment.
            unsafe {
                let p = z.as_ptr().cast::<f64>();
                let (a, b) = (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4)));
                // [r0 r2 r1 r3] → [r0 r1 r2 r3]
                let re = _mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_unpacklo_pd(a, b));
                let im = _mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_unpackhi_pd(a, b));
                (V4(re), V4(im))
            }
        }
        #[inline(always)]
        fn load_c_rev(z: &[Complex64]) -> (Self, Self) {
            assert!(z.len() == 4);
            // SAFETY: 4 complex = 8 doubles (checked), see the module comment.
            unsafe {
                let p = z.as_ptr().cast::<f64>();
                let (a, b) = (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4)));
                // [r0 r2 r1 r3] → [r3 r2 r1 r0]
                let re = _mm256_permute4x64_pd::<0b00_10_01_11>(_mm256_unpacklo_pd(a, b));
                let im = _mm256_permute4x64_pd::<0b00_10_01_11>(_mm256_unpackhi_pd(a, b));
                (V4(re), V4(im))
            }
        }
        #[inline(always)]
        fn store_c(out: &mut [Complex64], re: Self, im: Self) {
            assert!(out.len() == 4);
            // SAFETY: 4 complex = 8 doubles (checked), see the module comment.
            unsafe {
                let p = out.as_mut_ptr().cast::<f64>();
                let lo = _mm256_unpacklo_pd(re.0, im.0); // r0 i0 r2 i2
                let hi = _mm256_unpackhi_pd(re.0, im.0); // r1 i1 r3 i3
                _mm256_storeu_pd(p, _mm256_permute2f128_pd::<0x20>(lo, hi));
                _mm256_storeu_pd(p.add(4), _mm256_permute2f128_pd::<0x31>(lo, hi));
            }
        }
    }

    /// Eight doubles (AVX-512F).
    #[derive(Clone, Copy)]
    pub struct V8(__m512d);

    /// `_mm512_permutex2var_pd` with constant indices (0..8 from `a`, 8..16 from `b`).
    #[inline(always)]
    fn perm2(a: __m512d, idx: [i64; 8], b: __m512d) -> __m512d {
        // SAFETY: see the module comment.
        unsafe {
            let i = _mm512_set_epi64(
                idx[7], idx[6], idx[5], idx[4], idx[3], idx[2], idx[1], idx[0],
            );
            _mm512_permutex2var_pd(a, i, b)
        }
    }

    // SAFETY: only used inside `#[target_feature(enable = "avx512f")]` functions after runtime
    // detection.
    unsafe impl Simd for V8 {
        const LANES: usize = 8;
        #[inline(always)]
        fn splat(x: f64) -> Self {
            // SAFETY: see the module comment.
            V8(unsafe { _mm512_set1_pd(x) })
        }
        #[inline(always)]
        fn add(self, b: Self) -> Self {
            // SAFETY: see the module comment.
            V8(unsafe { _mm512_add_pd(self.0, b.0) })
        }
        #[inline(always)]
        fn sub(self, b: Self) -> Self {
            // SAFETY: see the module comment.
            V8(unsafe { _mm512_sub_pd(self.0, b.0) })
        }
        #[inline(always)]
        fn mul(self, b: Self) -> Self {
            // SAFETY: see the module comment.
            V8(unsafe { _mm512_mul_pd(self.0, b.0) })
        }
        #[inline(always)]
        fn neg(self) -> Self {
            // SAFETY: see the module comment (integer XOR of the sign bit: AVX-512F only).
            V8(unsafe {
                _mm512_castsi512_pd(_mm512_xor_si512(
                    _mm512_castpd_si512(self.0),
                    _mm512_set1_epi64(i64::MIN),
                ))
            })
        }
        #[inline(always)]
        fn max(self, m: Self) -> Self {
            // SAFETY: see the module comment; VMAXPD has the same NaN/zero rule as MAXPD.
            V8(unsafe { _mm512_max_pd(self.0, m.0) })
        }
        #[inline(always)]
        fn any_ge(self, x: f64) -> bool {
            // SAFETY: see the module comment.
            unsafe { _mm512_cmp_pd_mask::<_CMP_GE_OQ>(self.0, _mm512_set1_pd(x)) != 0 }
        }
        #[inline(always)]
        fn load(x: &[f64]) -> Self {
            assert!(x.len() == 8);
            // SAFETY: 8 doubles (checked), see the module comment.
            V8(unsafe { _mm512_loadu_pd(x.as_ptr()) })
        }
        #[inline(always)]
        fn store(self, out: &mut [f64]) {
            assert!(out.len() == 8);
            // SAFETY: 8 doubles (checked), see the module comment.
            unsafe { _mm512_storeu_pd(out.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn load_c(z: &[Complex64]) -> (Self, Self) {
            assert!(z.len() == 8);
            // SAFETY: 8 complex = 16 doubles (checked), see the module comment.
            let (a, b) = unsafe {
                let p = z.as_ptr().cast::<f64>();
                (_mm512_loadu_pd(p), _mm512_loadu_pd(p.add(8)))
            };
            (
                V8(perm2(a, [0, 2, 4, 6, 8, 10, 12, 14], b)),
                V8(perm2(a, [1, 3, 5, 7, 9, 11, 13, 15], b)),
            )
        }
        #[inline(always)]
        fn load_c_rev(z: &[Complex64]) -> (Self, Self) {
            assert!(z.len() == 8);
            // SAFETY: 8 complex = 16 doubles (checked), see the module comment.
            let (a, b) = unsafe {
                let p = z.as_ptr().cast::<f64>();
                (_mm512_loadu_pd(p), _mm512_loadu_pd(p.add(8)))
            };
            (
                V8(perm2(a, [14, 12, 10, 8, 6, 4, 2, 0], b)),
                V8(perm2(a, [15, 13, 11, 9, 7, 5, 3, 1], b)),
            )
        }
        #[inline(always)]
        fn store_c(out: &mut [Complex64], re: Self, im: Self) {
            assert!(out.len() == 8);
            let lo = perm2(re.0, [0, 8, 1, 9, 2, 10, 3, 11], im.0);
            let hi = perm2(re.0, [4, 12, 5, 13, 6, 14, 7, 15], im.0);
            // SAFETY: 8 complex = 16 doubles (checked), see the module comment.
            unsafe {
                let p = out.as_mut_ptr().cast::<f64>();
                _mm512_storeu_pd(p, lo);
                _mm512_storeu_pd(p.add(8), hi);
            }
        }
    }
}

/// `V::LANES` complex numbers, struct-of-arrays.
#[derive(Clone, Copy)]
struct Cv<V> {
    re: V,
    im: V,
}

impl<V: Simd> Cv<V> {
    #[inline(always)]
    fn zero() -> Self {
        Cv {
            re: V::splat(0.0),
            im: V::splat(0.0),
        }
    }

    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Cv {
            re: self.re.add(o.re),
            im: self.im.add(o.im),
        }
    }

    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Cv {
            re: self.re.sub(o.re),
            im: self.im.sub(o.im),
        }
    }

    /// `self·o`.
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        Cv {
            re: self.re.mul(o.re).sub(self.im.mul(o.im)),
            im: self.re.mul(o.im).add(self.im.mul(o.re)),
        }
    }

    /// `i·self` (exact).
    #[inline(always)]
    fn times_i(self) -> Self {
        Cv {
            re: self.im.neg(),
            im: self.re,
        }
    }

    /// `−i·self` (exact).
    #[inline(always)]
    fn times_neg_i(self) -> Self {
        Cv {
            re: self.im,
            im: self.re.neg(),
        }
    }

    /// `conj(self)` (exact).
    #[inline(always)]
    fn conj(self) -> Self {
        Cv {
            re: self.re,
            im: self.im.neg(),
        }
    }
}

/// `y_p = Σ_r x_r e^{+2πipr/8}` (radix-2, three stages).
#[inline(always)]
fn dft8<V: Simd>(x: &[Cv<V>; 8]) -> [Cv<V>; 8] {
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

/// Which product pass 1 forms, and how many transforms it feeds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// `X = conj(s)·t`, one transform (the seed convention).
    Seed,
    /// `X = conj(t)·s`, two transforms: of `X` and of `−i·X` (the physical convention).
    Physical,
}

/// The product of signal bins `a` and template bins `b`: `conj(a)·b` (seed) or `conj(b)·a`
/// (physical), numpy's operation order.
#[inline(always)]
fn product<V: Simd, const PHYS: bool>(a: (V, V), b: (V, V)) -> Cv<V> {
    let ((ar, ai), (br, bi)) = if PHYS { (b, a) } else { (a, b) };
    Cv {
        re: ar.mul(br).add(ai.mul(bi)),
        im: ar.mul(bi).sub(ai.mul(br)),
    }
}

/// Position of bin `k = 8c + r` in a pass-1 buffer: row `r`, column `c`, i.e. sub-row
/// `8r + c / SUB`, column `c mod SUB` (written as `r·8·SUB_STRIDE + c + (c / SUB)·PAD`, which
/// compiles to fewer instructions: pass 1 computes it for every bin).
#[inline(always)]
fn slot(k: usize) -> usize {
    let c = k / 8;
    (k % 8) * (8 * SUB_STRIDE) + c + (c / SUB) * PAD
}

/// Pass 1 on bins `k0..k0+LANES` and their partners `H−k0−LANES+1..=H−k0`
/// (`LANES ≤ k0`, `k0 + LANES ≤ H/2`, the block inside one column). `ZERO_A`: the bins
/// `k0..k0+LANES` are below `start` (zero).
#[inline(always)]
fn pass1_block<V: Simd, const PHYS: bool, const ZERO_A: bool>(
    tws: &Twiddles,
    s: &[Complex64],
    t: &[Complex64],
    start: usize,
    k0: usize,
    out1: &mut [Complex64],
    out2: &mut [Complex64],
) {
    let l = V::LANES;
    let hi = H - k0 - start;
    let (bs, bt) = (&s[hi + 1 - l..=hi], &t[hi + 1 - l..=hi]);
    let b = product::<V, PHYS>(V::load_c_rev(bs), V::load_c_rev(bt));
    // E = A + conj(B), D = A − conj(B)
    let (e, d) = if ZERO_A {
        (
            b.conj(),
            Cv {
                re: b.re.neg(),
                im: b.im,
            },
        )
    } else {
        let lo = k0 - start;
        let a = product::<V, PHYS>(V::load_c(&s[lo..lo + l]), V::load_c(&t[lo..lo + l]));
        (
            Cv {
                re: a.re.add(b.re),
                im: a.im.sub(b.im),
            },
            Cv {
                re: a.re.sub(b.re),
                im: a.im.add(b.im),
            },
        )
    };
    // w_k = u_{k/8}·ρ_{k mod 8}
    let (c, r0) = (k0 / 8, k0 % 8);
    let u = Cv {
        re: V::splat(tws.u.0[c]),
        im: V::splat(tws.u.1[c]),
    };
    let rho = Cv {
        re: V::load(&tws.rho.0[r0..r0 + l]),
        im: V::load(&tws.rho.1[r0..r0 + l]),
    };
    let w = u.mul(rho);
    // Z_k = E + i·w·D, Z_{H−k} = conj(E − i·w·D)
    let q = d.mul(w).times_i();
    scatter(e.add(q), e.sub(q).conj(), k0, out1);
    if PHYS {
        // Second transform (of −i·X): E' = −i·D, i·w·D' = w·E.
        let e2 = d.times_neg_i();
        let q2 = e.mul(w);
        scatter(e2.add(q2), e2.sub(q2).conj(), k0, out2);
    }
}

/// Writes `z` (bins `k0 + i`) and `zm` (bins `H − k0 − i`) to their buffer slots.
#[inline(always)]
fn scatter<V: Simd>(z: Cv<V>, zm: Cv<V>, k0: usize, out: &mut [Complex64]) {
    let mut a = [Complex64::new(0.0, 0.0); 8];
    let mut b = [Complex64::new(0.0, 0.0); 8];
    let l = V::LANES;
    V::store_c(&mut a[..l], z.re, z.im);
    V::store_c(&mut b[..l], zm.re, zm.im);
    for i in 0..l {
        out[slot(k0 + i)] = a[i];
        out[slot(H - k0 - i)] = b[i];
    }
}

/// Pass 1 on the special bins `0` (paired with the Nyquist bin `H`, which has no slot) and
/// `H/2` (its own partner), with the DC and Nyquist rules: imaginary parts dropped (seed), or
/// zero (physical).
fn pass1_special<const PHYS: bool>(
    tws: &Twiddles,
    s: &[Complex64],
    t: &[Complex64],
    start: usize,
    out1: &mut [Complex64],
    out2: &mut [Complex64],
) {
    let x = |k: usize| -> Cv<f64> {
        if k < start || (PHYS && k == H) {
            return Cv::zero();
        }
        let i = k - start;
        let z = product::<f64, PHYS>((s[i].re, s[i].im), (t[i].re, t[i].im));
        if k == 0 || k == H {
            Cv { re: z.re, im: 0.0 }
        } else {
            z
        }
    };
    for k in [0, H / 2] {
        let (a, b) = (x(k), x(H - k));
        let e = Cv {
            re: a.re + b.re,
            im: a.im - b.im,
        };
        let d = Cv {
            re: a.re - b.re,
            im: a.im + b.im,
        };
        let w = Cv {
            re: tws.u.0[k / 8],
            im: tws.u.1[k / 8],
        }
        .mul(Cv {
            re: tws.rho.0[0],
            im: tws.rho.1[0],
        });
        let q = d.mul(w).times_i();
        let z = e.add(q);
        out1[slot(k)] = Complex64::new(z.re, z.im);
        if PHYS {
            let z = d.times_neg_i().add(e.mul(w));
            out2[slot(k)] = Complex64::new(z.re, z.im);
        }
    }
}

/// Pass 1 with vector type `V`: bins `1..H/2` in blocks of 8 (the first and the one holding
/// `start` one bin at a time), then the special bins.
#[inline(always)]
fn pass1_impl<V: Simd, const PHYS: bool>(
    s: &[Complex64],
    t: &[Complex64],
    start: usize,
    out1: &mut [Complex64],
    out2: &mut [Complex64],
) {
    let tws = &plan().tw;
    let l = V::LANES;
    for k in 1..8 {
        if k < start {
            pass1_block::<f64, PHYS, true>(tws, s, t, start, k, out1, out2);
        } else {
            pass1_block::<f64, PHYS, false>(tws, s, t, start, k, out1, out2);
        }
    }
    for k0 in (8..H / 2).step_by(8) {
        if k0 + 8 <= start {
            for k in (k0..k0 + 8).step_by(l) {
                pass1_block::<V, PHYS, true>(tws, s, t, start, k, out1, out2);
            }
        } else if k0 >= start {
            for k in (k0..k0 + 8).step_by(l) {
                pass1_block::<V, PHYS, false>(tws, s, t, start, k, out1, out2);
            }
        } else {
            for k in k0..k0 + 8 {
                if k < start {
                    pass1_block::<f64, PHYS, true>(tws, s, t, start, k, out1, out2);
                } else {
                    pass1_block::<f64, PHYS, false>(tws, s, t, start, k, out1, out2);
                }
            }
        }
    }
    pass1_special::<PHYS>(tws, s, t, start, out1, out2);
}

/// The eight twiddles `w^0..w^7` for lanes with `w`, `w²` read from the tables `t1`, `t2` at
/// index `ti` (`w³..w⁷` are products of them).
#[inline(always)]
fn powers<V: Simd>(
    t1: &(Box<[f64]>, Box<[f64]>),
    t2: &(Box<[f64]>, Box<[f64]>),
    ti: usize,
) -> [Cv<V>; 8] {
    let l = V::LANES;
    let w1 = Cv {
        re: V::load(&t1.0[ti..ti + l]),
        im: V::load(&t1.1[ti..ti + l]),
    };
    let w2 = Cv {
        re: V::load(&t2.0[ti..ti + l]),
        im: V::load(&t2.1[ti..ti + l]),
    };
    let w3 = w2.mul(w1);
    let w4 = w2.mul(w2);
    let one = Cv {
        re: V::splat(1.0),
        im: V::splat(0.0),
    };
    [one, w1, w2, w3, w4, w4.mul(w1), w4.mul(w2), w4.mul(w3)]
}

/// Loads `buf[at[r]..at[r] + LANES]` for `r = 0..8`.
#[inline(always)]
fn load8<V: Simd>(buf: &[Complex64], at: &[usize; 8]) -> [Cv<V>; 8] {
    let l = V::LANES;
    let mut f = [Cv::<V>::zero(); 8];
    for (fr, &o) in f.iter_mut().zip(at) {
        let (re, im) = V::load_c(&buf[o..o + l]);
        *fr = Cv { re, im };
    }
    f
}

/// Step 2's first stage for row `r` (decimation in frequency of the length-`M` transform
/// `F_r` of row `r`, whose column `c = d + SUB·s` sits in sub-row `8r + s`, column `d`):
/// `W_v(d) = e^{2πivd/M}·Σ_s e^{2πivs/8}·Y(d + SUB·s)`, written back to sub-row `8r + v` (in
/// place: each block reads its eight sub-rows before writing them). The length-`SUB` transform
/// of sub-row `8r + v` then holds `F_r(8u + v)` at column `u`.
#[inline(always)]
fn pass2_impl<V: Simd, const PHYS: bool>(buf: &mut [Complex64], r: usize) {
    let tws = &plan().tw;
    let l = V::LANES;
    for d0 in (0..SUB).step_by(l) {
        let mut at = [0; 8];
        for (s, a) in at.iter_mut().enumerate() {
            *a = (8 * r + s) * SUB_STRIDE + d0;
        }
        let y = dft8(&load8::<V>(buf, &at));
        let w = powers::<V>(&tws.c1, &tws.c2, d0);
        for v in 0..8 {
            let z = if v == 0 { y[0] } else { y[v].mul(w[v]) };
            V::store_c(&mut buf[at[v]..at[v] + l], z.re, z.im);
        }
    }
}

/// Pass 3 on `q = 8u + v`, `u = u0..u0+LANES`: the outputs `z_{q+Mp}` =
/// `Σ_r e^{2πipr/8}·ω^{qr}·F_r(q)`, `F_r(q)` being in sub-row `8r + v`, column `u`.
#[inline(always)]
fn pass3_block<V: Simd>(tws: &Twiddles, buf: &[Complex64], v: usize, u0: usize) -> [Cv<V>; 8] {
    let mut at = [0; 8];
    for (r, a) in at.iter_mut().enumerate() {
        *a = (8 * r + v) * SUB_STRIDE + u0;
    }
    let f = load8::<V>(buf, &at);
    let w = powers::<V>(&tws.om1, &tws.om2, v * SUB + u0);
    let mut x = f;
    for r in 1..8 {
        x[r] = f[r].mul(w[r]);
    }
    dft8(&x)
}

/// The values the maximum is taken over for output `z_{q+Mp}`: its real and imaginary parts
/// (seed), or `|z|²` at both of its samples (physical: `a` holds `Re z`, `b` holds `Im z`).
#[inline(always)]
fn values<V: Simd, const PHYS: bool>(a: Cv<V>, b: Cv<V>) -> (V, V) {
    if PHYS {
        (
            a.re.mul(a.re).add(b.re.mul(b.re)),
            a.im.mul(a.im).add(b.im.mul(b.im)),
        )
    } else {
        (a.re, a.im)
    }
}

/// The running maximum of a scan: value and first output index on ties.
#[derive(Clone, Copy, Debug)]
pub struct Best {
    /// Largest value seen (−∞ until a non-NaN value is seen).
    pub value: f64,
    /// Smallest output index holding `value`.
    pub index: usize,
}

impl Best {
    /// Nothing seen yet.
    const NONE: Best = Best {
        value: f64::NEG_INFINITY,
        index: 0,
    };

    /// Folds in value `v` at output index `j` (NaN ignored; ties keep the smaller index, so
    /// the order of the calls does not matter).
    #[inline(always)]
    fn fold(&mut self, v: f64, j: usize) {
        if v > self.value {
            self.value = v;
            self.index = j;
        } else if v == self.value && j < self.index {
            self.index = j;
        }
    }
}

/// Folds the values of one pass-3 block (`vals[p] = (value at 2P, value at 2P+1)` for
/// `P = 8·(u0 + lane) + v + M·p`) into `best`, lane by lane. Only called for the few blocks
/// whose maximum reaches the running one.
#[inline(always)]
fn fold_block<V: Simd>(vals: &[(V, V); 8], v: usize, u0: usize, best: &mut Best) {
    let l = V::LANES;
    let mut re = [0.0; 8];
    let mut im = [0.0; 8];
    for (p, (vr, vi)) in vals.iter().enumerate() {
        vr.store(&mut re[..l]);
        vi.store(&mut im[..l]);
        for i in 0..l {
            let j = 2 * (8 * (u0 + i) + v + M * p);
            best.fold(re[i], j);
            best.fold(im[i], j + 1);
        }
    }
}

/// Pass 3 with vector type `V`: the maximum over all outputs and its first index.
#[inline(always)]
fn pass3_impl<V: Simd, const PHYS: bool>(a: &[Complex64], b: &[Complex64]) -> Best {
    let tws = &plan().tw;
    let l = V::LANES;
    let mut best = Best::NONE;
    for v in 0..8 {
        for u0 in (0..SUB).step_by(l) {
            let ya = pass3_block::<V>(tws, a, v, u0);
            let yb = if PHYS {
                pass3_block::<V>(tws, b, v, u0)
            } else {
                ya
            };
            let mut vals = [(V::splat(0.0), V::splat(0.0)); 8];
            let mut m = V::splat(f64::NEG_INFINITY);
            for p in 0..8 {
                let (vr, vi) = values::<V, PHYS>(ya[p], yb[p]);
                vals[p] = (vr, vi);
                m = vr.max(m);
                m = vi.max(m);
            }
            if m.any_ge(best.value) {
                fold_block(&vals, v, u0, &mut best);
            }
        }
    }
    best
}

/// Step 3: the maximum over the c2r output(s) held by the row-transformed buffer(s) `a` (and
/// `b`, physical) and its first index.
pub fn pass3_max(mode: Mode, a: &[Complex64], b: &[Complex64]) -> Best {
    pass3_max_with(isa(), mode, a, b)
}

/// [`pass3_max`] compiled for a given instruction set.
pub(crate) fn pass3_max_with(isa: Isa, mode: Mode, a: &[Complex64], b: &[Complex64]) -> Best {
    assert!(a.len() >= BUF_LEN);
    match mode {
        Mode::Seed => dispatch_pass3::<false>(isa, a, a),
        Mode::Physical => {
            assert!(b.len() >= BUF_LEN);
            dispatch_pass3::<true>(isa, a, b)
        }
    }
}

/// The instruction sets the passes are compiled for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Isa {
    /// Scalar code, any CPU.
    Baseline,
    /// 4-lane vectors.
    Avx2,
    /// 8-lane vectors.
    Avx512,
}

impl Isa {
    /// Whether this CPU supports it.
    pub(crate) fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Isa::Baseline => true,
                Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
                Isa::Avx512 => {
                    std::arch::is_x86_feature_detected!("avx512f")
                        && std::arch::is_x86_feature_detected!("avx2")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Isa::Baseline
        }
    }
}

/// The best [`Isa`] this CPU supports (detected once).
fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        [Isa::Avx512, Isa::Avx2]
            .into_iter()
            .find(|i| i.available())
            .unwrap_or(Isa::Baseline)
    })
}

/// Defines `fn $name<const PHYS: bool>(isa, args) -> ret` running `$imp::<V, PHYS>` compiled
/// for the given [`Isa`] (asserted available).
macro_rules! isa_dispatch {
    (fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $imp:ident;) => {
        fn $name<const PHYS: bool>(isa: Isa, $($arg: $ty),*) -> $ret {
            assert!(isa.available(), "{isa:?} is not available on this CPU");
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2")]
                fn avx512<const PHYS: bool>($($arg: $ty),*) -> $ret {
                    $imp::<x86::V8, PHYS>($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2<const PHYS: bool>($($arg: $ty),*) -> $ret {
                    $imp::<x86::V4, PHYS>($($arg),*)
                }
                match isa {
                    // SAFETY: the CPU supports AVX-512F and AVX2 (asserted above).
                    Isa::Avx512 => return unsafe { avx512::<PHYS>($($arg),*) },
                    // SAFETY: the CPU supports AVX2 (asserted above).
                    Isa::Avx2 => return unsafe { avx2::<PHYS>($($arg),*) },
                    Isa::Baseline => {}
                }
            }
            $imp::<f64, PHYS>($($arg),*)
        }
    };
}

isa_dispatch! {
    fn dispatch_pass1(s: &[Complex64], t: &[Complex64], start: usize, out1: &mut [Complex64], out2: &mut [Complex64]) -> () = pass1_impl;
}
isa_dispatch! {
    fn dispatch_pass2(buf: &mut [Complex64], r: usize) -> () = pass2_impl;
}
isa_dispatch! {
    fn dispatch_pass3(a: &[Complex64], b: &[Complex64]) -> Best = pass3_impl;
}

/// Step 1: writes the pass-1 buffer(s) of the c2r of `X` (and, physical, of `−i·X`).
///
/// `s` and `t` hold bins `start..NF` (`start < H/2`; bins below are zero). Seed: `X =
/// conj(s)·t` with the DC and Nyquist imaginary parts dropped; physical: `X = conj(t)·s` with
/// the Nyquist bin zeroed, `out2` receiving the second transform. Buffers hold [`BUF_LEN`]
/// complex numbers (64 sub-rows of [`SUB`] at stride [`SUB_STRIDE`]; the padding is never
/// written).
pub fn pass1(
    mode: Mode,
    s: &[Complex64],
    t: &[Complex64],
    start: usize,
    out1: &mut [Complex64],
    out2: &mut [Complex64],
) {
    pass1_with(isa(), mode, s, t, start, out1, out2)
}

/// [`pass1`] compiled for a given instruction set.
pub(crate) fn pass1_with(
    isa: Isa,
    mode: Mode,
    s: &[Complex64],
    t: &[Complex64],
    start: usize,
    out1: &mut [Complex64],
    out2: &mut [Complex64],
) {
    assert!(start < H / 2, "bins below {start} must be handled");
    assert!(s.len() == NF - start && t.len() == NF - start);
    assert!(out1.len() >= BUF_LEN);
    match mode {
        Mode::Seed => dispatch_pass1::<false>(isa, s, t, start, out1, &mut []),
        Mode::Physical => {
            assert!(out2.len() >= BUF_LEN);
            dispatch_pass1::<true>(isa, s, t, start, out1, out2)
        }
    }
}

/// Step 2: turns a pass-1 buffer into the eight transforms `F_r` (sub-row `8r + v`, column
/// `u` holds `F_r(8u + v)`), row by row while each row's 129 KiB is in cache: a radix-8
/// decimation-in-frequency stage (`pass2_impl`), then `rustfft`'s transforms of length
/// [`SUB`] on the eight sub-rows, in place. (`rustfft`'s own length-`M` transform would end
/// with a transpose that pass 3 does not need.) `scratch` has at least [`Plan::scratch_len`]
/// elements.
pub fn row_ffts(buf: &mut [Complex64], scratch: &mut [Complex64]) {
    row_ffts_with(isa(), buf, scratch)
}

/// [`row_ffts`] with the first stage compiled for a given instruction set.
pub(crate) fn row_ffts_with(isa: Isa, buf: &mut [Complex64], scratch: &mut [Complex64]) {
    assert!(buf.len() >= BUF_LEN);
    let fft = &plan().row;
    for r in 0..8 {
        dispatch_pass2::<false>(isa, buf, r);
        for v in 0..8 {
            let at = (8 * r + v) * SUB_STRIDE;
            fft.process_with_scratch(&mut buf[at..at + SUB], scratch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dft8_is_the_inverse_dft() {
        let x: [Cv<f64>; 8] = std::array::from_fn(|r| Cv {
            re: (r as f64 * 0.7).sin(),
            im: (r as f64 * 1.3).cos(),
        });
        let y = dft8(&x);
        for (p, yp) in y.iter().enumerate() {
            let mut want = Complex64::new(0.0, 0.0);
            for (r, xr) in x.iter().enumerate() {
                let (c, s) = expi(p * r, 8);
                want += Complex64::new(xr.re, xr.im) * Complex64::new(c, s);
            }
            assert!((Complex64::new(yp.re, yp.im) - want).norm() < 1e-14);
        }
    }

    /// Pseudo-random bins (a logistic map: deterministic, no RNG dependency).
    fn noise(n: usize, seed: f64) -> Vec<Complex64> {
        let mut x = seed;
        let mut next = || {
            x = 3.99 * x * (1.0 - x);
            x - 0.5
        };
        (0..n).map(|_| Complex64::new(next(), next())).collect()
    }

    fn buffers() -> (Vec<Complex64>, Vec<Complex64>) {
        let z = Complex64::new(0.0, 0.0);
        (vec![z; BUF_LEN], vec![z; BUF_LEN])
    }

    fn available() -> Vec<Isa> {
        [Isa::Baseline, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|i| i.available())
            .collect()
    }

    /// Every instruction set gives bit-identical buffers after pass 1 and step 2 and identical
    /// pass-3 results, for both modes, band arrays and full arrays (complex DC and Nyquist bins
    /// included).
    #[test]
    fn instruction_sets_are_bit_identical() {
        let full_s = noise(NF, 0.123);
        let full_t = noise(NF, 0.377);
        let k0 = crate::engine::K0;
        let cases: [(Mode, &[Complex64], &[Complex64], usize); 4] = [
            (Mode::Seed, &full_s, &full_t, 0),
            (Mode::Seed, &full_s[k0..], &full_t[k0..], k0),
            (Mode::Seed, &full_s[5..], &full_t[5..], 5),
            (Mode::Physical, &full_s[k0..], &full_t[k0..], k0),
        ];
        for (mode, s, t, start) in cases {
            let (mut a0, mut b0) = buffers();
            pass1_with(Isa::Baseline, mode, s, t, start, &mut a0, &mut b0);
            let mut scratch = vec![Complex64::new(0.0, 0.0); plan().scratch_len()];
            let (mut ra, mut rb) = (a0.clone(), b0.clone());
            row_ffts_with(Isa::Baseline, &mut ra, &mut scratch);
            row_ffts_with(Isa::Baseline, &mut rb, &mut scratch);
            let want = pass3_max_with(Isa::Baseline, mode, &ra, &rb);
            for isa in available() {
                let (mut a, mut b) = buffers();
                pass1_with(isa, mode, s, t, start, &mut a, &mut b);
                assert!(
                    a == a0 && b == b0,
                    "{isa:?} {mode:?} start {start}: pass 1 differs"
                );
                row_ffts_with(isa, &mut a, &mut scratch);
                row_ffts_with(isa, &mut b, &mut scratch);
                assert!(
                    a == ra && b == rb,
                    "{isa:?} {mode:?} start {start}: step 2 differs"
                );
                let got = pass3_max_with(isa, mode, &ra, &rb);
                assert_eq!(
                    (got.value.to_bits(), got.index),
                    (want.value.to_bits(), want.index),
                    "{isa:?} {mode:?} start {start}: pass 3 differs"
                );
            }
        }
    }

    /// Pass 3 against a brute-force scan of every output (first index of the maximum),
    /// including exact ties spread over several blocks and rows.
    #[test]
    fn pass3_finds_the_first_maximum() {
        let tws = &plan().tw;
        let brute = |a: &[Complex64], b: &[Complex64], phys: bool| {
            let mut best = Best::NONE;
            for q in 0..M {
                let ya = pass3_block::<f64>(tws, a, q % 8, q / 8);
                let yb = pass3_block::<f64>(tws, b, q % 8, q / 8);
                for p in 0..8 {
                    let (vr, vi) = if phys {
                        values::<f64, true>(ya[p], yb[p])
                    } else {
                        values::<f64, false>(ya[p], yb[p])
                    };
                    let j = 2 * (q + M * p);
                    for (v, j) in [(vr, j), (vi, j + 1)] {
                        if v > best.value {
                            best = Best { value: v, index: j };
                        }
                    }
                }
            }
            best
        };
        // Random rows.
        let mut a = noise(BUF_LEN, 0.31);
        let b = noise(BUF_LEN, 0.72);
        for (mode, phys) in [(Mode::Seed, false), (Mode::Physical, true)] {
            let want = brute(&a, &b, phys);
            for isa in available() {
                let got = pass3_max_with(isa, mode, &a, &b);
                assert_eq!((got.value, got.index), (want.value, want.index), "{isa:?}");
            }
        }
        // A unit spike in row 0 at column q makes all eight outputs z_{q+Mp} exactly 1: with
        // spikes at q = 4100, 37 and 8000 the maximum 1 is tied 24 times (three blocks, eight
        // rows) and its first index is j = 2·37.
        let z = Complex64::new(0.0, 0.0);
        a.iter_mut().for_each(|x| *x = z);
        // F_r(q) lives in sub-row 8r + q mod 8, column q / 8.
        let at = |r: usize, q: usize| (8 * r + q % 8) * SUB_STRIDE + q / 8;
        for q in [4100, 37, 8000] {
            a[at(0, q)] = Complex64::new(1.0, 0.0);
        }
        let zeros = vec![z; BUF_LEN];
        for isa in available() {
            let got = pass3_max_with(isa, Mode::Seed, &a, &zeros);
            assert_eq!((got.value, got.index), (1.0, 74), "{isa:?}");
            // Physical (b = 0): |z|² = 1 at the even samples of the spike outputs.
            let got = pass3_max_with(isa, Mode::Physical, &a, &zeros);
            assert_eq!((got.value, got.index), (1.0, 74), "{isa:?}");
        }
        // A spike of i: only the imaginary parts (odd samples) reach the maximum.
        a[at(0, 37)] = z;
        a[at(0, 4100)] = Complex64::new(0.0, 1.0);
        a[at(0, 8000)] = z;
        for isa in available() {
            let got = pass3_max_with(isa, Mode::Seed, &a, &zeros);
            assert_eq!((got.value, got.index), (1.0, 2 * 4100 + 1), "{isa:?}");
        }
        // All NaN: no maximum, index 0 (as the previous scan).
        a.iter_mut()
            .for_each(|x| *x = Complex64::new(f64::NAN, f64::NAN));
        let got = pass3_max_with(isa(), Mode::Seed, &a, &zeros);
        assert!(got.value == f64::NEG_INFINITY && got.index == 0);
    }

    #[test]
    fn fold_keeps_the_first_index_in_any_order() {
        let vals = [
            (3.0, 40),
            (5.0, 90),
            (f64::NAN, 1),
            (5.0, 12),
            (5.0, 70),
            (-1.0, 0),
        ];
        for rot in 0..vals.len() {
            let mut best = Best::NONE;
            for i in 0..vals.len() {
                let (v, j) = vals[(i + rot) % vals.len()];
                best.fold(v, j);
            }
            assert_eq!((best.value, best.index), (5.0, 12));
        }
    }

    #[test]
    fn slots_cover_every_bin_once() {
        let mut seen = vec![false; BUF_LEN];
        for k in 0..H {
            let i = slot(k);
            assert!(!seen[i] && i % SUB_STRIDE < SUB);
            seen[i] = true;
        }
    }
}
