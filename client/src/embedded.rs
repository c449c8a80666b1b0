//! The embedded cluster: the real coordinator and real worker daemons in this process — the
//! same services and the same gRPC messages as a networked farm, with nothing to start by hand.
//!
//! They talk over in-process pipes ([`chirpfarm_proto::memory`]) by default: no port to bind,
//! no socket, no kernel round trips, so starting and stopping the cluster costs well under the
//! 5 ms a one-shot `chirpfarm search` can spare (`chirpfarm bench embedded` measures it).
//! [`Transport::Loopback`] runs the same cluster over TCP on 127.0.0.1 instead, for benchmarks
//! that compare the two.

use crate::error::CliError;
use crate::remote::Conn;
use chirpfarm_coordinator::{Coordinator, CoordinatorConfig};
use chirpfarm_proto::connect::ClientTls;
use chirpfarm_proto::memory::{self, MemoryDialer};
use chirpfarm_worker::daemon::{self, WorkerConfig};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How the client and the workers reach the embedded coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// In-process pipes: no socket, no port (the default).
    InProcess,
    /// TCP on a free 127.0.0.1 port: the networked path, socket and all.
    Loopback,
}

impl Transport {
    /// The name benchmarks report.
    pub fn name(self) -> &'static str {
        match self {
            Transport::InProcess => "in-process",
            Transport::Loopback => "loopback-tcp",
        }
    }
}

/// How to build an embedded cluster.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker daemons to run (1 for searches; benchmarks use more).
    pub workers: usize,
    /// Compute threads per worker.
    pub threads: usize,
    /// Fixed templates per task, or automatic.
    pub chunk_size: Option<u32>,
    /// Template cache per worker, in bytes (0 disables caching).
    pub cache_bytes: usize,
    /// Workers answer instantly with zeros (dispatch benchmarks).
    pub noop: bool,
    /// Credits each worker grants.
    pub credits: u32,
    /// In-process pipes or loopback TCP.
    pub transport: Transport,
}

impl Options {
    /// One worker with `threads` threads and no template cache, over in-process pipes: a
    /// one-shot search uses each template once per task (for all its signals) and the process
    /// ends with the job, so a cache would only cost page faults (about as much CPU as the
    /// filtering itself).
    pub fn search(threads: usize, chunk_size: Option<u32>) -> Options {
        Options {
            workers: 1,
            threads,
            chunk_size,
            cache_bytes: 0,
            noop: false,
            credits: 2,
            transport: Transport::InProcess,
        }
    }
}

/// Where the embedded coordinator listens.
#[derive(Debug, Clone)]
enum Route {
    /// In-process pipes, dialed with this.
    Memory(MemoryDialer),
    /// A loopback TCP URL.
    Tcp,
}

/// A running in-process coordinator + workers. Dropping it without [`Embedded::stop`] aborts
/// them.
#[derive(Debug)]
pub struct Embedded {
    /// The coordinator's URL: `http://127.0.0.1:PORT` on loopback, a name in process.
    pub url: String,
    route: Route,
    stop_server: watch::Sender<bool>,
    stop_workers: watch::Sender<bool>,
    server: JoinHandle<()>,
    workers: Vec<JoinHandle<()>>,
}

impl Embedded {
    /// Starts a coordinator and the workers `opts` asks for. The workers are started first and
    /// dial at once: by the time a client has connected and submitted, they have registered.
    pub async fn start(opts: Options) -> Result<Embedded, CliError> {
        let config = CoordinatorConfig {
            chunk_size: opts.chunk_size,
            ..CoordinatorConfig::default()
        };
        let coord = Coordinator::open(config)
            .map_err(|e| CliError::Failed(format!("cannot start the embedded coordinator: {e}")))?;
        let (stop_server, server_rx) = watch::channel(false);
        let (url, route, server) = match opts.transport {
            Transport::InProcess => {
                let (dialer, listener) = memory::pair();
                let server = tokio::spawn(async move {
                    let stop = wait_true(server_rx);
                    if let Err(e) =
                        chirpfarm_coordinator::serve_in_memory(coord, listener, stop).await
                    {
                        tracing::error!("embedded coordinator failed: {e}");
                    }
                });
                let url = memory::IN_PROCESS_URL.to_string();
                (url, Route::Memory(dialer), server)
            }
            Transport::Loopback => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| CliError::Failed(format!("cannot open a loopback port: {e}")))?;
                let addr = listener
                    .local_addr()
                    .map_err(|e| CliError::Failed(format!("loopback port: {e}")))?;
                let server = tokio::spawn(async move {
                    let stop = wait_true(server_rx);
                    let open = chirpfarm_coordinator::Security::open();
                    if let Err(e) =
                        chirpfarm_coordinator::serve_coordinator(coord, listener, open, stop).await
                    {
                        tracing::error!("embedded coordinator failed: {e}");
                    }
                });
                (format!("http://{addr}"), Route::Tcp, server)
            }
        };
        let (stop_workers, workers_rx) = watch::channel(false);
        let workers = (0..opts.workers.max(1))
            .map(|i| {
                let mut wc = WorkerConfig::new(url.clone());
                wc.name = if opts.workers > 1 {
                    format!("embedded-{i}")
                } else {
                    "embedded".into()
                };
                wc.threads = opts.threads.max(1);
                wc.cache_bytes = opts.cache_bytes;
                wc.noop = opts.noop;
                wc.credits = opts.credits.max(1);
                wc.max_backoff = Duration::from_millis(200);
                wc.shutdown_grace = Duration::from_secs(0);
                if let Route::Memory(d) = &route {
                    wc.dialer = Some(d.clone());
                }
                let stop = wait_true(workers_rx.clone());
                tokio::spawn(async move {
                    if let Err(e) = daemon::run(wc, stop).await {
                        tracing::error!("embedded worker failed: {e}");
                    }
                })
            })
            .collect();
        Ok(Embedded {
            url,
            route,
            stop_server,
            stop_workers,
            server,
            workers,
        })
    }

    /// A client connection to the cluster's coordinator.
    pub async fn connect(&self) -> Result<Conn, CliError> {
        match &self.route {
            Route::Memory(dialer) => Conn::in_process(dialer).await,
            Route::Tcp => Conn::connect(&self.url, None, ClientTls::none()).await,
        }
    }

    /// Stops the workers, then the coordinator, and waits for them (at most 5 s each: they
    /// have nothing left to do once the search's results are in).
    pub async fn stop(mut self) {
        let _ = self.stop_workers.send(true);
        for w in &mut self.workers {
            let _ = tokio::time::timeout(Duration::from_secs(5), w).await;
        }
        let _ = self.stop_server.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.server).await;
    }
}

/// Resolves once the flag turns true (or its sender is gone).
async fn wait_true(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

impl Drop for Embedded {
    fn drop(&mut self) {
        for w in &self.workers {
            w.abort();
        }
        self.server.abort();
    }
}
