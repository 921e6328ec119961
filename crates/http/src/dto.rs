//! Wire shapes more than one context answers with: the user object and the
//! token pair. Domain types never cross the wire directly.

use auth_application::TokenPair;
use auth_application::accounts::AccountView;
use auth_domain::{Role, User};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A user account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    /// User id (UUID v7).
    pub id: Uuid,
    /// Normalized email address.
    pub email: String,
    /// Whether the address was verified.
    pub email_verified: bool,
    /// Global role names.
    pub roles: Vec<String>,
    /// Display name (`null` when unset).
    pub name: Option<String>,
    /// Bio (`null` when unset).
    pub bio: Option<String>,
    /// Avatar, an `https://` URL (`null` when unset).
    pub avatar_url: Option<String>,
    /// `active` or `suspended`.
    #[schema(example = "active")]
    pub status: &'static str,
    /// Whether the user has an active second factor.
    pub mfa_enabled: bool,
    /// Registration time (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// Last change to the account.
    pub updated_at: DateTime<Utc>,
}

impl UserDto {
    /// The wire form of `user` with its `roles`.
    #[must_use]
    pub fn new(user: &User, roles: &[Role]) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            email_verified: user.email_verified,
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            name: user.profile.name.clone(),
            bio: user.profile.bio.clone(),
            avatar_url: user.profile.avatar_url.clone(),
            status: user.status.as_str(),
            mfa_enabled: user.mfa_enabled,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// `{"user": {...}}`: the user object is always wrapped.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserEnvelope {
    /// The account.
    pub user: UserDto,
}

impl From<&AccountView> for UserEnvelope {
    fn from(view: &AccountView) -> Self {
        Self {
            user: UserDto::new(&view.user, &view.roles),
        }
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
            user: UserDto::new(&pair.user, &pair.roles),
        }
    }
}
