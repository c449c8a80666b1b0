//! The matched-filter engine: the seed's numerics, made fast.
//!
//! | module | concern |
//! |---|---|
//! | [`grid`] | constants, the frequency grid, Mc-independent power tables (built once) |
//! | [`trig`] | a branch-free, vectorisable `sincos` accurate to ~1 ulp |
//! | [`template`](mod@template) | `template`, `normsq`, `normtemplate`, delayed signals (numpy parity) |
//! | [`filter`] | per-thread buffers, multiply → c2r → max scan for both SNR conventions |
//! | [`fused`] | our c2r of length 2^17, fused with the multiply and the max scan (AVX-512/AVX2/scalar) |
//! | `dispatch` | the one run-time CPU-feature detection: the instruction-set level every hot loop runs at |
//! | [`cache`] | a bounded LRU cache of normalised templates |
//! | [`counters`] | hit, miss and eviction counts of every worker cache (for `/metrics`) |
//! | [`slab`] | template slots, reused after eviction (no page faults once warm) |
//! | `nofork` | memory left out of forked children (no copy-on-write faults after a `fork`) |
//! | [`batch`] | [`Engine`]: rayon over templates × signals with the cache |
//! | [`data`] | the matched filter over real strain data (PyCBC parity): [`data::DataEngine`] |
//!
//! Parity with the seed's numpy module (`tests/fixtures`, `worker/tests/parity.rs`): SNRs agree
//! to ~3.5e-13 relative (tested at 1e-9), lags exactly, template arrays to ≤ 1 ulp of the phase
//! at 40 Hz, i.e. ≤ 9.1e-13 of the array's largest |value| (tested at 1e-12).
//!
//! Cost per template (one thread, this project's 2-core AMD EPYC (Zen 4) dev VM): ~0.14 ms to
//! generate with AVX-512 (~0.28 ms with AVX2 only), ~0.24 ms to filter one signal in the seed
//! convention (pass 1 ~0.07 ms, step 2 ~0.15 ms of which `rustfft` ~0.1 ms, pass 3 ~0.04 ms;
//! FFTW's c2r pipeline takes ~0.37 ms on the same machine) and ~0.5 ms in the physical one. The hot loops
//! are compiled for AVX-512, AVX2 and the baseline and chosen at run time; all variants give
//! bit-identical results.

pub mod batch;
pub mod cache;
pub mod counters;
pub mod data;
mod dispatch;
pub mod filter;
pub mod fused;
pub mod grid;
mod nofork;
#[cfg(test)]
mod reference;
pub mod slab;
pub mod template;
pub mod trig;

pub use batch::{warm, Engine};
pub use cache::{TemplateCache, TEMPLATE_BYTES};
pub use counters::{CacheCounters, CacheStats};
pub use filter::{bench_per_template_seconds, lag_seconds, maxsnr, maxsnr_physical, SingleFilter};
pub use grid::{DF, DT, FMIN, K0, MSUN, N, NB, NF};
pub use template::{normsq, normtemplate, signal, template, NormTemplate};
