//! Filtering one (signal, template) pair: fused multiply → complex-to-real FFT → max scan.
//!
//! The c2r of length [`N`] is our own ([`super::fused`]): pass 1 forms the product, realfft's
//! pre-processing and the decimation-in-time split of the half-length complex FFT into eight
//! rows; step 2 transforms each row (a radix-8 stage, then `rustfft`'s FFTs of length 1024);
//! pass 3 does the last radix-8 stage and keeps only the maximum. The plan and twiddles are built once per process and shared;
//! every thread owns its buffers ([`Scratch`], kept in a thread-local so the rayon hot path
//! allocates nothing per template). Both SNR conventions of `chirpfarm_core::SnrConvention`
//! are implemented here:
//!
//! * **Seed**: `X = conj(s)·t̂` over all bins it is given (imaginary parts of DC and Nyquist
//!   dropped, as numpy's `irfft` does), `y_j = c2r(X)_j·(4/Δf)/N`, `snr = max_j y_j` (first
//!   index on ties), lag from `m = (N − j*) mod N`.
//! * **Physical**: PyCBC's `matched_filter` |SNR| for white unit noise over the band
//!   `f_k > 40 Hz`, `k < N/2`: `X = conj(t)·s`, `Re z = (2Δf/σ)·c2r(X)`,
//!   `Im z = (2Δf/σ)·c2r(−iX)` (physics.md §3.2; both transforms share the fused pass),
//!   `snr = max_j |z_j|`, lag from `m = j*`.
//!
//! A signal delayed by +3 s gives lag +3.0 in both conventions. The previous implementation
//! (`realfft`'s c2r with separate multiply and scan passes) is kept as a test-only reference;
//! the two agree to ~1e-15 relative with identical lags.

use super::fused::{self, Mode, BUF_LEN};
use super::grid::{DF, DT, K0, N, NB, NF};
use chirpfarm_core::{SnrConvention, TemplateResult};
use num_complex::Complex64;
use std::cell::RefCell;

/// The signed lag in seconds of a circular lag index `m` (template-conjugated order):
/// `m·Δt` for `m ≤ N/2`, else `(m − N)·Δt`, i.e. in `(−32, 32]` s.
#[inline]
pub fn lag_seconds(m: usize) -> f64 {
    if m <= N / 2 {
        m as f64 * DT
    } else {
        (m as f64 - N as f64) * DT
    }
}

/// One thread's buffers: the pass-1 buffer(s) and the row FFT's scratch (≈ 1.1 MB for the
/// seed convention, 1 MB more once the physical convention has been used).
pub struct Scratch {
    /// Backing store of the pass-1 buffers (one per transform, each [`BUF_LEN`] long, starting
    /// on a 64-byte boundary); grows to two buffers on first use of the physical convention.
    bufs: Vec<Complex64>,
    /// The row FFT's own scratch.
    fft: Vec<Complex64>,
    /// Whether both are left out of forked children (see `engine::nofork`): only buffers
    /// made on one of rayon's worker threads, which no child has.
    no_fork: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        release(std::mem::take(&mut self.bufs), self.no_fork);
        release(std::mem::take(&mut self.fft), self.no_fork);
    }
}

/// A buffer of `n` zeros, left out of forked children if `no_fork`.
fn zeros(n: usize, no_fork: bool) -> Vec<Complex64> {
    let v = vec![Complex64::new(0.0, 0.0); n];
    if no_fork {
        super::nofork::exclude(v.as_ptr(), v.len());
    }
    v
}

