//! The housekeeping sweep: accounts left unverified past their time are
//! deleted (so an address squatted by someone else frees itself), and ended
//! sessions and spent tokens are deleted after the retention, so the tables
//! do not grow forever. Audit rows stay. Every delete is idempotent, so
//! several instances may sweep at once.

use std::time::Duration;

use auth_domain::accounts::{OneTimeTokenRepository, UserRepository};
use auth_domain::before;
use auth_domain::mfa::{MethodRepository, PendingLoginRepository};
use auth_domain::sessions::SessionRepository;
use auth_domain::system::Clock;

use crate::{AuthSettings, Failure};

/// What one sweep deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Accounts never verified.
    pub unverified_accounts: u64,
    /// Sessions (with their refresh tokens) that ended long enough ago.
    pub sessions: u64,
    /// Used, superseded or expired email tokens.
    pub tokens: u64,
    /// Expired `mfa_token`s, sent codes and unconfirmed setups.
    pub mfa: u64,
    /// Suspensions whose `until` passed: the accounts are active again.
    pub lifted_suspensions: u64,
}

/// The sweep over its ports.
#[derive(Clone, Debug)]
pub struct Housekeeping<U, T, S, C, M, P, A> {
    users: U,
    tokens: T,
    sessions: S,
    clock: C,
    methods: M,
    pending_logins: P,
    changes: A,
    unverified_ttl: Duration,
    retention: Duration,
}

impl<U, T, S, C, M, P, A> Housekeeping<U, T, S, C, M, P, A>
where
    U: UserRepository,
    T: OneTimeTokenRepository,
    S: SessionRepository,
    C: Clock,
    M: MethodRepository,
    P: PendingLoginRepository,
    A: auth_domain::access::AccessChanges,
{
    /// A sweep with the lifetimes of `settings`.
    pub fn new(
        (users, tokens, sessions): (U, T, S),
        (methods, pending_logins): (M, P),
        clock: C,
        changes: A,
        settings: &AuthSettings,
    ) -> Self {
        Self {
            changes,
            users,
            tokens,
            sessions,
            clock,
            methods,
            pending_logins,
            unverified_ttl: settings.unverified_ttl,
            retention: settings.retention,
        }
    }

    /// Deletes what ended.
    ///
    /// # Errors
    /// [`Failure`] when the database fails; what was deleted stays deleted.
    pub async fn sweep(&self) -> Result<SweepReport, Failure> {
        let now = self.clock.now();
        let report = SweepReport {
            unverified_accounts: self
                .users
                .delete_unverified(before(now, self.unverified_ttl))
                .await?,
            sessions: self
                .sessions
                .purge_ended(before(now, self.retention))
                .await?,
            tokens: self.tokens.purge_spent(before(now, self.retention)).await?,
            // A day past expiry: long after any use could matter.
            mfa: self
                .methods
                .purge_expired(before(now, Duration::from_secs(24 * 3600)))
                .await?
                + self
                    .pending_logins
                    .purge_expired(before(now, Duration::from_secs(24 * 3600)))
                    .await?,
            lifted_suspensions: self.lift_suspensions(now).await?,
        };
        Ok(report)
    }

    /// Reactivates accounts whose suspension ran out, and drops what every
    /// instance cached about them.
    async fn lift_suspensions(&self, now: auth_domain::Timestamp) -> Result<u64, Failure> {
        let lifted = self.users.lift_suspensions(now).await?;
        for user in &lifted {
            self.changes
                .announce(auth_domain::access::AccessChange::User(*user))
                .await;
        }
        Ok(lifted.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{harness, register_user, settings, verified_login};

    #[tokio::test]
    async fn squatted_addresses_free_themselves_and_ended_sessions_go() {
        let h = harness();
        register_user(&h, "squatter@example.com").await;
        let pair = verified_login(&h, "owner@example.com").await;
        let sweep = Housekeeping::new(
            (
                h.world.users(),
                h.world.one_time_tokens(),
                h.world.sessions(),
            ),
            (h.world.mfa_methods(), h.world.pending_logins()),
            h.world.clock(),
            h.world.access_changes(),
            &settings(),
        );
        assert_eq!(sweep.sweep().await.expect("swept"), SweepReport::default());
        h.world.advance(Duration::from_secs(7 * 24 * 3600 + 1));
        let report = sweep.sweep().await.expect("swept");
        assert_eq!(report.unverified_accounts, 1);
        assert_eq!(
            report.sessions, 0,
            "the session ended a day ago, within the retention"
        );
        h.world.advance(Duration::from_secs(30 * 24 * 3600));
        let report = sweep.sweep().await.expect("swept");
        assert_eq!(report.sessions, 1);
        assert!(
            h.world.lock().users.iter().any(|u| u.id == pair.user.id),
            "verified accounts stay"
        );
    }
}
