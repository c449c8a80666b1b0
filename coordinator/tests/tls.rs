//! Security over real sockets on 127.0.0.1: TLS and mutual TLS, tokens per role, clear errors
//! when a client's URL and the server disagree about TLS, and silent sockets that must not lock
//! anyone out. Certificates: `tests/fixtures/tls/` (made by `deploy/tls/make-dev-ca.sh`).

use chirpfarm_coordinator::conn::ConnLimits;
use chirpfarm_coordinator::{serve, CoordinatorConfig, Security, ServerTls};
use chirpfarm_proto::auth::{Access, Token};
use chirpfarm_proto::connect::{self, ClientTls};
use chirpfarm_proto::v1;
use chirpfarm_proto::v1::client_client::ClientClient;
use chirpfarm_proto::v1::worker_session_client::WorkerSessionClient;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::{Code, Request};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/tls")
        .join(name)
}

fn server_tls(client_ca: bool) -> ServerTls {
    let ca = fixture("ca.pem");
    ServerTls::from_files(
        &fixture("server.pem"),
        &fixture("server.key"),
        client_ca.then_some(ca.as_path()),
    )
    .unwrap()
}

/// Separate client and worker tokens.
fn split_tokens() -> Access {
    Access {
        client: vec![Token::new("client-secret")],
        worker: vec![Token::new("worker-secret")],
        worker_cert_required: false,
    }
}

/// Starts a coordinator on 127.0.0.1; returns its `host:port` and the stop handle.
async fn start(security: Security) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        CoordinatorConfig::default(),
        listener,
        security,
        async {
            let _ = rx.await;
        },
    ));
    (addr, tx)
}

async fn channel(url: &str, tls: &ClientTls) -> Result<Channel, String> {
    connect::connect(&connect::endpoint(url, tls)?).await
}

fn ca_only() -> ClientTls {
    ClientTls::from_files(Some(&fixture("ca.pem")), None, None).unwrap()
}

fn with_cert() -> ClientTls {
    ClientTls::from_files(
        Some(&fixture("ca.pem")),
        Some(&fixture("worker.pem")),
        Some(&fixture("worker.key")),
    )
    .unwrap()
}

fn req<T>(msg: T, token: Option<&str>) -> Request<T> {
    let mut r = Request::new(msg);
    chirpfarm_proto::auth::attach_token(&mut r, token);
    r
}

async fn list_workers(ch: &Channel, token: Option<&str>) -> Result<usize, tonic::Status> {
    ClientClient::new(ch.clone())
        .list_workers(req(v1::ListWorkersRequest {}, token))
        .await
        .map(|r| r.into_inner().workers.len())
}

/// Opens a worker session with an (intentionally outdated) registration: the gate's answer,
/// or the service's own refusal of protocol version 99 once past the gate.
async fn open_session(ch: &Channel, token: Option<&str>) -> tonic::Status {
    let register = v1::WorkerMessage {
        msg: Some(v1::worker_message::Msg::Register(v1::Register {
            protocol_version: 99,
            name: "probe".into(),
            ..Default::default()
        })),
    };
    WorkerSessionClient::new(ch.clone())
        .session(req(tokio_stream::iter(vec![register]), token))
        .await
        .map(|_| ())
        .expect_err("protocol 99 is never accepted")
}

fn past_the_gate(s: &tonic::Status) -> bool {
    !matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied)
}

#[tokio::test]
async fn tls_with_tokens_per_role() {
    let (addr, _stop) = start(Security {
        access: split_tokens(),
        tls: Some(server_tls(false)),
        ..Security::default()
    })
    .await;
    let ch = channel(&format!("https://{addr}"), &ca_only())
        .await
        .unwrap();
    assert_eq!(list_workers(&ch, Some("client-secret")).await.unwrap(), 0);
    // A worker token on the Client service: known, but in the wrong place.
    let e = list_workers(&ch, Some("worker-secret")).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(
        e.message()
            .contains("this is a worker token; Client RPCs need a client token"),
        "{}",
        e.message()
    );
    // A client token cannot open a worker session.
    let e = open_session(&ch, Some("client-secret")).await;
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(
        e.message().contains("this is a client token"),
        "{}",
        e.message()
    );
    // Unknown and missing tokens.
    for token in [Some("guess"), None] {
        let e = list_workers(&ch, token).await.unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        assert_eq!(open_session(&ch, token).await.code(), Code::Unauthenticated);
    }
    let e = open_session(&ch, Some("worker-secret")).await;
    assert!(past_the_gate(&e), "{e:?}");
}

#[tokio::test]
async fn mutual_tls_workers_need_a_certificate() {
    let (addr, _stop) = start(Security {
        tls: Some(server_tls(true)),
        ..Security::default()
    })
    .await;
    let url = format!("https://{addr}");
    // CLI clients connect without a certificate...
    let plain = channel(&url, &ca_only()).await.unwrap();
    assert_eq!(list_workers(&plain, None).await.unwrap(), 0);
    // ...but cannot open a worker session.
    let e = open_session(&plain, None).await;
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    assert!(
        e.message()
            .contains("worker sessions need a client certificate signed by --client-ca"),
        "{}",
        e.message()
    );
    let worker = channel(&url, &with_cert()).await.unwrap();
    let e = open_session(&worker, None).await;
    assert!(past_the_gate(&e), "{e:?}");
}

#[tokio::test]
async fn https_to_a_plaintext_coordinator_is_a_clear_error() {
    let (addr, _stop) = start(Security::open()).await;
    let e = channel(&format!("https://{addr}"), &ca_only())
        .await
        .unwrap_err();
    assert!(e.contains("is it serving plaintext?"), "{e}");
    // The same server over http:// works: nothing is wrong with it.
    let ch = channel(&format!("http://{addr}"), &ClientTls::none())
        .await
        .unwrap();
    assert_eq!(list_workers(&ch, None).await.unwrap(), 0);
}

