//! Accepting connections: a handshake deadline, a connection cap, and back-off on accept errors.
//!
//! Left to itself the server accepts every socket and waits forever for it to speak HTTP/2, so a
//! thousand silent sockets exhaust file descriptors, and then the accept loop spins on `EMFILE`
//! and locks everyone out. Here every accepted socket:
//!
//! * takes a slot of `--max-connections` (held until the connection is dropped); with none left
//!   it is closed at once;
//! * waits in its **own task** for its first bytes, so a silent socket never delays the accept
//!   of the next one, and is closed when none arrive within `--handshake-timeout`;
//! * keeps that deadline until its first gRPC request arrives: [`ConnIo`] fails its reads when
//!   the deadline passes first, and the [`Speaking`] interceptor lifts it. This covers every
//!   way of stalling — no bytes, half a TLS handshake, TLS done but no HTTP/2 preface, a preface
//!   but no request — without looking inside TLS. (Clients send their first call right after
//!   connecting; an idle connection after that is HTTP/2 keepalive's business.)
//!
//! The embedded cluster's in-process pipes ([`in_memory`]) come through the same [`ConnIo`] type,
//! without a slot or a deadline: the process dialed them itself.
//!
//! Accept errors that concern the listener (out of file descriptors, of memory) pause the loop
//! for 10–100 ms instead of retrying at once. Refusals are logged at most once a second, with a
//! count of the ones not logged.

use chirpfarm_proto::ratelimit::RateLimited;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tonic::service::Interceptor;
use tonic::transport::server::{Connected, TcpConnectInfo, TlsConnectInfo};
use tonic::{Request, Status};

/// The HTTP/2 client preface every gRPC connection starts with (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Limits on connections, from `--handshake-timeout` and `--max-connections`.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// How long a new connection may take to make its first request (TLS handshake, HTTP/2
    /// preface, first call).
    pub handshake_timeout: Duration,
    /// Connections open at once, handshaking or serving; more are closed on accept.
    pub max_connections: usize,
}

impl Default for ConnLimits {
    /// 10 s to the first request, 4096 connections (a farm of a few hundred workers and its users
    /// use a small fraction).
    fn default() -> ConnLimits {
        ConnLimits {
            handshake_timeout: Duration::from_secs(10),
            max_connections: 4096,
        }
    }
}

/// Counters of what happened to accepted sockets (tests and logs read them).
#[derive(Debug, Default)]
pub struct ConnStats {
    /// Connections open now (holding a slot).
    pub open: AtomicUsize,
    /// Closed because they sent nothing within the handshake timeout.
    pub timed_out: AtomicUsize,
    /// Closed at once because `max_connections` were open.
    pub over_limit: AtomicUsize,
}

/// A slot of the connection cap, given back when the connection is dropped.
#[derive(Debug)]
struct Slot(Arc<ConnStats>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Rate-limited loggers, one per kind of refusal, so one kind cannot hide another.
#[derive(Debug)]
struct Logs {
    over_limit: RateLimited,
    timed_out: RateLimited,
    accept_error: RateLimited,
    wrong_protocol: RateLimited,
}

/// Starts accepting on `listener`; returns the connections that sent their first bytes (for
/// `serve_with_incoming`) and the counters. The accept task ends when the returned receiver
/// is dropped (the server stopped), closing the listener.
pub fn incoming(
    listener: TcpListener,
    limits: ConnLimits,
    tls: bool,
) -> (mpsc::Receiver<ConnIo>, Arc<ConnStats>) {
    let stats = Arc::new(ConnStats::default());
    // Small: a connection that is ready waits for the server to take it, not in a long queue.
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(accept_loop(listener, limits, tls, tx, stats.clone()));
    (rx, stats)
}

/// Accepts until the server stops, handing each socket to its own [`admit`] task.
async fn accept_loop(
    listener: TcpListener,
    limits: ConnLimits,
    tls: bool,
    tx: mpsc::Sender<ConnIo>,
    stats: Arc<ConnStats>,
) {
    let logs = Arc::new(Logs {
        over_limit: RateLimited::per_second(),
        timed_out: RateLimited::per_second(),
        accept_error: RateLimited::per_second(),
        wrong_protocol: RateLimited::per_second(),
    });
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = tx.closed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::from_millis(10);
                a
            }
            // The peer gave up before we got to it: nothing wrong with the listener.
            Err(e) if per_connection(&e) => continue,
            Err(e) => {
                if let Some(suppressed) = logs.accept_error.allow() {
                    tracing::warn!(error = %e, suppressed, pause_ms = backoff.as_millis() as u64, "cannot accept connections; pausing");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(100));
                continue;
            }
        };
        if stats.open.load(Ordering::Relaxed) >= limits.max_connections {
            stats.over_limit.fetch_add(1, Ordering::Relaxed);
            if let Some(suppressed) = logs.over_limit.allow() {
                tracing::warn!(%peer, max_connections = limits.max_connections, suppressed, "connection limit reached: closing new connection");
            }
            drop(stream);
            continue;
        }
        stats.open.fetch_add(1, Ordering::Relaxed);
        let slot = Slot(stats.clone());
        let _ = stream.set_nodelay(true); // leases and credits must not wait for Nagle
        tokio::spawn(admit(
            stream,
            peer,
            slot,
            limits.handshake_timeout,
            tls,
            tx.clone(),
            logs.clone(),
        ));
    }
}

