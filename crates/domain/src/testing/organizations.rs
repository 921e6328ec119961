//! The `organizations` fakes: organizations with their memberships, and
//! invitations; the same semantics as the SQL adapters (deleted
//! organizations invisible, limits decided with the change, compare-and-set
//! on an invitation's status).

use super::World;
use super::store::store_effects;
use crate::access::OrgRole;
use crate::organizations::{
    AddMember, Invitation, InvitationRepository, InvitationStatus, InviteOutcome, MemberChange,
    MemberPage, MemberRow, Membership, NewOrganization, OrgWriteError, Organization,
    OrganizationRepository,
};
use crate::{Effects, InvitationId, OrganizationId, RepoError, Timestamp, TokenHash, UserId};

impl super::State {
    fn live_organization(&self, id: OrganizationId) -> Option<&Organization> {
        self.organizations
            .iter()
            .find(|(o, deleted)| o.id == id && deleted.is_none())
            .map(|(o, _)| o)
    }

    fn is_live(&self, id: OrganizationId) -> bool {
        self.live_organization(id).is_some()
    }

    fn membership_of(&self, org: OrganizationId, user: UserId) -> Option<&Membership> {
        self.memberships
            .iter()
            .find(|m| m.organization_id == org && m.user_id == user)
    }

    fn count_role(&self, org: OrganizationId, role: OrgRole) -> usize {
        self.memberships
            .iter()
            .filter(|m| m.organization_id == org && m.role == role)
            .count()
    }

    fn seats_taken(&self, org: OrganizationId) -> usize {
        self.memberships
            .iter()
            .filter(|m| m.organization_id == org)
            .count()
    }
}

