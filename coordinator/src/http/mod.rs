//! The coordinator's optional HTTP endpoint (`--http ADDR`), on the same tokio runtime as the
//! gRPC server and stopped with it:
//!
//! * `GET /metrics`: Prometheus exposition ([`crate::metrics`]);
//! * `GET /`: a self-contained status page (inline CSS and JS, nothing fetched from elsewhere)
//!   that polls `GET /api/status` every second ([`status`]);
//! * everything read-only, behind the client token when tokens are configured ([`auth`]);
//! * connections admitted as on the gRPC port: a cap and a deadline for the first request's
//!   headers ([`listener`]).

pub mod auth;
pub mod listener;
pub mod status;

use crate::Coordinator;
use axum::extract::{Query, State};
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chirpfarm_proto::auth::Access;
use std::future::Future;
use std::sync::Arc;

/// The status page: one file, no external resources.
const PAGE: &str = include_str!("page.html");

/// What every handler needs: the coordinator to read and the tokens to check.
#[derive(Debug, Clone)]
struct Endpoint {
    coord: Coordinator,
    access: Arc<Access>,
}

/// The query string of `/`: a browser's one-time way to present its token.
#[derive(Debug, serde::Deserialize)]
struct PageQuery {
    token: Option<String>,
}

/// The routes over `coord`, guarded by `access`'s client tokens.
pub fn router(coord: Coordinator, access: Access) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/status", get(status_json))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(Endpoint {
            coord,
            access: Arc::new(access),
        })
}

/// Serves the endpoint on `listener` until `shutdown` resolves, then lets requests in flight
/// finish. Connections are admitted as on the gRPC port (`limits`: a cap, and a deadline for
/// the first request's headers; see [`listener`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    coord: Coordinator,
    access: Access,
    limits: crate::conn::ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (admitted, _stats) = listener::admit(listener, limits)?;
    serve_admitted(admitted, coord, access, shutdown).await
}

/// Serves the endpoint on connections already admitted.
async fn serve_admitted(
    admitted: listener::Admitted,
    coord: Coordinator,
    access: Access,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(coord, access).layer(axum::middleware::from_fn(listener::mark_speaking));
    axum::serve(
        admitted,
        app.into_make_service_with_connect_info::<crate::conn::ConnInfo>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The 401 answer: one line saying what is missing, and how to present a token.
fn unauthorized(why: String) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, "Bearer")],
        format!("unauthorized: {why}\n"),
    )
        .into_response()
}

async fn page(
    State(ep): State<Endpoint>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    if let Some(token) = query.token {
        // Exchanged once for a cookie; the redirect takes the token out of the address bar.
        let mut response = (StatusCode::SEE_OTHER, [(LOCATION, "/")]).into_response();
        if !ep.access.client.is_empty() {
            if let Err(why) = auth::check(&ep.access, token.as_bytes()) {
                return unauthorized(why);
            }
            if let Ok(v) = auth::set_cookie(&token).parse() {
                response.headers_mut().insert(SET_COOKIE, v);
            }
        }
        return response;
    }
    if let Err(why) = auth::authorize(&ep.access, &headers) {
        return unauthorized(why);
    }
    ([(CACHE_CONTROL, "no-store")], Html(PAGE)).into_response()
}

async fn status_json(State(ep): State<Endpoint>, headers: HeaderMap) -> Response {
    if let Err(why) = auth::authorize(&ep.access, &headers) {
        return unauthorized(why);
    }
    let report = status::report(&ep.coord);
    ([(CACHE_CONTROL, "no-store")], Json(report)).into_response()
}

async fn metrics(State(ep): State<Endpoint>, headers: HeaderMap) -> Response {
    if let Err(why) = auth::authorize(&ep.access, &headers) {
        return unauthorized(why);
    }
    let text = crate::metrics::scrape(&ep.coord);
    // OpenMetrics for those who ask for it (Prometheus does), the classic format otherwise.
    let openmetrics = headers
        .get(ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    if openmetrics {
        ([(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
    } else {
        let text = crate::metrics::classic(&text);
        ([(CONTENT_TYPE, crate::metrics::CLASSIC_CONTENT_TYPE)], text).into_response()
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "not found: this endpoint serves / (status page), /api/status and /metrics\n",
    )
        .into_response()
}
