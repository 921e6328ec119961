//! Invitations by email: sending (and re-sending), listing, revoking,
//! looking up, accepting and declining.

use auth_domain::access::OrgRole;
use auth_domain::accounts::UserRepository as _;
use auth_domain::organizations::{
    AddMember, Invitation, InvitationRepository as _, InvitationStatus, InviteOutcome, Membership,
    Organization, OrganizationRepository as _, may_set_role,
};
use auth_domain::system::{Clock as _, SecureRandom as _};
use auth_domain::{
    AccessClaims, AuditEventType, Effects, Email, EmailMessage, InvitationId, OpaqueToken,
    OrganizationId, OutboxMessage, RequestContext, Timestamp, UserId, after, before,
};

use super::{INVITATIONS_PER_DAY, OrgError, OrgPorts, OrganizationService};
use crate::Failure;
use crate::shared::mail::{Part, compose};

/// An invitation as shown: never its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationView {
    /// Its id.
    pub id: InvitationId,
    /// The organization.
    pub organization_id: OrganizationId,
    /// Who is invited.
    pub email: Email,
    /// The role they get.
    pub role: OrgRole,
    /// Where it stands now (`expired` when past its time).
    pub status: InvitationStatus,
    /// Who invited.
    pub inviter_id: UserId,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was sent.
    pub created_at: Timestamp,
}

impl InvitationView {
    fn of(invitation: &Invitation, now: Timestamp) -> Self {
        Self {
            id: invitation.id,
            organization_id: invitation.organization_id,
            email: invitation.email.clone(),
            role: invitation.role,
            status: invitation.status_at(now),
            inviter_id: invitation.inviter_id,
            expires_at: invitation.expires_at,
            created_at: invitation.created_at,
        }
    }
}

fn invitation_email(
    product: &str,
    organization: &Organization,
    inviter: &Email,
    to: &Email,
    role: OrgRole,
    link: &str,
    valid_days: u64,
) -> EmailMessage {
    compose(
        to,
        format!("You are invited to join {} on {product}", organization.name),
        &[
            Part::Text(format!(
                "{} invited you to join {} as {}.",
                inviter.as_str(),
                organization.name,
                role.as_str()
            )),
            Part::Link {
                url: link.to_owned(),
                label: "Accept the invitation",
            },
            Part::Text(format!(
                "The invitation expires in {valid_days} days. If you do not know {}, ignore this message.",
                organization.name
            )),
        ],
    )
}

impl<P: OrgPorts> OrganizationService<P> {
    /// The mail of an invitation with a fresh token, and the token's hash.
    async fn invitation_mail(
        &self,
        claims: &AccessClaims,
        organization: &Organization,
        to: &Email,
        role: OrgRole,
    ) -> Result<(OutboxMessage, auth_domain::TokenHash), OrgError> {
        let token = self.random.token().map_err(Failure::from)?;
        let link = self
            .settings
            .link(&self.settings.orgs.invitation_link, token.expose());
        let mail = invitation_email(
            &self.settings.product_name,
            organization,
            &claims.email,
            to,
            role,
            &link,
            self.settings.orgs.invitation_ttl.as_secs().div_ceil(86_400),
        );
        Ok((OutboxMessage::email(mail, self.clock.now()), token.hash()))
    }

    pub(super) async fn send_invitation(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        email: Email,
        role: OrgRole,
        ctx: &RequestContext,
    ) -> Result<InvitationView, OrgError> {
        let actor = self
            .member_with(org, claims.user_id, "members:invite")
            .await?;
        if !may_set_role(actor.role, None, role) {
            return Err(OrgError::Forbidden);
        }
        let organization = self.orgs.find(org).await?.ok_or(OrgError::NotFound)?;
        if let Some(user) = self.users.find_by_email(&email).await?
            && self.orgs.membership(org, user.id).await?.is_some()
        {
            return Err(OrgError::AlreadyMember);
        }
        let now = self.clock.now();
        let (mail, token_hash) = self
            .invitation_mail(claims, &organization, &email, role)
            .await?;
        let invitation = Invitation {
            id: InvitationId::generate(),
            organization_id: org,
            email,
            role,
            status: InvitationStatus::Pending,
            inviter_id: claims.user_id,
            token_hash,
            expires_at: after(now, self.settings.orgs.invitation_ttl),
            created_at: now,
        };
        let event = self
            .event(
                AuditEventType::OrgInvitationSent,
                Some(claims.user_id),
                org,
                ctx,
            )
            .with("invitation_id", invitation.id.to_string())
            .with("role", role.as_str());
        match self
            .invitations
            .create(
                &invitation,
                before(now, std::time::Duration::from_secs(86_400)),
                INVITATIONS_PER_DAY,
                Effects::event(event).and_message(mail),
            )
            .await?
        {
            InviteOutcome::Created => Ok(InvitationView::of(&invitation, now)),
            InviteOutcome::DailyLimit => Err(OrgError::DailyLimit),
        }
    }

    pub(super) async fn list_invitations(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
    ) -> Result<Vec<InvitationView>, OrgError> {
        self.member_with(org, claims.user_id, "members:invite")
            .await?;
        let now = self.clock.now();
        Ok(self
            .invitations
            .list(org)
            .await?
            .iter()
            .map(|i| InvitationView::of(i, now))
            .collect())
    }

