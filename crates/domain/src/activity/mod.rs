//! The `activity` context: the audit trail, the transactional outbox, and
//! [`Effects`] — what a change writes besides itself, in its own transaction.

mod audit;
mod outbox;
mod ports;

pub use audit::{AuditEvent, AuditEventType, AuditPage, RequestContext};
pub use outbox::{
    AccountRequest, AccountRequestKind, DomainEvent, EmailMessage, OutboxMessage, OutboxPayload,
    OutboxStatus, SmsMessage,
};
pub use ports::{
    AccountRequests, AuditFilter, AuditLog, DeliveryError, EventFeed, EventPublisher, MailError,
    Mailer, OutboxBacklog, OutboxRepository, SmsSender,
};

/// The side effects of a state change: its audit events and the messages it
/// queues. Every repository write takes them and stores them in the
/// transaction of the change, so a change is never recorded or announced
/// without having happened, nor the reverse.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Effects {
    /// Audit events.
    pub events: Vec<AuditEvent>,
    /// Messages for the outbox.
    pub messages: Vec<OutboxMessage>,
}

impl Effects {
    /// Effects of one audit event.
    pub fn event(event: AuditEvent) -> Self {
        Self {
            events: vec![event],
            messages: Vec::new(),
        }
    }

    /// Adds an audit event.
    pub fn and_event(mut self, event: AuditEvent) -> Self {
        self.events.push(event);
        self
    }

    /// Adds a message to queue.
    pub fn and_message(mut self, message: OutboxMessage) -> Self {
        self.messages.push(message);
        self
    }

    /// Whether storing these queues a message (the relay is then woken).
    #[must_use]
    pub fn queues_messages(&self) -> bool {
        !self.messages.is_empty()
    }
}
