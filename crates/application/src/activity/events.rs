//! Domain events leaving the outbox: the CloudEvents envelope (EVENTS.md),
//! and the relay that publishes them to a broker in order, one after the
//! broker's ack, retrying with backoff and never dropping one.

use std::time::Duration;

use auth_domain::activity::{EventFeed, EventPublisher, OutboxRepository};
use auth_domain::system::Clock;
use auth_domain::{DomainEvent, MessageId, OutboxMessage, OutboxPayload, Timestamp, after};
use serde_json::{Value, json};

use crate::Failure;

/// The CloudEvents 1.0 structured envelope of an event.
#[must_use]
pub fn envelope(id: MessageId, time: Timestamp, event: &DomainEvent, source: &str) -> Value {
    let mut envelope = json!({
        "specversion": "1.0",
        "id": id.as_uuid().to_string(),
        "source": source,
        "type": event.kind,
        "subject": event.subject,
        "time": time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "datacontenttype": "application/json",
        "partitionkey": event.partition_key,
        "data": serde_json::from_str::<Value>(&event.data).unwrap_or_else(|_| json!({})),
    });
    if let Some(object) = envelope.as_object_mut() {
        if let Some(org) = &event.organization_id {
            object.insert("orgid".into(), org.clone().into());
        }
        if let Some(actor) = &event.actor_id {
            object.insert("actorid".into(), actor.clone().into());
        }
    }
    envelope
}

/// How the event relay retries.
#[derive(Clone, Debug)]
pub struct EventRelayPolicy {
    /// Attempts before an event is marked failed (`events.max_attempts`).
    pub max_attempts: u32,
    /// Events per pass (`events.batch_size`).
    pub batch_size: u32,
    /// The first retry's wait; doubles up to `max_delay` (1 s to 5 min).
    pub base_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// How long a claim holds (longer than a publish can take).
    pub lease: Duration,
}

impl Default for EventRelayPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 20,
            batch_size: 100,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            lease: Duration::from_secs(60),
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventPass {
    /// Published and acknowledged.
    pub published: u32,
    /// To be tried again later (the rest of the batch waits behind it).
    pub retried: u32,
    /// Given up after the last attempt.
    pub failed: u32,
}

/// Publishes the outbox's events through `P`.
#[derive(Debug)]
pub struct EventRelay<O, P, C> {
    outbox: O,
    publisher: P,
    clock: C,
    policy: EventRelayPolicy,
    source: String,
}

impl<O, P, C> EventRelay<O, P, C>
where
    O: OutboxRepository + EventFeed,
    P: EventPublisher,
    C: Clock,
{
    /// A relay over these ports; `source` is the CloudEvents `source`.
    pub fn new(
        outbox: O,
        publisher: P,
        clock: C,
        policy: EventRelayPolicy,
        source: String,
    ) -> Self {
        Self {
            outbox,
            publisher,
            clock,
            policy,
            source,
        }
    }

    /// Publishes what is due, in order. An event that fails stops the pass:
    /// later events (of its key and others) wait behind it, so order holds.
    ///
    /// # Errors
    /// [`Failure`] when the database fails.
    pub async fn publish_due(&self) -> Result<EventPass, Failure> {
        let now = self.clock.now();
        let claimed = self
            .outbox
            .claim_events(now, after(now, self.policy.lease), self.policy.batch_size)
            .await?;
        let mut pass = EventPass::default();
        let mut rest = claimed.iter();
        while let Some(message) = rest.next() {
            let OutboxPayload::Event(event) = &message.payload else {
                continue;
            };
            let body = envelope(message.id, message.created_at, event, &self.source).to_string();
            match self.publisher.publish(message.id, &event.kind, &body).await {
                Ok(()) => {
                    self.outbox.mark_sent(message, self.clock.now()).await?;
                    metrics::counter!("auth_events_published_total", "type" => event.kind.clone(), "outcome" => "published").increment(1);
                    let lag = (self.clock.now() - message.created_at)
                        .to_std()
                        .unwrap_or_default();
                    metrics::histogram!("auth_events_publish_lag_seconds")
                        .record(lag.as_secs_f64());
                    pass.published += 1;
                }
                Err(err) => {
                    let ids: Vec<MessageId> = rest.map(|m| m.id).collect();
                    self.give_back(message, &err.to_string(), &mut pass).await?;
                    self.outbox.release(&ids).await?;
                    break;
                }
            }
        }
        Ok(pass)
    }

    async fn give_back(
        &self,
        message: &OutboxMessage,
        error: &str,
        pass: &mut EventPass,
    ) -> Result<(), Failure> {
        let attempts = message.attempts + 1;
        let OutboxPayload::Event(event) = &message.payload else {
            return Ok(());
        };
        if attempts >= self.policy.max_attempts {
            tracing::error!(event_id = %message.id, kind = %event.kind, attempts, error, "event publishing failed for good");
            metrics::counter!("auth_events_published_total", "type" => event.kind.clone(), "outcome" => "failed").increment(1);
            self.outbox.mark_failed(message.id, attempts, error).await?;
            pass.failed += 1;
        } else {
            let wait = self
                .policy
                .base_delay
                .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(20)))
                .min(self.policy.max_delay);
            tracing::warn!(event_id = %message.id, kind = %event.kind, attempts, error, "event not published; will retry");
            metrics::counter!("auth_events_published_total", "type" => event.kind.clone(), "outcome" => "retried").increment(1);
            self.outbox
                .schedule_retry(message.id, attempts, after(self.clock.now(), wait), error)
                .await?;
            pass.retried += 1;
        }
        Ok(())
    }
}
