//! Runs the coordinator's gRPC server: both services on one listener (with gRPC health and
//! reflection beside them, [`crate::introspect`]), the heartbeat timer, and a graceful stop when
//! the shutdown future resolves.

use crate::client_service::ClientService;
use crate::conn::Speaking;
use crate::security::Security;
use crate::state::{Coordinator, CoordinatorConfig};
use crate::worker_service::WorkerService;
use chirpfarm_proto::auth::{Gate, Role};
use chirpfarm_proto::ratelimit::RateLimited;
use chirpfarm_proto::v1::client_server::ClientServer;
use chirpfarm_proto::v1::worker_session_server::WorkerSessionServer;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::service::interceptor::InterceptedService;

/// Largest gRPC message accepted or sent (result blocks of big multi-signal tasks).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// Why the coordinator could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data dir could not be opened, locked or read (the message names the path).
    #[error("{0}")]
    Store(crate::datadir::DataDirError),
    /// The gRPC server failed.
    #[error("server: {0}")]
    Transport(tonic::transport::Error),
}

/// Serves a coordinator on `listener` until `shutdown` resolves, then tells workers to drain.
/// `security` says which tokens each role presents, whether to speak TLS, and the connection
/// limits.
pub async fn serve(
    config: CoordinatorConfig,
    listener: TcpListener,
    security: Security,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let coord = Coordinator::open(config).map_err(ServeError::Store)?;
    serve_coordinator(coord, listener, security, shutdown)
        .await
        .map_err(ServeError::Transport)
}

/// Like [`serve`], over an existing [`Coordinator`] (tests and the embedded cluster inspect it).
pub async fn serve_coordinator(
    coord: Coordinator,
    listener: TcpListener,
    security: Security,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    // Handshake deadline, connection cap, accept back-off (conn.rs); TLS goes on top.
    let (accepted, _stats) =
        crate::conn::incoming(listener, security.limits, security.tls.is_some());
    let incoming = ReceiverStream::new(accepted).map(Ok::<_, std::io::Error>);
    serve_connections(coord, incoming, security, shutdown).await
}

/// Like [`serve_coordinator`], over in-process pipes instead of a TCP listener (the embedded
/// cluster: no port, no socket; see [`chirpfarm_proto::memory`]). Open access, no TLS.
pub async fn serve_in_memory(
    coord: Coordinator,
    listener: chirpfarm_proto::memory::MemoryListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let incoming = crate::conn::in_memory(listener);
    serve_connections(coord, incoming, Security::open(), shutdown).await
}

/// Serves both services (and health, reflection) on `incoming` connections until `shutdown`
/// resolves: the one server behind [`serve_coordinator`] and [`serve_in_memory`].
async fn serve_connections(
    coord: Coordinator,
    incoming: impl futures::Stream<Item = std::io::Result<crate::conn::ConnIo>> + Send + 'static,
    security: Security,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let access = Arc::new(security.effective_access());
    let refusals = Arc::new(RateLimited::per_second());
    let client_gate = Gate::new(access.clone(), Role::Client, refusals.clone());
    let worker_gate = Gate::new(access, Role::Worker, refusals);
    let ticker = {
        let coord = coord.clone();
        let period = (coord.config.scheduler.heartbeat_timeout_ms / 4).clamp(50, 1000);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(period));
            loop {
                every.tick().await;
                coord.tick();
            }
        })
    };
    let clients = ClientServer::new(ClientService::new(coord.clone()))
        .max_decoding_message_size(crate::limits::MAX_CLIENT_REQUEST_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let workers = WorkerSessionServer::new(WorkerService::new(coord.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (mut health, health_service) = crate::introspect::Health::new().await;
    let (reflect_v1, reflect_v1alpha) = match crate::introspect::reflection() {
        Ok((a, b)) => (Some(a), Some(b)),
        Err(e) => {
            tracing::warn!("server reflection unavailable: {e}");
            (None, None)
        }
    };
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &security.tls {
        builder = builder.tls_config(tls.config(&security.limits))?;
    }
    let result = builder
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .add_service(InterceptedService::new(clients, Speaking(client_gate)))
        .add_service(InterceptedService::new(workers, Speaking(worker_gate)))
        .add_service(health_service)
        .add_optional_service(reflect_v1)
        .add_optional_service(reflect_v1alpha)
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.await;
            health.draining().await;
            tracing::info!("shutting down: no new submissions; letting running tasks finish");
            coord.shutdown().await;
            health.stopped().await;
        })
        .await;
    ticker.abort();
    result
}
