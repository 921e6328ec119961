//! The sea-orm adapter of every repository port. One type serves SQLite and
//! PostgreSQL; each multi-row change is one transaction whose first statement
//! writes, so SQLite takes its write lock up front.

use std::net::IpAddr;
use std::sync::Arc;

use auth_domain::ports::{
    AuditLog, CreateUserError, HealthProbe, OneTimeTokenRepository, OutboxRepository, Registration,
    RepoError, SessionRepository, UserRepository,
};
use auth_domain::ports::{RefreshTokenRecord, RevokeReason, RevokeScope, Rotation};
use auth_domain::{
    AccountStatus, AuditEvent, Email, EmailMessage, MessageId, NewSession, OneTimeToken,
    OutboxMessage, OutboxStatus, PasswordHash, Role, Session, SessionId, Timestamp, TokenHash,
    TokenId, TokenPurpose, User, UserId,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::entities::{audit_events, one_time_tokens, outbox, refresh_tokens, sessions, users};

/// Repositories on a sea-orm connection pool.
#[derive(Clone, Debug)]
pub struct SeaStore {
    db: DatabaseConnection,
    outbox_queued: Arc<Notify>,
}

impl SeaStore {
    /// Wraps a migrated connection pool. `outbox_queued` is notified after
    /// every commit that queued a message, to wake the delivery worker.
    #[must_use]
    pub fn new(db: DatabaseConnection, outbox_queued: Arc<Notify>) -> Self {
        Self { db, outbox_queued }
    }

    /// The underlying pool (for tests and health checks).
    #[must_use]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// Driver errors stop here: the port error keeps a message for the log.
pub(super) fn repo_err(err: DbErr) -> RepoError {
    let message = describe(&err);
    if is_unavailable(&err) {
        RepoError::Unavailable(message)
    } else {
        RepoError::Other(message)
    }
}

pub(super) fn describe(err: &DbErr) -> String {
    err.to_string()
}

fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                Sqlx::Io(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::Tls(_)
                | Sqlx::Protocol(_)
                | Sqlx::WorkerCrashed => true,
                // SQLite busy/locked (5, 6 and their extended codes): contention, not a bug.
                Sqlx::Database(db) => db.code().is_some_and(|code| {
                    let primary = code.parse::<u32>().map_or(0, |c| c & 0xff);
                    matches!(primary, 5 | 6)
                }),
                _ => false,
            }
        }
        _ => false,
    }
}

fn to_user(model: users::Model) -> User {
    let roles: Vec<Role> = model
        .roles
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(Role::new)
        .collect();
    User {
        id: UserId::from_uuid(model.id),
        email: Email::from_trusted(model.email),
        email_verified: model.email_verified,
        password_hash: PasswordHash::new(model.password_hash),
        status: AccountStatus::from_stored(&model.status),
        roles: if roles.is_empty() {
            vec![Role::user()]
        } else {
            roles
        },
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}

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
    }
}

