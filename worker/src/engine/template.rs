//! The seed's `template`, `normsq` and `normtemplate`, and delayed signals, reproducing numpy.
//!
//! # How the phase is computed
//!
//! numpy evaluates `Ψ_k = (3/128)·pow(fl(p·f_k), −5/3)` with `p = fl(fl(π·Mc)·MSUN)`. Calling
//! `powf` per bin costs several ms per template, so instead
//!
//! ```text
//! Ψ_k = C·G_k·(1 + (5/3)·ε_k)        C   = (3/128)·p^E53          (double-double, per template)
//!                                    G_k = f_k^E53                 (double-double table)
//!                                    ε_k = (p·f_k − fl(p·f_k))/fl(p·f_k)   (exact, Dekker)
//! ```
//!
//! `C·G_k` is the exact `(3/128)·(p·f_k)^E53`; the `ε_k` term reproduces the rounding numpy
//! commits when it forms `p·f_k` before the power (worth up to 0.8 ulp of Ψ). The product is
//! formed with an error-free `two_prod` and rounded once, so `Ψ_k` is within ~0.5 ulp of
//! numpy's ideal value; numpy's own `pow` adds ≤ 1 ulp. At 40 Hz `Ψ ≈ 4e3·(1.2/Mc)^(5/3)` rad
//! (ulp 4.5e-13 for Mc ≳ 1.13, 9.1e-13 below), which is the parity floor for template arrays.
//! The amplitude uses numpy's exact operands (`amp0·f^(−7/6)`), the trig is [`super::trig`].
//!
//! Chirp masses whose phases leave the fast range (Mc ≲ 0.05, or absurd values) fall back to
//! the literal numpy formula with `powf`/`sin_cos`.

#[cfg(target_arch = "x86_64")]
use super::dispatch::{isa, Isa};
use super::grid::{freq, split, tables, Dd, DF, E53, E76, FMIN, K0, MSUN, NB, NF};
use super::slab::{Slab, TemplateBuf};
use super::trig::{sincos, FAST_SINCOS_MAX};
use chirpfarm_core::SignalSpec;
use num_complex::Complex64;
use std::f64::consts::PI;
use std::sync::Arc;

/// Per-template scalars of the fast generator.
#[derive(Debug, Clone, Copy)]
struct Params {
    /// numpy's `π·Mc·MSUN` (same rounding order).
    p: f64,
    /// Veltkamp split of `p`: high part.
    p_hi: f64,
    /// Veltkamp split of `p`: low part.
    p_lo: f64,
    /// `(3/128)·p^E53` in double-double.
    c: Dd,
    /// Veltkamp split of `c.hi`: high part.
    c_hh: f64,
    /// Veltkamp split of `c.hi`: low part.
    c_hl: f64,
    /// The seed's amplitude prefactor for this Mc.
    amp0: f64,
}

/// `sqrt(5/24)·π^(−2/3)·(Mc·MSUN)^(5/6)` in numpy's order of operations.
#[inline]
fn amp0(mc: f64) -> f64 {
    (5.0f64 / 24.0).sqrt() * PI.powf(-2.0 / 3.0) * (mc * MSUN).powf(5.0 / 6.0)
}

impl Params {
    /// The fast path's scalars, or `None` when it would be inaccurate for this `mc`.
    fn new(mc: f64) -> Option<Params> {
        let p = PI * mc * MSUN;
        if !(p.is_finite() && p > 1e-40 && p < 1e40) {
            return None;
        }
        let c = super::grid::pow_e53_dd(p).mul_f64(3.0 / 128.0);
        let psi_max = c.hi * tables().g_hi[0];
        if !(c.hi.is_finite() && c.lo.is_finite() && psi_max < FAST_SINCOS_MAX) {
            return None;
        }
        let (p_hi, p_lo) = split(p);
        let (c_hh, c_hl) = split(c.hi);
        Some(Params {
            p,
            p_hi,
            p_lo,
            c,
            c_hh,
            c_hl,
            amp0: amp0(mc),
        })
    }
}

