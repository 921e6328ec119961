//! Change password: prove the current one, keep this session, end the others.

use auth_domain::accounts::UserRepository;
use auth_domain::password::PasswordCheck;
use auth_domain::sessions::{RevokeReason, RevokeScope};
use auth_domain::system::Clock;
use auth_domain::{
    AccessClaims, AuditEvent, AuditEventType, Effects, Password, PolicyViolation, RequestContext,
};

use super::{AccountPorts, AccountService};
use crate::Failure;

/// A change-password request.
#[derive(Debug)]
pub struct ChangePasswordRequest {
    /// The password in use.
    pub current_password: Password,
    /// The new password.
    pub new_password: Password,
}

/// Why a password change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    /// `current_password` is wrong.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The new password breaks the policy.
    #[error("weak password")]
    WeakPassword(Vec<PolicyViolation>),
    /// The account is gone.
    #[error("unauthenticated")]
    Unauthenticated,
    /// A dependency failed; nothing changed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: AccountPorts> AccountService<P> {
    /// Changes the password, keeps the caller's session and revokes every
    /// other one, in one transaction; then fans the revocations out.
    pub(super) async fn change(
        &self,
        claims: &AccessClaims,
        request: ChangePasswordRequest,
        ctx: &RequestContext,
    ) -> Result<(), ChangePasswordError> {
        let user = self
            .users
            .find_by_id(claims.user_id)
            .await
            .map_err(Failure::from)?
            .ok_or(ChangePasswordError::Unauthenticated)?;
        let check = self
            .credentials
            .verify(request.current_password, user.password_hash.clone(), ctx)
            .await?;
        if check == PasswordCheck::Mismatch {
            self.wrong_current_password(claims, ctx).await?;
            return Err(ChangePasswordError::InvalidCredentials);
        }
        let violations = self
            .credentials
            .violations(&request.new_password, &user.email);
        if !violations.is_empty() {
            return Err(ChangePasswordError::WeakPassword(violations));
        }
        let hash = self.credentials.hash(request.new_password, ctx).await?;
        let now = self.clock.now();
        let event = AuditEvent::new(AuditEventType::PasswordChanged, Some(user.id), ctx, now)
            .with("session_id", claims.session_id.to_string());
        let revoked = self
            .users
            .change_password(
                user.id,
                &hash,
                RevokeScope::AllExcept(claims.session_id),
                RevokeReason::PasswordChanged,
                now,
                Effects::event(event).and_message(crate::shared::events::user_event(
                    "user.updated",
                    user.id,
                    None,
                    serde_json::json!({ "user_id": user.id.to_string(), "changed": ["password"] }),
                    now,
                )),
            )
            .await
            .map_err(Failure::from)?;
        self.views.forget(user.id);
        self.revoker.publish(&revoked).await;
        Ok(())
    }

    /// A wrong `current_password` with this session's token: counted per
    /// session; too many end the session, so a stolen access token cannot
    /// keep guessing.
    async fn wrong_current_password(
        &self,
        claims: &AccessClaims,
        ctx: &RequestContext,
    ) -> Result<(), Failure> {
        tracing::info!(user_id = %claims.user_id, session_id = %claims.session_id, ip = ?ctx.ip, user_agent = ?ctx.user_agent, event = "password.change_failed", "wrong current password");
        if !self.limits.change_password_failed(claims.session_id).await {
            return Ok(());
        }
        let event = AuditEvent::new(
            AuditEventType::SessionRevoked,
            Some(claims.user_id),
            ctx,
            self.clock.now(),
        )
        .with("session_id", claims.session_id.to_string())
        .with("reason", RevokeReason::PasswordGuessing.as_str());
        self.revoker
            .revoke(
                claims.user_id,
                RevokeScope::One(claims.session_id),
                RevokeReason::PasswordGuessing,
                Effects::event(event),
            )
            .await?;
        tracing::warn!(user_id = %claims.user_id, session_id = %claims.session_id, "session revoked after repeated wrong current passwords");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Accounts;
    use crate::sessions::Sessions;
    use crate::testing::{STRONG_PASSWORD, harness, verified_login};

    #[tokio::test]
    async fn five_wrong_current_passwords_end_the_session() {
        let h = harness();
        let here = verified_login(&h, "ola@example.com").await;
        let claims = h.sessions.authenticate(&here.access_token).expect("valid");
        let wrong = || ChangePasswordRequest {
            current_password: Password::new("Nope-Nope-42".into()),
            new_password: Password::new("Brand-New-Horse-77".into()),
        };
        for _ in 0..4 {
            assert!(matches!(
                h.accounts
                    .change_password(&claims, wrong(), &RequestContext::default())
                    .await,
                Err(ChangePasswordError::InvalidCredentials)
            ));
            assert!(h.sessions.authenticate(&here.access_token).is_ok());
        }
        assert!(matches!(
            h.accounts
                .change_password(&claims, wrong(), &RequestContext::default())
                .await,
            Err(ChangePasswordError::InvalidCredentials)
        ));
        assert!(
            h.sessions.authenticate(&here.access_token).is_err(),
            "the fifth wrong password revoked the session"
        );
        assert!(h.world.lock().events.iter().any(|e| {
            e.kind == AuditEventType::SessionRevoked
                && e.details
                    .contains(&("reason".to_owned(), "password_guessing".to_owned()))
        }));
    }

    #[tokio::test]
    async fn change_password_keeps_the_current_session_only() {
        let h = harness();
        let here = verified_login(&h, "rita@example.com").await;
        let there = crate::testing::login(&h, "rita@example.com").await;
        let claims = h.sessions.authenticate(&here.access_token).expect("valid");
        let wrong = ChangePasswordRequest {
            current_password: Password::new("Nope-Nope-42".into()),
            new_password: Password::new("Brand-New-Horse-77".into()),
        };
        assert!(matches!(
            h.accounts
                .change_password(&claims, wrong, &RequestContext::default())
                .await,
            Err(ChangePasswordError::InvalidCredentials)
        ));
        let right = ChangePasswordRequest {
            current_password: Password::new(STRONG_PASSWORD.into()),
            new_password: Password::new("Brand-New-Horse-77".into()),
        };
        h.accounts
            .change_password(&claims, right, &RequestContext::default())
            .await
            .expect("changed");
        assert!(h.sessions.authenticate(&here.access_token).is_ok());
        assert!(h.sessions.authenticate(&there.access_token).is_err());
    }
}
