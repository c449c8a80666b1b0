//! The process-wide plan of the fused c2r: `rustfft`'s row transform and the twiddle tables of
//! the three passes.
//!
//! Separate from the passes because it is built once (a few ms, on first use) and only read
//! afterwards: everything here runs once per process, so it favours exactness (quarter turns
//! exact, arguments reduced in integers) over speed, while the passes are all hot loops.

use super::{H, M, N, SUB};
use rustfft::{Fft, FftPlanner};
use std::f64::consts::PI;
use std::sync::{Arc, OnceLock};

/// `e^{2πi·a/b}`, the argument reduced exactly (`a mod b`) and quarter turns exact.
pub(super) fn expi(a: usize, b: usize) -> (f64, f64) {
    let a = a % b;
    if (4 * a).is_multiple_of(b) {
        return [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][4 * a / b];
    }
    let (s, c) = (2.0 * PI * (a as f64) / b as f64).sin_cos();
    (c, s)
}

/// Real and imaginary parts of `e^{2πi·a/b}` for `a` in `range`, as two arrays.
fn expi_table(range: std::ops::Range<usize>, mul: usize, b: usize) -> (Box<[f64]>, Box<[f64]>) {
    let (re, im): (Vec<f64>, Vec<f64>) = range.map(|a| expi(a * mul, b)).unzip();
    (re.into_boxed_slice(), im.into_boxed_slice())
}

/// `e^{2πi·mul·q/H}` for `q = 8u + v`, stored at `v·SUB + u`.
fn expi_table_vu(mul: usize) -> (Box<[f64]>, Box<[f64]>) {
    let (re, im): (Vec<f64>, Vec<f64>) = (0..M)
        .map(|i| expi(mul * (8 * (i % SUB) + i / SUB), H))
        .unzip();
    (re.into_boxed_slice(), im.into_boxed_slice())
}

/// Twiddle tables, struct-of-arrays so lanes load contiguously. Precomputed because the passes
/// need a fresh twiddle per lane and `sin_cos` would dominate them; each table is stored in
/// the order its pass reads it, so every load is one contiguous vector.
pub(super) struct Twiddles {
    /// `e^{2πi·8c/N}` for `c = 0..=M/2` (pass 1: `w_{8c+r} = u_c·ρ_r`).
    pub(super) u: (Box<[f64]>, Box<[f64]>),
    /// `ρ_r = e^{2πir/N}`, `r = 0..8`.
    pub(super) rho: (Box<[f64]>, Box<[f64]>),
    /// `ω^q = e^{2πiq/H}` for `q = 8u + v`, stored at `v·SUB + u` (pass 3's order).
    pub(super) om1: (Box<[f64]>, Box<[f64]>),
    /// `ω^{2q}`, the same order.
    pub(super) om2: (Box<[f64]>, Box<[f64]>),
    /// `e^{2πid/M}`, `d = 0..SUB` (step 2).
    pub(super) c1: (Box<[f64]>, Box<[f64]>),
    /// `e^{2πi·2d/M}`, `d = 0..SUB`.
    pub(super) c2: (Box<[f64]>, Box<[f64]>),
}

impl Twiddles {
    /// Computes every table (to `sin_cos`'s accuracy, quarter turns exact).
    fn build() -> Twiddles {
        Twiddles {
            u: expi_table(0..M / 2 + 1, 8, N),
            rho: expi_table(0..8, 1, N),
            om1: expi_table_vu(1),
            om2: expi_table_vu(2),
            c1: expi_table(0..SUB, 1, M),
            c2: expi_table(0..SUB, 2, M),
        }
    }
}

/// The process-wide row plan and twiddles. One shared, immutable instance (see [`plan`]):
/// building it costs a few ms and it holds ~0.35 MiB of tables, so it is never per thread.
pub struct Plan {
    /// Inverse complex FFT of length [`SUB`] (unnormalised).
    pub(super) row: Arc<dyn Fft<f64>>,
    /// Twiddles of passes 1 and 3.
    pub(super) tw: Twiddles,
}

impl Plan {
    /// Scratch the row FFT needs (in place).
    pub fn scratch_len(&self) -> usize {
        self.row.get_inplace_scratch_len()
    }
}

/// The plan, built on first use (a few ms).
pub fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| Plan {
        row: FftPlanner::<f64>::new().plan_fft_inverse(SUB),
        tw: Twiddles::build(),
    })
}