#[tokio::test]
async fn http_to_a_tls_coordinator_is_a_clear_error() {
    let (addr, _stop) = start(Security {
        tls: Some(server_tls(false)),
        ..Security::default()
    })
    .await;
    let url = format!("http://{addr}");
    let outcome = match channel(&url, &ClientTls::none()).await {
        Ok(ch) => list_workers(&ch, None).await.map_err(|s| s.to_string()),
        Err(e) => Err(e),
    };
    let e = outcome.unwrap_err();
    assert!(e.contains("requires TLS: connect with https://"), "{e}");
    // Nor does TLS configuration silently apply to an http:// URL.
    let e = connect::endpoint(&url, &ca_only()).unwrap_err();
    assert!(e.contains("use https://"), "{e}");
}

#[tokio::test]
async fn silent_sockets_neither_lock_out_clients_nor_linger() {
    let timeout = Duration::from_millis(1500);
    for tls in [false, true] {
        let (addr, _stop) = start(Security {
            tls: tls.then(|| server_tls(false)),
            limits: ConnLimits {
                handshake_timeout: timeout,
                max_connections: 4096,
            },
            ..Security::default()
        })
        .await;
        let mut silent = Vec::new();
        for _ in 0..200 {
            silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
        }
        let opened = Instant::now();
        let (url, ctls) = if tls {
            (format!("https://{addr}"), ca_only())
        } else {
            (format!("http://{addr}"), ClientTls::none())
        };
        let t0 = Instant::now();
        let ch = channel(&url, &ctls).await.unwrap();
        assert_eq!(list_workers(&ch, None).await.unwrap(), 0);
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "a client behind 200 silent sockets waited {:?} (tls: {tls})",
            t0.elapsed()
        );
        // Every silent socket is closed by the server after the handshake timeout.
        let reads = silent.iter_mut().map(|s| async move {
            let mut b = [0u8; 1];
            use tokio::io::AsyncReadExt;
            tokio::time::timeout(Duration::from_secs(10), s.read(&mut b)).await
        });
        for r in futures::future::join_all(reads).await {
            assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "still open: {r:?}");
        }
        let closed_after = opened.elapsed();
        assert!(
            closed_after >= timeout - Duration::from_millis(200)
                && closed_after < timeout + Duration::from_secs(5),
            "closed after {closed_after:?} (tls: {tls})"
        );
        // And the client's connection was not one of them.
        assert_eq!(list_workers(&ch, None).await.unwrap(), 0);
    }
}

/// A `MakeWriter` collecting log output in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn refusals(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains("refused a request"))
            .map(str::to_string)
            .collect()
    }
}

#[tokio::test]
async fn refusals_are_logged_with_the_peer_at_most_once_a_second() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // A current-thread runtime: the server's tasks log through this subscriber too.
    let _guard = tracing::subscriber::set_default(subscriber);
    let (addr, _stop) = start(Security {
        access: split_tokens(),
        ..Security::default()
    })
    .await;
    let ch = channel(&format!("http://{addr}"), &ClientTls::none())
        .await
        .unwrap();
    for _ in 0..5 {
        assert!(list_workers(&ch, Some("guess")).await.is_err());
    }
    let lines = log.refusals();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("peer=127.0.0.1:"), "{}", lines[0]);
    assert!(lines[0].contains("suppressed=0"), "{}", lines[0]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(list_workers(&ch, Some("worker-secret")).await.is_err());
    let lines = log.refusals();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].contains("suppressed=4") && lines[1].contains("this is a worker token"),
        "{}",
        lines[1]
    );
}

/// Reads until the server closes the connection; the time that took.
async fn until_closed(mut s: impl tokio::io::AsyncRead + Unpin) -> Duration {
    use tokio::io::AsyncReadExt;
    let t0 = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return t0.elapsed(),
            Ok(Ok(_)) => {} // the server's TLS tickets and HTTP/2 SETTINGS
            Err(_) => panic!("the server kept a stalled connection open for 10 s"),
        }
    }
}

#[tokio::test]
async fn connections_that_stall_after_tls_or_the_preface_are_closed() {
    use tokio::io::AsyncWriteExt;
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    let timeout = Duration::from_millis(1000);
    let limits = ConnLimits {
        handshake_timeout: timeout,
        max_connections: 100,
    };
    let (addr, _stop) = start(Security {
        tls: Some(server_tls(false)),
        limits,
        ..Security::default()
    })
    .await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("ca.pem")).unwrap())
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let name = ServerName::try_from("127.0.0.1").unwrap();
    // A complete TLS handshake, then nothing.
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let tls = connector.connect(name.clone(), tcp).await.unwrap();
    let took = until_closed(tls).await;
    assert!(took < timeout + Duration::from_secs(3), "{took:?}");
    // TLS and the HTTP/2 preface, then nothing.
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(chirpfarm_coordinator::conn::PREFACE)
        .await
        .unwrap();
    let took = until_closed(tls).await;
    assert!(took < timeout + Duration::from_secs(3), "{took:?}");
    // Plaintext: the preface, then nothing.
    let (addr, _stop) = start(Security {
        limits,
        ..Security::default()
    })
    .await;
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(chirpfarm_coordinator::conn::PREFACE)
        .await
        .unwrap();
    let took = until_closed(tcp).await;
    assert!(took < timeout + Duration::from_secs(3), "{took:?}");
}
