//! Checking a second factor: TOTP, an emailed or texted code, a backup
//! code. Shared by the second step of a login (`sign_in`) and by step-up and
//! setup confirmation (`mfa`). Every code is single-use by a compare-and-set
//! in storage; wrong codes count per user across every type, and too many
//! lock the user's second factor (429 even for a right code).

use auth_domain::activity::{AuditLog, OutboxRepository};
use auth_domain::limits::RateLimiter;
use auth_domain::mfa::{
    BackupCodeHasher, BackupCodeRepository, CodeChallenge, MethodKind, MethodRepository, MfaMethod,
    SecretBox, TotpCodes, normalize_backup_code, totp,
};
use auth_domain::system::Clock;
use auth_domain::{
    Amr, AuditEvent, AuditEventType, ChallengeId, Effects, MethodId, OutboxMessage, RequestContext,
    User,
};

use super::mail::{Part, compose};
use crate::{Failure, Limits};

/// The ports a factor check uses.
pub trait FactorPorts: Send + Sync + 'static {
    /// Methods and their sent codes.
    type Methods: MethodRepository + Clone;
    /// Backup codes.
    type BackupCodes: BackupCodeRepository + Clone;
    /// Backup-code hashing.
    type CodeHasher: BackupCodeHasher + Clone;
    /// RFC 6238 codes.
    type Totp: TotpCodes + Clone;
    /// TOTP secrets at rest.
    type Secrets: SecretBox + Clone;
    /// Attempt limits and the lockout.
    type Limiter: RateLimiter + Clone;
    /// The audit trail.
    type Audit: AuditLog + Clone;
    /// The outbox, for the lock mail.
    type Outbox: OutboxRepository + Clone;
    /// Time.
    type Clock: Clock + Clone;
}

/// What the user presents.
#[derive(Clone, Debug)]
pub enum Proof {
    /// A TOTP code, of one method or of any TOTP method of the user.
    Totp {
        /// The method, when named.
        method: Option<MethodId>,
        /// The six digits.
        code: String,
    },
    /// A code sent by email or SMS.
    Sent {
        /// Email or SMS.
        kind: MethodKind,
        /// The method, when named.
        method: Option<MethodId>,
        /// The challenge, when named (else the method's newest).
        challenge: Option<ChallengeId>,
        /// The digits.
        code: String,
    },
    /// A backup code, as typed.
    BackupCode {
        /// The code.
        code: String,
    },
}

impl Proof {
    /// The `type` label of metrics and audit events.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Totp { .. } => "totp",
            Self::Sent { kind, .. } => kind.as_str(),
            Self::BackupCode { .. } => "backup_code",
        }
    }
}

/// A proof that passed.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The `amr` value it adds.
    pub amr: Amr,
    /// The method it used (none for a backup code).
    pub method: Option<MethodId>,
    /// Backup codes left, when one was used.
    pub backup_codes_remaining: Option<u32>,
}

/// A confirming code of a pending method that passed, to be consumed with
/// the activation.
#[derive(Clone, Debug)]
pub struct PendingProof {
    /// TOTP: the step the code was for.
    pub step: Option<u64>,
    /// Email/SMS: the challenge it answered.
    pub challenge: Option<ChallengeId>,
}

/// Why a proof did not pass.
#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    /// Wrong, unknown or already-used code (`mfa_code_invalid`).
    #[error("invalid or already used code")]
    Invalid,
    /// An emailed or texted code past its lifetime (`mfa_code_expired`).
    #[error("code expired")]
    Expired,
    /// Too many wrong codes: locked for this long (`too_many_attempts`).
    #[error("second factor locked")]
    Locked {
        /// What is left of the lock.
        retry_after: std::time::Duration,
    },
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// The amr value of a method kind.
#[must_use]
pub fn amr_of(kind: MethodKind) -> Amr {
    match kind {
        MethodKind::Totp | MethodKind::Email => Amr::Otp,
        MethodKind::Sms => Amr::Sms,
    }
}

/// Checks second factors.
pub struct Factors<P: FactorPorts> {
    methods: P::Methods,
    backup_codes: P::BackupCodes,
    code_hasher: P::CodeHasher,
    totp: P::Totp,
    secrets: P::Secrets,
    limits: Limits<P::Limiter>,
    audit: P::Audit,
    outbox: P::Outbox,
    clock: P::Clock,
    settings: crate::settings::MfaSettings,
    product_name: String,
}

