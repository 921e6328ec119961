//! Keeping every instance's revocation mirror complete from the database,
//! the source of truth.

use std::time::Duration;

use auth_domain::sessions::{RevocationList, SessionRepository};
use auth_domain::system::Clock;
use auth_domain::{RepoError, after, before};

use super::HotState;
use crate::system::SharedClock;

/// Keeps this instance's revocation mirror complete:
///
/// - at start-up (before serving), and after every Redis reconnect, the
///   sessions revoked within `window` are loaded into the mirror and written
///   back to Redis (a restarted Redis keeps nothing);
/// - every `interval`, and at once when pub/sub may have dropped a message
///   (a lagging listener, a reconnect), the sessions revoked since the last
///   pass are read again into the mirror only.
///
/// So a revocation whose Redis fan-out failed still reaches every instance
/// within `interval`. `window` is the revocation retention: the longest an
/// access token stays acceptable after its session was revoked, plus a
/// margin.
///
/// # Errors
/// When the initial load fails.
pub async fn keep_in_sync<S: SessionRepository + Clone>(
    hot: &HotState,
    sessions: S,
    clock: SharedClock,
    window: Duration,
    interval: Duration,
) -> anyhow::Result<()> {
    let load = {
        let (hot, sessions, clock) = (hot.clone(), sessions.clone(), clock.clone());
        move || {
            let (hot, sessions, clock) = (hot.clone(), sessions.clone(), clock.clone());
            async move {
                let now = clock.now();
                let ids = sessions.revoked_since(before(now, window)).await?;
                let count = ids.len();
                hot.revoke(&ids, after(now, window)).await?;
                tracing::debug!(count, "revoked sessions loaded from the database");
                Ok::<(), RepoError>(())
            }
        }
    };
    load()
        .await
        .map_err(|e| anyhow::anyhow!("cannot load revoked sessions: {e}"))?;
    let HotState::Redis(state) = hot else {
        // One process: every revocation went into the mirror directly.
        return Ok(());
    };
    let mut reconnects = state.reconnects();
    tokio::spawn(async move {
        while reconnects.recv().await.is_ok() {
            if let Err(err) = load().await {
                tracing::warn!(error = %err, "could not reload revoked sessions after a Redis reconnect");
            }
        }
    });
    let state = state.clone();
    tokio::spawn(async move {
        // Overlap passes a little: a revocation committed while the previous
        // query ran is read again rather than missed.
        let overlap = Duration::from_secs(2);
        let mut since = before(clock.now(), overlap);
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = state.resync_needed.notified() => {}
            }
            let started = clock.now();
            match sessions.revoked_since(since).await {
                Ok(ids) => {
                    let until = after(started, window);
                    state
                        .mirror
                        .insert_all(ids.into_iter().map(|id| (id, until)));
                    since = before(started, overlap);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not re-read revoked sessions; will retry");
                }
            }
        }
    });
    Ok(())
}
