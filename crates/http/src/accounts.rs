//! `accounts`: registration, email verification, the current user, password
//! change — handlers, bodies, and the status of each outcome.

use actix_web::{HttpResponse, web};
use auth_application::accounts::{
    Accounts, ChangePasswordError, ChangePasswordRequest, CurrentUserError, RegisterError,
    RegisterRequest, ResetPasswordError, ResetPasswordRequest, VerifyEmailError,
};
use auth_domain::{Email, EmailError, Password};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::Authenticated;
use crate::client::Client;
use crate::dto::UserEnvelope;
use crate::error::{ApiError, ErrorCode, ProblemDetails, weak_password};

/// `POST /api/v1/auth/register`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// Email address; stored trimmed and lower-cased.
    #[schema(example = "alice@example.com")]
    pub email: String,
    /// 8–128 characters with upper- and lowercase letters and a digit; not
    /// a common password.
    #[schema(example = "Correct-Horse-42")]
    pub password: String,
    /// The token of an invitation to this address (from its link): the
    /// address counts as verified and the account joins the organization.
    pub invitation_token: Option<String>,
}

/// `POST /api/v1/auth/verify-email`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailBody {
    /// The token from the verification email.
    pub token: String,
}

/// `POST /api/v1/auth/change-password`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    /// The password in use.
    pub current_password: String,
    /// The new password (the password policy applies).
    pub new_password: String,
}

/// `POST /api/v1/auth/forgot-password` and `POST
/// /api/v1/auth/resend-verification`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    /// The account's email address.
    #[schema(example = "alice@example.com")]
    pub email: String,
}

/// `POST /api/v1/auth/reset-password`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordBody {
    /// The token from the reset email.
    pub token: String,
    /// The new password (the password policy applies).
    pub new_password: String,
}

/// `{}`: an accepted request with nothing to say.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct EmptyObject {}

/// An email field, normalized, or the `validation_failed` naming it.
pub(crate) fn parse_email(raw: &str) -> Result<Email, ApiError> {
    Email::parse(raw).map_err(|err| {
        let code = match err {
            EmailError::Empty => "required",
            EmailError::TooLong => "too_long",
            EmailError::Malformed => "invalid_email",
        };
        ApiError::invalid_field("email", code, err.to_string())
    })
}

/// A password field that must not be empty.
pub(crate) fn required_password(raw: String) -> Result<Password, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::invalid_field(
            "password",
            "required",
            "password is required",
        ));
    }
    Ok(Password::new(raw))
}