/// Frees a buffer made by [`zeros`] (leaked if its pages cannot be given back to children).
fn release(v: Vec<Complex64>, no_fork: bool) {
    if no_fork && !super::nofork::include(v.as_ptr(), v.len()) {
        std::mem::forget(v);
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

/// Complex numbers of slack so that a buffer can start on a 64-byte boundary.
const ALIGN_SLACK: usize = 4;

/// The first `n` pass-1 buffers of `bufs`, 64-byte aligned (growing it if needed).
fn buffers(bufs: &mut Vec<Complex64>, n: usize, no_fork: bool) -> &mut [Complex64] {
    let len = n * BUF_LEN + ALIGN_SLACK;
    if bufs.len() < len {
        release(std::mem::replace(bufs, zeros(len, no_fork)), no_fork);
    }
    let off = bufs.as_ptr().align_offset(64).min(ALIGN_SLACK);
    &mut bufs[off..off + n * BUF_LEN]
}

impl Scratch {
    /// Allocates the buffers of the seed convention (the physical ones come on first use).
    pub fn new() -> Scratch {
        let no_fork = rayon::current_thread_index().is_some();
        Scratch {
            bufs: zeros(BUF_LEN + ALIGN_SLACK, no_fork),
            fft: zeros(fused::plan().scratch_len(), no_fork),
            no_fork,
        }
    }

    /// Writes every page of the buffers (the seed convention's), so that the first filter
    /// does not take their page faults (~520 on one thread: the allocator maps fresh pages
    /// lazily).
    pub fn prefault(&mut self) {
        let zero = Complex64::new(0.0, 0.0);
        buffers(&mut self.bufs, 1, self.no_fork).fill(zero);
        self.fft.fill(zero);
    }

    /// Seed convention on arrays that start at bin `start ≤ K0` and run to `NF − 1`
    /// (`s.len() == t.len() == NF − start`); bins below `start` are zero.
    pub fn seed(&mut self, s: &[Complex64], t: &[Complex64], start: usize) -> TemplateResult {
        assert!(
            s.len() == NF - start && t.len() == NF - start,
            "arrays must end at bin NF-1"
        );
        assert!(start <= K0, "arrays must start at a bin <= K0");
        let buf = buffers(&mut self.bufs, 1, self.no_fork);
        fused::pass1(Mode::Seed, s, t, start, buf, &mut []);
        fused::row_ffts(buf, &mut self.fft);
        let best = fused::pass3_max(Mode::Seed, buf, &[]);
        // (4/Δf)/N = 2^−9: an exact scaling.
        let snr = if best.value == f64::NEG_INFINITY {
            f64::NAN
        } else {
            best.value * (4.0 / DF) / N as f64
        };
        TemplateResult {
            snr,
            lag_seconds: lag_seconds((N - best.index) % N),
        }
    }

    /// Physical convention on band arrays (bins `K0..NF`, length `NB`); `inv_sigma` is
    /// `1/sqrt(4Δf·Σ_{k=K0}^{NF−2}|t_k|²)`.
    pub fn physical(&mut self, s: &[Complex64], t: &[Complex64], inv_sigma: f64) -> TemplateResult {
        assert!(
            s.len() == NB && t.len() == NB,
            "band arrays must have NB bins"
        );
        let (a, b) = buffers(&mut self.bufs, 2, self.no_fork).split_at_mut(BUF_LEN);
        fused::pass1(Mode::Physical, s, t, K0, a, b);
        fused::row_ffts(a, &mut self.fft);
        fused::row_ffts(b, &mut self.fft);
        let best = fused::pass3_max(Mode::Physical, a, b);
        let snr = if best.value == f64::NEG_INFINITY {
            f64::NAN
        } else {
            best.value.sqrt() * (2.0 * DF) * inv_sigma
        };
        TemplateResult {
            snr,
            lag_seconds: lag_seconds(best.index),
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

thread_local! {
    static SCRATCH: RefCell<Option<Box<Scratch>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's [`Scratch`] (created on first use and kept for the thread's
/// life). A re-entrant call gets a temporary one instead of panicking.
pub fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => f(slot.get_or_insert_with(|| Box::new(Scratch::new()))),
        Err(_) => f(&mut Scratch::new()),
    })
}

/// The seed's `maxsnr(signal, template)` plus its lag, on full `NF`-bin arrays (seed
/// convention; uses this thread's buffers).
pub fn maxsnr(signal: &[Complex64], template: &[Complex64]) -> TemplateResult {
    with_scratch(|s| s.run_full(signal, template, SnrConvention::Seed))
}

/// The physical-convention counterpart of [`maxsnr`] on full `NF`-bin arrays.
pub fn maxsnr_physical(signal: &[Complex64], template: &[Complex64]) -> TemplateResult {
    with_scratch(|s| s.run_full(signal, template, SnrConvention::Physical))
}

/// One template at a time on the calling thread, with its own buffers (for benchmarks and
/// simple callers).
pub struct SingleFilter {
    /// This filter's own buffers.
    scratch: Scratch,
}

impl Default for SingleFilter {
    fn default() -> Self {
        SingleFilter::new()
    }
}

impl SingleFilter {
    /// Allocates the buffers (and builds the shared plan on first use).
    pub fn new() -> Self {
        SingleFilter {
            scratch: Scratch::new(),
        }
    }

    /// Filters `signal` with `tmpl` (both `NF` bins; `tmpl` normalised with the seed's
    /// `normsq` for the seed convention to be meaningful).
    pub fn run(
        &mut self,
        signal: &[Complex64],
        tmpl: &[Complex64],
        conv: SnrConvention,
    ) -> TemplateResult {
        self.scratch.run_full(signal, tmpl, conv)
    }
}

/// Single-thread time of one [`SingleFilter::run`] (seed convention, template(1.2) against
/// normtemplate(1.25)) in seconds: the median of `iters` timed runs after one warm-up run.
pub fn bench_per_template_seconds(iters: usize) -> f64 {
    let signal = super::template::template(1.2);
    let tmpl = super::template::normtemplate(1.25);
    let mut f = SingleFilter::new();
    std::hint::black_box(f.run(&signal, &tmpl, SnrConvention::Seed));
    let mut times: Vec<f64> = (0..iters.max(1))
        .map(|_| {
            let t0 = std::time::Instant::now();
            std::hint::black_box(f.run(std::hint::black_box(&signal), &tmpl, SnrConvention::Seed));
            t0.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::super::reference::RefScratch;
    use super::super::template::{normtemplate, signal, signal_band, NormTemplate};
    use super::*;
    use chirpfarm_core::SignalSpec;

    #[test]
    fn lag_mapping() {
        assert_eq!(lag_seconds(0), 0.0);
        assert_eq!(lag_seconds(6144), 3.0);
        assert_eq!(lag_seconds(N / 2), 32.0);
        assert_eq!(lag_seconds(N / 2 + 1), -32.0 + DT);
        assert_eq!(lag_seconds(N - 3072), -1.5);
    }

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    /// The fused pipeline against the previous realfft one, on band arrays (the engine's
    /// path): many templates × signals, delayed ones included, both conventions.
    #[test]
    fn fused_matches_the_realfft_reference() {
        let specs: Vec<SignalSpec> = [
            (1.2, 0.0),
            (0.8, 0.0),
            (1.73, 0.0),
            (1.05, 3.0),
            (1.33, -1.5),
            (0.95, 17.123),
            (1.5, -29.9),
            (1.2, 0.000244140625),
            (1.61, 31.99),
        ]
        .iter()
        .map(|&(mc, delay_seconds)| SignalSpec { mc, delay_seconds })
        .collect();
        let bands: Vec<_> = specs.iter().map(signal_band).collect();
        let masses: Vec<f64> = (0..24).map(|i| 0.8 + 0.0404 * i as f64).collect();
        let (mut ours, mut theirs) = (Scratch::new(), RefScratch::new());
        let (mut worst_seed, mut worst_phys) = (0f64, 0f64);
        for &mc in &masses {
            let t = NormTemplate::new(mc);
            for (spec, s) in specs.iter().zip(&bands) {
                let a = ours.seed(s, &t.band, K0);
                let b = theirs.seed(s, &t.band, K0);
                assert_eq!(a.lag_seconds, b.lag_seconds, "seed {mc} {spec:?}");
                assert!(
                    rel(a.snr, b.snr) <= 1e-12,
                    "seed {mc} {spec:?}: {a:?} {b:?}"
                );
                worst_seed = worst_seed.max(rel(a.snr, b.snr));
                let a = ours.physical(s, &t.band, t.inv_sigma_phys);
                let b = theirs.physical(s, &t.band, t.inv_sigma_phys);
                assert_eq!(
                    a.lag_seconds, b.lag_seconds,
                    "physical {mc} {spec:?}: {a:?} {b:?}"
                );
                assert!(
                    rel(a.snr, b.snr) <= 1e-12,
                    "physical {mc} {spec:?}: {a:?} {b:?}"
                );
                worst_phys = worst_phys.max(rel(a.snr, b.snr));
            }
        }
        println!(
            "fused vs realfft: worst relative SNR {worst_seed:e} (seed), {worst_phys:e} (physical)"
        );
    }

    /// Full `NF`-bin arrays (`start = 0`), including arrays that are not zero below `K0` and
    /// have complex DC and Nyquist bins.
    #[test]
    fn fused_matches_the_reference_on_full_arrays() {
        let (mut ours, mut theirs) = (Scratch::new(), RefScratch::new());
        let s = signal(&SignalSpec {
            mc: 1.3,
            delay_seconds: -7.25,
        });
        let t = normtemplate(1.31);
        for conv in [SnrConvention::Seed, SnrConvention::Physical] {
            let a = ours.run_full(&s, &t, conv);
            let b = theirs.run_full(&s, &t, conv);
            assert_eq!(a.lag_seconds, b.lag_seconds);
            assert!(rel(a.snr, b.snr) <= 1e-12, "{a:?} {b:?}");
        }
        // Pseudo-random arrays over every bin.
        let mut x = 0.5f64;
        let mut next = || {
            x = (x * 3.9 * (1.0 - x)).clamp(1e-9, 1.0 - 1e-9);
            x - 0.5
        };
        for _ in 0..3 {
            let s: Vec<Complex64> = (0..NF).map(|_| Complex64::new(next(), next())).collect();
            let t: Vec<Complex64> = (0..NF).map(|_| Complex64::new(next(), next())).collect();
            for conv in [SnrConvention::Seed, SnrConvention::Physical] {
                let a = ours.run_full(&s, &t, conv);
                let b = theirs.run_full(&s, &t, conv);
                assert_eq!(a.lag_seconds, b.lag_seconds, "{conv:?}");
                assert!(rel(a.snr, b.snr) <= 1e-12, "{conv:?}: {a:?} {b:?}");
            }
        }
    }
}
