//! Outgoing email and the transactional outbox that carries it.

use crate::{Email, MessageId, Timestamp};

/// An email ready to send: rendered, addressed, with a plain-text and an HTML
/// part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailMessage {
    /// Recipient.
    pub to: Email,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text_body: String,
    /// HTML part.
    pub html_body: String,
}

/// Delivery state of an outbox message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// Delivered.
    Sent,
    /// Gave up after the last allowed attempt.
    Failed,
}

impl OutboxStatus {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

/// A message in the outbox: written in the same transaction as the state
/// change that caused it, delivered later by a worker. The outbox is general;
/// email is its first kind of message.
#[derive(Clone, Debug)]
pub struct OutboxMessage {
    /// Message id.
    pub id: MessageId,
    /// What to deliver.
    pub email: EmailMessage,
    /// When it was queued.
    pub created_at: Timestamp,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// Not to be attempted before this instant.
    pub next_attempt_at: Timestamp,
}

impl OutboxMessage {
    /// A message due at once.
    #[must_use]
    pub fn email(email: EmailMessage, now: Timestamp) -> Self {
        Self {
            id: MessageId::generate(),
            email,
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
        }
    }
}
