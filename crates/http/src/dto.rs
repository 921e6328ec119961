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
