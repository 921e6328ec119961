//! The `admin` context: administration over the other contexts' data —
//! finding users, suspending and reactivating them, lifting locks and IP
//! blocks, resetting MFA, their sessions, and the whole audit trail. Every
//! call checks the caller's global permission (read fresh, never from the
//! token); writes that need it also check a recent proof (step-up).

mod self_service;
#[cfg(test)]
mod tests;

pub use self_service::{UserDashboard, UserExport};

use std::future::Future;
use std::net::IpAddr;

use auth_domain::access::{AccessChange, AccessChanges, OrgRole, Role, RoleRepository};
use auth_domain::accounts::{Suspension, UserFilter, UserRepository};
use auth_domain::activity::{AuditFilter, AuditLog};
use auth_domain::limits::RateLimiter;
use auth_domain::mfa::{MethodRepository, MfaMethod};
use auth_domain::organizations::{Organization, OrganizationRepository};
use auth_domain::sessions::{RevocationList, RevokeReason, RevokeScope, SessionRepository};
use auth_domain::system::Clock;
use auth_domain::{
    AccessClaims, AuditEvent, AuditEventType, Effects, EventId, RequestContext, Session, SessionId,
    Timestamp, User, UserId, after,
};

use crate::shared::{StepUp, StepUpRequired};
use crate::{AuthSettings, Failure};

/// Longest suspension reason.
const MAX_REASON: usize = 500;

/// Why an admin request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The caller lacks the permission (403).
    #[error("forbidden")]
    Forbidden,
    /// No such user (404).
    #[error("not found")]
    NotFound,
    /// A field is wrong (422).
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, String),
    /// A recent proof is needed first.
    #[error("step-up required")]
    StepUp(StepUpRequired),
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<auth_domain::RepoError> for AdminError {
    fn from(err: auth_domain::RepoError) -> Self {
        Self::Failed(err.into())
    }
}

impl From<crate::shared::StepUpError> for AdminError {
    fn from(err: crate::shared::StepUpError) -> Self {
        match err {
            crate::shared::StepUpError::Required(required) => Self::StepUp(required),
            crate::shared::StepUpError::Failed(failure) => Self::Failed(failure),
        }
    }
}

/// `user.updated` for a status change.
fn status_event(
    user: UserId,
    status: &str,
    claims: &AccessClaims,
    now: Timestamp,
) -> auth_domain::OutboxMessage {
    crate::shared::events::user_event(
        "user.updated",
        user,
        Some(claims.user_id.to_string()),
        serde_json::json!({ "user_id": user.to_string(), "changed": ["status"], "status": status }),
        now,
    )
}

/// A lock on an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    /// `mfa` (second-step failures) or `suspended`.
    pub kind: &'static str,
    /// When it ends, if it does.
    pub until: Option<Timestamp>,
}

/// Everything an administrator sees of one user.
#[derive(Clone, Debug)]
pub struct AdminUserView {
    /// The account.
    pub user: User,
    /// Global roles.
    pub roles: Vec<Role>,
    /// Organizations and the user's role in each.
    pub organizations: Vec<(Organization, OrgRole)>,
    /// Second-factor methods (never a secret).
    pub methods: Vec<MfaMethod>,
    /// Active sessions.
    pub active_sessions: u64,
    /// Current locks.
    pub locks: Vec<Lock>,
}

