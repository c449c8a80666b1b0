//! Running leases: the job specs a worker keeps, and the computations it starts on its rayon
//! pool (and stops when a lease is revoked). What to start and when is decided by the session
//! state machine ([`crate::session`]); this is the part that computes.

use crate::data_cache::DataCache;
use crate::data_task::{run_data_lease, DataJob};
use crate::engine::data::{BankTemplate, DataEngine};
use crate::engine::Engine;
use crate::session::LeaseKey;
use chirpfarm_core::{SearchSpec, TemplateResult};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::worker_message::Msg as Out;
use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokio::sync::mpsc;

/// Jobs whose specs a worker keeps (the oldest without work in flight are forgotten first).
const KEEP_JOBS: usize = 32;

/// Test-only fault injection: a worker started with this variable set to a chirp mass panics
/// (inside its `catch_unwind`) when it filters that template, so tests can exercise a task that
/// fails on every worker. It lives here, in the daemon, not in the engine library.
pub const TEST_PANIC_ENV: &str = "CHIRPFARM_TEST_PANIC_MC";

fn injected_panic_mc() -> Option<f64> {
    static V: OnceLock<Option<f64>> = OnceLock::new();
    *V.get_or_init(|| {
        std::env::var(TEST_PANIC_ENV)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
    })
}

/// A job the worker has been told about.
pub struct JobCtx {
    spec: SearchSpec,
    /// The bank's chirp masses, or why the bank is unusable.
    masses: Result<Vec<f64>, String>,
    /// For a data search: its data (fetched on first use), or why the spec is unusable.
    data: Option<Result<Arc<DataJob>, String>>,
    /// For a data search: the bank's templates for its approximant, or why they are unusable
    /// (empty for signal searches, which filter `masses`).
    templates: Result<Vec<BankTemplate>, String>,
}

/// The job specs a worker keeps, bounded.
#[derive(Default)]
pub struct Jobs {
    map: HashMap<String, Arc<JobCtx>>,
    order: VecDeque<String>,
}

impl Jobs {
    /// Keeps a job's spec; forgets the oldest jobs without running leases (`busy`) beyond
    /// [`KEEP_JOBS`].
    pub fn add(&mut self, j: v1::JobSpec, busy: impl Fn(&str) -> bool) {
        if self.map.contains_key(&j.job_id) {
            return;
        }
        let ctx = match chirpfarm_proto::spec_from_proto(j.spec.as_ref()) {
            Ok(spec) => JobCtx {
                masses: spec.bank.masses(u64::MAX).map_err(|e| e.to_string()),
                data: spec.data.clone().map(|d| DataJob::new(d).map(Arc::new)),
                templates: match spec.data {
                    Some(_) => BankTemplate::list(&spec, u64::MAX).map_err(|e| e.to_string()),
                    None => Ok(Vec::new()),
                },
                spec,
            },
            Err(e) => JobCtx {
                spec: SearchSpec {
                    bank: chirpfarm_core::BankSpec::List(vec![]),
                    signals: vec![],
                    convention: Default::default(),
                    data: None,
                    approximant: Default::default(),
                    f_final: None,
                },
                masses: Err(e.to_string()),
                data: None,
                templates: Err(e.to_string()),
            },
        };
        self.map.insert(j.job_id.clone(), Arc::new(ctx));
        self.order.push_back(j.job_id);
        while self.order.len() > KEEP_JOBS {
            match self.order.iter().position(|id| !busy(id)) {
                Some(i) => {
                    if let Some(old) = self.order.remove(i) {
                        self.map.remove(&old);
                    }
                }
                None => break,
            }
        }
    }

    /// A kept job.
    pub fn get(&self, job_id: &str) -> Option<Arc<JobCtx>> {
        self.map.get(job_id).cloned()
    }
}

/// What a task computed: per-signal results, or a data search's peaks and triggers.
enum Output {
    /// `results[signal][template]`.
    Signals(Vec<Vec<TemplateResult>>),
    /// A data search's result, already in wire layout (boxed: twelve columns make it large).
    Data(Box<v1::DataResult>),
}

