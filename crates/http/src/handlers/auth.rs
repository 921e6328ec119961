//! `/api/v1/auth/*`

use actix_web::{HttpResponse, web};
use auth_application::{LoginRequest, Ports, RegisterRequest};
use auth_domain::{Email, EmailError, Password};

use crate::auth::Authenticated;
use crate::client::Client;
use crate::dto::{LoginBody, RegisterBody, TokenPairDto, UserEnvelope, VerifyEmailBody};
use crate::error::{ApiError, ProblemDetails};
use crate::state::AppState;

fn parse_email(raw: &str) -> Result<Email, ApiError> {
    Email::parse(raw).map_err(|err| {
        let code = match err {
            EmailError::Empty => "required",
            EmailError::TooLong => "too_long",
            EmailError::Malformed => "invalid_email",
        };
        ApiError::invalid_field("email", code, err.to_string())
    })
}

fn required_password(raw: String) -> Result<Password, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::invalid_field(
            "password",
            "required",
            "password is required",
        ));
    }
    Ok(Password::new(raw))
}

/// Register a new account and send its verification email.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Account created; a verification email is on its way", body = UserEnvelope),
        (status = 409, description = "`email_taken`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` or `weak_password`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn register<P: Ports>(
    state: web::Data<AppState<P>>,
    client: Client,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = RegisterRequest {
        email: parse_email(&body.email)?,
        password: required_password(body.password)?,
    };
    let user = state.service.register(request, &client.0).await?;
    Ok(HttpResponse::Created().json(UserEnvelope::from(&user)))
}

/// Verify an email address with the token from the verification email.
#[utoipa::path(
    post, path = "/api/v1/auth/verify-email", tag = "auth",
    request_body = VerifyEmailBody,
    responses(
        (status = 200, description = "Email verified", body = UserEnvelope),
        (status = 400, description = "`token_invalid` or `token_expired`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn verify_email<P: Ports>(
    state: web::Data<AppState<P>>,
    client: Client,
    body: web::Json<VerifyEmailBody>,
) -> Result<HttpResponse, ApiError> {
    let user = state.service.verify_email(&body.token, &client.0).await?;
    Ok(HttpResponse::Ok().json(UserEnvelope::from(&user)))
}

/// Verify an email address, token in the path (the link form).
#[utoipa::path(
    post, path = "/api/v1/auth/verify-email/{token}", tag = "auth",
    params(("token" = String, Path, description = "The token from the verification email")),
    responses(
        (status = 200, description = "Email verified", body = UserEnvelope),
        (status = 400, description = "`token_invalid` or `token_expired`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn verify_email_in_path<P: Ports>(
    state: web::Data<AppState<P>>,
    client: Client,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state.service.verify_email(&token, &client.0).await?;
    Ok(HttpResponse::Ok().json(UserEnvelope::from(&user)))
}

/// Log in: opens a session and returns its token pair; also sets the
/// `refresh_token` cookie.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in", body = TokenPairDto,
            headers(("Set-Cookie" = String, description = "refresh_token=…; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth"))),
        (status = 401, description = "`invalid_credentials`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`email_not_verified` or `account_suspended`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts` or `rate_limited`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn login<P: Ports>(
    state: web::Data<AppState<P>>,
    client: Client,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = LoginRequest {
        email: parse_email(&body.email)?,
        password: required_password(body.password)?,
        remember_me: body.remember_me,
    };
    let pair = state.service.login(request, &client.0).await?;
    Ok(crate::handlers::sessions::token_pair_response(&pair))
}

/// The current user.
#[utoipa::path(
    get, path = "/api/v1/auth/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = UserEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn me<P: Ports>(
    state: web::Data<AppState<P>>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = state.service.current_user(&auth.claims).await?;
    Ok(HttpResponse::Ok().json(UserEnvelope::from(&user)))
}
