//! `sign_in`: login — handler, body, and the status of each outcome.

use actix_web::{HttpResponse, web};
use auth_application::sign_in::{LoginError, LoginRequest, SignIn};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts::{parse_email, required_password};
use crate::app::App;
use crate::client::Client;
use crate::dto::TokenPairDto;
use crate::error::{ApiError, ErrorCode, ProblemDetails};
use crate::refresh_cookie;

/// `POST /api/v1/auth/login`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// Email address.
    #[schema(example = "alice@example.com")]
    pub email: String,
    /// Password.
    #[schema(example = "Correct-Horse-42")]
    pub password: String,
    /// Keep the session for `sessions.remember_me_ttl` (30 days) instead of
    /// `sessions.ttl` (24 hours).
    #[serde(default)]
    pub remember_me: bool,
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
pub async fn login<A: App>(
    app: web::Data<A>,
    client: Client,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = LoginRequest {
        email: parse_email(&body.email)?,
        password: required_password(body.password)?,
        remember_me: body.remember_me,
    };
    let pair = app.sign_in().login(request, &client.0).await?;
    Ok(refresh_cookie::token_pair_response(&pair))
}

impl From<LoginError> for ApiError {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::InvalidCredentials => Self::new(ErrorCode::InvalidCredentials),
            LoginError::EmailNotVerified => Self::new(ErrorCode::EmailNotVerified),
            LoginError::Suspended => Self::new(ErrorCode::AccountSuspended),
            LoginError::Blocked { retry_after } => {
                Self::retry_later(ErrorCode::TooManyAttempts, retry_after)
            }
            LoginError::Failed(failure) => failure.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_to_status_table() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                LoginError::InvalidCredentials.into(),
                401,
                "invalid_credentials",
            ),
            (
                LoginError::EmailNotVerified.into(),
                403,
                "email_not_verified",
            ),
            (LoginError::Suspended.into(), 403, "account_suspended"),
            (
                LoginError::Blocked {
                    retry_after: std::time::Duration::from_secs(90),
                }
                .into(),
                429,
                "too_many_attempts",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.code().status().as_u16(), status, "{code}");
            assert_eq!(err.code().as_str(), code);
        }
    }
}
