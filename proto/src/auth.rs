//! Shared-secret authentication: every RPC must carry `authorization: Bearer <token>` when the
//! coordinator was started with a token.

use crate::TOKEN_HEADER;
use tonic::{Request, Status};

/// A tonic interceptor that checks the bearer token (or lets everything through without one).
#[derive(Clone, Debug)]
pub struct TokenCheck {
    expected: Option<String>,
}

impl TokenCheck {
    /// Checks against `token`, or accepts all requests when `None`.
    pub fn new(token: Option<String>) -> TokenCheck {
        TokenCheck {
            expected: token.map(|t| format!("Bearer {t}")),
        }
    }
}

impl tonic::service::Interceptor for TokenCheck {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(req);
        };
        match req.metadata().get(TOKEN_HEADER).map(|v| v.to_str()) {
            Some(Ok(got)) if got == expected => Ok(req),
            Some(_) => Err(Status::unauthenticated(
                "wrong token: the coordinator rejected the shared secret (check --token-file / CHIRPFARM_TOKEN)",
            )),
            None => Err(Status::unauthenticated(
                "this coordinator requires a token: pass --token-file or set CHIRPFARM_TOKEN",
            )),
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