/// A finished computation, handed back from the rayon pool to the session loop as the message
/// to send (a result or a failure).
pub struct Done {
    /// The lease.
    pub key: LeaseKey,
    /// Its outcome.
    pub msg: Out,
    /// Matched filters it computed: templates × signals, or templates × segments for a data
    /// search (0 when it failed or computed nothing), for `/metrics`.
    pub filtered: u64,
}

/// Starts computations on the pool and stops them on request.
pub struct Compute {
    pool: Arc<rayon::ThreadPool>,
    engine: Arc<Engine>,
    data_engine: Arc<DataEngine>,
    data_cache: Arc<DataCache>,
    done_tx: mpsc::UnboundedSender<Done>,
    token: Option<String>,
    noop: bool,
    /// One flag per running lease; set on revocation, checked before every template.
    cancels: HashMap<LeaseKey, Arc<AtomicBool>>,
}

impl Compute {
    /// Computes on `pool` with these engines; outcomes go to `done_tx`.
    pub fn new(
        pool: Arc<rayon::ThreadPool>,
        engine: Arc<Engine>,
        data_engine: Arc<DataEngine>,
        data_cache: Arc<DataCache>,
        done_tx: mpsc::UnboundedSender<Done>,
        token: Option<String>,
        noop: bool,
    ) -> Compute {
        Compute {
            pool,
            engine,
            data_engine,
            data_cache,
            done_tx,
            token,
            noop,
            cancels: HashMap::new(),
        }
    }

    /// Stops a running lease: templates not yet started are skipped.
    pub fn cancel(&mut self, key: &LeaseKey) {
        if let Some(flag) = self.cancels.get(key) {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// A lease's outcome arrived: its flag is no longer needed.
    pub fn forget(&mut self, key: &LeaseKey) {
        self.cancels.remove(key);
    }

    /// Starts a lease; `channel` is the current connection (data searches fetch blobs on it).
    pub fn start(
        &mut self,
        l: v1::Lease,
        job: Option<Arc<JobCtx>>,
        channel: Option<tonic::transport::Channel>,
    ) {
        let key = (l.job_id.clone(), l.task, l.attempt);
        let cancel = Arc::new(AtomicBool::new(false));
        self.cancels.insert(key.clone(), cancel.clone());
        let done_tx = self.done_tx.clone();
        if self.noop {
            let signals = job.map(|j| j.spec.signals.len()).unwrap_or(0);
            let zeros = vec![vec![TemplateResult::default(); l.count as usize]; signals];
            let msg = result_message(key.clone(), Ok(Output::Signals(zeros)), 0.0, 0);
            let _ = done_tx.send(Done {
                key,
                msg,
                filtered: 0,
            });
            return;
        }
        if let Some(Some(data)) = job.as_ref().map(|j| j.data.clone()) {
            let job = job.expect("a job");
            self.start_data(key, l, job, data, channel, cancel);
            return;
        }
        let engine = self.engine.clone();
        self.pool.spawn(move || {
            let t0 = Instant::now();
            let before = engine.templates_generated();
            let (outcome, signals) = match job {
                None => (Err(format!("no spec received for {}", l.job_id)), 0),
                Some(job) => (
                    run_lease(&engine, &job, l.start, l.count, &cancel),
                    job.spec.signals.len() as u64,
                ),
            };
            let filtered = if outcome.is_ok() {
                l.count as u64 * signals
            } else {
                0
            };
            let generated = engine.templates_generated().saturating_sub(before);
            let msg = result_message(key.clone(), outcome, t0.elapsed().as_secs_f64(), generated);
            let _ = done_tx.send(Done { key, msg, filtered });
        });
    }

    /// Starts a data-search lease: fetches the job's data if needed (on the async runtime),
    /// then filters on the rayon pool.
    fn start_data(
        &self,
        key: LeaseKey,
        l: v1::Lease,
        job: Arc<JobCtx>,
        data: Result<Arc<DataJob>, String>,
        channel: Option<tonic::transport::Channel>,
        cancel: Arc<AtomicBool>,
    ) {
        let (pool, engine, cache, done_tx) = (
            self.pool.clone(),
            self.data_engine.clone(),
            self.data_cache.clone(),
            self.done_tx.clone(),
        );
        let token = self.token.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let loaded = match &data {
                Ok(d) => d.load(&cache, channel, token.as_deref()).await,
                Err(e) => Err(e.clone()),
            };
            pool.spawn(move || {
                let before = engine.templates_generated();
                let outcome = loaded.and_then(|loaded| {
                    if cancel.load(Ordering::Relaxed) {
                        return Err("revoked before it started".into());
                    }
                    let d = data.as_ref().map_err(|e| e.clone())?;
                    let templates = job.templates.as_ref().map_err(|e| e.clone())?;
                    let templates = bank_slice(templates, l.start, l.count)?;
                    catch(|| {
                        run_data_lease(
                            &engine,
                            &cache,
                            d,
                            &loaded,
                            l.start,
                            templates,
                            (l.segment_start, l.segment_count),
                        )
                    })?
                    .map(|d| Output::Data(Box::new(d)))
                });
                let filtered = if outcome.is_ok() {
                    l.count as u64 * l.segment_count as u64
                } else {
                    0
                };
                let generated = engine.templates_generated().saturating_sub(before);
                let msg =
                    result_message(key.clone(), outcome, t0.elapsed().as_secs_f64(), generated);
                let _ = done_tx.send(Done { key, msg, filtered });
            });
        });
    }
}

