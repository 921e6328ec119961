//! Organizations and their memberships (`organizations`,
//! `organization_members`).
//!
//! A deleted organization keeps its row (and its slug) with `deleted_at`
//! set, and every read here ignores it. A change inside an organization is
//! one transaction whose first statement writes the organization's row
//! (changing nothing): on PostgreSQL that takes the row's lock, so seat
//! counts and "the last owner" are decided one change at a time; on SQLite
//! it takes the write lock up front.

use auth_domain::access::OrgRole;
use auth_domain::organizations::{
    AddMember, MemberChange, MemberPage, MemberRow, Membership, NewOrganization, OrgWriteError,
    Organization, OrganizationRepository,
};
use auth_domain::{Effects, Email, OrganizationId, RepoError, Timestamp, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait, TransactionTrait,
};

use super::entities::{organization_members, organizations, users};
use super::{Database, DbError, effects, guarded, truncate};

/// Longest stored name (`organizations.name`).
const NAME_LEN: usize = 128;

/// Longest stored tier (`organizations.tier`).
const TIER_LEN: usize = 16;

/// Organizations and memberships on the pool.
#[derive(Clone, Debug)]
pub struct SeaOrganizations(pub(super) Database);

fn to_organization(model: organizations::Model) -> Organization {
    Organization {
        id: OrganizationId::from_uuid(model.id),
        name: model.name,
        slug: model.slug,
        tier: model.tier,
        settings: model.settings,
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}

/// A stored organization role; an unknown one is an error, never skipped.
pub(super) fn parse_role(text: &str) -> Result<OrgRole, DbError> {
    OrgRole::parse(text)
        .ok_or_else(|| DbErr::Custom(format!("unknown stored organization role {text:?}")).into())
}

fn to_membership(model: organization_members::Model) -> Result<Membership, DbError> {
    Ok(Membership {
        organization_id: OrganizationId::from_uuid(model.organization_id),
        user_id: UserId::from_uuid(model.user_id),
        role: parse_role(&model.role)?,
        joined_at: model.joined_at,
    })
}

pub(super) fn membership_row(membership: &Membership) -> organization_members::ActiveModel {
    organization_members::ActiveModel {
        organization_id: Set(membership.organization_id.as_uuid()),
        user_id: Set(membership.user_id.as_uuid()),
        role: Set(membership.role.as_str().to_owned()),
        joined_at: Set(membership.joined_at),
    }
}

/// The first statement of a change inside `org`: a write that changes
/// nothing but locks the organization's row (and, on SQLite, the
/// database). `false` when there is no such organization (with `live`:
/// no such live one).
pub(super) async fn lock_organization<C: ConnectionTrait>(
    db: &C,
    org: OrganizationId,
    live: bool,
) -> Result<bool, DbError> {
    let mut lock = organizations::Entity::update_many()
        .col_expr(
            organizations::Column::UpdatedAt,
            Expr::col(organizations::Column::UpdatedAt),
        )
        .filter(organizations::Column::Id.eq(org.as_uuid()));
    if live {
        lock = lock.filter(organizations::Column::DeletedAt.is_null());
    }
    Ok(lock.exec(db).await?.rows_affected > 0)
}

/// `user`'s membership of `org` (deleted or not: the caller locked it).
pub(super) async fn membership_in<C: ConnectionTrait>(
    db: &C,
    org: OrganizationId,
    user: UserId,
) -> Result<Option<Membership>, DbError> {
    organization_members::Entity::find_by_id((org.as_uuid(), user.as_uuid()))
        .one(db)
        .await?
        .map(to_membership)
        .transpose()
}

/// How many members `org` has (of one role, or all: its taken seats).
pub(super) async fn count_members<C: ConnectionTrait>(
    db: &C,
    org: OrganizationId,
    role: Option<OrgRole>,
) -> Result<u64, DbError> {
    let mut query = organization_members::Entity::find()
        .filter(organization_members::Column::OrganizationId.eq(org.as_uuid()));
    if let Some(role) = role {
        query = query.filter(organization_members::Column::Role.eq(role.as_str()));
    }
    Ok(query.count(db).await?)
}

/// Whether `org` has a free seat (every member takes one, whatever the
/// role).
pub(super) async fn seat_free<C: ConnectionTrait>(
    db: &C,
    org: OrganizationId,
    max_members: u32,
) -> Result<bool, DbError> {
    Ok(count_members(db, org, None).await? < u64::from(max_members))
}

/// What a creation's transaction decided.
enum Created {
    Done,
    SlugTaken,
    TooMany,
}

impl SeaOrganizations {
    async fn insert(&self, new: &NewOrganization, effects: &Effects) -> Result<Created, DbError> {
        let NewOrganization {
            organization: org,
            owner,
            max_owned,
        } = new;
        let txn = self.0.conn.begin().await?;
        // Write first: the creator's row lock orders two creations by one
        // user, so both count what the other did.
        users::Entity::update_many()
            .col_expr(
                users::Column::UpdatedAt,
                Expr::col(users::Column::UpdatedAt),
            )
            .filter(users::Column::Id.eq(owner.as_uuid()))
            .exec(&txn)
            .await?;
        let owned = organization_members::Entity::find()
            .join(
                JoinType::InnerJoin,
                organization_members::Relation::Organization.def(),
            )
            .filter(organization_members::Column::UserId.eq(owner.as_uuid()))
            .filter(organization_members::Column::Role.eq(OrgRole::Owner.as_str()))
            .filter(organizations::Column::DeletedAt.is_null())
            .count(&txn)
            .await?;
        if owned >= u64::from(*max_owned) {
            txn.rollback().await?;
            return Ok(Created::TooMany);
        }
        let taken = organizations::Entity::find()
            .filter(organizations::Column::Slug.eq(org.slug.as_str()))
            .count(&txn)
            .await?;
        if taken > 0 {
            txn.rollback().await?;
            return Ok(Created::SlugTaken);
        }
        let row = organizations::ActiveModel {
            id: Set(org.id.as_uuid()),
            name: Set(truncate(&org.name, NAME_LEN)),
            slug: Set(org.slug.clone()),
            tier: Set(truncate(&org.tier, TIER_LEN)),
            settings: Set(org.settings.clone()),
            created_at: Set(org.created_at),
            updated_at: Set(org.updated_at),
            deleted_at: Set(None),
        };
        if let Err(err) = organizations::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
        {
            let err = DbError::from(err);
            // The unique slug, taken by a creation that committed meanwhile.
            if err.is_unique_violation() {
                txn.rollback().await?;
                return Ok(Created::SlugTaken);
            }
            return Err(err);
        }
        let owner = Membership {
            organization_id: org.id,
            user_id: *owner,
            role: OrgRole::Owner,
            joined_at: org.created_at,
        };
        organization_members::Entity::insert(membership_row(&owner))
            .exec_without_returning(&txn)
            .await?;
        effects::write(&txn, effects).await?;
        txn.commit().await?;
        Ok(Created::Done)
    }

    /// Changes or removes `user`'s membership of `org`, on the
    /// organization's locked row: `NotMember` when the organization is not
    /// live or `user` is not a member, `LastOwner` when no owner would be
    /// left; otherwise done, with `effects`.
    async fn change_member(
        &self,
        org: OrganizationId,
        user: UserId,
        expected: OrgRole,
        to: Option<OrgRole>,
        effects: &Effects,
    ) -> Result<MemberChange, DbError> {
        let txn = self.0.conn.begin().await?;
        // Write first: of two owners demoting or removing each other, the
        // second waits on the row and then counts what the first left.
        if !lock_organization(&txn, org, true).await? {
            txn.rollback().await?;
            return Ok(MemberChange::NotMember);
        }
        let Some(current) = membership_in(&txn, org, user).await? else {
            txn.rollback().await?;
            return Ok(MemberChange::NotMember);
        };
        if current.role != expected {
            txn.rollback().await?;
            return Ok(MemberChange::Stale);
        }
        if current.role == OrgRole::Owner
            && to != Some(OrgRole::Owner)
            && count_members(&txn, org, Some(OrgRole::Owner)).await? <= 1
        {
            txn.rollback().await?;
            return Ok(MemberChange::LastOwner);
        }
        match to {
            Some(role) => {
                organization_members::Entity::update_many()
                    .col_expr(
                        organization_members::Column::Role,
                        Expr::value(role.as_str()),
                    )
                    .filter(member_key(org, user))
                    .exec(&txn)
                    .await?;
            }
            None => {
                organization_members::Entity::delete_many()
                    .filter(member_key(org, user))
                    .exec(&txn)
                    .await?;
            }
        }
        effects::write(&txn, effects).await?;
        txn.commit().await?;
        Ok(MemberChange::Done)
    }
}

/// The members of `org` matching the key.
fn member_key(org: OrganizationId, user: UserId) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(organization_members::Column::OrganizationId.eq(org.as_uuid()))
        .add(organization_members::Column::UserId.eq(user.as_uuid()))
}

