//! The security audit trail.

use std::net::IpAddr;

use crate::{EventId, Timestamp, UserId};

/// Kinds of security events. The names are part of the API contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditEventType {
    /// An account was created.
    UserRegistered,
    /// A verification email was queued.
    EmailVerificationSent,
    /// An email address was verified.
    EmailVerified,
    /// A login succeeded.
    LoginSucceeded,
    /// A login failed.
    LoginFailed,
    /// An IP address was blocked after failed logins.
    IpBlocked,
    /// A request was refused by a rate limit.
    RateLimited,
    /// A refresh token was rotated.
    TokenRefreshed,
    /// A rotated-out refresh token was presented again.
    TokenReuseDetected,
    /// A session was logged out.
    Logout,
    /// A session was revoked by its owner.
    SessionRevoked,
    /// Every session of a user was revoked.
    SessionsRevokedAll,
    /// A password was changed.
    PasswordChanged,
    /// A password reset was requested.
    PasswordResetRequested,
    /// A password was reset with an emailed token.
    PasswordReset,
}

impl AuditEventType {
    /// The stable event name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user.registered",
            Self::EmailVerificationSent => "email.verification_sent",
            Self::EmailVerified => "email.verified",
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginFailed => "login.failed",
            Self::IpBlocked => "ip.blocked",
            Self::RateLimited => "rate_limited",
            Self::TokenRefreshed => "token.refreshed",
            Self::TokenReuseDetected => "token.reuse_detected",
            Self::Logout => "logout",
            Self::SessionRevoked => "session.revoked",
            Self::SessionsRevokedAll => "sessions.revoked_all",
            Self::PasswordChanged => "password.changed",
            Self::PasswordResetRequested => "password.reset_requested",
            Self::PasswordReset => "password.reset",
        }
    }
}

/// Who made a request: recorded with every audit event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// Client address (after trusted-proxy resolution).
    pub ip: Option<IpAddr>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

/// One security event. Never holds a password, token or hash.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    /// Event id.
    pub id: EventId,
    /// The user concerned; `None` when no known user is (a failed login for an
    /// unknown email).
    pub user_id: Option<UserId>,
    /// What happened.
    pub kind: AuditEventType,
    /// When.
    pub at: Timestamp,
    /// Client address.
    pub ip: Option<IpAddr>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Non-secret key/value details (reason, session id, …).
    pub details: Vec<(String, String)>,
}

impl AuditEvent {
    /// A new event for `user_id` from the client in `ctx`.
    #[must_use]
    pub fn new(
        kind: AuditEventType,
        user_id: Option<UserId>,
        ctx: &RequestContext,
        at: Timestamp,
    ) -> Self {
        Self {
            id: EventId::generate(),
            user_id,
            kind,
            at,
            ip: ctx.ip,
            user_agent: ctx.user_agent.clone(),
            details: Vec::new(),
        }
    }

    /// Adds a detail.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.details.push((key.to_owned(), value.into()));
        self
    }
}
