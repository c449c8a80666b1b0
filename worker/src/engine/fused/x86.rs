//! AVX2 (4 lanes) and AVX-512F (8 lanes) implementations of the fused passes' `Simd` trait.
//!
//! Separate from `simd.rs` because this is where the module's `unsafe` code is: intrinsics,
//! valid only on CPUs that have them. [`crate::engine::dispatch`] decides whether they may
//! run; `super`'s `isa_dispatch!` only calls them from `#[target_feature]` functions after
//! asking it.
//!
//! Every `unsafe` block below relies on the same two facts: the CPU has the instruction set
//! (the `Simd` contract), and the slice was checked to hold `LANES` doubles / complex numbers
//! (`Complex64` is `#[repr(C)] { re, im }`, so `LANES` complex numbers are `2·LANES`
//! contiguous doubles).

use super::simd::Simd;
use num_complex::Complex64;
use std::arch::x86_64::*;

/// Four doubles (AVX2): the vector type of [`crate::engine::dispatch::Isa::Avx2`].
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
        unsafe { _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(self.0, _mm256_set1_pd(x))) != 0 }
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

/// Eight doubles (AVX-512F): the vector type of [`crate::engine::dispatch::Isa::Avx512`]
/// (twice [`V4`]'s lanes per instruction, used where the CPU has it).
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
