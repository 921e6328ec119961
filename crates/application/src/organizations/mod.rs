//! The `organizations` context: tenants, members, invitations, and the
//! organization a session's tokens name.
//!
//! Tenant isolation is decided here, first, for every call: a caller who is
//! not a member of a live organization gets [`OrgError::NotFound`], exactly
//! as for an unknown id; only then is the member's organization role checked
//! for the permission the call needs.

mod invitations;
mod members;
#[cfg(test)]
mod tests;

use std::future::Future;

use auth_domain::access::{OrgRole, Permission, RoleRepository};
use auth_domain::accounts::UserRepository;
use auth_domain::activity::AuditLog;
use auth_domain::mfa::MethodRepository;
use auth_domain::organizations::{
    BASIC_TIER, InvitationRepository, MAX_NAME, MAX_SETTINGS, Membership, NewOrganization,
    OrgWriteError, Organization, OrganizationRepository, slug_from, valid_slug,
};
use auth_domain::sessions::{AccessTokenIssuer, SessionRepository};
use auth_domain::system::{Clock, SecureRandom};
use auth_domain::{
    AccessClaims, AuditEvent, AuditEventType, Effects, Email, InvitationId, OrganizationId,
    RequestContext, UserId,
};

pub use invitations::InvitationView;
pub use members::Dashboard;

use crate::shared::{SessionIssuer, StepUp, StepUpRequired};
use crate::{AuthSettings, Failure, TokenPair};

/// Invitations one organization may send per day.
pub const INVITATIONS_PER_DAY: u32 = 50;

/// Why an organization request was refused.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// No such live organization, or the caller is not in it (404).
    #[error("not found")]
    NotFound,
    /// A member without the permission the call needs (403).
    #[error("forbidden")]
    Forbidden,
    /// A field is wrong (422).
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, String),
    /// The slug is taken (409 `slug_taken`).
    #[error("slug taken")]
    SlugTaken,
    /// The caller owns `orgs.max_per_user` organizations (409).
    #[error("too many organizations")]
    TooMany,
    /// Already a member (409 `already_member`).
    #[error("already a member")]
    AlreadyMember,
    /// Every seat is taken (409 `seat_limit_reached`).
    #[error("seat limit reached")]
    SeatLimit,
    /// It would leave no owner (409 `last_owner`).
    #[error("last owner")]
    LastOwner,
    /// The invitation is for another address (403).
    #[error("invitation email mismatch")]
    EmailMismatch,
    /// Unknown, used or revoked invitation token (400 `token_invalid`).
    #[error("invalid token")]
    TokenInvalid,
    /// Expired invitation token (400 `token_expired`).
    #[error("expired token")]
    TokenExpired,
    /// 50 invitations today already (429).
    #[error("daily invitation limit")]
    DailyLimit,
    /// A recent proof is needed first.
    #[error("step-up required")]
    StepUp(StepUpRequired),
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<auth_domain::RepoError> for OrgError {
    fn from(err: auth_domain::RepoError) -> Self {
        Self::Failed(err.into())
    }
}

impl From<crate::shared::StepUpError> for OrgError {
    fn from(err: crate::shared::StepUpError) -> Self {
        match err {
            crate::shared::StepUpError::Required(required) => Self::StepUp(required),
            crate::shared::StepUpError::Failed(failure) => Self::Failed(failure),
        }
    }
}

/// A change of name and/or settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgChange {
    /// A new name.
    pub name: Option<String>,
    /// A new settings object, as JSON text (checked by the caller to be an
    /// object; its size is checked here).
    pub settings: Option<String>,
}

