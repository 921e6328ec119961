//! The `outbox` aggregate: rows of any kind, claimed by compare-and-set
//! leases so that several instances never deliver one message twice.

use auth_domain::activity::{OutboxBacklog, OutboxRepository, SmsMessage};
use auth_domain::{
    AccountRequest, AccountRequestKind, DomainEvent, Email, EmailMessage, MessageId, OutboxMessage,
    OutboxPayload, OutboxStatus, RepoError, Timestamp,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::entities::outbox;
use super::{Database, DbError, guarded, truncate};

/// The outbox on the pool.
#[derive(Clone, Debug)]
pub struct SeaOutbox(pub(super) Database);

/// The stored form of an email (kind `email`).
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

/// The stored form of an account request (kind `account_request`).
#[derive(Serialize, Deserialize)]
struct AccountRequestPayload {
    request: String,
    email: String,
    #[serde(default)]
    ip: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
}

/// The stored form of a domain event (kind `event`).
#[derive(Serialize, Deserialize)]
struct EventPayload {
    #[serde(rename = "type")]
    kind: String,
    subject: String,
    partitionkey: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    orgid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actorid: Option<String>,
    data: serde_json::Value,
}

/// The stored form of a text message.
#[derive(Serialize, Deserialize)]
struct SmsPayload {
    to: String,
    body: String,
}

fn encode(payload: &OutboxPayload) -> Result<String, DbError> {
    let json = match payload {
        OutboxPayload::Email(email) => serde_json::to_string(&EmailPayload {
            to: email.to.as_str().to_owned(),
            subject: email.subject.clone(),
            text: email.text_body.clone(),
            html: email.html_body.clone(),
        }),
        OutboxPayload::AccountRequest(request) => serde_json::to_string(&AccountRequestPayload {
            request: request.kind.as_str().to_owned(),
            email: request.email.as_str().to_owned(),
            ip: request.ip.map(|ip| ip.to_string()),
            user_agent: request.user_agent.clone(),
        }),
        OutboxPayload::Sms(sms) => serde_json::to_string(&SmsPayload {
            to: sms.to.clone(),
            body: sms.body.clone(),
        }),
        OutboxPayload::Event(event) => serde_json::from_str(&event.data).and_then(|data| {
            serde_json::to_string(&EventPayload {
                kind: event.kind.clone(),
                subject: event.subject.clone(),
                partitionkey: event.partition_key.clone(),
                orgid: event.organization_id.clone(),
                actorid: event.actor_id.clone(),
                data,
            })
        }),
    };
    json.map_err(|e| sea_orm::DbErr::Custom(format!("outbox payload: {e}")).into())
}

/// What a handled message keeps: its metadata, not its content (a mail's
/// body may hold a one-time token; a request's client details are dropped).
fn metadata_of(payload: &OutboxPayload) -> Result<String, DbError> {
    match payload {
        OutboxPayload::Email(email) => encode(&OutboxPayload::Email(EmailMessage {
            text_body: String::new(),
            html_body: String::new(),
            ..email.clone()
        })),
        OutboxPayload::AccountRequest(request) => {
            encode(&OutboxPayload::AccountRequest(AccountRequest {
                ip: None,
                user_agent: None,
                ..request.clone()
            }))
        }
        OutboxPayload::Sms(sms) => encode(&OutboxPayload::Sms(SmsMessage {
            to: sms.to.clone(),
            body: String::new(),
        })),
        // An event is its own record: it holds no secret by construction.
        OutboxPayload::Event(_) => encode(payload),
    }
}

fn decode_event(payload: &str) -> Result<DomainEvent, serde_json::Error> {
    let stored: EventPayload = serde_json::from_str(payload)?;
    Ok(DomainEvent {
        kind: stored.kind,
        subject: stored.subject,
        partition_key: stored.partitionkey,
        organization_id: stored.orgid,
        actor_id: stored.actorid,
        data: stored.data.to_string(),
    })
}

fn decode(model: outbox::Model) -> Result<OutboxMessage, String> {
    let payload = match model.kind.as_str() {
        "email" => {
            let email: EmailPayload = serde_json::from_str(&model.payload).map_err(|e| {
                format!("outbox message {} has an unreadable payload: {e}", model.id)
            })?;
            OutboxPayload::Email(EmailMessage {
                to: Email::from_trusted(email.to),
                subject: email.subject,
                text_body: email.text,
                html_body: email.html,
            })
        }
        "account_request" => {
            let stored: AccountRequestPayload =
                serde_json::from_str(&model.payload).map_err(|e| {
                    format!("outbox message {} has an unreadable payload: {e}", model.id)
                })?;
            OutboxPayload::AccountRequest(AccountRequest {
                kind: AccountRequestKind::from_stored(&stored.request)
                    .ok_or_else(|| format!("outbox message {} has an unknown request", model.id))?,
                email: Email::from_trusted(stored.email),
                ip: stored.ip.and_then(|ip| ip.parse().ok()),
                user_agent: stored.user_agent,
            })
        }
        "sms" => {
            let stored: SmsPayload = serde_json::from_str(&model.payload).map_err(|e| {
                format!("outbox message {} has an unreadable payload: {e}", model.id)
            })?;
            OutboxPayload::Sms(SmsMessage {
                to: stored.to,
                body: stored.body,
            })
        }
        "event" => {
            OutboxPayload::Event(decode_event(&model.payload).map_err(|e| {
                format!("outbox message {} has an unreadable payload: {e}", model.id)
            })?)
        }
        other => {
            return Err(format!(
                "outbox message {} has an unknown kind {other:?}",
                model.id
            ));
        }
    };
    Ok(OutboxMessage {
        id: MessageId::from_uuid(model.id),
        payload,
        created_at: model.created_at,
        attempts: u32::try_from(model.attempts).unwrap_or(0),
        next_attempt_at: model.next_attempt_at,
    })
}

/// Queues a message (inside the caller's transaction).
pub(super) async fn insert<C: ConnectionTrait>(
    db: &C,
    message: &OutboxMessage,
) -> Result<(), DbError> {
    let row = outbox::ActiveModel {
        id: Set(message.id.as_uuid()),
        kind: Set(message.payload.kind().to_owned()),
        payload: Set(encode(&message.payload)?),
        status: Set(OutboxStatus::Pending.as_str().to_owned()),
        attempts: Set(i32::try_from(message.attempts).unwrap_or(i32::MAX)),
        next_attempt_at: Set(message.next_attempt_at),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(message.created_at),
        sent_at: Set(None),
    };
    outbox::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

fn lease_free(now: Timestamp) -> Condition {
    Condition::any()
        .add(outbox::Column::LockedUntil.is_null())
        .add(outbox::Column::LockedUntil.lt(now))
}

fn no_lease() -> Expr {
    Expr::value(Option::<Timestamp>::None)
}

impl SeaOutbox {
    async fn claim(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, DbError> {
        let due = outbox::Entity::find()
            .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
            // Events are not delivered by this relay: the embedded mode
            // keeps them for the pull feed.
            .filter(outbox::Column::Kind.ne("event"))
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .filter(lease_free(now))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .limit(u64::from(limit))
            .all(&self.0.conn)
            .await?;
        let mut claimed = Vec::with_capacity(due.len());
        for model in due {
            // Compare-and-set per row: of several workers, one wins each message.
            let won = outbox::Entity::update_many()
                .col_expr(outbox::Column::LockedUntil, Expr::value(lease_until))
                .filter(outbox::Column::Id.eq(model.id))
                .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
                .filter(lease_free(now))
                .exec(&self.0.conn)
                .await?;
            if won.rows_affected == 1 {
                match decode(model) {
                    Ok(message) => claimed.push(message),
                    Err(err) => {
                        tracing::error!(error = %err, "skipping an unreadable outbox message")
                    }
                }
            }
        }
        Ok(claimed)
    }

    /// Releases the lease after a failed attempt: back to `pending` with a
    /// new due time, or `failed` for good.
    async fn record_failed_attempt(
        &self,
        id: MessageId,
        status: OutboxStatus,
        attempts: u32,
        next_attempt_at: Option<Timestamp>,
        error: &str,
    ) -> Result<(), DbError> {
        let mut update = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                outbox::Column::Attempts,
                Expr::value(i32::try_from(attempts).unwrap_or(i32::MAX)),
            )
            .col_expr(outbox::Column::LockedUntil, no_lease())
            .col_expr(
                outbox::Column::LastError,
                Expr::value(truncate(error, 1000)),
            );
        if let Some(at) = next_attempt_at {
            update = update.col_expr(outbox::Column::NextAttemptAt, Expr::value(at));
        }
        update
            .filter(outbox::Column::Id.eq(id.as_uuid()))
            .exec(&self.0.conn)
            .await?;
        Ok(())
    }
}

impl OutboxRepository for SeaOutbox {
    async fn queue(&self, message: OutboxMessage) -> Result<(), RepoError> {
        guarded(insert(&self.0.conn, &message)).await?;
        self.0
            .committed(&auth_domain::Effects::default().and_message(message));
        Ok(())
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, RepoError> {
        guarded(self.claim(now, lease_until, limit)).await
    }

    async fn mark_sent(&self, message: &OutboxMessage, now: Timestamp) -> Result<(), RepoError> {
        guarded(async {
            outbox::Entity::update_many()
                .col_expr(
                    outbox::Column::Payload,
                    Expr::value(metadata_of(&message.payload)?),
                )
                .col_expr(
                    outbox::Column::Status,
                    Expr::value(OutboxStatus::Sent.as_str()),
                )
                .col_expr(outbox::Column::SentAt, Expr::value(now))
                .col_expr(outbox::Column::LockedUntil, no_lease())
                .col_expr(
                    outbox::Column::Attempts,
                    Expr::col(outbox::Column::Attempts).add(1),
                )
                .filter(outbox::Column::Id.eq(message.id.as_uuid()))
                .exec(&self.0.conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn schedule_retry(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> Result<(), RepoError> {
        guarded(self.record_failed_attempt(
            id,
            OutboxStatus::Pending,
            attempts,
            Some(next_attempt_at),
            error,
        ))
        .await
    }

    async fn mark_failed(
        &self,
        id: MessageId,
        attempts: u32,
        error: &str,
    ) -> Result<(), RepoError> {
        guarded(self.record_failed_attempt(id, OutboxStatus::Failed, attempts, None, error)).await
    }

    async fn release(&self, ids: &[MessageId]) -> Result<(), RepoError> {
        if ids.is_empty() {
            return Ok(());
        }
        guarded(async {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::LockedUntil, no_lease())
                .filter(outbox::Column::Id.is_in(ids.iter().map(MessageId::as_uuid)))
                .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
                .exec(&self.0.conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn purge_finished(&self, before: Timestamp) -> Result<u64, RepoError> {
        guarded(async {
            let sent = Condition::all()
                .add(outbox::Column::Status.eq(OutboxStatus::Sent.as_str()))
                .add(outbox::Column::SentAt.lt(before));
            let failed = Condition::all()
                .add(outbox::Column::Status.eq(OutboxStatus::Failed.as_str()))
                .add(outbox::Column::CreatedAt.lt(before));
            // Events kept for the pull feed go after the same retention.
            let kept_event = Condition::all()
                .add(outbox::Column::Kind.eq("event"))
                .add(outbox::Column::CreatedAt.lt(before));
            let deleted = outbox::Entity::delete_many()
                .filter(Condition::any().add(sent).add(failed).add(kept_event))
                .exec(&self.0.conn)
                .await?;
            Ok(deleted.rows_affected)
        })
        .await
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>, RepoError> {
        guarded(async {
            let next = outbox::Entity::find()
                .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
                .filter(outbox::Column::Kind.ne("event"))
                .order_by_asc(outbox::Column::NextAttemptAt)
                .one(&self.0.conn)
                .await?;
            Ok(next.map(|m| {
                m.locked_until.map_or(m.next_attempt_at, |lease| {
                    Ord::max(lease, m.next_attempt_at)
                })
            }))
        })
        .await
    }

    async fn backlog(&self) -> Result<OutboxBacklog, RepoError> {
        guarded(async {
            let count = |status: OutboxStatus| {
                outbox::Entity::find()
                    .filter(outbox::Column::Status.eq(status.as_str()))
                    .filter(outbox::Column::Kind.ne("event"))
                    .count(&self.0.conn)
            };
            Ok(OutboxBacklog {
                pending: count(OutboxStatus::Pending).await?,
                failed: count(OutboxStatus::Failed).await?,
            })
        })
        .await
    }
}

impl auth_domain::activity::EventFeed for SeaOutbox {
    async fn pending_events(&self) -> Result<u64, RepoError> {
        guarded(async {
            Ok(outbox::Entity::find()
                .filter(outbox::Column::Kind.eq("event"))
                .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
                .count(&self.0.conn)
                .await?)
        })
        .await
    }

    async fn claim_events(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, RepoError> {
        guarded(async {
            // The oldest unpublished events, whatever their retry time: an
            // event waiting for its retry holds back every later one.
            let oldest = outbox::Entity::find()
                .filter(outbox::Column::Kind.eq("event"))
                .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
                .order_by_asc(outbox::Column::Id)
                .limit(u64::from(limit))
                .all(&self.0.conn)
                .await?;
            let mut claimed = Vec::with_capacity(oldest.len());
            for model in oldest {
                if model.next_attempt_at > now {
                    break;
                }
                let won = outbox::Entity::update_many()
                    .col_expr(outbox::Column::LockedUntil, Expr::value(lease_until))
                    .filter(outbox::Column::Id.eq(model.id))
                    .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
                    .filter(lease_free(now))
                    .exec(&self.0.conn)
                    .await?;
                if won.rows_affected != 1 {
                    // Another publisher holds it: it publishes these in order.
                    break;
                }
                match decode(model) {
                    Ok(message) => claimed.push(message),
                    Err(err) => {
                        tracing::error!(error = %err, "an unreadable event holds back the feed");
                        break;
                    }
                }
            }
            Ok(claimed)
        })
        .await
    }

    async fn events_after(
        &self,
        after: Option<MessageId>,
        limit: u32,
    ) -> Result<Vec<(MessageId, Timestamp, DomainEvent)>, RepoError> {
        guarded(async {
            let mut query = outbox::Entity::find().filter(outbox::Column::Kind.eq("event"));
            if let Some(after) = after {
                query = query.filter(outbox::Column::Id.gt(after.as_uuid()));
            }
            let rows = query
                .order_by_asc(outbox::Column::Id)
                .limit(u64::from(limit))
                .all(&self.0.conn)
                .await?;
            Ok(rows
                .into_iter()
                .filter_map(|row| match decode_event(&row.payload) {
                    Ok(event) => Some((MessageId::from_uuid(row.id), row.created_at, event)),
                    Err(err) => {
                        tracing::error!(error = %err, id = %row.id, "skipping an unreadable event");
                        None
                    }
                })
                .collect())
        })
        .await
    }
}
