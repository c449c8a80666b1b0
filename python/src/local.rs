//! The in-process search ([`chirpfarm::local::search`]) and the seed's `template()`, with the
//! GIL released and Ctrl-C honoured while the engine runs.

use crate::errors::to_py;
use crate::inputs::Prepared;
use crate::SLICE;
use chirpfarm_core::SignalSpec;
use chirpfarm_worker::engine;
use numpy::{Complex64, PyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

/// The compute threads a search uses by default: one per core, as the CLI's.
#[pyfunction]
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Runs a signal search in this process on `threads` threads; returns `snr`, `lag` and
/// `best_index` arrays. Ctrl-C stops it within one template per thread
/// (`KeyboardInterrupt`).
#[pyfunction]
#[pyo3(signature = (prepared, threads=None))]
pub fn search_local<'py>(
    py: Python<'py>,
    prepared: &Prepared,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let p = &prepared.inner;
    let threads = threads.unwrap_or_else(default_threads);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel();
    // A receiver is not `Sync`: behind a lock so that a reference may cross `detach`.
    let rx = Mutex::new(rx);
    let recv = |timeout: Option<std::time::Duration>| -> Result<_, mpsc::RecvTimeoutError> {
        let rx = rx
            .lock()
            .map_err(|_| mpsc::RecvTimeoutError::Disconnected)?;
        match timeout {
            Some(t) => rx.recv_timeout(t),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        }
    };
    let results = std::thread::scope(|s| {
        let stop = &stop;
        s.spawn(move || {
            let _ = tx.send(chirpfarm::local::search(p, threads, &|| {
                stop.load(Ordering::Relaxed)
            }));
        });
        loop {
            match py.detach(|| recv(Some(SLICE))) {
                Ok(r) => return r.map_err(to_py),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(pyo3::exceptions::PyRuntimeError::new_err(
                        "the in-process search ended without a result",
                    ))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Err(e) = py.check_signals() {
                stop.store(true, Ordering::Relaxed);
                // The engine stops within one template per thread; the scope joins it.
                let _ = py.detach(|| recv(None));
                if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
                    return Err(pyo3::exceptions::PyKeyboardInterrupt::new_err(
                        "interrupted: the in-process search stopped",
                    ));
                }
                return Err(e);
            }
        }
    })?;
    crate::arrays::signal_results(py, &results, p.masses.len())
}

/// Makes the in-process search's compute context (the engine's tables, the compute threads and
/// their buffers: ~2 ms on two cores, GIL released) so that the first search does not wait for
/// it; called once, when the module is imported, as the seed's `filtering` module computes its
/// frequency array at import.
pub fn warm(py: Python<'_>) -> PyResult<()> {
    py.detach(|| chirpfarm::local::warm(default_threads()))
        .map_err(to_py)
}

/// The seed's frequency-domain chirp `template(Mc)` on its grid (65537 bins, 0 to 1024 Hz),
/// delayed by `delay` seconds, normalised with `normsq` when `normalised`.
#[pyfunction]
#[pyo3(signature = (mc, delay=0.0, normalised=false))]
pub fn template<'py>(
    py: Python<'py>,
    mc: f64,
    delay: f64,
    normalised: bool,
) -> PyResult<Bound<'py, PyArray1<Complex64>>> {
    chirpfarm_core::spec::McRange::parse("0.1:100")
        .and_then(|r| r.check("mc", mc))
        .map_err(|e| to_py(e.into()))?;
    if !delay.is_finite() {
        return Err(crate::errors::value(format!(
            "delay must be a finite number of seconds, got {delay}"
        )));
    }
    let v = py.detach(|| {
        let mut t = engine::signal(&SignalSpec {
            mc,
            delay_seconds: delay,
        });
        if normalised {
            let norm = engine::normsq(&t).sqrt();
            t.iter_mut().for_each(|x| *x /= norm);
        }
        t
    });
    Ok(PyArray1::from_vec(py, v))
}
