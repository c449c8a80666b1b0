//! Talking to a coordinator: connect, submit, and collect a job's results in bank order from a
//! cursor, reconnecting (with back-off, for a bounded time) when the coordinator restarts.

use crate::error::CliError;
use crate::progress::Progress;
use chirpfarm_core::TemplateResult;
use chirpfarm_proto::connect::ClientTls;
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::client_client::ClientClient;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::Request;

/// How long `search`/`watch` keep retrying a lost coordinator before giving up.
pub const RECONNECT_FOR: Duration = Duration::from_secs(120);

/// A connection to a coordinator's client service.
#[derive(Debug, Clone)]
pub struct Conn {
    client: ClientClient<Channel>,
    token: Option<String>,
    /// TLS settings, kept for reconnecting.
    tls: ClientTls,
    /// The embedded cluster's in-process transport, if this connection goes through it (and
    /// reconnections with it).
    dialer: Option<chirpfarm_proto::memory::MemoryDialer>,
    /// The coordinator URL.
    pub url: String,
}

/// Deadline of every unary call (submit, cancel, list...). Streams (watch, uploads) have none:
/// HTTP/2 keepalive notices a dead coordinator instead.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(60);

impl Conn {
    /// The error for a failed call on this connection: [`CliError::from_status`], naming this
    /// connection's coordinator when the answer was not gRPC at all (a gRPC status does not
    /// carry the address, and one process — a Python session — may talk to several farms).
    pub fn status_error(&self, s: tonic::Status) -> CliError {
        CliError::from_status_at(s, (self.dialer.is_none()).then_some(self.url.as_str()))
    }

    /// Connects to `url` (fails fast if nothing listens there, or if it does not speak the
    /// URL's protocol: `https://` is TLS, `http://` plaintext, never one for the other).
    pub async fn connect(
        url: &str,
        token: Option<String>,
        tls: ClientTls,
    ) -> Result<Conn, CliError> {
        let endpoint = chirpfarm_proto::connect::endpoint(url, &tls).map_err(CliError::Input)?;
        let channel = chirpfarm_proto::connect::connect(&endpoint)
            .await
            .map_err(CliError::Unreachable)?;
        Ok(Conn {
            client: Self::client_for(channel),
            token,
            tls,
            dialer: None,
            url: url.to_string(),
        })
    }

    /// Connects to the embedded cluster's coordinator through its in-process transport.
    pub async fn in_process(
        dialer: &chirpfarm_proto::memory::MemoryDialer,
    ) -> Result<Conn, CliError> {
        let channel = dialer
            .connect(&chirpfarm_proto::memory::MemoryDialer::endpoint())
            .await
            .map_err(CliError::Failed)?;
        Ok(Conn {
            client: Self::client_for(channel),
            token: None,
            tls: ClientTls::none(),
            dialer: Some(dialer.clone()),
            url: chirpfarm_proto::memory::IN_PROCESS_URL.to_string(),
        })
    }

    /// A fresh connection to the same coordinator, the same way.
    pub async fn reconnect(&self) -> Result<Conn, CliError> {
        match &self.dialer {
            Some(d) => Conn::in_process(d).await,
            None => Conn::connect(&self.url, self.token.clone(), self.tls.clone()).await,
        }
    }

    /// The generated client over `channel`, with the message size limits.
    fn client_for(channel: Channel) -> ClientClient<Channel> {
        ClientClient::new(channel)
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20)
    }

    /// Wraps a message in a unary request carrying the token and the [`RPC_TIMEOUT`] deadline.
    pub fn req<T>(&self, msg: T) -> Request<T> {
        let mut r = self.stream_req(msg);
        r.set_timeout(RPC_TIMEOUT);
        r
    }

    /// Wraps a message in a streaming request carrying the token (no deadline: a watch may
    /// last hours, an upload as long as the data takes).
    pub fn stream_req<T>(&self, msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        chirpfarm_proto::auth::attach_token(&mut r, self.token.as_deref());
        r
    }

    /// The underlying generated client (cheap to clone).
    pub fn client(&self) -> ClientClient<Channel> {
        self.client.clone()
    }
}

/// Where a job's result blocks go as they arrive, in release order. A sink checks each block
/// against what it expects (a block from the network is not trusted).
pub trait Sink {
    /// Takes the block that starts at result unit `cursor`.
    fn block(&mut self, cursor: u64, b: &v1::ResultBlock) -> Result<(), String>;
}

/// A signal search's results, reassembled in bank order: `results[signal][template]`.
#[derive(Debug, Clone)]
pub struct SignalSink {
    /// `results[signal][template]`.
    pub results: Vec<Vec<TemplateResult>>,
}

impl SignalSink {
    /// An empty sink for `signals` signals over `templates` templates.
    pub fn new(signals: usize, templates: u64) -> SignalSink {
        SignalSink {
            results: vec![Vec::with_capacity(templates as usize); signals],
        }
    }
}

impl Sink for SignalSink {
    fn block(&mut self, cursor: u64, b: &v1::ResultBlock) -> Result<(), String> {
        let ok = b.start == cursor
            && b.signals.len() == self.results.len()
            && b.signals.iter().all(|s| {
                s.snr.len() == b.count as usize && s.lag_seconds.len() == b.count as usize
            });
        if !ok {
            return Err(format!(
                "protocol error: block at {} ({} signals), expected {} ({} signals)",
                b.start,
                b.signals.len(),
                cursor,
                self.results.len()
            ));
        }
        for (acc, s) in self.results.iter_mut().zip(&b.signals) {
            acc.extend(
                s.snr
                    .iter()
                    .zip(&s.lag_seconds)
                    .map(|(&snr, &lag)| TemplateResult {
                        snr,
                        lag_seconds: lag,
                    }),
            );
        }
        Ok(())
    }
}

