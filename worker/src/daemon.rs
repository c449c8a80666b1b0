//! The worker daemon: a long-lived session with a coordinator.
//!
//! This file is the I/O shell: the connection, heartbeats, back-off and shutdown. The protocol's
//! rules live in the sans-IO [`crate::session`] state machine, and computations in
//! [`crate::lease`]. It registers, grants credits (pull-based: the coordinator never sends more leases than that),
//! runs each lease on its own rayon pool with the [`Engine`], streams the
//! results back and grants a new credit. Heartbeats are sent from the async runtime, so compute
//! never delays them. When the coordinator is not up yet or goes away, the daemon reconnects
//! with exponential back-off. On shutdown it stops taking work, finishes what it holds (up to a
//! grace period), reports it, and returns. With an idle timeout ([`crate::idle`]) it also
//! returns, deregistering by closing its session, once it has held no task for that long.

use crate::data_cache::DataCache;
use crate::engine::data::DataEngine;
use crate::engine::Engine;
use crate::idle::IdleTimer;
use crate::lease::{Compute, Done, Jobs};
use crate::metrics::{Sources, WorkerMetrics};
use crate::session::{Effect, Profile, WorkerSession};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::coordinator_message::Msg as In;
use chirpfarm_proto::v1::worker_message::Msg as Out;
use chirpfarm_proto::v1::worker_session_client::WorkerSessionClient;
use std::future::Future;
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
    /// Where to serve `GET /metrics` (Prometheus), if anywhere; port 0 picks a free port (the
    /// bound address is logged).
    pub metrics_listen: Option<String>,
    /// Leave (deregister and return `Ok`) after holding no task for this long; `None` (the
    /// default) stays forever. For batch jobs, which cost walltime while they wait.
    pub idle_timeout: Option<Duration>,
    /// Reach the coordinator through this in-process transport instead of the network (the
    /// embedded cluster: coordinator and worker in one process, no socket); `coordinator` is
    /// then only the name used in messages.
    pub dialer: Option<chirpfarm_proto::memory::MemoryDialer>,
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
            metrics_listen: None,
            idle_timeout: None,
            dialer: None,
        }
    }
}

/// Why the daemon stopped for good (anything else is retried).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The coordinator refused this worker's credentials (a wrong or missing token or client
    /// certificate): retrying cannot help, and it is the operator's input to fix (exit 2, as
    /// in the CLI).
    #[error("the coordinator refused this worker: {0}")]
    Denied(String),
    /// The coordinator refused this worker for another reason: it is not one this worker can
    /// use (another protocol version, or a TLS coordinator reached with http://). Retrying
    /// cannot help; like an unreachable coordinator it exits 3.
    #[error("the coordinator refused this worker: {0}")]
    Refused(String),
    /// The rayon pool could not be built.
    #[error("cannot start compute threads: {0}")]
    Pool(String),
    /// The coordinator URL is malformed, or does not match the TLS settings.
    #[error("{1}")]
    BadAddress(String, String),
    /// The `--metrics-listen` address cannot be bound.
    #[error("cannot serve metrics on {0}: {1}")]
    MetricsListen(String, String),
}

impl DaemonError {
    /// Which row of the exit-code table this is: bad input for what the operator must fix
    /// (address, token), cannot reach for a coordinator it cannot use, failure otherwise.
    pub fn kind(&self) -> chirpfarm_core::ExitKind {
        use chirpfarm_core::ExitKind;
        match self {
            DaemonError::Denied(_)
            | DaemonError::BadAddress(..)
            | DaemonError::MetricsListen(..) => ExitKind::BadInput,
            DaemonError::Refused(_) => ExitKind::Unreachable,
            DaemonError::Pool(_) => ExitKind::Failure,
        }
    }
}

