//! # chirpfarm-worker
//!
//! The numerics of chirpfarm and the daemon that serves them to a coordinator: [`daemon`] (the
//! I/O shell), [`session`] (the protocol as a sans-IO state machine), [`idle`] (when an idle
//! worker leaves, `--idle-timeout`), [`lease`] (running and revoking computations), [`metrics`]
//! (Prometheus counters and the `/metrics` endpoint).
//!
//! A tour of [`engine`], the matched-filter engine:
//!
//! * [`engine::template()`], [`engine::normsq`], [`engine::normtemplate`], [`engine::maxsnr`]: the
//!   seed's numpy module, reproduced to ~1e-12 (tests/fixtures holds numpy's own numbers).
//! * [`engine::signal`]: a signal from its parameters ([`chirpfarm_core::SignalSpec`]), so signals
//!   never travel as arrays.
//! * [`engine::Engine`]: the per-process workhorse. `filter_block(masses, signals, convention)`
//!   filters a contiguous slice of the bank against a set of signals, parallel over templates
//!   on the current rayon pool, with a bounded template cache and no allocation per filtered
//!   template (buffers are per thread).
//! * [`engine::SingleFilter`] and [`engine::bench_per_template_seconds`]: one template at a time,
//!   for benchmarks (`cargo bench -p chirpfarm-worker --bench filter`).
//!
//! Both SNR conventions of [`chirpfarm_core::SnrConvention`] are supported: the seed's
//! real-part `maxsnr` (for parity) and the phase-maximised physical |z| (PyCBC's white-noise
//! matched filter).

pub mod daemon;
pub mod data_cache;
pub mod data_task;
pub mod engine;
pub mod idle;
pub mod lease;
pub mod metrics;
pub mod session;