/// Accept errors that concern one connection (retry at once), not the listener.
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Waits for a socket's first bytes within the handshake timeout, then hands it to the server
/// (or, if it speaks the wrong protocol for this port, answers or closes it).
async fn admit(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    timeout: Duration,
    tls: bool,
    tx: mpsc::Sender<ConnIo>,
    logs: Arc<Logs>,
) {
    let deadline = Instant::now() + timeout;
    let mut first = [0u8; PREFACE.len()];
    let n = match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(n)) if n > 0 => n,
        Ok(_) => return, // closed, or failed, before saying anything
        Err(_) => {
            slot.0.timed_out.fetch_add(1, Ordering::Relaxed);
            if let Some(suppressed) = logs.timed_out.allow() {
                tracing::warn!(%peer, timeout_s = timeout.as_secs_f64(), suppressed, "closing a connection that sent nothing");
            }
            return;
        }
    };
    let first = &first[..n];
    if tls && PREFACE.starts_with(first) {
        if let Some(suppressed) = logs.wrong_protocol.allow() {
            tracing::warn!(%peer, suppressed, "a plaintext (http://) client reached this TLS coordinator: telling it to use https://");
        }
        crate::plaintext::refuse(stream, deadline).await;
        return;
    }
    if !tls && first[0] == 0x16 {
        // A TLS record (ClientHello) on a plaintext port: the client's TLS library reports the
        // closed connection, and its URL (https://) is the hint.
        if let Some(suppressed) = logs.wrong_protocol.allow() {
            tracing::warn!(%peer, suppressed, "a TLS (https://) client reached this plaintext coordinator: closing");
        }
        return;
    }
    let _ = tx.send(ConnIo::new(stream, slot, deadline)).await;
}

/// What a connection runs over: a TCP socket, or (the embedded cluster) an in-process pipe
/// from [`chirpfarm_proto::memory`].
#[derive(Debug)]
enum Wire {
    /// An accepted TCP socket.
    Tcp(TcpStream),
    /// An in-process pipe: no address, no handshake deadline, no slot (the process itself
    /// dialed it).
    Memory(DuplexStream),
}

/// An accepted connection as the server sees it: the socket, its slot of the cap, and the
/// handshake deadline that holds until its first request arrives.
#[derive(Debug)]
pub struct ConnIo {
    /// The socket (or in-process pipe).
    stream: Wire,
    /// Held for the connection's life: the cap counts open connections, not accepts (none for
    /// an in-process pipe).
    _slot: Option<Slot>,
    /// Fails reads once passed, unless `spoke` was set first.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Set by [`Speaking`] when a request arrives on this connection.
    spoke: Arc<AtomicBool>,
}

impl ConnIo {
    /// Wraps `stream`; reads fail after `deadline` until a request has arrived.
    fn new(stream: TcpStream, slot: Slot, deadline: Instant) -> ConnIo {
        ConnIo {
            stream: Wire::Tcp(stream),
            _slot: Some(slot),
            deadline: Some(Box::pin(tokio::time::sleep_until(deadline))),
            spoke: Arc::new(AtomicBool::new(false)),
        }
    }

    /// An in-process pipe (the embedded cluster): trusted, so no deadline and no slot.
    pub fn memory(stream: DuplexStream) -> ConnIo {
        ConnIo {
            stream: Wire::Memory(stream),
            _slot: None,
            deadline: None,
            spoke: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// The connections dialed on `listener`, as the server takes them (ends when every dialer is
/// gone or the server stops taking them).
pub fn in_memory(
    listener: chirpfarm_proto::memory::MemoryListener,
) -> impl futures::Stream<Item = io::Result<ConnIo>> + Send + 'static {
    futures::stream::unfold(listener, |mut l| async move {
        let pipe = l.accept().await?;
        Some((Ok(ConnIo::memory(pipe)), l))
    })
}

/// Delegates a poll to whichever stream a [`Wire`] holds.
macro_rules! on_wire {
    ($wire:expr, $s:ident => $e:expr) => {
        match $wire {
            Wire::Tcp($s) => $e,
            Wire::Memory($s) => $e,
        }
    };
}

impl AsyncRead for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.deadline.is_some() && this.spoke.load(Ordering::Relaxed) {
            this.deadline = None;
        }
        let read = on_wire!(&mut this.stream, s => Pin::new(s).poll_read(cx, buf));
        match read {
            Poll::Pending => {
                // Registers the timer's waker too, so a silent peer is closed on time.
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired && !this.spoke.load(Ordering::Relaxed) {
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request within the handshake timeout",
                    )))
                } else {
                    Poll::Pending
                }
            }
            ready => ready,
        }
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        on_wire!(&mut self.stream, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        on_wire!(&mut self.stream, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        on_wire!(&self.stream, s => s.is_write_vectored())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_wire!(&mut self.stream, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        on_wire!(&mut self.stream, s => Pin::new(s).poll_shutdown(cx))
    }
}

impl Connected for ConnIo {
    /// The TCP addresses and this connection's "has spoken" flag.
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        let tcp = match &self.stream {
            Wire::Tcp(s) => s.connect_info(),
            Wire::Memory(_) => TcpConnectInfo {
                local_addr: None,
                remote_addr: None,
            },
        };
        ConnInfo {
            tcp,
            spoke: self.spoke.clone(),
        }
    }
}