fn limit(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[derive(Clone, Debug)]
pub struct MemoryOrganizations(pub(super) World);

impl OrganizationRepository for MemoryOrganizations {
    async fn create(&self, new: &NewOrganization, effects: Effects) -> Result<(), OrgWriteError> {
        let mut state = self.0.lock();
        state.check()?;
        let owned = state
            .memberships
            .iter()
            .filter(|m| {
                m.user_id == new.owner
                    && m.role == OrgRole::Owner
                    && state.is_live(m.organization_id)
            })
            .count();
        if owned >= limit(new.max_owned) {
            return Err(OrgWriteError::TooMany);
        }
        if state
            .organizations
            .iter()
            .any(|(o, _)| o.slug == new.organization.slug)
        {
            return Err(OrgWriteError::SlugTaken);
        }
        state.organizations.push((new.organization.clone(), None));
        state.memberships.push(Membership {
            organization_id: new.organization.id,
            user_id: new.owner,
            role: OrgRole::Owner,
            joined_at: new.organization.created_at,
        });
        store_effects(&mut state, effects);
        Ok(())
    }

    async fn find(&self, id: OrganizationId) -> Result<Option<Organization>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state.live_organization(id).cloned())
    }

    async fn list_for_user(&self, user: UserId) -> Result<Vec<(Organization, OrgRole)>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let mut listed: Vec<(Organization, OrgRole)> = state
            .memberships
            .iter()
            .filter(|m| m.user_id == user)
            .filter_map(|m| {
                state
                    .live_organization(m.organization_id)
                    .map(|o| (o.clone(), m.role))
            })
            .collect();
        listed.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(listed)
    }

    async fn update(
        &self,
        id: OrganizationId,
        name: Option<String>,
        settings: Option<String>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<Organization>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some((org, _)) = state
            .organizations
            .iter_mut()
            .find(|(o, deleted)| o.id == id && deleted.is_none())
        else {
            return Ok(None);
        };
        if let Some(name) = name {
            org.name = name;
        }
        if let Some(settings) = settings {
            org.settings = settings;
        }
        org.updated_at = now;
        let updated = org.clone();
        store_effects(&mut state, effects);
        Ok(Some(updated))
    }

    async fn delete(
        &self,
        id: OrganizationId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some((org, deleted)) = state
            .organizations
            .iter_mut()
            .find(|(o, deleted)| o.id == id && deleted.is_none())
        else {
            return Ok(false);
        };
        *deleted = Some(now);
        org.updated_at = now;
        store_effects(&mut state, effects);
        Ok(true)
    }

    async fn membership(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<Membership>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        if !state.is_live(org) {
            return Ok(None);
        }
        Ok(state.membership_of(org, user).cloned())
    }

    async fn members(
        &self,
        org: OrganizationId,
        role: Option<OrgRole>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<MemberPage, RepoError> {
        let state = self.0.lock();
        state.check()?;
        if !state.is_live(org) {
            return Ok(MemberPage {
                members: Vec::new(),
                next_after: None,
            });
        }
        let mut rows: Vec<MemberRow> = state
            .memberships
            .iter()
            .filter(|m| {
                m.organization_id == org
                    && role.is_none_or(|r| m.role == r)
                    && after.is_none_or(|a| m.user_id > a)
            })
            .filter_map(|m| {
                state
                    .users
                    .iter()
                    .find(|u| u.id == m.user_id)
                    .map(|u| MemberRow {
                        membership: m.clone(),
                        email: u.email.clone(),
                        name: u.profile.name.clone(),
                        avatar_url: u.profile.avatar_url.clone(),
                    })
            })
            .collect();
        rows.sort_by_key(|r| r.membership.user_id);
        let limit = self::limit(limit);
        let next_after = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| r.membership.user_id)
        } else {
            None
        };
        Ok(MemberPage {
            members: rows,
            next_after,
        })
    }

    async fn count_by_role(&self, org: OrganizationId) -> Result<[u64; 3], RepoError> {
        let state = self.0.lock();
        state.check()?;
        if !state.is_live(org) {
            return Ok([0; 3]);
        }
        Ok([OrgRole::Owner, OrgRole::Admin, OrgRole::Member]
            .map(|role| state.count_role(org, role) as u64))
    }

    async fn add_member(
        &self,
        membership: &Membership,
        max_members: u32,
        effects: Effects,
    ) -> Result<AddMember, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let org = membership.organization_id;
        // No live organization: no seat (as the SQL adapter).
        if !state.is_live(org) {
            return Ok(AddMember::SeatLimit);
        }
        if state.membership_of(org, membership.user_id).is_some() {
            return Ok(AddMember::AlreadyMember);
        }
        if state.seats_taken(org) >= limit(max_members) {
            return Ok(AddMember::SeatLimit);
        }
        state.memberships.push(membership.clone());
        store_effects(&mut state, effects);
        Ok(AddMember::Added)
    }

    async fn set_role(
        &self,
        org: OrganizationId,
        user: UserId,
        expected: OrgRole,
        role: OrgRole,
        effects: Effects,
    ) -> Result<MemberChange, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if !state.is_live(org) {
            return Ok(MemberChange::NotMember);
        }
        let Some(current) = state.membership_of(org, user).map(|m| m.role) else {
            return Ok(MemberChange::NotMember);
        };
        if current != expected {
            return Ok(MemberChange::Stale);
        }
        if current == OrgRole::Owner
            && role != OrgRole::Owner
            && state.count_role(org, OrgRole::Owner) <= 1
        {
            return Ok(MemberChange::LastOwner);
        }
        if let Some(m) = state
            .memberships
            .iter_mut()
            .find(|m| m.organization_id == org && m.user_id == user)
        {
            m.role = role;
        }
        store_effects(&mut state, effects);
        Ok(MemberChange::Done)
    }

    async fn remove_member(
        &self,
        org: OrganizationId,
        user: UserId,
        expected: OrgRole,
        effects: Effects,
    ) -> Result<MemberChange, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if !state.is_live(org) {
            return Ok(MemberChange::NotMember);
        }
        let Some(current) = state.membership_of(org, user).map(|m| m.role) else {
            return Ok(MemberChange::NotMember);
        };
        if current != expected {
            return Ok(MemberChange::Stale);
        }
        if current == OrgRole::Owner && state.count_role(org, OrgRole::Owner) <= 1 {
            return Ok(MemberChange::LastOwner);
        }
        state
            .memberships
            .retain(|m| !(m.organization_id == org && m.user_id == user));
        store_effects(&mut state, effects);
        Ok(MemberChange::Done)
    }
}

