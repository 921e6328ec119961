//! `activity`: the caller's own audit trail.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use auth_application::activity::Activity;
use auth_domain::{AuditEvent, EventId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::App;
use crate::auth::Authenticated;
use crate::error::{ApiError, ProblemDetails};

/// `?limit&before`
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events per page: default 50, at most 200 (more is read as 200).
    #[param(minimum = 1, example = 50)]
    pub limit: Option<u32>,
    /// The `next_before` of the previous page.
    pub before: Option<String>,
}

/// One security event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventDto {
    /// Event id (UUID v7, time-ordered).
    pub id: Uuid,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened, e.g. `login.succeeded`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// Non-secret details (reason, session id, …).
    #[schema(value_type = Object)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl From<&AuditEvent> for AuditEventDto {
    fn from(event: &AuditEvent) -> Self {
        Self {
            id: event.id.as_uuid(),
            at: event.at,
            kind: event.kind.as_str().to_owned(),
            ip: event.ip.map(|ip| ip.to_string()),
            user_agent: event.user_agent.clone(),
            details: event
                .details
                .iter()
                .map(|(k, v)| {
                    // Reported activity keeps its metadata as the JSON
                    // object it was.
                    let value = match k.as_str() {
                        "metadata" => serde_json::from_str(v)
                            .unwrap_or_else(|_| serde_json::Value::String(v.clone())),
                        _ => serde_json::Value::String(v.clone()),
                    };
                    (k.clone(), value)
                })
                .collect(),
        }
    }
}

impl AuditEventDto {
    /// The event as `user` may see it in their own trail: the address and
    /// user agent of someone else who acted on them (an administrator, an
    /// organization owner) are not theirs to see.
    #[must_use]
    pub fn seen_by(event: &AuditEvent, user: auth_domain::UserId) -> Self {
        let someone_else = event
            .details
            .iter()
            .any(|(k, v)| k == "actor_id" && *v != user.to_string());
        let mut dto = Self::from(event);
        if someone_else {
            dto.ip = None;
            dto.user_agent = None;
        }
        dto
    }
}

/// `GET /api/v1/auth/audit`
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPageDto {
    /// The caller's events, newest first.
    pub events: Vec<AuditEventDto>,
    /// The cursor of the next page; `null` on the last page.
    pub next_before: Option<Uuid>,
}

/// The caller's own security events, newest first.
#[utoipa::path(
    get, path = "/api/v1/auth/audit", tag = "sessions",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the caller's events", body = AuditPageDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a malformed `limit` or `before`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn audit<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let AuditQuery { limit, before } = query.into_inner();
    if limit == Some(0) {
        return Err(ApiError::invalid_field(
            "limit",
            "out_of_range",
            "limit must be at least 1",
        ));
    }
    let before = before
        .map(|b| {
            b.parse::<EventId>().map_err(|_| {
                ApiError::invalid_field(
                    "before",
                    "invalid_cursor",
                    "before is not a next_before cursor",
                )
            })
        })
        .transpose()?;
    let page = app
        .activity()
        .audit_trail(auth.claims.user_id, before, limit)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AuditPageDto {
            events: page
                .events
                .iter()
                .map(|e| AuditEventDto::seen_by(e, auth.claims.user_id))
                .collect(),
            next_before: page.next_before.map(|id| id.as_uuid()),
        }))
}
