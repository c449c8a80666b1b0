//! The worker daemon: a long-lived session with a coordinator.
//!
//! It registers, grants credits (pull-based: the coordinator never sends more leases than that),
//! runs each lease on its own rayon pool with the [`Engine`], streams the
//! results back and grants a new credit. Heartbeats are sent from the async runtime, so compute
//! never delays them. When the coordinator is not up yet or goes away, the daemon reconnects
//! with exponential back-off. On shutdown it stops taking work, finishes what it holds (up to a
//! grace period), reports it, and returns.

use crate::data_cache::DataCache;
use crate::data_task::{run_data_lease, DataJob};
use crate::engine::data::DataEngine;
use crate::engine::Engine;
use chirpfarm_core::{SearchSpec, TemplateResult};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::coordinator_message::Msg as In;
use chirpfarm_proto::v1::worker_message::Msg as Out;
use chirpfarm_proto::v1::worker_session_client::WorkerSessionClient;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Code;

/// Settings of a worker daemon.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Coordinator URL, e.g. `http://127.0.0.1:50051`.
    pub coordinator: String,
    /// Name shown by `chirpfarm workers`.
    pub name: String,
    /// Host name reported to the coordinator.
    pub host: String,
    /// Compute threads (the rayon pool size).
    pub threads: usize,
    /// Template cache budget in bytes (for each kind of template: the seed grid's and data
    /// grids').
    pub cache_bytes: usize,
    /// Data cache budget in bytes: strain and PSD blobs, conditioned segments.
    pub data_cache_bytes: usize,
    /// Shared secret, if the coordinator requires one.
    pub token: Option<String>,
    /// TLS settings for an `https://` coordinator (CA, and a client certificate for mTLS).
    pub tls: chirpfarm_proto::connect::ClientTls,
    /// Tasks requested ahead (one running, the rest queued so the worker never idles).
    pub credits: u32,
    /// How long shutdown waits for in-flight tasks to finish.
    pub shutdown_grace: Duration,
    /// Longest pause between reconnection attempts.
    pub max_backoff: Duration,
    /// Benchmark mode: answer every lease at once with zeros, without computing (measures the
    /// coordinator's dispatch overhead).
    pub noop: bool,
}

impl WorkerConfig {
    /// Defaults for `coordinator`: all cores, 1 GiB of template cache, 2 credits.
    pub fn new(coordinator: impl Into<String>) -> WorkerConfig {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let host = hostname();
        WorkerConfig {
            coordinator: coordinator.into(),
            name: format!("{host}-{}", std::process::id()),
            host,
            threads,
            cache_bytes: 1024 << 20,
            data_cache_bytes: 2048 << 20,
            token: None,
            tls: Default::default(),
            credits: 2,
            shutdown_grace: Duration::from_secs(30),
            max_backoff: Duration::from_secs(5),
            noop: false,
        }
    }
}

/// Why the daemon stopped for good (anything else is retried).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The coordinator refused this worker (protocol version, token): retrying cannot help.
    #[error("the coordinator refused this worker: {0}")]
    Refused(String),
    /// The rayon pool could not be built.
    #[error("cannot start compute threads: {0}")]
    Pool(String),
    /// The coordinator URL is malformed, or does not match the TLS settings.
    #[error("{1}")]
    BadAddress(String, String),
}

/// The machine's host name (from the environment or /etc/hostname), or `unknown`.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// A job the worker has been told about.
struct JobCtx {
    spec: SearchSpec,
    /// The bank's chirp masses, or why the bank is unusable.
    masses: Result<Vec<f64>, String>,
    /// For a data search: its data (fetched on first use), or why the spec is unusable.
    data: Option<Result<Arc<DataJob>, String>>,
}

/// What a task computed: per-signal results, or a data search's peaks and triggers.
enum Output {
    /// `results[signal][template]`.
    Signals(Vec<Vec<TemplateResult>>),
    /// A data search's result, already in wire layout.
    Data(v1::DataResult),
}

