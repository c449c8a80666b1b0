//! The two hot loops of the blocked inverse FFT ([`super::fft`]): pass 1 (multiply, first
//! radix-8 stage and its twiddles, scattered into rows) and the row stage (a radix-2/4/8
//! stage and its twiddles, in place on one row).
//!
//! Written once over eight-lane struct-of-arrays blocks ([`Cv`]: plain `[f64; 8]` arrays and
//! lane loops) that LLVM vectorises for whatever instruction set the caller is compiled for;
//! `fft.rs` instantiates them inside `#[target_feature]` functions. Every lane performs the
//! same IEEE operations in the same order whatever the vector width (Rust never contracts a
//! multiply and an add into an FMA), so all instantiations give bit-identical results. The
//! algorithm and the buffer layout are described in `fft.rs`.

use num_complex::Complex64;
use std::f64::consts::FRAC_1_SQRT_2;

/// Lanes per block: one AVX-512 vector, two AVX2 ones.
pub(super) const W: usize = 8;

/// Entries of the low half of a two-level twiddle table ([`Expi`]); a multiple of [`W`], so
/// that a lane block never straddles two high entries.
pub(super) const LO: usize = 256;

/// `W` complex numbers, real and imaginary parts apart, so complex arithmetic is lane-wise.
#[derive(Clone, Copy)]
pub(super) struct Cv {
    /// Real parts.
    re: [f64; W],
    /// Imaginary parts.
    im: [f64; W],
}

/// `Cv { re: [e(i); W], im: [f(i); W] }` for lanes `i`, as plain loops (which LLVM
/// vectorises reliably; `array::from_fn` and `array::map` were left as out-of-line calls).
macro_rules! lanes {
    (|$i:ident| $re:expr, $im:expr) => {{
        let mut re = [0.0; W];
        let mut im = [0.0; W];
        for $i in 0..W {
            re[$i] = $re;
            im[$i] = $im;
        }
        Cv { re, im }
    }};
}

impl Cv {
    /// Zero in every lane.
    const ZERO: Cv = Cv {
        re: [0.0; W],
        im: [0.0; W],
    };

    /// `z[0..W]`, de-interleaved.
    #[inline(always)]
    fn load(z: &[Complex64]) -> Cv {
        let z = &z[..W];
        lanes!(|i| z[i].re, z[i].im)
    }

    /// Writes the lanes to `out[0..W]`.
    #[inline(always)]
    fn store(self, out: &mut [Complex64]) {
        for (i, o) in out[..W].iter_mut().enumerate() {
            *o = Complex64::new(self.re[i], self.im[i]);
        }
    }

    /// `self + o`.
    #[inline(always)]
    fn add(self, o: Cv) -> Cv {
        lanes!(|i| self.re[i] + o.re[i], self.im[i] + o.im[i])
    }

    /// `self − o`.
    #[inline(always)]
    fn sub(self, o: Cv) -> Cv {
        lanes!(|i| self.re[i] - o.re[i], self.im[i] - o.im[i])
    }

    /// `self·o`.
    #[inline(always)]
    fn mul(self, o: Cv) -> Cv {
        lanes!(
            |i| self.re[i] * o.re[i] - self.im[i] * o.im[i],
            self.re[i] * o.im[i] + self.im[i] * o.re[i]
        )
    }

    /// `conj(self)·o`, written as the split filter writes `conj(h)·w`.
    #[inline(always)]
    fn conj_mul(self, o: Cv) -> Cv {
        lanes!(
            |i| self.re[i] * o.re[i] + self.im[i] * o.im[i],
            self.re[i] * o.im[i] - self.im[i] * o.re[i]
        )
    }

    /// `i·self` (exact).
    #[inline(always)]
    fn times_i(self) -> Cv {
        lanes!(|i| -self.im[i], self.re[i])
    }

    /// `e^{iπ/4}·self`.
    #[inline(always)]
    fn times_w8(self) -> Cv {
        lanes!(
            |i| (self.re[i] - self.im[i]) * FRAC_1_SQRT_2,
            (self.re[i] + self.im[i]) * FRAC_1_SQRT_2
        )
    }

    /// `e^{3iπ/4}·self`.
    #[inline(always)]
    fn times_w8_3(self) -> Cv {
        lanes!(
            |i| -(self.re[i] + self.im[i]) * FRAC_1_SQRT_2,
            (self.re[i] - self.im[i]) * FRAC_1_SQRT_2
        )
    }
}

/// `e^{2πi·a/b}`, the argument reduced exactly (`a mod b`) and quarter turns exact.
pub(super) fn expi(a: usize, b: usize) -> Complex64 {
    let a = a % b;
    if (4 * a).is_multiple_of(b) {
        return [
            Complex64::new(1.0, 0.0),
            Complex64::new(0.0, 1.0),
            Complex64::new(-1.0, 0.0),
            Complex64::new(0.0, -1.0),
        ][4 * a / b];
    }
    let (s, c) = (2.0 * std::f64::consts::PI * (a as f64) / b as f64).sin_cos();
    Complex64::new(c, s)
}

