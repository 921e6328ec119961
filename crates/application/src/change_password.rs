//! Change password: prove the current one, keep this session, end the others.

use auth_domain::ports::{PasswordCheck, PasswordHasher, RevokeReason, UserRepository};
use auth_domain::{
    AccessClaims, AuditEvent, AuditEventType, Password, PolicyViolation, RequestContext,
};

use crate::{AuthService, Failure, Ports};

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

impl<P: Ports> AuthService<P> {
    /// Changes the password, keeps the caller's session and revokes every
    /// other one.
    ///
    /// # Errors
    /// See [`ChangePasswordError`].
    pub async fn change_password(
        &self,
        claims: &AccessClaims,
        request: ChangePasswordRequest,
        ctx: &RequestContext,
    ) -> Result<(), ChangePasswordError> {
        let user = self
            .store
            .find_user_by_id(claims.user_id)
            .await
            .map_err(Failure::from)?;
        let Some(user) = user else {
            return Err(ChangePasswordError::Unauthenticated);
        };
        let check = if request.current_password.expose().chars().count() > self.policy.max_len {
            PasswordCheck::Mismatch
        } else {
            self.hasher
                .verify(request.current_password, user.password_hash.clone())
                .await
                .map_err(Failure::from)?
        };
        if check == PasswordCheck::Mismatch {
            return Err(ChangePasswordError::InvalidCredentials);
        }
        let violations = self.policy.check(&request.new_password, &user.email);
        if !violations.is_empty() {
            return Err(ChangePasswordError::WeakPassword(violations));
        }
        let hash = self
            .hasher
            .hash(request.new_password)
            .await
            .map_err(Failure::from)?;
        let now = self.now();
        let event = AuditEvent::new(AuditEventType::PasswordChanged, Some(user.id), ctx, now)
            .with("session_id", claims.session_id.to_string());
        let revoked = self
            .store
            .change_password(
                user.id,
                &hash,
                Some(claims.session_id),
                RevokeReason::PasswordChanged,
                now,
                event,
            )
            .await
            .map_err(Failure::from)?;
        self.publish_revocations(&revoked).await;
        tracing::info!(user_id = %user.id, revoked = revoked.len(), event = "password.changed", "password changed");
        Ok(())
    }
}