/// Fills `out[i]` with bin `K0 + from + i` of the fast template with amplitude
/// `scale·amp[from + i]` (the loop the whole design is for). Each bin depends on its own table
/// entries only, so a range gets the same values as the whole band. With `FMA` the two
/// error-free products use `mul_add`, which gives bit-identical results to Dekker's products
/// (both are exact), in fewer instructions.
#[inline(always)]
fn fill_band_impl<const FMA: bool>(tp: &Params, a: Amp, from: usize, out: &mut [Complex64]) {
    let Amp { scale, table: amp } = a;
    let t = tables();
    let r = from..from + out.len().min(NB - from);
    let n = r.len();
    let (f, g_hi, g_lo, amp) = (
        &t.f[r.clone()],
        &t.g_hi[r.clone()],
        &t.g_lo[r.clone()],
        &amp[r],
    );
    let out = &mut out[..n];
    let Params {
        p,
        p_hi,
        p_lo,
        c,
        c_hh,
        c_hl,
        ..
    } = *tp;
    let k53 = -E53;
    // In blocks, two loops each: the phases (double-double products), then sincos and the
    // stores. The same operations as one loop, but each loop's dependency chain is half as
    // long, so the core overlaps more iterations (one fused loop ran at ~57 % of the vector
    // units' throughput); the block's phases stay in L1.
    let mut psi = [0.0f64; GEN_BLOCK];
    for b0 in (0..n).step_by(GEN_BLOCK) {
        let m = GEN_BLOCK.min(n - b0);
        let (f, g_hi, g_lo, amp) = (
            &f[b0..b0 + m],
            &g_hi[b0..b0 + m],
            &g_lo[b0..b0 + m],
            &amp[b0..b0 + m],
        );
        let (psi, out) = (&mut psi[..m], &mut out[b0..b0 + m]);
        for i in 0..m {
            let (g, prod, e1, x, err);
            if FMA {
                g = g_hi[i];
                prod = c.hi * g;
                e1 = c.hi.mul_add(g, -prod);
                x = p * f[i];
                err = p.mul_add(f[i], -x);
            } else {
                g = g_hi[i];
                prod = c.hi * g;
                // Error-free C.hi·G.hi (Dekker).
                let (g_hh, g_hl) = split(g);
                e1 = ((c_hh * g_hh - prod) + c_hh * g_hl + c_hl * g_hh) + c_hl * g_hl;
                // numpy rounds x = p·f before the power: err = p·f − x exactly (f has 17 bits).
                x = p * f[i];
                err = (p_hi * f[i] - x) + p_lo * f[i];
            }
            let corr = e1 + (c.hi * g_lo[i] + c.lo * g) + prod * (k53 * err / x);
            psi[i] = prod + corr;
        }
        for i in 0..m {
            let (s, co) = sincos(psi[i]);
            let a = scale * amp[i];
            out[i] = Complex64::new(a * co, -(a * s));
        }
    }
}

/// A template's amplitudes: `scale·table[i]` for band bin `i`. Why a type: the raw template
/// and the normalised one differ only in these two, and every generator variant takes them.
#[derive(Clone, Copy)]
struct Amp<'a> {
    /// The factor.
    scale: f64,
    /// `f^(−7/6)` per band bin, raw or normalised.
    table: &'a [f64],
}

impl Amp<'static> {
    /// The seed's `template(mc)`: `amp0(mc)·f^(−7/6)`.
    fn raw(tp: &Params) -> Amp<'static> {
        Amp {
            scale: tp.amp0,
            table: &tables().f76,
        }
    }

    /// The seed's `normtemplate(mc)`: the Mc-independent normalised table.
    fn normalised() -> Amp<'static> {
        Amp {
            scale: 1.0,
            table: &tables().f76_norm,
        }
    }
}

