//! Invitations to organizations (`organization_invitations`): only the
//! SHA-256 of a mailed token is stored. Every change of state is a
//! compare-and-set on `status = 'pending'`; sending one and accepting one
//! first write their organization's row (see `organizations`), so the daily
//! count and the seat count are decided one change at a time.

use auth_domain::organizations::{
    AddMember, Invitation, InvitationRepository, InvitationStatus, InviteOutcome, Membership,
};
use auth_domain::{
    Effects, Email, InvitationId, OrganizationId, RepoError, Timestamp, TokenHash, UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use super::entities::{organization_invitations, organization_members};
use super::organizations::{
    lock_organization, membership_in, membership_row, parse_role, seat_free,
};
use super::{Database, DbError, effects, guarded};

/// Invitations on the pool.
#[derive(Clone, Debug)]
pub struct SeaInvitations(pub(super) Database);

const PENDING: &str = InvitationStatus::Pending.as_str();

/// A stored invitation; an unknown role or status is an error, never
/// skipped.
fn to_invitation(model: organization_invitations::Model) -> Result<Invitation, DbError> {
    let status = InvitationStatus::parse(&model.status)
        .filter(|s| *s != InvitationStatus::Expired)
        .ok_or_else(|| {
            DbErr::Custom(format!(
                "unknown stored invitation status {:?} of {}",
                model.status, model.id
            ))
        })?;
    Ok(Invitation {
        id: InvitationId::from_uuid(model.id),
        organization_id: OrganizationId::from_uuid(model.organization_id),
        email: Email::from_trusted(model.email),
        role: parse_role(&model.role)?,
        status,
        inviter_id: UserId::from_uuid(model.inviter_id),
        token_hash: TokenHash::from_stored(model.token_hash),
        expires_at: model.expires_at,
        created_at: model.created_at,
    })
}

/// The pending invitation `id` of `org`.
fn pending(org: OrganizationId, id: InvitationId) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(organization_invitations::Column::Id.eq(id.as_uuid()))
        .add(organization_invitations::Column::OrganizationId.eq(org.as_uuid()))
        .add(organization_invitations::Column::Status.eq(PENDING))
}

impl SeaInvitations {
    /// Runs a compare-and-set on the pending invitation `id` of `org` and
    /// stores `effects` when it changed the row.
    async fn compare_and_set(
        &self,
        update: sea_orm::UpdateMany<organization_invitations::Entity>,
        org: OrganizationId,
        id: InvitationId,
        effects: &Effects,
    ) -> Result<bool, DbError> {
        let txn = self.0.conn.begin().await?;
        let updated = update.filter(pending(org, id)).exec(&txn).await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        effects::write(&txn, effects).await?;
        txn.commit().await?;
        Ok(true)
    }
}

impl InvitationRepository for SeaInvitations {
    async fn create(
        &self,
        invitation: &Invitation,
        since: Timestamp,
        max_per_day: u32,
        effects: Effects,
    ) -> Result<InviteOutcome, RepoError> {
        let org = invitation.organization_id;
        let outcome = guarded(async {
            let txn = self.0.conn.begin().await?;
            // Write first: two invitations of one organization count what
            // was sent one after the other.
            lock_organization(&txn, org, false).await?;
            let sent = organization_invitations::Entity::find()
                .filter(organization_invitations::Column::OrganizationId.eq(org.as_uuid()))
                .filter(organization_invitations::Column::CreatedAt.gte(since))
                .count(&txn)
                .await?;
            if sent >= u64::from(max_per_day) {
                txn.rollback().await?;
                return Ok(InviteOutcome::DailyLimit);
            }
            // The new invitation replaces the pending one of its address.
            organization_invitations::Entity::update_many()
                .col_expr(
                    organization_invitations::Column::Status,
                    Expr::value(InvitationStatus::Revoked.as_str()),
                )
                .filter(organization_invitations::Column::OrganizationId.eq(org.as_uuid()))
                .filter(organization_invitations::Column::Email.eq(invitation.email.as_str()))
                .filter(organization_invitations::Column::Status.eq(PENDING))
                .exec(&txn)
                .await?;
            let row = organization_invitations::ActiveModel {
                id: Set(invitation.id.as_uuid()),
                organization_id: Set(org.as_uuid()),
                email: Set(invitation.email.as_str().to_owned()),
                role: Set(invitation.role.as_str().to_owned()),
                status: Set(invitation.status.as_str().to_owned()),
                inviter_id: Set(invitation.inviter_id.as_uuid()),
                token_hash: Set(invitation.token_hash.as_str().to_owned()),
                expires_at: Set(invitation.expires_at),
                created_at: Set(invitation.created_at),
            };
            organization_invitations::Entity::insert(row)
                .exec_without_returning(&txn)
                .await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(InviteOutcome::Created)
        })
        .await?;
        if outcome == InviteOutcome::Created {
            self.0.committed(&effects);
        }
        Ok(outcome)
    }

