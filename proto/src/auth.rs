//! Who may call what: bearer tokens per role, checked by one interceptor per service.
//!
//! A coordinator serves two kinds of peers. *Clients* (the CLI) submit, watch and cancel jobs;
//! *workers* open a `WorkerSession` and take leases. A leaked worker credential must not let
//! its holder read or cancel other people's jobs, and a client credential must not let anyone
//! pose as a worker and feed forged results; so each role has its own tokens ([`Access`]), and
//! each service gets a [`Gate`] that admits only its role. A token of the *other* role is
//! answered with `PermissionDenied` (the caller is known, but in the wrong place); an unknown
//! or missing token with `Unauthenticated`.
//!
//! Tokens are compared in constant time over SHA-256 digests, so neither the contents nor the
//! length of a token leak through response timing. Failed attempts are logged with the peer's
//! address, at most one line per second ([`RateLimited`]) so that a flood of bad requests cannot
//! flood the log.

use crate::ratelimit::RateLimited;
use crate::TOKEN_HEADER;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tonic::{Request, Status};

/// A secret token, kept only as a digest: what the coordinator compares against.
#[derive(Clone)]
pub struct Token {
    /// SHA-256 of the token text: fixed length, so comparing digests leaks no length.
    digest: [u8; 32],
}

impl Token {
    /// A token from its text (as read from a token file).
    pub fn new(text: &str) -> Token {
        Token {
            digest: Sha256::digest(text.as_bytes()).into(),
        }
    }

    /// Whether `other` is this token, in time independent of where they differ.
    fn matches(&self, other: &Token) -> bool {
        constant_time_eq(&self.digest, &other.digest)
    }
}

impl std::fmt::Debug for Token {
    /// Never prints the secret (nor its digest).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// Compares two equally long byte strings without an early exit, so the time taken does not
/// tell an attacker how many leading bytes were right.
pub fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // Keeps the optimiser from turning the fold into a short-circuiting compare.
    std::hint::black_box(diff) == 0
}

/// The two kinds of callers, one per service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The CLI and other job submitters: the `Client` service.
    Client,
    /// Worker daemons: the `WorkerSession` service.
    Worker,
}

impl Role {
    /// The other role (whose tokens are recognised but refused here).
    fn other(self) -> Role {
        match self {
            Role::Client => Role::Worker,
            Role::Worker => Role::Client,
        }
    }

    /// Lower-case name for messages.
    fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Worker => "worker",
        }
    }

    /// The service a role may call, for messages.
    fn service(self) -> &'static str {
        match self {
            Role::Client => "Client RPCs",
            Role::Worker => "worker sessions",
        }
    }
}

/// The coordinator's access policy: which tokens each role presents, and whether workers must
/// also present a TLS client certificate. An empty token list leaves that role's service open
/// (the default for a loopback development coordinator).
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Tokens accepted on the `Client` service.
    pub client: Vec<Token>,
    /// Tokens accepted on the `WorkerSession` service.
    pub worker: Vec<Token>,
    /// Worker sessions need a verified TLS client certificate (the server was given
    /// `--client-ca`; the TLS layer has already checked the chain, the gate checks presence).
    pub worker_cert_required: bool,
}

impl Access {
    /// No tokens and no certificates: everything is allowed.
    pub fn open() -> Access {
        Access::default()
    }

    /// One shared token for both roles (the `--token-file` of earlier versions), or open.
    pub fn shared(token: Option<&str>) -> Access {
        let tokens: Vec<Token> = token.map(Token::new).into_iter().collect();
        Access {
            client: tokens.clone(),
            worker: tokens,
            worker_cert_required: false,
        }
    }

    /// The tokens of `role`.
    fn tokens(&self, role: Role) -> &[Token] {
        match role {
            Role::Client => &self.client,
            Role::Worker => &self.worker,
        }
    }

    /// Decides whether a request with `authorization` value `header` may use `role`'s service;
    /// `has_cert`: the connection presented a verified client certificate.
    pub fn check(&self, role: Role, header: Option<&[u8]>, has_cert: bool) -> Result<(), Status> {
        if role == Role::Worker && self.worker_cert_required && !has_cert {
            return Err(Status::unauthenticated(
                "worker sessions need a client certificate signed by --client-ca (chirpfarm-worker --tls-cert/--tls-key)",
            ));
        }
        let mine = self.tokens(role);
        if mine.is_empty() {
            return Ok(());
        }
        let Some(header) = header else {
            return Err(Status::unauthenticated(format!(
                "this coordinator requires a token ({} role): pass --token-file or set CHIRPFARM_TOKEN",
                role.name()
            )));
        };
        let presented = Token::new(bearer(header));
        // Every token is compared (no early exit), so timing does not tell which list matched.
        let own = mine.iter().fold(false, |m, t| m | t.matches(&presented));
        let other = self
            .tokens(role.other())
            .iter()
            .fold(false, |m, t| m | t.matches(&presented));
        if own {
            Ok(())
        } else if other {
            Err(Status::permission_denied(format!(
                "this is a {} token; {} need a {} token",
                role.other().name(),
                role.service(),
                role.name()
            )))
        } else {
            Err(Status::unauthenticated(format!(
                "wrong token: the coordinator rejected this {} token (check --token-file / CHIRPFARM_TOKEN)",
                role.name()
            )))
        }
    }
}

