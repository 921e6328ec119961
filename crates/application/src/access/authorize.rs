//! The questions other services ask: `authorize`, a user's permissions,
//! roles and context, and activity reports; and what every `access` use
//! case checks of its caller.

use std::sync::Arc;

use auth_domain::access::{
    Decision, ORG_PERMISSIONS, OrgRole, OrgScope, Permission, RoleCatalog, RoleRepository as _,
    ServiceKey, ServiceKeyRepository as _, Subject, decide, presented_key_hash,
};
use auth_domain::accounts::UserRepository as _;
use auth_domain::activity::AuditLog as _;
use auth_domain::organizations::OrganizationRepository as _;
use auth_domain::sessions::{AccessTokenVerifier as _, RevocationList as _};
use auth_domain::system::Clock as _;
use auth_domain::{AccountStatus, AuditEvent, AuditEventType, OrganizationId, UserId};

use super::{
    AccessError, AccessPorts, AccessService, ActivityReport, Check, Principal, SubjectRef,
    UserAccess,
};
use crate::Failure;

/// Most checks in one `authorize` call.
pub const MAX_CHECKS: usize = 50;

impl<P: AccessPorts> AccessService<P> {
    /// The role maps: cached, else read.
    pub(super) async fn catalog(&self) -> Result<Arc<RoleCatalog>, Failure> {
        let now = self.clock.now();
        if let Some(catalog) = self.cache.catalog(now) {
            return Ok(catalog);
        }
        let roles = self.roles.list_roles().await?;
        let permissions = self.roles.list_permissions().await?;
        let catalog = Arc::new(RoleCatalog::new(
            roles,
            permissions.into_iter().map(|p| p.name),
        ));
        self.cache.put_catalog(Arc::clone(&catalog), now);
        Ok(catalog)
    }

    /// A user's state and global roles: cached, else read.
    pub(super) async fn subject(&self, user: UserId) -> Result<Subject, Failure> {
        let now = self.clock.now();
        if let Some(subject) = self.cache.subject(user, now) {
            return Ok(subject);
        }
        let subject = match self.users.find_by_id(user).await? {
            None => Subject::Unknown,
            Some(found) if found.status != AccountStatus::Active => Subject::Suspended,
            Some(_) => Subject::Active(self.roles.roles_of(user).await?),
        };
        self.cache.put_subject(user, &subject, now);
        Ok(subject)
    }

    /// Whether the caller holds `permission` (a user through its global
    /// roles, read fresh rather than from its token; a key through its own
    /// grants).
    pub(super) async fn holds(
        &self,
        caller: &Principal,
        permission: &str,
    ) -> Result<bool, Failure> {
        let Some(permission) = Permission::parse(permission) else {
            return Ok(false);
        };
        Ok(match caller {
            Principal::Service(key) => key.allows(&permission),
            Principal::User(claims) => match self.subject(claims.user_id).await? {
                Subject::Active(roles) => self
                    .catalog()
                    .await?
                    .granting_role(&roles, &permission)
                    .is_some(),
                _ => false,
            },
        })
    }

    /// Refuses with 403 unless the caller holds `permission`.
    pub(super) async fn require(
        &self,
        caller: &Principal,
        permission: &str,
    ) -> Result<(), AccessError> {
        if self.holds(caller, permission).await? {
            Ok(())
        } else {
            Err(AccessError::Forbidden)
        }
    }

    /// For writes: a user holding `permission` whose session proved itself
    /// recently (step-up). Service keys do not write access rules.
    pub(super) async fn require_recent_user(
        &self,
        caller: &Principal,
        permission: &str,
    ) -> Result<UserId, AccessError> {
        let Principal::User(claims) = caller else {
            return Err(AccessError::Forbidden);
        };
        self.require(caller, permission).await?;
        self.step_up.require(claims).await?;
        Ok(claims.user_id)
    }

    /// Whether the caller may see `user`'s access: itself, holders of
    /// `users:read`, keys with `authz:check`.
    async fn may_view(&self, caller: &Principal, user: UserId) -> Result<bool, Failure> {
        if matches!(caller, Principal::User(claims) if claims.user_id == user) {
            return Ok(true);
        }
        if matches!(caller, Principal::Service(_)) && self.holds(caller, "authz:check").await? {
            return Ok(true);
        }
        self.holds(caller, "users:read").await
    }

    async fn subject_of(
        &self,
        caller: &Principal,
        subject: Option<&SubjectRef>,
        may_ask_others: bool,
    ) -> Result<(Subject, Option<UserId>), AccessError> {
        let user = match (subject, caller) {
            (None, Principal::User(claims)) => claims.user_id,
            (None, Principal::Service(_)) => {
                return Err(AccessError::Invalid(
                    "subject",
                    "a service key must name the subject".into(),
                ));
            }
            (Some(SubjectRef::User(user)), Principal::User(claims))
                if *user == claims.user_id || may_ask_others =>
            {
                *user
            }
            (Some(SubjectRef::User(user)), Principal::Service(_)) if may_ask_others => *user,
            (Some(SubjectRef::Token(token)), _) if may_ask_others => {
                match self.tokens.verify(token, self.clock.now()) {
                    Ok(claims) if !self.hot.is_revoked(claims.session_id) => claims.user_id,
                    _ => return Ok((Subject::TokenInactive, None)),
                }
            }
            _ => return Err(AccessError::Forbidden),
        };
        Ok((self.subject(user).await?, Some(user)))
    }

