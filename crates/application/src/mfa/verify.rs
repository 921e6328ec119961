//! A factor with the token's session: it confirms a pending method, or
//! steps the session up.

use auth_domain::accounts::UserRepository;
use auth_domain::mfa::{Activation, MethodRepository, MfaMethod};
use auth_domain::sessions::SessionRepository;
use auth_domain::{
    AccessClaims, Assurance, AuditEvent, AuditEventType, ChallengeId, Effects, MethodId,
    OutboxMessage, RequestContext, Session, User,
};

use super::{MfaPorts, MfaService};
use crate::shared::mail::{Part, compose};
use crate::shared::{FactorError, Proof, amr_of};
use crate::{Failure, TokenPair};

/// What a verification with a session did.
#[derive(Debug)]
pub enum SessionVerified {
    /// A pending method is active now.
    SetupConfirmed {
        /// The method.
        method: MfaMethod,
        /// The backup codes, shown once, when this is the user's first
        /// method.
        backup_codes: Option<Vec<String>>,
        /// A pair for the same session, now `aal2`.
        pair: TokenPair,
    },
    /// The session proved a factor again.
    SteppedUp {
        /// A pair for the same session, fresh `auth_time`, `aal2`.
        pair: TokenPair,
        /// Backup codes left, when one was used.
        backup_codes_remaining: Option<u32>,
    },
}

/// Why a verification with a session failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Wrong or already-used code.
    #[error("invalid code")]
    CodeInvalid,
    /// An emailed or texted code past its lifetime.
    #[error("code expired")]
    CodeExpired,
    /// Too many wrong codes.
    #[error("locked")]
    Locked {
        /// What is left of the lock.
        retry_after: std::time::Duration,
    },
    /// The session or its user is gone.
    #[error("unauthenticated")]
    Unauthenticated,
    /// A dependency failed, or a limit refused.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl From<FactorError> for VerifyError {
    fn from(err: FactorError) -> Self {
        match err {
            FactorError::Invalid => Self::CodeInvalid,
            FactorError::Expired => Self::CodeExpired,
            FactorError::Locked { retry_after } => Self::Locked { retry_after },
            FactorError::Failed(failure) => Self::Failed(failure),
        }
    }
}

impl<P: MfaPorts> MfaService<P> {
    pub(super) async fn verify_in_session(
        &self,
        claims: &AccessClaims,
        proof: Proof,
        ctx: &RequestContext,
    ) -> Result<SessionVerified, VerifyError> {
        self.limits.mfa_request(ctx).await?;
        let user = self
            .users
            .find_by_id(claims.user_id)
            .await
            .map_err(Failure::from)?
            .filter(|u| u.status.allows_access())
            .ok_or(VerifyError::Unauthenticated)?;
        let session = self
            .sessions
            .find(claims.session_id)
            .await
            .map_err(Failure::from)?
            .filter(|s| s.user_id == user.id && s.is_active(self.now()))
            .ok_or(VerifyError::Unauthenticated)?;
        if let Some(method) = self.pending_method_of(&user, &proof).await? {
            return self.confirm(user, session, method, &proof, ctx).await;
        }
        let verified = self.factors.verify(&user, proof, ctx).await?;
        let now = self.now();
        let assurance = Assurance::two_factors(&session.assurance.amr, verified.amr, now);
        let event = AuditEvent::new(AuditEventType::StepUpSucceeded, Some(user.id), ctx, now)
            .with("session_id", session.id.to_string());
        let pair = self
            .issuer
            .elevate(user, session, assurance, Effects::event(event))
            .await?
            .ok_or(VerifyError::Unauthenticated)?;
        Ok(SessionVerified::SteppedUp {
            pair,
            backup_codes_remaining: verified.backup_codes_remaining,
        })
    }

