//! `sessions`: refresh, logout, the session list, and token checks for other
//! services — handlers, bodies, and the status of each outcome.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use auth_application::sessions::{LogoutError, RefreshError, SessionError, Sessions};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::App;
use crate::auth::Authenticated;
use crate::client::Client;
use crate::dto::TokenPairDto;
use crate::error::{ApiError, ErrorCode, ProblemDetails};
use crate::refresh_cookie;

/// `POST /api/v1/auth/refresh` and `POST /api/v1/auth/logout`: the refresh
/// token, when not sent as the `refresh_token` cookie.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// The current refresh token; the cookie is used when absent.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `POST /api/v1/auth/validate`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateBody {
    /// An access token.
    pub token: String,
}

/// RFC 7662-shaped introspection of an access token.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct IntrospectionDto {
    /// Whether the token is valid, unexpired and unrevoked.
    pub active: bool,
    /// The user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<Uuid>,
    /// The user's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// The session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// Expiry (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Assurance level: `aal1` or `aal2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Authentication methods (RFC 8176), e.g. `["pwd", "otp", "mfa"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The last interactive proof (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

impl From<&auth_domain::AccessClaims> for IntrospectionDto {
    fn from(claims: &auth_domain::AccessClaims) -> Self {
        Self {
            active: true,
            sub: Some(claims.user_id.as_uuid()),
            email: Some(claims.email.as_str().to_owned()),
            roles: Some(claims.roles.iter().map(|r| r.as_str().to_owned()).collect()),
            sid: Some(claims.session_id.as_uuid()),
            exp: Some(claims.expires_at.timestamp()),
            iat: Some(claims.issued_at.timestamp()),
            acr: Some(claims.assurance.aal.as_str().to_owned()),
            amr: Some(
                claims
                    .assurance
                    .amr
                    .iter()
                    .map(|m| m.as_str().to_owned())
                    .collect(),
            ),
            auth_time: Some(claims.assurance.auth_time.timestamp()),
        }
    }
}

/// One login session (device).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDto {
    /// Session id.
    pub id: Uuid,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last login or refresh.
    pub last_used_at: DateTime<Utc>,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
    /// Client address at login.
    pub ip: Option<String>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
    /// Whether remember-me was chosen.
    pub remember_me: bool,
    /// Whether this is the caller's session.
    pub current: bool,
}

impl SessionDto {
    /// The wire form of `session`; `current` when it is the caller's.
    #[must_use]
    pub fn new(session: &auth_domain::Session, current: auth_domain::SessionId) -> Self {
        Self {
            id: session.id.as_uuid(),
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
            ip: session.ip.map(|ip| ip.to_string()),
            user_agent: session.user_agent.clone(),
            remember_me: session.remember_me,
            current: session.id == current,
        }
    }
}

/// `GET /api/v1/auth/sessions`
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsDto {
    /// Active sessions, newest first.
    pub sessions: Vec<SessionDto>,
}

