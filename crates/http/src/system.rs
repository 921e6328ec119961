//! Health, keys, metrics, and the answers of unknown routes and methods.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

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

/// `GET /health`
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDto {
    /// `ok` when every check passed.
    pub status: CheckStatus,
    /// The checks.
    pub checks: HealthChecks,
}

/// Liveness and dependency checks.
#[utoipa::path(
    get, path = "/health", tag = "system",
    responses(
        (status = 200, description = "Every dependency answers", body = HealthDto),
        (status = 503, description = "A dependency is down", body = HealthDto),
    )
)]
pub async fn health<A: App>(app: web::Data<A>) -> HttpResponse {
    let report = app.health().await;
    let body = HealthDto {
        status: report.healthy().into(),
        checks: HealthChecks {
            database: report.database.into(),
            redis: report.hot_store.into(),
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
