//! Logout, the session list, and revoking sessions.

use auth_domain::ports::{RevocationList, RevokeReason, RevokeScope, SessionRepository};
use auth_domain::{
    AccessClaims, AuditEvent, AuditEventType, OpaqueToken, RequestContext, Session, SessionId,
    UserId,
};

use crate::{AuthService, Failure, Ports};

/// Why a logout was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// Neither a valid access token nor a known refresh token.
    #[error("not authenticated")]
    Unauthenticated,
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// Why a session operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No such session of this user.
    #[error("session not found")]
    NotFound,
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: Ports> AuthService<P> {
    /// Ends one session: the access token's, or else the refresh token's (so
    /// an expired access token is no obstacle).
    ///
    /// # Errors
    /// [`LogoutError::Unauthenticated`] when neither identifies a session.
    pub async fn logout(
        &self,
        claims: Option<&AccessClaims>,
        refresh_token: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), LogoutError> {
        let (user, session) = if let Some(claims) = claims {
            (claims.user_id, claims.session_id)
        } else {
            let raw = refresh_token
                .map(str::trim)
                .filter(|t| !t.is_empty() && t.len() <= 256);
            let Some(raw) = raw else {
                return Err(LogoutError::Unauthenticated);
            };
            let hash = OpaqueToken::new(raw.to_owned()).hash();
            let record = self
                .store
                .find_refresh_token(&hash)
                .await
                .map_err(Failure::from)?;
            match record {
                // A rotated-out token cannot log out its session's successor.
                Some(record)
                    if record.used_at.is_none() && record.session.is_active(self.now()) =>
                {
                    (record.session.user_id, record.session.id)
                }
                _ => return Err(LogoutError::Unauthenticated),
            }
        };
        self.revoke(
            user,
            RevokeScope::One(session),
            RevokeReason::Logout,
            AuditEventType::Logout,
            ctx,
        )
        .await?;
        Ok(())
    }

    /// The user's active sessions, newest first.
    ///
    /// # Errors
    /// When storage fails.
    pub async fn list_sessions(&self, user: UserId) -> Result<Vec<Session>, Failure> {
        Ok(self.store.list_active_sessions(user, self.now()).await?)
    }

    /// Revokes one of the user's own sessions.
    ///
    /// # Errors
    /// [`SessionError::NotFound`] for another user's or an unknown session.
    pub async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        ctx: &RequestContext,
    ) -> Result<(), SessionError> {
        let revoked = self
            .revoke(
                user,
                RevokeScope::One(session),
                RevokeReason::Revoked,
                AuditEventType::SessionRevoked,
                ctx,
            )
            .await?;
        if revoked.is_empty() {
            Err(SessionError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Revokes every session of the user, the current one included.
    ///
    /// # Errors
    /// When storage or the hot store fails.
    pub async fn revoke_all_sessions(
        &self,
        user: UserId,
        ctx: &RequestContext,
    ) -> Result<(), Failure> {
        self.revoke(
            user,
            RevokeScope::All,
            RevokeReason::LogoutAll,
            AuditEventType::SessionsRevokedAll,
            ctx,
        )
        .await?;
        Ok(())
    }

    async fn revoke(
        &self,
        user: UserId,
        scope: RevokeScope,
        reason: RevokeReason,
        kind: AuditEventType,
        ctx: &RequestContext,
    ) -> Result<Vec<SessionId>, Failure> {
        let now = self.now();
        let mut event = AuditEvent::new(kind, Some(user), ctx, now);
        if let RevokeScope::One(id) = scope {
            event = event.with("session_id", id.to_string());
        }
        let revoked = self
            .store
            .revoke_sessions(user, scope, reason, now, event)
            .await?;
        self.publish_revocations(&revoked).await;
        tracing::info!(user_id = %user, count = revoked.len(), event = kind.as_str(), "sessions revoked");
        Ok(revoked)
    }

    /// Tells every instance that these sessions' access tokens are dead.
    ///
    /// Called after the revocation committed in the database, which is the
    /// source of truth: when the fan-out fails, every instance still picks
    /// the revocation up from the database at its next resync, so the caller
    /// is answered success rather than asked to retry what already happened.
    pub(crate) async fn publish_revocations(&self, sessions: &[auth_domain::SessionId]) {
        if sessions.is_empty() {
            return;
        }
        let until = crate::after(self.now(), self.settings.revocation_retention());
        if let Err(err) = self.hot.revoke(sessions, until).await {
            tracing::warn!(error = %err, count = sessions.len(), "revocation fan-out failed; other instances learn it from the database at their next resync");
        }
    }
}