/// A finished computation, handed back from the rayon pool to the session loop.
struct Done {
    /// (job id, task, attempt).
    key: (String, u64, u64),
    outcome: Result<Output, String>,
    seconds: f64,
    generated: u64,
}

/// What ended a session.
enum SessionEnd {
    /// Shutdown requested and in-flight work reported.
    Shutdown,
    /// Connection lost or coordinator draining: reconnect.
    Reconnect(String),
}

/// Runs the daemon until `shutdown` resolves (returns `Ok`) or the coordinator refuses it.
pub async fn run(
    config: WorkerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads.max(1))
        .thread_name(|i| format!("chirpfarm-compute-{i}"))
        .build()
        .map_err(|e| DaemonError::Pool(e.to_string()))?;
    let engine = Arc::new(Engine::new(config.cache_bytes));
    run_with(config, Arc::new(pool), engine, shutdown).await
}

/// Like [`run`], with a caller-provided pool and engine (the embedded cluster shares them).
pub async fn run_with(
    config: WorkerConfig,
    pool: Arc<rayon::ThreadPool>,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    let endpoint = chirpfarm_proto::connect::endpoint(&config.coordinator, &config.tls)
        .map_err(|e| DaemonError::BadAddress(config.coordinator.clone(), e))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut backoff = Duration::from_millis(100);
    let mut worker_id = String::new();
    let mut daemon = Daemon::new(&config, pool, engine, stop_rx.clone());
    loop {
        daemon.collect_offline();
        if *stop_rx.borrow() {
            daemon.draining_since.get_or_insert_with(Instant::now);
            if daemon.finished_draining() {
                return Ok(());
            }
        }
        let started = Instant::now();
        let end = match chirpfarm_proto::connect::connect(&endpoint).await {
            Ok(channel) => daemon.session(channel, &mut worker_id).await?,
            Err(e) => SessionEnd::Reconnect(e),
        };
        daemon.collect_offline();
        match end {
            SessionEnd::Shutdown => return Ok(()),
            SessionEnd::Reconnect(why) => {
                if started.elapsed() > Duration::from_secs(10) {
                    backoff = Duration::from_millis(100);
                }
                tracing::warn!(coordinator = %config.coordinator, retry_in_ms = backoff.as_millis() as u64, "{why}");
                let mut stop = stop_rx.clone();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s), if daemon.draining_since.is_none() => {}
                }
                backoff = (backoff * 2).min(config.max_backoff);
            }
        }
    }
}

/// Jobs whose specs a worker keeps (the oldest without work in flight are forgotten first).
const KEEP_JOBS: usize = 32;

/// State that outlives a connection: jobs, tasks in flight and results not yet delivered, so a
/// worker that reconnects (coordinator restart, network cut, SIGSTOP) re-attaches with them.
struct Daemon<'a> {
    config: &'a WorkerConfig,
    pool: Arc<rayon::ThreadPool>,
    engine: Arc<Engine>,
    data_engine: Arc<DataEngine>,
    data_cache: Arc<DataCache>,
    /// The current connection, for fetching blobs (`None` while disconnected).
    channel: Option<tonic::transport::Channel>,
    stop: tokio::sync::watch::Receiver<bool>,
    jobs: HashMap<String, Arc<JobCtx>>,
    job_order: VecDeque<String>,
    in_flight: HashSet<(String, u64, u64)>,
    revoked: HashSet<(String, u64, u64)>,
    /// Finished while disconnected: sent after re-registering.
    undelivered: Vec<Done>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    draining_since: Option<Instant>,
}

type OutTx = mpsc::UnboundedSender<v1::WorkerMessage>;

fn send(tx: &OutTx, m: Out) {
    let _ = tx.send(v1::WorkerMessage { msg: Some(m) });
}

impl<'a> Daemon<'a> {
    fn new(
        config: &'a WorkerConfig,
        pool: Arc<rayon::ThreadPool>,
        engine: Arc<Engine>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Daemon {
            config,
            pool,
            engine,
            data_engine: Arc::new(DataEngine::new(config.cache_bytes)),
            data_cache: Arc::new(DataCache::new(config.data_cache_bytes)),
            channel: None,
            stop,
            jobs: HashMap::new(),
            job_order: VecDeque::new(),
            in_flight: HashSet::new(),
            revoked: HashSet::new(),
            undelivered: Vec::new(),
            done_tx,
            done_rx,
            draining_since: None,
        }
    }