/// Says why a call to the coordinator failed, in words: the not-gRPC hint for a port that
/// speaks something else, never the gRPC code's name.
fn why(url: &str, what: &str, s: &tonic::Status) -> String {
    let text = chirpfarm_proto::connect::describe_status(s);
    if chirpfarm_proto::connect::looks_not_grpc(&text) {
        chirpfarm_proto::connect::not_grpc(url)
    } else {
        format!("{what}: {text}")
    }
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
    // On the worker's own pool: the engine's one-time tables are built in parallel there.
    let engine = Arc::new(pool.install(|| Engine::new(config.cache_bytes)));
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
    let sources = Sources {
        engine: engine.clone(),
        data_engine: Arc::new(DataEngine::new(config.cache_bytes)),
        data_cache: Arc::new(DataCache::new(config.data_cache_bytes)),
    };
    let metrics = Arc::new(WorkerMetrics::new(
        sources.clone(),
        config.threads,
        config.credits,
    ));
    if let Some(addr) = &config.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| DaemonError::MetricsListen(addr.clone(), e.to_string()))?;
        let bound = listener
            .local_addr()
            .map_err(|e| DaemonError::MetricsListen(addr.clone(), e.to_string()))?;
        tracing::info!(address = %bound, "metrics listening on http://{bound}/metrics");
        tokio::spawn(crate::metrics::serve(listener, metrics.clone()));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut backoff = Duration::from_millis(100);
    let mut daemon = Daemon::new(&config, pool, sources, metrics, stop_rx.clone());
    loop {
        daemon.collect_offline();
        if daemon.idle.expired(Instant::now()) {
            daemon.leave_idle();
            return Ok(());
        }
        if *stop_rx.borrow() {
            daemon.begin_drain();
            if daemon.finished_draining() {
                return Ok(());
            }
        }
        let started = Instant::now();
        let channel = match &config.dialer {
            Some(dialer) => dialer.connect(&endpoint).await,
            None => chirpfarm_proto::connect::connect(&endpoint).await,
        };
        let end = match channel {
            Ok(channel) => daemon.session(channel).await?,
            Err(e) => SessionEnd::Reconnect(e),
        };
        daemon.state.disconnected();
        daemon.metrics.connected(false);
        daemon.collect_offline();
        match end {
            SessionEnd::Shutdown => return Ok(()),
            SessionEnd::Reconnect(why) => {
                daemon.metrics.reconnecting();
                if started.elapsed() > Duration::from_secs(10) {
                    backoff = Duration::from_millis(100);
                }
                tracing::warn!(coordinator = %config.coordinator, retry_in_ms = backoff.as_millis() as u64, "{why}");
                let mut stop = stop_rx.clone();
                let idle_deadline = daemon.idle.deadline();
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s), if daemon.draining_since.is_none() => {}
                    _ = sleep_until(idle_deadline), if idle_deadline.is_some() => {}
                }
                backoff = (backoff * 2).min(config.max_backoff);
            }
        }
    }
}

/// The I/O around the session state machine: the connection, timers, the compute pool.
struct Daemon<'a> {
    config: &'a WorkerConfig,
    /// The protocol's state (identity, leases, undelivered results), sans I/O.
    state: WorkerSession,
    jobs: Jobs,
    compute: Compute,
    engine: Arc<Engine>,
    /// The current connection, for fetching blobs (`None` while disconnected).
    channel: Option<tonic::transport::Channel>,
    stop: tokio::sync::watch::Receiver<bool>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    draining_since: Option<Instant>,
    /// How long the session has held nothing (`--idle-timeout`); fed from the session's state
    /// after every change, read by the timers below.
    idle: IdleTimer,
    /// What `/metrics` reports; recorded here, in the shell, never in the session.
    metrics: Arc<WorkerMetrics>,
}

type OutTx = mpsc::UnboundedSender<v1::WorkerMessage>;

fn send(tx: &OutTx, m: Out) {
    let _ = tx.send(v1::WorkerMessage { msg: Some(m) });
}

/// How long a worker that stops waits for the coordinator to close the session after its own
/// side is closed.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Ends a session cleanly: closes our side (after the messages already queued: the last
/// results), then waits until the coordinator closes its side, which it does once it has
/// handled everything we sent and forgotten this worker. Returning earlier could end the
/// process with the last results still unsent. Leases that arrive meanwhile are not started:
/// the coordinator gives them back to the queue when it drops the session.
async fn close_session(out: OutTx, inbound: &mut tonic::Streaming<v1::CoordinatorMessage>) {
    drop(out);
    let drained = tokio::time::timeout(CLOSE_WAIT, async {
        loop {
            match inbound.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => {
                    tracing::debug!("the coordinator closed the session");
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "the session ended with an error while closing");
                    break;
                }
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            wait_s = CLOSE_WAIT.as_secs(),
            "the coordinator did not close the session: leaving anyway"
        );
    }
}

