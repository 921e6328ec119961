//! Refresh: rotate the session's refresh token, detect reuse.

use auth_domain::ports::{
    GraceEntry, RefreshGrace, RevokeReason, RevokeScope, Rotation, SecureRandom, SessionRepository,
    UserRepository,
};
use auth_domain::{
    AccountStatus, AuditEvent, AuditEventType, OpaqueToken, RequestContext, Session,
};

use crate::{AuthService, Failure, Ports, TokenPair};

/// Why a refresh was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired or revoked token or session, or a concurrent refresh
    /// with the same token won.
    #[error("invalid refresh token")]
    Invalid,
    /// An already rotated-out token was presented: its session is revoked.
    #[error("refresh token reused")]
    Reused,
    /// The account may no longer log in.
    #[error("account suspended")]
    Suspended,
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// Longest refresh token worth looking up; real ones are 43 characters.
const MAX_TOKEN_LEN: usize = 256;

impl<P: Ports> AuthService<P> {
    /// Exchanges a refresh token for a new pair in the same session.
    ///
    /// Rotation is a compare-and-set in the database, so of concurrent
    /// refreshes with one token exactly one succeeds. Presenting a token that
    /// was already rotated out revokes its session (RFC 9700 §4.14.2), unless
    /// it comes back within `refresh_reuse_grace` of its rotation: then the
    /// same successor is answered again.
    ///
    /// # Errors
    /// See [`RefreshError`].
    pub async fn refresh(
        &self,
        raw_token: &str,
        ctx: &RequestContext,
    ) -> Result<TokenPair, RefreshError> {
        let raw_token = raw_token.trim();
        if raw_token.is_empty() || raw_token.len() > MAX_TOKEN_LEN {
            return Err(RefreshError::Invalid);
        }
        let presented = OpaqueToken::new(raw_token.to_owned()).hash();
        let record = self
            .store
            .find_refresh_token(&presented)
            .await
            .map_err(Failure::from)?;
        let Some(record) = record else {
            return Err(RefreshError::Invalid);
        };
        let now = self.now();
        let session = record.session;
        if !session.is_active(now) {
            return Err(RefreshError::Invalid);
        }
        if let Some(used_at) = record.used_at {
            let within_grace = !self.settings.refresh_reuse_grace.is_zero()
                && (now - used_at)
                    .to_std()
                    .is_ok_and(|age| age <= self.settings.refresh_reuse_grace);
            if within_grace
                && let Some(entry) = self.hot.recall(&presented).await.map_err(Failure::from)?
            {
                let user = self.active_user(&session).await?;
                return Ok(self.pair(
                    entry.access_token,
                    OpaqueToken::new(entry.refresh_token),
                    session,
                    user,
                    now,
                ));
            }
            self.revoke_for_reuse(&session, ctx).await?;
            return Err(RefreshError::Reused);
        }
        let user = self.active_user(&session).await?;
        let next = self.random.token().map_err(Failure::from)?;
        let event = AuditEvent::new(AuditEventType::TokenRefreshed, Some(user.id), ctx, now)
            .with("session_id", session.id.to_string());
        let rotation = self
            .store
            .rotate_refresh_token(session.id, &presented, &next.hash(), now, event)
            .await
            .map_err(Failure::from)?;
        if rotation != Rotation::Rotated {
            return Err(RefreshError::Invalid);
        }
        let access_token = self.issue_access_token(&user, session.id)?;
        if !self.settings.refresh_reuse_grace.is_zero() {
            let entry = GraceEntry {
                refresh_token: next.expose().to_owned(),
                access_token: access_token.clone(),
            };
            if let Err(err) = self
                .hot
                .remember(&presented, &entry, self.settings.refresh_reuse_grace)
                .await
            {
                // Without the entry a racing tab gets a reuse alarm: safe, not fatal.
                tracing::warn!(error = %err, "could not keep the refresh grace entry");
            }
        }
        tracing::info!(user_id = %user.id, session_id = %session.id, event = "token.refreshed", "refresh token rotated");
        Ok(self.pair(access_token, next, session, user, now))
    }

    fn pair(
        &self,
        access_token: String,
        refresh_token: OpaqueToken,
        session: Session,
        user: auth_domain::User,
        now: auth_domain::Timestamp,
    ) -> TokenPair {
        let refresh_expires_in = (session.expires_at - now)
            .num_seconds()
            .max(0)
            .unsigned_abs();
        TokenPair {
            access_token,
            expires_in: self.settings.access_ttl.as_secs(),
            refresh_token,
            refresh_expires_in,
            session,
            user,
        }
    }

    async fn active_user(&self, session: &Session) -> Result<auth_domain::User, RefreshError> {
        let user = self
            .store
            .find_user_by_id(session.user_id)
            .await
            .map_err(Failure::from)?;
        match user {
            Some(user) if user.status == AccountStatus::Active => Ok(user),
            Some(_) => Err(RefreshError::Suspended),
            None => Err(RefreshError::Invalid),
        }
    }

