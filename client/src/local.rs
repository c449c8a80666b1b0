//! The in-process signal search: the worker's engine called directly, with no coordinator, no
//! gRPC and no process to start. It is what the Python package's `chirpfarm.search(...)` runs
//! for a bank × signals search (a data search goes through the embedded cluster, as the CLI's).
//!
//! The numbers are the ones a worker computes for the same spec ([`Engine::filter_block`] is
//! the call a worker's task makes, and every template's result depends on that template and
//! signal only), so they equal `chirpfarm search --json` bit for bit.
//!
//! A search in a notebook is called again and again, so its compute threads, their buffers and
//! the engine's template storage are kept for the process ([`Context`]) instead of being
//! started, and their memory faulted in, by every call (~2 ms of a ~25 ms seed search on two
//! cores).

use crate::error::CliError;
use crate::spec::Prepared;
use chirpfarm_core::TemplateResult;
use chirpfarm_worker::engine::{filter::with_scratch, Engine};
use std::sync::{Arc, Mutex};

/// The compute threads and the engine an in-process search runs on, kept between searches.
///
/// Why per process and checked against the process id: a Python program may `fork` (its
/// `multiprocessing` does) after a search, and a child has none of its parent's threads, so a
/// context made by another process is never used (nor dropped: its threads are not there to
/// be told to end).
struct Context {
    /// The process that made it.
    pid: u32,
    /// Its thread count.
    threads: usize,
    /// A rayon pool of its own, so that the caller's (or rayon's global) pool is left alone.
    pool: Arc<rayon::ThreadPool>,
    /// The engine, without a template cache (each template of a search is used once, for all
    /// of its signals, as in the CLI's embedded search); its template storage is reused.
    engine: Arc<Engine>,
}

/// The process's [`Context`], made by the first search or by [`warm`].
static CONTEXT: Mutex<Option<Context>> = Mutex::new(None);

/// The context for `threads` threads: this process's, or a new one (which then replaces it).
fn context(threads: usize) -> Result<(Arc<rayon::ThreadPool>, Arc<Engine>), CliError> {
    let mut slot = CONTEXT.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    if let Some(c) = slot
        .as_ref()
        .filter(|c| c.pid == pid && c.threads == threads)
    {
        return Ok((Arc::clone(&c.pool), Arc::clone(&c.engine)));
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("chirpfarm-local-{i}"))
            .build()
            .map_err(|e| {
                CliError::Failed(format!("cannot start {threads} compute threads: {e}"))
            })?,
    );
    // Made on the pool: the one-time tables are built on its threads, and each thread's
    // filter buffers and two template slots (its template in flight and the next one, or a
    // signal) are mapped now; the slots are given back once every thread holds its own.
    let engine = Arc::new(pool.install(|| Engine::new(0)));
    let slots = pool.broadcast(|_| {
        with_scratch(|s| s.prefault());
        engine.prefault(2)
    });
    drop(slots);
    let old = slot.replace(Context {
        pid,
        threads,
        pool: Arc::clone(&pool),
        engine: Arc::clone(&engine),
    });
    if let Some(old) = old.filter(|c| c.pid != pid) {
        // Another process's (we were forked): its threads do not exist here.
        std::mem::forget(old);
    }
    Ok((pool, engine))
}

/// Filters every signal of `p` against its bank on `threads` compute threads;
/// `results[signal][template]` in bank order. `stop` is asked before each template: once it
/// answers `true` the search ends with [`CliError::Interrupted`] within one template per thread
/// (the Python package asks it whether Ctrl-C was pressed).
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
    check_threads(threads)?;
    let (pool, engine) = context(threads)?;
    pool.install(|| {
        engine.filter_block_until(&p.masses, &p.spec.signals, p.spec.convention, &|_| stop())
    })
    .ok_or_else(|| CliError::Interrupted("interrupted: the in-process search stopped".into()))
}

/// `threads` must be between 1 and [`crate::commands::max_threads`].
fn check_threads(threads: usize) -> Result<(), CliError> {
    if threads == 0 || threads > crate::commands::max_threads() {
        return Err(CliError::Input(format!(
            "threads must be between 1 and 4 × this machine's cores ({}), got {threads}",
            crate::commands::max_threads()
        )));
    }
    Ok(())
}

/// Makes the process's search context for `threads` threads now (~2 ms on two cores: the
/// engine's frequency tables and FFT plan, the threads and their buffers), so that the first
/// [`search`] does not wait for it. The Python package calls it when it is imported, as the
/// seed's `filtering` module computes its frequency array when it is imported.
pub fn warm(threads: usize) -> Result<(), CliError> {
    check_threads(threads)?;
    context(threads).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_is_kept_and_replaced_when_the_thread_count_changes() {
        let (p1, e1) = context(1).unwrap();
        let (p1b, e1b) = context(1).unwrap();
        assert!(Arc::ptr_eq(&p1, &p1b) && Arc::ptr_eq(&e1, &e1b));
        let (p2, _) = context(2).unwrap();
        assert_eq!(p2.current_num_threads(), 2);
        assert!(!Arc::ptr_eq(&p1, &p2));
        assert!(warm(0).is_err());
    }
}
