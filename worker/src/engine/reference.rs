//! The previous filter, kept as a test-only reference: multiply, then `realfft`'s c2r of length
//! [`N`] (pre-processing pass + `rustfft` complex inverse FFT of length `N/2`), then a separate
//! max scan. [`super::fused`] must agree with it to ~1e-15 relative (tested at 1e-12) with
//! identical argmax lags (`super::filter`'s tests).

use super::filter::lag_seconds;
use super::grid::{DF, K0, N, NB, NF};
use chirpfarm_core::{SnrConvention, TemplateResult};
use num_complex::Complex64;
use realfft::{ComplexToReal, RealFftPlanner};
use std::sync::{Arc, OnceLock};

/// The process-wide inverse real FFT plan of length [`N`] (built on first use).
pub fn c2r_plan() -> &'static Arc<dyn ComplexToReal<f64>> {
    static PLAN: OnceLock<Arc<dyn ComplexToReal<f64>>> = OnceLock::new();
    PLAN.get_or_init(|| RealFftPlanner::<f64>::new().plan_fft_inverse(N))
}

/// Defines `fn $name(args) -> ret` that runs the `#[inline(always)]` body `$imp` compiled for
/// AVX-512 or AVX2 when [`super::dispatch`] chose that level (bit-identical results: same IEEE
/// operations, wider registers; Rust never contracts into FMA), else for the baseline target.
macro_rules! simd_dispatch {
    ($(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $imp:ident;) => {
        $(#[$m])*
        fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) -> $ret {
                    $imp($($arg),*)
                }
                #[target_feature(enable = "avx512f,avx2")]
                unsafe fn avx512($($arg: $ty),*) -> $ret {
                    $imp($($arg),*)
                }
                match super::dispatch::isa() {
                    // SAFETY: the CPU supports AVX-512F and AVX2 (the level's definition).
                    super::dispatch::Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: the CPU supports AVX2 (the level's definition).
                    super::dispatch::Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    super::dispatch::Isa::Baseline => {}
                }
            }
            $imp($($arg),*)
        }
    };
}

/// Independent maxima kept by the scan (one AVX2 register pair).
const LANES: usize = 8;
/// Elements whose maximum is checked against the running best at once.
const CHUNK: usize = 64;

/// The largest of 8 lane maxima.
#[inline(always)]
fn max8(m: &[f64; LANES]) -> f64 {
    ((m[0].max(m[1])).max(m[2].max(m[3]))).max((m[4].max(m[5])).max(m[6].max(m[7])))
}

/// First index of the maximum of `v` (`v.len()` a multiple of 64): a vectorisable per-chunk max,
/// then a search inside the few chunks that raise it. NaNs are ignored; all-NaN input gives
/// `(−∞, 0)`.
#[inline(always)]
fn argmax_first_impl(v: &[f64]) -> (f64, usize) {
    debug_assert_eq!(v.len() % CHUNK, 0);
    let mut best = f64::NEG_INFINITY;
    let mut idx = 0;
    for (c, chunk) in v.chunks_exact(CHUNK).enumerate() {
        let mut m = [f64::NEG_INFINITY; LANES];
        for x in chunk.chunks_exact(LANES) {
            for (mj, &xj) in m.iter_mut().zip(x) {
                *mj = if xj > *mj { xj } else { *mj };
            }
        }
        let cm = max8(&m);
        if cm > best {
            best = cm;
            idx = c * CHUNK + chunk.iter().position(|&x| x == cm).unwrap_or(0);
        }
    }
    (best, idx)
}

