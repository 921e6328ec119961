//! Roles, their grants and their assignments (`permissions`, `roles`,
//! `role_permissions`, `user_roles`).
//!
//! A grant is stored as its text (`*`, `resource:*` or `resource:action`)
//! in `role_permissions.permission`, which has no foreign key to
//! `permissions`, so wildcards fit. Every change is one transaction whose
//! first statement writes the role's row: on PostgreSQL that takes the
//! row's lock, so changes to one role (an assignment, its deletion, taking
//! `admin` from someone) happen one after the other; on SQLite it takes the
//! write lock up front.

use std::collections::HashMap;

use auth_domain::access::{
    Grant, PermissionInfo, RoleRecord, RoleRepository, RoleWriteError, Unassigned, parse_grants,
};
use auth_domain::{Effects, RepoError, Role, RoleId, Timestamp, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait, TransactionTrait,
};

use super::entities::{permissions, role_permissions, roles, user_roles};
use super::{Database, DbError, effects, guarded, truncate};

/// Longest stored role description (`roles.description`).
const DESCRIPTION_LEN: usize = 256;

/// Roles, permissions and assignments on the pool.
#[derive(Clone, Debug)]
pub struct SeaRoles(pub(super) Database);

/// The stored grant texts as grants, sorted by text; a malformed one is an
/// error, never skipped.
fn to_grants(texts: &[String]) -> Result<Vec<Grant>, DbError> {
    parse_grants(texts)
        .map_err(|bad| DbErr::Custom(format!("malformed stored grant {bad:?}")).into())
}

fn to_record(model: roles::Model, grants: &[String]) -> Result<RoleRecord, DbError> {
    Ok(RoleRecord {
        id: RoleId::from_uuid(model.id),
        name: Role::new(model.name),
        description: model.description,
        grants: to_grants(grants)?,
        system: model.system,
    })
}

/// The grant texts of one role.
async fn grants_of<C: ConnectionTrait>(db: &C, role: uuid::Uuid) -> Result<Vec<String>, DbError> {
    Ok(role_permissions::Entity::find()
        .select_only()
        .column(role_permissions::Column::Permission)
        .filter(role_permissions::Column::RoleId.eq(role))
        .into_tuple()
        .all(db)
        .await?)
}