    async fn find_by_token(&self, hash: &TokenHash) -> Result<Option<Invitation>, RepoError> {
        guarded(async {
            organization_invitations::Entity::find()
                .filter(organization_invitations::Column::TokenHash.eq(hash.as_str()))
                .one(&self.0.conn)
                .await?
                .map(to_invitation)
                .transpose()
        })
        .await
    }

    async fn find(
        &self,
        org: OrganizationId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, RepoError> {
        guarded(async {
            organization_invitations::Entity::find_by_id(id.as_uuid())
                .filter(organization_invitations::Column::OrganizationId.eq(org.as_uuid()))
                .one(&self.0.conn)
                .await?
                .map(to_invitation)
                .transpose()
        })
        .await
    }

    async fn list(&self, org: OrganizationId) -> Result<Vec<Invitation>, RepoError> {
        guarded(async {
            organization_invitations::Entity::find()
                .filter(organization_invitations::Column::OrganizationId.eq(org.as_uuid()))
                .order_by_desc(organization_invitations::Column::CreatedAt)
                .order_by_desc(organization_invitations::Column::Id)
                .all(&self.0.conn)
                .await?
                .into_iter()
                .map(to_invitation)
                .collect()
        })
        .await
    }

    async fn close(
        &self,
        org: OrganizationId,
        id: InvitationId,
        to: InvitationStatus,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let update = organization_invitations::Entity::update_many().col_expr(
            organization_invitations::Column::Status,
            Expr::value(to.as_str()),
        );
        let closed = guarded(self.compare_and_set(update, org, id, &effects)).await?;
        if closed {
            self.0.committed(&effects);
        }
        Ok(closed)
    }

    async fn reissue(
        &self,
        org: OrganizationId,
        id: InvitationId,
        token_hash: &TokenHash,
        expires_at: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let update = organization_invitations::Entity::update_many()
            .col_expr(
                organization_invitations::Column::TokenHash,
                Expr::value(token_hash.as_str()),
            )
            .col_expr(
                organization_invitations::Column::ExpiresAt,
                Expr::value(expires_at),
            );
        let reissued = guarded(self.compare_and_set(update, org, id, &effects)).await?;
        if reissued {
            self.0.committed(&effects);
        }
        Ok(reissued)
    }

    async fn accept(
        &self,
        id: InvitationId,
        membership: &Membership,
        max_members: u32,
        effects: Effects,
    ) -> Result<Option<AddMember>, RepoError> {
        let org = membership.organization_id;
        let outcome = guarded(async {
            let txn = self.0.conn.begin().await?;
            // Write first, the organization's row before the invitation's
            // (the order every change here takes): seats are counted one
            // acceptance or addition at a time.
            lock_organization(&txn, org, false).await?;
            // The compare-and-set: only a pending invitation is accepted.
            let accepted = organization_invitations::Entity::update_many()
                .col_expr(
                    organization_invitations::Column::Status,
                    Expr::value(InvitationStatus::Accepted.as_str()),
                )
                .filter(pending(org, id))
                .exec(&txn)
                .await?;
            if accepted.rows_affected != 1 {
                txn.rollback().await?;
                return Ok(None);
            }
            let outcome = if membership_in(&txn, org, membership.user_id)
                .await?
                .is_some()
            {
                // Nothing changed: no "user added" for someone already in,
                // and the invitation stays pending.
                txn.rollback().await?;
                return Ok(Some(AddMember::AlreadyMember));
            } else if seat_free(&txn, org, max_members).await? {
                organization_members::Entity::insert(membership_row(membership))
                    .exec_without_returning(&txn)
                    .await?;
                AddMember::Added
            } else {
                // Nothing changed: the invitation stays pending.
                txn.rollback().await?;
                return Ok(Some(AddMember::SeatLimit));
            };
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(Some(outcome))
        })
        .await?;
        if outcome == Some(AddMember::Added) {
            self.0.committed(&effects);
        }
        Ok(outcome)
    }
}
