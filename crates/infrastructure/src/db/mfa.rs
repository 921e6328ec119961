//! The `mfa` aggregates: methods with their sent codes, backup codes, and
//! logins waiting for their second factor. Every single-use rule is one
//! conditional UPDATE (a compare-and-set), so of concurrent uses exactly one
//! changes a row.

use std::net::IpAddr;

use auth_domain::mfa::{
    Activation, BackupCode, BackupCodeRepository, BackupCodeSummary, CodeChallenge, MethodKind,
    MethodRepository, MethodStatus, MfaMethod, PendingLogin, PendingLoginRepository, Phone,
    Removal, SealedSecret,
};
use auth_domain::sessions::{RevokeReason, RevokeScope};
use auth_domain::{
    ChallengeId, Effects, MethodId, OrganizationId, RepoError, SessionId, Timestamp, TokenHash,
    UserId,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};

use super::entities::{mfa_backup_codes, mfa_challenges, mfa_methods, mfa_pending_logins};
use super::sessions::{elevate_in, revoke_in};
use super::{Database, DbError, effects, guarded, truncate};

/// Methods and their sent codes on the pool.
#[derive(Clone, Debug)]
pub struct SeaMethods(pub(super) Database);

/// Backup codes on the pool.
#[derive(Clone, Debug)]
pub struct SeaBackupCodes(pub(super) Database);

/// Pending second steps on the pool.
#[derive(Clone, Debug)]
pub struct SeaPendingLogins(pub(super) Database);

fn to_method(model: mfa_methods::Model) -> Option<MfaMethod> {
    Some(MfaMethod {
        id: MethodId::from_uuid(model.id),
        user_id: UserId::from_uuid(model.user_id),
        kind: MethodKind::parse(&model.kind)?,
        name: model.name,
        status: MethodStatus::parse(&model.status)?,
        secret: model.secret.map(SealedSecret),
        phone: model.phone.map(Phone::from_stored),
        last_used_step: model.last_used_step.and_then(|s| u64::try_from(s).ok()),
        created_at: model.created_at,
        last_used_at: model.last_used_at,
    })
}

fn to_challenge(model: mfa_challenges::Model) -> CodeChallenge {
    CodeChallenge {
        id: ChallengeId::from_uuid(model.id),
        method_id: MethodId::from_uuid(model.method_id),
        user_id: UserId::from_uuid(model.user_id),
        code_hash: TokenHash::from_stored(model.code_hash),
        created_at: model.created_at,
        expires_at: model.expires_at,
        attempts: u32::try_from(model.attempts).unwrap_or(u32::MAX),
        consumed_at: model.consumed_at,
    }
}

