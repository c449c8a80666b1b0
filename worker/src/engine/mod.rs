//! The matched-filter engine: the seed's numerics, made fast.
//!
//! | module | concern |
//! |---|---|
//! | [`grid`] | constants, the frequency grid, Mc-independent power tables (built once) |
//! | [`trig`] | a branch-free, vectorisable `sincos` accurate to ~1 ulp |
//! | [`template`] | `template`, `normsq`, `normtemplate`, delayed signals (numpy parity) |
//! | [`filter`] | the c2r plan, per-thread buffers, fused multiply → c2r → max scan, both SNR conventions |
//! | [`cache`] | a bounded LRU cache of normalised templates |
//! | [`batch`] | [`Engine`]: rayon over templates × signals with the cache |
//!
//! Parity with the seed's numpy module (tests/fixtures): SNRs to ≤ 1e-12 relative, arrays to
//! ~1e-12 of their largest value, lags exactly.

pub mod batch;
pub mod cache;
pub mod filter;
pub mod grid;
pub mod template;
pub mod trig;

pub use batch::Engine;
pub use cache::{TemplateCache, TEMPLATE_BYTES};
pub use filter::{bench_per_template_seconds, lag_seconds, maxsnr, maxsnr_physical, SingleFilter};
pub use grid::{DF, DT, FMIN, K0, MSUN, N, NB, NF};
pub use template::{normsq, normtemplate, signal, template, NormTemplate};
