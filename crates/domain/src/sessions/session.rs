//! Login sessions: one per device, each with one current refresh token.

use std::net::IpAddr;

use super::Assurance;
use crate::{OrganizationId, SessionId, Timestamp, TokenHash, UserId};

/// A login session.
#[derive(Clone, Debug)]
pub struct Session {
    /// Stable id, the `sid` claim of access tokens.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// When the session was created by a login.
    pub created_at: Timestamp,
    /// Last login or refresh.
    pub last_used_at: Timestamp,
    /// When refresh stops working.
    pub expires_at: Timestamp,
    /// Whether the user asked to stay logged in.
    pub remember_me: bool,
    /// Client address at login.
    pub ip: Option<IpAddr>,
    /// Client user agent at login.
    pub user_agent: Option<String>,
    /// Set when the session was logged out or revoked.
    pub revoked_at: Option<Timestamp>,
    /// What its user proved, and when: copied into every access token.
    pub assurance: Assurance,
    /// The organization its tokens name (`org_id`), if any.
    pub organization_id: Option<OrganizationId>,
}

impl Session {
    /// Whether refresh may still use this session at `now`.
    #[must_use]
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A session to create, with the hash of its first refresh token.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The session record.
    pub session: Session,
    /// Hash of the refresh token handed to the client.
    pub refresh_token_hash: TokenHash,
}
