//! The in-process signal search: the worker's engine called directly, with no coordinator, no
//! gRPC and no process to start. It is what the Python package's `chirpfarm.search(...)` runs
//! for a bank × signals search (a data search goes through the embedded cluster, as the CLI's).
//!
//! The numbers are the ones a worker computes for the same spec ([`Engine::filter_block`] is
//! the call a worker's task makes, and every template's result depends on that template and
//! signal only), so they equal `chirpfarm search --json` bit for bit.

use crate::error::CliError;
use crate::spec::Prepared;
use chirpfarm_core::TemplateResult;
use chirpfarm_worker::engine::Engine;

/// Filters every signal of `p` against its bank on `threads` compute threads (a rayon pool of
/// its own, so the caller's pool is left alone); `results[signal][template]` in bank order.
/// `stop` is asked before each template: once it answers `true` the search ends with
/// [`CliError::Interrupted`] within one template per thread (the Python package asks it whether
/// Ctrl-C was pressed).
pub fn search(
    p: &Prepared,
    threads: usize,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Vec<TemplateResult>>, CliError> {
    if p.spec.data.is_some() {
        return Err(CliError::Input(
            "a data search runs on the embedded cluster, not in-process".into(),
        ));
    }
    if threads == 0 || threads > crate::commands::max_threads() {
        return Err(CliError::Input(format!(
            "threads must be between 1 and 4 × this machine's cores ({}), got {threads}",
            crate::commands::max_threads()
        )));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("chirpfarm-local-{i}"))
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start {threads} compute threads: {e}")))?;
    // No template cache: each template is used once, for all signals (as the CLI's embedded
    // search, see `embedded::Options::search`).
    let engine = Engine::new(0);
    pool.install(|| {
        engine.filter_block_until(&p.masses, &p.spec.signals, p.spec.convention, &|_| stop())
    })
    .ok_or_else(|| CliError::Interrupted("interrupted: the in-process search stopped".into()))
}
