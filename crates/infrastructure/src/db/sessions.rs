//! The `sessions` aggregate: sessions and their refresh tokens.

use std::net::IpAddr;

use auth_domain::sessions::{
    RefreshTokenRecord, RevokeReason, RevokeScope, Rotation, SessionRepository,
};
use auth_domain::{
    AccountStatus, Assurance, Effects, NewSession, OrganizationId, RepoError, Session, SessionId,
    Timestamp, TokenHash, TokenId, UserId,
};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Statement, TransactionTrait,
};

use super::entities::{refresh_tokens, sessions, users};
use super::{Database, DbError, effects, guarded, truncate};

/// Sessions and refresh tokens on the pool.
#[derive(Clone, Debug)]
pub struct SeaSessions(pub(super) Database);

fn to_session(model: sessions::Model) -> Session {
    Session {
        id: SessionId::from_uuid(model.id),
        user_id: UserId::from_uuid(model.user_id),
        created_at: model.created_at,
        last_used_at: model.last_used_at,
        expires_at: model.expires_at,
        remember_me: model.remember_me,
        ip: model.ip.and_then(|ip| ip.parse::<IpAddr>().ok()),
        user_agent: model.user_agent,
        revoked_at: model.revoked_at,
        assurance: Assurance::from_stored(
            &model.aal,
            &model.amr,
            model.auth_time.unwrap_or(model.created_at),
        ),
        organization_id: model.organization_id.map(OrganizationId::from_uuid),
    }
}

fn refresh_row(
    id: uuid::Uuid,
    session: SessionId,
    hash: &TokenHash,
    at: Timestamp,
) -> refresh_tokens::ActiveModel {
    refresh_tokens::ActiveModel {
        id: Set(id),
        session_id: Set(session.as_uuid()),
        token_hash: Set(hash.as_str().to_owned()),
        created_at: Set(at),
        used_at: Set(None),
        replaced_by: Set(None),
    }
}

/// Revokes the user's unrevoked sessions in `scope` (inside the caller's
/// transaction) and returns the ids this statement marked, so concurrent
/// revocations report each session once.
pub(super) async fn revoke_in<C: ConnectionTrait>(
    db: &C,
    user: UserId,
    scope: RevokeScope,
    reason: RevokeReason,
    now: Timestamp,
) -> Result<Vec<SessionId>, DbError> {
    // Write first, then read back what this statement marked.
    let mut update = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(now))
        .col_expr(
            sessions::Column::RevokedReason,
            Expr::value(reason.as_str()),
        )
        .filter(sessions::Column::UserId.eq(user.as_uuid()))
        .filter(sessions::Column::RevokedAt.is_null());
    match scope {
        RevokeScope::One(id) => update = update.filter(sessions::Column::Id.eq(id.as_uuid())),
        RevokeScope::AllExcept(id) => update = update.filter(sessions::Column::Id.ne(id.as_uuid())),
        RevokeScope::All => {}
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(Vec::new());
    }
    let mut marked = sessions::Entity::find()
        .filter(sessions::Column::UserId.eq(user.as_uuid()))
        .filter(sessions::Column::RevokedAt.eq(now))
        .filter(sessions::Column::RevokedReason.eq(reason.as_str()));
    if let RevokeScope::One(id) = scope {
        marked = marked.filter(sessions::Column::Id.eq(id.as_uuid()));
    }
    Ok(marked
        .all(db)
        .await?
        .into_iter()
        .map(|s| SessionId::from_uuid(s.id))
        .collect())
}

/// Inside the caller's transaction: sets a live session's assurance and
/// makes `next` its only current refresh token. `false` when the session
/// has ended (nothing changed).
pub(super) async fn elevate_in<C: ConnectionTrait>(
    db: &C,
    session: SessionId,
    assurance: &Assurance,
    next: &TokenHash,
    now: Timestamp,
) -> Result<bool, DbError> {
    let updated = sessions::Entity::update_many()
        .col_expr(sessions::Column::Aal, Expr::value(assurance.aal.as_str()))
        .col_expr(sessions::Column::Amr, Expr::value(assurance.amr_stored()))
        .col_expr(sessions::Column::AuthTime, Expr::value(assurance.auth_time))
        .col_expr(sessions::Column::LastUsedAt, Expr::value(now))
        .filter(sessions::Column::Id.eq(session.as_uuid()))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(false);
    }
    replace_refresh_tokens(db, session, next, now).await?;
    Ok(true)
}