    /// Whether shutdown was requested and nothing is left to report.
    fn finished_draining(&self) -> bool {
        self.draining_since.is_some_and(|since| {
            (self.in_flight.is_empty() && self.undelivered.is_empty())
                || since.elapsed() > self.config.shutdown_grace
        })
    }

    /// One connection: register (re-attaching with in-flight work), then serve until it ends.
    async fn session(
        &mut self,
        channel: tonic::transport::Channel,
        worker_id: &mut String,
    ) -> Result<SessionEnd, DaemonError> {
        self.channel = Some(channel.clone());
        let mut client = WorkerSessionClient::new(channel)
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20);
        let (out_tx, out_rx) = mpsc::unbounded_channel::<v1::WorkerMessage>();
        let template_bytes = crate::engine::NF * std::mem::size_of::<num_complex::Complex64>();
        let in_flight: Vec<v1::TaskRef> = self
            .in_flight
            .iter()
            .filter(|k| !self.revoked.contains(*k))
            .chain(self.undelivered.iter().map(|d| &d.key))
            .map(|(job_id, task, attempt)| v1::TaskRef {
                job_id: job_id.clone(),
                task: *task,
                attempt: *attempt,
            })
            .collect();
        let holding = in_flight.len() as u32;
        send(
            &out_tx,
            Out::Register(v1::Register {
                protocol_version: chirpfarm_proto::PROTOCOL_VERSION,
                name: self.config.name.clone(),
                host: self.config.host.clone(),
                threads: self.config.threads as u32,
                build_version: chirpfarm_proto::BUILD_VERSION.into(),
                worker_id: worker_id.clone(),
                in_flight,
                cache_capacity_templates: (self.config.cache_bytes / template_bytes) as u64,
            }),
        );
        let mut req = tonic::Request::new(UnboundedReceiverStream::new(out_rx));
        chirpfarm_proto::auth::attach_token(&mut req, self.config.token.as_deref());
        let mut inbound = match client.session(req).await {
            Ok(r) => r.into_inner(),
            Err(s)
                if matches!(
                    s.code(),
                    Code::FailedPrecondition | Code::Unauthenticated | Code::PermissionDenied
                ) =>
            {
                return Err(DaemonError::Refused(s.message().to_string()))
            }
            Err(s) => {
                return Ok(SessionEnd::Reconnect(format!(
                    "session refused: {}",
                    s.message()
                )))
            }
        };
        let heartbeat_every = match inbound.message().await {
            Ok(Some(v1::CoordinatorMessage {
                msg: Some(In::Registered(r)),
            })) => {
                *worker_id = r.worker_id;
                Duration::from_millis(r.heartbeat_interval_ms.max(50) as u64)
            }
            Ok(_) => {
                return Ok(SessionEnd::Reconnect(
                    "coordinator did not confirm registration".into(),
                ))
            }
            Err(s) => {
                return Ok(SessionEnd::Reconnect(format!(
                    "registration failed: {}",
                    s.message()
                )))
            }
        };
        tracing::info!(worker = %worker_id, coordinator = %self.config.coordinator, threads = self.config.threads, reattached = holding, "registered");
        // Results that finished while we were away go first; the coordinator adopted their
        // leases (or revoked them) when we registered.
        for done in self.undelivered.drain(..) {
            send(&out_tx, result_message(done));
        }
        if self.draining_since.is_none() {
            let credits = self
                .config
                .credits
                .saturating_sub(self.in_flight.len() as u32);
            if credits > 0 {
                send(&out_tx, Out::Credit(v1::Credit { credits }));
            }
        }
        let mut heartbeat = tokio::time::interval(heartbeat_every);
        let mut stop = self.stop.clone();
        loop {
            if self.finished_draining() {
                tracing::info!(handed_back = self.in_flight.len(), "worker stopping");
                return Ok(SessionEnd::Shutdown);
            }
            tokio::select! {
                _ = heartbeat.tick() => {
                    send(&out_tx, Out::Heartbeat(v1::Heartbeat { templates_cached: self.engine.cached_templates() as u64 }));
                }
                _ = stop.wait_for(|s| *s), if self.draining_since.is_none() => {
                    tracing::info!(in_flight = self.in_flight.len(), "shutdown requested: finishing current tasks");
                    self.draining_since = Some(Instant::now());
                }
                Some(done) = self.done_rx.recv() => {
                    self.in_flight.remove(&done.key);
                    if !self.revoked.remove(&done.key) {
                        send(&out_tx, result_message(done));
                    }
                    if self.draining_since.is_none() {
                        send(&out_tx, Out::Credit(v1::Credit { credits: 1 }));
                    }
                }
                msg = inbound.message() => match msg {
                    Ok(Some(m)) => {
                        if let Some(end) = self.on_message(m) {
                            return Ok(end);
                        }
                    }
                    Ok(None) => return Ok(SessionEnd::Reconnect("coordinator closed the session".into())),
                    Err(s) => return Ok(SessionEnd::Reconnect(format!("session lost: {}", s.message()))),
                },
            }
        }
    }

    /// Collects results that finish while disconnected, so they can be delivered later.
    fn collect_offline(&mut self) {
        while let Ok(done) = self.done_rx.try_recv() {
            self.in_flight.remove(&done.key);
            if !self.revoked.remove(&done.key) {
                self.undelivered.push(done);
            }
        }
    }

    fn on_message(&mut self, m: v1::CoordinatorMessage) -> Option<SessionEnd> {
        match m.msg? {
            In::Registered(_) => {}
            In::Job(j) => self.add_job(j),
            In::Lease(l) => self.start(l),
            In::Revoke(r) => {
                let key = (r.job_id, r.task, r.attempt);
                if self.in_flight.contains(&key) {
                    self.revoked.insert(key);
                }
            }
            In::Drain(_) => {
                return Some(SessionEnd::Reconnect("coordinator is shutting down".into()))
            }
        }
        None
    }

    fn add_job(&mut self, j: v1::JobSpec) {
        if self.jobs.contains_key(&j.job_id) {
            return;
        }
        let ctx = match chirpfarm_proto::spec_from_proto(j.spec.as_ref()) {
            Ok(spec) => JobCtx {
                masses: spec.bank.masses(u64::MAX).map_err(|e| e.to_string()),
                data: spec.data.clone().map(|d| DataJob::new(d).map(Arc::new)),
                spec,
            },
            Err(e) => JobCtx {
                spec: SearchSpec {
                    bank: chirpfarm_core::BankSpec::List(vec![]),
                    signals: vec![],
                    convention: Default::default(),
                    data: None,
                },
                masses: Err(e.to_string()),
                data: None,
            },
        };
        self.jobs.insert(j.job_id.clone(), Arc::new(ctx));
        self.job_order.push_back(j.job_id);
        while self.job_order.len() > KEEP_JOBS {
            let busy = |id: &String| self.in_flight.iter().any(|k| &k.0 == id);
            match self.job_order.iter().position(|id| !busy(id)) {
                Some(i) => {
                    if let Some(old) = self.job_order.remove(i) {
                        self.jobs.remove(&old);
                    }
                }
                None => break,
            }
        }
    }

    /// Starts a lease on the rayon pool; its outcome comes back through `done_rx`.
    fn start(&mut self, l: v1::Lease) {
        let key = (l.job_id.clone(), l.task, l.attempt);
        if !self.in_flight.insert(key.clone()) {
            return; // already running this very attempt (re-attached)
        }
        let job = self.jobs.get(&l.job_id).cloned();
        let engine = self.engine.clone();
        let done_tx = self.done_tx.clone();
        if self.config.noop {
            let signals = job.map(|j| j.spec.signals.len()).unwrap_or(0);
            let zeros = vec![vec![TemplateResult::default(); l.count as usize]; signals];
            let _ = done_tx.send(Done {
                key,
                outcome: Ok(Output::Signals(zeros)),
                seconds: 0.0,
                generated: 0,
            });
            return;
        }
        if let Some(Some(data)) = job.as_ref().map(|j| j.data.clone()) {
            let job = job.expect("a job");
            self.start_data(key, l, job, data);
            return;
        }
        self.pool.spawn(move || {
            let t0 = Instant::now();
            let before = engine.templates_generated();
            let outcome = match job {
                None => Err(format!("no spec received for {}", l.job_id)),
                Some(job) => run_lease(&engine, &job, l.start, l.count).map(Output::Signals),
            };
            let _ = done_tx.send(Done {
                key,
                outcome,
                seconds: t0.elapsed().as_secs_f64(),
                generated: engine.templates_generated().saturating_sub(before),
            });
        });
    }
}

