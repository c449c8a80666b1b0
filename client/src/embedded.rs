//! The embedded cluster: the real coordinator and a real worker daemon in this process, talking
//! gRPC over loopback — the same code path as a networked farm, with nothing to start by hand.

use crate::error::CliError;
use chirpfarm_coordinator::CoordinatorConfig;
use chirpfarm_worker::daemon::{self, WorkerConfig};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running in-process coordinator + worker. Dropping it without [`Embedded::stop`] aborts both.
#[derive(Debug)]
pub struct Embedded {
    /// The coordinator's URL on loopback.
    pub url: String,
    stop_server: Option<oneshot::Sender<()>>,
    stop_worker: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    worker: JoinHandle<()>,
}

impl Embedded {
    /// Starts a coordinator on a free loopback port and one worker using `threads` threads.
    pub async fn start(threads: usize, chunk_size: Option<u32>) -> Result<Embedded, CliError> {
        Embedded::start_with_cache(threads, chunk_size, 1024 << 20).await
    }

    /// Like [`Embedded::start`], with a template cache of `cache_bytes` (0 disables caching).
    pub async fn start_with_cache(
        threads: usize,
        chunk_size: Option<u32>,
        cache_bytes: usize,
    ) -> Result<Embedded, CliError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| CliError::Failed(format!("cannot open a loopback port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::Failed(format!("loopback port: {e}")))?;
        let url = format!("http://{addr}");
        let (stop_server, server_rx) = oneshot::channel::<()>();
        let config = CoordinatorConfig {
            chunk_size,
            ..CoordinatorConfig::default()
        };
        let server = tokio::spawn(async move {
            let stop = async {
                let _ = server_rx.await;
            };
            if let Err(e) = chirpfarm_coordinator::serve(config, listener, None, stop).await {
                tracing::error!("embedded coordinator failed: {e}");
            }
        });
        let (stop_worker, worker_rx) = oneshot::channel::<()>();
        let mut wc = WorkerConfig::new(url.clone());
        wc.name = "embedded".into();
        wc.threads = threads;
        wc.cache_bytes = cache_bytes;
        wc.max_backoff = Duration::from_millis(200);
        wc.shutdown_grace = Duration::from_secs(0);
        let worker = tokio::spawn(async move {
            let stop = async {
                let _ = worker_rx.await;
            };
            if let Err(e) = daemon::run(wc, stop).await {
                tracing::error!("embedded worker failed: {e}");
            }
        });
        Ok(Embedded {
            url,
            stop_server: Some(stop_server),
            stop_worker: Some(stop_worker),
            server,
            worker,
        })
    }

    /// Stops the worker, then the coordinator, and waits for both.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop_worker.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.worker).await;
        if let Some(s) = self.stop_server.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.server).await;
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.worker.abort();
        self.server.abort();
    }
}
