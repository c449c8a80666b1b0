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
use super::fft::Blocked;
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
/// `k ∈ [0, n/2)`: the transform for lengths the blocked one ([`Blocked`]) does not serve.
struct Split {
    /// Complex inverse FFT of length `n/2`.
    fft: Arc<dyn Fft<f64>>,
    /// `e^{+2πik/n}` for `k = 0..n/2`.
    twiddles: Box<[Complex64]>,
}

/// How a segment length is transformed.
enum Transform {
    /// Two `n/2`-point `rustfft` transforms (see [`Scratch`]).
    Split(Split),
    /// The blocked transform of [`super::fft`].
    Blocked(Blocked),
}

/// The inverse-transform plan of one segment length, shared by all threads: which transform
/// runs, and where it leaves sample `j` (`offsets[j mod R] + j / R`, `R = offsets.len()`, a
/// power of two).
pub(crate) struct FilterPlan {
    /// The transform.
    transform: Transform,
    /// Start of each residue class `j mod R` in the output buffer.
    offsets: Box<[usize]>,
}

/// Shortest `n` given to the blocked transform. `bench_split_against_blocked` (one thread,
/// medians, interleaved) measured it 1.13–1.15× faster at 2^16, 1.2–1.3× at 2^17 and
/// 1.3–1.4× at 2^19; below 2^16 the two half-length transforms fit in L2 and the difference
/// was within the noise of this shared machine (0.99–1.3×), so the split path stays there.
const BLOCKED_MIN_N: usize = 1 << 16;

impl FilterPlan {
    /// The plan for segment length `n`.
    fn new(n: usize) -> FilterPlan {
        match Blocked::new(n).filter(|_| n >= BLOCKED_MIN_N) {
            Some(b) => Self::blocked(b),
            None => Self::split(n),
        }
    }

    /// The split transform for `n`.
    fn split(n: usize) -> FilterPlan {
        let step = 2.0 * std::f64::consts::PI / n as f64;
        FilterPlan {
            transform: Transform::Split(Split {
                fft: inverse_plan(n / 2),
                twiddles: (0..n / 2)
                    .map(|k| Complex64::from_polar(1.0, step * k as f64))
                    .collect(),
            }),
            offsets: Box::new([0, n / 2]),
        }
    }

    /// The blocked transform `b`.
    fn blocked(b: Blocked) -> FilterPlan {
        FilterPlan {
            offsets: b.offsets().into(),
            transform: Transform::Blocked(b),
        }
    }

    /// Complex numbers of output buffer.
    fn buf_len(&self, n: usize) -> usize {
        match &self.transform {
            Transform::Split(_) => n,
            Transform::Blocked(b) => b.buf_len(),
        }
    }

    /// `rustfft` scratch.
    fn scratch_len(&self) -> usize {
        match &self.transform {
            Transform::Split(s) => s.fft.get_inplace_scratch_len(),
            Transform::Blocked(b) => b.scratch_len(),
        }
    }
}

/// The process-wide [`FilterPlan`] for segment length `n` (built on first use). (Named for
/// the split transform it used to return; callers only use it to build the plan early.)
pub(crate) fn split_plan(n: usize) -> Arc<FilterPlan> {
    static PLANS: OnceLock<Mutex<HashMap<usize, Arc<FilterPlan>>>> = OnceLock::new();
    let m = PLANS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    Arc::clone(g.entry(n).or_insert_with(|| Arc::new(FilterPlan::new(n))))
}

/// One thread's buffers for one segment length.
///
/// Lengths that are multiples of 64 from [`BLOCKED_MIN_N`] on use the blocked transform
/// ([`super::fft`]). Others use two half-length ones: the band stops below `n/2`, so the
/// `n`-point inverse transform has a zero upper half and splits into two `n/2`-point ones (the
/// first radix-2 decimation-in-time stage with half its inputs zero): `z_{2m} =
/// IFFT_{n/2}(X)_m`, `z_{2m+1} = IFFT_{n/2}(X_k e^{+2πik/n})_m`. Either way the output is not
/// in time order; [`SplitSeries`] reads it in time order.
pub(crate) struct Scratch {
    /// Segment length the buffers fit.
    n: usize,
    /// The shared plan.
    plan: Arc<FilterPlan>,
    /// The transform's output (split: the even-sample transform in `[..n/2]`, the odd-sample
    /// one in `[n/2..]`; blocked: see [`super::fft`]).
    pub(crate) buf: Vec<Complex64>,
    /// `rustfft`'s scratch.
    fft: Vec<Complex64>,
    /// Per-window maxima of the clustering pass (reused).
    pub(crate) wins: Vec<super::cluster::WindowMax>,
}

/// The raw transform in [`Scratch`]'s layout, indexed by time sample: sample `j` is at
/// `buf[offsets[j mod R] + j / R]` (`R = offsets.len()`, a power of two).
#[derive(Clone, Copy)]
pub(crate) struct SplitSeries<'a> {
    /// The output buffer.
    buf: &'a [Complex64],
    /// Start of each residue class.
    offsets: &'a [usize],
    /// `R − 1`.
    mask: usize,
    /// `log2 R`.
    shift: u32,
}

impl SplitSeries<'_> {
    /// Raw `z_j` (before the SNR scale).
    #[inline(always)]
    pub(crate) fn get(&self, j: usize) -> Complex64 {
        self.buf[self.offsets[j & self.mask] + (j >> self.shift)]
    }
}

impl Scratch {
    /// Buffers for length `n`.
    fn new(n: usize) -> Scratch {
        Self::with_plan(n, split_plan(n))
    }