    async fn decide_one(
        &self,
        caller: &Principal,
        check: &Check,
        may_ask_others: bool,
    ) -> Result<Decision, AccessError> {
        let permission = Permission::parse(&check.permission)
            .ok_or_else(|| AccessError::Invalid("permission", "must be resource:action".into()))?;
        let (subject, user) = self
            .subject_of(caller, check.subject.as_ref(), may_ask_others)
            .await?;
        let catalog = self.catalog().await?;
        let scope = match (
            check.organization_id.or(check.resource_organization_id),
            user,
        ) {
            (Some(organization_id), Some(user)) => Some(OrgScope {
                organization_id,
                resource_organization_id: check.resource_organization_id,
                // Read every time, never cached: a removed member is
                // refused at once on every instance.
                membership: self
                    .orgs
                    .membership(organization_id, user)
                    .await?
                    .map(|m| m.role),
            }),
            _ => None,
        };
        Ok(decide(&catalog, &subject, &permission, scope.as_ref()))
    }

    pub(super) async fn answer_key(&self, presented: &str) -> Result<Option<ServiceKey>, Failure> {
        let Some(hash) = presented_key_hash(presented) else {
            return Ok(None);
        };
        let now = self.clock.now();
        if let Some(key) = self.cache.key(&hash, now) {
            return Ok(Some(key));
        }
        let found = self.keys.find_active(&hash).await?;
        if let Some(key) = &found {
            self.cache.put_key(key, now);
        }
        Ok(found)
    }

    pub(super) async fn answer(
        &self,
        caller: &Principal,
        checks: &[Check],
    ) -> Result<Vec<Decision>, AccessError> {
        if checks.is_empty() || checks.len() > MAX_CHECKS {
            return Err(AccessError::Invalid(
                "checks",
                format!("between 1 and {MAX_CHECKS} checks"),
            ));
        }
        let may_ask_others = match caller {
            Principal::Service(_) => {
                if !self.holds(caller, "authz:check").await? {
                    return Err(AccessError::Forbidden);
                }
                true
            }
            Principal::User(_) => false,
        };
        let started = std::time::Instant::now();
        let mut decisions = Vec::with_capacity(checks.len());
        for check in checks {
            let decision = self.decide_one(caller, check, may_ask_others).await?;
            metrics::counter!("auth_authorize_total", "allowed" => if decision.allowed { "true" } else { "false" })
                .increment(1);
            decisions.push(decision);
        }
        metrics::histogram!("auth_authorize_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(decisions)
    }

    pub(super) async fn view(
        &self,
        caller: &Principal,
        user: UserId,
        organization: Option<OrganizationId>,
    ) -> Result<UserAccess, AccessError> {
        let organization_role = match organization {
            Some(org) => Some(
                self.orgs
                    .membership(org, user)
                    .await?
                    .ok_or(AccessError::NotFound)?
                    .role,
            ),
            None => None,
        };
        let org_manager = match (organization, caller) {
            (Some(org), Principal::User(claims)) => self
                .orgs
                .membership(org, claims.user_id)
                .await?
                .is_some_and(|m| matches!(m.role, OrgRole::Owner | OrgRole::Admin)),
            _ => false,
        };
        if !org_manager && !self.may_view(caller, user).await? {
            return Err(AccessError::NotFound);
        }
        let account = self
            .users
            .find_by_id(user)
            .await?
            .ok_or(AccessError::NotFound)?;
        let roles = self.roles.roles_of(user).await?;
        let mut permissions = self.catalog().await?.effective(&roles);
        if let Some(role) = organization_role {
            permissions.extend(
                ORG_PERMISSIONS
                    .iter()
                    .filter(|p| Permission::parse(p).is_some_and(|p| role.allows(&p)))
                    .map(|p| (*p).to_owned()),
            );
            permissions.sort();
            permissions.dedup();
        }
        let organization_record = match organization {
            Some(org) => self.orgs.find(org).await?,
            None => None,
        };
        Ok(UserAccess {
            user: account,
            organization_id: organization,
            roles,
            organization_role,
            organization: organization_record,
            permissions,
        })
    }

    pub(super) async fn report(
        &self,
        caller: &Principal,
        user: UserId,
        report: ActivityReport,
        ctx: &auth_domain::RequestContext,
    ) -> Result<(), AccessError> {
        // Reported by other services (API-ACCESS.md): a user, even an
        // admin, does not write into someone's activity.
        if !matches!(caller, Principal::Service(_)) {
            return Err(AccessError::Forbidden);
        }
        self.require(caller, "activity:write").await?;
        if report.action.trim().is_empty() || report.action.len() > 128 {
            return Err(AccessError::Invalid("action", "1 to 128 characters".into()));
        }
        if report.resource.as_ref().is_some_and(|r| r.len() > 1024) {
            return Err(AccessError::Invalid("resource", "at most 1 KiB".into()));
        }
        if self.users.find_by_id(user).await?.is_none() {
            return Err(AccessError::NotFound);
        }
        let mut event = AuditEvent::new(
            AuditEventType::ActivityReported,
            Some(user),
            ctx,
            self.clock.now(),
        )
        .with("action", report.action);
        if let Principal::Service(key) = caller {
            event = event.with("service_key_id", key.id.to_string());
        }
        if let Some(resource) = report.resource {
            event = event.with("resource", resource);
        }
        if let Some(metadata) = report.metadata {
            event = event.with("metadata", metadata);
        }
        self.audit.record(event).await?;
        Ok(())
    }
}
