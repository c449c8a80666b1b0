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
//! abstraction (the private `Simd` trait) and compiled for AVX-512 (8 lanes), AVX2 (4 lanes)
//! and scalar code, the variant chosen at run time by `engine::dispatch`; every variant
//! performs the same IEEE operations per element (no FMA), so all give bit-identical results
//! (tested).
//!
//! The module is split by concern, so that each file can be read (and its `unsafe` audited) on
//! its own:
//!
//! | file | concern |
//! |---|---|
//! | `mod.rs` | buffer layout, [`Mode`], [`Best`], the public entry points and the per-ISA instantiation |
//! | `plan.rs` | [`Plan`]: the row FFT and the twiddle tables, built once per process |
//! | `simd.rs` | the `Simd` trait, its scalar implementation, complex vectors and the 8-point DFT |
//! | `x86.rs` | the AVX2 and AVX-512F implementations of `Simd` (all of the module's `unsafe`) |
//! | `passes.rs` | the three passes, generic over `Simd` |

mod passes;
mod plan;
mod simd;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use plan::{plan, Plan};

use super::dispatch::{isa, Isa};
use super::grid::{N, NF};
use num_complex::Complex64;
use passes::{pass1_impl, pass2_impl, pass3_impl};

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

/// Which product pass 1 forms, and how many transforms it feeds: the two SNR conventions need
/// different products and the physical one needs a second transform, and passing the choice
/// down as a const generic keeps both conventions in one copy of each pass.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// `X = conj(s)·t`, one transform (the seed convention).
    Seed,
    /// `X = conj(t)·s`, two transforms: of `X` and of `−i·X` (the physical convention).
    Physical,
}

/// The running maximum of a scan: value and first output index on ties. Pass 3 returns this
/// instead of writing the `N` outputs, which is what makes the fused pipeline cheaper than a
/// c2r followed by a separate scan.
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

/// Defines `fn $name<const PHYS: bool>(isa, args) -> ret` running `$imp::<V, PHYS>` compiled
/// for the given [`Isa`] (asserted available). The level comes from `engine::dispatch`; the
/// `#[target_feature]` wrappers are here because they instantiate this module's passes with
/// this module's vector types.
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
