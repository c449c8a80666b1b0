//! An in-process transport: gRPC between tasks of one process over in-memory pipes.
//!
//! The embedded cluster (`chirpfarm search` without `--coordinator`) runs the real coordinator
//! and a real worker daemon in the CLI's own process. Over loopback TCP every one of them would
//! bind or dial a port, and every byte would cross the kernel twice; here a [`MemoryDialer`]
//! makes each connection a [`tokio::io::duplex`] pipe and hands its far end to the
//! [`MemoryListener`] the coordinator serves. The gRPC code above is untouched: the same
//! services, the same HTTP/2, the same messages, so the embedded cluster still exercises the
//! code path of a networked farm — minus the socket.
//!
//! A dialer outliving its listener fails to connect ("the in-process coordinator has
//! stopped"), as a TCP dial to a closed port would.

use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint, Uri};

/// Bytes buffered each way in one in-memory connection. A writer blocks when its side is full
/// until the reader takes some; 1 MiB holds a whole HTTP/2 flow-control window (64 KiB by
/// default) many times over, so a result block crosses in one write instead of many wake-ups.
pub const PIPE_BYTES: usize = 1 << 20;

/// The URL the in-process coordinator is known by, in messages and logs (nothing resolves it:
/// every connection goes through a [`MemoryDialer`]).
pub const IN_PROCESS_URL: &str = "http://in-process";

/// The client end of an in-process transport: every [`MemoryDialer::connect`] (and every
/// reconnection of the channel it returns) opens a new pipe to the listener. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MemoryDialer {
    /// Where new connections' server ends go.
    tx: mpsc::UnboundedSender<DuplexStream>,
}

/// The server end of an in-process transport: the server ends of dialed connections, in the
/// order they were dialed. Dropping it refuses every later dial.
#[derive(Debug)]
pub struct MemoryListener {
    /// New connections' server ends.
    rx: mpsc::UnboundedReceiver<DuplexStream>,
}

/// A connected dialer and listener.
pub fn pair() -> (MemoryDialer, MemoryListener) {
    let (tx, rx) = mpsc::unbounded_channel();
    (MemoryDialer { tx }, MemoryListener { rx })
}

impl MemoryDialer {
    /// Opens one pipe and hands its far end to the listener.
    pub fn dial(&self) -> io::Result<DuplexStream> {
        let (near, far) = tokio::io::duplex(PIPE_BYTES);
        self.tx.send(far).map_err(|_| {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "the in-process coordinator has stopped",
            )
        })?;
        Ok(near)
    }

    /// A channel to the listener's server, with `endpoint`'s settings (timeouts, keepalive);
    /// its URL is only a name. Fails, in words, when the listener is gone.
    pub async fn connect(&self, endpoint: &Endpoint) -> Result<Channel, String> {
        endpoint
            .connect_with_connector(self.clone())
            .await
            .map_err(|e| crate::connect::explain(IN_PROCESS_URL, &e))
    }

    /// An endpoint for [`MemoryDialer::connect`]: [`IN_PROCESS_URL`] with the usual timeouts
    /// and keepalive of [`crate::connect::endpoint`].
    pub fn endpoint() -> Endpoint {
        crate::connect::endpoint(IN_PROCESS_URL, &crate::connect::ClientTls::none())
            .expect("the in-process URL is a valid http:// URL")
    }
}

/// tonic's connector interface: a pipe per connection, ready at once.
impl tower_service::Service<Uri> for MemoryDialer {
    type Response = TokioIo<DuplexStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let dialed = self.dial().map(TokioIo::new);
        Box::pin(std::future::ready(dialed))
    }
}

impl MemoryListener {
    /// The next connection's server end; `None` once every dialer is gone.
    pub async fn accept(&mut self) -> Option<DuplexStream> {
        self.rx.recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_dial_reaches_the_listener_and_bytes_cross_both_ways() {
        let (dialer, mut listener) = pair();
        let mut near = dialer.dial().unwrap();
        let mut far = listener.accept().await.unwrap();
        near.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        far.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        far.write_all(b"pong").await.unwrap();
        near.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
    }

    #[tokio::test]
    async fn a_dial_after_the_listener_is_gone_is_refused() {
        let (dialer, listener) = pair();
        drop(listener);
        let err = dialer.dial().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        let err = dialer.connect(&MemoryDialer::endpoint()).await.unwrap_err();
        assert!(err.contains("in-process"), "{err}");
    }
}
