//! Health, keys, metrics, and the answers of unknown routes and methods.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use auth_application::health::Probe;

use crate::app::App;
use crate::error::{ApiError, ErrorCode};

/// Reachability of one dependency.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Answered.
    Ok,
    /// Did not answer.
    Unavailable,
}

impl From<bool> for CheckStatus {
    fn from(ok: bool) -> Self {
        if ok { Self::Ok } else { Self::Unavailable }
    }
}

/// Per-dependency checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthChecks {
    /// The database.
    pub database: CheckStatus,
    /// The hot store (Redis, or the in-process store in embedded mode).
    pub redis: CheckStatus,
}

/// The service as a whole.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverallStatus {
    /// Every dependency answers.
    Ok,
    /// Serving without Redis: tokens validate from the local mirror, limits
    /// count in this process.
    Degraded,
    /// The database does not answer: 503.
    Unavailable,
}

/// One dependency, measured.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeDto {
    /// Whether it answered.
    pub status: CheckStatus,
    /// How long the check took, in milliseconds.
    pub latency_ms: f64,
}

impl From<Probe> for ProbeDto {
    fn from(probe: Probe) -> Self {
        Self {
            status: probe.ok.into(),
            latency_ms: (probe.latency.as_secs_f64() * 1e6).round() / 1e3,
        }
    }
}

/// The outbox's backlog.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxDto {
    /// Messages waiting for delivery (`null` when the database is down).
    pub pending: Option<u64>,
    /// Messages given up on after their last attempt.
    pub failed: Option<u64>,
}

/// Where rate limits are counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimiterDto {
    /// `shared` (Redis), `in-process` (embedded mode) or `fallback`
    /// (Redis unreachable: counted in this process until it returns).
    pub mode: String,
}

/// Each dependency with its latency, the outbox and the limiter.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDetails {
    /// The database.
    pub database: ProbeDto,
    /// The hot store.
    pub redis: ProbeDto,
    /// The outbox.
    pub outbox: OutboxDto,
    /// The rate limiter.
    pub rate_limiter: LimiterDto,
}

/// `GET /health`
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDto {
    /// `ok`, `degraded` (serving without Redis) or `unavailable`.
    pub status: OverallStatus,
    /// Each dependency: `ok` or `unavailable`.
    pub checks: HealthChecks,
    /// The same, measured, with the outbox backlog and the limiter's mode.
    pub details: HealthDetails,
}

/// Liveness and dependency checks. 503 only when the database is down:
/// without Redis the service still serves, degraded.
#[utoipa::path(
    get, path = "/health", tag = "system",
    responses(
        (status = 200, description = "Serving (`ok`, or `degraded` without Redis)", body = HealthDto),
        (status = 503, description = "The database does not answer", body = HealthDto,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn health<A: App>(app: web::Data<A>) -> HttpResponse {
    let report = app.health().await;
    let status = if !report.healthy() {
        OverallStatus::Unavailable
    } else if report.degraded() {
        OverallStatus::Degraded
    } else {
        OverallStatus::Ok
    };
    let body = HealthDto {
        status,
        checks: HealthChecks {
            database: report.database.ok.into(),
            redis: report.hot_store.ok.into(),
        },
        details: HealthDetails {
            database: report.database.into(),
            redis: report.hot_store.into(),
            outbox: OutboxDto {
                pending: report.outbox.map(|b| b.pending),
                failed: report.outbox.map(|b| b.failed),
            },
            rate_limiter: LimiterDto {
                mode: report.limiter.as_str().to_owned(),
            },
        },
    };
    if report.healthy() {
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::RETRY_AFTER, "5"))
            .json(body)
    }
}

/// Metrics in the Prometheus text format.
#[utoipa::path(
    get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text exposition format (0.0.4)", content_type = "text/plain"))
)]
pub async fn metrics<A: App>(app: web::Data<A>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(app.metrics())
}

/// Public keys for verifying access tokens offline (RFC 7517).
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "system",
    responses((status = 200, description = "The JWK set", content_type = "application/json", body = Object))
)]
pub async fn jwks<A: App>(app: web::Data<A>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(app.jwks().to_owned())
}

/// Any unknown route.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound))
}

/// A known route with another method; `allow` lists the methods it serves.
pub async fn method_not_allowed(allow: String) -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed(allow))
}
