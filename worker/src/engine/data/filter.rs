//! One (template, segment) pair: fused multiply-and-fill → complex inverse FFT of length `n`.
//!
//! `z_j = (4Δf/σ) Σ_{k ∈ band} conj(h̃_k)·w_k·e^{+2πijk/n}` (PyCBC's `matched_filter_core`:
//! `qtilde[kmin:kmax] = conj(h)·d/S` in a zeroed length-`n` array, an unnormalised complex
//! inverse FFT, then `norm = 4Δf/sqrt(σ²)`). The product is written straight into the FFT
//! buffers, the transform (two of length `n/2`, see [`Scratch`]) runs in place with
//! `rustfft`'s `process_with_scratch`, and the caller
//! scans the raw output (`z = scale·raw`), so the scale costs nothing per sample.
//!
//! Plans (one per length and direction) are built once per process and shared by all threads
//! (`Arc<dyn Fft<f64>>` is `Send + Sync`); buffers are per thread ([`with_scratch`]), so the
//! steady state allocates nothing per (template, segment).

use super::condition::{sigmasq_band, ConditionedSegment};
use super::grid::DataGrid;
use num_complex::Complex64;
use realfft::{RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The process-wide complex inverse plan of length `n` (built on first use).
pub fn inverse_plan(n: usize) -> Arc<dyn Fft<f64>> {
    type Plans = (FftPlanner<f64>, HashMap<usize, Arc<dyn Fft<f64>>>);
    static PLANS: OnceLock<Mutex<Plans>> = OnceLock::new();
    let m = PLANS.get_or_init(|| Mutex::new((FftPlanner::new(), HashMap::new())));
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    let (planner, map) = &mut *g;
    Arc::clone(map.entry(n).or_insert_with(|| planner.plan_fft_inverse(n)))
}

/// The process-wide real-to-complex forward plan of length `n` (segment conditioning).
pub fn forward_plan(n: usize) -> Arc<dyn RealToComplex<f64>> {
    type Plans = (
        RealFftPlanner<f64>,
        HashMap<usize, Arc<dyn RealToComplex<f64>>>,
    );
    static PLANS: OnceLock<Mutex<Plans>> = OnceLock::new();
    let m = PLANS.get_or_init(|| Mutex::new((RealFftPlanner::new(), HashMap::new())));
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    let (planner, map) = &mut *g;
    Arc::clone(map.entry(n).or_insert_with(|| planner.plan_fft_forward(n)))
}

/// The half-length inverse plan of an `n`-point segment and the twiddles `e^{+2πik/n}`,
/// `k ∈ [0, n/2)`: shared by all threads.
pub(crate) struct SplitPlan {
    /// Complex inverse FFT of length `n/2`.
    fft: Arc<dyn Fft<f64>>,
    /// `e^{+2πik/n}` for `k = 0..n/2`.
    twiddles: Box<[Complex64]>,
}

/// The process-wide [`SplitPlan`] for segment length `n` (built on first use).
pub(crate) fn split_plan(n: usize) -> Arc<SplitPlan> {
    static PLANS: OnceLock<Mutex<HashMap<usize, Arc<SplitPlan>>>> = OnceLock::new();
    let m = PLANS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    Arc::clone(g.entry(n).or_insert_with(|| {
        let step = 2.0 * std::f64::consts::PI / n as f64;
        Arc::new(SplitPlan {
            fft: inverse_plan(n / 2),
            twiddles: (0..n / 2)
                .map(|k| Complex64::from_polar(1.0, step * k as f64))
                .collect(),
        })
    }))
}

/// One thread's buffers for one segment length.
///
/// The band stops below `n/2`, so the `n`-point inverse transform has a zero upper half and
/// splits into two `n/2`-point ones (the first radix-2 decimation-in-time stage with half its
/// inputs zero): `z_{2m} = IFFT_{n/2}(X)_m`, `z_{2m+1} = IFFT_{n/2}(X_k e^{+2πik/n})_m`. Two
/// half-length transforms whose buffers fit the cache better are ~2× faster than one of length
/// `n` at n = 2^19 (rustfft 6.4, this machine). [`SplitSeries`] reads the result in time order.
pub(crate) struct Scratch {
    /// Segment length the buffers fit.
    n: usize,
    /// The shared half-length plan and twiddles.
    plan: Arc<SplitPlan>,
    /// `n` values: the even-sample transform in `[..n/2]`, the odd-sample one in `[n/2..]`.
    pub(crate) buf: Vec<Complex64>,
    /// `rustfft`'s scratch.
    fft: Vec<Complex64>,
    /// Per-window maxima of the clustering pass (reused).
    pub(crate) wins: Vec<super::cluster::WindowMax>,
}

/// The raw transform in [`Scratch`]'s split layout, indexed by time sample.
#[derive(Clone, Copy)]
pub(crate) struct SplitSeries<'a> {
    /// Even samples `z_{2m}`.
    even: &'a [Complex64],
    /// Odd samples `z_{2m+1}`.
    odd: &'a [Complex64],
}

impl SplitSeries<'_> {
    /// Raw `z_j` (before the SNR scale).
    #[inline(always)]
    pub(crate) fn get(&self, j: usize) -> Complex64 {
        if j & 1 == 0 {
            self.even[j >> 1]
        } else {
            self.odd[j >> 1]
        }
    }
}

impl Scratch {
    /// Buffers for length `n`.
    fn new(n: usize) -> Scratch {
        let plan = split_plan(n);
        let zero = Complex64::new(0.0, 0.0);
        Scratch {
            n,
            fft: vec![zero; plan.fft.get_inplace_scratch_len()],
            plan,
            buf: vec![zero; n],
            wins: Vec::new(),
        }
    }

