//! The background workers: the outbox relay and the housekeeping sweep,
//! each until shutdown.

use std::sync::Arc;
use std::time::Duration;

use auth_application::activity::{Delivery, OutboxRelay};
use auth_domain::activity::OutboxRepository;
use auth_domain::system::Clock;
use tokio::sync::Notify;

/// How often, at most, finished messages older than the retention are
/// deleted (more often when the retention is shorter).
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Runs the outbox relay until `shutdown` turns true: at once when `wake` is
/// notified (a message was queued here), when the earliest retry falls due,
/// and every `poll` for messages queued by other instances.
///
/// On shutdown the message being sent is finished (its SMTP exchange is
/// bounded by `smtp.timeout`) and marked; the rest of its batch is released
/// to the other instances. The caller bounds the whole wait.
pub async fn run_outbox_worker<O, D, C>(
    relay: OutboxRelay<O, D, C>,
    clock: C,
    wake: Arc<Notify>,
    poll: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) where
    O: OutboxRepository,
    D: Delivery,
    C: Clock,
{
    let mut last_purge: Option<std::time::Instant> = None;
    let purge_every = PURGE_EVERY.min(relay.retention());
    loop {
        let stopping = shutdown.clone();
        if let Err(err) = relay.deliver_due(|| *stopping.borrow()).await {
            tracing::warn!(error = %err, "outbox pass failed; will retry");
        }
        if *shutdown.borrow() {
            tracing::info!("outbox worker stopped");
            return;
        }
        if last_purge.is_none_or(|at| at.elapsed() >= purge_every) {
            match relay.purge_finished().await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "finished outbox messages deleted"),
                Err(err) => tracing::warn!(error = %err, "outbox purge failed; will retry"),
            }
            last_purge = Some(std::time::Instant::now());
        }
        let next = match relay.next_due_at().await {
            Ok(Some(at)) => (at - clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(poll),
            Ok(None) | Err(_) => poll,
        };
        // A failed pass or a due message would spin without a floor.
        let next = next.max(Duration::from_millis(50));
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(next) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Runs the housekeeping sweep every `interval` until `shutdown` turns true.
/// Safe on several instances at once: every delete is idempotent.
pub async fn run_sweeper<U, T, S, C, M, P, A>(
    sweep: auth_application::housekeeping::Housekeeping<U, T, S, C, M, P, A>,
    interval: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) where
    U: auth_domain::accounts::UserRepository,
    T: auth_domain::accounts::OneTimeTokenRepository,
    S: auth_domain::sessions::SessionRepository,
    C: Clock,
    M: auth_domain::mfa::MethodRepository,
    P: auth_domain::mfa::PendingLoginRepository,
    A: auth_domain::access::AccessChanges,
{
    loop {
        match sweep.sweep().await {
            Ok(report) if report == Default::default() => {}
            Ok(report) => tracing::info!(
                unverified_accounts = report.unverified_accounts,
                sessions = report.sessions,
                tokens = report.tokens,
                mfa = report.mfa,
                "housekeeping sweep deleted what ended"
            ),
            Err(err) => tracing::warn!(error = %err, "housekeeping sweep failed; will retry"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}
