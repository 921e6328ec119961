//! Delivery of queued email: one pass of the outbox worker.

use std::time::Duration;

use auth_domain::ports::{Clock, Mailer, OutboxRepository, RepoError};
use auth_domain::{OutboxMessage, Timestamp};

use crate::after;

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

/// Moves messages from the outbox to the mailer.
#[derive(Debug)]
pub struct OutboxRelay<O, M, C> {
    outbox: O,
    mailer: M,
    clock: C,
    policy: RetryPolicy,
}

impl<O: OutboxRepository, M: Mailer, C: Clock> OutboxRelay<O, M, C> {
    /// A relay between `outbox` and `mailer`.
    pub fn new(outbox: O, mailer: M, clock: C, policy: RetryPolicy) -> Self {
        Self {
            outbox,
            mailer,
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
                .claim_due_messages(now, after(now, self.policy.lease), self.policy.batch)
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
        match self.mailer.send(&message.email).await {
            Ok(()) => {
                self.outbox.mark_sent(message, self.clock.now()).await?;
                tracing::info!(message_id = %message.id, attempts, "email delivered");
                report.sent += 1;
            }
            Err(err) if attempts >= self.policy.max_attempts => {
                self.outbox
                    .mark_failed(message.id, attempts, self.clock.now(), &err.to_string())
                    .await?;
                tracing::error!(message_id = %message.id, attempts, error = %err, "email delivery failed for good");
                report.failed += 1;
            }
            Err(err) => {
                let next = after(self.clock.now(), self.policy.backoff(attempts));
                self.outbox
                    .schedule_retry(message.id, attempts, next, &err.to_string())
                    .await?;
                tracing::warn!(message_id = %message.id, attempts, retry_at = %next, error = %err, "email delivery failed, will retry");
                report.retried += 1;
            }
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
        let before = self.clock.now()
            - chrono::TimeDelta::from_std(self.policy.retention).unwrap_or(chrono::TimeDelta::MAX);
        self.outbox.purge_finished(before).await
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
    use super::*;
    use auth_domain::OutboxStatus;

    use crate::testing::{MemoryStore, TestClock, TestMailer, register_user, service};

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
        let (svc, state) = service();
        register_user(&svc, &state, "hal@example.com").await;
        let store = MemoryStore(state.clone());
        let mailer = TestMailer::default();
        let relay = OutboxRelay::new(
            store,
            mailer.clone(),
            TestClock(state.clone()),
            RetryPolicy::default(),
        );

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
        state.lock().expect("lock").advance(Duration::from_secs(6));
        assert_eq!(relay.deliver_due(|| false).await.expect("pass").sent, 1);
        assert_eq!(mailer.sent().len(), 1);
        assert_eq!(mailer.sent()[0].to.as_str(), "hal@example.com");
    }

    #[tokio::test]
    async fn a_stopping_relay_finishes_the_current_message_and_releases_the_rest() {
        let (svc, state) = service();
        for who in ["a@example.com", "b@example.com", "c@example.com"] {
            register_user(&svc, &state, who).await;
        }
        let mailer = TestMailer::default();
        let relay = OutboxRelay::new(
            MemoryStore(state.clone()),
            mailer.clone(),
            TestClock(state.clone()),
            RetryPolicy::default(),
        );
        // Stop is asked for while the first message is being sent.
        let report = relay
            .deliver_due(|| !mailer.sent().is_empty())
            .await
            .expect("pass");
        assert_eq!(report.sent, 1, "the message in flight is finished");
        let state = state.lock().expect("lock");
        let leased = state
            .outbox_state
            .values()
            .filter(|(status, lease)| *status == OutboxStatus::Pending && lease.is_some())
            .count();
        assert_eq!(leased, 0, "the others are free for another worker");
        let sent = state
            .outbox
            .iter()
            .find(|m| state.outbox_state[&m.id].0 == OutboxStatus::Sent)
            .expect("one sent");
        assert!(
            sent.email.text_body.is_empty(),
            "a sent message keeps no body"
        );
    }

    #[tokio::test]
    async fn message_is_marked_failed_after_the_last_attempt() {
        let (svc, state) = service();
        register_user(&svc, &state, "ida@example.com").await;
        let mailer = TestMailer::default();
        mailer.set_down(true);
        let policy = RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        };
        let relay = OutboxRelay::new(
            MemoryStore(state.clone()),
            mailer,
            TestClock(state.clone()),
            policy,
        );
        assert_eq!(relay.deliver_due(|| false).await.expect("pass").retried, 1);
        state.lock().expect("lock").advance(Duration::from_secs(60));
        assert_eq!(relay.deliver_due(|| false).await.expect("pass").failed, 1);
        assert_eq!(relay.next_due_at().await.expect("read"), None);
    }
}
