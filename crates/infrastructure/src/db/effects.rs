//! Writing [`Effects`] — audit events and outbox messages — inside the
//! transaction of the change they belong to.

use auth_domain::{AuditEvent, Effects};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, Iterable};

use super::entities::audit_events;
use super::{DbError, outbox, truncate};

/// Stores every event and message of `effects` on `db` (a transaction).
pub(super) async fn write<C: ConnectionTrait>(db: &C, effects: &Effects) -> Result<(), DbError> {
    if !effects.events.is_empty() {
        audit_events::Entity::insert_many(effects.events.iter().map(audit_row))
            .exec_without_returning(db)
            .await?;
    }
    for message in &effects.messages {
        outbox::insert(db, message).await?;
    }
    Ok(())
}

/// The structured log line of a recorded audit event, with IP and user
/// agent: written once the event is stored, so the log never claims what
/// the database does not hold. Never a secret: events carry none.
pub(super) fn log(event: &AuditEvent) {
    let details: serde_json::Map<String, serde_json::Value> = event
        .details
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    tracing::info!(
        target: "audit",
        event = event.kind.as_str(),
        event_id = %event.id,
        user_id = ?event.user_id.map(|id| id.to_string()),
        organization_id = ?event.organization_id.map(|id| id.to_string()),
        ip = ?event.ip,
        user_agent = ?event.user_agent,
        details = %serde_json::Value::Object(details),
        "audit event"
    );
}

/// The stored form of an audit event; details are a JSON object of strings.
pub(super) fn audit_row(event: &AuditEvent) -> audit_events::ActiveModel {
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
        user_agent: Set(event.user_agent.as_deref().map(|ua| truncate(ua, 512))),
        details: Set(serde_json::Value::Object(details).to_string()),
        at: Set(event.at),
        organization_id: Set(event.organization_id.map(|id| id.as_uuid())),
    }
}

/// The columns of an audit row, in the order of [`audit_values`], for
/// hand-written statements.
pub(super) const AUDIT_COLUMNS: &str =
    "id, user_id, event_type, ip, user_agent, details, at, organization_id";

/// The values of an audit row in the order of [`AUDIT_COLUMNS`].
pub(super) fn audit_values(event: &AuditEvent) -> Vec<sea_orm::Value> {
    let row = audit_row(event);
    audit_events::Column::iter()
        .filter_map(|column| row.get(column).into_value())
        .collect()
}
