//! Service keys (`service_keys`): only the SHA-256 of a key is stored. Its
//! grants are kept in `permissions` as their texts (`*`, `resource:*`,
//! `resource:action`), sorted and separated by single spaces — a grant never
//! contains a space.

use auth_domain::access::{Grant, ServiceKey, ServiceKeyRepository, parse_grants};
use auth_domain::{Effects, RepoError, ServiceKeyId, Timestamp, TokenHash};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};

use super::entities::service_keys;
use super::{Database, DbError, effects, guarded, truncate};

/// Longest stored key name (`service_keys.name`).
const NAME_LEN: usize = 128;

/// Service keys on the pool.
#[derive(Clone, Debug)]
pub struct SeaServiceKeys(pub(super) Database);

/// The stored form of a key's grants.
fn grants_text(grants: &[Grant]) -> String {
    let mut texts: Vec<String> = grants.iter().map(Grant::to_text).collect();
    texts.sort();
    texts.dedup();
    texts.join(" ")
}

/// A stored key; a malformed stored grant is an error, never skipped.
fn to_key(model: service_keys::Model) -> Result<ServiceKey, DbError> {
    let texts: Vec<&str> = model.permissions.split_whitespace().collect();
    let grants = parse_grants(&texts).map_err(|bad| {
        DbErr::Custom(format!(
            "malformed stored grant {bad:?} of service key {}",
            model.id
        ))
    })?;
    Ok(ServiceKey {
        id: ServiceKeyId::from_uuid(model.id),
        name: model.name,
        key_hash: TokenHash::from_stored(model.key_hash),
        grants,
        created_at: model.created_at,
    })
}

impl ServiceKeyRepository for SeaServiceKeys {
    async fn create(&self, key: &ServiceKey, effects: Effects) -> Result<(), RepoError> {
        guarded(async {
            let txn = self.0.conn.begin().await?;
            let row = service_keys::ActiveModel {
                id: Set(key.id.as_uuid()),
                name: Set(truncate(&key.name, NAME_LEN)),
                key_hash: Set(key.key_hash.as_str().to_owned()),
                permissions: Set(grants_text(&key.grants)),
                created_at: Set(key.created_at),
                revoked_at: Set(None),
            };
            service_keys::Entity::insert(row)
                .exec_without_returning(&txn)
                .await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(())
        })
        .await?;
        self.0.committed(&effects);
        Ok(())
    }

    async fn find_active(&self, hash: &TokenHash) -> Result<Option<ServiceKey>, RepoError> {
        guarded(async {
            service_keys::Entity::find()
                .filter(service_keys::Column::KeyHash.eq(hash.as_str()))
                .filter(service_keys::Column::RevokedAt.is_null())
                .one(&self.0.conn)
                .await?
                .map(to_key)
                .transpose()
        })
        .await
    }

    async fn list_active(&self) -> Result<Vec<ServiceKey>, RepoError> {
        guarded(async {
            service_keys::Entity::find()
                .filter(service_keys::Column::RevokedAt.is_null())
                .order_by_desc(service_keys::Column::CreatedAt)
                .order_by_desc(service_keys::Column::Id)
                .all(&self.0.conn)
                .await?
                .into_iter()
                .map(to_key)
                .collect()
        })
        .await
    }

    async fn revoke(
        &self,
        id: ServiceKeyId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let revoked = guarded(async {
            let txn = self.0.conn.begin().await?;
            // The compare-and-set: only a still-unrevoked key changes.
            let updated = service_keys::Entity::update_many()
                .col_expr(service_keys::Column::RevokedAt, Expr::value(now))
                .filter(service_keys::Column::Id.eq(id.as_uuid()))
                .filter(service_keys::Column::RevokedAt.is_null())
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
        if revoked {
            self.0.committed(&effects);
        }
        Ok(revoked)
    }
}