/// How a watched job ended.
#[derive(Debug, Clone)]
pub struct Collected {
    /// How the job ended.
    pub finished: v1::JobFinished,
    /// Workers registered at the last progress report.
    pub workers: u32,
    /// The job's result units, from its progress reports (`None` if none came).
    pub units_total: Option<u64>,
}

/// Watches `job_id` until it ends, feeding result blocks to `sink` in order. On a lost
/// connection it reconnects and resumes from its cursor for up to [`RECONNECT_FOR`]. A job
/// reported SUCCEEDED must have delivered every result unit, or this is an error.
pub async fn collect(
    conn: &Conn,
    job_id: &str,
    sink: &mut impl Sink,
    progress: &Progress,
) -> Result<Collected, CliError> {
    collect_with(conn, job_id, sink, progress, false).await
}

/// Like [`collect`], but a failed or cancelled signal search also delivers the blocks after its
/// first hole (`WatchRequest.partial`): the sink sees blocks in bank order with gaps, each
/// called with the bank index just after the previous block.
pub async fn collect_partial(
    conn: &Conn,
    job_id: &str,
    sink: &mut impl Sink,
    progress: &Progress,
) -> Result<Collected, CliError> {
    collect_with(conn, job_id, sink, progress, true).await
}

async fn collect_with(
    conn: &Conn,
    job_id: &str,
    sink: &mut impl Sink,
    progress: &Progress,
    partial: bool,
) -> Result<Collected, CliError> {
    let mut st = WatchState {
        partial,
        ..WatchState::default()
    };
    let mut lost_since: Option<Instant> = None;
    let mut conn = conn.clone();
    loop {
        let before = st.cursor;
        match watch_once(&conn, job_id, &mut st, sink, progress).await {
            Ok(finished) => {
                let ok = v1::JobState::try_from(finished.state) == Ok(v1::JobState::Succeeded);
                if ok && st.total != Some(st.cursor) {
                    return Err(CliError::Failed(format!(
                        "{job_id} was reported complete but only {} of {} result units arrived",
                        st.cursor,
                        st.total.map_or("?".to_string(), |t| t.to_string())
                    )));
                }
                return Ok(Collected {
                    finished,
                    workers: st.workers,
                    units_total: st.total,
                });
            }
            Err(WatchError::Fatal(e)) => return Err(e),
            Err(WatchError::Lost(why)) => {
                if st.cursor > before {
                    lost_since = None; // progress was made: a fresh reconnection budget
                }
                let since = *lost_since.get_or_insert_with(Instant::now);
                if since.elapsed() > RECONNECT_FOR {
                    return Err(CliError::Unreachable(format!(
                        "lost the coordinator at {} ({why}) and could not reconnect within {} s; the job may still be running: `chirpfarm watch {job_id}` later",
                        conn.url,
                        RECONNECT_FOR.as_secs()
                    )));
                }
                progress.message(&format!("coordinator lost ({why}); reconnecting..."));
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Ok(c) = conn.reconnect().await {
                    conn = c;
                }
            }
        }
    }
}

/// Where a watch is: result units received (the cursor), the job's total once known, workers.
#[derive(Debug, Default)]
struct WatchState {
    cursor: u64,
    total: Option<u64>,
    workers: u32,
    /// A partial watch (signal searches: blocks may skip over holes).
    partial: bool,
}

enum WatchError {
    Lost(String),
    Fatal(CliError),
}

async fn watch_once(
    conn: &Conn,
    job_id: &str,
    st: &mut WatchState,
    sink: &mut impl Sink,
    progress: &Progress,
) -> Result<v1::JobFinished, WatchError> {
    let req = conn.stream_req(v1::WatchRequest {
        job_id: job_id.to_string(),
        cursor: st.cursor,
        partial: st.partial,
    });
    let mut stream = match conn.client().watch(req).await {
        Ok(s) => s.into_inner(),
        Err(s) if is_transient(&s) => return Err(WatchError::Lost(s.message().to_string())),
        Err(s) => return Err(WatchError::Fatal(conn.status_error(s))),
    };
    loop {
        let ev = match stream.message().await {
            Ok(Some(ev)) => ev,
            Ok(None) => return Err(WatchError::Lost("stream ended".into())),
            Err(s) if is_transient(&s) => return Err(WatchError::Lost(s.message().to_string())),
            Err(s) => return Err(WatchError::Fatal(conn.status_error(s))),
        };
        match ev.event {
            Some(v1::watch_event::Event::Progress(p)) => {
                st.workers = p.workers;
                st.total = Some(p.templates_total);
                progress.set(p.templates_done, p.templates_total);
            }
            Some(v1::watch_event::Event::Block(b)) => {
                sink.block(st.cursor, &b)
                    .map_err(|e| WatchError::Fatal(CliError::Failed(e)))?;
                // A partial watch may skip a hole: the cursor is the unit after the block.
                st.cursor = if st.partial {
                    b.unit + b.count as u64
                } else {
                    st.cursor + b.count as u64
                };
            }
            Some(v1::watch_event::Event::Finished(f)) => return Ok(f),
            None => {}
        }
    }
}

/// Errors worth retrying: the coordinator is restarting or the connection dropped.
fn is_transient(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::Unavailable
            | tonic::Code::Unknown
            | tonic::Code::Cancelled
            | tonic::Code::Aborted
    )
}
