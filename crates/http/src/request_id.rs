//! Request ids, access logs and HTTP metrics: every response carries
//! `X-Request-Id`, every problem body the same id, every access-log line the
//! route pattern (never a path that may carry a token), the client IP and the
//! latency; `http_requests_total` and `http_request_duration_seconds` count
//! by route pattern and status, so label values stay bounded.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The header carrying the id.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served, if any.
#[must_use]
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Accepts a sane incoming id from a trusted proxy (a gateway that already
/// logged it) or makes one: a client cannot choose the id that ties log
/// lines together.
fn id_for(req: &ServiceRequest) -> String {
    if !crate::client::from_trusted_proxy(req.request()) {
        return uuid::Uuid::now_v7().to_string();
    }
    req.headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
}

/// The middleware: `App::wrap(from_fn(request_id::middleware))`.
///
/// # Errors
/// Only what an inner middleware fails with.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = id_for(&req);
    REQUEST_ID
        .scope(id.clone(), async move {
            let started = Instant::now();
            let method = req.method().clone();
            let client = crate::client::client_ip(req.request());
            // Handler and extractor errors arrive here as responses already;
            // an `Err` would come from a middleware further in, of which there
            // is none. (Cloning the request to answer it would break actix's
            // unique ownership of the request.)
            let mut response = next.call(req).await?.map_into_boxed_body();
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(HEADER, value);
            }
            let status = response.status().as_u16();
            let route = response
                .request()
                .match_pattern()
                .unwrap_or_else(|| "<unmatched>".to_owned());
            let elapsed = started.elapsed().as_secs_f64();
            let elapsed_ms = elapsed * 1000.0;
            let labels = [
                ("method", method.to_string()),
                ("route", route.clone()),
                ("status", status.to_string()),
            ];
            metrics::counter!("http_requests_total", &labels).increment(1);
            metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed);
            if status >= 500 {
                tracing::error!(request_id = %id, %method, route, status, elapsed_ms, client_ip = ?client, "request");
            } else {
                tracing::info!(request_id = %id, %method, route, status, elapsed_ms, client_ip = ?client, "request");
            }
            Ok(response)
        })
        .await
}