/// The `admin` use cases, as the handlers call them.
pub trait Admin: Send + Sync + 'static {
    /// Users matching `filter` (`users:read`).
    fn users(
        &self,
        claims: &AccessClaims,
        filter: UserFilter,
        after: Option<UserId>,
        limit: u32,
    ) -> impl Future<Output = Result<(Vec<User>, Option<UserId>), AdminError>> + Send;

    /// One user, whole (`users:read`).
    fn user(
        &self,
        claims: &AccessClaims,
        user: UserId,
    ) -> impl Future<Output = Result<AdminUserView, AdminError>> + Send;

    /// Suspends a user (`users:suspend` + step-up; never oneself): every
    /// session ends at once on every instance.
    fn suspend(
        &self,
        claims: &AccessClaims,
        user: UserId,
        reason: String,
        until: Option<Timestamp>,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<User, AdminError>> + Send;

    /// Reactivates a user (`users:suspend` + step-up).
    fn reactivate(
        &self,
        claims: &AccessClaims,
        user: UserId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<User, AdminError>> + Send;

    /// Clears the user's MFA lockout (`users:unlock`).
    fn unlock(
        &self,
        claims: &AccessClaims,
        user: UserId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<User, AdminError>> + Send;

    /// Removes every second factor and ends every session
    /// (`users:mfa_reset` + step-up).
    fn reset_mfa(
        &self,
        claims: &AccessClaims,
        user: UserId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;

    /// The user's active sessions (`users:read`).
    fn sessions(
        &self,
        claims: &AccessClaims,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<Session>, AdminError>> + Send;

    /// Ends every session of the user (`users:suspend`).
    fn revoke_sessions(
        &self,
        claims: &AccessClaims,
        user: UserId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;

    /// Lifts the login block of an address (`users:unlock`).
    fn unblock_ip(
        &self,
        claims: &AccessClaims,
        ip: IpAddr,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), AdminError>> + Send;

    /// A user's events, newest first (self or `users:read`).
    fn activity(
        &self,
        claims: &AccessClaims,
        user: UserId,
        kind: Option<AuditEventType>,
        before: Option<EventId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, AdminError>> + Send;

    /// A settings page in one round trip (self or `users:read`).
    fn dashboard(
        &self,
        claims: &AccessClaims,
        user: UserId,
    ) -> impl Future<Output = Result<UserDashboard, AdminError>> + Send;

    /// Everything held about a user (self after step-up, or `users:read`).
    fn export(
        &self,
        claims: &AccessClaims,
        user: UserId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<UserExport, AdminError>> + Send;

    /// Domain events after `after`, oldest first (`events:read`).
    fn events(
        &self,
        claims: &AccessClaims,
        after: Option<auth_domain::MessageId>,
        limit: u32,
    ) -> impl Future<
        Output = Result<
            Vec<(auth_domain::MessageId, Timestamp, auth_domain::DomainEvent)>,
            AdminError,
        >,
    > + Send;

    /// The whole audit trail (`audit:read`).
    fn audit(
        &self,
        claims: &AccessClaims,
        filter: AuditFilter,
        before: Option<EventId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, AdminError>> + Send;
}

/// The ports the `admin` context needs.
pub trait AdminPorts: Send + Sync + 'static {
    /// Accounts.
    type Users: UserRepository + Clone;
    /// Roles (the caller's permissions; the user's roles).
    type Roles: RoleRepository + Clone;
    /// Organizations.
    type Orgs: OrganizationRepository + Clone;
    /// Second-factor methods.
    type Methods: MethodRepository + Clone;
    /// Backup codes (how many are left).
    type BackupCodes: auth_domain::mfa::BackupCodeRepository + Clone;
    /// Sessions.
    type Sessions: SessionRepository + Clone;
    /// The revocation list.
    type Hot: RevocationList + Clone;
    /// Lockouts and blocks.
    type Limiter: RateLimiter + Clone;
    /// The other instances' caches.
    type Changes: AccessChanges + Clone;
    /// The audit trail.
    type Audit: AuditLog + Clone;
    /// Time.
    type Clock: Clock + Clone;
    /// The domain events kept for the pull feed.
    type Feed: auth_domain::activity::EventFeed + Clone;
}

/// The adapters an [`AdminService`] is built from.
#[derive(Debug)]
pub struct AdminAdapters<P: AdminPorts> {
    /// Accounts.
    pub users: P::Users,
    /// Roles.
    pub roles: P::Roles,
    /// Organizations.
    pub orgs: P::Orgs,
    /// Methods.
    pub methods: P::Methods,
    /// Backup codes.
    pub backup_codes: P::BackupCodes,
    /// Sessions.
    pub sessions: P::Sessions,
    /// Revocations.
    pub hot: P::Hot,
    /// Limits.
    pub limiter: P::Limiter,
    /// Change announcements.
    pub changes: P::Changes,
    /// Audit trail.
    pub audit: P::Audit,
    /// Time.
    pub clock: P::Clock,
    /// The event feed.
    pub feed: P::Feed,
}

/// The `admin` use cases.
pub struct AdminService<P: AdminPorts> {
    users: P::Users,
    roles: P::Roles,
    orgs: P::Orgs,
    methods: P::Methods,
    backup_codes: P::BackupCodes,
    sessions: P::Sessions,
    hot: P::Hot,
    limiter: P::Limiter,
    changes: P::Changes,
    audit: P::Audit,
    clock: P::Clock,
    feed: P::Feed,
    step_up: StepUp<P::Methods, P::Clock>,
    settings: AuthSettings,
}

impl<P: AdminPorts> std::fmt::Debug for AdminService<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminService").finish_non_exhaustive()
    }
}

impl<P: AdminPorts> AdminService<P> {
    /// Wires the use cases to their adapters.
    #[must_use]
    pub fn new(adapters: AdminAdapters<P>, settings: &AuthSettings) -> Self {
        let AdminAdapters {
            users,
            roles,
            orgs,
            methods,
            backup_codes,
            sessions,
            hot,
            limiter,
            changes,
            audit,
            clock,
            feed,
        } = adapters;
        Self {
            feed,
            step_up: StepUp::new(methods.clone(), clock.clone(), settings.mfa.step_up_max_age),
            users,
            roles,
            orgs,
            methods,
            backup_codes,
            sessions,
            hot,
            limiter,
            changes,
            audit,
            clock,
            settings: settings.clone(),
        }
    }

    /// Refuses with 403 unless the caller's global roles (read now, not
    /// from the token) grant `permission`.
    async fn require(&self, claims: &AccessClaims, permission: &str) -> Result<(), AdminError> {
        if crate::shared::permissions::holds_global(&self.roles, claims.user_id, permission).await?
        {
            Ok(())
        } else {
            Err(AdminError::Forbidden)
        }
    }

    /// A write: the permission and a recent proof.
    async fn require_recent(
        &self,
        claims: &AccessClaims,
        permission: &str,
    ) -> Result<(), AdminError> {
        self.require(claims, permission).await?;
        self.step_up.require(claims).await?;
        Ok(())
    }

    async fn existing(&self, user: UserId) -> Result<User, AdminError> {
        self.users
            .find_by_id(user)
            .await?
            .ok_or(AdminError::NotFound)
    }

    fn event(
        &self,
        kind: AuditEventType,
        user: Option<UserId>,
        claims: &AccessClaims,
        ctx: &RequestContext,
    ) -> AuditEvent {
        AuditEvent::new(kind, user, ctx, self.clock.now())
            .with("actor_id", claims.user_id.to_string())
    }

    /// Ends `revoked` on every instance and drops cached access.
    async fn fan_out(&self, user: UserId, revoked: &[SessionId]) -> Result<(), Failure> {
        self.hot
            .revoke(
                revoked,
                after(self.clock.now(), self.settings.revocation_retention()),
            )
            .await?;
        self.changes.announce(AccessChange::User(user)).await;
        Ok(())
    }
}

impl<P: AdminPorts> Admin for AdminService<P> {
    async fn events(
        &self,
        claims: &AccessClaims,
        after: Option<auth_domain::MessageId>,
        limit: u32,
    ) -> Result<Vec<(auth_domain::MessageId, Timestamp, auth_domain::DomainEvent)>, AdminError>
    {
        self.require(claims, "events:read").await?;
        use auth_domain::activity::EventFeed as _;
        Ok(self.feed.events_after(after, limit.clamp(1, 1000)).await?)
    }

    async fn activity(
        &self,
        claims: &AccessClaims,
        user: UserId,
        kind: Option<AuditEventType>,
        before: Option<EventId>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, AdminError> {
        self.user_activity(claims, user, kind, before, limit).await
    }

    async fn dashboard(
        &self,
        claims: &AccessClaims,
        user: UserId,
    ) -> Result<UserDashboard, AdminError> {
        self.user_dashboard(claims, user).await
    }

    async fn export(
        &self,
        claims: &AccessClaims,
        user: UserId,
        ctx: &RequestContext,
    ) -> Result<UserExport, AdminError> {
        self.user_export(claims, user, ctx).await
    }

    async fn users(
        &self,
        claims: &AccessClaims,
        filter: UserFilter,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<(Vec<User>, Option<UserId>), AdminError> {
        self.require(claims, "users:read").await?;
        Ok(self
            .users
            .search(&filter, after, limit.clamp(1, 100))
            .await?)
    }

    async fn user(&self, claims: &AccessClaims, id: UserId) -> Result<AdminUserView, AdminError> {
        self.require(claims, "users:read").await?;
        let user = self.existing(id).await?;
        let now = self.clock.now();
        let mut locks = Vec::new();
        if let Some(wait) = self.limiter.blocked_for(&format!("mfa:user:{id}")).await? {
            locks.push(Lock {
                kind: "mfa",
                until: Some(after(now, wait)),
            });
        }
        if let Some(suspension) = &user.suspension {
            locks.push(Lock {
                kind: "suspended",
                until: suspension.until,
            });
        }
        Ok(AdminUserView {
            roles: self.roles.roles_of(id).await?,
            organizations: self.orgs.list_for_user(id).await?,
            methods: self.methods.list(id).await?,
            active_sessions: self.sessions.list_active(id, now).await?.len() as u64,
            locks,
            user,
        })
    }

    async fn suspend(
        &self,
        claims: &AccessClaims,
        id: UserId,
        reason: String,
        until: Option<Timestamp>,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        self.require_recent(claims, "users:suspend").await?;
        if id == claims.user_id {
            return Err(AdminError::Invalid(
                "user_id",
                "an administrator cannot suspend themselves".into(),
            ));
        }
        let reason = reason.trim().to_owned();
        if reason.is_empty()
            || reason.chars().count() > MAX_REASON
            || reason.contains(char::is_control)
        {
            return Err(AdminError::Invalid(
                "reason",
                "1 to 500 characters, no control characters".into(),
            ));
        }
        let now = self.clock.now();
        if until.is_some_and(|until| until <= now) {
            return Err(AdminError::Invalid("until", "must be in the future".into()));
        }
        let mut event = self
            .event(AuditEventType::AccountSuspended, Some(id), claims, ctx)
            .with("reason", reason.clone());
        if let Some(until) = until {
            event = event.with("until", until.to_rfc3339());
        }
        let suspension = Suspension {
            reason,
            since: now,
            until,
        };
        let revoked = self
            .users
            .suspend(
                id,
                &suspension,
                now,
                Effects::event(event).and_message(status_event(id, "suspended", claims, now)),
            )
            .await?
            .ok_or(AdminError::NotFound)?;
        self.fan_out(id, &revoked).await?;
        self.existing(id).await
    }

    async fn reactivate(
        &self,
        claims: &AccessClaims,
        id: UserId,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        self.require_recent(claims, "users:suspend").await?;
        let event = self.event(AuditEventType::AccountReactivated, Some(id), claims, ctx);
        if !self
            .users
            .reactivate(
                id,
                self.clock.now(),
                Effects::event(event).and_message(status_event(
                    id,
                    "active",
                    claims,
                    self.clock.now(),
                )),
            )
            .await?
        {
            return Err(AdminError::NotFound);
        }
        self.changes.announce(AccessChange::User(id)).await;
        self.existing(id).await
    }

    async fn unlock(
        &self,
        claims: &AccessClaims,
        id: UserId,
        ctx: &RequestContext,
    ) -> Result<User, AdminError> {
        self.require(claims, "users:unlock").await?;
        let user = self.existing(id).await?;
        self.limiter.reset(&format!("mfa:user:{id}")).await?;
        self.audit
            .record(self.event(AuditEventType::AccountUnlocked, Some(id), claims, ctx))
            .await?;
        Ok(user)
    }

    async fn reset_mfa(
        &self,
        claims: &AccessClaims,
        id: UserId,
        ctx: &RequestContext,
    ) -> Result<(), AdminError> {
        self.require_recent(claims, "users:mfa_reset").await?;
        let user = self.existing(id).await?;
        let now = self.clock.now();
        let mut revoked = Vec::new();
        // The first removal carries the mail to the user and, when MFA was
        // on, the user.updated event: in the transaction of a change.
        let product = &self.settings.product_name;
        let mail = crate::shared::mail::compose(
            &user.email,
            format!("Your {product} sign-in methods were reset"),
            &[
                crate::shared::mail::Part::Text(format!(
                    "An administrator removed every second factor of your {product} account and signed out all its sessions."
                )),
                crate::shared::mail::Part::Text(
                    "Sign in with your password and set up a second factor again. If you did not ask for this, contact your administrator."
                        .to_owned(),
                ),
            ],
        );
        let mut carried =
            Effects::default().and_message(auth_domain::OutboxMessage::email(mail, now));
        if user.mfa_enabled {
            carried = carried.and_message(crate::shared::events::user_event(
                "user.updated",
                id,
                Some(claims.user_id.to_string()),
                serde_json::json!({ "user_id": id.to_string(), "changed": ["mfa_enabled"] }),
                now,
            ));
        }
        let mut first = Some(carried);
        for method in self.methods.list(id).await? {
            let event = self
                .event(AuditEventType::MfaResetByAdmin, Some(id), claims, ctx)
                .with("method_id", method.id.to_string());
            let mut effects = first.take().unwrap_or_default();
            effects.events.push(event);
            // No session of the user is kept.
            if let Some(removal) = self
                .methods
                .remove(method.id, id, SessionId::generate(), now, effects)
                .await?
            {
                revoked.extend(removal.revoked);
            }
        }
        let event = self.event(AuditEventType::SessionsRevokedAll, Some(id), claims, ctx);
        revoked.extend(
            self.sessions
                .revoke(
                    id,
                    RevokeScope::All,
                    RevokeReason::AdminRevoked,
                    now,
                    Effects::event(event),
                )
                .await?,
        );
        self.fan_out(id, &revoked).await?;
        Ok(())
    }

    async fn sessions(
        &self,
        claims: &AccessClaims,
        id: UserId,
    ) -> Result<Vec<Session>, AdminError> {
        self.require(claims, "users:read").await?;
        self.existing(id).await?;
        Ok(self.sessions.list_active(id, self.clock.now()).await?)
    }

    async fn revoke_sessions(
        &self,
        claims: &AccessClaims,
        id: UserId,
        ctx: &RequestContext,
    ) -> Result<(), AdminError> {
        self.require(claims, "users:suspend").await?;
        self.existing(id).await?;
        let event = self.event(AuditEventType::SessionsRevokedAll, Some(id), claims, ctx);
        let revoked = self
            .sessions
            .revoke(
                id,
                RevokeScope::All,
                RevokeReason::AdminRevoked,
                self.clock.now(),
                Effects::event(event),
            )
            .await?;
        self.fan_out(id, &revoked).await?;
        Ok(())
    }

    async fn unblock_ip(
        &self,
        claims: &AccessClaims,
        ip: IpAddr,
        ctx: &RequestContext,
    ) -> Result<(), AdminError> {
        self.require(claims, "users:unlock").await?;
        let client = RequestContext {
            ip: Some(ip),
            ..RequestContext::default()
        };
        self.limiter
            .reset(&format!("login:ip:{}", client.client_key()))
            .await?;
        self.audit
            .record(
                self.event(AuditEventType::IpUnblocked, None, claims, ctx)
                    .with("blocked_ip", ip.to_string()),
            )
            .await?;
        Ok(())
    }

    async fn audit(
        &self,
        claims: &AccessClaims,
        filter: AuditFilter,
        before: Option<EventId>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, AdminError> {
        self.require(claims, "audit:read").await?;
        Ok(self
            .audit
            .list(&filter, before, limit.clamp(1, 100))
            .await?)
    }
}