fn to_one_time_token(model: one_time_tokens::Model) -> Option<OneTimeToken> {
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

/// The stored form of an email in the outbox.
#[derive(Serialize, Deserialize)]
struct EmailPayload {
    to: String,
    subject: String,
    /// Empty once the message was sent.
    #[serde(default)]
    text: String,
    #[serde(default)]
    html: String,
}

const EMAIL_KIND: &str = "email";

fn outbox_row(message: &OutboxMessage) -> Result<outbox::ActiveModel, RepoError> {
    let payload = EmailPayload {
        to: message.email.to.as_str().to_owned(),
        subject: message.email.subject.clone(),
        text: message.email.text_body.clone(),
        html: message.email.html_body.clone(),
    };
    let payload = serde_json::to_string(&payload)
        .map_err(|e| RepoError::Other(format!("outbox payload: {e}")))?;
    Ok(outbox::ActiveModel {
        id: Set(message.id.as_uuid()),
        kind: Set(EMAIL_KIND.to_owned()),
        payload: Set(payload),
        status: Set(OutboxStatus::Pending.as_str().to_owned()),
        attempts: Set(i32::try_from(message.attempts).unwrap_or(i32::MAX)),
        next_attempt_at: Set(message.next_attempt_at),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(message.created_at),
        sent_at: Set(None),
    })
}

fn to_outbox_message(model: outbox::Model) -> Result<OutboxMessage, RepoError> {
    let payload: EmailPayload = serde_json::from_str(&model.payload).map_err(|e| {
        RepoError::Other(format!(
            "outbox message {} has an unreadable payload: {e}",
            model.id
        ))
    })?;
    Ok(OutboxMessage {
        id: MessageId::from_uuid(model.id),
        email: EmailMessage {
            to: Email::from_trusted(payload.to),
            subject: payload.subject,
            text_body: payload.text,
            html_body: payload.html,
        },
        created_at: model.created_at,
        attempts: u32::try_from(model.attempts).unwrap_or(0),
        next_attempt_at: model.next_attempt_at,
    })
}

fn audit_row(event: &AuditEvent) -> audit_events::ActiveModel {
    let details: serde_json::Map<String, serde_json::Value> = event
        .details
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    audit_events::ActiveModel {
        id: Set(event.id.as_uuid()),
        user_id: Set(event.user_id.map(|id| id.as_uuid())),
        event_type: Set(event.kind.as_str().to_owned()),
        ip: Set(event.ip.map(|ip| ip.to_string())),
        user_agent: Set(event.user_agent.as_deref().map(truncate_user_agent)),
        details: Set(serde_json::Value::Object(details).to_string()),
        at: Set(event.at),
    }
}

/// User agents are client-controlled; keep what fits the column.
fn truncate_user_agent(ua: &str) -> String {
    ua.chars().take(512).collect()
}

async fn insert_events<C: ConnectionTrait>(db: &C, events: &[AuditEvent]) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    audit_events::Entity::insert_many(events.iter().map(audit_row))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

impl UserRepository for SeaStore {
    async fn create_user(&self, registration: Registration) -> Result<(), CreateUserError> {
        let Registration {
            user,
            verification,
            mail,
            events,
        } = registration;
        let txn = self.db.begin().await.map_err(repo_err)?;
        let row = users::ActiveModel {
            id: Set(user.id.as_uuid()),
            email: Set(user.email.as_str().to_owned()),
            email_verified: Set(user.email_verified),
            password_hash: Set(user.password_hash.as_str().to_owned()),
            status: Set(user.status.as_str().to_owned()),
            roles: Set(user
                .roles
                .iter()
                .map(Role::as_str)
                .collect::<Vec<_>>()
                .join(",")),
            created_at: Set(user.created_at),
            updated_at: Set(user.updated_at),
        };
        if let Err(err) = users::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
        {
            return Err(match err.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => CreateUserError::EmailTaken,
                _ => CreateUserError::Repo(repo_err(err)),
            });
        }
        one_time_tokens::Entity::insert(one_time_token_row(&verification))
            .exec_without_returning(&txn)
            .await
            .map_err(repo_err)?;
        outbox::Entity::insert(outbox_row(&mail)?)
            .exec_without_returning(&txn)
            .await
            .map_err(repo_err)?;
        insert_events(&txn, &events).await.map_err(repo_err)?;
        txn.commit().await.map_err(repo_err)?;
        self.outbox_queued.notify_one();
        Ok(())
    }

    async fn find_user_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        let model = users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(model.map(to_user))
    }

    async fn find_user_by_id(&self, id: UserId) -> Result<Option<User>, RepoError> {
        let model = users::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(model.map(to_user))
    }

    async fn change_password(
        &self,
        id: UserId,
        hash: &PasswordHash,
        keep: Option<SessionId>,
        reason: RevokeReason,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<Vec<SessionId>, RepoError> {
        let txn = self.db.begin().await.map_err(repo_err)?;
        set_password_hash(&txn, id, hash, now)
            .await
            .map_err(repo_err)?;
        let scope = keep.map_or(RevokeScope::All, RevokeScope::AllExcept);
        let revoked = revoke_in(&txn, id, scope, reason, now)
            .await
            .map_err(repo_err)?;
        insert_events(&txn, std::slice::from_ref(&event))
            .await
            .map_err(repo_err)?;
        txn.commit().await.map_err(repo_err)?;
        Ok(revoked)
    }

    async fn update_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), RepoError> {
        set_password_hash(&self.db, id, hash, now)
            .await
            .map_err(repo_err)
    }
}

async fn set_password_hash<C: ConnectionTrait>(
    db: &C,
    id: UserId,
    hash: &PasswordHash,
    now: Timestamp,
) -> Result<(), DbErr> {
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash.as_str()))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

fn one_time_token_row(token: &OneTimeToken) -> one_time_tokens::ActiveModel {
    one_time_tokens::ActiveModel {
        id: Set(token.id.as_uuid()),
        user_id: Set(token.user_id.as_uuid()),
        purpose: Set(token.purpose.as_str().to_owned()),
        token_hash: Set(token.token_hash.as_str().to_owned()),
        created_at: Set(token.created_at),
        expires_at: Set(token.expires_at),
        consumed_at: Set(token.consumed_at),
    }
}

