//! The filter's blocked inverse FFT: `z_j = Σ_{k<n/2} X_k e^{+2πijk/n}` with `X_k =
//! conj(h_k)·w_k` (zero below `k_low`), for `n` a multiple of 64, in cache-sized pieces.
//!
//! `rustfft`'s transforms of 2^16 points and more run out of L2 (~2 MiB per core here) and
//! cost ~2× per point what its 2^14-point ones cost in cache. So the transform is split by
//! decimation in frequency into transforms of at most [`MAX_LEN`] points, the way the fused
//! seed-grid c2r (`engine::fused`) is, and the multiply is fused into the first stage:
//!
//! 1. **Pass 1** ([`fft_passes::pass1_impl`]), radix 8 with `k = c + M·r`, `M = n/8`:
//!    `z_{8q+p} = Σ_c e^{2πiqc/M}·G_p(c)`, `G_p(c) = ω_n^{pc}·Σ_{r<4} X_{c+Mr}e^{2πipr/8}`
//!    (`ω_n = e^{2πi/n}`; `r < 4` because the upper half of `X` is zero). One sequential read
//!    of four slices of `h` and `w`, forming `X` on the fly; eight rows written.
//! 2. **Row stage** ([`fft_passes::row_stage_impl`]), per row while it sits in L2, radix
//!    `R2 ∈ {1, 2, 4, 8}` (1: none) with `c = d + L·t`, `L = M/R2`: sub-row `s` gets
//!    `H_s(d) = ω_M^{sd}·Σ_t G(d + Lt)e^{2πist/R2}`, then `rustfft`'s `L`-point inverse
//!    transform of each sub-row, in place. Sub-row `(p, s)` then holds `z_{p + 8s + 8R2·u}` at
//!    column `u`.
//!
//! Nothing transposes the result back: with `R = 8·R2` sub-rows, sample `j` sits in sub-row
//! `(j mod 8)·R2 + (j mod R)/8`, column `j / R` ([`Blocked::offsets`] gives each residue's
//! sub-row start), and the scan reads it there through
//! [`SplitSeries`](super::filter::SplitSeries): `R` sequential streams, which the hardware
//! prefetchers follow. Sub-rows are padded ([`PAD`]) so that those streams, and pass 1's eight
//! output rows, do not share cache sets.
//!
//! Results differ from one `n`-point `rustfft` transform by rounding only (~1e-15 relative;
//! tested at 1e-12). The passes are compiled per instruction set (`engine::dispatch`) and give
//! bit-identical results on each (tested).

use super::fft_passes::{self, Expi, Rows, W};
use crate::engine::dispatch::{isa, Isa};
use num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// Longest `rustfft` transform the plan runs: 2^14 points (256 KiB) are the largest that
/// `rustfft` 6.4 still runs at its in-cache speed on this machine's 2 MiB L2.
pub(crate) const MAX_LEN: usize = 1 << 14;

/// Padding after each sub-row, in complex numbers (128 bytes): sub-rows of a power-of-two
/// length would otherwise all map to the same cache sets.
const PAD: usize = 8;

/// The blocked transform's plan for one `n`: shared by all threads (read-only).
pub(crate) struct Blocked {
    /// Segment length.
    n: usize,
    /// Row geometry.
    rows: Rows,
    /// `rustfft`'s inverse transform of length `rows.len`.
    fft: Arc<dyn Fft<f64>>,
    /// `ω_n^c`, `c < n/8` (pass 1).
    tw1: Expi,
    /// `ω_M^d = ω_n^{8d}`, `d < L` (row stage).
    tw2: Expi,
    /// For each residue `j mod R`, where its sub-row starts in the buffer.
    offsets: Box<[usize]>,
}

impl Blocked {
    /// The plan for length `n`, or `None` when `n` is not a multiple of `8·W = 64`.
    pub(crate) fn new(n: usize) -> Option<Blocked> {
        Self::with_max_len(n, MAX_LEN)
    }

    /// [`Blocked::new`] with `rustfft` transforms of at most `max_len` points where the row
    /// radix (at most 8) allows.
    pub(crate) fn with_max_len(n: usize, max_len: usize) -> Option<Blocked> {
        if !n.is_multiple_of(8 * W) || n == 0 {
            return None;
        }
        let m = n / 8;
        let mut r2 = 1;
        while m / r2 > max_len && r2 < 8 && (m / r2).is_multiple_of(2 * W) {
            r2 *= 2;
        }
        let len = m / r2;
        let rows = Rows {
            r2,
            len,
            stride: len + PAD,
        };
        let offsets = (0..8 * r2)
            .map(|res| ((res % 8) * r2 + res / 8) * rows.stride)
            .collect();
        Some(Blocked {
            n,
            rows,
            fft: FftPlanner::new().plan_fft_inverse(len),
            tw1: Expi::new(m, n),
            tw2: Expi::new(len, m),
            offsets,
        })
    }

