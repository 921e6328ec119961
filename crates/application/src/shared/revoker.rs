//! Revoking sessions: in the database first (the source of truth), then on
//! every instance's revocation mirror.

use std::time::Duration;

use auth_domain::sessions::{RevocationList, RevokeReason, RevokeScope, SessionRepository};
use auth_domain::system::Clock;
use auth_domain::{Effects, SessionId, UserId, after};

use crate::{AuthSettings, Failure};

/// Revokes sessions and fans the revocation out.
#[derive(Clone, Debug)]
pub struct Revoker<S, L, C> {
    sessions: S,
    list: L,
    clock: C,
    retention: Duration,
}

impl<S: SessionRepository, L: RevocationList, C: Clock> Revoker<S, L, C> {
    /// A revoker over these ports; entries are kept for
    /// [`AuthSettings::revocation_retention`].
    pub fn new(sessions: S, list: L, clock: C, settings: &AuthSettings) -> Self {
        Self {
            sessions,
            list,
            clock,
            retention: settings.revocation_retention(),
        }
    }

    /// Revokes the user's sessions in `scope`, writing `effects` with the
    /// revocation, and tells every instance. Returns the sessions this call
    /// revoked.
    ///
    /// # Errors
    /// [`Failure`] when the database write fails (nothing was revoked).
    pub async fn revoke(
        &self,
        user: UserId,
        scope: RevokeScope,
        reason: RevokeReason,
        effects: Effects,
    ) -> Result<Vec<SessionId>, Failure> {
        let revoked = self
            .sessions
            .revoke(user, scope, reason, self.clock.now(), effects)
            .await?;
        self.publish(&revoked).await;
        Ok(revoked)
    }

    /// Tells every instance that these sessions' access tokens are dead.
    ///
    /// Called once the revocation committed in the database, which is the
    /// source of truth: when the fan-out fails, every instance still picks
    /// the revocation up from the database at its next resync, so the caller
    /// is answered success rather than asked to retry what already happened.
    pub async fn publish(&self, sessions: &[SessionId]) {
        if sessions.is_empty() {
            return;
        }
        let until = after(self.clock.now(), self.retention);
        if let Err(err) = self.list.revoke(sessions, until).await {
            tracing::warn!(error = %err, count = sessions.len(), "revocation fan-out failed; other instances learn it from the database at their next resync");
        }
    }

    /// Whether the session was revoked (the local mirror; no round trip).
    #[must_use]
    pub fn is_revoked(&self, session: SessionId) -> bool {
        self.list.is_revoked(session)
    }
}
