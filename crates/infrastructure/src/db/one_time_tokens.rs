//! The `one_time_tokens` aggregate: hashes of mailed single-use tokens.

use auth_domain::accounts::{OneTimeToken, OneTimeTokenRepository};
use auth_domain::sessions::{RevokeReason, RevokeScope};
use auth_domain::{
    Effects, PasswordHash, RepoError, SessionId, Timestamp, TokenHash, TokenId, TokenPurpose,
    UserId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};

use super::entities::{one_time_tokens, users};
use super::{Database, DbError, effects, guarded};

/// Mailed single-use tokens on the pool.
#[derive(Clone, Debug)]
pub struct SeaOneTimeTokens(pub(super) Database);

fn to_token(model: one_time_tokens::Model) -> Option<OneTimeToken> {
    Some(OneTimeToken {
        id: TokenId::from_uuid(model.id),
        user_id: UserId::from_uuid(model.user_id),
        purpose: TokenPurpose::from_stored(&model.purpose)?,
        token_hash: TokenHash::from_stored(model.token_hash),
        created_at: model.created_at,
        expires_at: model.expires_at,
        consumed_at: model.consumed_at,
    })
}

/// Stores a token (inside the caller's transaction).
pub(super) async fn insert<C: ConnectionTrait>(
    db: &C,
    token: &OneTimeToken,
) -> Result<(), DbError> {
    let row = one_time_tokens::ActiveModel {
        id: Set(token.id.as_uuid()),
        user_id: Set(token.user_id.as_uuid()),
        purpose: Set(token.purpose.as_str().to_owned()),
        token_hash: Set(token.token_hash.as_str().to_owned()),
        created_at: Set(token.created_at),
        expires_at: Set(token.expires_at),
        consumed_at: Set(token.consumed_at),
    };
    one_time_tokens::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

impl OneTimeTokenRepository for SeaOneTimeTokens {
    async fn issue(&self, token: OneTimeToken, effects: Effects) -> Result<(), RepoError> {
        guarded(async {
            let txn = self.0.conn.begin().await?;
            // The user's earlier unused links of this purpose stop working.
            one_time_tokens::Entity::update_many()
                .col_expr(
                    one_time_tokens::Column::ConsumedAt,
                    Expr::value(token.created_at),
                )
                .filter(one_time_tokens::Column::UserId.eq(token.user_id.as_uuid()))
                .filter(one_time_tokens::Column::Purpose.eq(token.purpose.as_str()))
                .filter(one_time_tokens::Column::ConsumedAt.is_null())
                .exec(&txn)
                .await?;
            insert(&txn, &token).await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(())
        })
        .await?;
        self.0.committed(&effects);
        Ok(())
    }

    async fn complete_password_reset(
        &self,
        token: TokenId,
        user: UserId,
        hash: &PasswordHash,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<Vec<SessionId>>, RepoError> {
        let revoked = guarded(async {
            let txn = self.0.conn.begin().await?;
            let consumed = one_time_tokens::Entity::update_many()
                .col_expr(one_time_tokens::Column::ConsumedAt, Expr::value(now))
                .filter(one_time_tokens::Column::Id.eq(token.as_uuid()))
                .filter(one_time_tokens::Column::ConsumedAt.is_null())
                .exec(&txn)
                .await?;
            if consumed.rows_affected != 1 {
                txn.rollback().await?;
                return Ok(None);
            }
            users::Entity::update_many()
                .col_expr(users::Column::PasswordHash, Expr::value(hash.as_str()))
                .col_expr(users::Column::EmailVerified, Expr::value(true))
                .col_expr(users::Column::UpdatedAt, Expr::value(now))
                .filter(users::Column::Id.eq(user.as_uuid()))
                .exec(&txn)
                .await?;
            let revoked = super::sessions::revoke_in(
                &txn,
                user,
                RevokeScope::All,
                RevokeReason::PasswordReset,
                now,
            )
            .await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(Some(revoked))
        })
        .await?;
        if revoked.is_some() {
            self.0.committed(&effects);
        }
        Ok(revoked)
    }

    async fn purge_spent(&self, before: Timestamp) -> Result<u64, RepoError> {
        guarded(async {
            let spent = sea_orm::Condition::any()
                .add(one_time_tokens::Column::ConsumedAt.lt(before))
                .add(one_time_tokens::Column::ExpiresAt.lt(before));
            let deleted = one_time_tokens::Entity::delete_many()
                .filter(spent)
                .exec(&self.0.conn)
                .await?;
            Ok(deleted.rows_affected)
        })
        .await
    }

    async fn find(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
    ) -> Result<Option<OneTimeToken>, RepoError> {
        guarded(async {
            Ok(one_time_tokens::Entity::find()
                .filter(one_time_tokens::Column::TokenHash.eq(hash.as_str()))
                .filter(one_time_tokens::Column::Purpose.eq(purpose.as_str()))
                .one(&self.0.conn)
                .await?
                .and_then(to_token))
        })
        .await
    }

    async fn complete_email_verification(
        &self,
        token: TokenId,
        user: UserId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let won = guarded(async {
            let txn = self.0.conn.begin().await?;
            // Compare-and-set: only the first use of the token changes a row.
            let consumed = one_time_tokens::Entity::update_many()
                .col_expr(one_time_tokens::Column::ConsumedAt, Expr::value(now))
                .filter(one_time_tokens::Column::Id.eq(token.as_uuid()))
                .filter(one_time_tokens::Column::ConsumedAt.is_null())
                .exec(&txn)
                .await?;
            if consumed.rows_affected != 1 {
                txn.rollback().await?;
                return Ok(false);
            }
            users::Entity::update_many()
                .col_expr(users::Column::EmailVerified, Expr::value(true))
                .col_expr(users::Column::UpdatedAt, Expr::value(now))
                .filter(users::Column::Id.eq(user.as_uuid()))
                .exec(&txn)
                .await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(true)
        })
        .await?;
        if won {
            self.0.committed(&effects);
        }
        Ok(won)
    }
}
