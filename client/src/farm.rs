//! A job on a coordinator as a library object: submitted, then watched in the background while
//! the caller does something else (the Python package draws its own progress bar, hands out
//! partial results and checks for Ctrl-C between short waits).
//!
//! The calls are the CLI's own — [`crate::commands::submit_named`], [`crate::remote::collect`]
//! with the CLI's sinks, [`crate::commands::check_succeeded`], [`DataReport::new`] — so a job
//! watched here gives exactly the numbers `chirpfarm search --json` prints.

use crate::commands::check_succeeded;
use crate::data::DataMeta;
use crate::data_output::{DataReport, DataSink};
use crate::error::CliError;
use crate::progress::Progress;
use crate::remote::{collect, Collected, Conn, SignalSink, Sink};
use chirpfarm_core::{SearchSpec, TemplateResult};
use chirpfarm_proto::v1;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// What a job's result blocks are gathered into: the sink the CLI uses for its kind of search.
#[derive(Debug, Clone)]
pub enum Gathered {
    /// A signal search: `results[signal][template]`, a prefix of the bank so far.
    Signals(SignalSink),
    /// A data search: peaks and triggers.
    Data(DataSink),
}

impl Sink for Gathered {
    fn block(&mut self, cursor: u64, b: &v1::ResultBlock) -> Result<(), String> {
        match self {
            Gathered::Signals(s) => s.block(cursor, b),
            Gathered::Data(d) => d.block(cursor, b),
        }
    }
}

/// The sink shared between the watching task and the caller, who may read a prefix of the
/// results while the job runs.
#[derive(Debug, Clone)]
struct Shared(Arc<Mutex<Gathered>>);

impl Sink for Shared {
    fn block(&mut self, cursor: u64, b: &v1::ResultBlock) -> Result<(), String> {
        let mut g = self
            .0
            .lock()
            .map_err(|_| "the results were poisoned by a panic".to_string())?;
        g.block(cursor, b)
    }
}

/// A finished job's results.
#[derive(Debug, Clone)]
pub enum Finished {
    /// A signal search: `results[signal][template]` in bank order.
    Signals {
        /// `results[signal][template]`.
        results: Vec<Vec<TemplateResult>>,
        /// Seconds from submission to the last result.
        wall_seconds: f64,
        /// Workers registered at the end.
        workers: u32,
    },
    /// A data search: the report the CLI prints.
    Data(Box<DataReport>),
}

/// A job being watched by a background task on the current tokio runtime.
#[derive(Debug)]
pub struct Watching {
    /// The job's id on the coordinator.
    pub job_id: String,
    /// Its search, to label results.
    pub spec: SearchSpec,
    /// Its bank's chirp masses.
    pub masses: Vec<f64>,
    /// A data search's file details, when this client prepared it.
    pub meta: Option<DataMeta>,
    gathered: Arc<Mutex<Gathered>>,
    progress: Progress,
    task: Option<JoinHandle<Result<Collected, CliError>>>,
    /// What [`Watching::finish`] returned, once it has.
    outcome: Option<Result<Finished, CliError>>,
}

impl Watching {
    /// Starts watching `job_id` (a task on the current runtime: call it inside one). `masses`
    /// are the bank's chirp masses; no bar is drawn (see [`Watching::counts`]).
    pub fn start(
        conn: &Conn,
        job_id: &str,
        spec: SearchSpec,
        masses: Vec<f64>,
        meta: Option<DataMeta>,
    ) -> Watching {
        let templates = masses.len() as u64;
        let gathered = match &spec.data {
            Some(d) => Gathered::Data(DataSink::for_spec(templates, d)),
            None => Gathered::Signals(SignalSink::new(spec.signals.len(), templates)),
        };
        let gathered = Arc::new(Mutex::new(gathered));
        let progress = Progress::new(templates, true);
        let task = {
            let (conn, job, mut sink, progress) = (
                conn.clone(),
                job_id.to_string(),
                Shared(Arc::clone(&gathered)),
                progress.clone(),
            );
            tokio::spawn(async move { collect(&conn, &job, &mut sink, &progress).await })
        };
        Watching {
            job_id: job_id.to_string(),
            spec,
            masses,
            meta,
            gathered,
            progress,
            task: Some(task),
            outcome: None,
        }
    }

