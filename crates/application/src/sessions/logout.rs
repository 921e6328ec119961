//! Logout, and the session list's revocations.

use auth_domain::sessions::{RevokeReason, RevokeScope, SessionRepository};
use auth_domain::system::Clock;
use auth_domain::{
    AuditEvent, AuditEventType, Effects, OpaqueToken, RequestContext, SessionId, UserId,
};

use super::{SessionPorts, SessionService};
use crate::Failure;

/// Why a logout was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// Neither a valid access token nor a live refresh token was presented.
    #[error("not authenticated")]
    Unauthenticated,
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// Why a session could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No such active session of the caller's (malformed ids included).
    #[error("session not found")]
    NotFound,
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: SessionPorts> SessionService<P> {
    /// Ends the Bearer token's session, or — without a valid Bearer token,
    /// so an expired access token is no obstacle — the session of the
    /// presented refresh token.
    pub(super) async fn end_session(
        &self,
        bearer: Option<&str>,
        refresh_token: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), LogoutError> {
        let (user, session) = match bearer.and_then(|t| self.check_access_token(t).ok()) {
            Some(claims) => (claims.user_id, claims.session_id),
            None => self.live_session_of(refresh_token).await?,
        };
        self.revoke_scope(
            user,
            RevokeScope::One(session),
            RevokeReason::Logout,
            AuditEventType::Logout,
            ctx,
        )
        .await?;
        Ok(())
    }

    async fn live_session_of(
        &self,
        refresh_token: Option<&str>,
    ) -> Result<(UserId, SessionId), LogoutError> {
        let token = refresh_token
            .and_then(OpaqueToken::from_presented)
            .ok_or(LogoutError::Unauthenticated)?;
        match self
            .sessions
            .find_refresh_token(&token.hash())
            .await
            .map_err(Failure::from)?
        {
            Some(record)
                if record.used_at.is_none() && record.session.is_active(self.clock.now()) =>
            {
                Ok((record.session.user_id, record.session.id))
            }
            _ => Err(LogoutError::Unauthenticated),
        }
    }

    /// Revokes one of the user's sessions; another user's, an unknown or a
    /// malformed id is `NotFound` alike.
    pub(super) async fn revoke_one(
        &self,
        user: UserId,
        session: &str,
        ctx: &RequestContext,
    ) -> Result<(), SessionError> {
        let session: SessionId = session.parse().map_err(|_| SessionError::NotFound)?;
        let revoked = self
            .revoke_scope(
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
    pub(super) async fn revoke_every(
        &self,
        user: UserId,
        ctx: &RequestContext,
    ) -> Result<(), Failure> {
        self.revoke_scope(
            user,
            RevokeScope::All,
            RevokeReason::LogoutAll,
            AuditEventType::SessionsRevokedAll,
            ctx,
        )
        .await?;
        Ok(())
    }

    async fn revoke_scope(
        &self,
        user: UserId,
        scope: RevokeScope,
        reason: RevokeReason,
        kind: AuditEventType,
        ctx: &RequestContext,
    ) -> Result<Vec<SessionId>, Failure> {
        let mut event = AuditEvent::new(kind, Some(user), ctx, self.clock.now());
        if let RevokeScope::One(id) = scope {
            event = event.with("session_id", id.to_string());
        }
        let logout = crate::shared::events::user_event(
            "user.logout",
            user,
            None,
            serde_json::json!({
                "user_id": user.to_string(),
                "session_id": match scope {
                    RevokeScope::One(id) => serde_json::Value::String(id.to_string()),
                    _ => serde_json::Value::Null,
                },
                "all": !matches!(scope, RevokeScope::One(_)),
            }),
            self.clock.now(),
        );
        let revoked = self
            .revoker
            .revoke(
                user,
                scope,
                reason,
                Effects::event(event).and_message(logout),
            )
            .await?;
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::Sessions;
    use crate::testing::{harness, verified_login};

    #[tokio::test]
    async fn logout_needs_a_token_and_a_stranger_cannot_revoke_sessions() {
        let h = harness();
        let pair = verified_login(&h, "rita@example.com").await;
        let ctx = RequestContext::default();
        assert!(matches!(
            h.sessions.logout(None, None, &ctx).await,
            Err(LogoutError::Unauthenticated)
        ));
        assert!(matches!(
            h.sessions.logout(Some("garbage"), None, &ctx).await,
            Err(LogoutError::Unauthenticated)
        ));
        let stranger = UserId::generate();
        assert!(matches!(
            h.sessions
                .revoke(stranger, &pair.session.id.to_string(), &ctx)
                .await,
            Err(SessionError::NotFound)
        ));
        assert!(matches!(
            h.sessions.revoke(pair.user.id, "not-a-uuid", &ctx).await,
            Err(SessionError::NotFound)
        ));
        h.sessions
            .logout(
                Some("expired-or-garbage"),
                Some(pair.refresh_token.expose()),
                &ctx,
            )
            .await
            .expect("logout by refresh token");
        assert!(h.sessions.authenticate(&pair.access_token).is_err());
        assert!(
            h.sessions
                .list(pair.user.id)
                .await
                .expect("list")
                .is_empty()
        );
    }
}
