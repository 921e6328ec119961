//! `sign_in`: login — handler, body, and the status of each outcome.

use actix_web::{HttpResponse, web};
use auth_application::sign_in::{
    LoginError, LoginOutcome, LoginRequest, MfaRequired, ReauthError, SignIn,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::{parse_email, required_password};
use crate::app::App;
use crate::auth::Authenticated;
use crate::client::Client;
use crate::dto::TokenPairDto;
use crate::error::{ApiError, ErrorCode, ProblemDetails};
use crate::refresh_cookie;

/// A login that opened its session: the token pair, `mfa_required: false`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginTokensDto {
    /// Always `false` here: the discriminator of the login answer.
    #[schema(example = false)]
    pub mfa_required: bool,
    /// The pair.
    #[serde(flatten)]
    pub pair: TokenPairDto,
}

/// One of the user's active methods, as the second step offers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaMethodOffer {
    /// The method's id (absent for backup codes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// `totp`, `email`, `sms` or `backup_code`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The method's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email / SMS: masked address or number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Backup codes: how many are left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u32>,
}

/// A right password for a user with a second factor: no token, no session
/// yet; finish with `POST /api/v1/mfa/verify` and the `mfa_token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequiredDto {
    /// Always `true` here: the discriminator of the login answer.
    #[schema(example = true)]
    pub mfa_required: bool,
    /// Binds the second step to this login and client; single use.
    pub mfa_token: String,
    /// Seconds the `mfa_token` stays usable.
    #[schema(example = 300)]
    pub expires_in: u64,
    /// What the user can present.
    pub methods: Vec<MfaMethodOffer>,
    /// The method to offer first (the last used).
    pub default_method_id: Option<Uuid>,
}

impl From<&MfaRequired> for MfaRequiredDto {
    fn from(required: &MfaRequired) -> Self {
        let mut methods: Vec<MfaMethodOffer> = required
            .methods
            .iter()
            .map(|m| MfaMethodOffer {
                id: Some(m.id.as_uuid()),
                kind: m.kind.as_str(),
                name: Some(m.name.clone()),
                hint: m.hint.clone(),
                remaining: None,
            })
            .collect();
        if let Some(remaining) = required.backup_codes_remaining.filter(|r| *r > 0) {
            methods.push(MfaMethodOffer {
                id: None,
                kind: "backup_code",
                name: None,
                hint: None,
                remaining: Some(remaining),
            });
        }
        Self {
            mfa_required: true,
            mfa_token: required.mfa_token.expose().to_owned(),
            expires_in: required.expires_in,
            methods,
            default_method_id: required.default_method_id.map(|id| id.as_uuid()),
        }
    }
}

/// The login answer: a token pair, or the second step's needs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "mfa_required", mapping(
    ("false" = "#/components/schemas/LoginTokensDto"),
    ("true" = "#/components/schemas/MfaRequiredDto")
)))]
pub enum LoginResponse {
    /// The session is open.
    Tokens(Box<LoginTokensDto>),
    /// A second factor is due.
    MfaRequired(MfaRequiredDto),
}

/// `POST /api/v1/auth/reauthenticate`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReauthenticateBody {
    /// The account's password.
    pub password: String,
}

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
    /// The organization the session's tokens name (`org_id`) when the user
    /// is a member of it; ignored otherwise.
    pub organization_id: Option<uuid::Uuid>,
}

/// Log in: opens a session and returns its token pair (also set as the
/// `refresh_token` cookie) — or, for a user with a second factor,
/// `mfa_required` with the `mfa_token` of the second step.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in (token pair, cookie set) or a second factor is due (`mfa_required: true`, no token, no cookie)", body = LoginResponse,
            headers(("Set-Cookie" = String, description = "refresh_token=…; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth (token pair only)"))),
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
        organization_id: body
            .organization_id
            .map(auth_domain::OrganizationId::from_uuid),
    };
    Ok(match app.sign_in().login(request, &client.0).await? {
        LoginOutcome::Tokens(pair) => refresh_cookie::pair_response(
            &pair,
            &LoginResponse::Tokens(Box::new(LoginTokensDto {
                mfa_required: false,
                pair: TokenPairDto::from(&*pair),
            })),
        ),
        LoginOutcome::MfaRequired(required) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(LoginResponse::MfaRequired(MfaRequiredDto::from(&required))),
    })
}

/// Prove the password again in the Bearer token's session: a pair for the
/// same session with a fresh `auth_time` (step-up for users without a
/// second factor). A wrong password counts like a failed login.
#[utoipa::path(
    post, path = "/api/v1/auth/reauthenticate", tag = "auth",
    request_body = ReauthenticateBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Same session, fresh `auth_time`", body = TokenPairDto),
        (status = 401, description = "`invalid_credentials` or `unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn reauthenticate<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    body: web::Json<ReauthenticateBody>,
) -> Result<HttpResponse, ApiError> {
    let password = required_password(body.into_inner().password)?;
    let pair = app
        .sign_in()
        .reauthenticate(&auth.claims, password, &client.0)
        .await
        .map_err(|err| match err {
            ReauthError::InvalidCredentials => ApiError::new(ErrorCode::InvalidCredentials),
            ReauthError::Unauthenticated => ApiError::unauthorized(true),
            ReauthError::Blocked { retry_after } => {
                ApiError::retry_later(ErrorCode::TooManyAttempts, retry_after)
            }
            ReauthError::Failed(failure) => failure.into(),
        })?;
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