impl OrganizationRepository for SeaOrganizations {
    async fn create(&self, new: &NewOrganization, effects: Effects) -> Result<(), OrgWriteError> {
        match guarded(self.insert(new, &effects)).await? {
            Created::Done => {
                self.0.committed(&effects);
                Ok(())
            }
            Created::SlugTaken => Err(OrgWriteError::SlugTaken),
            Created::TooMany => Err(OrgWriteError::TooMany),
        }
    }

    async fn find(&self, id: OrganizationId) -> Result<Option<Organization>, RepoError> {
        guarded(async {
            Ok(organizations::Entity::find_by_id(id.as_uuid())
                .filter(organizations::Column::DeletedAt.is_null())
                .one(&self.0.conn)
                .await?
                .map(to_organization))
        })
        .await
    }

    async fn list_for_user(&self, user: UserId) -> Result<Vec<(Organization, OrgRole)>, RepoError> {
        guarded(async {
            let rows = organization_members::Entity::find()
                .find_also_related(organizations::Entity)
                .filter(organization_members::Column::UserId.eq(user.as_uuid()))
                .filter(organizations::Column::DeletedAt.is_null())
                .order_by_asc(organizations::Column::Name)
                .order_by_asc(organizations::Column::Id)
                .all(&self.0.conn)
                .await?;
            let mut listed = Vec::with_capacity(rows.len());
            for (member, org) in rows {
                if let Some(org) = org {
                    listed.push((to_organization(org), parse_role(&member.role)?));
                }
            }
            Ok(listed)
        })
        .await
    }

