//! The security audit trail.

use std::net::IpAddr;

use crate::{EventId, OrganizationId, Timestamp, UserId};

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
    /// A second-factor setup began.
    MfaSetupStarted,
    /// A second-factor method was confirmed.
    MfaMethodAdded,
    /// A second-factor method was removed.
    MfaMethodRemoved,
    /// A code was sent by email or SMS.
    MfaChallengeSent,
    /// A second factor was verified.
    MfaVerified,
    /// A wrong second-factor code was presented.
    MfaFailed,
    /// Second-factor checks were locked after failures.
    MfaLocked,
    /// A backup code was used.
    MfaBackupCodeUsed,
    /// The backup codes were replaced.
    MfaBackupCodesRegenerated,
    /// An administrator removed a user's second factors.
    MfaResetByAdmin,
    /// A session proved a second factor again.
    StepUpSucceeded,
    /// A session proved its password again.
    ReauthSucceeded,
    /// A global role was given to a user.
    RoleAssigned,
    /// A global role was taken from a user.
    RoleRevoked,
    /// A custom role was created.
    RoleCreated,
    /// A role's description or permissions changed.
    RoleUpdated,
    /// A custom role was deleted.
    RoleDeleted,
    /// A service key was created.
    ServiceKeyCreated,
    /// A service key was revoked.
    ServiceKeyRevoked,
    /// Another service reported what a user did.
    ActivityReported,
    /// An organization was created.
    OrgCreated,
    /// An organization's name or settings changed.
    OrgUpdated,
    /// An organization was deleted.
    OrgDeleted,
    /// A member joined an organization.
    OrgMemberAdded,
    /// A member left or was removed.
    OrgMemberRemoved,
    /// A member's organization role changed.
    OrgMemberRoleChanged,
    /// An invitation was mailed.
    OrgInvitationSent,
    /// An invitation was accepted.
    OrgInvitationAccepted,
    /// An invitation was revoked or declined.
    OrgInvitationRevoked,
    /// A session switched organization.
    OrgSwitched,
    /// A user changed their profile.
    ProfileUpdated,
    /// A user changed their preferences.
    PreferencesUpdated,
    /// An administrator suspended the account.
    AccountSuspended,
    /// The account is active again.
    AccountReactivated,
    /// An administrator cleared the account's lockouts.
    AccountUnlocked,
    /// The account was deleted.
    AccountDeleted,
    /// The user's data was exported.
    AccountExported,
    /// An administrator lifted a login block of an address.
    IpUnblocked,
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
            Self::MfaSetupStarted => "mfa.setup_started",
            Self::MfaMethodAdded => "mfa.method_added",
            Self::MfaMethodRemoved => "mfa.method_removed",
            Self::MfaChallengeSent => "mfa.challenge_sent",
            Self::MfaVerified => "mfa.verified",
            Self::MfaFailed => "mfa.failed",
            Self::MfaLocked => "mfa.locked",
            Self::MfaBackupCodeUsed => "mfa.backup_code_used",
            Self::MfaBackupCodesRegenerated => "mfa.backup_codes_regenerated",
            Self::MfaResetByAdmin => "mfa.reset_by_admin",
            Self::StepUpSucceeded => "step_up.succeeded",
            Self::ReauthSucceeded => "reauth.succeeded",
            Self::RoleAssigned => "role.assigned",
            Self::RoleRevoked => "role.revoked",
            Self::RoleCreated => "role.created",
            Self::RoleUpdated => "role.updated",
            Self::RoleDeleted => "role.deleted",
            Self::ServiceKeyCreated => "service_key.created",
            Self::ServiceKeyRevoked => "service_key.revoked",
            Self::ActivityReported => "activity.reported",
            Self::OrgCreated => "org.created",
            Self::OrgUpdated => "org.updated",
            Self::OrgDeleted => "org.deleted",
            Self::OrgMemberAdded => "org.member_added",
            Self::OrgMemberRemoved => "org.member_removed",
            Self::OrgMemberRoleChanged => "org.member_role_changed",
            Self::OrgInvitationSent => "org.invitation_sent",
            Self::OrgInvitationAccepted => "org.invitation_accepted",
            Self::OrgInvitationRevoked => "org.invitation_revoked",
            Self::OrgSwitched => "org.switched",
            Self::ProfileUpdated => "profile.updated",
            Self::PreferencesUpdated => "preferences.updated",
            Self::AccountSuspended => "account.suspended",
            Self::AccountReactivated => "account.reactivated",
            Self::AccountUnlocked => "account.unlocked",
            Self::AccountDeleted => "account.deleted",
            Self::AccountExported => "account.exported",
            Self::IpUnblocked => "ip.unblocked",
        }
    }
    /// Parses a stored name; `None` for a type this build does not know.
    #[must_use]
    pub fn from_stored(name: &str) -> Option<Self> {
        match name {
            "user.registered" => Some(Self::UserRegistered),
            "email.verification_sent" => Some(Self::EmailVerificationSent),
            "email.verified" => Some(Self::EmailVerified),
            "login.succeeded" => Some(Self::LoginSucceeded),
            "login.failed" => Some(Self::LoginFailed),
            "ip.blocked" => Some(Self::IpBlocked),
            "rate_limited" => Some(Self::RateLimited),
            "token.refreshed" => Some(Self::TokenRefreshed),
            "token.reuse_detected" => Some(Self::TokenReuseDetected),
            "logout" => Some(Self::Logout),
            "session.revoked" => Some(Self::SessionRevoked),
            "sessions.revoked_all" => Some(Self::SessionsRevokedAll),
            "password.changed" => Some(Self::PasswordChanged),
            "password.reset_requested" => Some(Self::PasswordResetRequested),
            "password.reset" => Some(Self::PasswordReset),
            "mfa.setup_started" => Some(Self::MfaSetupStarted),
            "mfa.method_added" => Some(Self::MfaMethodAdded),
            "mfa.method_removed" => Some(Self::MfaMethodRemoved),
            "mfa.challenge_sent" => Some(Self::MfaChallengeSent),
            "mfa.verified" => Some(Self::MfaVerified),
            "mfa.failed" => Some(Self::MfaFailed),
            "mfa.locked" => Some(Self::MfaLocked),
            "mfa.backup_code_used" => Some(Self::MfaBackupCodeUsed),
            "mfa.backup_codes_regenerated" => Some(Self::MfaBackupCodesRegenerated),
            "mfa.reset_by_admin" => Some(Self::MfaResetByAdmin),
            "step_up.succeeded" => Some(Self::StepUpSucceeded),
            "reauth.succeeded" => Some(Self::ReauthSucceeded),
            "role.assigned" => Some(Self::RoleAssigned),
            "role.revoked" => Some(Self::RoleRevoked),
            "role.created" => Some(Self::RoleCreated),
            "role.updated" => Some(Self::RoleUpdated),
            "role.deleted" => Some(Self::RoleDeleted),
            "service_key.created" => Some(Self::ServiceKeyCreated),
            "service_key.revoked" => Some(Self::ServiceKeyRevoked),
            "activity.reported" => Some(Self::ActivityReported),
            "org.created" => Some(Self::OrgCreated),
            "org.updated" => Some(Self::OrgUpdated),
            "org.deleted" => Some(Self::OrgDeleted),
            "org.member_added" => Some(Self::OrgMemberAdded),
            "org.member_removed" => Some(Self::OrgMemberRemoved),
            "org.member_role_changed" => Some(Self::OrgMemberRoleChanged),
            "org.invitation_sent" => Some(Self::OrgInvitationSent),
            "org.invitation_accepted" => Some(Self::OrgInvitationAccepted),
            "org.invitation_revoked" => Some(Self::OrgInvitationRevoked),
            "org.switched" => Some(Self::OrgSwitched),
            "profile.updated" => Some(Self::ProfileUpdated),
            "preferences.updated" => Some(Self::PreferencesUpdated),
            "account.suspended" => Some(Self::AccountSuspended),
            "account.reactivated" => Some(Self::AccountReactivated),
            "account.unlocked" => Some(Self::AccountUnlocked),
            "account.deleted" => Some(Self::AccountDeleted),
            "account.exported" => Some(Self::AccountExported),
            "ip.unblocked" => Some(Self::IpUnblocked),
            _ => None,
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

impl RequestContext {
    /// The key limits count the client by: its IPv4 address, or the /64 of
    /// its IPv6 address (one subscriber usually holds a whole /64, so
    /// counting single v6 addresses would let it rotate past every limit).
    #[must_use]
    pub fn client_key(&self) -> String {
        match self.ip {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
            None => "unknown".to_owned(),
        }
    }
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
    /// The organization concerned, if any.
    pub organization_id: Option<OrganizationId>,
}

/// A page of a user's audit trail, newest first.
#[derive(Clone, Debug)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditEvent>,
    /// The cursor of the next (older) page; `None` on the last page.
    pub next_before: Option<EventId>,
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
            organization_id: None,
        }
    }

    /// Files the event under an organization too (its dashboard's recent
    /// activity).
    #[must_use]
    pub fn in_organization(mut self, organization: OrganizationId) -> Self {
        self.organization_id = Some(organization);
        self
    }

    /// Adds a detail.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.details.push((key.to_owned(), value.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> String {
        RequestContext {
            ip: Some(ip.parse().expect("ip")),
            user_agent: None,
        }
        .client_key()
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2:aaaa::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(RequestContext::default().client_key(), "unknown");
    }
}