impl OneTimeTokenRepository for SeaStore {
    async fn find_one_time_token(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
    ) -> Result<Option<OneTimeToken>, RepoError> {
        let model = one_time_tokens::Entity::find()
            .filter(one_time_tokens::Column::TokenHash.eq(hash.as_str()))
            .filter(one_time_tokens::Column::Purpose.eq(purpose.as_str()))
            .one(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(model.and_then(to_one_time_token))
    }

    async fn complete_email_verification(
        &self,
        token: TokenId,
        user: UserId,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<bool, RepoError> {
        let txn = self.db.begin().await.map_err(repo_err)?;
        // Compare-and-set: only the first use of the token changes a row.
        let consumed = one_time_tokens::Entity::update_many()
            .col_expr(one_time_tokens::Column::ConsumedAt, Expr::value(now))
            .filter(one_time_tokens::Column::Id.eq(token.as_uuid()))
            .filter(one_time_tokens::Column::ConsumedAt.is_null())
            .exec(&txn)
            .await
            .map_err(repo_err)?;
        if consumed.rows_affected != 1 {
            txn.rollback().await.map_err(repo_err)?;
            return Ok(false);
        }
        users::Entity::update_many()
            .col_expr(users::Column::EmailVerified, Expr::value(true))
            .col_expr(users::Column::UpdatedAt, Expr::value(now))
            .filter(users::Column::Id.eq(user.as_uuid()))
            .exec(&txn)
            .await
            .map_err(repo_err)?;
        insert_events(&txn, std::slice::from_ref(&event))
            .await
            .map_err(repo_err)?;
        txn.commit().await.map_err(repo_err)?;
        Ok(true)
    }
}

impl SessionRepository for SeaStore {
    async fn create_session(&self, new: NewSession, event: AuditEvent) -> Result<(), RepoError> {
        let NewSession {
            session,
            refresh_token_hash,
        } = new;
        let txn = self.db.begin().await.map_err(repo_err)?;
        let row = sessions::ActiveModel {
            id: Set(session.id.as_uuid()),
            user_id: Set(session.user_id.as_uuid()),
            created_at: Set(session.created_at),
            last_used_at: Set(session.last_used_at),
            expires_at: Set(session.expires_at),
            remember_me: Set(session.remember_me),
            ip: Set(session.ip.map(|ip| ip.to_string())),
            user_agent: Set(session.user_agent.as_deref().map(truncate_user_agent)),
            revoked_at: Set(None),
            revoked_reason: Set(None),
        };
        sessions::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(repo_err)?;
        let token = refresh_tokens::ActiveModel {
            id: Set(TokenId::generate().as_uuid()),
            session_id: Set(session.id.as_uuid()),
            token_hash: Set(refresh_token_hash.as_str().to_owned()),
            created_at: Set(session.created_at),
            used_at: Set(None),
            replaced_by: Set(None),
        };
        refresh_tokens::Entity::insert(token)
            .exec_without_returning(&txn)
            .await
            .map_err(repo_err)?;
        insert_events(&txn, std::slice::from_ref(&event))
            .await
            .map_err(repo_err)?;
        txn.commit().await.map_err(repo_err)?;
        Ok(())
    }

    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, RepoError> {
        let model = sessions::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(model.map(to_session))
    }
    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, RepoError> {
        let token = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(hash.as_str()))
            .one(&self.db)
            .await
            .map_err(repo_err)?;
        let Some(token) = token else { return Ok(None) };
        let session = sessions::Entity::find_by_id(token.session_id)
            .one(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(session.map(|s| RefreshTokenRecord {
            session: to_session(s),
            used_at: token.used_at,
        }))
    }

    async fn rotate_refresh_token(
        &self,
        session: SessionId,
        presented: &TokenHash,
        next: &TokenHash,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<Rotation, RepoError> {
        let next_id = TokenId::generate().as_uuid();
        let txn = self.db.begin().await.map_err(repo_err)?;
        // The session must still be live, and its account active, in this
        // same transaction: writing the session row first also takes its
        // lock (and SQLite's write lock), so a concurrent revocation or
        // suspension either lands before (and this rotation fails) or after
        // (and revokes the successor with the session).
        let active_users = sea_orm::sea_query::Query::select()
            .column(users::Column::Id)
            .from(users::Entity)
            .and_where(users::Column::Status.eq(AccountStatus::Active.as_str()))
            .to_owned();
        let live = sessions::Entity::update_many()
            .col_expr(sessions::Column::LastUsedAt, Expr::value(now))
            .filter(sessions::Column::Id.eq(session.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(now))
            .filter(sessions::Column::UserId.in_subquery(active_users))
            .exec(&txn)
            .await
            .map_err(repo_err)?;
        if live.rows_affected != 1 {
            txn.rollback().await.map_err(repo_err)?;
            return Ok(Rotation::SessionEnded);
        }
        // The compare-and-set: only a still-current token changes a row.
        let rotated = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
            .col_expr(refresh_tokens::Column::ReplacedBy, Expr::value(next_id))
            .filter(refresh_tokens::Column::TokenHash.eq(presented.as_str()))
            .filter(refresh_tokens::Column::SessionId.eq(session.as_uuid()))
            .filter(refresh_tokens::Column::UsedAt.is_null())
            .exec(&txn)
            .await
            .map_err(repo_err)?;
        if rotated.rows_affected != 1 {
            txn.rollback().await.map_err(repo_err)?;
            return Ok(Rotation::NotCurrent);
        }
        let token = refresh_tokens::ActiveModel {
            id: Set(next_id),
            session_id: Set(session.as_uuid()),
            token_hash: Set(next.as_str().to_owned()),
            created_at: Set(now),
            used_at: Set(None),
            replaced_by: Set(None),
        };
        refresh_tokens::Entity::insert(token)
            .exec_without_returning(&txn)
            .await
            .map_err(repo_err)?;
        insert_events(&txn, std::slice::from_ref(&event))
            .await
            .map_err(repo_err)?;
        txn.commit().await.map_err(repo_err)?;
        Ok(Rotation::Rotated)
    }

    async fn revoke_sessions(
        &self,
        user: UserId,
        scope: RevokeScope,
        reason: RevokeReason,
        now: Timestamp,
        event: AuditEvent,
    ) -> Result<Vec<SessionId>, RepoError> {
        let txn = self.db.begin().await.map_err(repo_err)?;
        let revoked = revoke_in(&txn, user, scope, reason, now)
            .await
            .map_err(repo_err)?;
        if !revoked.is_empty() {
            insert_events(&txn, std::slice::from_ref(&event))
                .await
                .map_err(repo_err)?;
        }
        txn.commit().await.map_err(repo_err)?;
        Ok(revoked)
    }

    async fn list_active_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, RepoError> {
        let rows = sessions::Entity::find()
            .filter(sessions::Column::UserId.eq(user.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(now))
            .order_by_desc(sessions::Column::CreatedAt)
            .order_by_desc(sessions::Column::Id)
            .all(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(rows.into_iter().map(to_session).collect())
    }

    async fn revoked_since(&self, since: Timestamp) -> Result<Vec<SessionId>, RepoError> {
        let rows = sessions::Entity::find()
            .filter(sessions::Column::RevokedAt.gte(since))
            .all(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(rows
            .into_iter()
            .map(|s| SessionId::from_uuid(s.id))
            .collect())
    }
}

/// Revokes the user's active sessions in `scope`, one conditional UPDATE per
/// session so concurrent revocations report each session once.
async fn revoke_in<C: ConnectionTrait>(
    db: &C,
    user: UserId,
    scope: RevokeScope,
    reason: RevokeReason,
    now: Timestamp,
) -> Result<Vec<SessionId>, DbErr> {
    // Write first, then read back what this statement marked: a transaction
    // that reads before it writes can fail to upgrade its lock on SQLite.
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
impl AuditLog for SeaStore {
    async fn record(&self, event: AuditEvent) -> Result<(), RepoError> {
        audit_events::Entity::insert(audit_row(&event))
            .exec_without_returning(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(())
    }
}

impl OutboxRepository for SeaStore {
    async fn claim_due_messages(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, RepoError> {
        let lease_free = || {
            sea_orm::Condition::any()
                .add(outbox::Column::LockedUntil.is_null())
                .add(outbox::Column::LockedUntil.lt(now))
        };
        let due = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .filter(lease_free())
            .order_by_asc(outbox::Column::NextAttemptAt)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(repo_err)?;
        let mut claimed = Vec::with_capacity(due.len());
        for model in due {
            // Compare-and-set per row: of several workers, one wins each message.
            let won = outbox::Entity::update_many()
                .col_expr(outbox::Column::LockedUntil, Expr::value(lease_until))
                .filter(outbox::Column::Id.eq(model.id))
                .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
                .filter(lease_free())
                .exec(&self.db)
                .await
                .map_err(repo_err)?;
            if won.rows_affected == 1 {
                match to_outbox_message(model) {
                    Ok(message) => claimed.push(message),
                    Err(err) => tracing::error!(error = %err, "skipping unreadable outbox message"),
                }
            }
        }
        Ok(claimed)
    }

    async fn mark_sent(&self, message: &OutboxMessage, now: Timestamp) -> Result<(), RepoError> {
        let id = message.id;
        let metadata = serde_json::to_string(&EmailPayload {
            to: message.email.to.as_str().to_owned(),
            subject: message.email.subject.clone(),
            text: String::new(),
            html: String::new(),
        })
        .map_err(|e| RepoError::Other(format!("outbox payload: {e}")))?;
        outbox::Entity::update_many()
            .col_expr(outbox::Column::Payload, Expr::value(metadata))
            .col_expr(
                outbox::Column::Status,
                Expr::value(OutboxStatus::Sent.as_str()),
            )
            .col_expr(outbox::Column::SentAt, Expr::value(now))
            .col_expr(
                outbox::Column::LockedUntil,
                Expr::value(Option::<Timestamp>::None),
            )
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .filter(outbox::Column::Id.eq(id.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(())
    }

    async fn release(&self, ids: &[MessageId]) -> Result<(), RepoError> {
        if ids.is_empty() {
            return Ok(());
        }
        outbox::Entity::update_many()
            .col_expr(
                outbox::Column::LockedUntil,
                Expr::value(Option::<Timestamp>::None),
            )
            .filter(outbox::Column::Id.is_in(ids.iter().map(MessageId::as_uuid)))
            .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
            .exec(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(())
    }

    async fn purge_finished(&self, before: Timestamp) -> Result<u64, RepoError> {
        let sent = sea_orm::Condition::all()
            .add(outbox::Column::Status.eq(OutboxStatus::Sent.as_str()))
            .add(outbox::Column::SentAt.lt(before));
        let failed = sea_orm::Condition::all()
            .add(outbox::Column::Status.eq(OutboxStatus::Failed.as_str()))
            .add(outbox::Column::CreatedAt.lt(before));
        let deleted = outbox::Entity::delete_many()
            .filter(sea_orm::Condition::any().add(sent).add(failed))
            .exec(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(deleted.rows_affected)
    }

    async fn schedule_retry(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<(), RepoError> {
        self.record_failed_attempt(
            id,
            OutboxStatus::Pending,
            attempts,
            Some(next_attempt_at),
            error,
        )
        .await
    }

    async fn mark_failed(
        &self,
        id: MessageId,
        attempts: u32,
        _now: Timestamp,
        error: &str,
    ) -> Result<(), RepoError> {
        self.record_failed_attempt(id, OutboxStatus::Failed, attempts, None, error)
            .await
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>, RepoError> {
        let next = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .one(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(next.map(|m| {
            m.locked_until.map_or(m.next_attempt_at, |lease| {
                Ord::max(lease, m.next_attempt_at)
            })
        }))
    }

    async fn pending_count(&self) -> Result<u64, RepoError> {
        outbox::Entity::find()
            .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
            .count(&self.db)
            .await
            .map_err(repo_err)
    }
}

impl SeaStore {
    /// Releases the lease after a failed delivery: back to `pending` with a
    /// new due time, or `failed` for good.
    async fn record_failed_attempt(
        &self,
        id: MessageId,
        status: OutboxStatus,
        attempts: u32,
        next_attempt_at: Option<Timestamp>,
        error: &str,
    ) -> Result<(), RepoError> {
        let mut update = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                outbox::Column::Attempts,
                Expr::value(i32::try_from(attempts).unwrap_or(i32::MAX)),
            )
            .col_expr(
                outbox::Column::LockedUntil,
                Expr::value(Option::<Timestamp>::None),
            )
            .col_expr(
                outbox::Column::LastError,
                Expr::value(truncate_error(error)),
            );
        if let Some(at) = next_attempt_at {
            update = update.col_expr(outbox::Column::NextAttemptAt, Expr::value(at));
        }
        update
            .filter(outbox::Column::Id.eq(id.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(repo_err)?;
        Ok(())
    }
}

fn truncate_error(error: &str) -> String {
    error.chars().take(1000).collect()
}

impl HealthProbe for SeaStore {
    async fn ping(&self) -> Result<(), RepoError> {
        self.db.ping().await.map_err(repo_err)
    }
}