/// `e^{2πi·a/b}` for `a < len`, as the product of two small tables,
/// `hi[a / LO]·lo[a mod LO]`: both stay in L1, where a full table would be one more stream of
/// `len` complex numbers through the cache in every pass (the product costs ~1 ulp).
pub(super) struct Expi {
    /// `e^{2πi·LO·h/b}`.
    hi: Box<[Complex64]>,
    /// Real parts of `e^{2πi·l/b}`, `l < LO`.
    lo_re: Box<[f64]>,
    /// Imaginary parts of the same.
    lo_im: Box<[f64]>,
}

impl Expi {
    /// The tables for `a < len` and denominator `b`.
    pub(super) fn new(len: usize, b: usize) -> Expi {
        let lo: Vec<Complex64> = (0..LO).map(|l| expi(l, b)).collect();
        Expi {
            hi: (0..len.div_ceil(LO)).map(|h| expi(h * LO, b)).collect(),
            lo_re: lo.iter().map(|z| z.re).collect(),
            lo_im: lo.iter().map(|z| z.im).collect(),
        }
    }

    /// `e^{2πi·a/b}` for `a = a0..a0+W` (`a0` a multiple of `W`).
    #[inline(always)]
    fn block(&self, a0: usize) -> Cv {
        let h = self.hi[a0 / LO];
        let l = a0 % LO;
        let (re, im) = (&self.lo_re[l..l + W], &self.lo_im[l..l + W]);
        lanes!(|i| h.re * re[i] - h.im * im[i], h.re * im[i] + h.im * re[i])
    }
}

/// `w^0..w^R` for `R ≤ 8`, from `w` by products (`w^1` is `w` itself; entry 0 is unused).
#[inline(always)]
fn powers<const R: usize>(w: Cv) -> [Cv; R] {
    let mut p = [w; R];
    if R > 2 {
        p[2] = w.mul(w);
    }
    if R > 3 {
        p[3] = p[2].mul(w);
    }
    if R > 4 {
        p[4] = p[2].mul(p[2]);
        p[5] = p[4].mul(w);
        p[6] = p[4].mul(p[2]);
        p[7] = p[4].mul(p[3]);
    }
    p
}

/// The four-point inverse DFT `y_m = Σ_r x_r i^{mr}`.
#[inline(always)]
fn dft4(x: [Cv; 4]) -> [Cv; 4] {
    let a0 = x[0].add(x[2]);
    let a1 = x[0].sub(x[2]);
    let b0 = x[1].add(x[3]);
    let b1 = x[1].sub(x[3]).times_i();
    [a0.add(b0), a1.add(b1), a0.sub(b0), a1.sub(b1)]
}

/// The `R`-point inverse DFT `y_s = Σ_t x_t e^{2πist/R}`, `R ∈ {2, 4, 8}`.
#[inline(always)]
fn dft<const R: usize>(x: [Cv; R]) -> [Cv; R] {
    let mut y = x;
    match R {
        2 => {
            y[0] = x[0].add(x[1]);
            y[1] = x[0].sub(x[1]);
        }
        4 => {
            let z = dft4([x[0], x[1], x[2], x[3]]);
            y[..4].copy_from_slice(&z);
        }
        8 => {
            // Radix 2 (decimation in frequency), then two four-point DFTs.
            let e = dft4([
                x[0].add(x[4]),
                x[1].add(x[5]),
                x[2].add(x[6]),
                x[3].add(x[7]),
            ]);
            let o = dft4([
                x[0].sub(x[4]),
                x[1].sub(x[5]).times_w8(),
                x[2].sub(x[6]).times_i(),
                x[3].sub(x[7]).times_w8_3(),
            ]);
            for m in 0..4 {
                y[2 * m] = e[m];
                y[2 * m + 1] = o[m];
            }
        }
        _ => unreachable!("radix {R}"),
    }
    y
}

/// The buffer's row geometry (see `fft.rs`): row `p`'s element `c = t·len + d` sits at
/// `(p·r2 + t)·stride + d`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rows {
    /// Sub-rows per row (the row stage's radix; 1 when there is none).
    pub(super) r2: usize,
    /// Length of a sub-row (the length of the `rustfft` transforms).
    pub(super) len: usize,
    /// Distance between sub-rows (`len` plus padding).
    pub(super) stride: usize,
}

/// `X_k = conj(h_k)·w_k` for `k = k0..k0+W` (`h`, `w` hold bins `lo..`; zero below `lo`).
#[inline(always)]
fn product(h: &[Complex64], w: &[Complex64], lo: usize, k0: usize) -> Cv {
    if k0 >= lo {
        let i = k0 - lo;
        Cv::load(&h[i..]).conj_mul(Cv::load(&w[i..]))
    } else if k0 + W <= lo {
        Cv::ZERO
    } else {
        let mut x = Cv::ZERO;
        for i in lo - k0..W {
            let (a, b) = (h[k0 + i - lo], w[k0 + i - lo]);
            x.re[i] = a.re * b.re + a.im * b.im;
            x.im[i] = a.re * b.im - a.im * b.re;
        }
        x
    }
}