    /// The pending (confirmable) method the proof names, directly or by its
    /// challenge.
    async fn pending_method_of(
        &self,
        user: &User,
        proof: &Proof,
    ) -> Result<Option<MfaMethod>, Failure> {
        let id: Option<MethodId> = match proof {
            Proof::Totp { method, .. } => *method,
            Proof::Sent {
                method: Some(id), ..
            } => Some(*id),
            Proof::Sent {
                method: None,
                challenge: Some(challenge),
                ..
            } => self
                .methods
                .find_challenge(*challenge)
                .await?
                .map(|c| c.method_id),
            _ => None,
        };
        let Some(id) = id else { return Ok(None) };
        let now = self.now();
        Ok(self
            .own_method(user.id, id)
            .await?
            .filter(|m| m.is_confirmable(now)))
    }

    /// Activates a pending method with its first code: the code is consumed,
    /// the session becomes `aal2`; for the user's first method the backup
    /// codes are created and every other session is revoked. One
    /// transaction.
    async fn confirm(
        &self,
        user: User,
        session: Session,
        mut method: MfaMethod,
        proof: &Proof,
        ctx: &RequestContext,
    ) -> Result<SessionVerified, VerifyError> {
        let (code, challenge): (&str, Option<ChallengeId>) = match proof {
            Proof::Totp { code, .. } => (code, None),
            Proof::Sent {
                code,
                challenge,
                kind,
                ..
            } if *kind == method.kind => (code, *challenge),
            _ => return Err(VerifyError::CodeInvalid),
        };
        let checked = self
            .factors
            .check_pending(&user, &method, challenge, code, ctx)
            .await?;
        let first = !self
            .methods
            .list(user.id)
            .await
            .map_err(Failure::from)?
            .iter()
            .any(MfaMethod::is_active);
        let backup = if first {
            Some(self.new_backup_codes().await?)
        } else {
            None
        };
        let now = self.now();
        let assurance = Assurance::two_factors(&session.assurance.amr, amr_of(method.kind), now);
        let next = self.issuer.new_refresh_token()?;
        let product = &self.settings.product_name;
        let mail = compose(
            &user.email,
            format!("A sign-in method was added to your {product} account"),
            &[
                Part::Text(format!(
                    "\"{}\" ({}) now protects sign-ins to your {product} account.",
                    method.name,
                    method.kind.as_str()
                )),
                Part::Text(
                    "If this was not you, change your password and remove the method.".to_owned(),
                ),
            ],
        );
        let mut effects = Effects::event(
            AuditEvent::new(AuditEventType::MfaMethodAdded, Some(user.id), ctx, now)
                .with("method_id", method.id.to_string())
                .with("type", method.kind.as_str()),
        )
        .and_message(OutboxMessage::email(mail, now));
        if backup.is_some() {
            // The first active method: MFA turns on.
            effects = effects.and_message(crate::shared::events::user_event(
                "user.updated",
                user.id,
                None,
                serde_json::json!({ "user_id": user.id.to_string(), "changed": ["mfa_enabled"] }),
                now,
            ));
        }
        let revoked = self
            .methods
            .activate(Activation {
                method: method.id,
                user: user.id,
                step: checked.step,
                challenge: checked.challenge,
                first: backup.as_ref().map(|(_, hashes)| hashes.clone()),
                session: session.id,
                assurance: assurance.clone(),
                next: next.hash(),
                at: now,
                effects,
            })
            .await
            .map_err(Failure::from)?
            .ok_or(VerifyError::CodeInvalid)?;
        // Every other device signs in again, now with the second factor.
        self.revoker.publish(&revoked).await;
        method.status = auth_domain::mfa::MethodStatus::Active;
        method.last_used_step = checked.step;
        method.last_used_at = Some(now);
        let mut session = session;
        session.assurance = assurance;
        session.last_used_at = now;
        let pair = self.issuer.reissue(user, session, next).await?;
        Ok(SessionVerified::SetupConfirmed {
            method,
            backup_codes: backup.map(|(codes, _)| codes),
            pair,
        })
    }
}
