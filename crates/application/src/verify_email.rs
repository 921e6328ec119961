//! Email verification with a single-use emailed token.

use auth_domain::one_time_token::TokenState;
use auth_domain::ports::{OneTimeTokenRepository, UserRepository};
use auth_domain::{AuditEvent, AuditEventType, OpaqueToken, RequestContext, TokenPurpose, User};

use crate::{AuthService, Failure, Ports};

/// Why a verification token was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyEmailError {
    /// Unknown, malformed, already used or superseded.
    #[error("invalid token")]
    Invalid,
    /// Past its lifetime.
    #[error("expired token")]
    Expired,
    /// A dependency failed; nothing changed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// Longest token worth looking up; real ones are 43 characters.
const MAX_TOKEN_LEN: usize = 256;

impl<P: Ports> AuthService<P> {
    /// Marks the owner's email verified and consumes the token, atomically:
    /// of two concurrent uses, one wins and the other is `Invalid`.
    ///
    /// # Errors
    /// See [`VerifyEmailError`].
    pub async fn verify_email(
        &self,
        raw_token: &str,
        ctx: &RequestContext,
    ) -> Result<User, VerifyEmailError> {
        let raw_token = raw_token.trim();
        if raw_token.is_empty() || raw_token.len() > MAX_TOKEN_LEN {
            return Err(VerifyEmailError::Invalid);
        }
        let hash = OpaqueToken::new(raw_token.to_owned()).hash();
        let token = self
            .store
            .find_one_time_token(&hash, TokenPurpose::VerifyEmail)
            .await
            .map_err(Failure::from)?
            .ok_or(VerifyEmailError::Invalid)?;
        let now = self.now();
        match token.state(now) {
            TokenState::Consumed => return Err(VerifyEmailError::Invalid),
            TokenState::Expired => return Err(VerifyEmailError::Expired),
            TokenState::Usable => {}
        }
        let event = AuditEvent::new(AuditEventType::EmailVerified, Some(token.user_id), ctx, now);
        let won = self
            .store
            .complete_email_verification(token.id, token.user_id, now, event)
            .await
            .map_err(Failure::from)?;
        if !won {
            return Err(VerifyEmailError::Invalid);
        }
        tracing::info!(user_id = %token.user_id, event = "email.verified", "email verified");
        self.store
            .find_user_by_id(token.user_id)
            .await
            .map_err(Failure::from)?
            .ok_or_else(|| Failure::Internal("verified user vanished".to_owned()).into())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testing::{register_user, service};

    #[tokio::test]
    async fn verifies_once_then_token_is_invalid() {
        let (svc, state) = service();
        let (_user, token) = register_user(&svc, &state, "carol@example.com").await;
        let user = svc
            .verify_email(&token, &RequestContext::default())
            .await
            .expect("verified");
        assert!(user.email_verified);
        let again = svc.verify_email(&token, &RequestContext::default()).await;
        assert!(matches!(again, Err(VerifyEmailError::Invalid)));
    }

    #[tokio::test]
    async fn expired_token_is_reported_as_expired() {
        let (svc, state) = service();
        let (_user, token) = register_user(&svc, &state, "carol@example.com").await;
        state
            .lock()
            .expect("lock")
            .advance(Duration::from_secs(24 * 3600 + 1));
        let result = svc.verify_email(&token, &RequestContext::default()).await;
        assert!(matches!(result, Err(VerifyEmailError::Expired)));
        assert!(!state.lock().expect("lock").users[0].email_verified);
    }

    #[tokio::test]
    async fn unknown_and_malformed_tokens_are_invalid() {
        let (svc, _state) = service();
        for raw in ["", "nope", &"x".repeat(1000)] {
            assert!(matches!(
                svc.verify_email(raw, &RequestContext::default()).await,
                Err(VerifyEmailError::Invalid)
            ));
        }
    }
}