/// The adapters [`Factors`] is built from.
pub struct FactorAdapters<P: FactorPorts> {
    /// Methods.
    pub methods: P::Methods,
    /// Backup codes.
    pub backup_codes: P::BackupCodes,
    /// Backup-code hashing.
    pub code_hasher: P::CodeHasher,
    /// RFC 6238 codes.
    pub totp: P::Totp,
    /// Secrets at rest.
    pub secrets: P::Secrets,
    /// Limits.
    pub limiter: P::Limiter,
    /// Audit.
    pub audit: P::Audit,
    /// Outbox.
    pub outbox: P::Outbox,
    /// Time.
    pub clock: P::Clock,
}

impl<P: FactorPorts> std::fmt::Debug for Factors<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factors").finish_non_exhaustive()
    }
}

impl<P: FactorPorts> std::fmt::Debug for FactorAdapters<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactorAdapters").finish_non_exhaustive()
    }
}

impl<P: FactorPorts> Factors<P> {
    /// The checker over these adapters.
    pub fn new(adapters: FactorAdapters<P>, settings: &crate::AuthSettings) -> Self {
        let FactorAdapters {
            methods,
            backup_codes,
            code_hasher,
            totp,
            secrets,
            limiter,
            audit,
            outbox,
            clock,
        } = adapters;
        Self {
            methods,
            backup_codes,
            code_hasher,
            totp,
            secrets,
            limits: Limits::new(limiter, settings.limits.clone()),
            audit,
            outbox,
            clock,
            settings: settings.mfa.clone(),
            product_name: settings.product_name.clone(),
        }
    }

    /// Checks a proof of an active factor of `user`. A right code is used
    /// up; a wrong one counts toward the lock.
    ///
    /// # Errors
    /// [`FactorError`] says why it did not pass.
    pub async fn verify(
        &self,
        user: &User,
        proof: Proof,
        ctx: &RequestContext,
    ) -> Result<Verified, FactorError> {
        let type_name = proof.type_name();
        if let Some(retry_after) = self.limits.mfa_locked(user.id).await {
            metrics::counter!("auth_mfa_verify_total", "type" => type_name, "outcome" => "locked")
                .increment(1);
            return Err(FactorError::Locked { retry_after });
        }
        let result = match proof {
            Proof::Totp { method, code } => self.check_totp(user, method, &code).await,
            Proof::Sent {
                kind,
                method,
                challenge,
                code,
            } => self.check_sent(user, kind, method, challenge, &code).await,
            Proof::BackupCode { code } => self.check_backup(user, &code, ctx).await,
        };
        self.account(user, type_name, result, ctx).await
    }

