//! `Farm` (a coordinator, or the embedded cluster) and `Job` (a submitted search being
//! watched): the client library's calls on a tokio runtime owned by the farm, with the GIL
//! released while they run.

use crate::errors::to_py;
use crate::inputs::Prepared;
use crate::SLICE;
use chirpfarm::args::Remote;
use chirpfarm::embedded::{Embedded, Options};
use chirpfarm::error::CliError;
use chirpfarm::farm::{job_spec, Finished, Watching};
use chirpfarm::manage;
use chirpfarm::remote::Conn;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a farm and its jobs share. Field order is drop order: the embedded cluster is stopped
/// while the runtime still exists.
struct Inner {
    embedded: Mutex<Option<Embedded>>,
    conn: Conn,
    rt: tokio::runtime::Runtime,
}

impl Inner {
    /// Runs `fut` to its end on the farm's runtime with the GIL released.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        fut: impl std::future::Future<Output = Result<T, CliError>> + Send,
    ) -> PyResult<T> {
        py.detach(|| self.rt.block_on(fut)).map_err(to_py)
    }
}

/// A runtime for one farm: two threads are plenty for gRPC (the embedded workers compute on
/// their own rayon pools).
fn runtime() -> PyResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("chirpfarm-io")
        .enable_all()
        .build()
        .map_err(|e| {
            to_py(CliError::Failed(format!(
                "cannot start the async runtime: {e}"
            )))
        })
}

/// A connection to a coordinator, or an embedded cluster in this process.
#[pyclass(module = "chirpfarm._native", frozen)]
pub struct Farm {
    inner: Arc<Inner>,
}

#[pymethods]
impl Farm {
    /// Connects to the coordinator at `url` (`http://host:port`, or `https://` with
    /// `ca_file`), with the token in `token_file` (else `$CHIRPFARM_TOKEN`), and checks
    /// that it answers and accepts the token.
    #[new]
    #[pyo3(signature = (url, token_file=None, ca_file=None))]
    fn new(
        py: Python<'_>,
        url: String,
        token_file: Option<PathBuf>,
        ca_file: Option<PathBuf>,
    ) -> PyResult<Farm> {
        let rt = runtime()?;
        let remote = Remote {
            coordinator: Some(url),
            token_file,
            ca_file,
        };
        let conn = py
            .detach(|| {
                rt.block_on(async {
                    let conn = chirpfarm::commands::connect(&remote).await?;
                    // One call now: a wrong token or a port that is not a coordinator is
                    // reported here, not at the first search.
                    manage::list_workers(&conn).await?;
                    Ok::<_, CliError>(conn)
                })
            })
            .map_err(to_py)?;
        Ok(Farm {
            inner: Arc::new(Inner {
                embedded: Mutex::new(None),
                conn,
                rt,
            }),
        })
    }

    /// Starts an embedded cluster: a coordinator and `workers` worker daemons talking over
    /// in-memory pipes (no port), of `threads` compute threads each, with `cache_mb` MB of
    /// template cache each.
    #[staticmethod]
    #[pyo3(signature = (workers=1, threads=None, cache_mb=1024))]
    fn local(
        py: Python<'_>,
        workers: usize,
        threads: Option<usize>,
        cache_mb: usize,
    ) -> PyResult<Farm> {
        if workers == 0 || workers > 64 {
            return Err(crate::errors::value(format!(
                "workers must be between 1 and 64, got {workers}"
            )));
        }
        let cores = crate::local::default_threads();
        let threads = threads.unwrap_or((cores / workers).max(1));
        if threads == 0 || threads > chirpfarm::commands::max_threads() {
            return Err(crate::errors::value(format!(
                "threads must be between 1 and 4 × this machine's cores ({}), got {threads}",
                chirpfarm::commands::max_threads()
            )));
        }
        let rt = runtime()?;
        let opts = Options {
            workers,
            threads,
            chunk_size: None,
            cache_bytes: cache_mb.saturating_mul(1 << 20),
            noop: false,
            credits: 2,
            transport: chirpfarm::embedded::Transport::InProcess,
        };
        let (embedded, conn) = py
            .detach(|| {
                rt.block_on(async {
                    let e = Embedded::start(opts).await?;
                    let conn = e.connect().await?;
                    Ok::<_, CliError>((e, conn))
                })
            })
            .map_err(to_py)?;
        Ok(Farm {
            inner: Arc::new(Inner {
                embedded: Mutex::new(Some(embedded)),
                conn,
                rt,
            }),
        })
    }

