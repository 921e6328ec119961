//! Organizations, memberships and invitations, and what stores them.

use std::future::Future;

use crate::access::OrgRole;
use crate::{
    Effects, Email, InvitationId, OrganizationId, RepoError, Timestamp, TokenHash, UserId,
};

/// An organization (tenant). Deleted ones are invisible to every read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    /// Its id.
    pub id: OrganizationId,
    /// Display name.
    pub name: String,
    /// Unique, URL-safe.
    pub slug: String,
    /// `basic` in v1.
    pub tier: String,
    /// A JSON object, as text (≤ 16 KiB).
    pub settings: String,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// An organization to create, and its first owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrganization {
    /// The organization.
    pub organization: Organization,
    /// Who created it: its first `owner`.
    pub owner: UserId,
    /// How many organizations one user may own (`orgs.max_per_user`).
    pub max_owned: u32,
}

/// Why an organization could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OrgWriteError {
    /// Another organization (deleted ones included) has that slug.
    #[error("slug taken")]
    SlugTaken,
    /// The creator already owns `orgs.max_per_user` organizations.
    #[error("too many organizations")]
    TooMany,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// A user's place in an organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The organization.
    pub organization_id: OrganizationId,
    /// The member.
    pub user_id: UserId,
    /// Their organization role.
    pub role: OrgRole,
    /// When they joined.
    pub joined_at: Timestamp,
}

/// A member as listed: the membership and the member's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRow {
    /// The membership.
    pub membership: Membership,
    /// The member's email.
    pub email: Email,
    /// The member's display name, if set.
    pub name: Option<String>,
    /// The member's avatar, if set.
    pub avatar_url: Option<String>,
}

/// One page of members, in user id order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberPage {
    /// The members.
    pub members: Vec<MemberRow>,
    /// Where the next page starts; `None` on the last.
    pub next_after: Option<UserId>,
}

/// What adding a member did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddMember {
    /// Added.
    Added,
    /// Already a member: nothing changed.
    AlreadyMember,
    /// Every seat is taken: nothing changed.
    SeatLimit,
}

/// What changing or removing a membership did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberChange {
    /// Done.
    Done,
    /// Not a member: nothing changed.
    NotMember,
    /// It would leave no owner: nothing changed.
    LastOwner,
    /// The member's role is no longer the one the caller decided on:
    /// nothing changed (decide again).
    Stale,
}

