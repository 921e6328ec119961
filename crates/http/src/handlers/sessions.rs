//! Refresh, logout, sessions, change password, token validation.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use auth_application::{ChangePasswordRequest, Ports, SessionError, TokenPair};
use auth_domain::{Password, SessionId};

use crate::auth::{Authenticated, BearerAuthenticator};
use crate::client::Client;
use crate::dto::{
    ChangePasswordBody, IntrospectionDto, RefreshBody, SessionDto, SessionsDto, TokenPairDto,
    ValidateBody,
};
use crate::error::{ApiError, ProblemDetails};
use crate::state::AppState;

/// Name of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "refresh_token";
const REFRESH_COOKIE_PATH: &str = "/api/v1/auth";

/// `refresh_token=…; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth`.
fn cookie_with(value: String) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, value)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path(REFRESH_COOKIE_PATH)
        .finish()
}

/// The session's refresh cookie, with `Max-Age` only for remember-me sessions
/// (otherwise it ends with the browser session).
fn refresh_cookie(pair: &TokenPair) -> Cookie<'static> {
    let mut cookie = cookie_with(pair.refresh_token.expose().to_owned());
    if pair.session.remember_me {
        cookie.set_max_age(CookieDuration::seconds(
            i64::try_from(pair.refresh_expires_in).unwrap_or(i64::MAX),
        ));
    }
    cookie
}

/// Expires the refresh cookie in the browser.
fn cleared_cookie() -> Cookie<'static> {
    let mut cookie = cookie_with(String::new());
    cookie.make_removal();
    cookie
}

/// The answer of login and refresh: the pair, and the pair's cookie.
pub(crate) fn token_pair_response(pair: &TokenPair) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(refresh_cookie(pair))
        .json(TokenPairDto::from(pair))
}

/// The body field first, then the cookie.
fn presented_refresh_token(req: &HttpRequest, body: Option<RefreshBody>) -> Option<String> {
    body.and_then(|b| b.refresh_token)
        .filter(|t| !t.trim().is_empty())
        .or_else(|| {
            req.cookie(REFRESH_COOKIE)
                .map(|c| c.value().to_owned())
                .filter(|t| !t.is_empty())
        })
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
pub async fn refresh<P: Ports>(
    state: web::Data<AppState<P>>,
    client: Client,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = crate::json::optional::<RefreshBody>(&req, payload).await?;
    // No token at all is the use case's `Invalid`, mapped like any other.
    let token = presented_refresh_token(&req, body).unwrap_or_default();
    let pair = state.service.refresh(&token, &client.0).await?;
    Ok(token_pair_response(&pair))
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
pub async fn logout<P: Ports>(
    state: web::Data<AppState<P>>,
    client: Client,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = crate::json::optional::<RefreshBody>(&req, payload).await?;
    // An expired access token is no obstacle: fall back to the refresh token.
    let claims = crate::auth::bearer(&req)
        .and_then(|token| BearerAuthenticator::authenticate(state.service.as_ref(), token).ok());
    let refresh = presented_refresh_token(&req, body);
    state
        .service
        .logout(claims.as_ref(), refresh.as_deref(), &client.0)
        .await?;
    Ok(HttpResponse::NoContent().cookie(cleared_cookie()).finish())
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
pub async fn list_sessions<P: Ports>(
    state: web::Data<AppState<P>>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.service.list_sessions(auth.claims.user_id).await?;
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
pub async fn revoke_session<P: Ports>(
    state: web::Data<AppState<P>>,
    auth: Authenticated,
    client: Client,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // A malformed id names no session of the caller's: the same answer.
    let id: SessionId = id
        .parse()
        .map_err(|_| ApiError::from(SessionError::NotFound))?;
    state
        .service
        .revoke_session(auth.claims.user_id, id, &client.0)
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
pub async fn revoke_all_sessions<P: Ports>(
    state: web::Data<AppState<P>>,
    auth: Authenticated,
    client: Client,
) -> Result<HttpResponse, ApiError> {
    state
        .service
        .revoke_all_sessions(auth.claims.user_id, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().cookie(cleared_cookie()).finish())
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
pub async fn revoke_sessions_collection<P: Ports>(
    state: web::Data<AppState<P>>,
    auth: Authenticated,
    client: Client,
) -> Result<HttpResponse, ApiError> {
    revoke_all_sessions(state, auth, client).await
}

/// Change the password: keeps this session, revokes every other one.
#[utoipa::path(
    post, path = "/api/v1/auth/change-password", tag = "sessions",
    security(("bearer" = [])),
    request_body = ChangePasswordBody,
    responses(
        (status = 204, description = "Changed; other sessions revoked"),
        (status = 401, description = "`unauthorized`, or `invalid_credentials` for a wrong current password", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`weak_password` or `validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn change_password<P: Ports>(
    state: web::Data<AppState<P>>,
    auth: Authenticated,
    client: Client,
    body: web::Json<ChangePasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = ChangePasswordRequest {
        current_password: Password::new(body.current_password),
        new_password: Password::new(body.new_password),
    };
    state
        .service
        .change_password(&auth.claims, request, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
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
pub async fn validate<P: Ports>(
    state: web::Data<AppState<P>>,
    body: web::Json<ValidateBody>,
) -> HttpResponse {
    let answer = state
        .service
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
