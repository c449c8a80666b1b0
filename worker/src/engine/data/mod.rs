//! The matched filter over real strain data (PyCBC's `matched_filter` and
//! `threshold_and_cluster`), for data searches.
//!
//! | module | concern |
//! |---|---|
//! | [`grid`](mod@grid) | [`DataGrid`]: segment length, sample rate, band `[k_low, n/2)` |
//! | [`template`](mod@template) | the seed's Newtonian chirp on any grid |
//! | [`taylorf2`](mod@taylorf2) | TaylorF2 (LAL's) on any grid, from per-grid power tables |
//! | [`condition`](mod@condition) | `w_k = Δt·rfft(d)_k/S_k` once per segment; σ² |
//! | [`filter`](mod@filter) | shared plans, per-thread buffers, multiply-fill → inverse FFT |
//! | [`cluster`](mod@cluster) | one pass over the analysed slice: window maxima, peak, PyCBC clustering |
//! | [`cache`](mod@cache) | a bounded LRU of band templates keyed by (waveform, grid) |
//! | [`batch`](mod@batch) | [`DataEngine`]: rayon over templates × segments |
//!
//! Conventions (PyCBC 2.11, checked against its output in `worker/tests/data_filter.rs`):
//! `d̃_k = Δt·rfft(d)_k`; band `k ∈ [floor(f_low/Δf), n/2)`; `σ² = 4Δf Σ|h̃|²/S`;
//! `z_j = (4Δf/σ) Σ conj(h̃_k) d̃_k/S_k e^{+2πijk/n}` (unnormalised complex inverse FFT of
//! length `n`); triggers are `|z| > threshold`, clustered as PyCBC's CPU
//! `ThresholdCluster` does; the phase is `atan2(Im z, Re z)`.

pub mod batch;
pub mod cache;
pub mod cluster;
pub mod condition;
mod fft;
mod fft_passes;
pub mod filter;
pub mod grid;
mod tables;
pub mod taylorf2;
pub mod template;

pub use batch::{BankTemplate, DataEngine, SegmentRef, TemplateOutcome};
pub use condition::{condition_segment, sigmasq, ConditionedSegment};
pub use filter::snr_series;
pub use grid::DataGrid;
pub use template::{newtonian_template, newtonian_template_into};
