//! The outbox relay: one general mechanism for every kind of queued
//! message, delivered through the port its kind names, with retries and
//! exponential backoff.

use std::time::Duration;

use auth_domain::activity::{AccountRequests, DeliveryError, Mailer, OutboxRepository, SmsSender};
use auth_domain::system::Clock;
use auth_domain::{OutboxMessage, OutboxPayload, RepoError, Timestamp, after, before};

/// How hard the outbox tries before it gives up on a message.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts before a message is marked `failed`.
    pub max_attempts: u32,
    /// Delay after the first failure; doubled after each further one.
    pub base_delay: Duration,
    /// Upper bound of the delay.
    pub max_delay: Duration,
    /// How long a claimed message is reserved for one worker.
    pub lease: Duration,
    /// Messages claimed per pass.
    pub batch: u32,
    /// How long sent (and given-up) messages are kept before deletion.
    pub retention: Duration,
}

impl Default for RetryPolicy {
    /// 20 attempts with delays 5 s, 10 s, … capped at 15 min: about 4 hours of
    /// outage before a message is given up on.
    fn default() -> Self {
        Self {
            max_attempts: 20,
            base_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(15 * 60),
            lease: Duration::from_secs(60),
            batch: 20,
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The delay before the attempt after `attempts` failed ones.
    #[must_use]
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Delivered.
    pub sent: u32,
    /// Failed, to be retried.
    pub retried: u32,
    /// Failed for the last time.
    pub failed: u32,
}

/// Hands each kind of outbox message to the port that delivers it.
pub trait Delivery: Send + Sync + 'static {
    /// Delivers one payload; an error is retried.
    fn deliver(
        &self,
        payload: &OutboxPayload,
    ) -> impl std::future::Future<Output = Result<(), DeliveryError>> + Send;
}

/// The ports that deliver each kind of outbox message.
#[derive(Clone, Debug)]
pub struct Deliveries<M, A, S> {
    /// Kind `email`.
    pub mailer: M,
    /// Kind `account_request`: handled after the response.
    pub accounts: A,
    /// Kind `sms`.
    pub sms: S,
}

impl<M: Mailer, A: AccountRequests, S: SmsSender> Delivery for Deliveries<M, A, S> {
    async fn deliver(&self, payload: &OutboxPayload) -> Result<(), DeliveryError> {
        match payload {
            OutboxPayload::Email(email) => Ok(self.mailer.send(email).await?),
            OutboxPayload::AccountRequest(request) => self.accounts.handle(request).await,
            OutboxPayload::Sms(sms) => Ok(self.sms.send(sms).await?),
            // Never claimed by this relay: the embedded mode keeps events
            // for the pull feed; a broker gets its own publisher.
            OutboxPayload::Event(_) => Err(DeliveryError(
                "domain events are not delivered by the message relay".into(),
            )),
        }
    }
}

/// Moves messages from the outbox to the port their kind names.
#[derive(Debug)]
pub struct OutboxRelay<O, D, C> {
    outbox: O,
    deliveries: D,
    clock: C,
    policy: RetryPolicy,
}

impl<O: OutboxRepository, D: Delivery, C: Clock> OutboxRelay<O, D, C> {
    /// A relay from `outbox` to the ports of `deliveries`.
    pub fn new(outbox: O, deliveries: D, clock: C, policy: RetryPolicy) -> Self {
        Self {
            outbox,
            deliveries,
            clock,
            policy,
        }
    }

    /// Delivers every message that is due now, in batches, until none is
    /// left or `stop()` turns true. A message being sent when `stop()` turns
    /// true is finished first; the batch's other messages are released for
    /// another worker.
    ///
    /// # Errors
    /// [`RepoError`] when the outbox cannot be read or updated; a message
    /// whose state could not be saved is retried after its lease.
    pub async fn deliver_due(&self, stop: impl Fn() -> bool) -> Result<DeliveryReport, RepoError> {
        let mut report = DeliveryReport::default();
        loop {
            let now = self.clock.now();
            let batch = self
                .outbox
                .claim_due(now, after(now, self.policy.lease), self.policy.batch)
                .await?;
            let claimed = u32::try_from(batch.len()).unwrap_or(u32::MAX);
            let mut messages = batch.into_iter();
            while let Some(message) = messages.next() {
                if stop() {
                    let rest: Vec<_> = std::iter::once(message.id)
                        .chain(messages.map(|m| m.id))
                        .collect();
                    self.outbox.release(&rest).await?;
                    return Ok(report);
                }
                self.deliver(&message, &mut report).await?;
            }
            if claimed < self.policy.batch || stop() {
                return Ok(report);
            }
        }
    }

    async fn deliver(
        &self,
        message: &OutboxMessage,
        report: &mut DeliveryReport,
    ) -> Result<(), RepoError> {
        let attempts = message.attempts.saturating_add(1);
        let kind = message.payload.kind();
        let outcome = match self.deliveries.deliver(&message.payload).await {
            Ok(()) => {
                self.outbox.mark_sent(message, self.clock.now()).await?;
                tracing::info!(message_id = %message.id, kind, attempts, "outbox message delivered");
                report.sent += 1;
                "sent"
            }
            Err(err) if attempts >= self.policy.max_attempts => {
                self.outbox
                    .mark_failed(message.id, attempts, &err.to_string())
                    .await?;
                tracing::error!(message_id = %message.id, kind, attempts, error = %err, "outbox delivery failed for good");
                report.failed += 1;
                "failed"
            }
            Err(err) => {
                let next = after(self.clock.now(), self.policy.backoff(attempts));
                self.outbox
                    .schedule_retry(message.id, attempts, next, &err.to_string())
                    .await?;
                tracing::warn!(message_id = %message.id, kind, attempts, retry_at = %next, error = %err, "outbox delivery failed, will retry");
                report.retried += 1;
                "retried"
            }
        };
        if kind == "email" {
            metrics::counter!("auth_email_delivery_total", "outcome" => outcome).increment(1);
        }
        Ok(())
    }