/// First index of the maximum of `a_j² + b_j²` (same scheme as [`argmax_first_impl`]).
#[inline(always)]
fn argmax_first_sq_impl(a: &[f64], b: &[f64]) -> (f64, usize) {
    debug_assert_eq!(a.len(), b.len());
    debug_assert_eq!(a.len() % CHUNK, 0);
    let mut best = f64::NEG_INFINITY;
    let mut idx = 0;
    for (c, (ca, cb)) in a.chunks_exact(CHUNK).zip(b.chunks_exact(CHUNK)).enumerate() {
        let mut m = [f64::NEG_INFINITY; LANES];
        for (xa, xb) in ca.chunks_exact(LANES).zip(cb.chunks_exact(LANES)) {
            for ((mj, &p), &q) in m.iter_mut().zip(xa).zip(xb) {
                let v = p * p + q * q;
                *mj = if v > *mj { v } else { *mj };
            }
        }
        let cm = max8(&m);
        if cm > best {
            best = cm;
            idx = c * CHUNK
                + ca.iter()
                    .zip(cb)
                    .position(|(&p, &q)| p * p + q * q == cm)
                    .unwrap_or(0);
        }
    }
    (best, idx)
}

/// `out_k = conj(s_k)·t_k` with numpy's complex product (bit-identical to it).
#[inline(always)]
fn mul_conj_impl(out: &mut [Complex64], s: &[Complex64], t: &[Complex64]) {
    for ((x, a), b) in out.iter_mut().zip(s).zip(t) {
        *x = Complex64::new(a.re * b.re + a.im * b.im, a.re * b.im - a.im * b.re);
    }
}

/// `x1_k = conj(t_k)·s_k` and `x2_k = −i·x1_k`, for the physical convention's two transforms.
#[inline(always)]
fn mul_conj_pair_impl(
    x1: &mut [Complex64],
    x2: &mut [Complex64],
    s: &[Complex64],
    t: &[Complex64],
) {
    for (((y1, y2), a), b) in x1.iter_mut().zip(x2.iter_mut()).zip(s).zip(t) {
        let re = b.re * a.re + b.im * a.im;
        let im = b.re * a.im - b.im * a.re;
        *y1 = Complex64::new(re, im);
        *y2 = Complex64::new(im, -re);
    }
}

simd_dispatch! {
    /// See [`argmax_first_impl`].
    fn argmax_first(v: &[f64]) -> (f64, usize) = argmax_first_impl;
}
simd_dispatch! {
    /// See [`argmax_first_sq_impl`].
    fn argmax_first_sq(a: &[f64], b: &[f64]) -> (f64, usize) = argmax_first_sq_impl;
}
simd_dispatch! {
    /// See [`mul_conj_impl`].
    fn mul_conj(out: &mut [Complex64], s: &[Complex64], t: &[Complex64]) -> () = mul_conj_impl;
}
simd_dispatch! {
    /// See [`mul_conj_pair_impl`].
    fn mul_conj_pair(x1: &mut [Complex64], x2: &mut [Complex64], s: &[Complex64], t: &[Complex64]) -> () = mul_conj_pair_impl;
}

/// One thread's buffers: c2r input(s), output(s) and FFT scratch (≈ 2.5 MB for the seed
/// convention, twice that once the physical convention has been used).
pub struct RefScratch {
    /// c2r input, `NF` bins (destroyed by each transform).
    input: Vec<Complex64>,
    /// c2r output, `N` samples.
    out: Vec<f64>,
    /// Second input (physical convention: `−i·X`); empty until first needed.
    input2: Vec<Complex64>,
    /// Second output (physical convention: `Im z`); empty until first needed.
    out2: Vec<f64>,
    /// The FFT's own scratch.
    fft: Vec<Complex64>,
}

impl Default for RefScratch {
    fn default() -> Self {
        RefScratch::new()
    }
}

impl RefScratch {
    /// Allocates the buffers of the seed convention (the physical ones come on first use).
    pub fn new() -> RefScratch {
        let plan = c2r_plan();
        RefScratch {
            input: plan.make_input_vec(),
            out: plan.make_output_vec(),
            input2: Vec::new(),
            out2: Vec::new(),
            fft: plan.make_scratch_vec(),
        }
    }

    /// One unnormalised c2r transform; `inp` is destroyed.
    fn c2r(
        plan: &dyn ComplexToReal<f64>,
        inp: &mut [Complex64],
        out: &mut [f64],
        fft: &mut [Complex64],
    ) {
        // DC and Nyquist imaginary parts are zero by construction, so this cannot fail.
        plan.process_with_scratch(inp, out, fft)
            .expect("c2r input must have real DC and Nyquist bins");
    }