    async fn update(
        &self,
        id: OrganizationId,
        name: Option<String>,
        settings: Option<String>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<Organization>, RepoError> {
        let updated = guarded(async {
            let txn = self.0.conn.begin().await?;
            let mut update = organizations::Entity::update_many()
                .col_expr(organizations::Column::UpdatedAt, Expr::value(now))
                .filter(organizations::Column::Id.eq(id.as_uuid()))
                .filter(organizations::Column::DeletedAt.is_null());
            if let Some(name) = &name {
                update = update.col_expr(
                    organizations::Column::Name,
                    Expr::value(truncate(name, NAME_LEN)),
                );
            }
            if let Some(settings) = &settings {
                update = update.col_expr(
                    organizations::Column::Settings,
                    Expr::value(settings.clone()),
                );
            }
            if update.exec(&txn).await?.rows_affected == 0 {
                txn.rollback().await?;
                return Ok(None);
            }
            let Some(row) = organizations::Entity::find_by_id(id.as_uuid())
                .one(&txn)
                .await?
            else {
                return Err(DbErr::RecordNotFound(format!("organization {id} vanished")).into());
            };
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(Some(to_organization(row)))
        })
        .await?;
        if updated.is_some() {
            self.0.committed(&effects);
        }
        Ok(updated)
    }

    async fn delete(
        &self,
        id: OrganizationId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let deleted = guarded(async {
            let txn = self.0.conn.begin().await?;
            // The compare-and-set: only a live organization is deleted.
            let updated = organizations::Entity::update_many()
                .col_expr(organizations::Column::DeletedAt, Expr::value(now))
                .col_expr(organizations::Column::UpdatedAt, Expr::value(now))
                .filter(organizations::Column::Id.eq(id.as_uuid()))
                .filter(organizations::Column::DeletedAt.is_null())
                .exec(&txn)
                .await?;
            if updated.rows_affected != 1 {
                txn.rollback().await?;
                return Ok(false);
            }
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(true)
        })
        .await?;
        if deleted {
            self.0.committed(&effects);
        }
        Ok(deleted)
    }

    async fn membership(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<Membership>, RepoError> {
        guarded(async {
            organization_members::Entity::find()
                .join(
                    JoinType::InnerJoin,
                    organization_members::Relation::Organization.def(),
                )
                .filter(member_key(org, user))
                .filter(organizations::Column::DeletedAt.is_null())
                .one(&self.0.conn)
                .await?
                .map(to_membership)
                .transpose()
        })
        .await
    }

    async fn members(
        &self,
        org: OrganizationId,
        role: Option<OrgRole>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<MemberPage, RepoError> {
        guarded(async {
            let mut query = organization_members::Entity::find()
                .find_also_related(users::Entity)
                .join(
                    JoinType::InnerJoin,
                    organization_members::Relation::Organization.def(),
                )
                .filter(organization_members::Column::OrganizationId.eq(org.as_uuid()))
                .filter(organizations::Column::DeletedAt.is_null());
            if let Some(role) = role {
                query = query.filter(organization_members::Column::Role.eq(role.as_str()));
            }
            if let Some(after) = after {
                query = query.filter(organization_members::Column::UserId.gt(after.as_uuid()));
            }
            // One more than asked: whether a next page exists.
            let rows = query
                .order_by_asc(organization_members::Column::UserId)
                .limit(u64::from(limit) + 1)
                .all(&self.0.conn)
                .await?;
            let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            let mut members = Vec::with_capacity(rows.len());
            for (member, user) in rows.into_iter().take(usize::try_from(limit).unwrap_or(0)) {
                if let Some(user) = user {
                    members.push(MemberRow {
                        membership: to_membership(member)?,
                        email: Email::from_trusted(user.email),
                        name: user.name,
                        avatar_url: user.avatar_url,
                    });
                }
            }
            let next_after = if more {
                members.last().map(|m| m.membership.user_id)
            } else {
                None
            };
            Ok(MemberPage {
                members,
                next_after,
            })
        })
        .await
    }

    async fn count_by_role(&self, org: OrganizationId) -> Result<[u64; 3], RepoError> {
        guarded(async {
            let counts: Vec<(String, i64)> = organization_members::Entity::find()
                .select_only()
                .column(organization_members::Column::Role)
                .column_as(Expr::cust("COUNT(*)"), "n")
                .join(
                    JoinType::InnerJoin,
                    organization_members::Relation::Organization.def(),
                )
                .filter(organization_members::Column::OrganizationId.eq(org.as_uuid()))
                .filter(organizations::Column::DeletedAt.is_null())
                .group_by(organization_members::Column::Role)
                .into_tuple()
                .all(&self.0.conn)
                .await?;
            let mut by_role = [0u64; 3];
            for (role, n) in counts {
                let slot = match parse_role(&role)? {
                    OrgRole::Owner => 0,
                    OrgRole::Admin => 1,
                    OrgRole::Member => 2,
                };
                by_role[slot] = u64::try_from(n).unwrap_or(0);
            }
            Ok(by_role)
        })
        .await
    }

    /// When `membership`'s organization is not live (deleted meanwhile),
    /// there is no seat in it: `SeatLimit`, nothing written.
    async fn add_member(
        &self,
        membership: &Membership,
        max_members: u32,
        effects: Effects,
    ) -> Result<AddMember, RepoError> {
        let org = membership.organization_id;
        let outcome = guarded(async {
            let txn = self.0.conn.begin().await?;
            // Write first: two additions to one organization count seats
            // one after the other.
            if !lock_organization(&txn, org, true).await? {
                txn.rollback().await?;
                return Ok(AddMember::SeatLimit);
            }
            if membership_in(&txn, org, membership.user_id)
                .await?
                .is_some()
            {
                txn.rollback().await?;
                return Ok(AddMember::AlreadyMember);
            }
            if !seat_free(&txn, org, max_members).await? {
                txn.rollback().await?;
                return Ok(AddMember::SeatLimit);
            }
            organization_members::Entity::insert(membership_row(membership))
                .exec_without_returning(&txn)
                .await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(AddMember::Added)
        })
        .await?;
        if outcome == AddMember::Added {
            self.0.committed(&effects);
        }
        Ok(outcome)
    }

    async fn set_role(
        &self,
        org: OrganizationId,
        user: UserId,
        expected: OrgRole,
        role: OrgRole,
        effects: Effects,
    ) -> Result<MemberChange, RepoError> {
        let change = guarded(self.change_member(org, user, expected, Some(role), &effects)).await?;
        if change == MemberChange::Done {
            self.0.committed(&effects);
        }
        Ok(change)
    }

    async fn remove_member(
        &self,
        org: OrganizationId,
        user: UserId,
        expected: OrgRole,
        effects: Effects,
    ) -> Result<MemberChange, RepoError> {
        let change = guarded(self.change_member(org, user, expected, None, &effects)).await?;
        if change == MemberChange::Done {
            self.0.committed(&effects);
        }
        Ok(change)
    }
}