#[derive(Clone, Debug)]
pub struct MemoryInvitations(pub(super) World);

impl InvitationRepository for MemoryInvitations {
    async fn create(
        &self,
        invitation: &Invitation,
        since: Timestamp,
        max_per_day: u32,
        effects: Effects,
    ) -> Result<InviteOutcome, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let org = invitation.organization_id;
        let sent = state
            .invitations
            .iter()
            .filter(|i| i.organization_id == org && i.created_at >= since)
            .count();
        if sent >= limit(max_per_day) {
            return Ok(InviteOutcome::DailyLimit);
        }
        for pending in state.invitations.iter_mut().filter(|i| {
            i.organization_id == org
                && i.email == invitation.email
                && i.status == InvitationStatus::Pending
        }) {
            pending.status = InvitationStatus::Revoked;
        }
        state.invitations.push(invitation.clone());
        store_effects(&mut state, effects);
        Ok(InviteOutcome::Created)
    }

    async fn find_by_token(&self, hash: &TokenHash) -> Result<Option<Invitation>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .invitations
            .iter()
            .find(|i| i.token_hash == *hash)
            .cloned())
    }

    async fn find(
        &self,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .invitations
            .iter()
            .find(|i| i.id == id && i.organization_id == org)
            .cloned())
    }

    async fn list(&self, org: OrganizationId) -> Result<Vec<Invitation>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let mut listed: Vec<Invitation> = state
            .invitations
            .iter()
            .filter(|i| i.organization_id == org)
            .cloned()
            .collect();
        listed.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(listed)
    }

    async fn close(
        &self,
        org: OrganizationId,
        id: InvitationId,
        to: InvitationStatus,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(found) = state.invitations.iter_mut().find(|i| {
            i.id == id && i.organization_id == org && i.status == InvitationStatus::Pending
        }) else {
            return Ok(false);
        };
        found.status = to;
        store_effects(&mut state, effects);
        Ok(true)
    }

    async fn reissue(
        &self,
        org: OrganizationId,
        id: InvitationId,
        token_hash: &TokenHash,
        expires_at: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if state
            .invitations
            .iter()
            .any(|i| i.token_hash == *token_hash)
        {
            return Err(RepoError::Other("token hash taken".into()));
        }
        let Some(found) = state.invitations.iter_mut().find(|i| {
            i.id == id && i.organization_id == org && i.status == InvitationStatus::Pending
        }) else {
            return Ok(false);
        };
        found.token_hash = token_hash.clone();
        found.expires_at = expires_at;
        store_effects(&mut state, effects);
        Ok(true)
    }

    async fn accept(
        &self,
        id: InvitationId,
        membership: &Membership,
        max_members: u32,
        effects: Effects,
    ) -> Result<Option<AddMember>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let org = membership.organization_id;
        let Some(at) = state.invitations.iter().position(|i| {
            i.id == id && i.organization_id == org && i.status == InvitationStatus::Pending
        }) else {
            return Ok(None);
        };
        let outcome = if state.membership_of(org, membership.user_id).is_some() {
            return Ok(Some(AddMember::AlreadyMember));
        } else if state.seats_taken(org) >= limit(max_members) {
            return Ok(Some(AddMember::SeatLimit));
        } else {
            state.memberships.push(membership.clone());
            AddMember::Added
        };
        state.invitations[at].status = InvitationStatus::Accepted;
        store_effects(&mut state, effects);
        Ok(Some(outcome))
    }
}
