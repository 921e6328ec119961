//! Health, keys, the API document and its reference page.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use auth_application::Ports;

use crate::dto::{HealthChecks, HealthDto};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Liveness and dependency checks.
#[utoipa::path(
    get, path = "/health", tag = "system",
    responses(
        (status = 200, description = "Every dependency answers", body = HealthDto),
        (status = 503, description = "A dependency is down", body = HealthDto),
    )
)]
pub async fn health<P: Ports>(state: web::Data<AppState<P>>) -> HttpResponse {
    let report = state.service.health().await;
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
pub async fn metrics<P: Ports>(state: web::Data<AppState<P>>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(state.metrics.render())
}

/// Public keys for verifying access tokens offline (RFC 7517).
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "system",
    responses((status = 200, description = "The JWK set", content_type = "application/json", body = Object))
)]
pub async fn jwks<P: Ports>(state: web::Data<AppState<P>>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(state.jwks.clone())
}

/// This document.
#[utoipa::path(
    get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::document())
}

/// Any unknown route.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::NotFound))
}

/// A known route with another method; `allow` lists the methods it serves.
pub async fn method_not_allowed(allow: String) -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed(allow))
}
