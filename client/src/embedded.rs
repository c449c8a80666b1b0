//! The embedded cluster: the real coordinator and real worker daemons in this process, talking
//! gRPC over loopback — the same code path as a networked farm, with nothing to start by hand.

use crate::error::CliError;
use chirpfarm_coordinator::CoordinatorConfig;
use chirpfarm_worker::daemon::{self, WorkerConfig};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
}

impl Options {
    /// One worker with `threads` threads and no template cache: a one-shot search uses each
    /// template once per task (for all its signals) and the process ends with the job, so a
    /// cache would only cost page faults (about as much CPU as the filtering itself).
    pub fn search(threads: usize, chunk_size: Option<u32>) -> Options {
        Options {
            workers: 1,
            threads,
            chunk_size,
            cache_bytes: 0,
            noop: false,
            credits: 2,
        }
    }
}

/// A running in-process coordinator + workers. Dropping it without [`Embedded::stop`] aborts
/// them.
#[derive(Debug)]
pub struct Embedded {
    /// The coordinator's URL on loopback.
    pub url: String,
    stop_server: watch::Sender<bool>,
    stop_workers: watch::Sender<bool>,
    server: JoinHandle<()>,
    workers: Vec<JoinHandle<()>>,
}

impl Embedded {
    /// Starts a coordinator on a free loopback port and the workers `opts` asks for.
    pub async fn start(opts: Options) -> Result<Embedded, CliError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| CliError::Failed(format!("cannot open a loopback port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::Failed(format!("loopback port: {e}")))?;
        let url = format!("http://{addr}");
        let (stop_server, server_rx) = watch::channel(false);
        let config = CoordinatorConfig {
            chunk_size: opts.chunk_size,
            ..CoordinatorConfig::default()
        };
        let server = tokio::spawn(async move {
            let stop = wait_true(server_rx);
            if let Err(e) = chirpfarm_coordinator::serve(
                config,
                listener,
                chirpfarm_coordinator::Security::open(),
                stop,
            )
            .await
            {
                tracing::error!("embedded coordinator failed: {e}");
            }
        });
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
            stop_server,
            stop_workers,
            server,
            workers,
        })
    }

    /// Stops the workers, then the coordinator, and waits for them.
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