/// The bank slice a lease names, or why it is outside the bank.
fn lease_slice(job: &JobCtx, start: u64, count: u32) -> Result<&[f64], String> {
    let masses = job.masses.as_ref().map_err(|e| e.clone())?;
    bank_slice(masses, start, count)
}

/// `bank[start..start + count]`, or why it is outside the bank.
fn bank_slice<T>(bank: &[T], start: u64, count: u32) -> Result<&[T], String> {
    let end = start
        .checked_add(count as u64)
        .filter(|e| *e <= bank.len() as u64);
    let Some(end) = end else {
        return Err(format!(
            "lease {start}+{count} is outside the bank of {}",
            bank.len()
        ));
    };
    Ok(&bank[start as usize..end as usize])
}

/// Runs `f`, turning a panic into an error (a worker never dies of a bad task).
fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        format!("engine panicked: {msg}")
    })
}

/// Runs one signal-search lease, stopping early if `cancel` is set; a panic inside the engine
/// becomes an error, never a dead worker.
fn run_lease(
    engine: &Engine,
    job: &JobCtx,
    start: u64,
    count: u32,
    cancel: &AtomicBool,
) -> Result<Output, String> {
    let slice = lease_slice(job, start, count)?;
    let inject = injected_panic_mc();
    let stop = |mc: f64| {
        if inject.is_some_and(|p| (mc - p).abs() <= 1e-12) {
            panic!("{TEST_PANIC_ENV}: injected panic at template Mc = {mc}");
        }
        cancel.load(Ordering::Relaxed)
    };
    catch(|| engine.filter_block_until(slice, &job.spec.signals, job.spec.convention, &stop))?
        .map(Output::Signals)
        .ok_or_else(|| "revoked: stopped before the end".into())
}

fn result_message(
    (job_id, task, attempt): LeaseKey,
    outcome: Result<Output, String>,
    seconds: f64,
    generated: u64,
) -> Out {
    match outcome {
        Ok(Output::Data(data)) => Out::Result(v1::TaskResult {
            job_id,
            task,
            attempt,
            signals: Vec::new(),
            compute_seconds: seconds,
            templates_generated: generated,
            data: Some(*data),
        }),
        Ok(Output::Signals(per_signal)) => Out::Result(v1::TaskResult {
            job_id,
            task,
            attempt,
            signals: per_signal
                .iter()
                .map(|rs| chirpfarm_proto::signal_block(rs))
                .collect(),
            compute_seconds: seconds,
            templates_generated: generated,
            data: None,
        }),
        Err(reason) => Out::Failed(v1::TaskFailed {
            job_id,
            task,
            attempt,
            reason,
        }),
    }
}