    /// Buffers for length `n` and a given plan.
    fn with_plan(n: usize, plan: Arc<FilterPlan>) -> Scratch {
        let zero = Complex64::new(0.0, 0.0);
        Scratch {
            n,
            fft: vec![zero; plan.scratch_len()],
            buf: vec![zero; plan.buf_len(n)],
            plan,
            wins: Vec::new(),
        }
    }

    /// Forms `conj(h)·w` on the band (zero below it) and transforms it: afterwards
    /// [`Scratch::series`] gives `z_j/scale`. `h` holds the band bins `k_low..n/2`.
    pub(crate) fn correlate(&mut self, h: &[Complex64], seg: &ConditionedSegment) {
        let g = &seg.grid;
        assert_eq!(g.n, self.n);
        assert_eq!(h.len(), seg.w.len(), "template and segment bands differ");
        match &self.plan.transform {
            Transform::Split(s) => correlate_split(s, h, seg, &mut self.buf, &mut self.fft),
            Transform::Blocked(b) => {
                b.transform(h, &seg.w, g.k_low(), &mut self.buf, &mut self.fft)
            }
        }
    }

    /// The last [`Scratch::correlate`] result in time order.
    pub(crate) fn series(&self) -> SplitSeries<'_> {
        let offsets = &self.plan.offsets;
        SplitSeries {
            buf: &self.buf,
            offsets,
            mask: offsets.len() - 1,
            shift: offsets.len().trailing_zeros(),
        }
    }
}

/// The split transform: fills the two half buffers with `conj(h)·w` (and its twiddled copy)
/// on the band, zero below it, and transforms them.
fn correlate_split(
    plan: &Split,
    h: &[Complex64],
    seg: &ConditionedSegment,
    buf: &mut [Complex64],
    scratch: &mut [Complex64],
) {
    let g = &seg.grid;
    let (lo, half) = (g.k_low(), g.n / 2);
    let zero = Complex64::new(0.0, 0.0);
    let (even, odd) = buf.split_at_mut(half);
    even[..lo].fill(zero);
    odd[..lo].fill(zero);
    let tw = &plan.twiddles[lo..];
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
    plan.fft.process_with_scratch(buf, scratch);
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
    use super::super::cluster::{peak, window_maxima_by};
    use super::super::{condition_segment, newtonian_template};
    use super::*;

    /// A conditioned noise-like segment and a template band on an `n`-point grid at 2048 Hz.
    fn pair(n: usize) -> (ConditionedSegment, Vec<Complex64>) {
        let grid = DataGrid::new(n, 2048.0, 30.0);
        let x: Vec<f64> = (0..n)
            .map(|j| ((j as u64 * 2654435761) % 100003) as f64 / 100003.0 - 0.5)
            .collect();
        let psd: Vec<f64> = (0..grid.bins())
            .map(|k| 1.0 + 1e3 / (1 + k) as f64)
            .collect();
        let seg = condition_segment(&x, &psd, &grid);
        let h = newtonian_template(1.3, &grid)[grid.k_low()..grid.k_high()].to_vec();
        (seg, h)
    }

    /// Scratch for the split and the blocked transform of length `n`.
    fn both(n: usize) -> [Scratch; 2] {
        let blocked = Blocked::new(n).expect("a multiple of 64");
        [
            Scratch::with_plan(n, Arc::new(FilterPlan::split(n))),
            Scratch::with_plan(n, Arc::new(FilterPlan::blocked(blocked))),
        ]
    }

    /// The blocked transform gives the split one's series to 1e-12 of its peak, at every
    /// length the plan may give it (and shorter).
    #[test]
    fn blocked_series_equals_split_series() {
        for lg in [12, 15, 17, 19] {
            let n = 1 << lg;
            let (seg, h) = pair(n);
            let [mut a, mut b] = both(n);
            a.correlate(&h, &seg);
            b.correlate(&h, &seg);
            let (za, zb) = (a.series(), b.series());
            let peak = (0..n).map(|j| za.get(j).norm()).fold(0.0, f64::max);
            let worst = (0..n)
                .map(|j| (za.get(j) - zb.get(j)).norm())
                .fold(0.0, f64::max);
            eprintln!("n 2^{lg}: worst/peak {:.2e}", worst / peak);
            assert!(worst <= 1e-12 * peak, "n 2^{lg}: {:e}", worst / peak);
        }
    }

    /// A/B of the two transforms on one (template, segment) — transform and window scan — at
    /// 2^12..2^19, interleaved, single thread (`cargo test -p chirpfarm-worker --release --lib
    /// bench_split_against_blocked -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn bench_split_against_blocked() {
        for lg in 12..=19 {
            let n = 1usize << lg;
            let (seg, h) = pair(n);
            let mut sc = both(n);
            let mut wins = Vec::new();
            let mut times = [Vec::new(), Vec::new()];
            let reps = if lg >= 17 { 31 } else { 101 };
            for _ in 0..reps {
                for (s, t) in sc.iter_mut().zip(&mut times) {
                    let t0 = std::time::Instant::now();
                    s.correlate(&h, &seg);
                    let z = s.series();
                    window_maxima_by(|j| z.get(j), n / 8..n - n / 8, 2048, &mut wins);
                    std::hint::black_box(peak(&wins));
                    t.push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
            let [a, b] = times.map(|mut t| {
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            });
            eprintln!(
                "n = 2^{lg}: split {a:.3} ms, blocked {b:.3} ms (medians of {reps}), ratio {:.2}",
                a / b
            );
        }
    }

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
