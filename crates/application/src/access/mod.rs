//! The `access` context: the authorization decision other services ask for
//! (`authorize`, a user's permissions, roles and context), role
//! administration, service keys, and the bootstrap admin.
//!
//! A decision reads the role-permission maps and the subject's role set
//! from [`AccessCache`]; every change this instance makes drops the stale
//! entries here and is announced to the others ([`AccessChanges`]), which
//! drop theirs.

mod admin;
mod authorize;
mod cache;
#[cfg(test)]
mod tests;

use std::future::Future;

use auth_domain::access::{
    AccessChange, AccessChanges, Decision, PermissionInfo, Role, RoleRecord, RoleRepository,
    ServiceKey, ServiceKeyRepository,
};
use auth_domain::accounts::UserRepository;
use auth_domain::activity::AuditLog;
use auth_domain::mfa::MethodRepository;
use auth_domain::organizations::OrganizationRepository;
use auth_domain::sessions::{AccessTokenVerifier, RevocationList};
use auth_domain::system::{Clock, SecureRandom};
use auth_domain::{
    AccessClaims, OrganizationId, RequestContext, RoleId, ServiceKeyId, User, UserId,
};

pub use admin::{GrantError, Granted};
pub use authorize::MAX_CHECKS;
pub use cache::AccessCache;

use crate::shared::{StepUp, StepUpRequired};
use crate::{AuthSettings, Failure};

/// Who is calling: a user with an access token, or another service with a
/// service key.
#[derive(Clone, Debug)]
pub enum Principal {
    /// A user's verified access token.
    User(AccessClaims),
    /// An active service key.
    Service(ServiceKey),
}

/// Whom a question is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubjectRef {
    /// A user, by id.
    User(UserId),
    /// Whoever holds this access token (inactive tokens are denied).
    Token(String),
}

/// One authorization question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// About whom; `None` = the calling user.
    pub subject: Option<SubjectRef>,
    /// `resource:action`.
    pub permission: String,
    /// The organization it is asked in.
    pub organization_id: Option<OrganizationId>,
    /// The organization the resource belongs to, when known.
    pub resource_organization_id: Option<OrganizationId>,
}

/// A user's access as other services see it.
#[derive(Clone, Debug)]
pub struct UserAccess {
    /// The account.
    pub user: User,
    /// The organization asked about, if any.
    pub organization_id: Option<OrganizationId>,
    /// Global role names, sorted.
    pub roles: Vec<Role>,
    /// The user's role in the organization asked about.
    pub organization_role: Option<auth_domain::access::OrgRole>,
    /// The organization asked about, when the user is in it.
    pub organization: Option<auth_domain::organizations::Organization>,
    /// Effective permissions, sorted.
    pub permissions: Vec<String>,
}

/// What another service reports a user did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityReport {
    /// What the user did.
    pub action: String,
    /// On what, if said.
    pub resource: Option<String>,
    /// Extra JSON object, as text (≤ 4 KiB, checked by the caller).
    pub metadata: Option<String>,
}

/// A new custom role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRole {
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Grant texts.
    pub permissions: Vec<String>,
}

/// A change to a role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleChange {
    /// A new description.
    pub description: Option<String>,
    /// New grant texts, replacing the old ones.
    pub permissions: Option<Vec<String>>,
}

/// A service key as created: the record and the key, shown once.
#[derive(Clone)]
pub struct CreatedKey {
    /// The stored key.
    pub key: ServiceKey,
    /// `sk_…`, never stored.
    pub secret: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Why an `access` request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The caller may not ask this (403 `forbidden`).
    #[error("forbidden")]
    Forbidden,
    /// Nothing the caller may see there (404).
    #[error("not found")]
    NotFound,
    /// A field is wrong (422): the field and why.
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, String),
    /// A system role cannot be changed that way (409 `role_protected`).
    #[error("role protected")]
    RoleProtected,
    /// It would leave no admin (409 `last_admin`).
    #[error("last admin")]
    LastAdmin,
    /// Another role has that name (409).
    #[error("role name taken")]
    NameTaken,
    /// A recent second factor is needed first.
    #[error("step-up required")]
    StepUp(StepUpRequired),
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<auth_domain::RepoError> for AccessError {
    fn from(err: auth_domain::RepoError) -> Self {
        Self::Failed(err.into())
    }
}

impl From<crate::shared::StepUpError> for AccessError {
    fn from(err: crate::shared::StepUpError) -> Self {
        match err {
            crate::shared::StepUpError::Required(required) => Self::StepUp(required),
            crate::shared::StepUpError::Failed(failure) => Self::Failed(failure),
        }
    }
}