    /// Seed convention on arrays that start at bin `start` and run to `NF − 1`
    /// (`s.len() == t.len() == NF − start`); bins below `start` are zero.
    pub fn seed(&mut self, s: &[Complex64], t: &[Complex64], start: usize) -> TemplateResult {
        assert!(
            s.len() == NF - start && t.len() == NF - start,
            "arrays must end at bin NF-1"
        );
        let inp = &mut self.input[..];
        inp[..start].fill(Complex64::new(0.0, 0.0));
        mul_conj(&mut inp[start..], s, t);
        inp[0].im = 0.0;
        inp[NF - 1].im = 0.0;
        Self::c2r(&**c2r_plan(), inp, &mut self.out, &mut self.fft);
        let (best, j) = argmax_first(&self.out);
        // (4/Δf)/N = 2^−9: an exact scaling, so this equals numpy's (4/df)·(c2r/N) bit for bit.
        let snr = if best == f64::NEG_INFINITY {
            f64::NAN
        } else {
            best * (4.0 / DF) / N as f64
        };
        TemplateResult {
            snr,
            lag_seconds: lag_seconds((N - j) % N),
        }
    }

    /// Physical convention on band arrays (bins `K0..NF`, length `NB`); `inv_sigma` is
    /// `1/sqrt(4Δf·Σ_{k=K0}^{NF−2}|t_k|²)`.
    pub fn physical(&mut self, s: &[Complex64], t: &[Complex64], inv_sigma: f64) -> TemplateResult {
        assert!(
            s.len() == NB && t.len() == NB,
            "band arrays must have NB bins"
        );
        let plan = c2r_plan();
        if self.input2.is_empty() {
            self.input2 = plan.make_input_vec();
            self.out2 = plan.make_output_vec();
        }
        let zero = Complex64::new(0.0, 0.0);
        let (in1, in2) = (&mut self.input[..], &mut self.input2[..]);
        in1[..K0].fill(zero);
        in2[..K0].fill(zero);
        mul_conj_pair(&mut in1[K0..], &mut in2[K0..], s, t);
        in1[NF - 1] = zero;
        in2[NF - 1] = zero;
        Self::c2r(&**plan, in1, &mut self.out, &mut self.fft);
        Self::c2r(&**plan, in2, &mut self.out2, &mut self.fft);
        let (best, j) = argmax_first_sq(&self.out, &self.out2);
        let snr = if best == f64::NEG_INFINITY {
            f64::NAN
        } else {
            best.sqrt() * (2.0 * DF) * inv_sigma
        };
        TemplateResult {
            snr,
            lag_seconds: lag_seconds(j),
        }
    }

    /// Either convention on full `NF`-bin arrays (the template need not be normalised in the
    /// physical convention; its σ is computed here).
    pub fn run_full(
        &mut self,
        signal: &[Complex64],
        tmpl: &[Complex64],
        conv: SnrConvention,
    ) -> TemplateResult {
        assert!(
            signal.len() == NF && tmpl.len() == NF,
            "arrays must have NF = {NF} bins"
        );
        match conv {
            SnrConvention::Seed => self.seed(signal, tmpl, 0),
            SnrConvention::Physical => {
                let band = &tmpl[K0..];
                let sigma_sq = 4.0 * DF * super::template::sum_sq_with_offset(&band[..NB - 1], K0);
                self.physical(&signal[K0..], band, 1.0 / sigma_sq.sqrt())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_ties() {
        let mut v = vec![0.0; 256];
        v[70] = 5.0;
        v[200] = 5.0;
        v[3] = 4.0;
        assert_eq!(argmax_first(&v), (5.0, 70));
        v[10] = f64::NAN;
        assert_eq!(argmax_first(&v), (5.0, 70));
        let w: Vec<f64> = v.iter().map(|x| -x).collect();
        let z = vec![0.0; 256];
        assert_eq!(argmax_first_sq(&w, &z), (25.0, 70));
        assert_eq!(argmax_first_sq(&z, &v), (25.0, 70));
        assert_eq!(argmax_first(&[f64::NAN; 64]), (f64::NEG_INFINITY, 0));
    }
}
