//! Members: the dashboard, adding, changing roles, removing and leaving.

use auth_domain::access::OrgRole;
use auth_domain::accounts::UserRepository as _;
use auth_domain::activity::AuditLog as _;
use auth_domain::organizations::{
    AddMember, InvitationRepository as _, InvitationStatus, MemberChange, Membership, Organization,
    OrganizationRepository as _, may_set_role,
};
use auth_domain::system::Clock as _;
use auth_domain::{
    AccessClaims, AuditEvent, AuditEventType, Effects, OrganizationId, RequestContext, UserId,
};

use super::{OrgError, OrgPorts, OrganizationService};

/// An organization at a glance.
#[derive(Clone, Debug)]
pub struct Dashboard {
    /// The organization.
    pub organization: Organization,
    /// Members by role: owners, admins, members.
    pub by_role: [u64; 3],
    /// Invitations waiting for an answer.
    pub invitations_pending: u64,
    /// Seats of its tier (every member takes one).
    pub seat_limit: u32,
    /// The newest events filed under it (at most 10).
    pub recent_activity: Vec<AuditEvent>,
}

/// `organization.user_added` / `organization.user_removed`.
pub(super) fn membership_event(
    kind: &str,
    membership: &Membership,
    claims: &AccessClaims,
    via: &str,
) -> auth_domain::OutboxMessage {
    crate::shared::events::org_event(
        kind,
        membership.organization_id,
        membership.user_id.to_string(),
        Some(claims.user_id.to_string()),
        serde_json::json!({
            "organization_id": membership.organization_id.to_string(),
            "user_id": membership.user_id.to_string(),
            "role": membership.role.as_str(),
            "via": via,
        }),
        membership.joined_at,
    )
}

impl<P: OrgPorts> OrganizationService<P> {
    pub(super) async fn dashboard_of(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
    ) -> Result<Dashboard, OrgError> {
        self.member_with(org, claims.user_id, "org:read").await?;
        let organization = self.orgs.find(org).await?.ok_or(OrgError::NotFound)?;
        let by_role = self.orgs.count_by_role(org).await?;
        let now = self.clock.now();
        let invitations_pending = self
            .invitations
            .list(org)
            .await?
            .iter()
            .filter(|i| i.status_at(now) == InvitationStatus::Pending)
            .count() as u64;
        let recent_activity = self.audit.list_for_organization(org, 10).await?;
        Ok(Dashboard {
            organization,
            by_role,
            invitations_pending,
            seat_limit: self.settings.orgs.max_members,
            recent_activity,
        })
    }

    pub(super) async fn add(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        user: UserId,
        role: OrgRole,
        ctx: &RequestContext,
    ) -> Result<Membership, OrgError> {
        let actor = self
            .member_with(org, claims.user_id, "members:invite")
            .await?;
        if !may_set_role(actor.role, None, role) {
            return Err(OrgError::Forbidden);
        }
        if self.users.find_by_id(user).await?.is_none() {
            return Err(OrgError::Invalid("user_id", "no such user".into()));
        }
        let membership = Membership {
            organization_id: org,
            user_id: user,
            role,
            joined_at: self.clock.now(),
        };
        let event = self
            .event(AuditEventType::OrgMemberAdded, Some(user), org, ctx)
            .with("role", role.as_str())
            .with("actor_id", claims.user_id.to_string())
            .with("via", "added");
        let added = membership_event("organization.user_added", &membership, claims, "added");
        match self
            .orgs
            .add_member(
                &membership,
                self.settings.orgs.max_members,
                Effects::event(event).and_message(added),
            )
            .await?
        {
            AddMember::Added => Ok(membership),
            AddMember::AlreadyMember => Err(OrgError::AlreadyMember),
            AddMember::SeatLimit => Err(OrgError::SeatLimit),
        }
    }

    pub(super) async fn change_role(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        user: UserId,
        role: OrgRole,
        ctx: &RequestContext,
    ) -> Result<Membership, OrgError> {
        let actor = self
            .member_with(org, claims.user_id, "members:update_role")
            .await?;
        let target = self
            .orgs
            .membership(org, user)
            .await?
            .ok_or(OrgError::NotFound)?;
        if !may_set_role(actor.role, Some(target.role), role) {
            return Err(OrgError::Forbidden);
        }
        let event = self
            .event(AuditEventType::OrgMemberRoleChanged, Some(user), org, ctx)
            .with("from", target.role.as_str())
            .with("role", role.as_str())
            .with("actor_id", claims.user_id.to_string());
        let changed = crate::shared::events::org_event(
            "auth.permission_changed",
            org,
            user.to_string(),
            Some(claims.user_id.to_string()),
            serde_json::json!({
                "user_id": user.to_string(),
                "organization_id": org.to_string(),
                "role": role.as_str(),
                "change": "member_role_changed",
            }),
            self.clock.now(),
        );
        match self
            .orgs
            .set_role(
                org,
                user,
                target.role,
                role,
                Effects::event(event).and_message(changed),
            )
            .await?
        {
            MemberChange::Done => Ok(Membership { role, ..target }),
            MemberChange::NotMember => Err(OrgError::NotFound),
            MemberChange::LastOwner => Err(OrgError::LastOwner),
            // The member's role changed since it was read: decide again.
            MemberChange::Stale => Err(OrgError::Failed(crate::Failure::Unavailable(
                "the member's role changed meanwhile; retry".into(),
            ))),
        }
    }

    pub(super) async fn remove(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        user: UserId,
        ctx: &RequestContext,
    ) -> Result<(), OrgError> {
        let leaving = user == claims.user_id;
        let actor = if leaving {
            self.member(org, claims.user_id).await?
        } else {
            self.member_with(org, claims.user_id, "members:remove")
                .await?
        };
        let target = self
            .orgs
            .membership(org, user)
            .await?
            .ok_or(OrgError::NotFound)?;
        if !leaving && target.role == OrgRole::Owner && actor.role != OrgRole::Owner {
            return Err(OrgError::Forbidden);
        }
        let event = self
            .event(AuditEventType::OrgMemberRemoved, Some(user), org, ctx)
            .with("role", target.role.as_str())
            .with("actor_id", claims.user_id.to_string())
            .with("via", if leaving { "left" } else { "removed" });
        let removed = membership_event(
            "organization.user_removed",
            &target,
            claims,
            if leaving { "left" } else { "removed" },
        );
        match self
            .orgs
            .remove_member(
                org,
                user,
                target.role,
                Effects::event(event).and_message(removed),
            )
            .await?
        {
            MemberChange::Done => Ok(()),
            MemberChange::NotMember => Err(OrgError::NotFound),
            MemberChange::LastOwner => Err(OrgError::LastOwner),
            MemberChange::Stale => Err(OrgError::Failed(crate::Failure::Unavailable(
                "the member's role changed meanwhile; retry".into(),
            ))),
        }
    }
}