/// Sleeps until `deadline`, or forever without one (for a `select!` branch that is disabled
/// then anyway).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

impl<'a> Daemon<'a> {
    fn new(
        config: &'a WorkerConfig,
        pool: Arc<rayon::ThreadPool>,
        sources: Sources,
        metrics: Arc<WorkerMetrics>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let engine = sources.engine;
        let compute = Compute::new(
            pool,
            engine.clone(),
            sources.data_engine,
            sources.data_cache,
            done_tx,
            config.token.clone(),
            config.noop,
        );
        Daemon {
            config,
            state: WorkerSession::new(config.credits),
            jobs: Jobs::default(),
            compute,
            engine,
            channel: None,
            stop,
            done_rx,
            draining_since: None,
            idle: IdleTimer::new(config.idle_timeout, Instant::now()),
            metrics,
        }
    }

    fn profile(&self) -> Profile {
        let template_bytes = crate::engine::NF * std::mem::size_of::<num_complex::Complex64>();
        Profile {
            name: self.config.name.clone(),
            host: self.config.host.clone(),
            threads: self.config.threads as u32,
            cache_capacity_templates: (self.config.cache_bytes / template_bytes) as u64,
        }
    }

    fn begin_drain(&mut self) {
        if self.draining_since.is_none() {
            tracing::info!(
                in_flight = self.state.running(),
                "shutdown requested: finishing current tasks"
            );
            self.draining_since = Some(Instant::now());
            self.state.drain();
        }
    }

    /// The idle timeout passed: ask for no more work, like a shutdown, so the session ends
    /// (closing it deregisters this worker; a lease the coordinator sent meanwhile goes back
    /// to its queue, as for any worker that leaves).
    fn leave_idle(&mut self) {
        if self.draining_since.is_none() {
            let secs = self.idle.limit().unwrap_or_default().as_secs_f64();
            tracing::info!(
                idle_timeout_s = secs,
                "no task for {secs} s (--idle-timeout): deregistering and exiting"
            );
            self.draining_since = Some(Instant::now());
            self.state.drain();
        }
    }

    /// Records whether the session holds work now, for the idle timeout.
    fn note_activity(&mut self) {
        self.idle.observe(!self.state.idle(), Instant::now());
    }

    /// Whether shutdown was requested and nothing is left to report (or the grace period is
    /// over).
    fn finished_draining(&self) -> bool {
        self.draining_since
            .is_some_and(|since| self.state.idle() || since.elapsed() > self.config.shutdown_grace)
    }

    /// Carries out the state machine's effects; `Some` when the session must end.
    fn carry_out(&mut self, effects: Vec<Effect>, out: &OutTx) -> Option<SessionEnd> {
        for e in effects {
            match e {
                Effect::Send(m) => send(out, m),
                Effect::AddJob(j) => {
                    let state = &self.state;
                    self.jobs.add(j, |id| state.busy_with(id));
                }
                Effect::Start(l) => {
                    self.metrics.leased();
                    let job = self.jobs.get(&l.job_id);
                    self.compute.start(l, job, self.channel.clone());
                }
                Effect::Cancel(key) => self.compute.cancel(&key),
                Effect::Rejected(r) => {
                    tracing::warn!(job = %r.job_id, task = r.task, attempt = r.attempt, reason = %r.reason, "the coordinator rejected a message of this worker");
                }
                Effect::Reconnect(why) => return Some(SessionEnd::Reconnect(why)),
            }
        }
        self.metrics.in_flight(self.state.running());
        self.note_activity();
        None
    }

    /// A computation finished: counts it and hands its outcome to the session.
    fn finished(&mut self, done: Done) -> Vec<Effect> {
        self.compute.forget(&done.key);
        self.metrics.finished(&done.msg, done.filtered);
        let effects = self.state.finished(done.key, done.msg);
        self.metrics.in_flight(self.state.running());
        self.note_activity();
        effects
    }