/// Inside the caller's transaction: names `organization` in a live
/// session's tokens and makes `next` its only current refresh token.
/// `false` when the session has ended (nothing changed).
async fn switch_in<C: ConnectionTrait>(
    db: &C,
    session: SessionId,
    organization: Option<OrganizationId>,
    next: &TokenHash,
    now: Timestamp,
) -> Result<bool, DbError> {
    let updated = sessions::Entity::update_many()
        .col_expr(
            sessions::Column::OrganizationId,
            Expr::value(organization.map(|id| id.as_uuid())),
        )
        .col_expr(sessions::Column::LastUsedAt, Expr::value(now))
        .filter(sessions::Column::Id.eq(session.as_uuid()))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Ok(false);
    }
    replace_refresh_tokens(db, session, next, now).await?;
    Ok(true)
}

/// Rotates every unused refresh token of `session` out in favour of `next`
/// (inside the caller's transaction, after the session row was written).
async fn replace_refresh_tokens<C: ConnectionTrait>(
    db: &C,
    session: SessionId,
    next: &TokenHash,
    now: Timestamp,
) -> Result<(), DbError> {
    let next_id = TokenId::generate().as_uuid();
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
        .col_expr(refresh_tokens::Column::ReplacedBy, Expr::value(next_id))
        .filter(refresh_tokens::Column::SessionId.eq(session.as_uuid()))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    refresh_tokens::Entity::insert(refresh_row(next_id, session, next, now))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

impl SeaSessions {
    async fn rotate(
        &self,
        session: SessionId,
        presented: &TokenHash,
        next: &TokenHash,
        now: Timestamp,
        effects: &Effects,
    ) -> Result<Rotation, DbError> {
        if self.0.conn.get_database_backend() == DbBackend::Postgres && effects.messages.is_empty()
        {
            return self
                .rotate_in_one_statement(session, presented, next, now, effects)
                .await;
        }
        let txn = self.0.conn.begin().await?;
        // The session must still be live, and its account active, in this
        // same transaction: writing the session row first also takes its
        // lock (and SQLite's write lock), so a concurrent revocation or
        // suspension either lands before (and this rotation fails) or after
        // (and revokes the successor with the session).
        // Correlated, so it is one primary-key lookup: `user_id IN (SELECT
        // id FROM users WHERE …)` builds a hash of every active user per
        // rotation, a cost that grows with the user count.
        let account_active = Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(users::Entity)
                .and_where(
                    Expr::col((users::Entity, users::Column::Id))
                        .equals((sessions::Entity, sessions::Column::UserId)),
                )
                .and_where(users::Column::Status.eq(AccountStatus::Active.as_str()))
                .to_owned(),
        );
        let live = sessions::Entity::update_many()
            .col_expr(sessions::Column::LastUsedAt, Expr::value(now))
            .filter(sessions::Column::Id.eq(session.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(now))
            .filter(account_active)
            .exec(&txn)
            .await?;
        if live.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(Rotation::SessionEnded);
        }
        let next_id = TokenId::generate().as_uuid();
        // The compare-and-set: only a still-current token changes a row.
        let rotated = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
            .col_expr(refresh_tokens::Column::ReplacedBy, Expr::value(next_id))
            .filter(refresh_tokens::Column::TokenHash.eq(presented.as_str()))
            .filter(refresh_tokens::Column::SessionId.eq(session.as_uuid()))
            .filter(refresh_tokens::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if rotated.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(Rotation::NotCurrent);
        }
        refresh_tokens::Entity::insert(refresh_row(next_id, session, next, now))
            .exec_without_returning(&txn)
            .await?;
        effects::write(&txn, effects).await?;
        txn.commit().await?;
        Ok(Rotation::Rotated)
    }

    /// The same rotation on PostgreSQL as one statement (one round trip
    /// instead of six: refresh is the busiest write an auth service takes).
    /// Its data-modifying steps run in one snapshot and one transaction; the
    /// session row is locked first, as in [`Self::rotate`], and a token
    /// another rotation changed meanwhile fails `used_at IS NULL` on
    /// re-check, so of two racing rotations one wins.
    async fn rotate_in_one_statement(
        &self,
        session: SessionId,
        presented: &TokenHash,
        next: &TokenHash,
        now: Timestamp,
        effects: &Effects,
    ) -> Result<Rotation, DbError> {
        let next_id = TokenId::generate().as_uuid();
        let mut sql = String::from(
            "WITH live AS ( \
                UPDATE sessions SET last_used_at = $1 \
                WHERE id = $2 AND revoked_at IS NULL AND expires_at > $1 \
                  AND EXISTS (SELECT 1 FROM users \
                              WHERE users.id = sessions.user_id AND users.status = $3) \
                RETURNING id \
            ), rotated AS ( \
                UPDATE refresh_tokens SET used_at = $1, replaced_by = $4 \
                WHERE token_hash = $5 AND used_at IS NULL \
                  AND session_id IN (SELECT id FROM live) \
                RETURNING session_id \
            ), successor AS ( \
                INSERT INTO refresh_tokens (id, session_id, token_hash, created_at) \
                SELECT $4, session_id, $6, $1 FROM rotated \
            )",
        );
        let mut values: Vec<sea_orm::Value> = vec![
            now.into(),
            session.as_uuid().into(),
            AccountStatus::Active.as_str().into(),
            next_id.into(),
            presented.as_str().into(),
            next.as_str().into(),
        ];
        for (n, event) in effects.events.iter().enumerate() {
            let row = effects::audit_values(event);
            let first = values.len() + 1;
            let params: Vec<String> = (first..first + row.len())
                .map(|i| format!("${i}"))
                .collect();
            sql.push_str(&format!(
                ", audit{n} AS (INSERT INTO audit_events ({}) SELECT {} FROM rotated)",
                effects::AUDIT_COLUMNS,
                params.join(", ")
            ));
            values.extend(row);
        }
        sql.push_str(
            " SELECT (SELECT count(*) FROM live) AS live, (SELECT count(*) FROM rotated) AS rotated",
        );
        let row = self
            .0
            .conn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                values,
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("rotation result".into()))?;
        let live: i64 = row.try_get("", "live")?;
        let rotated: i64 = row.try_get("", "rotated")?;
        Ok(match (live, rotated) {
            (0, _) => Rotation::SessionEnded,
            (_, 0) => Rotation::NotCurrent,
            _ => Rotation::Rotated,
        })
    }
}

