//! Building a channel to a coordinator, the one place where URLs, TLS and timeouts meet.
//!
//! The worker daemon and the CLI both connect through [`endpoint`], so they agree on what a URL
//! means: `https://` always means TLS, verified against the CA given with `--ca-file`, and
//! `http://` always means plaintext. Nothing ever falls back from one to the other: TLS options
//! with an `http://` URL are an error, as is an `https://` URL without a CA, and a failed TLS
//! handshake is reported (with a hint, see [`explain`]) rather than retried without TLS.

use std::path::Path;
use std::time::Duration;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// How long a connection attempt (TCP and TLS handshakes) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// HTTP/2 keepalive: a ping this often on a connection, so a long quiet stream (a Watch, a
/// worker session) notices a dead peer without a per-call deadline.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// How long a keepalive ping may go unanswered before the connection counts as dead.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// A client's TLS settings: the CA that signed the coordinator's certificate, and optionally
/// a certificate of its own (mutual TLS, required of workers by a coordinator with
/// `--client-ca`). Empty for plaintext `http://` coordinators.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// CA certificate(s), PEM: the only roots trusted for the coordinator's certificate.
    ca: Option<Certificate>,
    /// This peer's certificate chain and key, PEM.
    identity: Option<Identity>,
}

impl ClientTls {
    /// No TLS: for `http://` URLs.
    pub fn none() -> ClientTls {
        ClientTls::default()
    }

    /// Reads `--ca-file` and (both or neither) `--tls-cert`/`--tls-key`. Messages name the
    /// flag and the file, for the user.
    pub fn from_files(
        ca: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<ClientTls, String> {
        let ca = ca
            .map(|p| read_pem(p, "--ca-file").map(Certificate::from_pem))
            .transpose()?;
        let identity = match (cert, key) {
            (Some(c), Some(k)) => Some(Identity::from_pem(
                read_pem(c, "--tls-cert")?,
                read_pem(k, "--tls-key")?,
            )),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        Ok(ClientTls { ca, identity })
    }

    /// Whether any TLS setting was given.
    pub fn is_set(&self) -> bool {
        self.ca.is_some() || self.identity.is_some()
    }
}

/// Reads a PEM file, checking that it looks like PEM (a clear error instead of a handshake
/// failure later).
pub fn read_pem(path: &Path, flag: &str) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read {flag} file {}: {e}", path.display()))?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(format!(
            "{flag} file {} is not PEM (expected -----BEGIN ...)",
            path.display()
        ));
    }
    Ok(bytes)
}