    /// The coordinator's URL.
    #[getter]
    fn url(&self) -> String {
        self.inner.conn.url.clone()
    }

    /// Whether this farm is an embedded cluster.
    #[getter]
    fn is_local(&self) -> bool {
        self.inner.embedded.lock().is_ok_and(|e| e.is_some())
    }

    /// Submits a prepared search; the job is watched from now on.
    #[pyo3(signature = (prepared, name=None, chunk_size=None, wait_for_workers=true))]
    fn submit(
        &self,
        py: Python<'_>,
        prepared: &Prepared,
        name: Option<String>,
        chunk_size: Option<u32>,
        wait_for_workers: bool,
    ) -> PyResult<Job> {
        let p = &prepared.inner;
        let name = name
            .map(|n| chirpfarm::args::job_name(&n).map_err(crate::errors::value))
            .transpose()?;
        if chunk_size == Some(0) {
            return Err(crate::errors::value("chunk_size must be at least 1"));
        }
        let conn = &self.inner.conn;
        let sub = self.inner.run(py, async {
            chirpfarm::commands::submit_named(
                conn,
                p,
                chunk_size,
                wait_for_workers,
                name.as_deref(),
            )
            .await
        })?;
        let meta = p.data.as_ref().map(|d| d.meta.clone());
        let _guard = self.inner.rt.enter();
        let w = Watching::start(conn, &sub.job_id, p.spec.clone(), p.masses.clone(), meta);
        Ok(Job::new(&self.inner, w))
    }

    /// Watches a job already on the coordinator (submitted earlier, or by someone else).
    fn job(&self, py: Python<'_>, job_id: String) -> PyResult<Job> {
        let conn = &self.inner.conn;
        let (spec, masses) = self.inner.run(py, job_spec(conn, &job_id))?;
        let _guard = self.inner.rt.enter();
        let w = Watching::start(conn, &job_id, spec, masses, None);
        Ok(Job::new(&self.inner, w))
    }

    /// The coordinator's jobs as the CLI's `jobs --json` document.
    fn jobs_json(&self, py: Python<'_>) -> PyResult<String> {
        let jobs = self.inner.run(py, manage::list_jobs(&self.inner.conn))?;
        Ok(chirpfarm::listings::jobs_json(&jobs, manage::now_ms()).to_string())
    }

    /// The registered workers as the CLI's `workers --json` document.
    fn workers_json(&self, py: Python<'_>) -> PyResult<String> {
        let w = self.inner.run(py, manage::list_workers(&self.inner.conn))?;
        Ok(chirpfarm::listings::workers_json(&w).to_string())
    }

    /// Cancels a job by id; returns its state afterwards (`cancelled`, or how it had ended).
    fn cancel(&self, py: Python<'_>, job_id: String) -> PyResult<String> {
        cancel(&self.inner, py, &job_id)
    }

    /// Stops the embedded cluster (nothing for a remote farm; jobs there keep running).
    fn close(&self, py: Python<'_>) {
        let e = self.inner.embedded.lock().ok().and_then(|mut e| e.take());
        if let Some(e) = e {
            py.detach(|| self.inner.rt.block_on(e.stop()));
        }
    }
}

/// Cancels `job_id`; its state name afterwards.
fn cancel(inner: &Inner, py: Python<'_>, job_id: &str) -> PyResult<String> {
    let info = inner.run(py, manage::cancel_job(&inner.conn, job_id))?;
    Ok(chirpfarm::listings::state_name(info.state).to_string())
}

/// A submitted search, watched in the background.
#[pyclass(module = "chirpfarm._native", frozen)]
pub struct Job {
    inner: Arc<Inner>,
    watching: Mutex<Watching>,
    /// The job's id on the coordinator.
    #[pyo3(get)]
    job_id: String,
}