/// Stores `grants` as the role's grants (its old ones already gone).
async fn insert_grants<C: ConnectionTrait>(
    db: &C,
    role: uuid::Uuid,
    grants: &[Grant],
) -> Result<(), DbError> {
    let mut texts: Vec<String> = grants.iter().map(Grant::to_text).collect();
    texts.sort();
    texts.dedup();
    if texts.is_empty() {
        return Ok(());
    }
    role_permissions::Entity::insert_many(texts.into_iter().map(|permission| {
        role_permissions::ActiveModel {
            role_id: Set(role),
            permission: Set(permission),
        }
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The first statement of a change to the role named `name`: a write that
/// changes nothing but locks the row (and, on SQLite, the database).
/// `false` when there is no such role.
async fn lock_role_named<C: ConnectionTrait>(db: &C, name: &str) -> Result<bool, DbError> {
    let locked = roles::Entity::update_many()
        .col_expr(
            roles::Column::UpdatedAt,
            Expr::col(roles::Column::UpdatedAt),
        )
        .filter(roles::Column::Name.eq(name))
        .exec(db)
        .await?;
    Ok(locked.rows_affected > 0)
}

/// The id of the role named `name`.
async fn role_id_named<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<Option<uuid::Uuid>, DbError> {
    Ok(roles::Entity::find()
        .select_only()
        .column(roles::Column::Id)
        .filter(roles::Column::Name.eq(name))
        .into_tuple()
        .one(db)
        .await?)
}

async fn has_role<C: ConnectionTrait>(
    db: &C,
    user: UserId,
    role: uuid::Uuid,
) -> Result<bool, DbError> {
    Ok(user_roles::Entity::find()
        .filter(user_roles::Column::UserId.eq(user.as_uuid()))
        .filter(user_roles::Column::RoleId.eq(role))
        .count(db)
        .await?
        > 0)
}

impl SeaRoles {
    /// Inserts the role; `false` when its name is taken (nothing written).
    async fn insert_role(
        &self,
        role: &RoleRecord,
        now: Timestamp,
        effects: &Effects,
    ) -> Result<bool, DbError> {
        let txn = self.0.conn.begin().await?;
        let row = roles::ActiveModel {
            id: Set(role.id.as_uuid()),
            name: Set(role.name.as_str().to_owned()),
            description: Set(truncate(&role.description, DESCRIPTION_LEN)),
            system: Set(role.system),
            created_at: Set(now),
            updated_at: Set(now),
        };
        if let Err(err) = roles::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
        {
            let err = DbError::from(err);
            // The unique index on the name.
            if err.is_unique_violation() {
                txn.rollback().await?;
                return Ok(false);
            }
            return Err(err);
        }
        insert_grants(&txn, role.id.as_uuid(), &role.grants).await?;
        effects::write(&txn, effects).await?;
        txn.commit().await?;
        Ok(true)
    }
}

impl RoleRepository for SeaRoles {
    async fn roles_of(&self, user: UserId) -> Result<Vec<Role>, RepoError> {
        guarded(async {
            let names: Vec<String> = roles::Entity::find()
                .select_only()
                .column(roles::Column::Name)
                .join(JoinType::InnerJoin, roles::Relation::UserRoles.def())
                .filter(user_roles::Column::UserId.eq(user.as_uuid()))
                .order_by_asc(roles::Column::Name)
                .into_tuple()
                .all(&self.0.conn)
                .await?;
            Ok(names.into_iter().map(Role::new).collect())
        })
        .await
    }

    async fn list_roles(&self) -> Result<Vec<RoleRecord>, RepoError> {
        guarded(async {
            let rows = roles::Entity::find()
                .order_by_asc(roles::Column::Name)
                .all(&self.0.conn)
                .await?;
            let mut grants: HashMap<uuid::Uuid, Vec<String>> = HashMap::new();
            for grant in role_permissions::Entity::find().all(&self.0.conn).await? {
                grants
                    .entry(grant.role_id)
                    .or_default()
                    .push(grant.permission);
            }
            rows.into_iter()
                .map(|row| {
                    let texts = grants.remove(&row.id).unwrap_or_default();
                    to_record(row, &texts)
                })
                .collect()
        })
        .await
    }

    async fn list_permissions(&self) -> Result<Vec<PermissionInfo>, RepoError> {
        guarded(async {
            Ok(permissions::Entity::find()
                .order_by_asc(permissions::Column::Name)
                .all(&self.0.conn)
                .await?
                .into_iter()
                .map(|p| PermissionInfo {
                    name: p.name,
                    description: p.description,
                })
                .collect())
        })
        .await
    }

    async fn create_role(
        &self,
        role: &RoleRecord,
        now: Timestamp,
        effects: Effects,
    ) -> Result<(), RoleWriteError> {
        let created = guarded(self.insert_role(role, now, &effects)).await?;
        if !created {
            return Err(RoleWriteError::NameTaken);
        }
        self.0.committed(&effects);
        Ok(())
    }

    async fn update_role(
        &self,
        id: RoleId,
        description: Option<String>,
        grants: Option<Vec<Grant>>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<RoleRecord>, RepoError> {
        let updated = guarded(async {
            let txn = self.0.conn.begin().await?;
            let mut update = roles::Entity::update_many()
                .col_expr(roles::Column::UpdatedAt, Expr::value(now))
                .filter(roles::Column::Id.eq(id.as_uuid()));
            if let Some(description) = &description {
                update = update.col_expr(
                    roles::Column::Description,
                    Expr::value(truncate(description, DESCRIPTION_LEN)),
                );
            }
            if update.exec(&txn).await?.rows_affected == 0 {
                txn.rollback().await?;
                return Ok(None);
            }
            if let Some(grants) = &grants {
                role_permissions::Entity::delete_many()
                    .filter(role_permissions::Column::RoleId.eq(id.as_uuid()))
                    .exec(&txn)
                    .await?;
                insert_grants(&txn, id.as_uuid(), grants).await?;
            }
            let Some(row) = roles::Entity::find_by_id(id.as_uuid()).one(&txn).await? else {
                return Err(DbErr::RecordNotFound(format!("role {id} vanished")).into());
            };
            let record = to_record(row, &grants_of(&txn, id.as_uuid()).await?)?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(Some(record))
        })
        .await?;
        if updated.is_some() {
            self.0.committed(&effects);
        }
        Ok(updated)
    }

    async fn delete_role(
        &self,
        id: RoleId,
        effects: Effects,
    ) -> Result<Option<Vec<UserId>>, RepoError> {
        let holders = guarded(async {
            let txn = self.0.conn.begin().await?;
            // Write first: lock the custom role's row (a system role is
            // never deleted).
            let locked = roles::Entity::update_many()
                .col_expr(
                    roles::Column::UpdatedAt,
                    Expr::col(roles::Column::UpdatedAt),
                )
                .filter(roles::Column::Id.eq(id.as_uuid()))
                .filter(roles::Column::System.eq(false))
                .exec(&txn)
                .await?;
            if locked.rows_affected == 0 {
                txn.rollback().await?;
                return Ok(None);
            }
            let holders: Vec<uuid::Uuid> = user_roles::Entity::find()
                .select_only()
                .column(user_roles::Column::UserId)
                .filter(user_roles::Column::RoleId.eq(id.as_uuid()))
                .order_by_asc(user_roles::Column::UserId)
                .into_tuple()
                .all(&txn)
                .await?;
            user_roles::Entity::delete_many()
                .filter(user_roles::Column::RoleId.eq(id.as_uuid()))
                .exec(&txn)
                .await?;
            role_permissions::Entity::delete_many()
                .filter(role_permissions::Column::RoleId.eq(id.as_uuid()))
                .exec(&txn)
                .await?;
            roles::Entity::delete_by_id(id.as_uuid()).exec(&txn).await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(Some(holders.into_iter().map(UserId::from_uuid).collect()))
        })
        .await?;
        if holders.is_some() {
            self.0.committed(&effects);
        }
        Ok(holders)
    }

    async fn assign(
        &self,
        user: UserId,
        role: &Role,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let assigned = guarded(async {
            let txn = self.0.conn.begin().await?;
            // Write first: the role's row lock orders this after a
            // concurrent deletion of the role or assignment of it.
            let role_id = if lock_role_named(&txn, role.as_str()).await? {
                role_id_named(&txn, role.as_str()).await?
            } else {
                None
            };
            let Some(role_id) = role_id else {
                txn.rollback().await?;
                return Err(DbErr::Custom(format!("no role {}", role.as_str())).into());
            };
            if has_role(&txn, user, role_id).await? {
                txn.rollback().await?;
                return Ok(false);
            }
            user_roles::Entity::insert(user_roles::ActiveModel {
                user_id: Set(user.as_uuid()),
                role_id: Set(role_id),
                granted_at: Set(now),
            })
            .exec_without_returning(&txn)
            .await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(true)
        })
        .await?;
        if assigned {
            self.0.committed(&effects);
        }
        Ok(assigned)
    }

    async fn unassign(
        &self,
        user: UserId,
        role: &Role,
        _now: Timestamp,
        effects: Effects,
    ) -> Result<Unassigned, RepoError> {
        let outcome = guarded(async {
            let txn = self.0.conn.begin().await?;
            // Write first: of two admins taking `admin` from each other, the
            // second waits on the role's row and then counts what the first
            // left.
            let role_id = if lock_role_named(&txn, role.as_str()).await? {
                role_id_named(&txn, role.as_str()).await?
            } else {
                None
            };
            let Some(role_id) = role_id else {
                txn.rollback().await?;
                return Ok(Unassigned::NotAssigned);
            };
            if !has_role(&txn, user, role_id).await? {
                txn.rollback().await?;
                return Ok(Unassigned::NotAssigned);
            }
            if role.as_str() == Role::ADMIN {
                let holders = user_roles::Entity::find()
                    .filter(user_roles::Column::RoleId.eq(role_id))
                    .count(&txn)
                    .await?;
                if holders <= 1 {
                    txn.rollback().await?;
                    return Ok(Unassigned::LastAdmin);
                }
            }
            user_roles::Entity::delete_many()
                .filter(user_roles::Column::UserId.eq(user.as_uuid()))
                .filter(user_roles::Column::RoleId.eq(role_id))
                .exec(&txn)
                .await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(Unassigned::Removed)
        })
        .await?;
        if outcome == Unassigned::Removed {
            self.0.committed(&effects);
        }
        Ok(outcome)
    }
}