impl SessionRepository for SeaSessions {
    async fn create(&self, new: NewSession, effects: Effects) -> Result<(), RepoError> {
        let NewSession {
            session,
            refresh_token_hash,
        } = new;
        guarded(async {
            let txn = self.0.conn.begin().await?;
            let row = sessions::ActiveModel {
                id: Set(session.id.as_uuid()),
                user_id: Set(session.user_id.as_uuid()),
                created_at: Set(session.created_at),
                last_used_at: Set(session.last_used_at),
                expires_at: Set(session.expires_at),
                remember_me: Set(session.remember_me),
                ip: Set(session.ip.map(|ip| ip.to_string())),
                user_agent: Set(session.user_agent.as_deref().map(|ua| truncate(ua, 512))),
                revoked_at: Set(None),
                revoked_reason: Set(None),
                aal: Set(session.assurance.aal.as_str().to_owned()),
                amr: Set(session.assurance.amr_stored()),
                auth_time: Set(Some(session.assurance.auth_time)),
                organization_id: Set(session.organization_id.map(|id| id.as_uuid())),
            };
            sessions::Entity::insert(row)
                .exec_without_returning(&txn)
                .await?;
            let token = refresh_row(
                TokenId::generate().as_uuid(),
                session.id,
                &refresh_token_hash,
                session.created_at,
            );
            refresh_tokens::Entity::insert(token)
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

    async fn find(&self, id: SessionId) -> Result<Option<Session>, RepoError> {
        guarded(async {
            Ok(sessions::Entity::find_by_id(id.as_uuid())
                .one(&self.0.conn)
                .await?
                .map(to_session))
        })
        .await
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, RepoError> {
        // One round trip: the token and its session joined.
        guarded(async {
            let found = refresh_tokens::Entity::find()
                .find_also_related(sessions::Entity)
                .filter(refresh_tokens::Column::TokenHash.eq(hash.as_str()))
                .one(&self.0.conn)
                .await?;
            Ok(found.and_then(|(token, session)| {
                session.map(|s| RefreshTokenRecord {
                    session: to_session(s),
                    used_at: token.used_at,
                })
            }))
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        session: SessionId,
        presented: &TokenHash,
        next: &TokenHash,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Rotation, RepoError> {
        let rotation = guarded(self.rotate(session, presented, next, now, &effects)).await?;
        if rotation == Rotation::Rotated {
            self.0.committed(&effects);
        }
        Ok(rotation)
    }

    async fn elevate(
        &self,
        session: SessionId,
        assurance: &Assurance,
        next: &TokenHash,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let live = guarded(async {
            let txn = self.0.conn.begin().await?;
            let live = elevate_in(&txn, session, assurance, next, now).await?;
            if live {
                effects::write(&txn, &effects).await?;
                txn.commit().await?;
            } else {
                txn.rollback().await?;
            }
            Ok(live)
        })
        .await?;
        if live {
            self.0.committed(&effects);
        }
        Ok(live)
    }

    async fn switch_organization(
        &self,
        session: SessionId,
        organization: Option<OrganizationId>,
        next: &TokenHash,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let live = guarded(async {
            let txn = self.0.conn.begin().await?;
            let live = switch_in(&txn, session, organization, next, now).await?;
            if live {
                effects::write(&txn, &effects).await?;
                txn.commit().await?;
            } else {
                txn.rollback().await?;
            }
            Ok(live)
        })
        .await?;
        if live {
            self.0.committed(&effects);
        }
        Ok(live)
    }

    async fn revoke(
        &self,
        user: UserId,
        scope: RevokeScope,
        reason: RevokeReason,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Vec<SessionId>, RepoError> {
        let revoked = guarded(async {
            let txn = self.0.conn.begin().await?;
            let revoked = revoke_in(&txn, user, scope, reason, now).await?;
            if !revoked.is_empty() {
                effects::write(&txn, &effects).await?;
            }
            txn.commit().await?;
            Ok(revoked)
        })
        .await?;
        if !revoked.is_empty() {
            self.0.committed(&effects);
        }
        Ok(revoked)
    }

    async fn list_active(&self, user: UserId, now: Timestamp) -> Result<Vec<Session>, RepoError> {
        guarded(async {
            Ok(sessions::Entity::find()
                .filter(sessions::Column::UserId.eq(user.as_uuid()))
                .filter(sessions::Column::RevokedAt.is_null())
                .filter(sessions::Column::ExpiresAt.gt(now))
                .order_by_desc(sessions::Column::CreatedAt)
                .order_by_desc(sessions::Column::Id)
                .all(&self.0.conn)
                .await?
                .into_iter()
                .map(to_session)
                .collect())
        })
        .await
    }

    async fn purge_ended(&self, before: Timestamp) -> Result<u64, RepoError> {
        guarded(async {
            // Refresh tokens go with their session (the foreign key cascades).
            let ended = sea_orm::Condition::any()
                .add(sessions::Column::ExpiresAt.lt(before))
                .add(sessions::Column::RevokedAt.lt(before));
            let deleted = sessions::Entity::delete_many()
                .filter(ended)
                .exec(&self.0.conn)
                .await?;
            Ok(deleted.rows_affected)
        })
        .await
    }

    async fn count_active(&self, now: Timestamp) -> Result<u64, RepoError> {
        guarded(async {
            Ok(sessions::Entity::find()
                .filter(sessions::Column::RevokedAt.is_null())
                .filter(sessions::Column::ExpiresAt.gt(now))
                .count(&self.0.conn)
                .await?)
        })
        .await
    }

    async fn revoked_since(&self, since: Timestamp) -> Result<Vec<SessionId>, RepoError> {
        guarded(async {
            Ok(sessions::Entity::find()
                .filter(sessions::Column::RevokedAt.gte(since))
                .all(&self.0.conn)
                .await?
                .into_iter()
                .map(|s| SessionId::from_uuid(s.id))
                .collect())
        })
        .await
    }
}
