//! The second step of a login: a factor, with the `mfa_token` the password
//! step answered.

use auth_domain::accounts::UserRepository;
use auth_domain::mfa::PendingLoginRepository;
use auth_domain::system::Clock;
use auth_domain::{Amr, Assurance, OpaqueToken, RequestContext};

use super::{SignInPorts, SignInService};
use crate::shared::{FactorError, Proof};
use crate::{Failure, TokenPair};

/// A finished login.
#[derive(Debug)]
pub struct MfaLoginDone {
    /// The session's pair, at `aal2`.
    pub pair: TokenPair,
    /// Backup codes left, when one was used.
    pub backup_codes_remaining: Option<u32>,
}

/// Why the second step did not finish the login.
#[derive(Debug, thiserror::Error)]
pub enum MfaLoginError {
    /// Unknown, expired, used or exhausted token, or another client's.
    #[error("invalid mfa token")]
    TokenInvalid,
    /// Wrong or already-used code.
    #[error("invalid code")]
    CodeInvalid,
    /// An emailed or texted code past its lifetime.
    #[error("code expired")]
    CodeExpired,
    /// The user's second factor is locked.
    #[error("locked")]
    Locked {
        /// What is left of the lock.
        retry_after: std::time::Duration,
    },
    /// A dependency failed, or a rate limit refused.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: SignInPorts> SignInService<P> {
    pub(super) async fn second_step(
        &self,
        mfa_token: &str,
        proof: Proof,
        ctx: &RequestContext,
    ) -> Result<MfaLoginDone, MfaLoginError> {
        self.limits.mfa_request(ctx).await?;
        let max_attempts = self.settings.mfa.max_attempts_per_token;
        let token = OpaqueToken::from_presented(mfa_token).ok_or(MfaLoginError::TokenInvalid)?;
        let now = self.clock.now();
        let pending = self
            .pending_logins
            .find(&token.hash())
            .await
            .map_err(Failure::from)?
            .filter(|p| p.is_usable(now, ctx.ip, ctx.user_agent.as_deref(), max_attempts))
            .ok_or(MfaLoginError::TokenInvalid)?;
        let user = self
            .users
            .find_by_id(pending.user_id)
            .await
            .map_err(Failure::from)?
            .filter(|u| u.may_sign_in().is_ok())
            .ok_or(MfaLoginError::TokenInvalid)?;
        let verified = match self.factors.verify(&user, proof, ctx).await {
            Ok(verified) => verified,
            Err(err) => {
                if matches!(err, FactorError::Invalid | FactorError::Expired) {
                    self.pending_logins
                        .fail(pending.id)
                        .await
                        .map_err(Failure::from)?;
                }
                return Err(match err {
                    FactorError::Invalid => MfaLoginError::CodeInvalid,
                    FactorError::Expired => MfaLoginError::CodeExpired,
                    FactorError::Locked { retry_after } => MfaLoginError::Locked { retry_after },
                    FactorError::Failed(failure) => MfaLoginError::Failed(failure),
                });
            }
        };
        // Single use: of two finishes with one token, one opens a session.
        if !self
            .pending_logins
            .consume(pending.id, max_attempts, self.clock.now())
            .await
            .map_err(Failure::from)?
        {
            return Err(MfaLoginError::TokenInvalid);
        }
        let assurance = Assurance::two_factors(&[Amr::Pwd], verified.amr, self.clock.now());
        let pair = self
            .issuer
            .open(
                user,
                pending.remember_me,
                assurance,
                pending.organization_id,
                ctx,
            )
            .await?;
        Ok(MfaLoginDone {
            pair,
            backup_codes_remaining: verified.backup_codes_remaining,
        })
    }
}