fn step_value(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

/// Replaces the user's backup codes (inside the caller's transaction).
async fn replace_codes<C: ConnectionTrait>(
    db: &C,
    user: UserId,
    hashes: Vec<String>,
    at: Timestamp,
) -> Result<(), DbError> {
    mfa_backup_codes::Entity::delete_many()
        .filter(mfa_backup_codes::Column::UserId.eq(user.as_uuid()))
        .exec(db)
        .await?;
    if hashes.is_empty() {
        return Ok(());
    }
    mfa_backup_codes::Entity::insert_many(hashes.into_iter().map(|hash| {
        mfa_backup_codes::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            user_id: Set(user.as_uuid()),
            code_hash: Set(hash),
            created_at: Set(at),
            used_at: Set(None),
        }
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

impl MethodRepository for SeaMethods {
    async fn add(&self, method: MfaMethod, effects: Effects) -> Result<bool, RepoError> {
        let added = guarded(async {
            let txn = self.0.conn.begin().await?;
            // An expired setup of the same name gives its name back.
            let expired_before =
                auth_domain::before(method.created_at, auth_domain::mfa::PENDING_METHOD_TTL);
            mfa_methods::Entity::delete_many()
                .filter(mfa_methods::Column::UserId.eq(method.user_id.as_uuid()))
                .filter(mfa_methods::Column::Name.eq(method.name.as_str()))
                .filter(mfa_methods::Column::Status.eq(MethodStatus::Pending.as_str()))
                .filter(mfa_methods::Column::CreatedAt.lte(expired_before))
                .exec(&txn)
                .await?;
            let row = mfa_methods::ActiveModel {
                id: Set(method.id.as_uuid()),
                user_id: Set(method.user_id.as_uuid()),
                kind: Set(method.kind.as_str().to_owned()),
                name: Set(method.name.clone()),
                status: Set(method.status.as_str().to_owned()),
                secret: Set(method.secret.as_ref().map(|s| s.0.clone())),
                phone: Set(method.phone.as_ref().map(|p| p.as_str().to_owned())),
                last_used_step: Set(method.last_used_step.map(step_value)),
                created_at: Set(method.created_at),
                last_used_at: Set(method.last_used_at),
            };
            if let Err(err) = mfa_methods::Entity::insert(row)
                .exec_without_returning(&txn)
                .await
            {
                let err = DbError::from(err);
                // The unique (user, name) index: a live method has the name.
                if err.is_unique_violation() {
                    txn.rollback().await?;
                    return Ok(false);
                }
                return Err(err);
            }
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(true)
        })
        .await?;
        if added {
            self.0.committed(&effects);
        }
        Ok(added)
    }

    async fn find(&self, id: MethodId) -> Result<Option<MfaMethod>, RepoError> {
        guarded(async {
            Ok(mfa_methods::Entity::find_by_id(id.as_uuid())
                .one(&self.0.conn)
                .await?
                .and_then(to_method))
        })
        .await
    }

    async fn list(&self, user: UserId) -> Result<Vec<MfaMethod>, RepoError> {
        guarded(async {
            Ok(mfa_methods::Entity::find()
                .filter(mfa_methods::Column::UserId.eq(user.as_uuid()))
                .order_by_asc(mfa_methods::Column::CreatedAt)
                .all(&self.0.conn)
                .await?
                .into_iter()
                .filter_map(to_method)
                .collect())
        })
        .await
    }

    async fn activate(&self, activation: Activation) -> Result<Option<Vec<SessionId>>, RepoError> {
        let Activation {
            method,
            user,
            step,
            challenge,
            first,
            session,
            assurance,
            next,
            at,
            effects,
        } = activation;
        let outcome = guarded(async {
            let txn = self.0.conn.begin().await?;
            // The compare-and-set: only a still-pending method of the user.
            let activated = mfa_methods::Entity::update_many()
                .col_expr(
                    mfa_methods::Column::Status,
                    Expr::value(MethodStatus::Active.as_str()),
                )
                .col_expr(
                    mfa_methods::Column::LastUsedStep,
                    Expr::value(step.map(step_value)),
                )
                .col_expr(mfa_methods::Column::LastUsedAt, Expr::value(at))
                .filter(mfa_methods::Column::Id.eq(method.as_uuid()))
                .filter(mfa_methods::Column::UserId.eq(user.as_uuid()))
                .filter(mfa_methods::Column::Status.eq(MethodStatus::Pending.as_str()))
                .exec(&txn)
                .await?;
            if activated.rows_affected != 1 {
                txn.rollback().await?;
                return Ok(None);
            }
            if let Some(challenge) = challenge {
                let used = mfa_challenges::Entity::update_many()
                    .col_expr(mfa_challenges::Column::ConsumedAt, Expr::value(at))
                    .filter(mfa_challenges::Column::Id.eq(challenge.as_uuid()))
                    .filter(mfa_challenges::Column::ConsumedAt.is_null())
                    .exec(&txn)
                    .await?;
                if used.rows_affected != 1 {
                    txn.rollback().await?;
                    return Ok(None);
                }
            }
            let mut revoked = Vec::new();
            if let Some(hashes) = first {
                replace_codes(&txn, user, hashes, at).await?;
                revoked = revoke_in(
                    &txn,
                    user,
                    RevokeScope::AllExcept(session),
                    RevokeReason::MfaChanged,
                    at,
                )
                .await?;
            }
            if !elevate_in(&txn, session, &assurance, &next, at).await? {
                txn.rollback().await?;
                return Ok(None);
            }
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(Some(revoked))
        })
        .await?;
        if outcome.is_some() {
            self.0.committed(&effects);
        }
        Ok(outcome)
    }

    async fn use_step(
        &self,
        method: MethodId,
        step: u64,
        now: Timestamp,
    ) -> Result<bool, RepoError> {
        guarded(async {
            let step = step_value(step);
            let updated = mfa_methods::Entity::update_many()
                .col_expr(mfa_methods::Column::LastUsedStep, Expr::value(step))
                .col_expr(mfa_methods::Column::LastUsedAt, Expr::value(now))
                .filter(mfa_methods::Column::Id.eq(method.as_uuid()))
                .filter(mfa_methods::Column::Status.eq(MethodStatus::Active.as_str()))
                .filter(
                    Condition::any()
                        .add(mfa_methods::Column::LastUsedStep.is_null())
                        .add(mfa_methods::Column::LastUsedStep.lt(step)),
                )
                .exec(&self.0.conn)
                .await?;
            Ok(updated.rows_affected == 1)
        })
        .await
    }

    async fn remove(
        &self,
        method: MethodId,
        user: UserId,
        keep: SessionId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<Removal>, RepoError> {
        let outcome = guarded(async {
            let txn = self.0.conn.begin().await?;
            let deleted = mfa_methods::Entity::delete_many()
                .filter(mfa_methods::Column::Id.eq(method.as_uuid()))
                .filter(mfa_methods::Column::UserId.eq(user.as_uuid()))
                .exec(&txn)
                .await?;
            if deleted.rows_affected != 1 {
                txn.rollback().await?;
                return Ok(None);
            }
            let revoked = revoke_in(
                &txn,
                user,
                RevokeScope::AllExcept(keep),
                RevokeReason::MfaChanged,
                now,
            )
            .await?;
            let active_left = mfa_methods::Entity::find()
                .filter(mfa_methods::Column::UserId.eq(user.as_uuid()))
                .filter(mfa_methods::Column::Status.eq(MethodStatus::Active.as_str()))
                .count(&txn)
                .await?;
            let mfa_off = active_left == 0;
            if mfa_off {
                // Nothing left to back up, and no setup half-done either.
                replace_codes(&txn, user, Vec::new(), now).await?;
                mfa_methods::Entity::delete_many()
                    .filter(mfa_methods::Column::UserId.eq(user.as_uuid()))
                    .exec(&txn)
                    .await?;
            }
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(Some(Removal { revoked, mfa_off }))
        })
        .await?;
        if outcome.is_some() {
            self.0.committed(&effects);
        }
        Ok(outcome)
    }

    async fn add_challenge(
        &self,
        challenge: CodeChallenge,
        effects: Effects,
    ) -> Result<(), RepoError> {
        guarded(async {
            let txn = self.0.conn.begin().await?;
            let row = mfa_challenges::ActiveModel {
                id: Set(challenge.id.as_uuid()),
                method_id: Set(challenge.method_id.as_uuid()),
                user_id: Set(challenge.user_id.as_uuid()),
                code_hash: Set(challenge.code_hash.as_str().to_owned()),
                created_at: Set(challenge.created_at),
                expires_at: Set(challenge.expires_at),
                attempts: Set(0),
                consumed_at: Set(None),
            };
            mfa_challenges::Entity::insert(row)
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

    async fn find_challenge(&self, id: ChallengeId) -> Result<Option<CodeChallenge>, RepoError> {
        guarded(async {
            Ok(mfa_challenges::Entity::find_by_id(id.as_uuid())
                .one(&self.0.conn)
                .await?
                .map(to_challenge))
        })
        .await
    }

    async fn latest_challenge(&self, method: MethodId) -> Result<Option<CodeChallenge>, RepoError> {
        guarded(async {
            Ok(mfa_challenges::Entity::find()
                .filter(mfa_challenges::Column::MethodId.eq(method.as_uuid()))
                .order_by_desc(mfa_challenges::Column::CreatedAt)
                .order_by_desc(mfa_challenges::Column::Id)
                .one(&self.0.conn)
                .await?
                .map(to_challenge))
        })
        .await
    }

    async fn fail_challenge(&self, id: ChallengeId) -> Result<(), RepoError> {
        guarded(async {
            mfa_challenges::Entity::update_many()
                .col_expr(
                    mfa_challenges::Column::Attempts,
                    Expr::col(mfa_challenges::Column::Attempts).add(1),
                )
                .filter(mfa_challenges::Column::Id.eq(id.as_uuid()))
                .exec(&self.0.conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn consume_challenge(
        &self,
        id: ChallengeId,
        max_attempts: u32,
        now: Timestamp,
    ) -> Result<bool, RepoError> {
        guarded(async {
            let updated = mfa_challenges::Entity::update_many()
                .col_expr(mfa_challenges::Column::ConsumedAt, Expr::value(now))
                .filter(mfa_challenges::Column::Id.eq(id.as_uuid()))
                .filter(mfa_challenges::Column::ConsumedAt.is_null())
                .filter(mfa_challenges::Column::ExpiresAt.gt(now))
                .filter(
                    mfa_challenges::Column::Attempts
                        .lt(i32::try_from(max_attempts).unwrap_or(i32::MAX)),
                )
                .exec(&self.0.conn)
                .await?;
            Ok(updated.rows_affected == 1)
        })
        .await
    }

    async fn touch(&self, method: MethodId, now: Timestamp) -> Result<(), RepoError> {
        guarded(async {
            mfa_methods::Entity::update_many()
                .col_expr(mfa_methods::Column::LastUsedAt, Expr::value(now))
                .filter(mfa_methods::Column::Id.eq(method.as_uuid()))
                .exec(&self.0.conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn purge_expired(&self, before: Timestamp) -> Result<u64, RepoError> {
        guarded(async {
            let challenges = mfa_challenges::Entity::delete_many()
                .filter(mfa_challenges::Column::ExpiresAt.lt(before))
                .exec(&self.0.conn)
                .await?;
            let methods = mfa_methods::Entity::delete_many()
                .filter(mfa_methods::Column::Status.eq(MethodStatus::Pending.as_str()))
                .filter(mfa_methods::Column::CreatedAt.lt(before))
                .exec(&self.0.conn)
                .await?;
            Ok(challenges.rows_affected + methods.rows_affected)
        })
        .await
    }
}

impl BackupCodeRepository for SeaBackupCodes {
    async fn replace(
        &self,
        user: UserId,
        hashes: Vec<String>,
        at: Timestamp,
        effects: Effects,
    ) -> Result<(), RepoError> {
        guarded(async {
            let txn = self.0.conn.begin().await?;
            replace_codes(&txn, user, hashes, at).await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(())
        })
        .await?;
        self.0.committed(&effects);
        Ok(())
    }

    async fn unused(&self, user: UserId) -> Result<Vec<BackupCode>, RepoError> {
        guarded(async {
            Ok(mfa_backup_codes::Entity::find()
                .filter(mfa_backup_codes::Column::UserId.eq(user.as_uuid()))
                .filter(mfa_backup_codes::Column::UsedAt.is_null())
                .order_by_asc(mfa_backup_codes::Column::Id)
                .all(&self.0.conn)
                .await?
                .into_iter()
                .map(|m| BackupCode {
                    id: m.id,
                    user_id: UserId::from_uuid(m.user_id),
                    hash: m.code_hash,
                    created_at: m.created_at,
                    used_at: m.used_at,
                })
                .collect())
        })
        .await
    }

    async fn summary(&self, user: UserId) -> Result<Option<BackupCodeSummary>, RepoError> {
        guarded(async {
            let codes = mfa_backup_codes::Entity::find()
                .filter(mfa_backup_codes::Column::UserId.eq(user.as_uuid()))
                .all(&self.0.conn)
                .await?;
            Ok(codes.first().map(|first| BackupCodeSummary {
                remaining: u32::try_from(codes.iter().filter(|c| c.used_at.is_none()).count())
                    .unwrap_or(u32::MAX),
                generated_at: first.created_at,
            }))
        })
        .await
    }

    async fn use_code(
        &self,
        id: uuid::Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let used = guarded(async {
            let txn = self.0.conn.begin().await?;
            let updated = mfa_backup_codes::Entity::update_many()
                .col_expr(mfa_backup_codes::Column::UsedAt, Expr::value(now))
                .filter(mfa_backup_codes::Column::Id.eq(id))
                .filter(mfa_backup_codes::Column::UsedAt.is_null())
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
        if used {
            self.0.committed(&effects);
        }
        Ok(used)
    }
}

impl PendingLoginRepository for SeaPendingLogins {
    async fn create(&self, login: PendingLogin) -> Result<(), RepoError> {
        guarded(async {
            let row = mfa_pending_logins::ActiveModel {
                id: Set(login.id),
                token_hash: Set(login.token_hash.as_str().to_owned()),
                user_id: Set(login.user_id.as_uuid()),
                remember_me: Set(login.remember_me),
                ip: Set(login.ip.map(|ip| ip.to_string())),
                user_agent: Set(login.user_agent.as_deref().map(|ua| truncate(ua, 512))),
                created_at: Set(login.created_at),
                expires_at: Set(login.expires_at),
                attempts: Set(0),
                consumed_at: Set(None),
                organization_id: Set(login.organization_id.map(|o| o.as_uuid())),
            };
            mfa_pending_logins::Entity::insert(row)
                .exec_without_returning(&self.0.conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn find(&self, token: &TokenHash) -> Result<Option<PendingLogin>, RepoError> {
        guarded(async {
            Ok(mfa_pending_logins::Entity::find()
                .filter(mfa_pending_logins::Column::TokenHash.eq(token.as_str()))
                .one(&self.0.conn)
                .await?
                .map(|m| PendingLogin {
                    id: m.id,
                    token_hash: TokenHash::from_stored(m.token_hash),
                    user_id: UserId::from_uuid(m.user_id),
                    remember_me: m.remember_me,
                    ip: m.ip.and_then(|ip| ip.parse::<IpAddr>().ok()),
                    user_agent: m.user_agent,
                    created_at: m.created_at,
                    expires_at: m.expires_at,
                    attempts: u32::try_from(m.attempts).unwrap_or(u32::MAX),
                    consumed_at: m.consumed_at,
                    organization_id: m.organization_id.map(OrganizationId::from_uuid),
                }))
        })
        .await
    }

    async fn fail(&self, id: uuid::Uuid) -> Result<(), RepoError> {
        guarded(async {
            mfa_pending_logins::Entity::update_many()
                .col_expr(
                    mfa_pending_logins::Column::Attempts,
                    Expr::col(mfa_pending_logins::Column::Attempts).add(1),
                )
                .filter(mfa_pending_logins::Column::Id.eq(id))
                .exec(&self.0.conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn consume(
        &self,
        id: uuid::Uuid,
        max_attempts: u32,
        now: Timestamp,
    ) -> Result<bool, RepoError> {
        guarded(async {
            let updated = mfa_pending_logins::Entity::update_many()
                .col_expr(mfa_pending_logins::Column::ConsumedAt, Expr::value(now))
                .filter(mfa_pending_logins::Column::Id.eq(id))
                .filter(mfa_pending_logins::Column::ConsumedAt.is_null())
                .filter(mfa_pending_logins::Column::ExpiresAt.gt(now))
                .filter(
                    mfa_pending_logins::Column::Attempts
                        .lt(i32::try_from(max_attempts).unwrap_or(i32::MAX)),
                )
                .exec(&self.0.conn)
                .await?;
            Ok(updated.rows_affected == 1)
        })
        .await
    }

    async fn purge_expired(&self, before: Timestamp) -> Result<u64, RepoError> {
        guarded(async {
            Ok(mfa_pending_logins::Entity::delete_many()
                .filter(mfa_pending_logins::Column::ExpiresAt.lt(before))
                .exec(&self.0.conn)
                .await?
                .rows_affected)
        })
        .await
    }
}