    /// How long finished messages are kept.
    #[must_use]
    pub fn retention(&self) -> Duration {
        self.policy.retention
    }

    /// Deletes messages finished longer ago than the retention.
    ///
    /// # Errors
    /// [`RepoError`] when the outbox cannot be updated.
    pub async fn purge_finished(&self) -> Result<u64, RepoError> {
        self.outbox
            .purge_finished(before(self.clock.now(), self.policy.retention))
            .await
    }

    /// When the next pending message falls due, if any.
    ///
    /// # Errors
    /// [`RepoError`] when the outbox cannot be read.
    pub async fn next_due_at(&self) -> Result<Option<Timestamp>, RepoError> {
        self.outbox.next_due_at().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use auth_domain::testing::{TestMailer, World};
    use auth_domain::{OutboxPayload, OutboxStatus};

    use super::*;
    use crate::testing::{harness, register_user};

    /// No account requests in these tests.
    struct NoRequests;

    impl AccountRequests for NoRequests {
        async fn handle(&self, _: &auth_domain::AccountRequest) -> Result<(), DeliveryError> {
            Err(DeliveryError("unexpected".into()))
        }
    }

    type TestRelay = OutboxRelay<
        auth_domain::testing::MemoryOutbox,
        Deliveries<TestMailer, NoRequests, auth_domain::testing::TestSms>,
        auth_domain::testing::TestClock,
    >;

    fn relay(world: &World, mailer: &TestMailer, policy: RetryPolicy) -> TestRelay {
        let deliveries = Deliveries {
            mailer: mailer.clone(),
            accounts: NoRequests,
            sms: auth_domain::testing::TestSms::default(),
        };
        OutboxRelay::new(world.outbox(), deliveries, world.clock(), policy)
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1), Duration::from_secs(5));
        assert_eq!(policy.backoff(2), Duration::from_secs(10));
        assert_eq!(policy.backoff(3), Duration::from_secs(20));
        assert_eq!(policy.backoff(30), Duration::from_secs(900));
    }

    #[tokio::test]
    async fn outage_delays_mail_and_never_loses_it() {
        let h = harness();
        register_user(&h, "hal@example.com").await;
        let mailer = TestMailer::default();
        let relay = relay(&h.world, &mailer, RetryPolicy::default());

        mailer.set_down(true);
        let report = relay.deliver_due(|| false).await.expect("pass");
        assert_eq!(
            report,
            DeliveryReport {
                sent: 0,
                retried: 1,
                failed: 0
            }
        );
        // Not due again before its backoff.
        assert_eq!(
            relay.deliver_due(|| false).await.expect("pass"),
            DeliveryReport::default()
        );

        mailer.set_down(false);
        h.world.advance(Duration::from_secs(6));
        assert_eq!(relay.deliver_due(|| false).await.expect("pass").sent, 1);
        assert_eq!(mailer.sent().len(), 1);
        assert_eq!(mailer.sent()[0].to.as_str(), "hal@example.com");
    }

    #[tokio::test]
    async fn a_stopping_relay_finishes_the_current_message_and_releases_the_rest() {
        let h = harness();
        for who in ["a@example.com", "b@example.com", "c@example.com"] {
            register_user(&h, who).await;
        }
        let mailer = TestMailer::default();
        let relay = relay(&h.world, &mailer, RetryPolicy::default());
        // Stop is asked for while the first message is being sent.
        let report = relay
            .deliver_due(|| !mailer.sent().is_empty())
            .await
            .expect("pass");
        assert_eq!(report.sent, 1, "the message in flight is finished");
        let state = h.world.lock();
        assert!(
            state
                .outbox
                .iter()
                .all(|row| row.status != OutboxStatus::Pending || row.lease.is_none()),
            "the others are free for another worker"
        );
        let sent = state
            .outbox
            .iter()
            .find(|row| row.status == OutboxStatus::Sent)
            .expect("one sent");
        let OutboxPayload::Email(email) = &sent.message.payload else {
            panic!("an email");
        };
        assert!(email.text_body.is_empty(), "a sent message keeps no body");
    }

    #[tokio::test]
    async fn message_is_marked_failed_after_the_last_attempt() {
        let h = harness();
        register_user(&h, "ida@example.com").await;
        let mailer = TestMailer::default();
        mailer.set_down(true);
        let policy = RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        };
        let relay = relay(&h.world, &mailer, policy);
        assert_eq!(relay.deliver_due(|| false).await.expect("pass").retried, 1);
        h.world.advance(Duration::from_secs(60));
        assert_eq!(relay.deliver_due(|| false).await.expect("pass").failed, 1);
        assert_eq!(relay.next_due_at().await.expect("read"), None);
    }

    #[tokio::test]
    async fn finished_messages_go_after_the_retention() {
        let h = harness();
        register_user(&h, "jo@example.com").await;
        let mailer = TestMailer::default();
        let relay = relay(&h.world, &mailer, RetryPolicy::default());
        relay.deliver_due(|| false).await.expect("pass");
        assert_eq!(relay.purge_finished().await.expect("purge"), 0);
        h.world.advance(relay.retention() + Duration::from_secs(1));
        assert_eq!(
            relay.purge_finished().await.expect("purge"),
            2,
            "the sent mail and the user.created event kept for the feed"
        );
        assert!(h.world.lock().outbox.is_empty());
    }
}
