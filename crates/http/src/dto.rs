//! Wire shapes: what clients send and receive. Domain types never cross the
//! wire directly.

use auth_application::TokenPair;
use auth_domain::User;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

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
}

/// `POST /api/v1/auth/verify-email`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailBody {
    /// The token from the verification email.
    pub token: String,
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
}

/// A user account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    /// User id (UUID v7).
    pub id: Uuid,
    /// Normalized email address.
    pub email: String,
    /// Whether the address was verified.
    pub email_verified: bool,
    /// Role names.
    pub roles: Vec<String>,
    /// Registration time (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserDto {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            email_verified: user.email_verified,
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            created_at: user.created_at,
        }
    }
}

/// `{"user": {...}}`: the user object is always wrapped.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserEnvelope {
    /// The account.
    pub user: UserDto,
}

impl From<&User> for UserEnvelope {
    fn from(user: &User) -> Self {
        Self { user: user.into() }
    }
}

/// Access and refresh tokens of a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPairDto {
    /// Signed JWT (EdDSA by default), `typ: at+jwt`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
    /// Opaque refresh token (also set as the `refresh_token` cookie).
    pub refresh_token: String,
    /// Seconds until the session expires.
    #[schema(example = 86400)]
    pub refresh_expires_in: u64,
    /// The session (`sid` claim).
    pub session_id: Uuid,
    /// The account.
    pub user: UserDto,
}

impl From<&TokenPair> for TokenPairDto {
    fn from(pair: &TokenPair) -> Self {
        Self {
            access_token: pair.access_token.clone(),
            token_type: "Bearer",
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token.expose().to_owned(),
            refresh_expires_in: pair.refresh_expires_in,
            session_id: pair.session.id.as_uuid(),
            user: (&pair.user).into(),
        }
    }
}

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

/// `POST /api/v1/auth/refresh` and `POST /api/v1/auth/logout`: the refresh
/// token, when not sent as the `refresh_token` cookie.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// The current refresh token; the cookie is used when absent.
    #[serde(default)]
    pub refresh_token: Option<String>,
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