    /// Fills the two half buffers with `conj(h)·w` (and its twiddled copy) on the band, zero
    /// below it, and transforms them: afterwards [`Scratch::series`] gives `z_j/scale`.
    /// `h` holds the band bins `k_low..n/2`.
    pub(crate) fn correlate(&mut self, h: &[Complex64], seg: &ConditionedSegment) {
        let g = &seg.grid;
        assert_eq!(g.n, self.n);
        assert_eq!(h.len(), seg.w.len(), "template and segment bands differ");
        let (lo, half) = (g.k_low(), g.n / 2);
        let zero = Complex64::new(0.0, 0.0);
        let (even, odd) = self.buf.split_at_mut(half);
        even[..lo].fill(zero);
        odd[..lo].fill(zero);
        let tw = &self.plan.twiddles[lo..];
        for ((e, o), ((t, w), c)) in even[lo..]
            .iter_mut()
            .zip(odd[lo..].iter_mut())
            .zip(h.iter().zip(seg.w.iter()).zip(tw))
        {
            // conj(t)·w, written out so it fuses with the stores.
            let x = Complex64::new(t.re * w.re + t.im * w.im, t.re * w.im - t.im * w.re);
            *e = x;
            *o = Complex64::new(x.re * c.re - x.im * c.im, x.re * c.im + x.im * c.re);
        }
        // Both halves in one call: rustfft transforms consecutive chunks of its length.
        self.plan
            .fft
            .process_with_scratch(&mut self.buf, &mut self.fft);
    }

    /// The last [`Scratch::correlate`] result in time order.
    pub(crate) fn series(&self) -> SplitSeries<'_> {
        let (even, odd) = self.buf.split_at(self.n / 2);
        SplitSeries { even, odd }
    }
}

/// Runs `f` with this thread's scratch for length `n` (re-created only when `n` changes).
pub(crate) fn with_scratch<R>(n: usize, f: impl FnOnce(&mut Scratch) -> R) -> R {
    thread_local! {
        static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
    }
    SCRATCH.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|s| s.n != n) {
            *slot = Some(Scratch::new(n));
        }
        f(slot.as_mut().expect("just set"))
    })
}

/// `4Δf/σ`: the factor from the raw transform to the SNR (PyCBC's `norm`).
pub(crate) fn snr_scale(sigmasq: f64, grid: &DataGrid) -> f64 {
    4.0 * grid.delta_f() / sigmasq.sqrt()
}

/// The full complex SNR series `z_j`, `j = 0..n`, of one template (`n/2 + 1` bins, e.g. from
/// [`newtonian_template`](super::newtonian_template)) against one conditioned segment: PyCBC's
/// `matched_filter(template, data, psd, low_frequency_cutoff)`. For tests and benchmarks; the
/// search path ([`DataEngine`](super::DataEngine)) never materialises the scaled series.
pub fn snr_series(
    template: &[Complex64],
    psd: &[f64],
    seg: &ConditionedSegment,
    grid: &DataGrid,
) -> Vec<Complex64> {
    assert_eq!(
        *grid, seg.grid,
        "the segment was conditioned on another grid"
    );
    assert_eq!(
        template.len(),
        grid.bins(),
        "template length must be n/2 + 1"
    );
    let (lo, hi) = (grid.k_low(), grid.k_high());
    let band = &template[lo..hi];
    let scale = snr_scale(sigmasq_band(band, &psd[lo..hi], grid.delta_f()), grid);
    with_scratch(grid.n, |sc| {
        sc.correlate(band, seg);
        let z = sc.series();
        (0..grid.n).map(|j| z.get(j) * scale).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::super::{condition_segment, newtonian_template};
    use super::*;

    /// Direct O(n·band) sum of the definition, for a small grid.
    #[test]
    fn series_equals_the_definition() {
        let grid = DataGrid::new(4096, 512.0, 20.0);
        let n = grid.n;
        let x: Vec<f64> = (0..n)
            .map(|j| ((j * 7919) % 1013) as f64 / 1013.0 - 0.5)
            .collect();
        let psd: Vec<f64> = (0..grid.bins())
            .map(|k| 1e-3 + 1.0 / (1 + k) as f64)
            .collect();
        let seg = condition_segment(&x, &psd, &grid);
        let h = newtonian_template(1.2, &grid);
        let z = snr_series(&h, &psd, &seg, &grid);
        let ss = super::super::sigmasq(&h, &psd, &grid);
        // d̃ by a direct DFT.
        let dt = grid.delta_t();
        let tw = |a: f64| Complex64::from_polar(1.0, a);
        let two_pi = 2.0 * std::f64::consts::PI;
        let q: Vec<Complex64> = (grid.k_low()..grid.k_high())
            .map(|k| {
                let d: Complex64 = (0..n)
                    .map(|j| x[j] * tw(-two_pi * ((j * k) % n) as f64 / n as f64))
                    .sum::<Complex64>()
                    * dt;
                h[k].conj() * d / psd[k]
            })
            .collect();
        let norm = 4.0 * grid.delta_f() / ss.sqrt();
        let peak = z.iter().map(|c| c.norm()).fold(0.0, f64::max);
        for j in [0usize, 1, 17, 2048, 4095] {
            let want: Complex64 = q
                .iter()
                .enumerate()
                .map(|(i, v)| v * tw(two_pi * ((j * (i + grid.k_low())) % n) as f64 / n as f64))
                .sum::<Complex64>()
                * norm;
            assert!(
                (z[j] - want).norm() < 1e-9 * peak,
                "j {j}: {} vs {}",
                z[j],
                want
            );
        }
    }
}
