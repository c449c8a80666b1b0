//! # chirpfarm-waveform
//!
//! Frequency-domain gravitational waveforms, one job: given a binary's parameters and a
//! frequency grid, the template `h̃(f)`.
//!
//! * [`TaylorF2`]: the 3.5PN stationary-phase inspiral with aligned spins, coefficients built
//!   once per binary, equal to LALSuite 7.26's `SimInspiralChooseFDWaveform(TaylorF2)` (phase
//!   ≤ 1e-9 rad, amplitude ≤ 1e-9 relative; `tests/lal.rs` against committed fixtures).
//! * [`taylorf2_into`]: the direct, per-bin evaluation (the reference).
//! * [`FreqTables`] + [`TaylorF2::fill_tabulated`]: the fast evaluation for many templates on
//!   one grid (per-grid tables of `f^(1/3)`, `f^(−1/3)`, `ln f`, `f^(−7/6)`; a few multiplies
//!   and one `sincos` per bin).
//! * [`constants`]: LAL's `MTSUN_SI`, `MRSUN_SI`, `PC_SI` (not the seed's `MSUN`).
//!
//! The seed's Newtonian chirp stays in `chirpfarm-worker` (its numpy-exact form is tied to the
//! seed's constant); [`chirpfarm_core::Approximant`] names which one a search uses.

#![deny(missing_docs)]

pub mod constants;
mod tables;
mod taylorf2;

pub use chirpfarm_core::{Approximant, TemplateParams};
pub use tables::FreqTables;
pub use taylorf2::{taylorf2_into, TaylorF2};