/// Pass 1: row `p` (`p < 8`) receives `G_p(c) = ω_n^{pc}·Σ_{r<4} X_{c+Mr} e^{2πipr/8}` for
/// `c < M = n/8` (`X` is zero from `n/2` on, so only four of the eight inputs exist).
/// `tw` holds `ω_n^c` for `c < M`. `h`, `w`: bins `lo..n/2`.
#[inline(always)]
pub(super) fn pass1_impl(
    h: &[Complex64],
    w: &[Complex64],
    lo: usize,
    tw: &Expi,
    rows: Rows,
    out: &mut [Complex64],
) {
    let m = rows.r2 * rows.len;
    assert!(h.len() == 4 * m - lo && w.len() == h.len());
    assert!(out.len() >= 8 * rows.r2 * rows.stride && rows.len.is_multiple_of(W));
    for t in 0..rows.r2 {
        for d0 in (0..rows.len).step_by(W) {
            let c0 = t * rows.len + d0;
            let x = [
                product(h, w, lo, c0),
                product(h, w, lo, c0 + m),
                product(h, w, lo, c0 + 2 * m),
                product(h, w, lo, c0 + 3 * m),
            ];
            // Even outputs: the four-point DFT of x; odd ones: of x_r·e^{2πir/8}.
            let e = dft4(x);
            let o = dft4([x[0], x[1].times_w8(), x[2].times_i(), x[3].times_w8_3()]);
            let pw = powers::<8>(tw.block(c0));
            for p in 0..8 {
                let g = if p % 2 == 0 { e[p / 2] } else { o[p / 2] };
                let g = if p == 0 { g } else { g.mul(pw[p]) };
                let at = (p * rows.r2 + t) * rows.stride + d0;
                g.store(&mut out[at..]);
            }
        }
    }
}

/// The row stage on row `p`, in place: with `c = d + len·t` (`t < R`), sub-row `s` becomes
/// `H_s(d) = ω_M^{sd}·Σ_t G(d + len·t) e^{2πist/R}`. `tw` holds `ω_M^d` for `d < len`.
#[inline(always)]
pub(super) fn row_stage_impl<const R: usize>(
    tw: &Expi,
    rows: Rows,
    p: usize,
    buf: &mut [Complex64],
) {
    assert_eq!(rows.r2, R);
    assert!(buf.len() >= (p + 1) * R * rows.stride && rows.len.is_multiple_of(W));
    let base = p * R * rows.stride;
    for d0 in (0..rows.len).step_by(W) {
        let mut at = [0; R];
        let mut x = [Cv::ZERO; R];
        for t in 0..R {
            at[t] = base + t * rows.stride + d0;
            x[t] = Cv::load(&buf[at[t]..]);
        }
        let y = dft::<R>(x);
        let pw = powers::<R>(tw.block(d0));
        for s in 0..R {
            let z = if s == 0 { y[0] } else { y[s].mul(pw[s]) };
            z.store(&mut buf[at[s]..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes(f: impl Fn(usize) -> Complex64) -> Cv {
        let z: Vec<Complex64> = (0..W).map(f).collect();
        Cv::load(&z)
    }

    fn lane(x: Cv, i: usize) -> Complex64 {
        Complex64::new(x.re[i], x.im[i])
    }

    #[test]
    fn small_dfts_are_inverse_dfts() {
        fn check<const R: usize>() {
            let x: [Cv; R] = std::array::from_fn(|t| {
                lanes(|i| Complex64::new((t * 7 + i) as f64 * 0.3, (t + 3 * i) as f64 * -0.7))
            });
            let y = dft::<R>(x);
            for (s, ys) in y.iter().enumerate() {
                for i in 0..W {
                    let want: Complex64 = (0..R).map(|t| lane(x[t], i) * expi(s * t, R)).sum();
                    assert!((lane(*ys, i) - want).norm() < 1e-13, "R {R} s {s}");
                }
            }
        }
        check::<2>();
        check::<4>();
        check::<8>();
    }

    #[test]
    fn two_level_twiddles_and_powers() {
        let b = 1 << 19;
        let t = Expi::new(b / 8, b);
        for a0 in [0, 8, 248, 256, 4096 + 72, b / 8 - 8] {
            let pw = powers::<8>(t.block(a0));
            for i in 0..W {
                for (p, z) in pw.iter().enumerate().skip(1) {
                    let want = expi(p * (a0 + i), b);
                    assert!((lane(*z, i) - want).norm() < 4e-15, "a {} p {p}", a0 + i);
                }
            }
        }
    }
}