/// Organizations and their memberships. Every call that reads or writes
/// inside an organization takes its id; deleted organizations are invisible.
pub trait OrganizationRepository: Send + Sync + 'static {
    /// Stores a new organization with its owner's membership and `effects`.
    fn create(
        &self,
        new: &NewOrganization,
        effects: Effects,
    ) -> impl Future<Output = Result<(), OrgWriteError>> + Send;

    /// The live organization with this id.
    fn find(
        &self,
        id: OrganizationId,
    ) -> impl Future<Output = Result<Option<Organization>, RepoError>> + Send;

    /// The live organizations `user` belongs to, with their role, by name.
    fn list_for_user(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<(Organization, OrgRole)>, RepoError>> + Send;

    /// Changes name and/or settings; `None` when there is no such live
    /// organization.
    fn update(
        &self,
        id: OrganizationId,
        name: Option<String>,
        settings: Option<String>,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<Option<Organization>, RepoError>> + Send;

    /// Soft-deletes; `false` when there is no such live organization.
    fn delete(
        &self,
        id: OrganizationId,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// `user`'s membership of the live organization `org`.
    fn membership(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> impl Future<Output = Result<Option<Membership>, RepoError>> + Send;

    /// Members of `org` (optionally of one role), after `after` in user id
    /// order, at most `limit`.
    fn members(
        &self,
        org: OrganizationId,
        role: Option<OrgRole>,
        after: Option<UserId>,
        limit: u32,
    ) -> impl Future<Output = Result<MemberPage, RepoError>> + Send;

    /// How many owners, admins and members `org` has.
    fn count_by_role(
        &self,
        org: OrganizationId,
    ) -> impl Future<Output = Result<[u64; 3], RepoError>> + Send;

    /// Adds a member unless already one or every seat (`max_members`, all
    /// roles) is taken, decided in one transaction.
    fn add_member(
        &self,
        membership: &Membership,
        max_members: u32,
        effects: Effects,
    ) -> impl Future<Output = Result<AddMember, RepoError>> + Send;

    /// Changes a member's role from `expected` (compare-and-set: the role
    /// the caller's permission was decided on), refusing to demote the last
    /// owner.
    fn set_role(
        &self,
        org: OrganizationId,
        user: UserId,
        expected: OrgRole,
        role: OrgRole,
        effects: Effects,
    ) -> impl Future<Output = Result<MemberChange, RepoError>> + Send;

    /// Removes a member whose role is still `expected`, refusing to remove
    /// the last owner.
    fn remove_member(
        &self,
        org: OrganizationId,
        user: UserId,
        expected: OrgRole,
        effects: Effects,
    ) -> impl Future<Output = Result<MemberChange, RepoError>> + Send;
}

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Waiting for an answer (unless past `expires_at`: expired).
    Pending,
    /// Accepted: the invitee is a member.
    Accepted,
    /// Declined by the invitee.
    Declined,
    /// Revoked by the organization, or replaced by a new invitation.
    Revoked,
    /// Pending past its time (derived, never stored).
    Expired,
}

impl InvitationStatus {
    /// The stable name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }

    /// Parses a stored or requested name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "accepted" => Some(Self::Accepted),
            "declined" => Some(Self::Declined),
            "revoked" => Some(Self::Revoked),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// An invitation to join an organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// Its id.
    pub id: InvitationId,
    /// The organization.
    pub organization_id: OrganizationId,
    /// Who is invited (normalized).
    pub email: Email,
    /// The role they get.
    pub role: OrgRole,
    /// As stored (`Pending`, `Accepted`, `Declined` or `Revoked`).
    pub status: InvitationStatus,
    /// Who invited.
    pub inviter_id: UserId,
    /// SHA-256 of the mailed token.
    pub token_hash: TokenHash,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was sent.
    pub created_at: Timestamp,
}

impl Invitation {
    /// Its status at `now` (a pending one past its time is expired).
    #[must_use]
    pub fn status_at(&self, now: Timestamp) -> InvitationStatus {
        if self.status == InvitationStatus::Pending && self.expires_at <= now {
            InvitationStatus::Expired
        } else {
            self.status
        }
    }
}

/// What sending an invitation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteOutcome {
    /// Stored (a pending invitation of the same address was revoked).
    Created,
    /// The organization sent `max_per_day` since `since`: nothing changed.
    DailyLimit,
}

/// Invitations (`organization_invitations`).
pub trait InvitationRepository: Send + Sync + 'static {
    /// Stores `invitation`, revoking any pending one of the same
    /// organization and address, unless the organization sent
    /// `max_per_day` invitations since `since`; one transaction.
    fn create(
        &self,
        invitation: &Invitation,
        since: Timestamp,
        max_per_day: u32,
        effects: Effects,
    ) -> impl Future<Output = Result<InviteOutcome, RepoError>> + Send;

    /// The invitation with this token hash, in any state.
    fn find_by_token(
        &self,
        hash: &TokenHash,
    ) -> impl Future<Output = Result<Option<Invitation>, RepoError>> + Send;

    /// The invitation `id` of `org`.
    fn find(
        &self,
        org: OrganizationId,
        id: InvitationId,
    ) -> impl Future<Output = Result<Option<Invitation>, RepoError>> + Send;

    /// The invitations of `org`, newest first.
    fn list(
        &self,
        org: OrganizationId,
    ) -> impl Future<Output = Result<Vec<Invitation>, RepoError>> + Send;

    /// Moves a pending invitation of `org` to `to` (`Declined` or
    /// `Revoked`) by compare-and-set; `false` when it was not pending.
    fn close(
        &self,
        org: OrganizationId,
        id: InvitationId,
        to: InvitationStatus,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// Gives a pending invitation a new token and expiry (the old token
    /// stops working); `false` when it was not pending.
    fn reissue(
        &self,
        org: OrganizationId,
        id: InvitationId,
        token_hash: &TokenHash,
        expires_at: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// In one transaction: marks the pending invitation accepted
    /// (compare-and-set) and adds `membership` under the seat limit.
    /// `None`: it was not pending, nothing changed. `Added`: accepted and
    /// joined. `AlreadyMember` and `SeatLimit`: nothing changed (the
    /// invitation stays pending).
    fn accept(
        &self,
        id: InvitationId,
        membership: &Membership,
        max_members: u32,
        effects: Effects,
    ) -> impl Future<Output = Result<Option<AddMember>, RepoError>> + Send;
}
