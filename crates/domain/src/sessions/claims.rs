//! Claims of an access token (RFC 9068 profile).

use super::Assurance;
use crate::{Email, OrganizationId, Role, SessionId, Timestamp, UserId};

/// What an access token asserts. `iss`, `aud` and `typ` are fixed by the
/// signer's configuration, so they are not carried here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    /// `sub`: the user.
    pub user_id: UserId,
    /// `email`.
    pub email: Email,
    /// `email_verified`.
    pub email_verified: bool,
    /// `roles`.
    pub roles: Vec<Role>,
    /// `sid`: the session the token belongs to.
    pub session_id: SessionId,
    /// `jti`: unique token id.
    pub token_id: String,
    /// `iat` (also `nbf`).
    pub issued_at: Timestamp,
    /// `exp`.
    pub expires_at: Timestamp,
    /// `acr`, `amr`, `auth_time`: copied from the session.
    pub assurance: Assurance,
    /// `org_id`: the session's current organization, a hint only (every
    /// decision checks membership again).
    pub organization_id: Option<OrganizationId>,
}
