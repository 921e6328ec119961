//! What a user reads about themselves (or a holder of `users:read` about
//! them): the activity feed, the settings-page dashboard and the export.

use auth_domain::access::{OrgRole, RoleRepository as _};
use auth_domain::accounts::UserRepository as _;
use auth_domain::activity::{AuditFilter, AuditLog as _};
use auth_domain::mfa::{BackupCodeRepository as _, MethodRepository as _, MfaMethod};
use auth_domain::organizations::{Organization, OrganizationRepository as _};
use auth_domain::sessions::SessionRepository as _;
use auth_domain::system::Clock as _;
use auth_domain::{
    AccessClaims, AuditEvent, AuditEventType, EventId, RequestContext, Role, Session, Timestamp,
    User, UserId,
};

use super::{AdminError, AdminPorts, AdminService};

/// A settings page in one round trip.
#[derive(Clone, Debug)]
pub struct UserDashboard {
    /// The account.
    pub user: User,
    /// Global roles.
    pub roles: Vec<Role>,
    /// Second-factor methods (never a secret).
    pub methods: Vec<MfaMethod>,
    /// Unused backup codes.
    pub backup_codes_remaining: u32,
    /// Active sessions.
    pub active_sessions: u64,
    /// The last successful login, and from where.
    pub last_login: Option<(Timestamp, Option<std::net::IpAddr>)>,
    /// Organizations and the user's role in each.
    pub organizations: Vec<(Organization, OrgRole)>,
    /// The five newest events.
    pub recent_activity: Vec<AuditEvent>,
}

/// Everything held about a user, without a secret or a hash.
#[derive(Clone, Debug)]
pub struct UserExport {
    /// The account (the password hash is never exported).
    pub user: User,
    /// Global roles.
    pub roles: Vec<Role>,
    /// Active sessions.
    pub sessions: Vec<Session>,
    /// Second-factor methods (never a secret).
    pub methods: Vec<MfaMethod>,
    /// Memberships.
    pub organizations: Vec<(Organization, OrgRole)>,
    /// The audit trail about the user.
    pub events: Vec<AuditEvent>,
    /// Preferences as stored (a JSON object), if ever set.
    pub preferences: Option<String>,
}

impl<P: AdminPorts> AdminService<P> {
    /// The caller itself, or a holder of `users:read`; anyone else sees
    /// `NotFound`, as for an unknown user.
    async fn readable(&self, claims: &AccessClaims, user: UserId) -> Result<User, AdminError> {
        if claims.user_id != user {
            self.require(claims, "users:read")
                .await
                .map_err(|err| match err {
                    AdminError::Forbidden => AdminError::NotFound,
                    other => other,
                })?;
        }
        self.existing(user).await
    }

    /// The user's events, newest first, optionally of one type.
    pub(super) async fn user_activity(
        &self,
        claims: &AccessClaims,
        user: UserId,
        kind: Option<AuditEventType>,
        before: Option<EventId>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, AdminError> {
        self.readable(claims, user).await?;
        Ok(self
            .audit
            .list(
                &AuditFilter {
                    user: Some(user),
                    kind,
                },
                before,
                limit.clamp(1, 100),
            )
            .await?)
    }

    /// The settings-page dashboard.
    pub(super) async fn user_dashboard(
        &self,
        claims: &AccessClaims,
        user: UserId,
    ) -> Result<UserDashboard, AdminError> {
        let account = self.readable(claims, user).await?;
        let now = self.clock.now();
        let last_login = self
            .audit
            .list(
                &AuditFilter {
                    user: Some(user),
                    kind: Some(AuditEventType::LoginSucceeded),
                },
                None,
                1,
            )
            .await?
            .first()
            .map(|e| (e.at, e.ip));
        Ok(UserDashboard {
            roles: self.roles.roles_of(user).await?,
            methods: self.methods.list(user).await?,
            backup_codes_remaining: self
                .backup_codes
                .summary(user)
                .await?
                .map_or(0, |s| s.remaining),
            active_sessions: self.sessions.list_active(user, now).await?.len() as u64,
            last_login,
            organizations: self.orgs.list_for_user(user).await?,
            recent_activity: self
                .audit
                .list(
                    &AuditFilter {
                        user: Some(user),
                        kind: None,
                    },
                    None,
                    5,
                )
                .await?,
            user: account,
        })
    }

    /// Everything held about the user: one's own after a recent proof, or
    /// anyone's with `users:read`. Audited as `account.exported`.
    pub(super) async fn user_export(
        &self,
        claims: &AccessClaims,
        user: UserId,
        ctx: &RequestContext,
    ) -> Result<UserExport, AdminError> {
        let account = self.readable(claims, user).await?;
        if claims.user_id == user {
            self.step_up.require(claims).await?;
        }
        let now = self.clock.now();
        let mut events = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .audit
                .list(
                    &AuditFilter {
                        user: Some(user),
                        kind: None,
                    },
                    before,
                    100,
                )
                .await?;
            before = page.last().map(|e| e.id);
            let done = page.len() < 100;
            events.extend(page);
            if done || events.len() >= 10_000 {
                break;
            }
        }
        self.audit
            .record(self.event(AuditEventType::AccountExported, Some(user), claims, ctx))
            .await?;
        Ok(UserExport {
            preferences: self.users.preferences(user).await?,
            roles: self.roles.roles_of(user).await?,
            sessions: self.sessions.list_active(user, now).await?,
            methods: self.methods.list(user).await?,
            organizations: self.orgs.list_for_user(user).await?,
            events,
            user: account,
        })
    }
}
