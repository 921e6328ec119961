//! The transactional outbox: messages written in the same transaction as the
//! state change that caused them, delivered later by a relay through the
//! port their kind names. Email is its first kind; SMS and domain events
//! join it as further [`OutboxPayload`] variants.

use std::net::IpAddr;

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

/// A request about an email address whose handling must not depend, before
/// the response, on whether the address has an account: queued as is, and
/// handled after the response by the `AccountRequests` port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRequest {
    /// What is asked.
    pub kind: AccountRequestKind,
    /// The normalized address it is asked for.
    pub email: Email,
    /// Who asked (for the audit trail).
    pub ip: Option<IpAddr>,
    /// Who asked (for the audit trail).
    pub user_agent: Option<String>,
}

/// The requests handled after the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountRequestKind {
    /// Mail a password-reset link, if the address has an account.
    ResetPassword,
    /// Mail a new verification link, if the address has an unverified
    /// account.
    ResendVerification,
}

impl AccountRequestKind {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ResetPassword => "reset_password",
            Self::ResendVerification => "resend_verification",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn from_stored(name: &str) -> Option<Self> {
        match name {
            "reset_password" => Some(Self::ResetPassword),
            "resend_verification" => Some(Self::ResendVerification),
            _ => None,
        }
    }
}

/// What an outbox message carries; its variant is the row's `kind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboxPayload {
    /// An email, delivered by the `Mailer` port.
    Email(EmailMessage),
    /// A request about an address, handled by the `AccountRequests` port.
    AccountRequest(AccountRequest),
    /// A text message, delivered by the `SmsSender` port.
    Sms(SmsMessage),
    /// A domain event (EVENTS.md), for other services: kept for the pull
    /// feed, or published to a broker.
    Event(DomainEvent),
}

/// A domain event as the outbox keeps it: the CloudEvents attributes of
/// EVENTS.md and its data, a JSON object as text. The row id is the event
/// id. Never a secret, and an IP address only in
/// `auth.suspicious_activity`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainEvent {
    /// `type`, e.g. `user.created`.
    pub kind: String,
    /// `subject`: the aggregate's id.
    pub subject: String,
    /// `partitionkey`: the organization's or the user's id.
    pub partition_key: String,
    /// `orgid`, if any.
    pub organization_id: Option<String>,
    /// `actorid`: the user or service key that acted, if any.
    pub actor_id: Option<String>,
    /// `data`: a JSON object.
    pub data: String,
}

/// A text message ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// E.164 number.
    pub to: String,
    /// The text (it carries a code: never logged).
    pub body: String,
}

impl std::fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsMessage")
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

impl OutboxPayload {
    /// The stored `kind`, which names the port that delivers it.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
            Self::AccountRequest(_) => "account_request",
            Self::Sms(_) => "sms",
            Self::Event(_) => "event",
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