/// The token inside an `authorization` value: after `Bearer `, or the whole value.
fn bearer(header: &[u8]) -> &str {
    let text = std::str::from_utf8(header).unwrap_or("");
    text.strip_prefix("Bearer ").unwrap_or(text)
}

/// Request extension saying that the connection presented a TLS client certificate that the
/// TLS layer verified (set by the server's connection layer when its connection type hides
/// tonic's own `peer_certs()`).
#[derive(Debug, Clone, Copy)]
pub struct ClientCertificate;

/// A tonic interceptor admitting one role to one service under an [`Access`] policy; failures
/// are logged (rate-limited) with the peer's address.
#[derive(Clone, Debug)]
pub struct Gate {
    /// The policy, shared by both services' gates.
    access: Arc<Access>,
    /// Whose service this gate guards.
    role: Role,
    /// One log limiter for all gates of a server: one line per second in total.
    log: Arc<RateLimited>,
}

impl Gate {
    /// A gate for `role`'s service.
    pub fn new(access: Arc<Access>, role: Role, log: Arc<RateLimited>) -> Gate {
        Gate { access, role, log }
    }
}

impl tonic::service::Interceptor for Gate {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let header = req.metadata().get(TOKEN_HEADER).map(|v| v.as_bytes());
        let has_cert = req.peer_certs().is_some_and(|c| !c.is_empty())
            || req.extensions().get::<ClientCertificate>().is_some();
        match self.access.check(self.role, header, has_cert) {
            Ok(()) => Ok(req),
            Err(status) => {
                if let Some(suppressed) = self.log.allow() {
                    let peer = req
                        .remote_addr()
                        .map_or_else(|| "unknown".to_string(), |a| a.to_string());
                    tracing::warn!(
                        %peer,
                        service = self.role.service(),
                        code = ?status.code(),
                        suppressed,
                        "refused a request: {}",
                        status.message()
                    );
                }
                Err(status)
            }
        }
    }
}

/// Reads a token file: the first line, trimmed; an empty file is an error.
pub fn read_token_file(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(format!("token file {} is empty", path.display()));
    }
    Ok(token)
}

/// Adds the bearer token to an outgoing request's metadata (no-op without a token).
pub fn attach_token<T>(req: &mut Request<T>, token: Option<&str>) {
    if let Some(t) = token {
        if let Ok(v) = format!("Bearer {t}").parse() {
            req.metadata_mut().insert(TOKEN_HEADER, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn split() -> Access {
        Access {
            client: vec![Token::new("c-secret")],
            worker: vec![Token::new("w-secret")],
            worker_cert_required: false,
        }
    }

    #[test]
    fn roles_are_kept_apart() {
        let a = split();
        assert!(a
            .check(Role::Client, Some(b"Bearer c-secret"), false)
            .is_ok());
        assert!(a
            .check(Role::Worker, Some(b"Bearer w-secret"), false)
            .is_ok());
        let e = a
            .check(Role::Client, Some(b"Bearer w-secret"), false)
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        assert!(e
            .message()
            .contains("this is a worker token; Client RPCs need a client token"));
        let e = a
            .check(Role::Worker, Some(b"Bearer c-secret"), false)
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        assert!(e.message().contains("this is a client token"));
    }

    #[test]
    fn unknown_or_missing_tokens_are_unauthenticated() {
        let a = split();
        for h in [
            Some(&b"Bearer nope"[..]),
            Some(b"c-secretx"),
            Some(b""),
            None,
        ] {
            let e = a.check(Role::Client, h, false).unwrap_err();
            assert_eq!(e.code(), Code::Unauthenticated, "{h:?}");
        }
    }

    #[test]
    fn one_shared_token_serves_both_roles() {
        let a = Access::shared(Some("s"));
        assert!(a.check(Role::Client, Some(b"Bearer s"), false).is_ok());
        assert!(a.check(Role::Worker, Some(b"Bearer s"), false).is_ok());
        assert!(Access::open().check(Role::Worker, None, false).is_ok());
    }

    #[test]
    fn worker_certificates_when_required() {
        let a = Access {
            worker_cert_required: true,
            ..Access::open()
        };
        let e = a.check(Role::Worker, None, false).unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        assert!(e
            .message()
            .contains("client certificate signed by --client-ca"));
        assert!(a.check(Role::Worker, None, true).is_ok());
        assert!(a.check(Role::Client, None, false).is_ok());
    }

    #[test]
    fn constant_time_compare() {
        let (x, mut y) = ([7u8; 32], [7u8; 32]);
        assert!(constant_time_eq(&x, &y));
        y[31] = 8;
        assert!(!constant_time_eq(&x, &y));
    }
}