/// What every request on a [`ConnIo`] carries in its extensions (inside tonic's
/// `TlsConnectInfo` under TLS).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Local and peer address.
    pub tcp: TcpConnectInfo,
    /// Lifts the connection's handshake deadline once set.
    spoke: Arc<AtomicBool>,
}

impl ConnInfo {
    /// Lifts the connection's handshake deadline: a request has arrived on it (the HTTP
    /// endpoint's middleware; gRPC requests go through [`Speaking`]).
    pub fn mark_spoke(&self) {
        self.spoke.store(true, Ordering::Relaxed);
    }
}

/// An interceptor wrapping each service's gate: marks the connection as speaking (lifting its
/// handshake deadline) and exposes the connection as tonic's own listener would, so
/// `Request::remote_addr()` works and a verified TLS client certificate is visible to the gate
/// ([`chirpfarm_proto::auth::ClientCertificate`]).
#[derive(Debug, Clone)]
pub struct Speaking<I>(pub I);

impl<I: Interceptor> Interceptor for Speaking<I> {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let ext = req.extensions();
        let found = match ext.get::<TlsConnectInfo<ConnInfo>>() {
            Some(t) => Some((
                t.get_ref().clone(),
                t.peer_certs().is_some_and(|c| !c.is_empty()),
            )),
            None => ext.get::<ConnInfo>().map(|i| (i.clone(), false)),
        };
        if let Some((info, certified)) = found {
            info.spoke.store(true, Ordering::Relaxed);
            req.extensions_mut().insert(info.tcp);
            if certified {
                req.extensions_mut()
                    .insert(chirpfarm_proto::auth::ClientCertificate);
            }
        }
        self.0.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair(limits: ConnLimits) -> (SocketAddr, mpsc::Receiver<ConnIo>, Arc<ConnStats>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (rx, stats) = incoming(listener, limits, false);
        (addr, rx, stats)
    }

    #[tokio::test]
    async fn silent_sockets_do_not_delay_a_speaking_one() {
        let limits = ConnLimits {
            handshake_timeout: Duration::from_millis(300),
            max_connections: 100,
        };
        let (addr, mut rx, stats) = pair(limits).await;
        let mut silent = Vec::new();
        for _ in 0..20 {
            silent.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut talker = TcpStream::connect(addr).await.unwrap();
        talker.write_all(PREFACE).await.unwrap();
        let got = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await;
        assert!(got.is_ok(), "the speaking connection was admitted at once");
        // The silent ones are closed after the timeout: a read sees EOF (or a reset).
        for s in &mut silent {
            let mut b = [0u8; 1];
            let r = tokio::time::timeout(Duration::from_secs(2), s.read(&mut b)).await;
            assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
        }
        assert_eq!(stats.timed_out.load(Ordering::Relaxed), 20);
        // Slots are given back as the tasks end (just after the sockets close).
        for _ in 0..100 {
            if stats.open.load(Ordering::Relaxed) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(stats.open.load(Ordering::Relaxed), 1);
        drop(got);
    }

    #[tokio::test]
    async fn connections_over_the_cap_are_closed() {
        let limits = ConnLimits {
            handshake_timeout: Duration::from_secs(5),
            max_connections: 3,
        };
        let (addr, _rx, stats) = pair(limits).await;
        let mut socks = Vec::new();
        for _ in 0..5 {
            socks.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut b = [0u8; 1];
        let last = socks.last_mut().unwrap();
        let r = tokio::time::timeout(Duration::from_secs(2), last.read(&mut b)).await;
        assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
        assert_eq!(stats.over_limit.load(Ordering::Relaxed), 2);
        assert_eq!(stats.open.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn no_request_in_time_fails_reads() {
        let limits = ConnLimits {
            handshake_timeout: Duration::from_millis(200),
            max_connections: 10,
        };
        let (addr, mut rx, _stats) = pair(limits).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&PREFACE[..5]).await.unwrap();
        let mut io = rx.recv().await.unwrap();
        let mut b = [0u8; 32];
        let r = tokio::time::timeout(Duration::from_secs(2), io.read(&mut b)).await;
        assert_eq!(r.unwrap().unwrap(), 5);
        let r = tokio::time::timeout(Duration::from_secs(2), io.read(&mut b)).await;
        assert_eq!(r.unwrap().unwrap_err().kind(), io::ErrorKind::TimedOut);
    }
}
