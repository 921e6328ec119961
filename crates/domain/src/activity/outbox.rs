//! The transactional outbox: messages written in the same transaction as the
//! state change that caused them, delivered later by a relay through the
//! port their kind names. Email is its first kind; SMS and domain events
//! join it as further [`OutboxPayload`] variants.

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

/// What an outbox message carries; its variant is the row's `kind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboxPayload {
    /// An email, delivered by the `Mailer` port.
    Email(EmailMessage),
}

impl OutboxPayload {
    /// The stored `kind`, which names the port that delivers it.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
        }
    }
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

/// A message in the outbox.
#[derive(Clone, Debug)]
pub struct OutboxMessage {
    /// Message id.
    pub id: MessageId,
    /// What to deliver.
    pub payload: OutboxPayload,
    /// When it was queued.
    pub created_at: Timestamp,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// Not to be attempted before this instant.
    pub next_attempt_at: Timestamp,
}

impl OutboxMessage {
    /// An email due at once.
    #[must_use]
    pub fn email(email: EmailMessage, now: Timestamp) -> Self {
        Self::new(OutboxPayload::Email(email), now)
    }

    /// A message due at once.
    #[must_use]
    pub fn new(payload: OutboxPayload, now: Timestamp) -> Self {
        Self {
            id: MessageId::generate(),
            payload,
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
        }
    }
}
