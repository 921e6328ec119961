//! Re-authentication: the password again, in the token's session, for a
//! fresh `auth_time` (how users without a second factor pass step-up).

use auth_domain::accounts::UserRepository;
use auth_domain::password::PasswordCheck;
use auth_domain::sessions::SessionRepository as _;
use auth_domain::system::Clock;
use auth_domain::{
    AccessClaims, Assurance, AuditEvent, AuditEventType, Effects, Password, RequestContext,
};

use super::{SignInPorts, SignInService};
use crate::{Failure, TokenPair};

/// Why re-authentication failed.
#[derive(Debug, thiserror::Error)]
pub enum ReauthError {
    /// Wrong password (counted like a failed login).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The session or its user is gone.
    #[error("unauthenticated")]
    Unauthenticated,
    /// The client is blocked after failed logins.
    #[error("blocked")]
    Blocked {
        /// What is left of the block.
        retry_after: std::time::Duration,
    },
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: SignInPorts> SignInService<P> {
    pub(super) async fn reauth(
        &self,
        claims: &AccessClaims,
        password: Password,
        ctx: &RequestContext,
    ) -> Result<TokenPair, ReauthError> {
        if let Some(retry_after) = self.limits.login_blocked(ctx).await {
            return Err(ReauthError::Blocked { retry_after });
        }
        let user = self
            .users
            .find_by_id(claims.user_id)
            .await
            .map_err(Failure::from)?
            .filter(|u| u.status.allows_access())
            .ok_or(ReauthError::Unauthenticated)?;
        if self.credentials.is_too_long(&password) {
            self.login_failed(Some(&user), "password_too_long", ctx)
                .await;
            return Err(ReauthError::InvalidCredentials);
        }
        let check = self
            .credentials
            .verify(password, user.password_hash.clone(), ctx)
            .await?;
        if check == PasswordCheck::Mismatch {
            self.login_failed(Some(&user), "wrong_password", ctx).await;
            return Err(ReauthError::InvalidCredentials);
        }
        let session = self
            .sessions
            .find(claims.session_id)
            .await
            .map_err(Failure::from)?
            .filter(|s| s.user_id == user.id)
            .ok_or(ReauthError::Unauthenticated)?;
        let now = self.clock.now();
        // A password proves one factor: the session is aal1 again, with a
        // fresh auth_time (a second factor never rides on a password).
        let assurance = Assurance::password(now);
        let event = AuditEvent::new(AuditEventType::ReauthSucceeded, Some(user.id), ctx, now)
            .with("session_id", session.id.to_string());
        self.issuer
            .elevate(user, session, assurance, Effects::event(event))
            .await?
            .ok_or(ReauthError::Unauthenticated)
    }
}
