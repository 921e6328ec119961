//! Refresh: rotate the presented token, detect the reuse of a rotated-out
//! one, answer racing tabs from the grace window.

use auth_domain::accounts::UserRepository;
use auth_domain::activity::AuditLog;
use auth_domain::organizations::OrganizationRepository as _;
use auth_domain::sessions::{
    GraceEntry, RefreshGrace, RevokeReason, RevokeScope, Rotation, SessionRepository,
};
use auth_domain::system::Clock;
use auth_domain::{
    AuditEvent, AuditEventType, Effects, OpaqueToken, RequestContext, Session, Timestamp, User,
};

use super::{SessionPorts, SessionService};
use crate::{Failure, TokenPair};

/// Why a refresh was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired or revoked refresh token (or none presented).
    #[error("invalid refresh token")]
    Invalid,
    /// A rotated-out token was presented: its session is now revoked.
    #[error("refresh token reused")]
    Reused,
    /// The account may no longer be used.
    #[error("account suspended")]
    Suspended,
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: SessionPorts> SessionService<P> {
    /// Rotates `presented`. A token already rotated out is reuse, which
    /// revokes its session — unless it comes back within the grace window,
    /// when the successor it already got is answered again.
    pub(super) async fn rotate(
        &self,
        presented: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<TokenPair, RefreshError> {
        let presented = presented
            .and_then(OpaqueToken::from_presented)
            .ok_or(RefreshError::Invalid)?
            .hash();
        let Some(record) = self
            .sessions
            .find_refresh_token(&presented)
            .await
            .map_err(Failure::from)?
        else {
            tracing::info!(ip = ?ctx.ip, user_agent = ?ctx.user_agent, event = "token.refresh_failed", reason = "unknown_token", "refresh refused");
            return Err(RefreshError::Invalid);
        };
        let now = self.clock.now();
        let session = record.session;
        if !session.is_active(now) {
            tracing::info!(session_id = %session.id, ip = ?ctx.ip, event = "token.refresh_failed", reason = "session_ended", "refresh refused");
            // A suspension ends every session: say so to the holder of one
            // of its tokens (API-USERS.md), rather than "invalid".
            if session.revoked_at.is_some() {
                self.active_user(&session).await?;
            }
            return Err(RefreshError::Invalid);
        }
        if let Err(limited) = self.limits.refresh(session.id).await {
            let event =
                AuditEvent::new(AuditEventType::RateLimited, Some(session.user_id), ctx, now)
                    .with("limit", "refresh")
                    .with("session_id", session.id.to_string());
            if let Err(err) = self.audit.record(event).await {
                tracing::warn!(error = %err, "could not record an audit event");
            }
            return Err(limited.into());
        }
        if let Some(used_at) = record.used_at {
            if self.within_grace(used_at, now)
                && let Some(entry) = self.hot.recall(&presented).await.map_err(Failure::from)?
            {
                let user = self.active_user(&session).await?;
                let pair = self
                    .issuer
                    .replay(
                        user,
                        session,
                        entry.access_token,
                        OpaqueToken::new(entry.refresh_token),
                    )
                    .await?;
                return Ok(pair);
            }
            self.revoke_for_reuse(&session, ctx).await?;
            return Err(RefreshError::Reused);
        }
        let user = self.active_user(&session).await?;
        let next = self.issuer.new_refresh_token()?;
        let event = AuditEvent::new(AuditEventType::TokenRefreshed, Some(user.id), ctx, now)
            .with("session_id", session.id.to_string());
        let rotation = self
            .sessions
            .rotate_refresh_token(
                session.id,
                &presented,
                &next.hash(),
                now,
                Effects::event(event),
            )
            .await
            .map_err(Failure::from)?;
        if rotation != Rotation::Rotated {
            return Err(RefreshError::Invalid);
        }
        let mut session = session;
        if let Some(org) = session.organization_id
            && self
                .orgs
                .membership(org, user.id)
                .await
                .map_err(Failure::from)?
                .is_none()
        {
            // No longer a member: the hint goes from this token on.
            session.organization_id = None;
        }
        let pair = self.issuer.reissue(user, session, next).await?;
        if !self.settings.refresh_reuse_grace.is_zero() {
            let entry = GraceEntry {
                refresh_token: pair.refresh_token.expose().to_owned(),
                access_token: pair.access_token.clone(),
            };
            if let Err(err) = self
                .hot
                .remember(&presented, &entry, self.settings.refresh_reuse_grace)
                .await
            {
                tracing::warn!(error = %err, "could not keep the refresh grace entry");
            }
        }
        Ok(pair)
    }

    fn within_grace(&self, used_at: Timestamp, now: Timestamp) -> bool {
        let grace = self.settings.refresh_reuse_grace;
        !grace.is_zero() && (now - used_at).to_std().is_ok_and(|age| age <= grace)
    }

    async fn active_user(&self, session: &Session) -> Result<User, RefreshError> {
        match self
            .users
            .find_by_id(session.user_id)
            .await
            .map_err(Failure::from)?
        {
            Some(user) if user.status.allows_access() => Ok(user),
            Some(_) => Err(RefreshError::Suspended),
            None => Err(RefreshError::Invalid),
        }
    }

    async fn revoke_for_reuse(
        &self,
        session: &Session,
        ctx: &RequestContext,
    ) -> Result<(), Failure> {
        let event = AuditEvent::new(
            AuditEventType::TokenReuseDetected,
            Some(session.user_id),
            ctx,
            self.clock.now(),
        )
        .with("session_id", session.id.to_string());
        self.revoker
            .revoke(
                session.user_id,
                RevokeScope::One(session.id),
                RevokeReason::TokenReuse,
                Effects::event(event).and_message(crate::shared::events::suspicious(
                    session.user_id,
                    "refresh_token_reuse",
                    ctx.ip,
                    self.clock.now(),
                )),
            )
            .await?;
        tracing::warn!(user_id = %session.user_id, session_id = %session.id, event = "token.reuse_detected", "refresh token reuse: session revoked");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sessions::Sessions;
    use crate::testing::{harness, harness_with, settings, verified_login};

    #[tokio::test]
    async fn rotation_then_reuse_revokes_the_session() {
        let h = harness();
        let pair = verified_login(&h, "rita@example.com").await;
        let first = pair.refresh_token.expose().to_owned();
        let ctx = RequestContext::default();
        let next = h
            .sessions
            .refresh(Some(&first), &ctx)
            .await
            .expect("rotated");
        assert_ne!(next.refresh_token.expose(), first);
        assert_eq!(next.session.id, pair.session.id);

        let reused = h.sessions.refresh(Some(&first), &ctx).await;
        assert!(matches!(reused, Err(RefreshError::Reused)));
        assert!(
            h.world.lock().revoked.contains(&pair.session.id),
            "published to the revocation list"
        );
        let newest = h
            .sessions
            .refresh(Some(next.refresh_token.expose()), &ctx)
            .await;
        assert!(matches!(newest, Err(RefreshError::Invalid)));
    }

    #[tokio::test]
    async fn missing_or_absurd_tokens_are_invalid() {
        let h = harness();
        let ctx = RequestContext::default();
        for presented in [None, Some(""), Some("  "), Some(&*"x".repeat(300))] {
            assert!(matches!(
                h.sessions.refresh(presented, &ctx).await,
                Err(RefreshError::Invalid)
            ));
        }
    }

    #[tokio::test]
    async fn expired_sessions_cannot_refresh() {
        let h = harness();
        let pair = verified_login(&h, "rita@example.com").await;
        h.world.advance(Duration::from_secs(24 * 3600 + 1));
        let result = h
            .sessions
            .refresh(
                Some(pair.refresh_token.expose()),
                &RequestContext::default(),
            )
            .await;
        assert!(matches!(result, Err(RefreshError::Invalid)));
    }

    #[tokio::test]
    async fn suspended_accounts_cannot_refresh() {
        let h = harness();
        let pair = verified_login(&h, "rita@example.com").await;
        h.world.lock().users[0].status = auth_domain::AccountStatus::Suspended;
        let result = h
            .sessions
            .refresh(
                Some(pair.refresh_token.expose()),
                &RequestContext::default(),
            )
            .await;
        assert!(matches!(result, Err(RefreshError::Suspended)));
    }

    #[tokio::test]
    async fn sixty_one_refreshes_in_a_minute_are_too_many() {
        let h = harness();
        let mut pair = verified_login(&h, "rita@example.com").await;
        let ctx = RequestContext::default();
        for _ in 0..60 {
            pair = h
                .sessions
                .refresh(Some(pair.refresh_token.expose()), &ctx)
                .await
                .expect("rotated");
        }
        let limited = h
            .sessions
            .refresh(Some(pair.refresh_token.expose()), &ctx)
            .await;
        assert!(matches!(
            limited,
            Err(RefreshError::Failed(Failure::RateLimited { .. }))
        ));
        assert!(
            h.world
                .lock()
                .events
                .iter()
                .any(|e| e.kind == AuditEventType::RateLimited && e.user_id == Some(pair.user.id))
        );
        h.world.advance(Duration::from_secs(61));
        assert!(
            h.sessions
                .refresh(Some(pair.refresh_token.expose()), &ctx)
                .await
                .is_ok(),
            "the token is still good"
        );
    }

    #[tokio::test]
    async fn grace_window_answers_the_same_successor() {
        let mut with_grace = settings();
        with_grace.refresh_reuse_grace = Duration::from_secs(10);
        let h = harness_with(with_grace);
        let pair = verified_login(&h, "rita@example.com").await;
        let first = pair.refresh_token.expose().to_owned();
        let ctx = RequestContext::default();
        let a = h
            .sessions
            .refresh(Some(&first), &ctx)
            .await
            .expect("rotated");
        let b = h
            .sessions
            .refresh(Some(&first), &ctx)
            .await
            .expect("same successor");
        assert_eq!(a.refresh_token, b.refresh_token);
        h.world.advance(Duration::from_secs(11));
        assert!(matches!(
            h.sessions.refresh(Some(&first), &ctx).await,
            Err(RefreshError::Reused)
        ));
    }
}
