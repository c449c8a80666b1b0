//! Who may read the HTTP endpoint: the holders of a client token, exactly as on the gRPC
//! Client service (same digests, same constant-time comparison, [`Access::check`]).
//!
//! A token comes as `Authorization: Bearer <token>` (Prometheus, curl), or — for a browser,
//! which cannot add headers to a link — once as `/?token=<token>`: the page then sets it as an
//! HttpOnly cookie and redirects to `/`, so the token leaves the address bar and the page's
//! own fetches of `/api/status` carry the cookie. Without client tokens (a loopback
//! development coordinator) everything is open.

use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::HeaderMap;
use chirpfarm_proto::auth::{Access, Role};

/// The cookie holding the token (hex of its text, so any token fits a cookie value).
pub const COOKIE_NAME: &str = "chirpfarm_token";

/// Whether `headers` prove a client token; the error is one line for the 401 answer.
pub fn authorize(access: &Access, headers: &HeaderMap) -> Result<(), String> {
    if access.client.is_empty() {
        return Ok(());
    }
    let presented = match headers.get(AUTHORIZATION) {
        Some(h) => Some(h.as_bytes().to_vec()),
        None => cookie_token(headers).map(String::into_bytes),
    };
    let Some(presented) = presented else {
        return Err("this coordinator requires a client token: send `Authorization: Bearer <token>`, or open /?token=<token> once in a browser".into());
    };
    check(access, &presented)
}

/// Whether `token` (the text of a token, or `Bearer <token>`) is a client token.
pub fn check(access: &Access, token: &[u8]) -> Result<(), String> {
    access
        .check(Role::Client, Some(token), false)
        .map_err(|status| status.message().to_string())
}

/// The token carried by our cookie, if the request has a well-formed one.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .and_then(|(_, value)| from_hex(value))
}

/// The `Set-Cookie` value that keeps `token` for this coordinator's pages.
pub fn set_cookie(token: &str) -> String {
    let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{COOKIE_NAME}={hex}; HttpOnly; SameSite=Strict; Path=/")
}

fn from_hex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) || text.len() > 8192 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: axum::http::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn the_client_token_opens_by_header_or_cookie_and_nothing_else_does() {
        let access = Access {
            client: vec![chirpfarm_proto::auth::Token::new("c-secret")],
            worker: vec![chirpfarm_proto::auth::Token::new("w-secret")],
            worker_cert_required: false,
        };
        assert!(authorize(&access, &headers(AUTHORIZATION, "Bearer c-secret")).is_ok());
        let cookie = set_cookie("c-secret");
        let value = cookie.split(';').next().unwrap();
        assert!(authorize(&access, &headers(COOKIE, &format!("a=b; {value}"))).is_ok());
        assert!(authorize(&access, &HeaderMap::new())
            .unwrap_err()
            .contains("requires a client token"));
        assert!(authorize(&access, &headers(AUTHORIZATION, "Bearer w-secret")).is_err());
        assert!(authorize(&access, &headers(AUTHORIZATION, "Bearer nope")).is_err());
        assert!(authorize(&access, &headers(COOKIE, "chirpfarm_token=zz")).is_err());
        assert!(authorize(&Access::open(), &HeaderMap::new()).is_ok());
    }
}
