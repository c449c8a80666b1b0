//! One (template, segment) pair: fused multiply-and-fill → complex inverse FFT of length `n`.
//!
//! `z_j = (4Δf/σ) Σ_{k ∈ band} conj(h̃_k)·w_k·e^{+2πijk/n}` (PyCBC's `matched_filter_core`:
//! `qtilde[kmin:kmax] = conj(h)·d/S` in a zeroed length-`n` array, an unnormalised complex
//! inverse FFT, then `norm = 4Δf/sqrt(σ²)`). The product is written straight into the FFT
//! buffer, the transform runs in place with `rustfft`'s `process_with_scratch`, and the caller
//! scans the raw output (`z = scale·raw`), so the scale costs nothing per sample.
//!
//! Plans (one per `n` and direction) are built once per process and shared by all threads
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
    static PLANS: OnceLock<Mutex<(FftPlanner<f64>, HashMap<usize, Arc<dyn Fft<f64>>>)>> =
        OnceLock::new();
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

/// One thread's buffers for one segment length.
pub(crate) struct Scratch {
    /// Length of the plan the buffers fit.
    n: usize,
    /// The inverse plan of length `n`.
    plan: Arc<dyn Fft<f64>>,
    /// The FFT buffer: filled with the product, transformed in place (`n` values).
    pub(crate) buf: Vec<Complex64>,
    /// `rustfft`'s scratch.
    fft: Vec<Complex64>,
    /// Per-window maxima of the clustering pass (reused).
    pub(crate) wins: Vec<super::cluster::WindowMax>,
}

impl Scratch {
    /// Buffers for length `n`.
    fn new(n: usize) -> Scratch {
        let plan = inverse_plan(n);
        let zero = Complex64::new(0.0, 0.0);
        Scratch {
            n,
            fft: vec![zero; plan.get_inplace_scratch_len()],
            plan,
            buf: vec![zero; n],
            wins: Vec::new(),
        }
    }

    /// Fills the buffer with `conj(h)·w` on the band (zero elsewhere) and transforms it:
    /// afterwards `buf[j] = z_j/scale`. `h` holds the band bins `k_low..n/2`.
    pub(crate) fn correlate(&mut self, h: &[Complex64], seg: &ConditionedSegment) {
        let g = &seg.grid;
        assert_eq!(g.n, self.n);
        assert_eq!(h.len(), seg.w.len(), "template and segment bands differ");
        let (lo, hi) = (g.k_low(), g.k_high());
        let zero = Complex64::new(0.0, 0.0);
        self.buf[..lo].fill(zero);
        for (b, (t, w)) in self.buf[lo..hi].iter_mut().zip(h.iter().zip(seg.w.iter())) {
            // conj(t)·w, written out so it fuses with the store.
            *b = Complex64::new(t.re * w.re + t.im * w.im, t.re * w.im - t.im * w.re);
        }
        self.buf[hi..].fill(zero);
        self.plan.process_with_scratch(&mut self.buf, &mut self.fft);
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
        sc.buf.iter().map(|z| z * scale).collect()
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
