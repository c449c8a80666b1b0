//! `chirpfarm._native`: the Rust half of the Python package.
//!
//! Thin on purpose: every rule, number and message comes from the `chirpfarm` client library
//! (the code behind the CLI) and the worker's engine; this crate only moves values between
//! Python and Rust. The Python half (`python/chirpfarm/`) adds the keyword API, docstrings,
//! result classes and the progress bar.
//!
//! | file | concern |
//! |---|---|
//! | `errors.rs` | CLI errors → Python exceptions (`ValueError`, `PermissionError`, ...) |
//! | `inputs.rs` | keyword arguments → a validated search ([`chirpfarm::spec::prepare_with`]) |
//! | `arrays.rs` | results → numpy arrays (moved, not copied) |
//! | `local.rs`  | the in-process search and `template()` |
//! | `farm.rs`   | `Farm` and `Job`: a coordinator, or the embedded cluster |
//!
//! The GIL is released whenever Rust computes or waits, in slices of at most
//! [`SLICE`], between which pending signals are checked: Ctrl-C in a notebook raises
//! `KeyboardInterrupt` within a fraction of a second.

use pyo3::prelude::*;
use std::time::Duration;

mod arrays;
mod errors;
mod farm;
mod inputs;
mod local;

/// The longest the GIL stays released before pending signals (Ctrl-C) are checked.
pub const SLICE: Duration = Duration::from_millis(50);

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<inputs::Prepared>()?;
    m.add_class::<farm::Farm>()?;
    m.add_class::<farm::Job>()?;
    m.add_function(wrap_pyfunction!(inputs::prepare, m)?)?;
    m.add_function(wrap_pyfunction!(local::search_local, m)?)?;
    m.add_function(wrap_pyfunction!(local::template, m)?)?;
    m.add_function(wrap_pyfunction!(local::default_threads, m)?)?;
    m.add("SEED_BANK", "0.8:1.74:0.01")?;
    // The engine's one-time tables, now rather than in the first search (see `local::warm`).
    local::warm(m.py())?;
    Ok(())
}
