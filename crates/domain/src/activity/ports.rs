//! What the `activity` context needs: the audit log, the outbox, and the
//! ports that deliver outbox messages.

use std::future::Future;

use super::SmsMessage;
use crate::{
    AccountRequest, AuditEvent, EmailMessage, EventId, MessageId, OrganizationId, OutboxMessage,
    RepoError, Timestamp, UserId,
};

/// The audit trail. Most events are written with the change they record
/// (see [`crate::Effects`]); this records those that change nothing else, such
/// as a failed login.
pub trait AuditLog: Send + Sync + 'static {
    /// Appends an event.
    fn record(&self, event: AuditEvent) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// The user's events older than `before` (all when `None`), newest
    /// first, at most `limit`.
    fn list_for_user(
        &self,
        user: UserId,
        before: Option<EventId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, RepoError>> + Send;

    /// Every event matching `filter` (those without a user included when
    /// no user is asked for) older than `before`, newest first, at most
    /// `limit`.
    fn list(
        &self,
        filter: &AuditFilter,
        before: Option<EventId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, RepoError>> + Send;

    /// The newest events filed under `org`, newest first, at most `limit`.
    fn list_for_organization(
        &self,
        org: OrganizationId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, RepoError>> + Send;
}

/// The domain events kept for the pull feed (embedded mode: no broker).
pub trait EventFeed: Send + Sync + 'static {
    /// Events queued after `after` (all when `None`), oldest first, at
    /// most `limit`, with their ids and times.
    fn events_after(
        &self,
        after: Option<MessageId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<(MessageId, Timestamp, crate::DomainEvent)>, RepoError>> + Send;

    /// How many events wait to be published (with a broker; without one,
    /// every kept event is "pending").
    fn pending_events(&self) -> impl Future<Output = Result<u64, RepoError>> + Send;

    /// Leases the oldest unpublished events, in id order, until
    /// `lease_until`, stopping at the first one another publisher holds: of
    /// several instances, one publishes at a time, so events leave in
    /// order. Marking them is the outbox's (`mark_sent`, `schedule_retry`,
    /// `mark_failed`, `release`).
    fn claim_events(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, RepoError>> + Send;
}

/// Publishes domain events to a broker; `Ok` only after the broker's ack.
pub trait EventPublisher: Send + Sync + 'static {
    /// Publishes one CloudEvents envelope (JSON) of type `kind`, deduplicated
    /// by the broker on `id`.
    fn publish(
        &self,
        id: MessageId,
        kind: &str,
        envelope: &str,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// Which audit events an administrator reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this user's.
    pub user: Option<UserId>,
    /// Only this type.
    pub kind: Option<super::AuditEventType>,
}

/// The delivery side of the transactional outbox. Messages are written by
/// the other repositories, in the transaction of the change that caused them.
pub trait OutboxRepository: Send + Sync + 'static {
    /// Queues one message on its own (a request handled after the
    /// response; most messages are queued with a change, as effects).
    fn queue(&self, message: OutboxMessage) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Leases up to `limit` due messages until `lease_until`, so that no other
    /// worker (on any instance) delivers them meanwhile.
    fn claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, RepoError>> + Send;

    /// Marks a message delivered and clears its body: a sent message keeps
    /// its metadata (kind, recipient, subject, times, attempts) but no longer
    /// the content, which may hold a one-time token.
    fn mark_sent(
        &self,
        message: &OutboxMessage,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Records a failed attempt and when to try again.
    fn schedule_retry(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Gives up on a message after its last attempt.
    fn mark_failed(
        &self,
        id: MessageId,
        attempts: u32,
        error: &str,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Gives back the lease of messages claimed but not attempted (the
    /// worker is stopping), so another worker may deliver them at once.
    fn release(&self, ids: &[MessageId]) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Deletes messages sent, or given up on, before `before`; returns how
    /// many.
    fn purge_finished(
        &self,
        before: Timestamp,
    ) -> impl Future<Output = Result<u64, RepoError>> + Send;

    /// When the earliest pending message falls due, if any.
    fn next_due_at(&self) -> impl Future<Output = Result<Option<Timestamp>, RepoError>> + Send;

    /// How many messages wait for delivery, and how many were given up on.
    fn backlog(&self) -> impl Future<Output = Result<OutboxBacklog, RepoError>> + Send;
}

/// The outbox's backlog, for `/health` and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// Waiting for (another) delivery attempt.
    pub pending: u64,
    /// Given up on after the last attempt.
    pub failed: u64,
}

/// Delivers email. Used only by the outbox relay, never by a use case.
pub trait Mailer: Send + Sync + 'static {
    /// Sends one message.
    fn send(&self, message: &EmailMessage) -> impl Future<Output = Result<(), MailError>> + Send;
}

/// Sends text messages. Used only by the outbox relay.
pub trait SmsSender: Send + Sync + 'static {
    /// Sends one message.
    fn send(&self, message: &SmsMessage) -> impl Future<Output = Result<(), MailError>> + Send;
}

impl<T: SmsSender + ?Sized> SmsSender for std::sync::Arc<T> {
    fn send(&self, message: &SmsMessage) -> impl Future<Output = Result<(), MailError>> + Send {
        (**self).send(message)
    }
}

/// Delivery failed; the outbox will retry.
#[derive(Debug, thiserror::Error)]
#[error("mail delivery failed: {0}")]
pub struct MailError(pub String);

/// Handles the account requests queued in the outbox (the `accounts`
/// context implements it; the relay calls it after the response).
pub trait AccountRequests: Send + Sync + 'static {
    /// Handles one request; an error is retried like a failed delivery.
    fn handle(
        &self,
        request: &AccountRequest,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

impl<T: AccountRequests + ?Sized> AccountRequests for std::sync::Arc<T> {
    fn handle(
        &self,
        request: &AccountRequest,
    ) -> impl Future<Output = Result<(), DeliveryError>> + Send {
        (**self).handle(request)
    }
}

/// A queued message could not be delivered or handled; the outbox retries.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(pub String);

impl From<MailError> for DeliveryError {
    fn from(err: MailError) -> Self {
        Self(err.to_string())
    }
}

impl From<RepoError> for DeliveryError {
    fn from(err: RepoError) -> Self {
        Self(err.to_string())
    }
}