/// An endpoint for `url` with the connect timeout, keepalive and, for `https://`, TLS. Errors
/// are the user's to fix (a bad URL, TLS options that do not match the scheme).
pub fn endpoint(url: &str, tls: &ClientTls) -> Result<Endpoint, String> {
    check_scheme(url)?;
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| format!("bad coordinator address {url:?}: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT);
    match endpoint.uri().scheme_str() {
        Some("https") => {
            let Some(ca) = &tls.ca else {
                return Err(format!(
                    "{url} is https:// but no CA was given: pass --ca-file (the CA certificate that signed the coordinator's certificate)"
                ));
            };
            let mut config = ClientTlsConfig::new().ca_certificate(ca.clone());
            if let Some(id) = &tls.identity {
                config = config.identity(id.clone());
            }
            endpoint
                .tls_config(config)
                .map_err(|e| format!("bad TLS settings for {url}: {}", chain(&e)))
        }
        Some("http") if tls.is_set() => Err(format!(
            "TLS options (--ca-file, --tls-cert) were given but {url} is plaintext http://: use https:// (there is no fallback between the two)"
        )),
        Some("http") => Ok(endpoint),
        _ => Err(format!(
            "bad coordinator address {url:?}: it must start with http:// or https://"
        )),
    }
}

/// Refuses an address without a scheme (`lab1:50051`, `127.0.0.1:50051`) with the fix: the
/// scheme says plaintext or TLS, and neither is guessed.
pub fn check_scheme(url: &str) -> Result<(), String> {
    if url.contains("://") {
        return Ok(());
    }
    Err(format!(
        "coordinator address {url:?} has no scheme: did you mean http://{url} (or https:// with --ca-file)?"
    ))
}

/// The `host:port` part of a coordinator URL, for messages.
pub fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// What to say when the peer at `url` answered, but not as a gRPC (HTTP/2) server.
pub fn not_grpc(url: &str) -> String {
    format!(
        "{} did not answer as a chirpfarm coordinator (not gRPC/HTTP/2: is it the right port?)",
        authority(url)
    )
}

/// Whether an error's text says the peer does not speak HTTP/2: an HTTP/1 server, or some
/// other protocol, on the port. hyper and h2 report these as protocol or frame errors, or (when
/// the peer hangs up after its own reply) as the connection closing under the first call.
pub fn looks_not_grpc(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let protocol = [
        "h2 protocol error",
        "http2 error",
        "frame with invalid size",
        "invalid http version",
        "connection error detected: protocol",
        "received an unexpected frame",
        "frame size",
    ]
    .iter()
    .any(|s| lower.contains(s));
    let hung_up = lower.contains("transport error")
        && ["connection closed", "broken pipe", "connection reset"]
            .iter()
            .any(|s| lower.contains(s));
    protocol || hung_up
}

/// Connects to `url`; on failure, a one-line explanation from [`explain`].
pub async fn connect(endpoint: &Endpoint) -> Result<tonic::transport::Channel, String> {
    endpoint
        .connect()
        .await
        .map_err(|e| explain(endpoint.uri().to_string().trim_end_matches('/'), &e))
}

/// Says why connecting to `url` failed, with a hint when the failure has a known cause: an
/// `https://` URL against a plaintext coordinator, or a certificate the CA did not sign.
pub fn explain(url: &str, err: &(dyn std::error::Error + 'static)) -> String {
    let why = chain(err);
    let tls = url.starts_with("https://");
    let lower = why.to_ascii_lowercase();
    if tls
        && [
            "invalidcontenttype",
            "corrupt message",
            "handshake eof",
            "unexpected eof",
            "close_notify",
            "connection reset",
        ]
        .iter()
        .any(|s| lower.contains(s))
    {
        format!(
            "TLS handshake with the coordinator at {url} failed ({why}): is it serving plaintext? A coordinator started without --tls-cert only speaks http://"
        )
    } else if tls && lower.contains("certificate") {
        format!(
            "the coordinator at {url} failed TLS verification ({why}): check --ca-file and that its certificate names the host in the URL"
        )
    } else if looks_not_grpc(&why) {
        not_grpc(url)
    } else {
        format!("cannot reach the coordinator at {url}: {why}")
    }
}

/// A status's message for people: its causes added when tonic's own message is only
/// "transport error" or "h2 protocol error", escaped and bounded (it comes from the network),
/// and never the gRPC code's name.
pub fn describe_status(s: &tonic::Status) -> String {
    use std::error::Error;
    let mut text = s.message().to_string();
    let mut source = s.source();
    while let Some(e) = source {
        let t = e.to_string();
        if !text.contains(&t) {
            text = if text.is_empty() {
                t
            } else {
                format!("{text}: {t}")
            };
        }
        source = e.source();
    }
    if text.is_empty() {
        text = "no message".into();
    }
    chirpfarm_core::logging::escape(&text, 2000)
}

/// An error and its sources, joined with `: ` (tonic's own Display says only "transport error").
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_tls_options_must_agree() {
        let ca = ClientTls {
            ca: Some(Certificate::from_pem("-----BEGIN CERTIFICATE-----")),
            identity: None,
        };
        assert!(endpoint("http://127.0.0.1:1", &ClientTls::none()).is_ok());
        let e = endpoint("https://127.0.0.1:1", &ClientTls::none()).unwrap_err();
        assert!(e.contains("--ca-file"), "{e}");
        let e = endpoint("http://127.0.0.1:1", &ca).unwrap_err();
        assert!(e.contains("use https://"), "{e}");
        let e = endpoint("ftp://127.0.0.1:1", &ClientTls::none()).unwrap_err();
        assert!(e.contains("http:// or https://"), "{e}");
    }

    #[test]
    fn an_address_without_scheme_gets_the_fix() {
        let e = endpoint("lab1:50051", &ClientTls::none()).unwrap_err();
        assert_eq!(
            e,
            "coordinator address \"lab1:50051\" has no scheme: did you mean http://lab1:50051 (or https:// with --ca-file)?"
        );
        assert!(endpoint("127.0.0.1:50051", &ClientTls::none()).is_err());
        assert_eq!(authority("http://127.0.0.1:9/x"), "127.0.0.1:9");
        assert!(not_grpc("https://lab1:1").starts_with("lab1:1 did not answer"));
    }

    #[test]
    fn cert_and_key_go_together() {
        let e = ClientTls::from_files(None, Some(Path::new("/nonexistent")), None).unwrap_err();
        assert!(e.contains("go together"), "{e}");
        let e = ClientTls::from_files(Some(Path::new("/nonexistent")), None, None).unwrap_err();
        assert!(e.contains("--ca-file"), "{e}");
    }
}