    /// Templates done and in total, as the coordinator last reported.
    pub fn counts(&self) -> (u64, u64) {
        self.progress.counts()
    }

    /// Whether the job has ended (or the watch failed): [`Watching::finish`] will not wait.
    pub fn is_done(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// A signal search's results received so far, a prefix of the bank from template `from`:
    /// `results[signal][from..]`; empty for a data search or when nothing new arrived.
    pub fn signal_results_from(&self, from: usize) -> Vec<Vec<TemplateResult>> {
        let Ok(g) = self.gathered.lock() else {
            return Vec::new();
        };
        match &*g {
            Gathered::Signals(s) => s
                .results
                .iter()
                .map(|r| r.get(from..).unwrap_or_default().to_vec())
                .collect(),
            Gathered::Data(_) => Vec::new(),
        }
    }

    /// Templates of a signal search received so far, in bank order (0 for a data search).
    pub fn templates_received(&self) -> usize {
        match self.gathered.lock().as_deref() {
            Ok(Gathered::Signals(s)) => match s.results.first() {
                Some(first) => first.len(),
                // No signals: nothing to receive, every template is "done" with the job.
                None if self.is_done() => self.masses.len(),
                None => 0,
            },
            _ => 0,
        }
    }

    /// Waits for the job's end and returns its results; fails as the CLI would (the job failed
    /// or was cancelled, the coordinator was lost, a block did not check out). Later calls
    /// return the same outcome.
    pub async fn finish(&mut self) -> Result<Finished, CliError> {
        if self.outcome.is_none() {
            let outcome = self.finish_once().await;
            self.outcome = Some(outcome);
        }
        self.outcome.clone().expect("set above")
    }

    async fn finish_once(&mut self) -> Result<Finished, CliError> {
        let task = self
            .task
            .take()
            .ok_or_else(|| CliError::Failed(format!("{}: results already taken", self.job_id)))?;
        let collected = task
            .await
            .map_err(|e| CliError::Failed(format!("watching {} failed: {e}", self.job_id)))??;
        check_succeeded(&self.job_id, &collected.finished)?;
        let gathered = self
            .gathered
            .lock()
            .map_err(|_| CliError::Failed("the results were poisoned by a panic".into()))?
            .clone();
        let wall_seconds = collected.finished.wall_seconds;
        match gathered {
            Gathered::Signals(s) => Ok(Finished::Signals {
                results: s.results,
                wall_seconds,
                workers: collected.workers,
            }),
            Gathered::Data(sink) => {
                let data = self.spec.data.clone().ok_or_else(|| {
                    CliError::Failed("a data search's results without its data".into())
                })?;
                let meta = self.meta.clone().unwrap_or_else(|| DataMeta {
                    file: format!(
                        "(uploaded to the coordinator: sha256 {})",
                        data.strain.hex()
                    ),
                    psd: format!("(uploaded: sha256 {})", data.psd.hex()),
                    samples: data.n_samples(),
                });
                let report = DataReport::new(
                    self.masses.clone(),
                    self.spec.bank.params().map(|p| p.to_vec()),
                    data,
                    (self.spec.approximant, self.spec.f_final),
                    meta,
                    sink,
                    (wall_seconds, collected.workers, self.job_id.clone()),
                )
                .map_err(CliError::Failed)?;
                Ok(Finished::Data(Box::new(report)))
            }
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        // Stop watching (the job itself keeps running on the coordinator).
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// The search a job on `conn` runs and its bank's chirp masses (as `chirpfarm watch` gets
/// them: the spec comes from the network, so the bank is bounded before it is built).
pub async fn job_spec(conn: &Conn, job_id: &str) -> Result<(SearchSpec, Vec<f64>), CliError> {
    let info = conn
        .client()
        .get_job(conn.req(v1::JobRef {
            job_id: job_id.to_string(),
        }))
        .await
        .map_err(|s| conn.status_error(s))?
        .into_inner();
    let spec = chirpfarm_proto::spec_from_proto(info.spec.as_ref())?;
    let masses = spec.bank.masses(crate::spec::CLIENT_MAX_TEMPLATES)?;
    Ok((spec, masses))
}