    /// One connection: register (re-attaching with in-flight work), then serve until it ends.
    async fn session(
        &mut self,
        channel: tonic::transport::Channel,
    ) -> Result<SessionEnd, DaemonError> {
        self.channel = Some(channel.clone());
        let mut client = WorkerSessionClient::new(channel)
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20);
        let (out_tx, out_rx) = mpsc::unbounded_channel::<v1::WorkerMessage>();
        let register = self.state.register(&self.profile());
        let holding = register.in_flight.len();
        send(&out_tx, Out::Register(register));
        let mut req = tonic::Request::new(UnboundedReceiverStream::new(out_rx));
        chirpfarm_proto::auth::attach_token(&mut req, self.config.token.as_deref());
        let mut inbound = match client.session(req).await {
            Ok(r) => r.into_inner(),
            Err(s) if matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied) => {
                return Err(DaemonError::Denied(
                    chirpfarm_proto::connect::describe_status(&s),
                ))
            }
            Err(s) if s.code() == Code::FailedPrecondition => {
                return Err(DaemonError::Refused(
                    chirpfarm_proto::connect::describe_status(&s),
                ))
            }
            Err(s) => {
                return Ok(SessionEnd::Reconnect(why(
                    &self.config.coordinator,
                    "session refused",
                    &s,
                )))
            }
        };
        let heartbeat_every = match inbound.message().await {
            Ok(Some(v1::CoordinatorMessage {
                msg: Some(In::Registered(r)),
            })) => {
                let every = Duration::from_millis(r.heartbeat_interval_ms.max(50) as u64);
                // Results that finished while we were away go first; the coordinator adopted
                // their leases (or revoked them) when we registered.
                let effects = self.state.registered(r);
                if let Some(end) = self.carry_out(effects, &out_tx) {
                    return Ok(end);
                }
                every
            }
            Ok(_) => {
                return Ok(SessionEnd::Reconnect(
                    "coordinator did not confirm registration".into(),
                ))
            }
            Err(s) if matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied) => {
                return Err(DaemonError::Denied(
                    chirpfarm_proto::connect::describe_status(&s),
                ))
            }
            Err(s) => {
                return Ok(SessionEnd::Reconnect(why(
                    &self.config.coordinator,
                    "registration failed",
                    &s,
                )))
            }
        };
        self.metrics.connected(true);
        tracing::info!(worker = %self.state.worker_id(), coordinator = %self.config.coordinator, threads = self.config.threads, reattached = holding, "registered");
        let mut heartbeat = tokio::time::interval(heartbeat_every);
        let mut stop = self.stop.clone();
        loop {
            if self.finished_draining() {
                tracing::info!(handed_back = self.state.running(), "worker stopping");
                close_session(out_tx, &mut inbound).await;
                return Ok(SessionEnd::Shutdown);
            }
            let idle_deadline = self.idle.deadline();
            tokio::select! {
                _ = sleep_until(idle_deadline), if idle_deadline.is_some() && self.draining_since.is_none() => {
                    if self.idle.expired(Instant::now()) {
                        self.leave_idle();
                    }
                }
                _ = heartbeat.tick() => {
                    send(&out_tx, Out::Heartbeat(v1::Heartbeat { templates_cached: self.engine.cached_templates() as u64 }));
                }
                _ = stop.wait_for(|s| *s), if self.draining_since.is_none() => self.begin_drain(),
                Some(done) = self.done_rx.recv() => {
                    let effects = self.finished(done);
                    if let Some(end) = self.carry_out(effects, &out_tx) {
                        return Ok(end);
                    }
                }
                msg = inbound.message() => match msg {
                    Ok(Some(m)) => {
                        let effects = self.state.on_message(m);
                        if let Some(end) = self.carry_out(effects, &out_tx) {
                            return Ok(end);
                        }
                    }
                    Ok(None) => return Ok(SessionEnd::Reconnect("coordinator closed the session".into())),
                    Err(s) => return Ok(SessionEnd::Reconnect(why(&self.config.coordinator, "session lost", &s))),
                },
            }
        }
    }

    /// Collects outcomes that finish while disconnected, so they can be delivered later.
    fn collect_offline(&mut self) {
        while let Ok(done) = self.done_rx.try_recv() {
            let _ = self.finished(done);
        }
    }
}