    /// Complex numbers the buffer must hold.
    pub(crate) fn buf_len(&self) -> usize {
        8 * self.rows.r2 * self.rows.stride
    }

    /// Scratch `rustfft` needs.
    pub(crate) fn scratch_len(&self) -> usize {
        self.fft.get_inplace_scratch_len()
    }

    /// Sub-row start of each residue `j mod R` (`R = offsets().len()`, a power of two); sample
    /// `j` is at `offsets()[j mod R] + j / R`.
    pub(crate) fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Transforms `X = conj(h)·w` (`h`, `w`: bins `lo..n/2`) into `buf` (layout above).
    pub(crate) fn transform(
        &self,
        h: &[Complex64],
        w: &[Complex64],
        lo: usize,
        buf: &mut [Complex64],
        scratch: &mut [Complex64],
    ) {
        self.transform_with(isa(), h, w, lo, buf, scratch)
    }

    /// [`Blocked::transform`] with the passes compiled for `isa`.
    pub(crate) fn transform_with(
        &self,
        isa: Isa,
        h: &[Complex64],
        w: &[Complex64],
        lo: usize,
        buf: &mut [Complex64],
        scratch: &mut [Complex64],
    ) {
        assert!(lo < self.n / 2 && h.len() == self.n / 2 - lo && w.len() == h.len());
        assert!(buf.len() >= self.buf_len());
        let rows = self.rows;
        pass1(isa, h, w, lo, &self.tw1, rows, buf);
        for p in 0..8 {
            match rows.r2 {
                1 => {}
                2 => row_stage::<2>(isa, &self.tw2, rows, p, buf),
                4 => row_stage::<4>(isa, &self.tw2, rows, p, buf),
                8 => row_stage::<8>(isa, &self.tw2, rows, p, buf),
                r => unreachable!("row radix {r}"),
            }
            for s in 0..rows.r2 {
                let at = (p * rows.r2 + s) * rows.stride;
                self.fft
                    .process_with_scratch(&mut buf[at..at + rows.len], scratch);
            }
        }
    }
}

/// Runs `$body` (an expression over the listed arguments) compiled for `isa` (asserted
/// available): AVX-512F and AVX2 through `#[target_feature]` wrappers, else as is.
macro_rules! with_isa {
    ($isa:expr, ($($arg:ident: $ty:ty),*), $body:expr) => {{
        let isa: Isa = $isa;
        assert!(isa.available(), "{isa:?} is not available on this CPU");
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2")]
            fn avx512($($arg: $ty),*) {
                $body
            }
            #[target_feature(enable = "avx2")]
            fn avx2($($arg: $ty),*) {
                $body
            }
            match isa {
                // SAFETY: the CPU supports AVX-512F and AVX2 (asserted above).
                Isa::Avx512 => return unsafe { avx512($($arg),*) },
                // SAFETY: the CPU supports AVX2 (asserted above).
                Isa::Avx2 => return unsafe { avx2($($arg),*) },
                Isa::Baseline => {}
            }
        }
        $body
    }};
}

/// Pass 1 compiled for `isa`.
fn pass1(
    isa: Isa,
    h: &[Complex64],
    w: &[Complex64],
    lo: usize,
    tw: &Expi,
    rows: Rows,
    out: &mut [Complex64],
) {
    with_isa!(
        isa,
        (h: &[Complex64], w: &[Complex64], lo: usize, tw: &Expi, rows: Rows, out: &mut [Complex64]),
        fft_passes::pass1_impl(h, w, lo, tw, rows, out)
    )
}