impl Daemon<'_> {
    /// Starts a data-search lease: fetches the job's data if needed (on the async runtime),
    /// then filters on the rayon pool; the outcome comes back through `done_rx`.
    fn start_data(
        &self,
        key: (String, u64, u64),
        l: v1::Lease,
        job: Arc<JobCtx>,
        data: Result<Arc<DataJob>, String>,
    ) {
        let (pool, engine, cache, done_tx) = (
            self.pool.clone(),
            self.data_engine.clone(),
            self.data_cache.clone(),
            self.done_tx.clone(),
        );
        let channel = self.channel.clone();
        let token = self.config.token.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let loaded = match &data {
                Ok(d) => d.load(&cache, channel, token.as_deref()).await,
                Err(e) => Err(e.clone()),
            };
            pool.spawn(move || {
                let before = engine.templates_generated();
                let outcome = loaded.and_then(|loaded| {
                    let d = data.as_ref().map_err(|e| e.clone())?;
                    let masses = lease_slice(&job, l.start, l.count)?;
                    catch(|| {
                        run_data_lease(
                            &engine,
                            &cache,
                            d,
                            &loaded,
                            l.start,
                            masses,
                            (l.segment_start, l.segment_count),
                        )
                    })?
                    .map(Output::Data)
                });
                let _ = done_tx.send(Done {
                    key,
                    outcome,
                    seconds: t0.elapsed().as_secs_f64(),
                    generated: engine.templates_generated().saturating_sub(before),
                });
            });
        });
    }
}