/// Register a new account and send its verification email. With the
/// `invitation_token` of an invitation to this address, the address counts
/// as verified (no mail) and the account joins the organization.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "Account created; a verification email is on its way", body = UserEnvelope),
        (status = 400, description = "`token_invalid` or `token_expired`: the invitation token", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` or `weak_password`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn register<A: App>(
    app: web::Data<A>,
    client: Client,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = RegisterRequest {
        email: parse_email(&body.email)?,
        password: required_password(body.password)?,
        invitation_token: body.invitation_token,
        profile: auth_domain::accounts::Profile::default(),
        preferences: None,
    };
    let view = app.accounts().register(request, &client.0).await?;
    Ok(HttpResponse::Created().json(UserEnvelope::from(&view)))
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
pub async fn verify_email<A: App>(
    app: web::Data<A>,
    client: Client,
    body: web::Json<VerifyEmailBody>,
) -> Result<HttpResponse, ApiError> {
    let view = app.accounts().verify_email(&body.token, &client.0).await?;
    Ok(HttpResponse::Ok().json(UserEnvelope::from(&view)))
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
pub async fn verify_email_in_path<A: App>(
    app: web::Data<A>,
    client: Client,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = app.accounts().verify_email(&token, &client.0).await?;
    Ok(HttpResponse::Ok().json(UserEnvelope::from(&view)))
}

/// Ask for a password-reset link. Always 202, whether or not the address
/// has an account, with the same body and the same work before the answer;
/// the mail (if any) is sent after the response.
#[utoipa::path(
    post, path = "/api/v1/auth/forgot-password", tag = "auth",
    request_body = EmailBody,
    responses(
        (status = 202, description = "Accepted; if an account exists, a link is on its way", body = EmptyObject),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: 3 per address per hour, unknown addresses included", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn forgot_password<A: App>(
    app: web::Data<A>,
    client: Client,
    body: web::Json<EmailBody>,
) -> Result<HttpResponse, ApiError> {
    let email = parse_email(&body.email)?;
    app.accounts().forgot_password(email, &client.0).await?;
    Ok(HttpResponse::Accepted().json(EmptyObject::default()))
}

/// Ask for a new verification link. Always 202: the same answer for unknown,
/// unverified and verified addresses.
#[utoipa::path(
    post, path = "/api/v1/auth/resend-verification", tag = "auth",
    request_body = EmailBody,
    responses(
        (status = 202, description = "Accepted; an unverified account gets a new link", body = EmptyObject),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: 3 per address per hour", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn resend_verification<A: App>(
    app: web::Data<A>,
    client: Client,
    body: web::Json<EmailBody>,
) -> Result<HttpResponse, ApiError> {
    let email = parse_email(&body.email)?;
    app.accounts().resend_verification(email, &client.0).await?;
    Ok(HttpResponse::Accepted().json(EmptyObject::default()))
}

/// Set a new password with the token from the reset email. Single use;
/// marks the email verified and ends every session of the account.
#[utoipa::path(
    post, path = "/api/v1/auth/reset-password", tag = "auth",
    request_body = ResetPasswordBody,
    responses(
        (status = 204, description = "Password set; every session revoked"),
        (status = 400, description = "`token_invalid` or `token_expired`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`weak_password` (the token stays usable) or `validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 503, description = "`service_unavailable`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn reset_password<A: App>(
    app: web::Data<A>,
    client: Client,
    body: web::Json<ResetPasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = ResetPasswordRequest {
        token: body.token,
        new_password: Password::new(body.new_password),
    };
    app.accounts().reset_password(request, &client.0).await?;
    Ok(HttpResponse::NoContent().finish())
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
pub async fn me<A: App>(app: web::Data<A>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let view = app.accounts().current_user(auth.claims.user_id).await?;
    Ok(HttpResponse::Ok().json(UserEnvelope::from(&view)))
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
pub async fn change_password<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    body: web::Json<ChangePasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = ChangePasswordRequest {
        current_password: Password::new(body.current_password),
        new_password: Password::new(body.new_password),
    };
    app.accounts()
        .change_password(&auth.claims, request, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

impl From<RegisterError> for ApiError {
    fn from(err: RegisterError) -> Self {
        match err {
            RegisterError::WeakPassword(violations) => weak_password("password", &violations),
            RegisterError::EmailTaken => Self::new(ErrorCode::EmailTaken),
            RegisterError::InvitationInvalid => Self::new(ErrorCode::TokenInvalid),
            RegisterError::InvitationExpired => Self::new(ErrorCode::TokenExpired),
            RegisterError::Invalid(field, message) => {
                Self::invalid_field(field, "invalid", message)
            }
            RegisterError::Failed(failure) => failure.into(),
        }
    }
}

impl From<VerifyEmailError> for ApiError {
    fn from(err: VerifyEmailError) -> Self {
        match err {
            VerifyEmailError::Invalid => Self::new(ErrorCode::TokenInvalid),
            VerifyEmailError::Expired => Self::new(ErrorCode::TokenExpired),
            VerifyEmailError::Failed(failure) => failure.into(),
        }
    }
}

impl From<ResetPasswordError> for ApiError {
    fn from(err: ResetPasswordError) -> Self {
        match err {
            ResetPasswordError::Invalid => Self::new(ErrorCode::TokenInvalid),
            ResetPasswordError::Expired => Self::new(ErrorCode::TokenExpired),
            ResetPasswordError::WeakPassword(violations) => {
                weak_password("new_password", &violations)
            }
            ResetPasswordError::Failed(failure) => failure.into(),
        }
    }
}

impl From<CurrentUserError> for ApiError {
    fn from(err: CurrentUserError) -> Self {
        match err {
            // The token was valid, its account is gone: the token is dead.
            CurrentUserError::Unknown => Self::unauthorized(true),
            CurrentUserError::Failed(failure) => failure.into(),
        }
    }
}

impl From<ChangePasswordError> for ApiError {
    fn from(err: ChangePasswordError) -> Self {
        match err {
            ChangePasswordError::InvalidCredentials => Self::new(ErrorCode::InvalidCredentials),
            ChangePasswordError::WeakPassword(violations) => {
                weak_password("new_password", &violations)
            }
            ChangePasswordError::Unauthenticated => Self::unauthorized(true),
            ChangePasswordError::Failed(failure) => failure.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use auth_domain::PolicyViolation;

    use super::*;

    /// Every outcome of the context and the status and code it answers with.
    #[test]
    fn outcome_to_status_table() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                RegisterError::WeakPassword(vec![PolicyViolation::TooShort]).into(),
                422,
                "weak_password",
            ),
            (RegisterError::EmailTaken.into(), 409, "email_taken"),
            (VerifyEmailError::Invalid.into(), 400, "token_invalid"),
            (VerifyEmailError::Expired.into(), 400, "token_expired"),
            (CurrentUserError::Unknown.into(), 401, "unauthorized"),
            (
                ChangePasswordError::InvalidCredentials.into(),
                401,
                "invalid_credentials",
            ),
            (
                ChangePasswordError::WeakPassword(vec![PolicyViolation::TooCommon]).into(),
                422,
                "weak_password",
            ),
            (
                ChangePasswordError::Unauthenticated.into(),
                401,
                "unauthorized",
            ),
            (ResetPasswordError::Invalid.into(), 400, "token_invalid"),
            (ResetPasswordError::Expired.into(), 400, "token_expired"),
            (
                ResetPasswordError::WeakPassword(vec![PolicyViolation::MissingDigit]).into(),
                422,
                "weak_password",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.code().status().as_u16(), status, "{code}");
            assert_eq!(err.code().as_str(), code);
        }
    }
}