/// Bins per block of [`fill_band_impl`] (its phases: 2 KiB, in L1).
const GEN_BLOCK: usize = 256;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
/// [`fill_band_impl`] compiled for AVX2 + FMA (bit-identical results: Rust never contracts
/// `a*b+c` into an FMA by itself, and the explicit ones are exact).
unsafe fn fill_band_avx2_fma(tp: &Params, a: Amp, from: usize, out: &mut [Complex64]) {
    fill_band_impl::<true>(tp, a, from, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
/// [`fill_band_impl`] compiled for AVX-512 (8 lanes; ~1.8× faster than AVX2 on AMD Zen 4, and
/// bit-identical to it for the same reasons).
unsafe fn fill_band_avx512(tp: &Params, a: Amp, from: usize, out: &mut [Complex64]) {
    fill_band_impl::<true>(tp, a, from, out)
}

/// numpy's literal formula, for chirp masses outside the fast path's range: band bins
/// `from..` into `out`.
fn fill_band_slow(mc: f64, from: usize, out: &mut [Complex64]) {
    let p = PI * mc * MSUN;
    let a0 = amp0(mc);
    for (i, o) in out.iter_mut().enumerate().take(NB - from) {
        let f = freq(K0 + from + i);
        let psi = (3.0 / 128.0) * (p * f).powf(E53);
        let a = a0 * f.powf(E76);
        let (s, c) = psi.sin_cos();
        *o = Complex64::new(a * c, -(a * s));
    }
}

/// The fast generator with the best instruction set this CPU has: band bins `from..` into
/// `out`.
fn fill_fast(tp: &Params, a: Amp, from: usize, out: &mut [Complex64]) {
    #[cfg(target_arch = "x86_64")]
    match isa() {
        // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (the level's definition).
        Isa::Avx512 => return unsafe { fill_band_avx512(tp, a, from, out) },
        // SAFETY: the CPU supports AVX2 and FMA (the level's definition).
        Isa::Avx2 => return unsafe { fill_band_avx2_fma(tp, a, from, out) },
        Isa::Baseline => {}
    }
    fill_band_impl::<false>(tp, a, from, out)
}

/// Writes the band bins `k = K0..NF` of the seed's `template(mc)` into `out` (length `NB`).
pub fn fill_band(mc: f64, out: &mut [Complex64]) {
    assert_eq!(out.len(), NB);
    fill_band_from(mc, 0, out);
}

/// Writes band bins `from..from + out.len()` (`k = K0 + from..`) of the seed's
/// `template(mc)` into `out`: the same values [`fill_band`] gives them.
fn fill_band_from(mc: f64, from: usize, out: &mut [Complex64]) {
    assert!(from + out.len() <= NB);
    match Params::new(mc) {
        Some(tp) => fill_fast(&tp, Amp::raw(&tp), from, out),
        None => fill_band_slow(mc, from, out),
    }
}

/// Writes the band bins of `normtemplate(mc)` into `out` (length `NB`).
///
/// `|template_k| = amp0(Mc)·f_k^(−7/6)`, so the normalised amplitude is the Mc-independent
/// table `f76_norm` and no normalisation pass is needed. The result differs from numpy's
/// division by `sqrt(normsq)` by a few ulp of each value (~1e-16 relative).
pub fn fill_band_normalised(mc: f64, out: &mut [Complex64]) {
    assert_eq!(out.len(), NB);
    match Params::new(mc) {
        Some(tp) => fill_fast(&tp, Amp::normalised(), 0, out),
        None => {
            fill_band_slow(mc, 0, out);
            let norm = ((4.0 / DF) * sum_sq_with_offset(out, K0)).sqrt();
            for z in out.iter_mut() {
                *z = Complex64::new(z.re / norm, z.im / norm);
            }
        }
    }
}

/// The seed's `template(Mc)`: `NF` bins, exactly zero for `f ≤ 40 Hz` (and at `f = 0`), matching
/// numpy to ≲ 1 ulp of the phase (≤ 1e-12 of `max|value|` for Mc ≳ 1.1, ≤ 2e-12 down to 0.8).
pub fn template(mc: f64) -> Vec<Complex64> {
    let mut t = vec![Complex64::new(0.0, 0.0); NF];
    fill_band(mc, &mut t[K0..]);
    debug_assert!(freq(K0 - 1) <= FMIN);
    t
}

/// numpy's pairwise summation (`pairwise_sum` in `loops_utils.h`: leaves of ≤ 128 elements
/// summed with 8 interleaved accumulators) of `term(i)` for `i` in `start..start + n`.
fn pairwise<F: Fn(usize) -> f64 + Copy>(term: F, start: usize, n: usize) -> f64 {
    if n < 8 {
        let mut res = 0.0;
        for i in start..start + n {
            res += term(i);
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        for (j, rj) in r.iter_mut().enumerate() {
            *rj = term(start + j);
        }
        let full = n - n % 8;
        let mut i = 8;
        while i < full {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += term(start + i + j);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += term(start + i);
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise(term, start, n2) + pairwise(term, start + n2, n - n2)
    }
}

/// `Σ |s_k|²` with numpy's pairwise order; `offset` is the index of `s[0]` in the full array
/// (elements before it are zero), so a band-only slice sums exactly like the full array.
pub(crate) fn sum_sq_with_offset(s: &[Complex64], offset: usize) -> f64 {
    let total = offset + s.len();
    pairwise(
        |i| {
            if i < offset {
                0.0
            } else {
                s[i - offset].norm_sqr()
            }
        },
        0,
        total,
    )
}

/// The seed's `normsq(s) = (4/Δf)·Σ_k |s_k|²` (pairwise summation in numpy's order).
pub fn normsq(s: &[Complex64]) -> f64 {
    (4.0 / DF) * sum_sq_with_offset(s, 0)
}

/// The seed's `normtemplate(Mc) = template(Mc)/sqrt(normsq(template(Mc)))`, length `NF`
/// (the same array the engine caches; see [`fill_band_normalised`]).
pub fn normtemplate(mc: f64) -> Vec<Complex64> {
    let mut t = vec![Complex64::new(0.0, 0.0); NF];
    fill_band_normalised(mc, &mut t[K0..]);
    t
}

/// A normalised template as the filters use it: the band bins of `normtemplate(mc)` plus the
/// scalar the physical convention needs.
#[derive(Debug, Clone)]
pub struct NormTemplate {
    /// The chirp mass.
    pub mc: f64,
    /// Bins `K0..NF` of `normtemplate(mc)` (the seed's normalisation), on the heap or in an
    /// engine's [`Slab`] (dereferences to `[Complex64]`).
    pub band: TemplateBuf,
    /// `1/σ̂` with `σ̂² = 4·Δf·Σ_{k=K0}^{NF−2} |band_k|²` (Nyquist excluded): the physical
    /// convention's normalisation of this array.
    pub inv_sigma_phys: f64,
}

impl NormTemplate {
    /// Generates the normalised template for `mc` (one heap allocation of `NB` bins, one pass).
    pub fn new(mc: f64) -> NormTemplate {
        NormTemplate::fill(
            mc,
            TemplateBuf::heap(vec![Complex64::new(0.0, 0.0); NB].into_boxed_slice()),
        )
    }

    /// The same, stored in a slot of `slab` (no page faults once the slab has free slots).
    pub fn new_in(mc: f64, slab: &Arc<Slab>) -> NormTemplate {
        NormTemplate::fill(mc, slab.alloc())
    }

    /// Overwrites `band` (`NB` bins) with the template.
    fn fill(mc: f64, mut band: TemplateBuf) -> NormTemplate {
        fill_band_normalised(mc, &mut band);
        let inv_sigma_phys = if Params::new(mc).is_some() {
            tables().inv_sigma_phys
        } else {
            1.0 / (4.0 * DF * sum_sq_with_offset(&band[..NB - 1], K0)).sqrt()
        };
        NormTemplate {
            mc,
            band,
            inv_sigma_phys,
        }
    }

    /// The full `NF`-bin array (`normtemplate(mc)`), for callers that want numpy's layout.
    pub fn to_full(&self) -> Vec<Complex64> {
        let mut t = vec![Complex64::new(0.0, 0.0); NF];
        t[K0..].copy_from_slice(&self.band);
        t
    }
}

/// Multiplies the band by `exp(−2πi f_k·delay)` the way numpy evaluates
/// `t * exp(-2j*pi*f*delay)`: phase `φ_k = fl(fl(2π·f_k)·delay)`, then a complex product.
fn apply_delay(band: &mut [Complex64], from: usize, delay: f64) {
    if delay == 0.0 {
        return;
    }
    let two_pi = 2.0 * PI;
    let fast = (two_pi * freq(NF - 1) * delay).abs() < FAST_SINCOS_MAX;
    for (i, z) in band.iter_mut().enumerate() {
        let phi = (two_pi * freq(K0 + from + i)) * delay;
        let (s, c) = if fast { sincos(phi) } else { phi.sin_cos() };
        // (a + ib)(c − is) with numpy's complex multiply: (ac − b(−s)) + i(a(−s) + bc)
        let (a, b, d) = (z.re, z.im, -s);
        *z = Complex64::new(a * c - b * d, a * d + b * c);
    }
}

/// A signal: the seed's (unnormalised) `template(mc)` delayed by `delay_seconds`
/// (multiplied by `exp(−2πi f_k·delay)`), length `NF`.
pub fn signal(spec: &SignalSpec) -> Vec<Complex64> {
    let mut s = template(spec.mc);
    apply_delay(&mut s[K0..], 0, spec.delay_seconds);
    s
}

/// The band bins `K0..NF` of [`signal`] (what the filters read).
pub fn signal_band(spec: &SignalSpec) -> Box<[Complex64]> {
    let mut band = vec![Complex64::new(0.0, 0.0); NB].into_boxed_slice();
    fill_signal_band(spec, &mut band);
    band
}

/// [`signal_band`] in a slot of `slab` (no page faults once the slab has free slots).
pub fn signal_band_in(spec: &SignalSpec, slab: &Arc<Slab>) -> TemplateBuf {
    let mut band = slab.alloc();
    fill_signal_band(spec, &mut band);
    band
}

/// Overwrites `band` (`NB` bins) with the band of [`signal`].
///
/// In pieces of [`SIGNAL_PIECE`] bins on the current rayon pool: a search's signals are made
/// before any template is filtered, and one signal on one thread would leave the others idle
/// (each bin depends on its own index only, so the pieces give the same values).
fn fill_signal_band(spec: &SignalSpec, band: &mut [Complex64]) {
    use rayon::prelude::*;
    assert_eq!(band.len(), NB);
    band.par_chunks_mut(SIGNAL_PIECE)
        .enumerate()
        .for_each(|(j, piece)| {
            fill_band_from(spec.mc, j * SIGNAL_PIECE, piece);
            apply_delay(piece, j * SIGNAL_PIECE, spec.delay_seconds);
        });
}

/// Bins per piece of [`fill_signal_band`] (~20 µs of work).
const SIGNAL_PIECE: usize = 8192;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physics_md_section_6_vectors() {
        let t = template(1.2);
        let max = t.iter().map(|z| z.norm()).fold(0.0, f64::max);
        let close = |k: usize, re: f64, im: f64| {
            let d = (t[k] - Complex64::new(re, im)).norm() / max;
            assert!(d <= 1e-12, "bin {k}: {} vs {re}+{im}i ({d:e})", t[k]);
        };
        close(2561, 1.0429256582494384e-07, 7.140010280808575e-08);
        close(6400, 4.228945649776656e-08, 9.82779706430048e-09);
        close(65536, 6.4942567772505e-11, 2.8764700851442503e-09);
        assert_eq!(t[2560], Complex64::new(0.0, 0.0));
        assert_eq!(t[0], Complex64::new(0.0, 0.0));
        let ns = normsq(&t);
        assert!((ns / 7.752937964506072e-9 - 1.0).abs() < 1e-15, "{ns:e}");
    }

    #[test]
    fn fast_and_slow_paths_agree() {
        for mc in [0.8, 1.2, 1.73, 3.0] {
            let mut a = vec![Complex64::new(0.0, 0.0); NB];
            let mut b = a.clone();
            fill_band(mc, &mut a);
            fill_band_slow(mc, 0, &mut b);
            let max = b.iter().map(|z| z.norm()).fold(0.0, f64::max);
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).norm())
                .fold(0.0, f64::max);
            assert!(worst / max < 3e-12, "mc {mc}: {:e}", worst / max);
        }
        // The baseline (Dekker), AVX2+FMA and AVX-512 variants are bit-identical.
        #[cfg(target_arch = "x86_64")]
        if Isa::Avx2.available() {
            for mc in [0.8, 1.2345, 1.74] {
                let tp = Params::new(mc).unwrap();
                let mut a = vec![Complex64::new(0.0, 0.0); NB];
                let mut b = a.clone();
                fill_band_impl::<false>(&tp, Amp::raw(&tp), 0, &mut a);
                // SAFETY: features checked above.
                unsafe { fill_band_avx2_fma(&tp, Amp::raw(&tp), 0, &mut b) };
                assert!(a == b, "mc {mc}: FMA and Dekker paths differ");
                if Isa::Avx512.available() {
                    // SAFETY: features checked above.
                    unsafe { fill_band_avx512(&tp, Amp::raw(&tp), 0, &mut b) };
                    assert!(a == b, "mc {mc}: AVX-512 and baseline paths differ");
                }
            }
        }
        // Tiny chirp masses take the slow path and still produce finite numbers.
        assert!(Params::new(0.01).is_none());
        assert!(template(0.01).iter().all(|z| z.re.is_finite()));
        let slow = normtemplate(0.01);
        assert!((normsq(&slow) - 1.0).abs() < 1e-14);
    }

    #[test]
    fn normtemplate_has_the_seed_norm_and_band_layout() {
        let nt = NormTemplate::new(1.3);
        let full = normtemplate(1.3);
        assert_eq!(nt.to_full(), full);
        assert!((normsq(&full) - 1.0).abs() < 1e-14);
        // Same as dividing the raw template by sqrt(normsq), to a few ulp.
        let raw = template(1.3);
        let norm = normsq(&raw).sqrt();
        for k in [K0, 5000, 20000, NF - 1] {
            let want = raw[k] / norm;
            assert!((full[k] - want).norm() <= 4e-16 * want.norm(), "bin {k}");
        }
        let sig = (4.0 * DF * full[K0..NF - 1].iter().map(|z| z.norm_sqr()).sum::<f64>()).sqrt();
        assert!((nt.inv_sigma_phys * sig - 1.0).abs() < 1e-13);
    }

    #[test]
    fn pairwise_matches_a_plain_sum_closely() {
        let s: Vec<Complex64> = (0..1000)
            .map(|i| Complex64::new((i as f64).sin(), 0.5))
            .collect();
        let plain: f64 = s.iter().map(|z| z.norm_sqr()).sum();
        assert!((sum_sq_with_offset(&s, 0) / plain - 1.0).abs() < 1e-14);
        assert_eq!(sum_sq_with_offset(&s[3..], 3), {
            let mut z = s.clone();
            for v in &mut z[..3] {
                *v = Complex64::new(0.0, 0.0);
            }
            sum_sq_with_offset(&z, 0)
        });
    }

    #[test]
    fn delayed_signal_band_matches_full_signal() {
        let spec = SignalSpec {
            mc: 1.1,
            delay_seconds: -2.25,
        };
        let full = signal(&spec);
        assert_eq!(&full[K0..], &*signal_band(&spec));
        assert!(full[..K0].iter().all(|z| *z == Complex64::new(0.0, 0.0)));
        // A delay only rotates phases.
        let t = template(1.1);
        assert!((normsq(&full) / normsq(&t) - 1.0).abs() < 1e-13);
    }
}
