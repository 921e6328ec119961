//! Email verification with a single-use emailed token.

use auth_domain::access::RoleRepository;
use auth_domain::accounts::{OneTimeTokenRepository, TokenState, UserRepository};
use auth_domain::system::Clock;
use auth_domain::{
    AuditEvent, AuditEventType, Effects, OpaqueToken, RequestContext, Role, TokenPurpose,
};

use super::{AccountPorts, AccountService, AccountView};
use crate::Failure;

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

impl<P: AccountPorts> AccountService<P> {
    /// Marks the owner's email verified and consumes the token, atomically:
    /// of two concurrent uses, one wins and the other is `Invalid`.
    pub(super) async fn verify_address(
        &self,
        raw_token: &str,
        ctx: &RequestContext,
    ) -> Result<AccountView, VerifyEmailError> {
        let token = OpaqueToken::from_presented(raw_token).ok_or(VerifyEmailError::Invalid)?;
        let token = self
            .one_time_tokens
            .find(&token.hash(), TokenPurpose::VerifyEmail)
            .await
            .map_err(Failure::from)?
            .ok_or(VerifyEmailError::Invalid)?;
        let now = self.clock.now();
        match token.state(now) {
            TokenState::Consumed => return Err(VerifyEmailError::Invalid),
            TokenState::Expired => return Err(VerifyEmailError::Expired),
            TokenState::Usable => {}
        }
        let event = AuditEvent::new(AuditEventType::EmailVerified, Some(token.user_id), ctx, now);
        let won = self
            .one_time_tokens
            .complete_email_verification(
                token.id,
                token.user_id,
                now,
                Effects::event(event).and_message(crate::shared::events::user_event(
                    "user.updated",
                    token.user_id,
                    None,
                    serde_json::json!({
                        "user_id": token.user_id.to_string(),
                        "changed": ["email_verified"],
                    }),
                    now,
                )),
            )
            .await
            .map_err(Failure::from)?;
        if !won {
            return Err(VerifyEmailError::Invalid);
        }
        self.views.forget(token.user_id);
        let user = self
            .users
            .find_by_id(token.user_id)
            .await
            .map_err(Failure::from)?
            .ok_or_else(|| Failure::Internal("verified user vanished".to_owned()))?;
        if self.settings.access.bootstrap_emails.contains(&user.email) {
            // `admin.bootstrap_emails`: the address is now proven. Start-up
            // grants it too, should this write fail.
            let event = AuditEvent::new(AuditEventType::RoleAssigned, Some(user.id), ctx, now)
                .with("role", Role::ADMIN)
                .with("actor_id", "bootstrap");
            self.roles
                .assign(user.id, &Role::new(Role::ADMIN), now, Effects::event(event))
                .await
                .map_err(Failure::from)?;
        }
        Ok(self.view(user).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::accounts::Accounts;
    use crate::testing::{harness, register_user};

    #[tokio::test]
    async fn verifies_once_then_token_is_invalid() {
        let h = harness();
        let (_user, token) = register_user(&h, "carol@example.com").await;
        let view = h
            .accounts
            .verify_email(&token, &RequestContext::default())
            .await
            .expect("verified");
        assert!(view.user.email_verified);
        let again = h
            .accounts
            .verify_email(&token, &RequestContext::default())
            .await;
        assert!(matches!(again, Err(VerifyEmailError::Invalid)));
    }

    #[tokio::test]
    async fn expired_token_is_reported_as_expired() {
        let h = harness();
        let (_user, token) = register_user(&h, "carol@example.com").await;
        h.world.advance(Duration::from_secs(24 * 3600 + 1));
        let result = h
            .accounts
            .verify_email(&token, &RequestContext::default())
            .await;
        assert!(matches!(result, Err(VerifyEmailError::Expired)));
        assert!(!h.world.lock().users[0].email_verified);
    }

    #[tokio::test]
    async fn unknown_and_malformed_tokens_are_invalid() {
        let h = harness();
        for raw in ["", "nope", &"x".repeat(1000)] {
            assert!(matches!(
                h.accounts
                    .verify_email(raw, &RequestContext::default())
                    .await,
                Err(VerifyEmailError::Invalid)
            ));
        }
    }
}