/// Rotate the refresh token: a new pair for the same session.
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "sessions",
    request_body(content = Option<RefreshBody>, description = "Optional: the `refresh_token` cookie is used when the body has none"),
    responses(
        (status = 200, description = "New token pair; the cookie is replaced", body = TokenPairDto),
        (status = 401, description = "`refresh_token_invalid` or `refresh_token_reused`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`account_suspended`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: a non-empty body that is not JSON", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn refresh<A: App>(
    app: web::Data<A>,
    client: Client,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = crate::json::optional::<RefreshBody>(&req, payload).await?;
    let token = refresh_cookie::presented(&req, body.and_then(|b| b.refresh_token));
    let pair = app.sessions().refresh(token.as_deref(), &client.0).await?;
    Ok(refresh_cookie::token_pair_response(&pair))
}

/// Log out one session: the Bearer token's, or else the refresh token's.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "sessions",
    request_body(content = Option<RefreshBody>, description = "Optional: used when no valid Bearer token is sent"),
    security((), ("bearer" = [])),
    responses(
        (status = 204, description = "Logged out; the cookie is cleared"),
        (status = 401, description = "`unauthorized`: neither a valid access token nor a live refresh token", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`: a non-empty body that is not JSON", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn logout<A: App>(
    app: web::Data<A>,
    client: Client,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = crate::json::optional::<RefreshBody>(&req, payload).await?;
    let refresh = refresh_cookie::presented(&req, body.and_then(|b| b.refresh_token));
    app.sessions()
        .logout(crate::auth::bearer(&req), refresh.as_deref(), &client.0)
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(refresh_cookie::cleared())
        .finish())
}

/// The caller's active sessions, newest first.
#[utoipa::path(
    get, path = "/api/v1/auth/sessions", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Active sessions", body = SessionsDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn list_sessions<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = app.sessions().list(auth.claims.user_id).await?;
    let sessions = sessions
        .iter()
        .map(|s| SessionDto::new(s, auth.claims.session_id))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionsDto { sessions }))
}

/// Revoke one of the caller's sessions.
#[utoipa::path(
    delete, path = "/api/v1/auth/sessions/{id}", tag = "sessions",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such session of yours", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_session<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    app.sessions()
        .revoke(auth.claims.user_id, &id, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Log out every device, the current one included.
#[utoipa::path(
    delete, path = "/api/v1/auth/sessions/all", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session revoked; the cookie is cleared"),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_all_sessions<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
) -> Result<HttpResponse, ApiError> {
    app.sessions()
        .revoke_all(auth.claims.user_id, &client.0)
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(refresh_cookie::cleared())
        .finish())
}

/// The same as `DELETE /api/v1/auth/sessions/all` (collection form).
#[utoipa::path(
    delete, path = "/api/v1/auth/sessions", tag = "sessions",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session revoked; the cookie is cleared"),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_sessions_collection<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
) -> Result<HttpResponse, ApiError> {
    revoke_all_sessions(app, auth, client).await
}

/// Introspect an access token (RFC 7662 shape). Never 401 for a bad token.
#[utoipa::path(
    post, path = "/api/v1/auth/validate", tag = "tokens",
    request_body = ValidateBody,
    responses(
        (status = 200, description = "`{\"active\": false}` for a bad, expired, forged or revoked token", body = IntrospectionDto),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn validate<A: App>(app: web::Data<A>, body: web::Json<ValidateBody>) -> HttpResponse {
    let answer = app
        .sessions()
        .authenticate(&body.token)
        .map_or_else(|_| IntrospectionDto::default(), |c| (&c).into());
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer)
}

/// The Bearer token's own claims.
#[utoipa::path(
    get, path = "/api/v1/auth/verify-token", tag = "tokens",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The token is valid", body = IntrospectionDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn verify_token(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(IntrospectionDto::from(&auth.claims))
}

impl From<RefreshError> for ApiError {
    fn from(err: RefreshError) -> Self {
        match err {
            RefreshError::Invalid => Self::new(ErrorCode::RefreshTokenInvalid),
            RefreshError::Reused => Self::new(ErrorCode::RefreshTokenReused),
            RefreshError::Suspended => Self::new(ErrorCode::AccountSuspended),
            RefreshError::Failed(failure) => failure.into(),
        }
    }
}

impl From<LogoutError> for ApiError {
    fn from(err: LogoutError) -> Self {
        match err {
            LogoutError::Unauthenticated => Self::unauthorized(false),
            LogoutError::Failed(failure) => failure.into(),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::NotFound => Self::new(ErrorCode::NotFound).with_detail("No such session"),
            SessionError::Failed(failure) => failure.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_to_status_table() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (RefreshError::Invalid.into(), 401, "refresh_token_invalid"),
            (RefreshError::Reused.into(), 401, "refresh_token_reused"),
            (RefreshError::Suspended.into(), 403, "account_suspended"),
            (LogoutError::Unauthenticated.into(), 401, "unauthorized"),
            (SessionError::NotFound.into(), 404, "not_found"),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.code().status().as_u16(), status, "{code}");
            assert_eq!(err.code().as_str(), code);
        }
    }
}