/// The bank slice a lease names, or why it is outside the bank.
fn lease_slice(job: &JobCtx, start: u64, count: u32) -> Result<&[f64], String> {
    let masses = job.masses.as_ref().map_err(|e| e.clone())?;
    let end = start
        .checked_add(count as u64)
        .filter(|e| *e <= masses.len() as u64);
    let Some(end) = end else {
        return Err(format!(
            "lease {start}+{count} is outside the bank of {}",
            masses.len()
        ));
    };
    Ok(&masses[start as usize..end as usize])
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

/// Runs one lease; a panic inside the engine becomes an error, never a dead worker.
fn run_lease(
    engine: &Engine,
    job: &JobCtx,
    start: u64,
    count: u32,
) -> Result<Vec<Vec<TemplateResult>>, String> {
    let slice = lease_slice(job, start, count)?;
    catch(|| engine.filter_block(slice, &job.spec.signals, job.spec.convention))
}

fn result_message(done: Done) -> Out {
    let (job_id, task, attempt) = done.key;
    match done.outcome {
        Ok(Output::Data(data)) => Out::Result(v1::TaskResult {
            job_id,
            task,
            attempt,
            signals: Vec::new(),
            compute_seconds: done.seconds,
            templates_generated: done.generated,
            data: Some(data),
        }),
        Ok(Output::Signals(per_signal)) => Out::Result(v1::TaskResult {
            job_id,
            task,
            attempt,
            signals: per_signal
                .into_iter()
                .map(|rs| v1::SignalBlock {
                    snr: rs.iter().map(|r| r.snr).collect(),
                    lag_seconds: rs.iter().map(|r| r.lag_seconds).collect(),
                })
                .collect(),
            compute_seconds: done.seconds,
            templates_generated: done.generated,
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