/// The `access` use cases, as the handlers call them.
pub trait Access: Send + Sync + 'static {
    /// The active service key a bearer presents, if it is one.
    fn authenticate_key(
        &self,
        presented: &str,
    ) -> impl Future<Output = Result<Option<ServiceKey>, Failure>> + Send;

    /// Answers `checks` in order. A deny is an answer, not an error.
    fn authorize(
        &self,
        caller: &Principal,
        checks: &[Check],
    ) -> impl Future<Output = Result<Vec<Decision>, AccessError>> + Send;

    /// How long a gateway may cache a decision.
    fn decision_ttl(&self) -> std::time::Duration;

    /// A user's roles and effective permissions, for the user itself,
    /// holders of `users:read` and service keys with `authz:check`.
    fn user_access(
        &self,
        caller: &Principal,
        user: UserId,
        organization: Option<OrganizationId>,
    ) -> impl Future<Output = Result<UserAccess, AccessError>> + Send;

    /// Appends another service's report to a user's activity.
    fn report_activity(
        &self,
        caller: &Principal,
        user: UserId,
        report: ActivityReport,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), AccessError>> + Send;

    /// Every global permission (`roles:read`).
    fn permissions(
        &self,
        caller: &Principal,
    ) -> impl Future<Output = Result<Vec<PermissionInfo>, AccessError>> + Send;

    /// Every role (`roles:read`).
    fn roles(
        &self,
        caller: &Principal,
    ) -> impl Future<Output = Result<Vec<RoleRecord>, AccessError>> + Send;

    /// One role (`roles:read`).
    fn role(
        &self,
        caller: &Principal,
        id: RoleId,
    ) -> impl Future<Output = Result<RoleRecord, AccessError>> + Send;

    /// Creates a custom role (`roles:write` + step-up).
    fn create_role(
        &self,
        caller: &Principal,
        role: NewRole,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<RoleRecord, AccessError>> + Send;

    /// Changes a role (`roles:write` + step-up).
    fn update_role(
        &self,
        caller: &Principal,
        id: RoleId,
        change: RoleChange,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<RoleRecord, AccessError>> + Send;

    /// Deletes a custom role (`roles:write` + step-up).
    fn delete_role(
        &self,
        caller: &Principal,
        id: RoleId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), AccessError>> + Send;

    /// Gives a user a global role (`roles:write` + step-up).
    fn assign_role(
        &self,
        caller: &Principal,
        user: UserId,
        role: &str,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), AccessError>> + Send;

    /// Takes a global role from a user (`roles:write` + step-up).
    fn remove_role(
        &self,
        caller: &Principal,
        user: UserId,
        role: &str,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), AccessError>> + Send;

    /// Creates a service key (`service_keys:write` + step-up).
    fn create_service_key(
        &self,
        caller: &Principal,
        name: &str,
        permissions: &[String],
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<CreatedKey, AccessError>> + Send;

    /// The active service keys (`service_keys:write`).
    fn service_keys(
        &self,
        caller: &Principal,
    ) -> impl Future<Output = Result<Vec<ServiceKey>, AccessError>> + Send;

    /// Revokes a service key everywhere (`service_keys:write` + step-up).
    fn revoke_service_key(
        &self,
        caller: &Principal,
        id: ServiceKeyId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), AccessError>> + Send;
}

/// The ports the `access` context needs.
pub trait AccessPorts: Send + Sync + 'static {
    /// Accounts (existence, status).
    type Users: UserRepository + Clone;
    /// Roles and assignments.
    type Roles: RoleRepository + Clone;
    /// Service keys.
    type Keys: ServiceKeyRepository + Clone;
    /// The other instances, told of changes.
    type Changes: AccessChanges + Clone;
    /// Second-factor methods (what step-up asks for).
    type Methods: MethodRepository + Clone;
    /// Access tokens named as subjects.
    type Tokens: AccessTokenVerifier + Clone;
    /// The revocation list.
    type Hot: RevocationList + Clone;
    /// Key generation.
    type Random: SecureRandom + Clone;
    /// Time.
    type Clock: Clock + Clone;
    /// The audit trail (activity reports).
    type Audit: AuditLog + Clone;
    /// Memberships, for questions asked inside an organization.
    type Orgs: OrganizationRepository + Clone;
}

/// The adapters an [`AccessService`] is built from.
#[derive(Debug)]
pub struct AccessAdapters<P: AccessPorts> {
    /// Accounts.
    pub users: P::Users,
    /// Roles.
    pub roles: P::Roles,
    /// Service keys.
    pub keys: P::Keys,
    /// Change announcements.
    pub changes: P::Changes,
    /// Second-factor methods.
    pub methods: P::Methods,
    /// Access tokens.
    pub tokens: P::Tokens,
    /// The revocation list.
    pub hot: P::Hot,
    /// Randomness.
    pub random: P::Random,
    /// Time.
    pub clock: P::Clock,
    /// The audit trail.
    pub audit: P::Audit,
    /// Memberships.
    pub orgs: P::Orgs,
}

/// The `access` use cases.
pub struct AccessService<P: AccessPorts> {
    users: P::Users,
    roles: P::Roles,
    keys: P::Keys,
    changes: P::Changes,
    tokens: P::Tokens,
    hot: P::Hot,
    random: P::Random,
    clock: P::Clock,
    audit: P::Audit,
    orgs: P::Orgs,
    step_up: StepUp<P::Methods, P::Clock>,
    cache: AccessCache,
    settings: AuthSettings,
}

impl<P: AccessPorts> std::fmt::Debug for AccessService<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessService").finish_non_exhaustive()
    }
}

impl<P: AccessPorts> AccessService<P> {
    /// Wires the use cases to their adapters.
    #[must_use]
    pub fn new(adapters: AccessAdapters<P>, settings: &AuthSettings) -> Self {
        let AccessAdapters {
            users,
            roles,
            keys,
            changes,
            methods,
            tokens,
            hot,
            random,
            clock,
            audit,
            orgs,
        } = adapters;
        Self {
            step_up: StepUp::new(methods, clock.clone(), settings.mfa.step_up_max_age),
            cache: AccessCache::new(settings.access.cache_ttl),
            orgs,
            users,
            roles,
            keys,
            changes,
            tokens,
            hot,
            random,
            clock,
            audit,
            settings: settings.clone(),
        }
    }

    /// Drops what another instance's change made stale (the fan-out calls
    /// this).
    pub fn changed(&self, change: Option<AccessChange>) {
        match change {
            Some(change) => self.cache.forget(change),
            None => self.cache.clear(),
        }
    }

    /// Drops stale entries here and tells the other instances.
    async fn announce(&self, change: AccessChange) {
        self.cache.forget(change);
        self.changes.announce(change).await;
    }
}
