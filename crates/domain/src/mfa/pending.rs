//! A login whose password was right and whose second factor is pending:
//! what the `mfa_token` stands for.

use std::net::IpAddr;

use crate::{Timestamp, TokenHash, UserId};

/// The half-finished login.
#[derive(Clone, Debug)]
pub struct PendingLogin {
    /// Its row id.
    pub id: uuid::Uuid,
    /// SHA-256 of the `mfa_token`.
    pub token_hash: TokenHash,
    /// Who proved their password.
    pub user_id: UserId,
    /// What the login asked for.
    pub remember_me: bool,
    /// The client that proved the password; the token works only for it.
    pub ip: Option<IpAddr>,
    /// Its user agent.
    pub user_agent: Option<String>,
    /// When the password was proved.
    pub created_at: Timestamp,
    /// When the token stops working.
    pub expires_at: Timestamp,
    /// Wrong codes presented with it.
    pub attempts: u32,
    /// When it finished a login.
    pub consumed_at: Option<Timestamp>,
    /// The organization the login asked for (the user was a member then).
    pub organization_id: Option<crate::OrganizationId>,
}

impl PendingLogin {
    /// Whether it can still finish a login at `now` for a client at `ip`
    /// with `user_agent`, after at most `max_attempts` wrong codes.
    #[must_use]
    pub fn is_usable(
        &self,
        now: Timestamp,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
        max_attempts: u32,
    ) -> bool {
        self.consumed_at.is_none()
            && self.expires_at > now
            && self.attempts < max_attempts
            && self.ip == ip
            && self.user_agent.as_deref() == user_agent
    }
}