    /// Checks the confirming code of `method` (pending, of `user`) without
    /// using it up: the activation consumes it in its transaction.
    ///
    /// # Errors
    /// [`FactorError`] says why it did not pass.
    pub async fn check_pending(
        &self,
        user: &User,
        method: &MfaMethod,
        challenge: Option<ChallengeId>,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<PendingProof, FactorError> {
        let type_name = method.kind.as_str();
        if let Some(retry_after) = self.limits.mfa_locked(user.id).await {
            return Err(FactorError::Locked { retry_after });
        }
        let now = self.clock.now();
        let result = match method.kind {
            MethodKind::Totp => {
                let secret = self.secret_of(method)?;
                totp::matching_step(
                    &self.totp,
                    &secret,
                    code,
                    now,
                    self.settings.totp_skew,
                    method.last_used_step,
                )
                .map(|step| PendingProof {
                    step: Some(step),
                    challenge: None,
                })
                .ok_or(FactorError::Invalid)
            }
            MethodKind::Email | MethodKind::Sms => {
                match self.open_challenge(method, challenge).await? {
                    Some(c) if c.expires_at <= now => Err(FactorError::Expired),
                    Some(c)
                        if c.consumed_at.is_none()
                            && c.attempts < self.settings.max_attempts_per_code
                            && c.matches(code) =>
                    {
                        Ok(PendingProof {
                            step: None,
                            challenge: Some(c.id),
                        })
                    }
                    Some(c) => {
                        self.methods
                            .fail_challenge(c.id)
                            .await
                            .map_err(Failure::from)?;
                        Err(FactorError::Invalid)
                    }
                    None => Err(FactorError::Invalid),
                }
            }
        };
        let amr = amr_of(method.kind);
        let counted = result.map(|proof| {
            (
                proof,
                Verified {
                    amr,
                    method: Some(method.id),
                    backup_codes_remaining: None,
                },
            )
        });
        match counted {
            Ok((proof, verified)) => {
                self.account(user, type_name, Ok(verified), ctx).await?;
                Ok(proof)
            }
            Err(err) => Err(self
                .account(user, type_name, Err(err), ctx)
                .await
                .err()
                .unwrap_or(FactorError::Invalid)),
        }
    }

    /// Counts the outcome: metrics, audit, the per-user failure count and
    /// the lock.
    async fn account(
        &self,
        user: &User,
        type_name: &'static str,
        result: Result<Verified, FactorError>,
        ctx: &RequestContext,
    ) -> Result<Verified, FactorError> {
        let now = self.clock.now();
        match &result {
            Ok(_) => {
                metrics::counter!("auth_mfa_verify_total", "type" => type_name, "outcome" => "success")
                    .increment(1);
                self.limits.mfa_succeeded(user.id).await;
                self.record(
                    AuditEvent::new(AuditEventType::MfaVerified, Some(user.id), ctx, now)
                        .with("type", type_name),
                )
                .await;
            }
            Err(FactorError::Invalid | FactorError::Expired) => {
                let outcome = if matches!(result, Err(FactorError::Expired)) {
                    "expired"
                } else {
                    "invalid"
                };
                metrics::counter!("auth_mfa_verify_total", "type" => type_name, "outcome" => outcome)
                    .increment(1);
                self.record(
                    AuditEvent::new(AuditEventType::MfaFailed, Some(user.id), ctx, now)
                        .with("type", type_name)
                        .with("reason", outcome),
                )
                .await;
                if self.limits.mfa_failed(user.id).await {
                    self.locked(user, ctx).await;
                }
            }
            Err(_) => {}
        }
        result
    }

    /// The user just reached the failure limit: audit, mail.
    async fn locked(&self, user: &User, ctx: &RequestContext) {
        let now = self.clock.now();
        let minutes = self.limits.mfa_lock().as_secs().div_ceil(60);
        tracing::warn!(user_id = %user.id, lock_minutes = minutes, "second factor locked after repeated wrong codes");
        self.record(
            AuditEvent::new(AuditEventType::MfaLocked, Some(user.id), ctx, now)
                .with("lock_seconds", self.limits.mfa_lock().as_secs().to_string()),
        )
        .await;
        let product = &self.product_name;
        let mail = compose(
            &user.email,
            format!("Sign-in codes locked on your {product} account"),
            &[
                Part::Text(format!(
                    "Too many wrong sign-in codes were entered for your {product} account, so codes are refused for the next {minutes} minutes."
                )),
                Part::Text(
                    "If this was not you, someone knows your password: change it as soon as codes work again."
                        .to_owned(),
                ),
            ],
        );
        let until = auth_domain::after(now, self.limits.mfa_lock());
        let locked = super::events::user_event(
            "auth.account_locked",
            user.id,
            None,
            serde_json::json!({
                "user_id": user.id.to_string(),
                "kind": "mfa",
                "until": until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }),
            now,
        );
        for message in [
            OutboxMessage::email(mail, now),
            locked,
            super::events::suspicious(user.id, "mfa_failures", ctx.ip, now),
        ] {
            if let Err(err) = self.outbox.queue(message).await {
                tracing::warn!(error = %err, "could not queue a message of the MFA lock");
            }
        }
    }

    async fn record(&self, event: AuditEvent) {
        if let Err(err) = self.audit.record(event).await {
            tracing::warn!(error = %err, "could not record an audit event");
        }
    }

    fn secret_of(&self, method: &MfaMethod) -> Result<Vec<u8>, Failure> {
        let sealed = method
            .secret
            .as_ref()
            .ok_or_else(|| Failure::Internal("TOTP method without a secret".into()))?;
        self.secrets
            .open(sealed)
            .map_err(|e| Failure::Internal(e.to_string()))
    }

    async fn check_totp(
        &self,
        user: &User,
        method: Option<MethodId>,
        code: &str,
    ) -> Result<Verified, FactorError> {
        let now = self.clock.now();
        let methods: Vec<MfaMethod> = self
            .methods
            .list(user.id)
            .await
            .map_err(Failure::from)?
            .into_iter()
            .filter(|m| m.is_active() && m.kind == MethodKind::Totp)
            .filter(|m| method.is_none_or(|id| m.id == id))
            .collect();
        for candidate in methods {
            let secret = self.secret_of(&candidate)?;
            let Some(step) = totp::matching_step(
                &self.totp,
                &secret,
                code,
                now,
                self.settings.totp_skew,
                candidate.last_used_step,
            ) else {
                continue;
            };
            // The compare-and-set: of two uses of one code, one wins.
            if self
                .methods
                .use_step(candidate.id, step, now)
                .await
                .map_err(Failure::from)?
            {
                return Ok(Verified {
                    amr: Amr::Otp,
                    method: Some(candidate.id),
                    backup_codes_remaining: None,
                });
            }
        }
        Err(FactorError::Invalid)
    }

    /// The challenge a sent code answers: the named one, else the method's
    /// newest. `None` when it is not the method's.
    async fn open_challenge(
        &self,
        method: &MfaMethod,
        challenge: Option<ChallengeId>,
    ) -> Result<Option<CodeChallenge>, Failure> {
        let found = match challenge {
            Some(id) => self.methods.find_challenge(id).await?,
            None => self.methods.latest_challenge(method.id).await?,
        };
        Ok(found.filter(|c| c.method_id == method.id && c.user_id == method.user_id))
    }

    async fn check_sent(
        &self,
        user: &User,
        kind: MethodKind,
        method: Option<MethodId>,
        challenge: Option<ChallengeId>,
        code: &str,
    ) -> Result<Verified, FactorError> {
        let now = self.clock.now();
        // The method: named, or the challenge's.
        let method_id = match (method, challenge) {
            (Some(id), _) => id,
            (None, Some(challenge)) => {
                match self
                    .methods
                    .find_challenge(challenge)
                    .await
                    .map_err(Failure::from)?
                {
                    Some(c) => c.method_id,
                    None => return Err(FactorError::Invalid),
                }
            }
            (None, None) => return Err(FactorError::Invalid),
        };
        let Some(method) = self
            .methods
            .find(method_id)
            .await
            .map_err(Failure::from)?
            .filter(|m| m.user_id == user.id && m.is_active() && m.kind == kind)
        else {
            return Err(FactorError::Invalid);
        };
        let Some(c) = self.open_challenge(&method, challenge).await? else {
            return Err(FactorError::Invalid);
        };
        if c.consumed_at.is_some() || c.attempts >= self.settings.max_attempts_per_code {
            return Err(FactorError::Invalid);
        }
        if c.expires_at <= now {
            return Err(FactorError::Expired);
        }
        if !c.matches(code) {
            self.methods
                .fail_challenge(c.id)
                .await
                .map_err(Failure::from)?;
            return Err(FactorError::Invalid);
        }
        if !self
            .methods
            .consume_challenge(c.id, self.settings.max_attempts_per_code, now)
            .await
            .map_err(Failure::from)?
        {
            return Err(FactorError::Invalid);
        }
        self.methods
            .touch(method.id, now)
            .await
            .map_err(Failure::from)?;
        Ok(Verified {
            amr: amr_of(kind),
            method: Some(method.id),
            backup_codes_remaining: None,
        })
    }

    async fn check_backup(
        &self,
        user: &User,
        typed: &str,
        ctx: &RequestContext,
    ) -> Result<Verified, FactorError> {
        let Some(code) = normalize_backup_code(typed) else {
            return Err(FactorError::Invalid);
        };
        let unused = self
            .backup_codes
            .unused(user.id)
            .await
            .map_err(Failure::from)?;
        if unused.is_empty() {
            return Err(FactorError::Invalid);
        }
        let hashes = unused.iter().map(|c| c.hash.clone()).collect();
        let Some(index) = self
            .code_hasher
            .find_match(code, hashes)
            .await
            .map_err(Failure::from)?
        else {
            return Err(FactorError::Invalid);
        };
        let Some(matched) = unused.get(index) else {
            return Err(FactorError::Invalid);
        };
        let now = self.clock.now();
        let remaining = u32::try_from(unused.len() - 1).unwrap_or(0);
        let product = &self.product_name;
        let mail = compose(
            &user.email,
            format!("A backup code was used on your {product} account"),
            &[
                Part::Text(format!(
                    "One of your backup codes was just used to sign in to {product}. {remaining} unused codes are left."
                )),
                Part::Text(
                    "If this was not you, change your password and regenerate your backup codes."
                        .to_owned(),
                ),
            ],
        );
        let effects = Effects::event(
            AuditEvent::new(AuditEventType::MfaBackupCodeUsed, Some(user.id), ctx, now)
                .with("remaining", remaining.to_string()),
        )
        .and_message(OutboxMessage::email(mail, now))
        .and_message(super::events::suspicious(
            user.id,
            "backup_code_login",
            ctx.ip,
            now,
        ));
        // The compare-and-set: of two uses of one code, one wins.
        if !self
            .backup_codes
            .use_code(matched.id, now, effects)
            .await
            .map_err(Failure::from)?
        {
            return Err(FactorError::Invalid);
        }
        Ok(Verified {
            amr: Amr::Otp,
            method: None,
            backup_codes_remaining: Some(remaining),
        })
    }
}