    async fn revoke_for_reuse(
        &self,
        session: &Session,
        ctx: &RequestContext,
    ) -> Result<(), Failure> {
        let now = self.now();
        let event = AuditEvent::new(
            AuditEventType::TokenReuseDetected,
            Some(session.user_id),
            ctx,
            now,
        )
        .with("session_id", session.id.to_string());
        let revoked = self
            .store
            .revoke_sessions(
                session.user_id,
                RevokeScope::One(session.id),
                RevokeReason::TokenReuse,
                now,
                event,
            )
            .await?;
        tracing::warn!(user_id = %session.user_id, session_id = %session.id, event = "token.reuse_detected", "refresh token reuse: session revoked");
        self.publish_revocations(&revoked).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use auth_domain::{Email, Password, RequestContext};

    use super::*;
    use crate::testing::{Shared, TestPorts, register_user, service, strong_password};
    use crate::{LoginRequest, TokenPair};

    async fn logged_in(svc: &AuthService<TestPorts>, state: &Shared) -> TokenPair {
        let (_, token) = register_user(svc, state, "rita@example.com").await;
        svc.verify_email(&token, &RequestContext::default())
            .await
            .expect("verified");
        let request = LoginRequest {
            email: Email::parse("rita@example.com").expect("valid"),
            password: Password::new(strong_password().into()),
            remember_me: false,
        };
        svc.login(request, &RequestContext::default())
            .await
            .expect("login")
    }

    #[tokio::test]
    async fn rotation_then_reuse_revokes_the_session() {
        let (svc, state) = service();
        let pair = logged_in(&svc, &state).await;
        let first = pair.refresh_token.expose().to_owned();
        let next = svc
            .refresh(&first, &RequestContext::default())
            .await
            .expect("rotated");
        assert_ne!(next.refresh_token.expose(), first);
        assert_eq!(next.session.id, pair.session.id);

        let reused = svc.refresh(&first, &RequestContext::default()).await;
        assert!(matches!(reused, Err(RefreshError::Reused)));
        assert!(
            state
                .lock()
                .expect("lock")
                .revoked
                .contains(&pair.session.id),
            "published to the revocation list"
        );
        let newest = svc
            .refresh(next.refresh_token.expose(), &RequestContext::default())
            .await;
        assert!(matches!(newest, Err(RefreshError::Invalid)));
    }

    #[tokio::test]
    async fn expired_sessions_cannot_refresh() {
        let (svc, state) = service();
        let pair = logged_in(&svc, &state).await;
        state
            .lock()
            .expect("lock")
            .advance(Duration::from_secs(24 * 3600 + 1));
        let result = svc
            .refresh(pair.refresh_token.expose(), &RequestContext::default())
            .await;
        assert!(matches!(result, Err(RefreshError::Invalid)));
    }

    #[tokio::test]
    async fn grace_window_answers_the_same_successor() {
        let (mut svc, state) = service();
        svc.settings.refresh_reuse_grace = Duration::from_secs(10);
        let pair = logged_in(&svc, &state).await;
        let first = pair.refresh_token.expose().to_owned();
        let a = svc
            .refresh(&first, &RequestContext::default())
            .await
            .expect("rotated");
        let b = svc
            .refresh(&first, &RequestContext::default())
            .await
            .expect("same successor");
        assert_eq!(a.refresh_token, b.refresh_token);
        state.lock().expect("lock").advance(Duration::from_secs(11));
        assert!(matches!(
            svc.refresh(&first, &RequestContext::default()).await,
            Err(RefreshError::Reused)
        ));
    }

    #[tokio::test]
    async fn change_password_keeps_the_current_session_only() {
        let (svc, state) = service();
        let here = logged_in(&svc, &state).await;
        let request = LoginRequest {
            email: Email::parse("rita@example.com").expect("valid"),
            password: Password::new(strong_password().into()),
            remember_me: false,
        };
        let there = svc
            .login(request, &RequestContext::default())
            .await
            .expect("second device");
        let claims = svc.authenticate(&here.access_token).expect("valid");
        let wrong = crate::ChangePasswordRequest {
            current_password: Password::new("Nope-Nope-42".into()),
            new_password: Password::new("Brand-New-Horse-77".into()),
        };
        assert!(matches!(
            svc.change_password(&claims, wrong, &RequestContext::default())
                .await,
            Err(crate::ChangePasswordError::InvalidCredentials)
        ));
        let right = crate::ChangePasswordRequest {
            current_password: Password::new(strong_password().into()),
            new_password: Password::new("Brand-New-Horse-77".into()),
        };
        svc.change_password(&claims, right, &RequestContext::default())
            .await
            .expect("changed");
        assert!(svc.authenticate(&here.access_token).is_ok());
        assert!(svc.authenticate(&there.access_token).is_err());
    }

    #[tokio::test]
    async fn logout_needs_a_token_and_a_stranger_cannot_revoke_sessions() {
        let (svc, state) = service();
        let pair = logged_in(&svc, &state).await;
        let ctx = RequestContext::default();
        assert!(matches!(
            svc.logout(None, None, &ctx).await,
            Err(crate::LogoutError::Unauthenticated)
        ));
        let stranger = auth_domain::UserId::generate();
        assert!(matches!(
            svc.revoke_session(stranger, pair.session.id, &ctx).await,
            Err(crate::SessionError::NotFound)
        ));
        svc.logout(None, Some(pair.refresh_token.expose()), &ctx)
            .await
            .expect("logout by refresh token");
        assert!(svc.authenticate(&pair.access_token).is_err());
        assert!(
            svc.list_sessions(pair.user.id)
                .await
                .expect("list")
                .is_empty()
        );
    }
}