/// The row stage of radix `R` on row `p`, compiled for `isa`.
fn row_stage<const R: usize>(isa: Isa, tw: &Expi, rows: Rows, p: usize, buf: &mut [Complex64]) {
    // The wrappers cannot see `R`; instantiate per radix inside them instead (inlined, so
    // that it is compiled with the wrapper's features).
    #[inline(always)]
    fn go<const R: usize>(tw: &Expi, rows: Rows, p: usize, buf: &mut [Complex64]) {
        fft_passes::row_stage_impl::<R>(tw, rows, p, buf)
    }
    match R {
        2 => {
            with_isa!(isa, (tw: &Expi, rows: Rows, p: usize, buf: &mut [Complex64]), go::<2>(tw, rows, p, buf))
        }
        4 => {
            with_isa!(isa, (tw: &Expi, rows: Rows, p: usize, buf: &mut [Complex64]), go::<4>(tw, rows, p, buf))
        }
        _ => {
            with_isa!(isa, (tw: &Expi, rows: Rows, p: usize, buf: &mut [Complex64]), go::<8>(tw, rows, p, buf))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Random bins `lo..n/2` as (h, w) with `conj(h)·w = x` exactly (`w = 1`), and `x` on the
    /// full length-`n` grid (zero outside the band).
    fn random_band(
        n: usize,
        lo: usize,
        seed: u64,
    ) -> (Vec<Complex64>, Vec<Complex64>, Vec<Complex64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = vec![Complex64::new(0.0, 0.0); n];
        for v in &mut x[lo..n / 2] {
            *v = Complex64::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0));
        }
        let h = x[lo..n / 2].iter().map(|v| v.conj()).collect();
        let w = vec![Complex64::new(1.0, 0.0); n / 2 - lo];
        (h, w, x)
    }

    fn run(
        plan: &Blocked,
        isa: Isa,
        h: &[Complex64],
        w: &[Complex64],
        lo: usize,
    ) -> Vec<Complex64> {
        let zero = Complex64::new(0.0, 0.0);
        let mut buf = vec![zero; plan.buf_len()];
        let mut sc = vec![zero; plan.scratch_len()];
        plan.transform_with(isa, h, w, lo, &mut buf, &mut sc);
        buf
    }

    /// Sample `j` of a transformed buffer.
    fn at(plan: &Blocked, buf: &[Complex64], j: usize) -> Complex64 {
        let r = plan.offsets().len();
        buf[plan.offsets()[j % r] + j / r]
    }

    /// Equals one `n`-point `rustfft` inverse transform to 1e-12 of the largest value, for
    /// every row radix (2^12, 2^13, 2^17: none; 2^19: 4; 2^22: 8) and band starts inside a
    /// lane block, at a block edge and beyond the first row.
    #[test]
    fn equals_one_full_length_transform() {
        for (n, lo) in [
            (1 << 12, 13),
            (1 << 13, 64),
            (1 << 17, 3840),
            (1 << 19, 7683),
            (1 << 19, (1 << 16) + 5),
            (1 << 22, 61440),
        ] {
            let plan = Blocked::new(n).expect("a multiple of 64");
            let (h, w, mut x) = random_band(n, lo, n as u64 + lo as u64);
            let got = run(&plan, isa(), &h, &w, lo);
            FftPlanner::new().plan_fft_inverse(n).process(&mut x);
            let peak = x.iter().map(|v| v.norm()).fold(0.0, f64::max);
            let worst = (0..n)
                .map(|j| (at(&plan, &got, j) - x[j]).norm())
                .fold(0.0, f64::max);
            eprintln!("n {n} lo {lo}: worst/peak {:.2e}", worst / peak);
            assert!(worst <= 1e-12 * peak, "n {n} lo {lo}: {:e}", worst / peak);
        }
    }

    /// Every instruction set gives the same bits.
    #[test]
    fn instruction_sets_are_bit_identical() {
        for (n, lo) in [(1 << 12, 13), (1 << 16, 1000), (1 << 19, 7683)] {
            let plan = Blocked::new(n).expect("a multiple of 64");
            let (h, w, _) = random_band(n, lo, 7);
            // Not unit weights: exercise the product too.
            let w: Vec<Complex64> = w
                .iter()
                .enumerate()
                .map(|(i, _)| Complex64::new((i as f64).sin(), (0.3 * i as f64).cos()))
                .collect();
            let want = run(&plan, Isa::Baseline, &h, &w, lo);
            for level in Isa::ALL.into_iter().filter(|l| l.available()) {
                let got = run(&plan, level, &h, &w, lo);
                let same = (0..n).all(|j| {
                    let (a, b) = (at(&plan, &got, j), at(&plan, &want, j));
                    a.re.to_bits() == b.re.to_bits() && a.im.to_bits() == b.im.to_bits()
                });
                assert!(same, "{level:?} differs from the baseline at n {n}");
            }
        }
    }

    #[test]
    fn layout_covers_every_sample_once() {
        for n in [64, 1 << 12, 1 << 19, 1 << 22] {
            let plan = Blocked::new(n).unwrap();
            let r = plan.offsets().len();
            assert!(r.is_power_of_two());
            let mut seen = vec![false; plan.buf_len()];
            for j in 0..n {
                let i = plan.offsets()[j % r] + j / r;
                assert!(!seen[i]);
                seen[i] = true;
            }
        }
        assert!(Blocked::new(1000).is_none());
    }
}