impl Job {
    fn new(inner: &Arc<Inner>, w: Watching) -> Job {
        Job {
            inner: Arc::clone(inner),
            job_id: w.job_id.clone(),
            watching: Mutex::new(w),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Watching) -> T) -> PyResult<T> {
        let mut w = self.watching.lock().map_err(|_| {
            pyo3::exceptions::PyRuntimeError::new_err("the job's state is poisoned")
        })?;
        Ok(f(&mut w))
    }
}

#[pymethods]
impl Job {
    /// Waits up to `timeout` seconds (forever if None) for the job to end, with the GIL
    /// released in short slices and Ctrl-C checked between them; whether it ended.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline = match timeout {
            Some(t) if !(t.is_finite() && t >= 0.0) => {
                return Err(crate::errors::value(format!(
                    "timeout must be a non-negative number of seconds, got {t}"
                )))
            }
            Some(t) => Some(Instant::now() + Duration::from_secs_f64(t.min(1e9))),
            None => None,
        };
        loop {
            if self.with(|w| w.is_done())? {
                return Ok(true);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(false);
            }
            let slice = deadline.map_or(SLICE, |d| (d - now).min(SLICE));
            py.detach(|| std::thread::sleep(slice.min(Duration::from_millis(10))));
            py.check_signals()?;
        }
    }

    /// `(templates done, templates in total)` as the coordinator last reported.
    fn counts(&self) -> PyResult<(u64, u64)> {
        self.with(|w| w.counts())
    }

    /// Templates whose results arrived, a prefix of the bank (signal searches).
    fn received(&self) -> PyResult<usize> {
        self.with(|w| w.templates_received())
    }

    /// The bank's chirp masses (M☉).
    #[getter]
    fn bank_mc<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let m = self.with(|w| w.masses.clone())?;
        Ok(PyArray1::from_vec(py, m))
    }

    /// The signals' chirp masses and delays (M☉, s).
    #[getter]
    fn signals(&self) -> PyResult<(Vec<f64>, Vec<f64>)> {
        self.with(|w| {
            let s = &w.spec.signals;
            (
                s.iter().map(|x| x.mc).collect(),
                s.iter().map(|x| x.delay_seconds).collect(),
            )
        })
    }

    /// `"seed"` or `"physical"`.
    #[getter]
    fn convention(&self) -> PyResult<&'static str> {
        self.with(|w| w.spec.convention.name())
    }

    /// Whether this is a data search.
    #[getter]
    fn is_data(&self) -> PyResult<bool> {
        self.with(|w| w.spec.data.is_some())
    }

    /// `snr` and `lag` (signals × templates) of the templates received from `start` on.
    fn partial<'py>(&self, py: Python<'py>, start: usize) -> PyResult<Bound<'py, PyDict>> {
        let r = self.with(|w| w.signal_results_from(start))?;
        let cols = r.first().map_or(0, |x| x.len());
        crate::arrays::snr_lag(py, &r, cols)
    }

    /// Waits for the end and returns the results (a dict of arrays); raises as the CLI fails.
    fn result<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.wait(py, None)?;
        let templates = self.with(|w| w.masses.len())?;
        let finished = py
            .detach(|| {
                let mut w = self
                    .watching
                    .lock()
                    .map_err(|_| CliError::Failed("the job's state is poisoned".into()))?;
                self.inner.rt.block_on(w.finish())
            })
            .map_err(to_py)?;
        match finished {
            Finished::Signals {
                results,
                wall_seconds,
                workers,
            } => {
                let d = crate::arrays::signal_results(py, &results, templates)?;
                d.set_item("wall_seconds", wall_seconds)?;
                d.set_item("workers", workers)?;
                Ok(d)
            }
            Finished::Data(report) => crate::arrays::data_results(py, &report),
        }
    }

    /// Cancels the job on the coordinator; its state afterwards.
    fn cancel(&self, py: Python<'_>) -> PyResult<String> {
        cancel(&self.inner, py, &self.job_id)
    }
}