    pub(super) async fn revoke(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        id: InvitationId,
        ctx: &RequestContext,
    ) -> Result<(), OrgError> {
        self.member_with(org, claims.user_id, "members:invite")
            .await?;
        let event = self
            .event(
                AuditEventType::OrgInvitationRevoked,
                Some(claims.user_id),
                org,
                ctx,
            )
            .with("invitation_id", id.to_string());
        if self
            .invitations
            .close(org, id, InvitationStatus::Revoked, Effects::event(event))
            .await?
        {
            Ok(())
        } else {
            Err(OrgError::NotFound)
        }
    }

    pub(super) async fn resend(
        &self,
        claims: &AccessClaims,
        org: OrganizationId,
        id: InvitationId,
        ctx: &RequestContext,
    ) -> Result<(), OrgError> {
        self.member_with(org, claims.user_id, "members:invite")
            .await?;
        let now = self.clock.now();
        let invitation = self
            .invitations
            .find(org, id)
            .await?
            .filter(|i| i.status == InvitationStatus::Pending)
            .ok_or(OrgError::NotFound)?;
        let organization = self.orgs.find(org).await?.ok_or(OrgError::NotFound)?;
        let (mail, token_hash) = self
            .invitation_mail(claims, &organization, &invitation.email, invitation.role)
            .await?;
        let event = self
            .event(
                AuditEventType::OrgInvitationSent,
                Some(claims.user_id),
                org,
                ctx,
            )
            .with("invitation_id", id.to_string())
            .with("resent", "true");
        if self
            .invitations
            .reissue(
                org,
                id,
                &token_hash,
                after(now, self.settings.orgs.invitation_ttl),
                Effects::event(event).and_message(mail),
            )
            .await?
        {
            Ok(())
        } else {
            Err(OrgError::NotFound)
        }
    }

    /// The pending invitation a token names, and its live organization.
    async fn pending(&self, token: &str) -> Result<(Invitation, Organization), OrgError> {
        let token = OpaqueToken::from_presented(token).ok_or(OrgError::TokenInvalid)?;
        let invitation = self
            .invitations
            .find_by_token(&token.hash())
            .await?
            .ok_or(OrgError::TokenInvalid)?;
        match invitation.status_at(self.clock.now()) {
            InvitationStatus::Pending => {}
            InvitationStatus::Expired => return Err(OrgError::TokenExpired),
            _ => return Err(OrgError::TokenInvalid),
        }
        let organization = self
            .orgs
            .find(invitation.organization_id)
            .await?
            .ok_or(OrgError::TokenInvalid)?;
        Ok((invitation, organization))
    }

    pub(super) async fn lookup(
        &self,
        token: &str,
    ) -> Result<(InvitationView, Organization), OrgError> {
        let (invitation, organization) = self.pending(token).await?;
        Ok((
            InvitationView::of(&invitation, self.clock.now()),
            organization,
        ))
    }

    pub(super) async fn accept(
        &self,
        claims: &AccessClaims,
        token: &str,
        ctx: &RequestContext,
    ) -> Result<(Organization, OrgRole), OrgError> {
        let (invitation, organization) = self.pending(token).await?;
        let user = self
            .users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(OrgError::NotFound)?;
        if !(user.email_verified && user.email == invitation.email) {
            return Err(OrgError::EmailMismatch);
        }
        let org = organization.id;
        let membership = Membership {
            organization_id: org,
            user_id: user.id,
            role: invitation.role,
            joined_at: self.clock.now(),
        };
        let accepted = self
            .event(
                AuditEventType::OrgInvitationAccepted,
                Some(user.id),
                org,
                ctx,
            )
            .with("invitation_id", invitation.id.to_string());
        let joined = self
            .event(AuditEventType::OrgMemberAdded, Some(user.id), org, ctx)
            .with("role", invitation.role.as_str())
            .with("via", "invitation");
        let mut effects = Effects::event(accepted).and_message(super::members::membership_event(
            "organization.user_added",
            &membership,
            claims,
            "invitation",
        ));
        effects.events.push(joined);
        match self
            .invitations
            .accept(
                invitation.id,
                &membership,
                self.settings.orgs.max_members,
                effects,
            )
            .await?
        {
            None => Err(OrgError::TokenInvalid),
            Some(AddMember::Added) => Ok((organization, invitation.role)),
            Some(AddMember::AlreadyMember) => Err(OrgError::AlreadyMember),
            Some(AddMember::SeatLimit) => Err(OrgError::SeatLimit),
        }
    }

    pub(super) async fn decline(&self, token: &str, ctx: &RequestContext) -> Result<(), OrgError> {
        let (invitation, organization) = self.pending(token).await?;
        let event = self
            .event(
                AuditEventType::OrgInvitationRevoked,
                None,
                organization.id,
                ctx,
            )
            .with("invitation_id", invitation.id.to_string())
            .with("declined", "true");
        if self
            .invitations
            .close(
                organization.id,
                invitation.id,
                InvitationStatus::Declined,
                Effects::event(event),
            )
            .await?
        {
            Ok(())
        } else {
            Err(OrgError::TokenInvalid)
        }
    }
}
