//! The HTTP endpoint's listener: the gRPC listener's admission ([`crate::conn`]) in front of
//! axum, so `--http` has the same defences as the gRPC port.
//!
//! Left to axum, every accepted socket is served for as long as it stays open, and a client
//! that sends half a request line (or nothing) holds its socket and file descriptor forever:
//! a few thousand such sockets lock the status page and `/metrics` out, and with them the
//! process's descriptors. Here every connection:
//!
//! * takes a slot of `--max-connections` (this listener's own count; the gRPC port has
//!   another), and is closed at once when none is left;
//! * must finish its first request's headers within `--handshake-timeout`: reads fail after
//!   the deadline until a request has reached the router, which lifts it ([`mark_speaking`]).
//!   Nothing sent, half a request line, headers that never end — all are closed on time, and a
//!   silent socket never delays the accept of the next one.
//!
//! It is the same code as the gRPC port's ([`crate::conn::incoming`], [`ConnIo`]), not a copy.

use crate::conn::{ConnInfo, ConnIo, ConnLimits, ConnStats};
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::serve::IncomingStream;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;
use tonic::transport::server::Connected;

/// Admitted connections for axum: accepted, within the cap, and under the handshake deadline.
#[derive(Debug)]
pub struct Admitted {
    /// Connections that sent their first bytes in time.
    accepted: mpsc::Receiver<ConnIo>,
    /// The listening address.
    local: SocketAddr,
}

/// Starts admitting connections on `listener` with `limits`; returns the listener for
/// [`axum::serve`] and the counters (tests and logs read them).
pub fn admit(
    listener: tokio::net::TcpListener,
    limits: ConnLimits,
) -> io::Result<(Admitted, Arc<ConnStats>)> {
    let local = listener.local_addr()?;
    let (accepted, stats) = crate::conn::incoming(listener, limits, false);
    Ok((Admitted { accepted, local }, stats))
}

impl axum::serve::Listener for Admitted {
    type Io = ConnIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (ConnIo, SocketAddr) {
        match self.accepted.recv().await {
            Some(io) => {
                let peer = io
                    .connect_info()
                    .tcp
                    .remote_addr
                    .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
                (io, peer)
            }
            // The accept task only ends when this receiver is dropped; never reached while
            // axum serves, but there is nothing to hand out then.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Each request carries its connection's [`ConnInfo`], so [`mark_speaking`] can lift the
/// handshake deadline.
impl axum::extract::connect_info::Connected<IncomingStream<'_, Admitted>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, Admitted>) -> ConnInfo {
        stream.io().connect_info()
    }
}

/// Middleware: a request reached the router, so its connection has spoken; its handshake
/// deadline no longer applies (a keep-alive connection then lives as HTTP/1.1 lets it).
pub async fn mark_speaking(request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(info)) = request.extensions().get::<ConnectInfo<ConnInfo>>() {
        info.mark_spoke();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Coordinator, CoordinatorConfig};
    use chirpfarm_proto::auth::Access;
    use std::sync::atomic::Ordering;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// A real HTTP endpoint on 127.0.0.1 with `limits`; its address and counters. The server
    /// stops when the returned sender is dropped.
    async fn endpoint(
        limits: ConnLimits,
    ) -> (SocketAddr, Arc<ConnStats>, tokio::sync::oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let coord = Coordinator::open(CoordinatorConfig::default()).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (admitted, stats) = admit(listener, limits).unwrap();
        tokio::spawn(super::super::serve_admitted(
            admitted,
            coord,
            Access::open(),
            async move {
                let _ = stopped.await;
            },
        ));
        (addr, stats, stop)
    }

    /// Sends one GET on `s` (keep-alive) and returns the status line.
    async fn get(s: &mut TcpStream, path: &str) -> String {
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 64 << 10];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        text.lines().next().unwrap_or_default().to_string()
    }

    /// Whether the server closed `s` within `within` (EOF or a reset).
    async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
        let mut b = [0u8; 256];
        matches!(
            tokio::time::timeout(within, s.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    #[tokio::test]
    async fn stalled_requests_are_closed_at_the_deadline_and_others_served_meanwhile() {
        let limits = ConnLimits {
            handshake_timeout: Duration::from_millis(300),
            max_connections: 100,
        };
        let (addr, stats, _stop) = endpoint(limits).await;
        // Nothing at all; half a request line; headers that never end (slowloris).
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut half_line = TcpStream::connect(addr).await.unwrap();
        half_line.write_all(b"GET /metr").await.unwrap();
        let mut endless = TcpStream::connect(addr).await.unwrap();
        endless
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: 1\r\n")
            .await
            .unwrap();
        // Meanwhile a real request is answered at once.
        let mut ok = TcpStream::connect(addr).await.unwrap();
        assert_eq!(get(&mut ok, "/metrics").await, "HTTP/1.1 200 OK");
        for (name, s) in [
            ("silent", &mut silent),
            ("half a request line", &mut half_line),
            ("endless headers", &mut endless),
        ] {
            assert!(
                closed_within(s, Duration::from_secs(3)).await,
                "{name}: still open after the 300 ms deadline"
            );
        }
        assert_eq!(stats.timed_out.load(Ordering::Relaxed), 1, "the silent one");
        // A connection that has spoken keeps serving after the deadline (keep-alive).
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(get(&mut ok, "/api/status").await, "HTTP/1.1 200 OK");
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed_and_slots_come_back() {
        let limits = ConnLimits {
            handshake_timeout: Duration::from_millis(500),
            max_connections: 2,
        };
        let (addr, stats, _stop) = endpoint(limits).await;
        let mut a = TcpStream::connect(addr).await.unwrap();
        let mut b = TcpStream::connect(addr).await.unwrap();
        // Let the accept loop take both before the third arrives.
        for _ in 0..100 {
            if stats.open.load(Ordering::Relaxed) == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut over = TcpStream::connect(addr).await.unwrap();
        assert!(
            closed_within(&mut over, Duration::from_millis(250)).await,
            "the third connection is closed at once, long before the deadline"
        );
        assert_eq!(stats.over_limit.load(Ordering::Relaxed), 1);
        // The two silent ones time out and give their slots back: a new client is served.
        assert!(closed_within(&mut a, Duration::from_secs(3)).await);
        assert!(closed_within(&mut b, Duration::from_secs(3)).await);
        for _ in 0..100 {
            if stats.open.load(Ordering::Relaxed) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut fresh = TcpStream::connect(addr).await.unwrap();
        assert_eq!(get(&mut fresh, "/metrics").await, "HTTP/1.1 200 OK");
    }
}