/// The `organizations` use cases, as the handlers call them.
pub trait Organizations: Send + Sync + 'static {
    /// Creates an organization; the caller becomes its owner.
    fn create(
        &self,
        claims: &AccessClaims,
        name: &str,
        slug: Option<&str>,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<Organization, OrgError>> + Send;

    /// The caller's organizations, with the caller's role.
    fn list(
        &self,
        claims: &AccessClaims,
    ) -> impl Future<Output = Result<Vec<(Organization, OrgRole)>, OrgError>> + Send;

    /// One of the caller's organizations, with the caller's role.
    fn get(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
    ) -> impl Future<Output = Result<(Organization, OrgRole), OrgError>> + Send;

    /// Changes name and/or settings (`org:update`).
    fn update(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        change: OrgChange,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<Organization, OrgError>> + Send;

    /// Soft-deletes (owner + step-up).
    fn delete(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), OrgError>> + Send;

    /// Members by role, pending invitations, seats, recent activity
    /// (`org:read`).
    fn dashboard(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
    ) -> impl Future<Output = Result<Dashboard, OrgError>> + Send;

    /// A page of members (`members:read`).
    fn members(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        role: Option<OrgRole>,
        after: Option<UserId>,
        limit: u32,
    ) -> impl Future<Output = Result<auth_domain::organizations::MemberPage, OrgError>> + Send;

    /// Adds an existing user (`members:invite`).
    fn add_member(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        user: UserId,
        role: OrgRole,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<Membership, OrgError>> + Send;

    /// Changes a member's role (`members:update_role`; only an owner grants
    /// or takes `owner`).
    fn set_role(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        user: UserId,
        role: OrgRole,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<Membership, OrgError>> + Send;

    /// Removes a member (`members:remove`), or leaves when `user` is the
    /// caller.
    fn remove_member(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        user: UserId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), OrgError>> + Send;

    /// Invites an address (`members:invite`).
    fn invite(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        email: Email,
        role: OrgRole,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<InvitationView, OrgError>> + Send;

    /// The organization's invitations (`members:invite`).
    fn invitations(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
    ) -> impl Future<Output = Result<Vec<InvitationView>, OrgError>> + Send;

    /// Revokes a pending invitation (`members:invite`).
    fn revoke_invitation(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        id: InvitationId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), OrgError>> + Send;

    /// Mails a pending invitation again with a new token (`members:invite`).
    fn resend_invitation(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        id: InvitationId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), OrgError>> + Send;

    /// What an invitation token invites to (public).
    fn lookup_invitation(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<(InvitationView, Organization), OrgError>> + Send;

    /// Joins with an invitation; the caller's verified email must be the
    /// invited one.
    fn accept_invitation(
        &self,
        claims: &AccessClaims,
        token: &str,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(Organization, OrgRole), OrgError>> + Send;

    /// Declines an invitation (the token is the credential).
    fn decline_invitation(
        &self,
        token: &str,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), OrgError>> + Send;

    /// Points the caller's session at an organization (`None`: none) and
    /// answers a new pair for the same session.
    fn switch_organization(
        &self,
        claims: &AccessClaims,
        org: Option<OrganizationId>,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<TokenPair, OrgError>> + Send;
}

/// The ports the `organizations` context needs.
pub trait OrgPorts: Send + Sync + 'static {
    /// Accounts.
    type Users: UserRepository + Clone;
    /// Organizations and memberships.
    type Orgs: OrganizationRepository + Clone;
    /// Invitations.
    type Invitations: InvitationRepository + Clone;
    /// Global roles (`orgs:create`) and token roles.
    type Roles: RoleRepository + Clone;
    /// Second-factor methods (step-up).
    type Methods: MethodRepository + Clone;
    /// Sessions (switching organization).
    type Sessions: SessionRepository + Clone;
    /// Access tokens.
    type Tokens: AccessTokenIssuer + Clone;
    /// Tokens for invitations and refresh.
    type Random: SecureRandom + Clone;
    /// Time.
    type Clock: Clock + Clone;
    /// The audit trail (dashboard activity).
    type Audit: AuditLog + Clone;
}

/// The adapters an [`OrganizationService`] is built from.
#[derive(Debug)]
pub struct OrgAdapters<P: OrgPorts> {
    /// Accounts.
    pub users: P::Users,
    /// Organizations.
    pub orgs: P::Orgs,
    /// Invitations.
    pub invitations: P::Invitations,
    /// Roles.
    pub roles: P::Roles,
    /// Methods.
    pub methods: P::Methods,
    /// Sessions.
    pub sessions: P::Sessions,
    /// Tokens.
    pub tokens: P::Tokens,
    /// Randomness.
    pub random: P::Random,
    /// Time.
    pub clock: P::Clock,
    /// Audit trail.
    pub audit: P::Audit,
}

type Issuer<P> = SessionIssuer<
    <P as OrgPorts>::Sessions,
    <P as OrgPorts>::Roles,
    <P as OrgPorts>::Tokens,
    <P as OrgPorts>::Random,
    <P as OrgPorts>::Clock,
>;

/// The `organizations` use cases.
pub struct OrganizationService<P: OrgPorts> {
    users: P::Users,
    orgs: P::Orgs,
    invitations: P::Invitations,
    roles: P::Roles,
    sessions: P::Sessions,
    random: P::Random,
    clock: P::Clock,
    audit: P::Audit,
    step_up: StepUp<P::Methods, P::Clock>,
    issuer: Issuer<P>,
    settings: AuthSettings,
}

impl<P: OrgPorts> std::fmt::Debug for OrganizationService<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrganizationService")
            .finish_non_exhaustive()
    }
}

impl<P: OrgPorts> OrganizationService<P> {
    /// Wires the use cases to their adapters.
    #[must_use]
    pub fn new(adapters: OrgAdapters<P>, settings: &AuthSettings) -> Self {
        let OrgAdapters {
            users,
            orgs,
            invitations,
            roles,
            methods,
            sessions,
            tokens,
            random,
            clock,
            audit,
        } = adapters;
        Self {
            step_up: StepUp::new(methods, clock.clone(), settings.mfa.step_up_max_age),
            issuer: SessionIssuer::new(
                sessions.clone(),
                roles.clone(),
                tokens,
                random.clone(),
                clock.clone(),
                settings,
            ),
            users,
            orgs,
            invitations,
            roles,
            sessions,
            random,
            clock,
            audit,
            settings: settings.clone(),
        }
    }

    /// The caller's membership of a live organization, or `NotFound`:
    /// isolation first, for every organization-scoped call.
    async fn member(&self, org: OrganizationId, user: UserId) -> Result<Membership, OrgError> {
        self.orgs
            .membership(org, user)
            .await?
            .ok_or(OrgError::NotFound)
    }

    /// The caller's membership, refusing with 403 unless its role grants
    /// `permission` inside the organization.
    async fn member_with(
        &self,
        org: OrganizationId,
        user: UserId,
        permission: &str,
    ) -> Result<Membership, OrgError> {
        let membership = self.member(org, user).await?;
        let allowed = Permission::parse(permission).is_some_and(|p| membership.role.allows(&p));
        if allowed {
            Ok(membership)
        } else {
            Err(OrgError::Forbidden)
        }
    }

    fn event(
        &self,
        kind: AuditEventType,
        user: Option<UserId>,
        org: OrganizationId,
        ctx: &RequestContext,
    ) -> AuditEvent {
        AuditEvent::new(kind, user, ctx, self.clock.now())
            .in_organization(org)
            .with("organization_id", org.to_string())
    }

    /// Whether the caller's global roles grant `orgs:create`.
    async fn may_create(&self, user: UserId) -> Result<bool, Failure> {
        crate::shared::permissions::holds_global(&self.roles, user, "orgs:create").await
    }

    fn check_name(name: &str) -> Result<String, OrgError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(OrgError::Invalid("name", "1 to 128 characters".into()));
        }
        Ok(name.to_owned())
    }
}

impl<P: OrgPorts> Organizations for OrganizationService<P> {
    async fn create(
        &self,
        claims: &AccessClaims,
        name: &str,
        slug: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Organization, OrgError> {
        if !self.may_create(claims.user_id).await? {
            return Err(OrgError::Forbidden);
        }
        let name = Self::check_name(name)?;
        let slug = match slug {
            Some(slug) if valid_slug(slug) => slug.to_owned(),
            Some(_) => {
                return Err(OrgError::Invalid(
                    "slug",
                    "3 to 48 of a-z, 0-9 and single dashes".into(),
                ));
            }
            None => slug_from(&name),
        };
        let now = self.clock.now();
        let organization = Organization {
            id: OrganizationId::generate(),
            name,
            slug,
            tier: BASIC_TIER.to_owned(),
            settings: "{}".to_owned(),
            created_at: now,
            updated_at: now,
        };
        let event = self
            .event(
                AuditEventType::OrgCreated,
                Some(claims.user_id),
                organization.id,
                ctx,
            )
            .with("slug", organization.slug.clone());
        self.orgs
            .create(
                &NewOrganization {
                    organization: organization.clone(),
                    owner: claims.user_id,
                    max_owned: self.settings.orgs.max_per_user,
                },
                Effects::event(event).and_message(crate::shared::events::org_event(
                    "organization.created",
                    organization.id,
                    organization.id.to_string(),
                    Some(claims.user_id.to_string()),
                    serde_json::json!({
                        "organization_id": organization.id.to_string(),
                        "name": organization.name,
                        "tier": organization.tier,
                        "created_by": claims.user_id.to_string(),
                    }),
                    self.clock.now(),
                )),
            )
            .await
            .map_err(|err| match err {
                OrgWriteError::SlugTaken => OrgError::SlugTaken,
                OrgWriteError::TooMany => OrgError::TooMany,
                OrgWriteError::Repo(repo) => repo.into(),
            })?;
        Ok(organization)
    }

    async fn list(&self, claims: &AccessClaims) -> Result<Vec<(Organization, OrgRole)>, OrgError> {
        Ok(self.orgs.list_for_user(claims.user_id).await?)
    }

    async fn get(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
    ) -> Result<(Organization, OrgRole), OrgError> {
        let membership = self.member_with(org, claims.user_id, "org:read").await?;
        let organization = self.orgs.find(org).await?.ok_or(OrgError::NotFound)?;
        Ok((organization, membership.role))
    }

    async fn update(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        change: OrgChange,
        ctx: &RequestContext,
    ) -> Result<Organization, OrgError> {
        self.member_with(org, claims.user_id, "org:update").await?;
        let name = change.name.as_deref().map(Self::check_name).transpose()?;
        if change
            .settings
            .as_ref()
            .is_some_and(|s| s.len() > MAX_SETTINGS)
        {
            return Err(OrgError::Invalid(
                "settings",
                "at most 16 KiB of JSON".into(),
            ));
        }
        let mut changed = Vec::new();
        if name.is_some() {
            changed.push("name");
        }
        if change.settings.is_some() {
            changed.push("settings");
        }
        let event = self
            .event(AuditEventType::OrgUpdated, Some(claims.user_id), org, ctx)
            .with("changed", changed.join(","));
        let updated = crate::shared::events::org_event(
            "organization.settings_updated",
            org,
            org.to_string(),
            Some(claims.user_id.to_string()),
            serde_json::json!({ "organization_id": org.to_string(), "changed": changed }),
            self.clock.now(),
        );
        self.orgs
            .update(
                org,
                name,
                change.settings,
                self.clock.now(),
                Effects::event(event).and_message(updated),
            )
            .await?
            .ok_or(OrgError::NotFound)
    }

    async fn delete(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        ctx: &RequestContext,
    ) -> Result<(), OrgError> {
        let membership = self.member(org, claims.user_id).await?;
        if membership.role != OrgRole::Owner {
            return Err(OrgError::Forbidden);
        }
        self.step_up.require(claims).await?;
        let event = self.event(AuditEventType::OrgDeleted, Some(claims.user_id), org, ctx);
        if self
            .orgs
            .delete(org, self.clock.now(), Effects::event(event))
            .await?
        {
            Ok(())
        } else {
            Err(OrgError::NotFound)
        }
    }

    async fn dashboard(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
    ) -> Result<Dashboard, OrgError> {
        self.dashboard_of(claims, org).await
    }

    async fn members(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        role: Option<OrgRole>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<auth_domain::organizations::MemberPage, OrgError> {
        self.member_with(org, claims.user_id, "members:read")
            .await?;
        Ok(self
            .orgs
            .members(org, role, after, limit.clamp(1, 100))
            .await?)
    }

    async fn add_member(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        user: UserId,
        role: OrgRole,
        ctx: &RequestContext,
    ) -> Result<Membership, OrgError> {
        self.add(claims, org, user, role, ctx).await
    }

    async fn set_role(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        user: UserId,
        role: OrgRole,
        ctx: &RequestContext,
    ) -> Result<Membership, OrgError> {
        self.change_role(claims, org, user, role, ctx).await
    }

    async fn remove_member(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        user: UserId,
        ctx: &RequestContext,
    ) -> Result<(), OrgError> {
        self.remove(claims, org, user, ctx).await
    }

    async fn invite(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        email: Email,
        role: OrgRole,
        ctx: &RequestContext,
    ) -> Result<InvitationView, OrgError> {
        self.send_invitation(claims, org, email, role, ctx).await
    }

    async fn invitations(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
    ) -> Result<Vec<InvitationView>, OrgError> {
        self.list_invitations(claims, org).await
    }

    async fn revoke_invitation(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        id: InvitationId,
        ctx: &RequestContext,
    ) -> Result<(), OrgError> {
        self.revoke(claims, org, id, ctx).await
    }

    async fn resend_invitation(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        id: InvitationId,
        ctx: &RequestContext,
    ) -> Result<(), OrgError> {
        self.resend(claims, org, id, ctx).await
    }

    async fn lookup_invitation(
        &self,
        token: &str,
    ) -> Result<(InvitationView, Organization), OrgError> {
        self.lookup(token).await
    }

    async fn accept_invitation(
        &self,
        claims: &AccessClaims,
        token: &str,
        ctx: &RequestContext,
    ) -> Result<(Organization, OrgRole), OrgError> {
        self.accept(claims, token, ctx).await
    }

    async fn decline_invitation(&self, token: &str, ctx: &RequestContext) -> Result<(), OrgError> {
        self.decline(token, ctx).await
    }

    async fn switch_organization(
        &self,
        claims: &AccessClaims,
        org: Option<OrganizationId>,
        ctx: &RequestContext,
    ) -> Result<TokenPair, OrgError> {
        if let Some(org) = org {
            self.member(org, claims.user_id).await?;
        }
        let session = self
            .sessions
            .find(claims.session_id)
            .await?
            .filter(|s| s.is_active(self.clock.now()))
            .ok_or(OrgError::NotFound)?;
        let user = self
            .users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(OrgError::NotFound)?;
        let mut event = AuditEvent::new(
            AuditEventType::OrgSwitched,
            Some(claims.user_id),
            ctx,
            self.clock.now(),
        )
        .with("session_id", session.id.to_string());
        if let Some(org) = org {
            event = event
                .in_organization(org)
                .with("organization_id", org.to_string());
        }
        self.issuer
            .switch_organization(user, session, org, Effects::event(event))
            .await?
            .ok_or(OrgError::NotFound)
    }
}
