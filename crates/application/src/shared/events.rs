//! Domain events (EVENTS.md), queued in the outbox with the change they
//! report: never an event without its change, never a change without its
//! event.

use auth_domain::{DomainEvent, OrganizationId, OutboxMessage, OutboxPayload, Timestamp, UserId};
use serde_json::Value;

/// An event about a user (partitioned by the user).
pub(crate) fn user_event(
    kind: &str,
    user: UserId,
    actor: Option<String>,
    data: Value,
    now: Timestamp,
) -> OutboxMessage {
    OutboxMessage::new(
        OutboxPayload::Event(DomainEvent {
            kind: kind.to_owned(),
            subject: user.to_string(),
            partition_key: user.to_string(),
            organization_id: None,
            actor_id: actor,
            data: data.to_string(),
        }),
        now,
    )
}

/// An event about an organization (partitioned by the organization).
pub(crate) fn org_event(
    kind: &str,
    org: OrganizationId,
    subject: String,
    actor: Option<String>,
    data: Value,
    now: Timestamp,
) -> OutboxMessage {
    OutboxMessage::new(
        OutboxPayload::Event(DomainEvent {
            kind: kind.to_owned(),
            subject,
            partition_key: org.to_string(),
            organization_id: Some(org.to_string()),
            actor_id: actor,
            data: data.to_string(),
        }),
        now,
    )
}

/// `auth.suspicious_activity` about a client, not an account
/// (`ip_blocked`): partitioned by the address.
pub(crate) fn suspicious_client(kind: &str, ip: std::net::IpAddr, now: Timestamp) -> OutboxMessage {
    OutboxMessage::new(
        OutboxPayload::Event(DomainEvent {
            kind: "auth.suspicious_activity".to_owned(),
            subject: ip.to_string(),
            partition_key: ip.to_string(),
            organization_id: None,
            actor_id: None,
            data: serde_json::json!({ "kind": kind, "ip": ip.to_string() }).to_string(),
        }),
        now,
    )
}

/// `auth.suspicious_activity`: the one event that carries an IP address.
pub(crate) fn suspicious(
    user: UserId,
    kind: &str,
    ip: Option<std::net::IpAddr>,
    now: Timestamp,
) -> OutboxMessage {
    user_event(
        "auth.suspicious_activity",
        user,
        None,
        serde_json::json!({
            "user_id": user.to_string(),
            "kind": kind,
            "ip": ip.map(|ip| ip.to_string()),
        }),
        now,
    )
}
